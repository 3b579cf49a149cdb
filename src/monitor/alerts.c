/*
 * alerts.c - thresholds, restart baselines and the alert audit trail.
 *
 * Every run evaluates every rule against the document and gets one
 * "check" per rule and subject (GPU, mount, container), breached or not.
 * The active checks are the run's alerts.  What is remembered between
 * runs (<state-dir>/monitor/state.json) is the set of alerts that are
 * firing and each container's last restart count:
 *
 *   - an alert that is active now and was not firing: audit "firing";
 *   - an alert that was firing and whose subject was observed now and is
 *     fine (or gone: container removed, GPU vanished): audit "cleared";
 *   - an alert that was firing but whose source could not be read this
 *     run (server unreachable, nvidia-smi failing, --only): kept as it
 *     is; an unanswered question is not an all-clear.
 *
 * So a breach that lasts a day is two audit records, not 1440.
 *
 * Restart counts: the first sighting of a container sets its baseline;
 * any increase since the previous run is an event and makes the
 * container_restarts alert active for that run.  The baseline then moves
 * to the new count, so a container that restarted once clears on the
 * next quiet run, and one in a crash loop stays firing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "conduit/audit.h"
#include "conduit/fsutil.h"
#include "conduit/monitor.h"

#define STATE_VERSION 1

cJSON *
conduit_mon_state_new(void)
{
	cJSON *s = cJSON_CreateObject();

	cJSON_AddNumberToObject(s, "version", STATE_VERSION);
	cJSON_AddObjectToObject(s, "restart_baseline");
	cJSON_AddObjectToObject(s, "firing");
	return s;
}

static bool
source_ok(const cJSON *server, const char *source)
{
	const cJSON *o;

	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(server,
	    "reachable")))
		return false;
	o = cJSON_GetObjectItemCaseSensitive(server, source);
	if (strcmp(source, "host") == 0)
		return cJSON_IsObject(o);
	return cJSON_IsObject(o) && conduit_mon_str(o, "status") != NULL &&
	    strcmp(conduit_mon_str(o, "status"), MON_OK) == 0;
}

static const cJSON *
items(const cJSON *server, const char *source, const char *arr)
{
	return cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(server, source), arr);
}

void
conduit_mon_restarts_apply(cJSON *doc, cJSON *state)
{
	cJSON *base = cJSON_GetObjectItemCaseSensitive(state,
	    "restart_baseline");
	cJSON *events = cJSON_AddArrayToObject(doc, "events");
	cJSON *server, *c, *b, *next;

	if (!cJSON_IsObject(base)) {
		cJSON_DeleteItemFromObjectCaseSensitive(state,
		    "restart_baseline");
		base = cJSON_AddObjectToObject(state, "restart_baseline");
	}
	cJSON_ArrayForEach(server, cJSON_GetObjectItemCaseSensitive(doc,
	    "servers")) {
		const char *sname = conduit_mon_str(server, "server");
		cJSON *seen = cJSON_CreateObject();
		size_t plen;

		if (sname == NULL || !source_ok(server, "containers")) {
			cJSON_Delete(seen);
			continue;
		}
		plen = strlen(sname) + 1;
		cJSON_ArrayForEach(c, (cJSON *)items(server, "containers",
		    "items")) {
			const char *id = conduit_mon_str(c, "full_id");
			double count = conduit_mon_num(c, "restart_count");
			char key[512];
			double prev, inc;
			cJSON *ev;

			cJSON_DeleteItemFromObjectCaseSensitive(c,
			    "restarts_new");
			if (id == NULL || isnan(count)) {
				cJSON_AddNullToObject(c, "restarts_new");
				continue;
			}
			snprintf(key, sizeof key, "%s|%s", sname, id);
			cJSON_AddTrueToObject(seen, key);
			prev = conduit_mon_num(base, key);
			if (isnan(prev)) {
				cJSON_AddNullToObject(c, "restarts_new");
				cJSON_AddNumberToObject(base, key, count);
				continue;
			}
			inc = count > prev ? count - prev : 0;
			cJSON_AddNumberToObject(c, "restarts_new", inc);
			cJSON_ReplaceItemInObjectCaseSensitive(base, key,
			    cJSON_CreateNumber(count));
			if (inc <= 0)
				continue;
			ev = cJSON_CreateObject();
			cJSON_AddStringToObject(ev, "type",
			    "container_restarted");
			cJSON_AddStringToObject(ev, "server", sname);
			conduit_mon_add_str(ev, "container",
			    conduit_mon_str(c, "name"));
			cJSON_AddStringToObject(ev, "id", id);
			cJSON_AddNumberToObject(ev, "previous", prev);
			cJSON_AddNumberToObject(ev, "current", count);
			cJSON_AddItemToArray(events, ev);
		}
		/* Forget containers this server no longer has. */
		for (b = base->child; b != NULL; b = next) {
			next = b->next;
			if (strncmp(b->string, sname, plen - 1) == 0 &&
			    b->string[plen - 1] == '|' &&
			    cJSON_GetObjectItemCaseSensitive(seen,
			    b->string) == NULL)
				cJSON_DeleteItemFromObjectCaseSensitive(base,
				    b->string);
		}
		cJSON_Delete(seen);
	}
}

