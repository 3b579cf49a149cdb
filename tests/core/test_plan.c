/*
 * test_plan.c - registry + manifest -> plan -> registry, in memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "conduit/manifest.h"
#include "conduit/plan.h"
#include "conduit/registry.h"

#define NOW "2026-06-01T12:00:00Z"

/* Registered by hand: api (with a health path and alias), web, and an
 * old retired "grafana". */
static const char *const reg_json =
    "{\"version\": 1, \"services\": [\n"
    "{\"name\":\"api\",\"upstreams\":[{\"host\":\"127.0.0.1\",\"port\":8000}],"
    "\"scheme\":\"http\",\"health_path\":\"/health\",\"tls\":true,"
    "\"dns_only\":false,\"aliases\":[\"core\"],\"status\":\"active\","
    "\"health\":\"healthy\",\"registered_at\":\"2026-01-01T00:00:00Z\","
    "\"updated_at\":\"2026-01-01T00:00:00Z\",\"deregistered_at\":null},\n"
    "{\"name\":\"web\",\"upstreams\":[{\"host\":\"127.0.0.1\",\"port\":3000}],"
    "\"status\":\"active\",\"registered_at\":\"2026-01-01T00:00:00Z\","
    "\"updated_at\":\"2026-01-01T00:00:00Z\"},\n"
    "{\"name\":\"grafana\",\"upstreams\":[{\"host\":\"127.0.0.1\",\"port\":3001}],"
    "\"status\":\"inactive\",\"registered_at\":\"2026-01-01T00:00:00Z\","
    "\"updated_at\":\"2026-01-02T00:00:00Z\","
    "\"deregistered_at\":\"2026-01-02T00:00:00Z\"}\n"
    "]}\n";

static void
load_reg(struct conduit_registry *reg, const char *json)
{
	struct conduit_err err;

	assert_int_equal(conduit_registry_from_json(json, strlen(json), "r.json",
	    reg, &err), 0);
}

static void
load_manifest(struct conduit_manifest *m, const char *text)
{
	struct conduit_err err;

	assert_int_equal(conduit_manifest_parse(text, strlen(text), "m.yaml", m,
	    &err), 0);
}

static const struct conduit_plan_item *
item(const struct conduit_plan *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->items[i].name, name) == 0)
			return &p->items[i];
	return NULL;
}

static char *
js(const cJSON *v)
{
	return cJSON_PrintUnformatted(v);
}

static void
assert_diff(const struct conduit_plan_diff *d, const char *field,
    const char *old_json, const char *new_json)
{
	char *o = js(d->old_value), *n = js(d->new_value);

	assert_string_equal(d->field, field);
	assert_string_equal(o, old_json);
	assert_string_equal(n, new_json);
	cJSON_free(o);
	cJSON_free(n);
}

static const char *const same_as_registry =
    "services:\n"
    "  - name: api\n"
    "    upstreams: [127.0.0.1:8000]\n"
    "    aliases: [core]\n"
    "    health: {path: /health}\n"
    "  - name: web\n"
    "    upstreams: [127.0.0.1:3000]\n";

static void
test_unchanged(void **state)
{
	struct conduit_registry reg;
	struct conduit_manifest m;
	struct conduit_plan p;
	struct conduit_err err;

	(void)state;
	load_reg(&reg, reg_json);
	load_manifest(&m, same_as_registry);
	assert_int_equal(conduit_plan_build(&reg, &m, true, &p, &err), 0);
	assert_true(conduit_plan_empty(&p));
	assert_int_equal(p.unchanged, 2);
	assert_int_equal(p.added + p.changed + p.removed, 0);
	conduit_plan_free(&p);
	conduit_manifest_free(&m);
	conduit_registry_free(&reg);
}

