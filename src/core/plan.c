/*
 * plan.c - registry + manifest -> plan (see plan.h).
 *
 * Every compared field is turned into a small cJSON value by one getter
 * in a table, and two records differ in a field exactly when those
 * values differ (cJSON_Compare).  The same values are what the plan
 * shows, old and new, so what is compared and what is printed cannot
 * drift apart.
 *
 * Lookups go through a sorted index of the active records' names and
 * aliases (qsort + bsearch), so planning 1,000 services against a
 * registry of 1,000 is a few thousand comparisons, not a million: the
 * unchanged re-apply has to stay well under 50 ms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "conduit/plan.h"

/* ---- field values ----------------------------------------------------- */

static cJSON *
str_or_null(const char *s)
{
	return s[0] ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *
long_or_null(long v)
{
	return v > 0 ? cJSON_CreateNumber((double)v) : cJSON_CreateNull();
}

static cJSON *
f_upstreams(const struct conduit_service *s)
{
	cJSON *a = cJSON_CreateArray();
	char hp[CONDUIT_HOST_MAX + 16];
	size_t i;

	for (i = 0; a != NULL && i < s->n_upstreams; i++) {
		bool v6 = strchr(s->upstreams[i].host, ':') != NULL;
		snprintf(hp, sizeof(hp), "%s%s%s:%ld", v6 ? "[" : "",
		    s->upstreams[i].host, v6 ? "]" : "", s->upstreams[i].port);
		cJSON_AddItemToArray(a, cJSON_CreateString(hp));
	}
	return a;
}

static cJSON *
f_scheme(const struct conduit_service *s)
{
	return cJSON_CreateString(s->scheme[0] ? s->scheme : "http");
}

static cJSON *
f_tls(const struct conduit_service *s)
{
	return cJSON_CreateBool(s->tls);
}

static cJSON *
f_dns_only(const struct conduit_service *s)
{
	return cJSON_CreateBool(s->dns_only);
}

static cJSON *
f_aliases(const struct conduit_service *s)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; a != NULL && i < s->n_aliases; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(s->aliases[i]));
	return a;
}

/* The path Caddy and the prober use (conduit_caddy_health_for):
 * health_path, else a hand-edited health_check.path. */
static cJSON *
f_health_path(const struct conduit_service *s)
{
	return str_or_null(s->health_path[0] ? s->health_path :
	    s->health_cfg.path);
}

static cJSON *
f_interval(const struct conduit_service *s)
{
	return long_or_null(s->health_cfg.interval_ms);
}

static cJSON *
f_timeout(const struct conduit_service *s)
{
	return long_or_null(s->health_cfg.timeout_ms);
}

static cJSON *
f_passes(const struct conduit_service *s)
{
	return long_or_null(s->health_cfg.passes);
}

static cJSON *
f_fails(const struct conduit_service *s)
{
	return long_or_null(s->health_cfg.fails);
}