/* ---- rules ------------------------------------------------------------ */

struct rule_ctx {
	cJSON *checks;
	const char *server;
	bool local;
};

/* Adds one check; value/threshold are cJSON values (consumed). */
static cJSON *
check(struct rule_ctx *x, const char *source, const char *metric,
    const char *subject, cJSON *value, cJSON *threshold, const char *unit,
    bool active, const char *msg_on, const char *msg_off)
{
	cJSON *c = cJSON_CreateObject();
	char key[768], m[1200];
	const char *pre = x->local ? "" : x->server;

	snprintf(key, sizeof key, "%s|%s|%s", x->server, metric,
	    subject ? subject : "");
	cJSON_AddStringToObject(c, "key", key);
	cJSON_AddBoolToObject(c, "active", active);
	cJSON_AddStringToObject(c, "source", source);
	cJSON_AddStringToObject(c, "metric", metric);
	cJSON_AddItemToObject(c, "value", value ? value : cJSON_CreateNull());
	cJSON_AddItemToObject(c, "threshold", threshold ? threshold :
	    cJSON_CreateNull());
	cJSON_AddStringToObject(c, "unit", unit);
	cJSON_AddStringToObject(c, "server", x->server);
	snprintf(m, sizeof m, "%s%s%s", pre, pre[0] ? ": " : "",
	    active ? msg_on : msg_off);
	cJSON_AddStringToObject(c, "message", m);
	cJSON_AddItemToArray(x->checks, c);
	return c;
}

static cJSON *
numv(double v)
{
	return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

static void
percent_rule(struct rule_ctx *x, const char *source, const char *metric,
    const char *subject, const char *label, double v, double th,
    cJSON **out)
{
	char on[512], off[512];

	if (isnan(v) || th <= 0)
		return;
	snprintf(on, sizeof on, "%s %.0f%% exceeds threshold %.0f%%", label,
	    v, th);
	snprintf(off, sizeof off, "%s %.0f%% is back under threshold %.0f%%",
	    label, v, th);
	*out = check(x, source, metric, subject, cJSON_CreateNumber(
	    round(v * 10) / 10), cJSON_CreateNumber(th), "percent", v > th,
	    on, off);
}

static void
host_rules(struct rule_ctx *x, const cJSON *host,
    const struct conduit_thresholds *th)
{
	const cJSON *fs;
	cJSON *c = NULL;

	percent_rule(x, "host", "memory_used", NULL, "memory",
	    conduit_mon_num(cJSON_GetObjectItemCaseSensitive(host, "memory"),
	    "used_percent"), th->mem_pct, &c);
	cJSON_ArrayForEach(fs, cJSON_GetObjectItemCaseSensitive(host,
	    "filesystems")) {
		const char *mp = conduit_mon_str(fs, "mountpoint");
		char label[4200];

		if (mp == NULL)
			continue;
		c = NULL;
		snprintf(label, sizeof label, "disk %s", mp);
		percent_rule(x, "host", "disk_used", mp, label,
		    conduit_mon_num(fs, "used_percent"), th->disk_pct, &c);
		if (c != NULL)
			cJSON_AddStringToObject(c, "mountpoint", mp);
	}
}

static void
gpu_subject(cJSON *c, double idx, const char *uuid)
{
	if (c == NULL)
		return;
	conduit_mon_add_num(c, "gpu_index", idx);
	conduit_mon_add_str(c, "gpu_uuid", uuid);
}

static void
gpu_rules(struct rule_ctx *x, const cJSON *gpus,
    const struct conduit_thresholds *th)
{
	const cJSON *d;

	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(gpus,
	    "devices")) {
		double idx = conduit_mon_num(d, "index");
		double t = conduit_mon_num(d, "temperature_celsius");
		const char *uuid = conduit_mon_str(d, "uuid");
		const cJSON *thr = cJSON_GetObjectItemCaseSensitive(d,
		    "throttling");
		char subj[128], label[64], on[640], off[512];
		cJSON *c = NULL;

		snprintf(subj, sizeof subj, "%s", uuid ? uuid : "");
		if (uuid == NULL)
			snprintf(subj, sizeof subj, "gpu%.0f", idx);
		snprintf(label, sizeof label, "GPU %.0f", idx);
		if (!isnan(t) && th->gpu_temp_c > 0) {
			snprintf(on, sizeof on, "%s temperature %.0fC exceeds "
			    "threshold %.0fC", label, t, th->gpu_temp_c);
			snprintf(off, sizeof off, "%s temperature %.0fC is "
			    "back under threshold %.0fC", label, t,
			    th->gpu_temp_c);
			gpu_subject(check(x, "gpus", "gpu_temperature", subj,
			    cJSON_CreateNumber(t), cJSON_CreateNumber(
			    th->gpu_temp_c), "celsius", t > th->gpu_temp_c,
			    on, off), idx, uuid);
		}
		snprintf(on, sizeof on, "%s memory", label);
		percent_rule(x, "gpus", "gpu_memory_used", subj, on,
		    conduit_mon_num(d, "memory_used_percent"),
		    th->gpu_vram_pct, &c);
		gpu_subject(c, idx, uuid);
		if (th->gpu_throttle && cJSON_IsBool(thr)) {
			const cJSON *r;
			char names[512] = "";
			size_t o = 0;

			cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(
			    d, "throttle_reasons"))
				if (cJSON_IsString(r) && o < sizeof names)
					o += (size_t)snprintf(names + o,
					    sizeof names - o, "%s%s",
					    o ? "," : "", r->valuestring);
			snprintf(on, sizeof on, "%s is throttling (%s)", label,
			    names);
			snprintf(off, sizeof off, "%s is no longer throttling",
			    label);
			c = check(x, "gpus", "gpu_throttle", subj,
			    numv(conduit_mon_num(d, "throttle_mask")),
			    cJSON_CreateString("thermal or power"), "bitmask",
			    cJSON_IsTrue(thr), on, off);
			cJSON_AddStringToObject(c, "reasons", names);
			gpu_subject(c, idx, uuid);
		}
	}
}

