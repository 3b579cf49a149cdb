/*
 * test_manifest.c - the apply manifest: what a valid file becomes, and
 * that every broken rule is reported with its line and column.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conduit/manifest.h"

static int
parse(const char *text, struct conduit_manifest *m)
{
	struct conduit_err err;

	return conduit_manifest_parse(text, strlen(text), "m.yaml", m, &err);
}

/* Whether a diagnostic at line:col contains needle. */
static bool
has_diag(const struct conduit_manifest *m, size_t line, size_t col,
    const char *needle)
{
	size_t i;

	for (i = 0; i < m->diags.n; i++)
		if (m->diags.v[i].line == line && m->diags.v[i].column == col &&
		    strstr(m->diags.v[i].msg, needle) != NULL)
			return true;
	return false;
}

static void
test_full_service(void **state)
{
	struct conduit_manifest m;
	const struct conduit_service *s;

	(void)state;
	assert_int_equal(parse(
	    "# the stack\n"
	    "services:\n"
	    "  - name: Core-API\n"
	    "    upstreams:\n"
	    "      - 127.0.0.1:8000\n"
	    "      - \"[::1]:8001\"\n"
	    "    scheme: https\n"
	    "    tls: false\n"
	    "    aliases: [Core, api]\n"
	    "    health:\n"
	    "      path: /healthz\n"
	    "      interval: 5s\n"
	    "      timeout: 1500ms\n"
	    "      passes: 3\n"
	    "      fails: 4\n"
	    "  - name: pg\n"
	    "    upstreams: [127.0.0.2:5432]\n"
	    "    dns_only: yes\n", &m), 0);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.diags.n, 0);
	s = &m.services[0];
	assert_string_equal(s->name, "core-api");
	assert_int_equal(s->n_upstreams, 2);
	assert_string_equal(s->upstreams[0].host, "127.0.0.1");
	assert_int_equal(s->upstreams[0].port, 8000);
	assert_string_equal(s->upstreams[1].host, "::1");
	assert_int_equal(s->upstreams[1].port, 8001);
	assert_string_equal(s->scheme, "https");
	assert_false(s->tls);
	assert_false(s->dns_only);
	assert_int_equal(s->n_aliases, 2);
	assert_string_equal(s->aliases[0], "core");
	assert_string_equal(s->aliases[1], "api");
	assert_string_equal(s->health_path, "/healthz");
	assert_int_equal(s->health_cfg.interval_ms, 5000);
	assert_int_equal(s->health_cfg.timeout_ms, 1500);
	assert_int_equal(s->health_cfg.passes, 3);
	assert_int_equal(s->health_cfg.fails, 4);
	assert_int_equal(m.line[0], 3);
	assert_int_equal(m.column[0], 11);
	/* Defaults for what the second service leaves out. */
	s = &m.services[1];
	assert_string_equal(s->scheme, "http");
	assert_true(s->tls);
	assert_true(s->dns_only);
	assert_int_equal(s->n_aliases, 0);
	assert_string_equal(s->health_path, "");
	assert_int_equal(s->health_cfg.interval_ms, 0);
	assert_int_equal(s->status, SVC_ACTIVE);
	conduit_manifest_free(&m);
}

static void
test_empty_list_is_valid(void **state)
{
	struct conduit_manifest m;

	(void)state;
	assert_int_equal(parse("services: []\n", &m), 0);
	assert_int_equal(m.n, 0);
	conduit_manifest_free(&m);
}

static void
test_every_error_at_once(void **state)
{
	struct conduit_manifest m;
	struct conduit_err err;
	const char *text =
	    "services:\n"				/* 1 */
	    "  - name: api\n"				/* 2 */
	    "    upstreams: [\"127.0.0.1:0\"]\n"	/* 3 */
	    "    scheme: gopher\n"			/* 4 */
	    "  - name: API\n"				/* 5 */
	    "    upstreams: [127.0.0.1:81]\n"		/* 6 */
	    "    tsl: true\n"				/* 7 */
	    "  - name: web\n"				/* 8 */
	    "    upstreams: [127.0.0.1:80, 127.0.0.1:80]\n"	/* 9 */
	    "    health: {path: healthz, interval: soon, fails: 0}\n" /* 10 */
	    "  - upstreams: [\"999.1.1.1:80\"]\n";	/* 11 */

	(void)state;
	assert_int_equal(conduit_manifest_parse(text, strlen(text), "m.yaml",
	    &m, &err), CONDUIT_EINVAL);
	assert_int_equal(m.n, 0);
	assert_non_null(strstr(err.msg, "10 errors"));
	assert_true(has_diag(&m, 3, 17, "out of range 1-65535"));
	assert_true(has_diag(&m, 4, 13, "must be http or https"));
	assert_true(has_diag(&m, 5, 11, "duplicate service name \"api\""));
	assert_true(has_diag(&m, 7, 5, "unknown key \"tsl\""));
	assert_true(has_diag(&m, 9, 31, "listed twice"));
	assert_true(has_diag(&m, 10, 20, "must start with '/'"));
	assert_true(has_diag(&m, 10, 39, "not a duration"));
	assert_true(has_diag(&m, 10, 52, "1-100"));
	assert_true(has_diag(&m, 11, 5, "has no name"));
	assert_true(has_diag(&m, 11, 17, "not a valid IPv4 address"));
	assert_int_equal(m.diags.n, 10);
	/* Sorted by position, so the output reads top to bottom. */
	assert_int_equal(m.diags.v[0].line, 3);
	assert_int_equal(m.diags.v[9].line, 11);
	conduit_manifest_free(&m);
}

