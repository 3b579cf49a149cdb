/*
 * accesslog.c - reading Caddy's JSON access logs (see accesslog.h).
 *
 * Parsing is cJSON on one line at a time: Caddy writes whole records
 * with one write(2), so a line is a record unless it is the torn tail
 * of a file being written, which the follower holds back until its
 * newline arrives.  Fields Caddy leaves out (an aborted request has no
 * "size") read as zero; a line without "msg":"handled request" or
 * without a request object is not an access record.
 *
 * The follower polls (stat + read) rather than using inotify: rotation
 * by rename, truncation and a file that does not exist yet are then
 * one code path, and the cost at the 250 ms cadence `conduit logs -f`
 * uses is a few system calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "conduit/accesslog.h"

static const cJSON *
item(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void
copy_str(char *out, size_t len, const cJSON *v)
{
	snprintf(out, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

/* Caddy writes ts as float seconds by default; a time_format of
 * rfc3339/iso8601 gives a string instead. */
static double
ts_of(const cJSON *v)
{
	struct tm tm = { 0 };
	const char *s, *p;
	double frac = 0;
	long off = 0;
	time_t t;

	if (cJSON_IsNumber(v))
		return v->valuedouble;
	if (!cJSON_IsString(v))
		return -1;
	s = v->valuestring;
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.') {
		char *end;
		frac = strtod(p, &end);
		p = end;
	}
	if ((*p == '+' || *p == '-') && strlen(p) >= 6 && p[3] == ':')
		off = (p[0] == '-' ? -1 : 1) *
		    (atol(p + 1) * 3600 + atol(p + 4) * 60);
	else if (*p != 'Z' && *p != '\0')
		return -1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	return (double)t - (double)off + frac;
}

double
conduit_accesslog_line_ts(const char *line)
{
	cJSON *doc = cJSON_Parse(line);
	double ts = doc ? ts_of(item(doc, "ts")) : -1;

	cJSON_Delete(doc);
	return ts;
}

/* The upstream, when the record carries one: a top-level "upstream"
 * (custom log fields) or an X-Conduit-Upstream response header. */
static void
upstream_of(const cJSON *doc, char *out, size_t len)
{
	const cJSON *v = item(doc, "upstream"), *h;

	out[0] = '\0';
	if (cJSON_IsString(v)) {
		copy_str(out, len, v);
		return;
	}
	h = item(item(doc, "resp_headers"), "X-Conduit-Upstream");
	if (cJSON_IsArray(h))
		h = cJSON_GetArrayItem(h, 0);
	copy_str(out, len, h);
}

int
conduit_accesslog_parse(const char *line, struct conduit_access_rec *r,
    struct conduit_err *err)
{
	cJSON *doc = cJSON_Parse(line);
	const cJSON *req, *msg, *v;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	if (doc == NULL || !cJSON_IsObject(doc)) {
		rc = conduit_err_set(err, CONDUIT_EINVAL, "not a JSON object");
		goto out;
	}
	msg = item(doc, "msg");
	req = item(doc, "request");
	if (!cJSON_IsString(msg) || strcmp(msg->valuestring,
	    "handled request") != 0 || !cJSON_IsObject(req)) {
		rc = conduit_err_set(err, CONDUIT_EINVAL,
		    "not a Caddy access record (no \"handled request\")");
		goto out;
	}
	if ((r->ts = ts_of(item(doc, "ts"))) < 0) {
		rc = conduit_err_set(err, CONDUIT_EINVAL, "record has no ts");
		goto out;
	}
	v = item(req, "client_ip");
	copy_str(r->client, sizeof(r->client), cJSON_IsString(v) &&
	    v->valuestring[0] ? v : item(req, "remote_ip"));
	copy_str(r->method, sizeof(r->method), item(req, "method"));
	copy_str(r->proto, sizeof(r->proto), item(req, "proto"));
	copy_str(r->host, sizeof(r->host), item(req, "host"));
	copy_str(r->uri, sizeof(r->uri), item(req, "uri"));
	v = item(doc, "status");
	r->status = cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
	v = item(doc, "duration");
	r->duration = cJSON_IsNumber(v) ? v->valuedouble : 0;
	v = item(doc, "size");
	r->size = cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
	upstream_of(doc, r->upstream, sizeof(r->upstream));
out:
	cJSON_Delete(doc);
	return rc;
}

int
conduit_accesslog_parse_status(const char *in, struct conduit_access_filter *f,
    struct conduit_err *err)
{
	char *end;
	long code;

	if (strlen(in) == 3 && in[0] >= '1' && in[0] <= '5' &&
	    (in[1] == 'x' || in[1] == 'X') && (in[2] == 'x' || in[2] == 'X')) {
		f->status_class = in[0] - '0';
		f->status = 0;
		return 0;
	}
	errno = 0;
	code = strtol(in, &end, 10);
	if (errno == 0 && *end == '\0' && end != in && code >= 100 &&
	    code <= 599) {
		f->status = code;
		f->status_class = 0;
		return 0;
	}
	return conduit_err_set(err, CONDUIT_EUSAGE, "--status \"%.40s\" is not "
	    "a status class (4xx, 5xx) or a code 100-599", in);
}

