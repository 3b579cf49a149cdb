/*
 * record.c - storing a probe run: health fields and health_change.
 *
 * Probing takes seconds and must not hold the registry lock, so the
 * damping is applied only afterwards, under the lock, to the records as
 * they are then (reloaded), not to the copy the run started from: two
 * `status` runs that overlap each see the other's result, and a
 * transition is recorded once.  A record is matched by name and
 * registration time, so a service deregistered and registered again
 * while the probes ran does not inherit the old one's result.
 *
 * Only the health fields change, so this does not go through the
 * backend transaction (txn.h): nothing rendered depends on them.  The
 * audit records are appended while the registry lock is still held,
 * which keeps their order the order of the transitions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "conduit/audit.h"
#include "conduit/fsutil.h"
#include "conduit/probe.h"
#include "conduit/state.h"

static struct conduit_service *
find_record(const struct conduit_registry *reg,
    const struct conduit_service_status *st)
{
	size_t i;

	for (i = 0; i < reg->n; i++) {
		struct conduit_service *s = &reg->services[i];
		if (s->status == SVC_ACTIVE && strcmp(s->name, st->name) == 0 &&
		    strcmp(s->registered_at, st->registered_at) == 0)
			return s;
	}
	return NULL;
}

static void
load_state(const struct conduit_service *s, struct conduit_health_state *hs)
{
	conduit_health_parse(s->health, &hs->current);
	conduit_health_parse(s->health_pending, &hs->pending);
	hs->streak = s->health_streak;
}

void
conduit_status_from_registry(const struct conduit_registry *reg,
    struct conduit_status_report *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		struct conduit_service_status *st = &r->svcs[i];
		const struct conduit_service *s = find_record(reg, st);
		if (s == NULL)
			continue;
		load_state(s, &st->state);
		st->previous = st->state.current;
		st->changed = false;
		snprintf(st->checked_at, sizeof(st->checked_at), "%s",
		    s->health_checked_at);
	}
}

static cJSON *
change_details(const struct conduit_service_status *st)
{
	cJSON *d = cJSON_CreateObject();

	if (d == NULL ||
	    cJSON_AddStringToObject(d, "name", st->name) == NULL ||
	    cJSON_AddStringToObject(d, "previous",
	    conduit_health_name(st->previous)) == NULL ||
	    cJSON_AddStringToObject(d, "current",
	    conduit_health_name(st->state.current)) == NULL ||
	    cJSON_AddStringToObject(d, "checked_at", st->checked_at) == NULL) {
		cJSON_Delete(d);
		return NULL;
	}
	return d;
}

static int
append_changes(const char *state_dir, const struct conduit_status_report *r,
    size_t nchanged, struct conduit_err *err)
{
	struct conduit_audit_rec *recs;
	char (*msgs)[160];
	size_t i, k = 0;
	int rc = 0;

	recs = calloc(nchanged, sizeof(*recs));
	msgs = calloc(nchanged, sizeof(*msgs));
	if (recs == NULL || msgs == NULL) {
		rc = conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < r->n && k < nchanged; i++) {
		const struct conduit_service_status *st = &r->svcs[i];
		if (!st->changed)
			continue;
		snprintf(msgs[k], sizeof(msgs[k]), "Service %s health changed: "
		    "%s -> %s", st->name, conduit_health_name(st->previous),
		    conduit_health_name(st->state.current));
		recs[k].action = "health_change";
		recs[k].success = true;
		recs[k].message = msgs[k];
		if ((recs[k].details = change_details(st)) == NULL) {
			rc = conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
			goto out;
		}
		k++;
	}
	rc = conduit_audit_append_many(state_dir, recs, k, err);
out:
	for (i = 0; recs != NULL && i < nchanged; i++)
		cJSON_Delete(recs[i].details);
	free(recs);
	free(msgs);
	return rc;
}

int
conduit_status_record(const char *state_dir, struct conduit_status_report *r,
    struct conduit_err *err)
{
	struct conduit_registry reg;
	struct conduit_lock lk;
	char path[4096];
	size_t i, nchanged = 0;
	int rc;

	if ((rc = conduit_state_path(path, sizeof(path), state_dir,
	    CONDUIT_F_SERVICES, err)) != 0)
		return rc;
	if ((rc = conduit_lock_acquire(state_dir, "registry", &lk, err)) != 0)
		return rc;
	if ((rc = conduit_registry_load(path, &reg, err)) != 0) {
		conduit_lock_release(&lk);
		return rc;
	}
	for (i = 0; i < r->n; i++) {
		struct conduit_service_status *st = &r->svcs[i];
		struct conduit_service *s = find_record(&reg, st);
		if (s == NULL)
			continue;	/* deregistered while we probed */
		load_state(s, &st->state);
		st->previous = st->state.current;
		st->changed = conduit_health_step(&st->state, st->observed,
		    st->passes, st->fails);
		snprintf(st->checked_at, sizeof(st->checked_at), "%s",
		    r->checked_at);
		snprintf(s->health, sizeof(s->health), "%s",
		    conduit_health_name(st->state.current));
		snprintf(s->health_pending, sizeof(s->health_pending), "%s",
		    st->state.pending == HEALTH_UNKNOWN ? "" :
		    conduit_health_name(st->state.pending));
		s->health_streak = st->state.streak;
		snprintf(s->health_checked_at, sizeof(s->health_checked_at), "%s",
		    r->checked_at);
		if (st->changed)
			nchanged++;
	}
	rc = conduit_registry_save(path, &reg, err);
	if (rc == 0 && nchanged > 0)
		rc = append_changes(state_dir, r, nchanged, err);
	if (rc == 0)
		r->recorded = true;
	conduit_registry_free(&reg);
	conduit_lock_release(&lk);
	return rc;
}