static void
test_alias_clashes(void **state)
{
	struct conduit_manifest m;

	(void)state;
	assert_int_equal(parse(
	    "services:\n"
	    "  - name: a\n"
	    "    upstreams: [127.0.0.1:1]\n"
	    "    aliases: [x, x, a]\n"
	    "  - name: b\n"
	    "    upstreams: [127.0.0.1:2]\n"
	    "    aliases: [X]\n"
	    "  - name: c\n"
	    "    upstreams: [127.0.0.1:3]\n"
	    "    aliases: [b]\n", &m), CONDUIT_EINVAL);
	assert_true(has_diag(&m, 4, 18, "is listed twice"));
	assert_true(has_diag(&m, 4, 21, "the service's own name"));
	assert_true(has_diag(&m, 7, 15, "already an alias of service \"a\""));
	assert_true(has_diag(&m, 10, 15, "already the name of service \"b\""));
	assert_int_equal(m.diags.n, 4);
	conduit_manifest_free(&m);
}

static void
test_required_and_shapes(void **state)
{
	struct conduit_manifest m;

	(void)state;
	assert_int_equal(parse(
	    "version: 2\n"
	    "services:\n"
	    "  - name: a\n"
	    "  - just-a-string\n"
	    "  - name: [x]\n"
	    "    upstreams: 127.0.0.1:80\n"
	    "    health: /h\n"
	    "    aliases: b\n"
	    "  - name:\n"
	    "    upstreams: [127.0.0.1:80]\n", &m), CONDUIT_EINVAL);
	assert_true(has_diag(&m, 1, 1, "unknown top-level key \"version\""));
	assert_true(has_diag(&m, 3, 5, "has no upstreams"));
	assert_true(has_diag(&m, 4, 5, "must be a mapping"));
	assert_true(has_diag(&m, 5, 11, "name must be a single value"));
	assert_true(has_diag(&m, 6, 16, "upstreams must be a list"));
	assert_true(has_diag(&m, 7, 13, "health must be a mapping"));
	assert_true(has_diag(&m, 8, 14, "aliases must be a list"));
	assert_true(has_diag(&m, 9, 5, "service #4 has no name"));
	conduit_manifest_free(&m);
}

static void
test_top_level(void **state)
{
	struct conduit_manifest m;

	(void)state;
	assert_int_equal(parse("", &m), CONDUIT_EINVAL);
	assert_true(has_diag(&m, 1, 1, "the manifest is empty"));
	conduit_manifest_free(&m);
	assert_int_equal(parse("services:\n", &m), CONDUIT_EINVAL);
	assert_true(has_diag(&m, 1, 10, "services must be a list"));
	conduit_manifest_free(&m);
	assert_int_equal(parse("- a\n", &m), CONDUIT_EINVAL);
	assert_true(has_diag(&m, 1, 1, "top level must be a mapping"));
	conduit_manifest_free(&m);
	assert_int_equal(parse("services: []\n---\nservices: []\n", &m),
	    CONDUIT_EINVAL);
	assert_true(has_diag(&m, 3, 1, "second YAML document"));
	conduit_manifest_free(&m);
	assert_int_equal(parse(
	    "services:\n"
	    "  - name: a\n"
	    "    upstreams: [127.0.0.1:1]\n"
	    "    name: b\n", &m), CONDUIT_EINVAL);
	assert_true(has_diag(&m, 4, 5, "key \"name\" is given twice"));
	conduit_manifest_free(&m);
}

static void
test_syntax_error(void **state)
{
	struct conduit_manifest m;

	(void)state;
	assert_int_equal(parse("services:\n  - name: [a\n", &m), CONDUIT_EINVAL);
	assert_int_equal(m.diags.n, 1);
	assert_int_equal(m.diags.v[0].line, 3);
	assert_non_null(strstr(m.diags.v[0].msg, "YAML syntax error"));
	conduit_manifest_free(&m);
}

static void
test_load_missing_file(void **state)
{
	struct conduit_manifest m;
	struct conduit_err err;

	(void)state;
	assert_int_equal(conduit_manifest_load("/nonexistent/m.yaml", &m, &err),
	    CONDUIT_ENOTFOUND);
	assert_non_null(strstr(err.msg, "/nonexistent/m.yaml"));
	conduit_manifest_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_service),
		cmocka_unit_test(test_empty_list_is_valid),
		cmocka_unit_test(test_every_error_at_once),
		cmocka_unit_test(test_alias_clashes),
		cmocka_unit_test(test_required_and_shapes),
		cmocka_unit_test(test_top_level),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_load_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