static void
container_rules(struct rule_ctx *x, const cJSON *cont,
    const struct conduit_thresholds *th)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(cont,
	    "items")) {
		const char *name = conduit_mon_str(c, "name");
		const char *health = conduit_mon_str(c, "health");
		double inc = conduit_mon_num(c, "restarts_new");
		double count = conduit_mon_num(c, "restart_count");
		char on[512], off[512];
		cJSON *k;

		if (name == NULL)
			continue;
		if (th->container_restarts && !isnan(count)) {
			snprintf(on, sizeof on, "container %s restarted %.0f "
			    "time%s (restart count %.0f)", name, inc,
			    inc == 1 ? "" : "s", count);
			snprintf(off, sizeof off, "container %s has not "
			    "restarted since the last run (restart count "
			    "%.0f)", name, count);
			k = check(x, "containers", "container_restarts", name,
			    cJSON_CreateNumber(count), numv(isnan(inc) ?
			    count : count - inc), "restarts", !isnan(inc) &&
			    inc > 0, on, off);
			cJSON_AddStringToObject(k, "container", name);
		}
		if (th->container_unhealthy) {
			snprintf(on, sizeof on, "container %s is unhealthy",
			    name);
			snprintf(off, sizeof off, "container %s is %s", name,
			    health ? health : "no longer unhealthy");
			k = check(x, "containers", "container_health", name,
			    health ? cJSON_CreateString(health) :
			    cJSON_CreateNull(), cJSON_CreateString("healthy"),
			    "state", health != NULL && strcmp(health,
			    "unhealthy") == 0, on, off);
			cJSON_AddStringToObject(k, "container", name);
		}
	}
}

cJSON *
conduit_mon_alerts_eval(const cJSON *doc, const struct conduit_thresholds *th)
{
	cJSON *checks = cJSON_CreateArray();
	const cJSON *server;

	cJSON_ArrayForEach(server, cJSON_GetObjectItemCaseSensitive(doc,
	    "servers")) {
		struct rule_ctx x = { checks, conduit_mon_str(server,
		    "server"), false };
		bool up = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(server,
		    "reachable"));
		char on[1200], off[256];
		const char *why = conduit_mon_str(server, "error");

		if (x.server == NULL)
			continue;
		x.local = strcmp(x.server, "local") == 0;
		snprintf(on, sizeof on, "is unreachable: %s", why ? why :
		    "no answer");
		snprintf(off, sizeof off, "is reachable again");
		check(&x, "server", "server_reachable", NULL,
		    cJSON_CreateString(up ? "reachable" : "unreachable"),
		    cJSON_CreateString("reachable"), "state", !up, on, off);
		if (!up)
			continue;
		if (source_ok(server, "host"))
			host_rules(&x, cJSON_GetObjectItemCaseSensitive(server,
			    "host"), th);
		if (source_ok(server, "gpus"))
			gpu_rules(&x, cJSON_GetObjectItemCaseSensitive(server,
			    "gpus"), th);
		if (source_ok(server, "containers"))
			container_rules(&x, cJSON_GetObjectItemCaseSensitive(
			    server, "containers"), th);
	}
	return checks;
}

