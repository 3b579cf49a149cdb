/*
 * cmd_logs.c - `conduit logs`: the requests Caddy served, per service.
 *
 *   logs [NAME] [-n N] [-f] [--since DATE|DURATION] [--status CLASS|CODE]
 *        [--json]
 *   logs --gateway [-n N] [-f] [--since ...] [--json]
 *
 * Sources are the per-service access logs Caddy writes under
 * <state>/logs/access/ (one JSON record per line, read with cJSON in
 * src/core/accesslog.c) or, with --gateway, Caddy's own log and
 * dnsmasq's log.  Every file is already in time order, so the backlog
 * of several sources is a k-way merge by timestamp that keeps only the
 * last N records in a ring: memory is O(N + sources) whatever the size
 * of the logs.  -f then follows each file from where the backlog ended
 * (src/core/accesslog.c's follower survives Caddy's rotation) and prints
 * each poll's new lines in time order until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "conduit/accesslog.h"
#include "conduit/caddy.h"
#include "conduit/dns.h"
#include "conduit/history.h"
#include "conduit/registry.h"
#include "conduit/state.h"
#include "conduit/validate.h"

#define FOLLOW_POLL_MS 250

static long o_n = 20;
static bool o_follow, o_json, o_gateway;
static const char *o_since, *o_status;

static const struct conduit_opt logs_opts[] = {
	OPT_INT_('n', "lines", "N", "show the last N records (default 20; 0 shows all)", &o_n),
	OPT_BOOL_('f', "follow", "keep printing new records, across log rotation, until interrupted", &o_follow),
	OPT_STRING_(0, "since", "DATE|DURATION", "records at or after (2026-04-01, 2026-04-01T09:00Z, 7d, 12h, 30m; UTC)", &o_since),
	OPT_STRING_(0, "status", "5xx|4xx|CODE", "only responses of that class (1xx-5xx) or code", &o_status),
	OPT_BOOL_(0, "json", "print the records unchanged, one per line (Caddy's JSON)", &o_json),
	OPT_BOOL_(0, "gateway", "the gateway's own logs (caddy.log, dnsmasq.log) instead", &o_gateway),
	OPT_END_()
};

struct source {
	char label[CONDUIT_NAME_MAX];
	char path[PATH_MAX];
	bool access;		/* a Caddy access log: parse and filter */
	FILE *fp;
	off_t consumed;		/* bytes of complete lines read */
	dev_t dev;
	ino_t ino;
	char *line;		/* getline buffer */
	size_t cap;
	char *pending;		/* the next record, not yet merged */
	double ts;
};

struct shown {
	char *line;
	size_t src;
	double ts;
};

struct logs_run {
	struct conduit_ctx *ctx;
	struct source *src;
	size_t nsrc;
	struct conduit_access_filter filter;
	bool multi;		/* label each line with its source */
	size_t skipped;		/* lines that are not records */
	struct shown *batch;	/* -f: one poll's lines */
	size_t nbatch, capbatch;
	size_t cur;		/* the source being polled */
};

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* dnsmasq writes "Apr  4 10:15:30 dnsmasq[12]: ..." in local time,
 * without a year: the most recent such moment that is not in the
 * future. */
static double
syslog_ts(const char *line)
{
	struct tm tm = { 0 }, now_tm;
	time_t now = time(NULL), t;

	localtime_r(&now, &now_tm);
	if (strptime(line, "%b %e %H:%M:%S", &tm) == NULL)
		return -1;
	tm.tm_year = now_tm.tm_year;
	tm.tm_isdst = -1;
	if ((t = mktime(&tm)) > now + 86400) {
		tm.tm_year--;
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	return (double)t;
}

/* Whether line is shown; *ts gets its time (-1 when it has none). */
static bool
accept_line(struct logs_run *r, const struct source *s, const char *line,
    double *ts)
{
	struct conduit_access_rec rec;
	struct conduit_err perr;

	if (s->access) {
		if (conduit_accesslog_parse(line, &rec, &perr) != 0) {
			r->skipped++;
			return false;
		}
		*ts = rec.ts;
		return conduit_accesslog_match(&r->filter, &rec);
	}
	if (line[0] == '\0')
		return false;
	*ts = line[0] == '{' ? conduit_accesslog_line_ts(line) : syslog_ts(line);
	return *ts < 0 || r->filter.since <= 0 || *ts >= r->filter.since;
}

/* A gateway JSON line: TIME LEVEL LOGGER: MSG {the other fields}. */
static void
print_gateway_json(const char *line)
{
	cJSON *doc = cJSON_Parse(line), *v;
	const char *level = "", *logger = "", *msg = "";
	char when[32], *rest;

	if (doc == NULL || !cJSON_IsObject(doc)) {
		puts(line);
		cJSON_Delete(doc);
		return;
	}
	conduit_accesslog_time(conduit_accesslog_line_ts(line), when);
	if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(doc, "level")))
		level = v->valuestring;
	if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(doc, "logger")))
		logger = v->valuestring;
	if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(doc, "msg")))
		msg = v->valuestring;
	printf("%s %-5s %s%s%s", when, level, logger, logger[0] ? ": " : "", msg);
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "level");
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "ts");
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "logger");
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "msg");
	if (cJSON_GetArraySize(doc) > 0 &&
	    (rest = cJSON_PrintUnformatted(doc)) != NULL) {
		printf(" %s", rest);
		cJSON_free(rest);
	}
	putchar('\n');
	cJSON_Delete(doc);
}

