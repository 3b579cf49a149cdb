/*
 * history.c - the registry at a past moment, replayed from audit.log.
 *
 * audit.log is the record of every change, sealed into the capsule
 * chain, so it (not services.json, which only knows the present) is
 * the source for "which services were running last Tuesday and where
 * did they route?".  Records are replayed in file order, which is the
 * order they happened in (appends hold the audit lock); timestamps are
 * compared as strings, which is exact for the fixed UTC form.  Failed
 * attempts changed nothing and are skipped.  Records that do not parse
 * are skipped too: `conduit audit verify` is the tool that reports them.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "conduit/fsutil.h"
#include "conduit/history.h"
#include "conduit/state.h"
#include "conduit/validate.h"

static bool
all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

int
conduit_history_parse_time(const char *field, const char *in,
    bool durations_ok, char out[32], struct conduit_err *err)
{
	size_t len = strlen(in), i;
	struct tm tm = { 0 };
	char *end;

	if (durations_ok && len >= 2 && all_digits(in, len - 1) &&
	    strchr("smhdw", in[len - 1])) {
		static const long long unit[] = { 1, 60, 3600, 86400, 604800 };
		long long n = strtoll(in, &end, 10);
		long long now = (long long)time(NULL);

		i = (size_t)(strchr("smhdw", in[len - 1]) - "smhdw");
		if (n < 0 || n > 100LL * 365 * 86400 / unit[i])
			return conduit_err_set(err, CONDUIT_EUSAGE,
			    "%s \"%s\" is too long ago", field, in);
		conduit_timestamp(out, now - n * unit[i] ? now - n * unit[i] : 1);
		return 0;
	}
	/* YYYY-MM-DD[(T| )HH:MM[:SS]][Z] */
	if (len < 10 || !all_digits(in, 4) || in[4] != '-' ||
	    !all_digits(in + 5, 2) || in[7] != '-' || !all_digits(in + 8, 2))
		goto bad;
	tm.tm_year = atoi(in) - 1900;
	tm.tm_mon = atoi(in + 5) - 1;
	tm.tm_mday = atoi(in + 8);
	i = 10;
	if (len > 10) {
		if ((in[10] != 'T' && in[10] != ' ') || len < 16 ||
		    !all_digits(in + 11, 2) || in[13] != ':' ||
		    !all_digits(in + 14, 2))
			goto bad;
		tm.tm_hour = atoi(in + 11);
		tm.tm_min = atoi(in + 14);
		i = 16;
		if (len >= 19 && in[16] == ':' && all_digits(in + 17, 2)) {
			tm.tm_sec = atoi(in + 17);
			i = 19;
		}
		if (i < len && in[i] == 'Z')
			i++;
	}
	if (i != len || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 59)
		goto bad;
	{
		struct tm chk = tm;
		time_t t = timegm(&chk);

		/* timegm normalises 2026-02-30 to March: refuse that */
		if (t == (time_t)-1 || chk.tm_mday != tm.tm_mday)
			goto bad;
		conduit_timestamp(out, (long long)t ? (long long)t : 1);
	}
	return 0;
bad:
	return conduit_err_set(err, CONDUIT_EUSAGE, "%s \"%.60s\" is not a "
	    "date (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z, UTC)%s", field, in,
	    durations_ok ? " or a duration (7d, 12h, 30m, 90s, 2w)" : "");
}

static const char *
str_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int
add_upstream(struct conduit_service *s, const char *host, long port)
{
	struct conduit_upstream *u = realloc(s->upstreams,
	    (s->n_upstreams + 1) * sizeof(*u));

	if (u == NULL)
		return -1;
	s->upstreams = u;
	(void)snprintf(u[s->n_upstreams].host, sizeof(u->host), "%s", host);
	u[s->n_upstreams++].port = port;
	return 0;
}

