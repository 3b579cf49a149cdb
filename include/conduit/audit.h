/*
 * audit.h - the JSONL audit log (<state-dir>/audit.log).
 *
 * One compact JSON object per line with exactly six fields: timestamp
 * (UTC, YYYY-MM-DDTHH:MM:SSZ), action, status (success|failure),
 * message, user, details (an object).  Action names and detail shapes
 * follow ../shared/conformance/conduit-audit/.  Appends take the audit
 * lock (<state-dir>/audit.lock), write with O_APPEND, fsync, 0600.
 *
 * conduit_audit_append() is also where every record is sealed into the
 * capsule chain (issue: audit chain), under the same lock, so the two
 * stores always hold the same records in the same order.
 */
#ifndef CONDUIT_AUDIT_H
#define CONDUIT_AUDIT_H

#include <stdbool.h>

#include "conduit/err.h"

struct cJSON;

struct conduit_audit_rec {
	const char *action;
	bool success;
	const char *message;
	struct cJSON *details;	/* object; NULL = {} ; not consumed */
};

/* Appends one record.  The user is $SUDO_USER, else the login name of
 * the real uid. */
int conduit_audit_append(const char *state_dir, const char *action,
    bool success, const char *message, const struct cJSON *details,
    struct conduit_err *err);

/* Appends several records under one lock acquisition (apply). */
int conduit_audit_append_many(const char *state_dir,
    const struct conduit_audit_rec *recs, size_t n, struct conduit_err *err);

/* Validates one parsed record against the conformance rules; returns 0
 * or CONDUIT_EINVAL naming the offending field. */
int conduit_audit_validate(const struct cJSON *rec, struct conduit_err *err);

/* Validates one line of text (must be one compact JSON object). */
int conduit_audit_validate_line(const char *line, struct conduit_err *err);

/* The user name recorded in audit records. */
const char *conduit_audit_user(void);

#endif
