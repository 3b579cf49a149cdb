/*
 * plan.h - what `conduit apply` would change: registry + manifest ->
 * plan, and plan -> edited registry.
 *
 * Pure functions, no I/O: the planner compares the manifest with the
 * active records of a registry and lists services to add, to change
 * (field by field, old and new value) and, only when prune is asked
 * for, to remove; everything else is counted as unchanged.  A service
 * is matched by its name; records registered by hand and absent from
 * the manifest are left alone unless prune.  The planner also refuses
 * (as diagnostics at the manifest position) a name or alias that would
 * collide with such a record left in place.
 *
 * Field names and value shapes are the JSON plan's (docs/apply.md):
 *   upstreams ["HOST:PORT"...], scheme, tls, dns_only, aliases [...],
 *   health.path, health.interval_ms, health.timeout_ms, health.passes,
 *   health.fails (null = the health.* setting applies).
 */
#ifndef CONDUIT_PLAN_H
#define CONDUIT_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "conduit/err.h"
#include "conduit/manifest.h"
#include "conduit/registry.h"

struct cJSON;

enum conduit_plan_op { PLAN_ADD, PLAN_CHANGE, PLAN_REMOVE };

struct conduit_plan_diff {
	const char *field;		/* static: "upstreams", "health.path" */
	struct cJSON *old_value;	/* owned */
	struct cJSON *new_value;	/* owned */
};

struct conduit_plan_item {
	enum conduit_plan_op op;
	char name[CONDUIT_NAME_MAX];
	size_t reg_idx;		/* CHANGE, REMOVE: index in the registry */
	size_t man_idx;		/* ADD, CHANGE: index in the manifest */
	struct conduit_plan_diff *diffs;	/* CHANGE only */
	size_t n_diffs;
};

struct conduit_plan {
	/* Adds and changes in manifest order, then removals in registry
	 * order. */
	struct conduit_plan_item *items;
	size_t n;
	size_t added, changed, removed, unchanged;
	/* Conflicts with records outside the manifest (positions are the
	 * manifest's). */
	struct conduit_diags diags;
};

void conduit_plan_init(struct conduit_plan *p);
void conduit_plan_free(struct conduit_plan *p);

/*
 * Compares m with the active records of cur.  0 with the plan;
 * CONDUIT_EINVAL when p->diags holds conflicts (no items then);
 * CONDUIT_ENOMEM.
 */
int conduit_plan_build(const struct conduit_registry *cur,
    const struct conduit_manifest *m, bool prune, struct conduit_plan *p,
    struct conduit_err *err);

static inline bool
conduit_plan_empty(const struct conduit_plan *p)
{
	return p->n == 0;
}

/*
 * Carries the plan out on reg, which must hold the same records as the
 * registry the plan was built from (the transaction's `next`).  Adds get
 * registered_at = updated_at = now; changes are made in place (keeping
 * registered_at and the observed health) with updated_at = now; removals
 * are marked inactive with deregistered_at = now, as deregister does.
 */
int conduit_plan_apply(const struct conduit_plan *p,
    const struct conduit_manifest *m, struct conduit_registry *reg,
    const char *now, struct conduit_err *err);

/* The plan's fields of s as one object {field: value} (an add's view). */
struct cJSON *conduit_plan_fields(const struct conduit_service *s);

#endif