static void
test_field_level_diff_and_apply(void **state)
{
	struct conduit_registry reg;
	struct conduit_manifest m;
	struct conduit_plan p;
	struct conduit_err err;
	const struct conduit_plan_item *it;
	const struct conduit_service *s;

	(void)state;
	load_reg(&reg, reg_json);
	load_manifest(&m,
	    "services:\n"
	    "  - name: API\n"
	    "    upstreams: [127.0.0.1:8000, \"[::1]:8001\"]\n"
	    "    aliases: [core]\n"
	    "    health: {path: /healthz, fails: 5}\n"
	    "  - name: web\n"
	    "    upstreams: [127.0.0.1:3000]\n");
	assert_int_equal(conduit_plan_build(&reg, &m, false, &p, &err), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.changed, 1);
	assert_int_equal(p.unchanged, 1);
	it = item(&p, "api");
	assert_non_null(it);
	assert_int_equal(it->op, PLAN_CHANGE);
	assert_int_equal(it->reg_idx, 0);
	assert_int_equal(it->n_diffs, 3);
	assert_diff(&it->diffs[0], "upstreams", "[\"127.0.0.1:8000\"]",
	    "[\"127.0.0.1:8000\",\"[::1]:8001\"]");
	assert_diff(&it->diffs[1], "health.path", "\"/health\"", "\"/healthz\"");
	assert_diff(&it->diffs[2], "health.fails", "null", "5");

	assert_int_equal(conduit_plan_apply(&p, &m, &reg, NOW, &err), 0);
	s = &reg.services[0];
	assert_int_equal(s->n_upstreams, 2);
	assert_string_equal(s->upstreams[1].host, "::1");
	assert_string_equal(s->health_path, "/healthz");
	assert_int_equal(s->health_cfg.fails, 5);
	/* In place: registration time and observed health are kept. */
	assert_string_equal(s->registered_at, "2026-01-01T00:00:00Z");
	assert_string_equal(s->updated_at, NOW);
	assert_string_equal(s->health, "healthy");
	assert_int_equal(reg.n, 3);
	conduit_plan_free(&p);

	/* Planning again against the result finds nothing to do. */
	assert_int_equal(conduit_plan_build(&reg, &m, false, &p, &err), 0);
	assert_true(conduit_plan_empty(&p));
	assert_int_equal(p.unchanged, 2);
	conduit_plan_free(&p);
	conduit_manifest_free(&m);
	conduit_registry_free(&reg);
}

static void
test_add_leaves_hand_registered_alone(void **state)
{
	struct conduit_registry reg;
	struct conduit_manifest m;
	struct conduit_plan p;
	struct conduit_err err;
	const struct conduit_service *s;

	(void)state;
	load_reg(&reg, reg_json);
	/* grafana is only inactive in the registry: a new record. */
	load_manifest(&m,
	    "services:\n"
	    "  - name: grafana\n"
	    "    upstreams: [127.0.0.5:3000]\n"
	    "    tls: false\n");
	assert_int_equal(conduit_plan_build(&reg, &m, false, &p, &err), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.items[0].op, PLAN_ADD);
	assert_int_equal(p.added, 1);
	assert_int_equal(p.removed, 0);
	assert_int_equal(conduit_plan_apply(&p, &m, &reg, NOW, &err), 0);
	assert_int_equal(reg.n, 4);
	s = &reg.services[3];
	assert_string_equal(s->name, "grafana");
	assert_int_equal(s->status, SVC_ACTIVE);
	assert_false(s->tls);
	assert_string_equal(s->registered_at, NOW);
	assert_string_equal(s->updated_at, NOW);
	assert_string_equal(s->deregistered_at, "");
	/* api and web untouched. */
	assert_int_equal(reg.services[0].status, SVC_ACTIVE);
	assert_string_equal(reg.services[1].updated_at, "2026-01-01T00:00:00Z");
	assert_int_equal(reg.services[2].status, SVC_INACTIVE);
	conduit_plan_free(&p);
	conduit_manifest_free(&m);
	conduit_registry_free(&reg);
}

static void
test_prune(void **state)
{
	struct conduit_registry reg;
	struct conduit_manifest m;
	struct conduit_plan p;
	struct conduit_err err;
	const struct conduit_plan_item *it;

	(void)state;
	load_reg(&reg, reg_json);
	load_manifest(&m,
	    "services:\n"
	    "  - name: api\n"
	    "    upstreams: [127.0.0.1:8000]\n"
	    "    aliases: [core]\n"
	    "    health: {path: /health}\n");
	assert_int_equal(conduit_plan_build(&reg, &m, true, &p, &err), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.removed, 1);
	assert_int_equal(p.unchanged, 1);
	it = item(&p, "web");
	assert_non_null(it);
	assert_int_equal(it->op, PLAN_REMOVE);
	assert_int_equal(it->reg_idx, 1);
	assert_int_equal(conduit_plan_apply(&p, &m, &reg, NOW, &err), 0);
	assert_int_equal(reg.services[1].status, SVC_INACTIVE);
	assert_string_equal(reg.services[1].deregistered_at, NOW);
	/* The already retired record is not "removed" again. */
	assert_string_equal(reg.services[2].deregistered_at,
	    "2026-01-02T00:00:00Z");
	conduit_plan_free(&p);
	conduit_manifest_free(&m);
	conduit_registry_free(&reg);
}