static void
show(const struct logs_run *r, size_t si, const char *line)
{
	const struct source *s = &r->src[si];
	struct conduit_access_rec rec;
	struct conduit_err perr;
	enum conduit_color col = COLOR_RESET;
	char text[2048];

	if (o_json) {
		puts(line);
		return;
	}
	if (r->multi)
		printf("%-12s ", s->label);
	if (!s->access) {
		if (line[0] == '{')
			print_gateway_json(line);
		else
			puts(line);
		return;
	}
	if (conduit_accesslog_parse(line, &rec, &perr) != 0)
		return;
	conduit_accesslog_format(&rec, text, sizeof(text));
	if (rec.status >= 500)
		col = COLOR_RED;
	else if (rec.status >= 400)
		col = COLOR_YELLOW;
	if (col != COLOR_RESET && conduit_color(r->ctx, col)[0] != '\0')
		printf("%s%s%s\n", conduit_color(r->ctx, col), text,
		    conduit_color(r->ctx, COLOR_RESET));
	else
		puts(text);
}

/* Reads s up to its next shown line (into s->pending); false at the
 * end.  A last line without its newline is being written: it is left
 * for the follower. */
static bool
advance(struct logs_run *r, struct source *s)
{
	ssize_t n;

	free(s->pending);
	s->pending = NULL;
	while (s->fp != NULL && (n = getline(&s->line, &s->cap, s->fp)) > 0) {
		if (s->line[n - 1] != '\n')
			break;
		s->consumed += n;
		s->line[n - 1] = '\0';
		if (accept_line(r, s, s->line, &s->ts)) {
			s->pending = strdup(s->line);
			return s->pending != NULL;
		}
	}
	return false;
}

/* The k-way merge of every source's backlog; the last n lines (all
 * when n is 0) are printed in time order. */
