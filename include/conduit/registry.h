/*
 * registry.h - services.json: the set of services conduit manages.
 *
 * The registry is a plain in-memory array loaded from and saved to
 * <state-dir>/services.json (schema: docs/registry.md).  Records are
 * never deleted: deregistering marks a record inactive and stamps
 * deregistered_at, so history is kept and the name can be registered
 * again (a new record).  At most one record per name is active.
 *
 * Loading never repairs: a file that does not parse is CONDUIT_ECORRUPT
 * with "FILE: line L, column C: ..." and is left as it is.  Saving is
 * atomic (temp file in the same directory, fsync, rename, fsync of the
 * directory) with mode 0600; callers hold the registry lock
 * (conduit_lock_acquire) across load-modify-save.
 */
#ifndef CONDUIT_REGISTRY_H
#define CONDUIT_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "conduit/err.h"

#define CONDUIT_REGISTRY_VERSION 1
#define CONDUIT_NAME_MAX 64
#define CONDUIT_HOST_MAX 254
#define CONDUIT_PATH_MAX 256
#define CONDUIT_TS_MAX 32

struct cJSON;

struct conduit_upstream {
	char host[CONDUIT_HOST_MAX];	/* no brackets for IPv6 */
	long port;
};

enum conduit_svc_status { SVC_ACTIVE, SVC_INACTIVE };

/* Per-service health-check overrides; 0 / "" means "use the setting". */
struct conduit_health_override {
	char path[CONDUIT_PATH_MAX];
	long interval_ms;
	long timeout_ms;
	long passes;
	long fails;
};

struct conduit_service {
	char name[CONDUIT_NAME_MAX];
	struct conduit_upstream *upstreams;
	size_t n_upstreams;
	char scheme[8];			/* "http" | "https" (to the upstream) */
	char health_path[CONDUIT_PATH_MAX];	/* "" = settings' health.path */
	bool tls;			/* served over HTTPS by the gateway */
	bool dns_only;			/* DNS record only, no route */
	char (*aliases)[CONDUIT_NAME_MAX];
	size_t n_aliases;
	enum conduit_svc_status status;
	struct conduit_health_override health_cfg;

	/* Health as last observed by `conduit status` (issue: health). */
	char health[16];		/* unknown|healthy|degraded|down */
	long health_streak;		/* consecutive results for health_pending */
	char health_pending[16];	/* candidate state being damped, or "" */
	char health_checked_at[CONDUIT_TS_MAX];	/* "" = never */

	char registered_at[CONDUIT_TS_MAX];	/* YYYY-MM-DDTHH:MM:SSZ */
	char updated_at[CONDUIT_TS_MAX];
	char deregistered_at[CONDUIT_TS_MAX];	/* "" while active */
};

struct conduit_registry {
	int version;
	struct conduit_service *services;
	size_t n;
	size_t cap;
};

void conduit_registry_init(struct conduit_registry *reg);
void conduit_registry_free(struct conduit_registry *reg);
void conduit_service_free(struct conduit_service *svc);
int conduit_service_copy(struct conduit_service *dst,
    const struct conduit_service *src, struct conduit_err *err);
int conduit_registry_copy(struct conduit_registry *dst,
    const struct conduit_registry *src, struct conduit_err *err);

/* A missing file loads as an empty registry; anything unreadable or
 * unparsable is an error naming the file and the position. */
int conduit_registry_load(const char *path, struct conduit_registry *reg,
    struct conduit_err *err);
int conduit_registry_save(const char *path,
    const struct conduit_registry *reg, struct conduit_err *err);

/* Parse/print the document (pure; used by load/save and by tests). */
int conduit_registry_from_json(const char *text, size_t len,
    const char *fname, struct conduit_registry *reg,
    struct conduit_err *err);
char *conduit_registry_to_json(const struct conduit_registry *reg);

/* One record as the documented JSON object (list --json uses it too). */
struct cJSON *conduit_service_to_json(const struct conduit_service *svc);

/* The active record for name (or one of its aliases when
 * include_aliases), NULL when none. */
struct conduit_service *conduit_registry_find_active(
    const struct conduit_registry *reg, const char *name,
    bool include_aliases);

/* Appends a copy of svc (takes ownership of its arrays: svc is zeroed). */
int conduit_registry_add(struct conduit_registry *reg,
    struct conduit_service *svc, struct conduit_err *err);

size_t conduit_registry_count_active(const struct conduit_registry *reg);

#endif