static const struct field {
	const char *name;
	cJSON *(*get)(const struct conduit_service *s);
} fields[] = {
	{ "upstreams", f_upstreams },
	{ "scheme", f_scheme },
	{ "tls", f_tls },
	{ "dns_only", f_dns_only },
	{ "aliases", f_aliases },
	{ "health.path", f_health_path },
	{ "health.interval_ms", f_interval },
	{ "health.timeout_ms", f_timeout },
	{ "health.passes", f_passes },
	{ "health.fails", f_fails },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

cJSON *
conduit_plan_fields(const struct conduit_service *s)
{
	cJSON *o = cJSON_CreateObject();
	size_t i;

	for (i = 0; o != NULL && i < NFIELDS; i++)
		cJSON_AddItemToObject(o, fields[i].name, fields[i].get(s));
	return o;
}

/* ---- the plan --------------------------------------------------------- */

void
conduit_plan_init(struct conduit_plan *p)
{
	memset(p, 0, sizeof(*p));
}

static void
free_items(struct conduit_plan *p)
{
	size_t i, j;

	for (i = 0; i < p->n; i++) {
		for (j = 0; j < p->items[i].n_diffs; j++) {
			cJSON_Delete(p->items[i].diffs[j].old_value);
			cJSON_Delete(p->items[i].diffs[j].new_value);
		}
		free(p->items[i].diffs);
	}
	free(p->items);
	p->items = NULL;
	p->n = 0;
	p->added = p->changed = p->removed = p->unchanged = 0;
}

void
conduit_plan_free(struct conduit_plan *p)
{
	free_items(p);
	conduit_diags_free(&p->diags);
}

/* The field-level differences of old and new; *n = 0 when none. */
static int
diff(const struct conduit_service *old, const struct conduit_service *new,
    struct conduit_plan_diff **out, size_t *n)
{
	struct conduit_plan_diff d[NFIELDS];
	size_t i, k = 0;

	*out = NULL;
	*n = 0;
	for (i = 0; i < NFIELDS; i++) {
		cJSON *a = fields[i].get(old), *b = fields[i].get(new);

		if (a == NULL || b == NULL) {
			cJSON_Delete(a);
			cJSON_Delete(b);
			goto oom;
		}
		if (cJSON_Compare(a, b, true)) {
			cJSON_Delete(a);
			cJSON_Delete(b);
			continue;
		}
		d[k++] = (struct conduit_plan_diff){ fields[i].name, a, b };
	}
	if (k == 0)
		return 0;
	*out = malloc(k * sizeof(**out));
	if (*out == NULL)
		goto oom;
	memcpy(*out, d, k * sizeof(*d));
	*n = k;
	return 0;
oom:
	while (k-- > 0) {
		cJSON_Delete(d[k].old_value);
		cJSON_Delete(d[k].new_value);
	}
	return CONDUIT_ENOMEM;
}

/* An active record's name or alias, sorted for bsearch. */
struct entry {
	const char *label;
	size_t idx;
	bool alias;
};

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcasecmp(x->label, y->label);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int
build_index(const struct conduit_registry *reg, struct entry **out, size_t *n)
{
	size_t i, j, cnt = 0;
	struct entry *e;

	for (i = 0; i < reg->n; i++)
		if (reg->services[i].status == SVC_ACTIVE)
			cnt += 1 + reg->services[i].n_aliases;
	e = malloc((cnt ? cnt : 1) * sizeof(*e));
	if (e == NULL)
		return CONDUIT_ENOMEM;
	cnt = 0;
	for (i = 0; i < reg->n; i++) {
		const struct conduit_service *s = &reg->services[i];
		if (s->status != SVC_ACTIVE)
			continue;
		e[cnt++] = (struct entry){ s->name, i, false };
		for (j = 0; j < s->n_aliases; j++)
			e[cnt++] = (struct entry){ s->aliases[j], i, true };
	}
	qsort(e, cnt, sizeof(*e), entry_cmp);
	*out = e;
	*n = cnt;
	return 0;
}

static int
label_only_cmp(const void *key, const void *elt)
{
	return strcasecmp(key, ((const struct entry *)elt)->label);
}

/* The first index entry for label, or NULL.  Case-insensitive, as
 * registry_find_active is: a hand-edited services.json may hold "API". */
static const struct entry *
lookup(const struct entry *ix, size_t n, const char *label)
{
	const struct entry *e = bsearch(label, ix, n, sizeof(*ix),
	    label_only_cmp);

	while (e != NULL && e > ix && strcasecmp(e[-1].label, label) == 0)
		e--;
	return e;
}

static int
push(struct conduit_plan *p, size_t *cap, struct conduit_plan_item *it)
{
	if (p->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct conduit_plan_item *v = realloc(p->items, nc * sizeof(*v));
		if (v == NULL)
			return CONDUIT_ENOMEM;
		p->items = v;
		*cap = nc;
	}
	p->items[p->n++] = *it;
	return 0;
}

/* One of m's labels against the records that stay outside the manifest
 * (fate: 0 = outside and kept, 1 = in the manifest, 2 = removed). */
static int
check_label(struct conduit_plan *p, const struct conduit_manifest *m,
    size_t i, const char *label, bool alias,
    const struct conduit_registry *cur, const struct entry *ix, size_t n,
    const unsigned char *fate)
{
	const struct entry *e = lookup(ix, n, label);

	for (; e != NULL && e < ix + n && strcasecmp(e->label, label) == 0; e++) {
		if (fate[e->idx] != 0)
			continue;
		if (conduit_diags_add(&p->diags, m->line[i], m->column[i],
		    "%s \"%s\" is already %s of the active service \"%s\", "
		    "which is not in this manifest; add that service to the "
		    "manifest, deregister it, or use --prune",
		    alias ? "alias" : "name", label,
		    e->alias ? "an alias" : "the name",
		    cur->services[e->idx].name) != 0)
			return CONDUIT_ENOMEM;
	}
	return 0;
}

int
conduit_plan_build(const struct conduit_registry *cur,
    const struct conduit_manifest *m, bool prune, struct conduit_plan *p,
    struct conduit_err *err)
{
	struct conduit_plan_item it;
	struct entry *ix = NULL;
	unsigned char *fate = NULL;
	size_t nix = 0, cap = 0, i, j;
	int rc;

	conduit_plan_init(p);
	if ((rc = build_index(cur, &ix, &nix)) != 0)
		goto oom;
	fate = calloc(cur->n ? cur->n : 1, 1);
	if (fate == NULL)
		goto oom;

	/* Adds and changes, in manifest order. */
	for (i = 0; i < m->n; i++) {
		const struct conduit_service *want = &m->services[i];
		const struct entry *e = lookup(ix, nix, want->name);

		while (e != NULL && e < ix + nix &&
		    strcasecmp(e->label, want->name) == 0 && e->alias)
			e++;
		memset(&it, 0, sizeof(it));
		snprintf(it.name, sizeof(it.name), "%s", want->name);
		it.man_idx = i;
		if (e == NULL || e >= ix + nix ||
		    strcasecmp(e->label, want->name) != 0) {
			it.op = PLAN_ADD;
			if (push(p, &cap, &it) != 0)
				goto oom;
			p->added++;
			continue;
		}
		fate[e->idx] = 1;
		it.op = PLAN_CHANGE;
		it.reg_idx = e->idx;
		if (diff(&cur->services[e->idx], want, &it.diffs,
		    &it.n_diffs) != 0)
			goto oom;
		if (it.n_diffs == 0) {
			p->unchanged++;
			continue;
		}
		if (push(p, &cap, &it) != 0) {
			for (j = 0; j < it.n_diffs; j++) {
				cJSON_Delete(it.diffs[j].old_value);
				cJSON_Delete(it.diffs[j].new_value);
			}
			free(it.diffs);
			goto oom;
		}
		p->changed++;
	}

	/* Removals: active, not in the manifest, and only with prune. */
	for (i = 0; prune && i < cur->n; i++) {
		if (cur->services[i].status != SVC_ACTIVE || fate[i] != 0)
			continue;
		fate[i] = 2;
		memset(&it, 0, sizeof(it));
		it.op = PLAN_REMOVE;
		it.reg_idx = i;
		snprintf(it.name, sizeof(it.name), "%s", cur->services[i].name);
		if (push(p, &cap, &it) != 0)
			goto oom;
		p->removed++;
	}

	/* Names and aliases must not collide with what stays outside. */
	for (i = 0; i < m->n; i++) {
		const struct conduit_service *want = &m->services[i];
		if (check_label(p, m, i, want->name, false, cur, ix, nix,
		    fate) != 0)
			goto oom;
		for (j = 0; j < want->n_aliases; j++)
			if (check_label(p, m, i, want->aliases[j], true, cur, ix,
			    nix, fate) != 0)
				goto oom;
	}
	free(ix);
	free(fate);
	if (p->diags.n > 0) {
		free_items(p);
		return conduit_err_set(err, CONDUIT_EINVAL, "%s: %zu conflict%s "
		    "with registered services; nothing was changed", m->file,
		    p->diags.n, p->diags.n == 1 ? "" : "s");
	}
	return 0;
oom:
	free(ix);
	free(fate);
	conduit_plan_free(p);
	return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
}

/* Makes dst's desired fields those of src (arrays copied). */
static int
set_desired(struct conduit_service *dst, const struct conduit_service *src)
{
	struct conduit_upstream *u = NULL;
	char (*a)[CONDUIT_NAME_MAX] = NULL;

	if (src->n_upstreams) {
		u = malloc(src->n_upstreams * sizeof(*u));
		if (u == NULL)
			return CONDUIT_ENOMEM;
		memcpy(u, src->upstreams, src->n_upstreams * sizeof(*u));
	}
	if (src->n_aliases) {
		a = malloc(src->n_aliases * sizeof(*a));
		if (a == NULL) {
			free(u);
			return CONDUIT_ENOMEM;
		}
		memcpy(a, src->aliases, src->n_aliases * sizeof(*a));
	}
	free(dst->upstreams);
	free(dst->aliases);
	dst->upstreams = u;
	dst->n_upstreams = src->n_upstreams;
	dst->aliases = a;
	dst->n_aliases = src->n_aliases;
	memcpy(dst->scheme, src->scheme, sizeof(dst->scheme));
	dst->tls = src->tls;
	dst->dns_only = src->dns_only;
	memcpy(dst->health_path, src->health_path, sizeof(dst->health_path));
	dst->health_cfg = src->health_cfg;
	return 0;
}

int
conduit_plan_apply(const struct conduit_plan *p,
    const struct conduit_manifest *m, struct conduit_registry *reg,
    const char *now, struct conduit_err *err)
{
	struct conduit_service add;
	size_t i;
	int rc;

	for (i = 0; i < p->n; i++) {
		const struct conduit_plan_item *it = &p->items[i];
		struct conduit_service *s;

		if (it->op != PLAN_ADD && it->reg_idx >= reg->n)
			return conduit_err_set(err, CONDUIT_EINTERNAL,
			    "plan does not match the registry");
		switch (it->op) {
		case PLAN_ADD:
			memset(&add, 0, sizeof(add));
			if (set_desired(&add, &m->services[it->man_idx]) != 0)
				return conduit_err_set(err, CONDUIT_ENOMEM,
				    "out of memory");
			memcpy(add.name, m->services[it->man_idx].name,
			    sizeof(add.name));
			add.status = SVC_ACTIVE;
			snprintf(add.health, sizeof(add.health), "unknown");
			snprintf(add.registered_at, sizeof(add.registered_at),
			    "%s", now);
			snprintf(add.updated_at, sizeof(add.updated_at), "%s", now);
			if ((rc = conduit_registry_add(reg, &add, err)) != 0) {
				conduit_service_free(&add);
				return rc;
			}
			break;
		case PLAN_CHANGE:
			s = &reg->services[it->reg_idx];
			if (set_desired(s, &m->services[it->man_idx]) != 0)
				return conduit_err_set(err, CONDUIT_ENOMEM,
				    "out of memory");
			snprintf(s->updated_at, sizeof(s->updated_at), "%s", now);
			break;
		case PLAN_REMOVE:
			s = &reg->services[it->reg_idx];
			s->status = SVC_INACTIVE;
			snprintf(s->deregistered_at, sizeof(s->deregistered_at),
			    "%s", now);
			snprintf(s->updated_at, sizeof(s->updated_at), "%s", now);
			break;
		}
	}
	return 0;
}