static int
backlog(struct logs_run *r, long n, struct conduit_err *err)
{
	struct shown *ring = NULL;
	size_t i, best, count = 0, head = 0, cap = (size_t)n;

	if (cap > 0 && (ring = calloc(cap, sizeof(*ring))) == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	for (i = 0; i < r->nsrc; i++)
		advance(r, &r->src[i]);
	for (;;) {
		best = r->nsrc;
		for (i = 0; i < r->nsrc; i++)
			if (r->src[i].pending != NULL && (best == r->nsrc ||
			    r->src[i].ts < r->src[best].ts))
				best = i;
		if (best == r->nsrc)
			break;
		if (cap == 0)
			show(r, best, r->src[best].pending);
		else {
			struct shown *slot = &ring[(head + count) % cap];
			if (count == cap) {
				free(ring[head].line);
				slot = &ring[head];
				head = (head + 1) % cap;
			} else
				count++;
			slot->line = r->src[best].pending;
			slot->src = best;
			r->src[best].pending = NULL;
		}
		advance(r, &r->src[best]);
	}
	for (i = 0; i < count; i++) {
		struct shown *e = &ring[(head + i) % cap];
		show(r, e->src, e->line);
		free(e->line);
	}
	free(ring);
	return 0;
}

static void
collect(const char *line, void *arg)
{
	struct logs_run *r = arg;
	struct shown *b;
	double ts = -1;

	if (!accept_line(r, &r->src[r->cur], line, &ts))
		return;
	if (r->nbatch == r->capbatch) {
		size_t cap = r->capbatch ? r->capbatch * 2 : 64;
		if ((b = realloc(r->batch, cap * sizeof(*b))) == NULL)
			return;	/* dropped under memory pressure; -f goes on */
		r->batch = b;
		r->capbatch = cap;
	}
	b = &r->batch[r->nbatch];
	if ((b->line = strdup(line)) == NULL)
		return;
	b->src = r->cur;
	b->ts = ts;
	r->nbatch++;
}

static int
by_time(const void *a, const void *b)
{
	const struct shown *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->src < y->src ? -1 : x->src > y->src;
}

static int
follow(struct logs_run *r, struct conduit_err *err)
{
	struct conduit_follow *f;
	struct sigaction sa;
	struct stat st;
	size_t i;
	int rc = 0;

	if ((f = calloc(r->nsrc, sizeof(*f))) == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	for (i = 0; i < r->nsrc && rc == 0; i++) {
		const struct source *s = &r->src[i];
		/* Go on where the backlog ended, unless the file was rotated
		 * in between: then the new file is read from its start. */
		bool same = stat(s->path, &st) == 0 && st.st_dev == s->dev &&
		    st.st_ino == s->ino && s->fp != NULL;
		rc = conduit_follow_open(&f[i], s->path, same ? s->consumed : 0,
		    err);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fflush(stdout);
	while (rc == 0 && !stop_requested) {
		struct timespec ts = { 0, FOLLOW_POLL_MS * 1000000L };
		for (i = 0; i < r->nsrc && rc == 0; i++) {
			r->cur = i;
			rc = conduit_follow_poll(&f[i], collect, r, err);
		}
		if (r->nbatch > 1)
			qsort(r->batch, r->nbatch, sizeof(*r->batch), by_time);
		for (i = 0; i < r->nbatch; i++) {
			show(r, r->batch[i].src, r->batch[i].line);
			free(r->batch[i].line);
		}
		r->nbatch = 0;
		if (fflush(stdout) != 0 || ferror(stdout))
			break;	/* the reader went away */
		if (!stop_requested)
			nanosleep(&ts, NULL);
	}
	for (i = 0; i < r->nsrc; i++)
		conduit_follow_close(&f[i]);
	free(f);
	free(r->batch);
	r->batch = NULL;
	return rc;
}

static int
add_source(struct logs_run *r, const char *label, const char *path,
    bool access, struct conduit_err *err)
{
	struct source *s, *v;
	struct stat st;

	if ((v = realloc(r->src, (r->nsrc + 1) * sizeof(*v))) == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	r->src = v;
	s = &r->src[r->nsrc++];
	memset(s, 0, sizeof(*s));
	snprintf(s->label, sizeof(s->label), "%s", label);
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->access = access;
	if ((s->fp = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			return CONDUIT_ENOTFOUND;
		return conduit_err_set(err, CONDUIT_EIO, "cannot read %s: %s",
		    path, strerror(errno));
	}
	if (fstat(fileno(s->fp), &st) == 0) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
	}
	return 0;
}

static void
free_sources(struct logs_run *r)
{
	size_t i;

	for (i = 0; i < r->nsrc; i++) {
		if (r->src[i].fp != NULL)
			fclose(r->src[i].fp);
		free(r->src[i].line);
		free(r->src[i].pending);
	}
	free(r->src);
}

static int
gateway_sources(struct logs_run *r, const struct conduit_caddy_paths *p,
    struct conduit_err *err)
{
	char dns_log[PATH_MAX];
	int rc, found = 0;

	if ((rc = conduit_state_path(dns_log, sizeof(dns_log),
	    r->ctx->state_dir, CONDUIT_DNS_F_LOG, err)) != 0)
		return rc;
	if ((rc = add_source(r, "caddy", p->logfile, false, err)) == 0)
		found++;
	else if (rc != CONDUIT_ENOTFOUND)
		return rc;
	if ((rc = add_source(r, "dnsmasq", dns_log, false, err)) == 0)
		found++;
	else if (rc != CONDUIT_ENOTFOUND)
		return rc;
	if (found == 0 && !o_follow)
		return conduit_err_set(err, CONDUIT_ENOTFOUND, "no gateway logs "
		    "yet (%s, %s): start the gateway with `conduit up`",
		    p->logfile, dns_log);
	r->multi = true;
	return 0;
}

static int
service_sources(struct logs_run *r, const struct conduit_caddy_paths *p,
    const char *name, struct conduit_err *err)
{
	struct conduit_registry reg;
	const struct conduit_service *svc = NULL;
	char path[PATH_MAX + CONDUIT_NAME_MAX + 8], canon[CONDUIT_NAME_MAX];
	size_t i, found = 0;
	int rc;

	if (name != NULL && (rc = conduit_validate_name("name", name, canon,
	    sizeof(canon), err)) != 0)
		return rc;
	if ((rc = conduit_state_path(path, sizeof(path), r->ctx->state_dir,
	    CONDUIT_F_SERVICES, err)) != 0 ||
	    (rc = conduit_registry_load(path, &reg, err)) != 0)
		return rc;
	if (name != NULL) {
		/* An alias names its service; a retired service keeps its
		 * log, so the newest record of that name counts too. */
		svc = conduit_registry_find_active(&reg, canon, true);
		for (i = reg.n; svc == NULL && i > 0; i--)
			if (strcmp(reg.services[i - 1].name, canon) == 0)
				svc = &reg.services[i - 1];
		if (svc == NULL) {
			conduit_registry_free(&reg);
			return conduit_err_set(err, CONDUIT_ENOTFOUND,
			    "no service named \"%s\" (see `conduit list --all`)",
			    canon);
		}
		snprintf(path, sizeof(path), "%s/%s.log", p->access_dir,
		    svc->name);
		rc = add_source(r, svc->name, path, true, err);
		if (rc == CONDUIT_ENOTFOUND)
			rc = conduit_err_set(err, CONDUIT_ENOTFOUND, "no access "
			    "log for %s (%s): Caddy creates it when it loads the "
			    "service's route; is the gateway up (`conduit up`)?%s",
			    svc->name, path, svc->dns_only ? " (a --dns-only "
			    "service has no route and no access log)" : "");
		conduit_registry_free(&reg);
		return rc;
	}
	for (i = 0; i < reg.n && (rc == 0 || rc == CONDUIT_ENOTFOUND); i++) {
		const struct conduit_service *s = &reg.services[i];
		if (s->status != SVC_ACTIVE || s->dns_only)
			continue;
		snprintf(path, sizeof(path), "%s/%s.log", p->access_dir, s->name);
		if ((rc = add_source(r, s->name, path, true, err)) == 0)
			found++;
		else if (rc == CONDUIT_ENOTFOUND && o_follow)
			rc = 0;	/* -f waits for it */
	}
	conduit_registry_free(&reg);
	if (rc != 0 && rc != CONDUIT_ENOTFOUND)
		return rc;
	if (found == 0 && !(o_follow && r->nsrc > 0))
		return conduit_err_set(err, CONDUIT_ENOTFOUND, "no access logs "
		    "yet in %s: they appear when the gateway serves registered "
		    "services (`conduit up`)", p->access_dir);
	r->multi = true;
	return 0;
}

static int
logs_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	struct logs_run r = { .ctx = ctx };
	struct conduit_caddy_paths p;
	char since[32];
	struct tm tm = { 0 };
	int rc, npos;

	if ((rc = conduit_opts_parse(&cmd_logs_entry, logs_opts, argc, argv,
	    &npos, err)) != 0)
		return rc == 1 ? 0 : rc;
	if (npos > 1)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unexpected argument \"%.60s\" (one service name at most)",
		    argv[1]);
	if (o_gateway && npos == 1)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "--gateway shows the gateway's own logs; it takes no "
		    "service name");
	if (o_gateway && o_status != NULL)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "--status filters access logs; it does not apply to "
		    "--gateway");
	if (o_status != NULL && (rc = conduit_accesslog_parse_status(o_status,
	    &r.filter, err)) != 0)
		return rc;
	if (o_since != NULL) {
		if ((rc = conduit_history_parse_time("--since", o_since, true,
		    since, err)) != 0)
			return rc;
		if (strptime(since, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
			return conduit_err_set(err, CONDUIT_EINTERNAL,
			    "cannot read back the time \"%s\"", since);
		r.filter.since = (double)timegm(&tm);
	}
	if ((rc = conduit_caddy_paths(ctx->state_dir, &p, err)) != 0)
		return rc;
	rc = o_gateway ? gateway_sources(&r, &p, err) :
	    service_sources(&r, &p, npos == 1 ? argv[0] : NULL, err);
	if (rc == 0)
		rc = backlog(&r, o_n, err);
	if (rc == 0 && o_follow)
		rc = follow(&r, err);
	if (r.skipped > 0 && !o_json)
		conduit_warn(ctx, "skipped %zu line%s that %s not Caddy access "
		    "records", r.skipped, r.skipped == 1 ? "" : "s",
		    r.skipped == 1 ? "is" : "are");
	free_sources(&r);
	return rc;
}

const struct conduit_cmd cmd_logs_entry = {
	.name = "logs",
	.summary = "show the requests Caddy served (per service) or the gateway's logs",
	.usage = "logs [NAME] [-n N] [-f] [--since DATE|DURATION] "
	    "[--status 5xx|4xx|CODE] [--json] | logs --gateway [-n N] [-f]",
	.description = "One line per request: time (UTC), client, method, "
	    "host, path, status,\nduration, upstream (when the record names "
	    "one), response bytes. Without NAME\nevery active service's log, "
	    "interleaved by time. Reads <state>/logs/access/NAME.log\n"
	    "(Caddy's JSON access log); --gateway reads <state>/logs/caddy.log "
	    "and dnsmasq.log.",
	.flags = CMD_NEEDS_STATE,
	.opts = logs_opts,
	.exec = logs_exec,
};
