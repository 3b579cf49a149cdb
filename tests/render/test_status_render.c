/*
 * test_status_render.c - the status table and JSON document (pure).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "conduit/probe.h"

#define NOW 1800000000LL	/* 2027-01-15T08:00:00Z */

static struct conduit_probe ups[3];
static struct conduit_service_status svcs[2];
static struct conduit_status_report rep;

static int
setup(void **unused)
{
	(void)unused;
	memset(ups, 0, sizeof(ups));
	memset(svcs, 0, sizeof(svcs));
	memset(&rep, 0, sizeof(rep));

	strcpy(svcs[0].name, "core");
	strcpy(svcs[0].fqdn, "core.internal");
	strcpy(svcs[0].url, "https://core.internal/");
	svcs[0].upstreams = ups;
	svcs[0].n_upstreams = 2;
	svcs[0].upstreams_up = 1;
	ups[0].kind = PROBE_HTTP;
	strcpy(ups[0].target, "http://127.0.0.1:8000/health");
	ups[0].ran = ups[0].ok = true;
	ups[0].http_status = 200;
	ups[0].latency_ms = 3.25;
	ups[1].kind = PROBE_HTTP;
	strcpy(ups[1].target, "http://127.0.0.2:8000/health");
	ups[1].ran = true;
	ups[1].http_status = 500;
	strcpy(ups[1].error, "HTTP status 500");
	svcs[0].has_gateway = svcs[0].gateway_tls = true;
	svcs[0].gateway.kind = PROBE_GATEWAY;
	svcs[0].gateway.ran = svcs[0].gateway.ok = true;
	svcs[0].gateway.latency_ms = 41.6;
	svcs[0].cert_not_after = NOW + 10 * 86400 + 3600;
	svcs[0].state.current = HEALTH_DEGRADED;
	svcs[0].previous = HEALTH_HEALTHY;
	svcs[0].changed = true;
	svcs[0].observed = HEALTH_DEGRADED;
	svcs[0].passes = svcs[0].fails = 2;

	strcpy(svcs[1].name, "db");
	strcpy(svcs[1].fqdn, "db.internal");
	svcs[1].dns_only = true;
	svcs[1].upstreams = &ups[2];
	svcs[1].n_upstreams = 1;
	svcs[1].upstreams_up = 1;
	ups[2].kind = PROBE_TCP;
	ups[2].ran = ups[2].ok = true;
	svcs[1].has_dns = true;
	svcs[1].dns.kind = PROBE_DNS;
	svcs[1].dns.ran = true;
	strcpy(svcs[1].dns.error, "no such name (NXDOMAIN)");
	svcs[1].state.current = HEALTH_HEALTHY;
	svcs[1].state.pending = HEALTH_DOWN;
	svcs[1].state.streak = 1;
	svcs[1].passes = 2;
	svcs[1].fails = 3;

	rep.svcs = svcs;
	rep.n = 2;
	strcpy(rep.checked_at, "2027-01-15T08:00:00Z");
	return 0;
}

static void
test_table_plain(void **unused)
{
	char *t = conduit_status_render_table(&rep, false, NOW);

	(void)unused;
	assert_non_null(t);
	assert_null(strchr(t, '\033'));
	assert_non_null(strstr(t, "NAME"));
	assert_non_null(strstr(t, "UPSTREAMS"));
	assert_non_null(strstr(t, "1/2"));
	/* the gateway's latency is the one shown when the route works */
	assert_non_null(strstr(t, "42 ms"));
	assert_non_null(strstr(t, "2027-01-25 (10d)"));
	assert_non_null(strstr(t, "healthy (down? 1/3)"));
	assert_non_null(strstr(t, "core: upstream http://127.0.0.2:8000/health: "
	    "HTTP status 500"));
	assert_non_null(strstr(t, "db: dns"));
	assert_non_null(strstr(t, "NXDOMAIN"));
	assert_non_null(strstr(t, "1 healthy, 1 degraded, 0 down"));
	free(t);
}

static void
test_table_columns_line_up_with_colour(void **unused)
{
	char *t = conduit_status_render_table(&rep, true, NOW), *l1, *l2;
	char plain[2][512];
	int k;

	(void)unused;
	assert_non_null(t);
	assert_non_null(strstr(t, "\033[33m"));	/* degraded is yellow */
	/* Strip escapes: the DNS column must start at the same offset. */
	l1 = strchr(t, '\n') + 1;
	l2 = strchr(l1, '\n') + 1;
	for (k = 0; k < 2; k++) {
		const char *p = k == 0 ? l1 : l2;
		size_t o = 0;
		while (*p && *p != '\n' && o < sizeof(plain[k]) - 1) {
			if (*p == '\033') {
				while (*p && *p != 'm')
					p++;
				p++;
				continue;
			}
			plain[k][o++] = *p++;
		}
		plain[k][o] = '\0';
	}
	/* core's DNS cell is "-", db's is "fail" */
	assert_int_equal(strlen(plain[0]) - strlen("-"),
	    strlen(plain[1]) - strlen("fail"));
	free(t);
}

static void
test_json(void **unused)
{
	cJSON *doc = conduit_status_render_json(&rep, NOW), *s0, *sum, *u;

	(void)unused;
	assert_non_null(doc);
	assert_int_equal(cJSON_GetObjectItem(doc, "version")->valueint, 1);
	s0 = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "services"), 0);
	assert_string_equal(cJSON_GetObjectItem(s0, "health")->valuestring,
	    "degraded");
	assert_string_equal(cJSON_GetObjectItem(s0, "previous")->valuestring,
	    "healthy");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(s0, "changed")));
	u = cJSON_GetArrayItem(cJSON_GetObjectItem(s0, "upstreams"), 1);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(u, "ok")));
	assert_int_equal(cJSON_GetObjectItem(u, "http_status")->valueint, 500);
	assert_string_equal(cJSON_GetObjectItem(u, "error")->valuestring,
	    "HTTP status 500");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(s0, "cert"),
	    "days_left")->valueint, 10);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(doc, "services"), 1), "url")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(doc, "services"), 1), "cert")));
	sum = cJSON_GetObjectItem(doc, "summary");
	assert_int_equal(cJSON_GetObjectItem(sum, "total")->valueint, 2);
	assert_int_equal(cJSON_GetObjectItem(sum, "degraded")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(sum, "changed")->valueint, 1);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(sum, "all_healthy")));
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(sum,
	    "not_healthy"), 0)->valuestring, "core");
	cJSON_Delete(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_table_plain, setup),
		cmocka_unit_test_setup(test_table_columns_line_up_with_colour, setup),
		cmocka_unit_test_setup(test_json, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