bool
conduit_accesslog_match(const struct conduit_access_filter *f,
    const struct conduit_access_rec *r)
{
	if (f->since > 0 && r->ts < f->since)
		return false;
	if (f->status_class != 0 && r->status / 100 != f->status_class)
		return false;
	if (f->status != 0 && r->status != f->status)
		return false;
	return true;
}

void
conduit_accesslog_time(double ts, char out[32])
{
	time_t t = (time_t)floor(ts);
	int ms = (int)((ts - floor(ts)) * 1000.0);
	struct tm tm;
	char base[24];

	if (ms > 999)
		ms = 999;
	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03dZ", base, ms);
}

static void
format_duration(double d, char *out, size_t len)
{
	if (d < 0.001)
		snprintf(out, len, "%.0fus", d * 1e6);
	else if (d < 1.0)
		snprintf(out, len, "%.1fms", d * 1e3);
	else
		snprintf(out, len, "%.2fs", d);
}

void
conduit_accesslog_format(const struct conduit_access_rec *r, char *out,
    size_t len)
{
	char when[32], dur[32];

	conduit_accesslog_time(r->ts, when);
	format_duration(r->duration, dur, sizeof(dur));
	snprintf(out, len, "%s %-15s %-6s %s %s %ld %s %s %lldB", when,
	    r->client[0] ? r->client : "-", r->method[0] ? r->method : "-",
	    r->host[0] ? r->host : "-", r->uri[0] ? r->uri : "-", r->status,
	    dur, r->upstream[0] ? r->upstream : "-", r->size);
}

/* ---- the follower ---- */

static int
follow_reopen(struct conduit_follow *f, struct conduit_err *err)
{
	struct stat st;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;	/* not there (yet): poll again later */
		return conduit_err_set(err, CONDUIT_EIO, "cannot open %s: %s",
		    f->path, strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		return conduit_err_set(err, CONDUIT_EIO, "cannot stat %s: %s",
		    f->path, strerror(errno));
	}
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->off = 0;
	f->len = 0;
	return 0;
}

int
conduit_follow_open(struct conduit_follow *f, const char *path, off_t off,
    struct conduit_err *err)
{
	int rc;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if ((f->path = strdup(path)) == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	if ((rc = follow_reopen(f, err)) != 0)
		return rc;
	if (f->fd >= 0 && off > 0) {
		if (lseek(f->fd, off, SEEK_SET) < 0)
			return conduit_err_set(err, CONDUIT_EIO, "cannot seek %s: "
			    "%s", path, strerror(errno));
		f->off = off;
	}
	return 0;
}

/* Reads fd to its end, handing each complete line to fn. */
static int
drain(struct conduit_follow *f, conduit_line_fn fn, void *arg,
    struct conduit_err *err)
{
	char chunk[65536];
	ssize_t n;
	size_t i, start;

	for (;;) {
		n = read(f->fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return conduit_err_set(err, CONDUIT_EIO, "cannot read %s: "
			    "%s", f->path, strerror(errno));
		if (n == 0)
			return 0;
		f->off += n;
		if (f->len + (size_t)n + 1 > f->cap) {
			size_t cap = (f->len + (size_t)n + 1) * 2;
			char *b = realloc(f->buf, cap);
			if (b == NULL)
				return conduit_err_set(err, CONDUIT_ENOMEM,
				    "out of memory");
			f->buf = b;
			f->cap = cap;
		}
		memcpy(f->buf + f->len, chunk, (size_t)n);
		f->len += (size_t)n;
		for (start = 0, i = 0; i < f->len; i++)
			if (f->buf[i] == '\n') {
				f->buf[i] = '\0';
				fn(f->buf + start, arg);
				start = i + 1;
			}
		memmove(f->buf, f->buf + start, f->len - start);
		f->len -= start;
	}
}

int
conduit_follow_poll(struct conduit_follow *f, conduit_line_fn fn, void *arg,
    struct conduit_err *err)
{
	struct stat st;
	int rc;

	if (f->fd < 0) {
		if ((rc = follow_reopen(f, err)) != 0 || f->fd < 0)
			return rc;
	}
	if ((rc = drain(f, fn, arg, err)) != 0)
		return rc;
	if (stat(f->path, &st) != 0)
		return 0;	/* renamed away, new file not created yet */
	if (st.st_dev != f->dev || st.st_ino != f->ino) {
		/* Rotated: the old file is drained; read the new one. */
		close(f->fd);
		f->fd = -1;
		if ((rc = follow_reopen(f, err)) != 0 || f->fd < 0)
			return rc;
		return drain(f, fn, arg, err);
	}
	if (st.st_size < f->off) {
		/* Truncated in place (copytruncate): start again. */
		if (lseek(f->fd, 0, SEEK_SET) < 0)
			return conduit_err_set(err, CONDUIT_EIO, "cannot seek %s: "
			    "%s", f->path, strerror(errno));
		f->off = 0;
		f->len = 0;
		return drain(f, fn, arg, err);
	}
	return 0;
}

void
conduit_follow_close(struct conduit_follow *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->path);
	free(f->buf);
	f->path = NULL;
	f->buf = NULL;
}