/* Whether this run read the source an old alert came from. */
static bool
observed(const cJSON *doc, const cJSON *alert)
{
	const char *sname = conduit_mon_str(alert, "server");
	const char *source = conduit_mon_str(alert, "source");
	const cJSON *server;

	if (sname == NULL || source == NULL)
		return false;
	cJSON_ArrayForEach(server, cJSON_GetObjectItemCaseSensitive(doc,
	    "servers")) {
		const char *n = conduit_mon_str(server, "server");

		if (n == NULL || strcmp(n, sname) != 0)
			continue;
		if (strcmp(source, "server") == 0)
			return true;
		return source_ok(server, source);
	}
	return false;
}

/* The audit details: the check without its bookkeeping fields. */
static cJSON *
details(const cJSON *chk, const char *state)
{
	cJSON *d = cJSON_Duplicate(chk, true);

	cJSON_DeleteItemFromObjectCaseSensitive(d, "key");
	cJSON_DeleteItemFromObjectCaseSensitive(d, "active");
	cJSON_DeleteItemFromObjectCaseSensitive(d, "message");
	cJSON_DeleteItemFromObjectCaseSensitive(d, "since");
	cJSON_AddStringToObject(d, "state", state);
	return d;
}

static void
add_record(cJSON *recs, const char *message, cJSON *det)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddStringToObject(r, "message", message ? message : "");
	cJSON_AddItemToObject(r, "details", det);
	cJSON_AddItemToArray(recs, r);
}

cJSON *
conduit_mon_alerts_transitions(const cJSON *doc, const cJSON *checks,
    cJSON *state, const char *now)
{
	cJSON *prev = cJSON_DetachItemFromObjectCaseSensitive(state, "firing");
	cJSON *firing = cJSON_CreateObject();
	cJSON *recs = cJSON_CreateArray();
	const cJSON *c;
	cJSON *p;

	if (!cJSON_IsObject(prev)) {
		cJSON_Delete(prev);
		prev = cJSON_CreateObject();
	}
	cJSON_ArrayForEach(c, checks) {
		const char *key = conduit_mon_str(c, "key");
		cJSON *old, *keep;

		if (key == NULL || !cJSON_IsTrue(
		    cJSON_GetObjectItemCaseSensitive(c, "active")))
			continue;
		old = cJSON_GetObjectItemCaseSensitive(prev, key);
		keep = cJSON_Duplicate(c, true);
		cJSON_DeleteItemFromObjectCaseSensitive(keep, "active");
		cJSON_AddStringToObject(keep, "since", old ?
		    (conduit_mon_str(old, "since") ? conduit_mon_str(old,
		    "since") : now) : now);
		cJSON_AddItemToObject(firing, key, keep);
		if (old == NULL)
			add_record(recs, conduit_mon_str(c, "message"),
			    details(c, "firing"));
	}
	cJSON_ArrayForEach(p, prev) {
		const cJSON *cur = NULL;

		if (cJSON_GetObjectItemCaseSensitive(firing, p->string))
			continue;
		cJSON_ArrayForEach(c, checks) {
			const char *key = conduit_mon_str(c, "key");

			if (key != NULL && strcmp(key, p->string) == 0)
				cur = c;
		}
		if (cur != NULL) {
			add_record(recs, conduit_mon_str(cur, "message"),
			    details(cur, "cleared"));
		} else if (observed(doc, p)) {
			/* The subject is gone: the breach ended with it. */
			cJSON *d = details(p, "cleared");
			char m[1200];

			cJSON_ReplaceItemInObjectCaseSensitive(d, "value",
			    cJSON_CreateNull());
			snprintf(m, sizeof m, "%s (cleared: no longer "
			    "reported)", conduit_mon_str(p, "message") ?
			    conduit_mon_str(p, "message") : p->string);
			add_record(recs, m, d);
		} else {
			cJSON_AddItemToObject(firing, p->string,
			    cJSON_Duplicate(p, true));
		}
	}
	cJSON_Delete(prev);
	cJSON_AddItemToObject(state, "firing", firing);
	return recs;
}

