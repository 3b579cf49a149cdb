/*
 * audit.c - the JSONL audit log (see audit.h).
 *
 * A record is built as a cJSON object with the six fields in a fixed
 * order and printed compact; details are deep-copied from the caller's
 * object, never spliced in as text.  Appends hold <state>/audit.lock for
 * the whole write (and, with the capsule chain, the seal), so records
 * from concurrent conduit processes never interleave and both stores
 * see the same order.
 */
#include <pwd.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "conduit/audit.h"
#include "conduit/capsule.h"
#include "conduit/fsutil.h"
#include "conduit/state.h"

const char *
conduit_audit_user(void)
{
	static char name[64];
	const char *s = getenv("SUDO_USER");
	struct passwd *pw;

	if (name[0])
		return name;
	if (s != NULL && s[0] != '\0' && strlen(s) < sizeof(name) &&
	    strpbrk(s, "\n\r\t\"\\") == NULL)
		snprintf(name, sizeof(name), "%s", s);
	else if ((pw = getpwuid(getuid())) != NULL && pw->pw_name != NULL)
		snprintf(name, sizeof(name), "%s", pw->pw_name);
	else
		snprintf(name, sizeof(name), "uid:%ld", (long)getuid());
	return name;
}

static cJSON *
build_record(const char *action, bool success, const char *message,
    const cJSON *details)
{
	char ts[32];
	cJSON *o = cJSON_CreateObject(), *d;

	if (o == NULL)
		return NULL;
	conduit_timestamp(ts, 0);
	cJSON_AddStringToObject(o, "timestamp", ts);
	cJSON_AddStringToObject(o, "action", action);
	cJSON_AddStringToObject(o, "status", success ? "success" : "failure");
	cJSON_AddStringToObject(o, "message", message ? message : "");
	cJSON_AddStringToObject(o, "user", conduit_audit_user());
	d = details ? cJSON_Duplicate(details, 1) : cJSON_CreateObject();
	if (d == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddItemToObject(o, "details", d);
	return o;
}

/* Writes one record; the caller holds the audit lock. */
static int
append_locked(const char *state_dir, const char *path,
    const struct conduit_audit_rec *r, struct conduit_err *err)
{
	cJSON *rec;
	char *line;
	int rc;

	rec = build_record(r->action, r->success, r->message, r->details);
	if (rec == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	line = cJSON_PrintUnformatted(rec);
	if (line == NULL) {
		cJSON_Delete(rec);
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	}
	rc = conduit_append_line(path, line, 0600, err);
	if (rc == 0)
		rc = conduit_capsule_seal_record(state_dir, line, err);
	cJSON_free(line);
	cJSON_Delete(rec);
	return rc;
}

int
conduit_audit_append_many(const char *state_dir,
    const struct conduit_audit_rec *recs, size_t n, struct conduit_err *err)
{
	struct conduit_lock lk;
	char path[4096];
	size_t i;
	int rc;

	if ((rc = conduit_state_path(path, sizeof(path), state_dir,
	    CONDUIT_F_AUDIT, err)) != 0)
		return rc;
	if ((rc = conduit_lock_acquire(state_dir, "audit", &lk, err)) != 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++)
		rc = append_locked(state_dir, path, &recs[i], err);
	conduit_lock_release(&lk);
	return rc;
}

int
conduit_audit_append(const char *state_dir, const char *action, bool success,
    const char *message, const cJSON *details, struct conduit_err *err)
{
	struct conduit_audit_rec r = {
		.action = action,
		.success = success,
		.message = message,
		.details = (cJSON *)details,
	};

	return conduit_audit_append_many(state_dir, &r, 1, err);
}

/* ---- validation (conformance rules) -------------------------------- */

int
conduit_audit_validate(const cJSON *rec, struct conduit_err *err)
{
	static const char *const fields[] = { "timestamp", "action", "status",
		"message", "user", "details" };
	const cJSON *v, *e;
	regex_t re;
	size_t i;
	int n = 0, m;

	if (!cJSON_IsObject(rec))
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "record is not a JSON object");
	cJSON_ArrayForEach(e, rec) {
		bool known = false;
		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (strcmp(e->string, fields[i]) == 0)
				known = true;
		if (!known)
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "unexpected field \"%s\"", e->string);
		n++;
	}
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (cJSON_GetObjectItemCaseSensitive(rec, fields[i]) == NULL)
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "field \"%s\" is missing", fields[i]);
	if (n != 6)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "record has a duplicate field");

	v = cJSON_GetObjectItemCaseSensitive(rec, "timestamp");
	if (!cJSON_IsString(v))
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "field \"timestamp\" is not a string");
	if (regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
	    REG_EXTENDED | REG_NOSUB) != 0)
		return conduit_err_set(err, CONDUIT_EINTERNAL, "regcomp failed");
	m = regexec(&re, v->valuestring, 0, NULL, 0);
	regfree(&re);
	if (m != 0)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "field \"timestamp\" is not YYYY-MM-DDTHH:MM:SSZ");
	v = cJSON_GetObjectItemCaseSensitive(rec, "action");
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "field \"action\" must be a non-empty string");
	v = cJSON_GetObjectItemCaseSensitive(rec, "status");
	if (!cJSON_IsString(v) || (strcmp(v->valuestring, "success") != 0 &&
	    strcmp(v->valuestring, "failure") != 0))
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "field \"status\" must be \"success\" or \"failure\"");
	v = cJSON_GetObjectItemCaseSensitive(rec, "message");
	if (!cJSON_IsString(v))
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "field \"message\" must be a string");
	v = cJSON_GetObjectItemCaseSensitive(rec, "user");
	if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "field \"user\" must be a non-empty string");
	v = cJSON_GetObjectItemCaseSensitive(rec, "details");
	if (!cJSON_IsObject(v))
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "field \"details\" must be an object");
	return 0;
}

int
conduit_audit_validate_line(const char *line, struct conduit_err *err)
{
	size_t len = strlen(line);
	cJSON *rec;
	int rc;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (memchr(line, '\n', len) != NULL)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "record spans more than one line");
	rec = cJSON_ParseWithLength(line, len);
	if (rec == NULL)
		return conduit_err_set(err, CONDUIT_EINVAL, "record is not JSON");
	rc = conduit_audit_validate(rec, err);
	cJSON_Delete(rec);
	return rc;
}
