/*
 * test_registry.c - services.json parsing, printing and refusal to
 * repair.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conduit/registry.h"

static const char *const two =
    "{\"version\": 1, \"services\": [\n"
    "{\"name\":\"api\",\"upstreams\":[{\"host\":\"127.0.0.1\",\"port\":8000},"
    "{\"host\":\"::1\",\"port\":8001}],\"scheme\":\"http\",\"health_path\":\"/healthz\","
    "\"tls\":true,\"dns_only\":false,\"aliases\":[\"core\"],\"status\":\"active\","
    "\"health\":\"unknown\",\"registered_at\":\"2026-01-01T00:00:00Z\","
    "\"updated_at\":\"2026-01-01T00:00:00Z\",\"deregistered_at\":null},\n"
    "{\"name\":\"pg\",\"upstreams\":[{\"host\":\"db.lab\",\"port\":5432}],"
    "\"dns_only\":true,\"status\":\"inactive\",\"registered_at\":\"2026-01-01T00:00:00Z\","
    "\"updated_at\":\"2026-01-02T00:00:00Z\",\"deregistered_at\":\"2026-01-02T00:00:00Z\"}\n"
    "]}\n";

static void
test_parse_fields(void **state)
{
	struct conduit_registry reg;
	struct conduit_err err;
	const struct conduit_service *s;

	(void)state;
	assert_int_equal(conduit_registry_from_json(two, strlen(two), "t.json", &reg, &err), 0);
	assert_int_equal(reg.n, 2);
	s = &reg.services[0];
	assert_string_equal(s->name, "api");
	assert_int_equal(s->n_upstreams, 2);
	assert_string_equal(s->upstreams[1].host, "::1");
	assert_int_equal(s->upstreams[1].port, 8001);
	assert_string_equal(s->health_path, "/healthz");
	assert_true(s->tls);
	assert_int_equal(s->n_aliases, 1);
	assert_string_equal(s->aliases[0], "core");
	assert_int_equal(reg.services[1].status, SVC_INACTIVE);
	assert_true(reg.services[1].dns_only);
	/* Defaults for absent fields. */
	assert_string_equal(reg.services[1].scheme, "http");
	assert_true(reg.services[1].tls);
	assert_non_null(conduit_registry_find_active(&reg, "API", false));
	assert_non_null(conduit_registry_find_active(&reg, "core", true));
	assert_null(conduit_registry_find_active(&reg, "core", false));
	assert_null(conduit_registry_find_active(&reg, "pg", true));
	assert_int_equal(conduit_registry_count_active(&reg), 1);
	conduit_registry_free(&reg);
}

static void
test_roundtrip(void **state)
{
	struct conduit_registry a, b;
	struct conduit_err err;
	char *t1, *t2;

	(void)state;
	assert_int_equal(conduit_registry_from_json(two, strlen(two), "t", &a, &err), 0);
	t1 = conduit_registry_to_json(&a);
	assert_non_null(t1);
	assert_int_equal(conduit_registry_from_json(t1, strlen(t1), "t", &b, &err), 0);
	t2 = conduit_registry_to_json(&b);
	assert_string_equal(t1, t2);
	/* One service per line: header, 2 records, footer. */
	{
		int lines = 0;
		for (char *p = t1; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 4);
	}
	free(t1);
	free(t2);
	conduit_registry_free(&a);
	conduit_registry_free(&b);
}

static void
expect_corrupt(const char *text, const char *needle)
{
	struct conduit_registry reg;
	struct conduit_err err;

	assert_int_equal(conduit_registry_from_json(text, strlen(text), "svc.json",
	    &reg, &err), CONDUIT_ECORRUPT);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
	assert_non_null(strstr(err.msg, "svc.json"));
}

static void
test_corrupt_is_refused(void **state)
{
	(void)state;
	expect_corrupt("{\"version\": 1, \"services\": [\n{\"name\":\"a\",}\n]}",
	    "line 2, column");
	expect_corrupt("", "line 1, column 1");
	expect_corrupt("[]", "top level");
	expect_corrupt("{\"version\": 2, \"services\": []}", "version");
	expect_corrupt("{\"version\": 1, \"services\": {}}", "\"services\" must be an array");
	expect_corrupt("{\"version\":1,\"services\":[{\"name\":\"a b\",\"upstreams\":"
	    "[{\"host\":\"1.1.1.1\",\"port\":1}],\"status\":\"active\"}]}", "service #1");
	expect_corrupt("{\"version\":1,\"services\":[{\"name\":\"a\",\"upstreams\":"
	    "[{\"host\":\"1.1.1.1\",\"port\":70000}],\"status\":\"active\"}]}", "port");
	expect_corrupt("{\"version\":1,\"services\":[{\"name\":\"a\",\"upstreams\":[],"
	    "\"status\":\"active\"}]}", "non-empty");
	expect_corrupt("{\"version\":1,\"services\":[{\"name\":\"a\",\"upstreams\":"
	    "[{\"host\":\"1.1.1.1\",\"port\":1}],\"status\":\"gone\"}]}", "status");
	/* Two active records of one name cannot both be live. */
	expect_corrupt("{\"version\":1,\"services\":["
	    "{\"name\":\"a\",\"upstreams\":[{\"host\":\"1.1.1.1\",\"port\":1}],\"status\":\"active\"},"
	    "{\"name\":\"a\",\"upstreams\":[{\"host\":\"1.1.1.1\",\"port\":2}],\"status\":\"active\"}]}",
	    "active twice");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_corrupt_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