/* The alerts for the document: active checks without bookkeeping. */
static cJSON *
active_alerts(const cJSON *checks)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *c;

	cJSON_ArrayForEach(c, checks) {
		cJSON *a;

		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c,
		    "active")))
			continue;
		a = cJSON_Duplicate(c, true);
		cJSON_DeleteItemFromObjectCaseSensitive(a, "key");
		cJSON_DeleteItemFromObjectCaseSensitive(a, "active");
		cJSON_AddItemToArray(out, a);
	}
	return out;
}

/* *text keeps the file as read, so an unchanged state is not
 * rewritten (and fsynced) every minute. */
static int
load_state(const char *path, cJSON **state, char **text,
    struct conduit_err *err)
{
	size_t len;
	int rc = conduit_read_file(path, text, &len, err);

	if (rc == CONDUIT_ENOTFOUND) {
		conduit_err_clear(err);
		*text = NULL;
		*state = conduit_mon_state_new();
		return 0;
	}
	if (rc != 0)
		return rc;
	*state = cJSON_Parse(*text);
	if (!cJSON_IsObject(*state) || conduit_mon_num(*state, "version") !=
	    STATE_VERSION) {
		cJSON_Delete(*state);
		*state = NULL;
		return conduit_err_set(err, CONDUIT_ECORRUPT, "%s is not a "
		    "monitor state file of version %d; move it away to start "
		    "afresh", path, STATE_VERSION);
	}
	return 0;
}

int
conduit_monitor_track(const char *state_dir, cJSON *doc,
    const struct conduit_thresholds *th, struct conduit_err *err)
{
	char dir[4096], path[4096], now[32];
	struct conduit_lock lk;
	cJSON *state = NULL, *checks = NULL, *recs = NULL, *r;
	struct conduit_audit_rec *arr = NULL;
	char *text = NULL, *old = NULL;
	size_t n = 0;
	int rc;

	if ((rc = conduit_path_join(dir, sizeof dir, state_dir, "monitor",
	    err)) != 0 ||
	    (rc = conduit_mkdir_p(dir, 0700, err)) != 0 ||
	    (rc = conduit_path_join(path, sizeof path, dir, "state.json",
	    err)) != 0)
		return rc;
	if ((rc = conduit_lock_acquire(dir, "state", &lk, err)) != 0)
		return rc;
	if ((rc = load_state(path, &state, &old, err)) != 0)
		goto out;
	conduit_timestamp(now, 0);
	conduit_mon_restarts_apply(doc, state);
	checks = conduit_mon_alerts_eval(doc, th);
	recs = conduit_mon_alerts_transitions(doc, checks, state, now);
	cJSON_AddItemToObject(doc, "alerts", active_alerts(checks));

	n = (size_t)cJSON_GetArraySize(recs);
	if (n > 0) {
		size_t i = 0;

		arr = calloc(n, sizeof *arr);
		if (arr == NULL) {
			rc = conduit_err_set(err, CONDUIT_ENOMEM,
			    "out of memory");
			goto out;
		}
		cJSON_ArrayForEach(r, recs) {
			arr[i].action = "monitor_alert";
			arr[i].success = true;
			arr[i].message = conduit_mon_str(r, "message");
			arr[i].details = cJSON_GetObjectItemCaseSensitive(r,
			    "details");
			i++;
		}
		/* Audit first: a transition that is not recorded must be
		 * seen again next run, so the state is saved only after. */
		if ((rc = conduit_audit_append_many(state_dir, arr, n,
		    err)) != 0)
			goto out;
	}
	text = cJSON_PrintUnformatted(state);
	if (text == NULL) {
		rc = conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
		goto out;
	}
	if (old == NULL || strcmp(old, text) != 0)
		rc = conduit_write_atomic(path, text, strlen(text), 0600, err);
out:
	free(old);
	conduit_lock_release(&lk);
	free(text);
	free(arr);
	cJSON_Delete(recs);
	cJSON_Delete(checks);
	cJSON_Delete(state);
	return rc;
}

void
conduit_monitor_untracked(cJSON *doc, const struct conduit_thresholds *th)
{
	cJSON *state = conduit_mon_state_new();
	cJSON *checks;

	conduit_mon_restarts_apply(doc, state);
	checks = conduit_mon_alerts_eval(doc, th);
	cJSON_AddItemToObject(doc, "alerts", active_alerts(checks));
	cJSON_Delete(checks);
	cJSON_Delete(state);
}