static void
test_conflict_with_hand_registered(void **state)
{
	struct conduit_registry reg;
	struct conduit_manifest m;
	struct conduit_plan p;
	struct conduit_err err;

	(void)state;
	load_reg(&reg, reg_json);
	/* "core" is api's alias and "web" a hand-registered name; api is
	 * not in this manifest. */
	load_manifest(&m,
	    "services:\n"
	    "  - name: core\n"
	    "    upstreams: [127.0.0.1:9000]\n"
	    "  - name: hub\n"
	    "    upstreams: [127.0.0.1:9001]\n"
	    "    aliases: [web]\n");
	assert_int_equal(conduit_plan_build(&reg, &m, false, &p, &err),
	    CONDUIT_EINVAL);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.diags.n, 2);
	assert_int_equal(p.diags.v[0].line, 2);
	assert_non_null(strstr(p.diags.v[0].msg, "an alias of the active "
	    "service \"api\""));
	assert_int_equal(p.diags.v[1].line, 4);
	assert_non_null(strstr(p.diags.v[1].msg, "alias \"web\" is already the "
	    "name"));
	conduit_plan_free(&p);

	/* With --prune both would be retired first: no conflict. */
	assert_int_equal(conduit_plan_build(&reg, &m, true, &p, &err), 0);
	assert_int_equal(p.added, 2);
	assert_int_equal(p.removed, 2);
	conduit_plan_free(&p);
	conduit_manifest_free(&m);
	conduit_registry_free(&reg);
}

static void
test_moving_an_alias_between_managed_services(void **state)
{
	struct conduit_registry reg;
	struct conduit_manifest m;
	struct conduit_plan p;
	struct conduit_err err;

	(void)state;
	load_reg(&reg, reg_json);
	/* core moves from api to web; both are in the manifest. */
	load_manifest(&m,
	    "services:\n"
	    "  - name: api\n"
	    "    upstreams: [127.0.0.1:8000]\n"
	    "    health: {path: /health}\n"
	    "  - name: web\n"
	    "    upstreams: [127.0.0.1:3000]\n"
	    "    aliases: [core]\n");
	assert_int_equal(conduit_plan_build(&reg, &m, false, &p, &err), 0);
	assert_int_equal(p.changed, 2);
	assert_diff(&item(&p, "api")->diffs[0], "aliases", "[\"core\"]", "[]");
	assert_diff(&item(&p, "web")->diffs[0], "aliases", "[]", "[\"core\"]");
	conduit_plan_free(&p);
	conduit_manifest_free(&m);
	conduit_registry_free(&reg);
}

static void
test_fields_view(void **state)
{
	struct conduit_manifest m;
	cJSON *f;
	char *s;

	(void)state;
	load_manifest(&m,
	    "services:\n"
	    "  - name: pg\n"
	    "    upstreams: [127.0.0.2:5432]\n"
	    "    dns_only: true\n"
	    "    health: {interval: 1m}\n");
	f = conduit_plan_fields(&m.services[0]);
	s = cJSON_PrintUnformatted(f);
	assert_string_equal(s, "{\"upstreams\":[\"127.0.0.2:5432\"],"
	    "\"scheme\":\"http\",\"tls\":true,\"dns_only\":true,\"aliases\":[],"
	    "\"health.path\":null,\"health.interval_ms\":60000,"
	    "\"health.timeout_ms\":null,\"health.passes\":null,"
	    "\"health.fails\":null}");
	cJSON_free(s);
	cJSON_Delete(f);
	conduit_manifest_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unchanged),
		cmocka_unit_test(test_field_level_diff_and_apply),
		cmocka_unit_test(test_add_leaves_hand_registered_alone),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_conflict_with_hand_registered),
		cmocka_unit_test(test_moving_an_alias_between_managed_services),
		cmocka_unit_test(test_fields_view),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