/* A service record from service_register's details; 1 = not usable. */
static int
service_from_details(const cJSON *d, const char *ts, struct conduit_service *s)
{
	const char *name = str_of(d, "name"), *v;
	const cJSON *a, *e;
	char host[CONDUIT_HOST_MAX];
	long port;

	memset(s, 0, sizeof(*s));
	if (name == NULL || strlen(name) >= sizeof(s->name))
		return 1;
	(void)snprintf(s->name, sizeof(s->name), "%s", name);
	a = cJSON_GetObjectItemCaseSensitive(d, "upstreams");
	cJSON_ArrayForEach(e, a) {
		if (cJSON_IsString(e) && conduit_validate_hostport("upstream",
		    e->valuestring, host, sizeof(host), &port, NULL) == 0 &&
		    add_upstream(s, host, port) != 0)
			goto fail;
	}
	if (s->n_upstreams == 0 && str_of(d, "host") && str_of(d, "port")) {
		port = strtol(str_of(d, "port"), NULL, 10);
		if (add_upstream(s, str_of(d, "host"), port) != 0)
			goto fail;
	}
	if (s->n_upstreams == 0)
		goto fail;
	v = str_of(d, "scheme");
	(void)snprintf(s->scheme, sizeof(s->scheme), "%s", v ? v : "http");
	v = str_of(d, "health_path");
	(void)snprintf(s->health_path, sizeof(s->health_path), "%s", v ? v : "");
	s->tls = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "tls"));
	s->dns_only = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d,
	    "dns_only"));
	a = cJSON_GetObjectItemCaseSensitive(d, "aliases");
	if (cJSON_GetArraySize(a) > 0) {
		s->aliases = calloc((size_t)cJSON_GetArraySize(a),
		    sizeof(*s->aliases));
		if (s->aliases == NULL)
			goto fail;
		cJSON_ArrayForEach(e, a)
			if (cJSON_IsString(e))
				(void)snprintf(s->aliases[s->n_aliases++],
				    sizeof(*s->aliases), "%s", e->valuestring);
	}
	s->status = SVC_ACTIVE;
	(void)snprintf(s->health, sizeof(s->health), "%s", "unknown");
	(void)snprintf(s->registered_at, sizeof(s->registered_at), "%s", ts);
	(void)snprintf(s->updated_at, sizeof(s->updated_at), "%s", ts);
	return 0;
fail:
	conduit_service_free(s);
	return 1;
}

static int
replay(struct conduit_registry *reg, const cJSON *rec, const char *ts,
    struct conduit_err *err)
{
	const char *action = str_of(rec, "action"), *status = str_of(rec, "status");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(rec, "details");
	struct conduit_service svc, *old;

	if (action == NULL || status == NULL || strcmp(status, "success") != 0)
		return 0;
	if (strcmp(action, "service_register") == 0) {
		if (service_from_details(d, ts, &svc) != 0)
			return 0;
		if ((old = conduit_registry_find_active(reg, svc.name,
		    false)) != NULL) {
			/* a re-registration (apply) replaces the record */
			old->status = SVC_INACTIVE;
			(void)snprintf(old->deregistered_at,
			    sizeof(old->deregistered_at), "%s", ts);
		}
		return conduit_registry_add(reg, &svc, err);
	}
	if (strcmp(action, "service_deregister") == 0 && str_of(d, "name") &&
	    (old = conduit_registry_find_active(reg, str_of(d, "name"),
	    false)) != NULL) {
		old->status = SVC_INACTIVE;
		(void)snprintf(old->deregistered_at, sizeof(old->deregistered_at),
		    "%s", ts);
		(void)snprintf(old->updated_at, sizeof(old->updated_at), "%s", ts);
	}
	return 0;
}

int
conduit_history_registry_at(const char *state_dir, const char *at,
    struct conduit_registry *reg, struct conduit_err *err)
{
	struct conduit_lines log;
	char path[PATH_MAX];
	size_t i;
	int rc;

	conduit_registry_init(reg);
	if ((rc = conduit_path_join(path, sizeof(path), state_dir,
	    CONDUIT_F_AUDIT, err)) != 0)
		return rc;
	rc = conduit_read_lines(path, &log, err);
	if (rc == CONDUIT_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	for (i = 0; i < log.n && rc == 0; i++) {
		const char *ts;
		cJSON *rec = cJSON_Parse(log.v[i]);

		ts = str_of(rec, "timestamp");
		/* later records are skipped, not a stop: a clock stepped
		 * back must not hide what came after it */
		if (ts != NULL && strlen(ts) == 20 && strcmp(ts, at) <= 0)
			rc = replay(reg, rec, ts, err);
		cJSON_Delete(rec);
	}
	conduit_lines_free(&log);
	if (rc != 0)
		conduit_registry_free(reg);
	return rc;
}
