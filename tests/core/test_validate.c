/*
 * test_validate.c - the input rules, value by value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conduit/validate.h"

static void
test_names(void **state)
{
	struct conduit_err err;
	char out[64];
	char long63[64], long64[65];

	(void)state;
	memset(long63, 'a', 63);
	long63[63] = '\0';
	memset(long64, 'a', 64);
	long64[64] = '\0';
	assert_int_equal(conduit_validate_name("name", "ollama", out, sizeof(out), &err), 0);
	assert_string_equal(out, "ollama");
	assert_int_equal(conduit_validate_name("name", "Core-API2", out, sizeof(out), &err), 0);
	assert_string_equal(out, "core-api2");
	assert_int_equal(conduit_validate_name("name", long63, out, sizeof(out), &err), 0);
	assert_int_equal(conduit_validate_name("name", long64, out, sizeof(out), &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_name("name", "-x", out, sizeof(out), &err), CONDUIT_EINVAL);
	assert_non_null(strstr(err.msg, "name \"-x\""));
	assert_int_equal(conduit_validate_name("name", "x-", out, sizeof(out), &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_name("name", "a.b", out, sizeof(out), &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_name("name", "a_b", out, sizeof(out), &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_name("name", "", out, sizeof(out), &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_name("name", "a\nb", out, sizeof(out), &err), CONDUIT_EINVAL);
	/* The message never carries a raw newline. */
	assert_null(strchr(err.msg, '\n'));
}

static void
test_hosts(void **state)
{
	struct conduit_err err;
	enum conduit_host_kind k;

	(void)state;
	assert_int_equal(conduit_validate_host("host", "10.0.1.20", &k, &err), 0);
	assert_int_equal(k, HOST_IPV4);
	assert_int_equal(conduit_validate_host("host", "::1", &k, &err), 0);
	assert_int_equal(k, HOST_IPV6);
	assert_int_equal(conduit_validate_host("host", "gpu-1.lab.example", &k, &err), 0);
	assert_int_equal(k, HOST_NAME);
	assert_int_equal(conduit_validate_host("host", "256.1.1.1", &k, &err), CONDUIT_EINVAL);
	assert_non_null(strstr(err.msg, "IPv4"));
	assert_int_equal(conduit_validate_host("host", "010.0.0.1", &k, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_host("host", "1.2.3", &k, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_host("host", "fe80::1%eth0", &k, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_host("host", "a..b", &k, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_host("host", "-bad.example", &k, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_host("host", "a b", &k, &err), CONDUIT_EINVAL);
}

static void
test_ports(void **state)
{
	struct conduit_err err;
	long p;

	(void)state;
	assert_int_equal(conduit_validate_port("port", "1", 1, &p, &err), 0);
	assert_int_equal(p, 1);
	assert_int_equal(conduit_validate_port("port", "65535", 1, &p, &err), 0);
	assert_int_equal(p, 65535);
	assert_int_equal(conduit_validate_port("port", "0", 1, &p, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_port("port", "0", 0, &p, &err), 0);
	assert_int_equal(conduit_validate_port("port", "65536", 1, &p, &err), CONDUIT_EINVAL);
	assert_string_equal(err.msg, "port \"65536\" is out of range 1-65535");
	assert_int_equal(conduit_validate_port("port", "+80", 1, &p, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_port("port", " 80", 1, &p, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_port("port", "80 ", 1, &p, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_port("port", "99999999999999999999", 1, &p, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_port("port", "0x50", 1, &p, &err), CONDUIT_EINVAL);
}

static void
test_hostport(void **state)
{
	struct conduit_err err;
	char host[254];
	long p;

	(void)state;
	assert_int_equal(conduit_validate_hostport("upstream", "127.0.0.2:9000", host, sizeof(host), &p, &err), 0);
	assert_string_equal(host, "127.0.0.2");
	assert_int_equal(p, 9000);
	assert_int_equal(conduit_validate_hostport("upstream", "[::1]:8080", host, sizeof(host), &p, &err), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(conduit_validate_hostport("upstream", "::1:8080", host, sizeof(host), &p, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_hostport("upstream", "[10.0.0.1]:80", host, sizeof(host), &p, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_hostport("upstream", "host:", host, sizeof(host), &p, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_hostport("upstream", ":80", host, sizeof(host), &p, &err), CONDUIT_EINVAL);
}

static void
test_paths_and_durations(void **state)
{
	struct conduit_err err;
	long ms;

	(void)state;
	assert_int_equal(conduit_validate_health_path("health", "/api/tags", &err), 0);
	assert_int_equal(conduit_validate_health_path("health", "/healthz?full=1", &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_health_path("health", "health", &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_health_path("health", "/a/../etc", &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_health_path("health", "/$(reboot)", &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_health_path("health", "/a\"b", &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_parse_duration_ms("interval", "500ms", &ms, &err), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(conduit_parse_duration_ms("interval", "2s", &ms, &err), 0);
	assert_int_equal(ms, 2000);
	assert_int_equal(conduit_parse_duration_ms("interval", "3", &ms, &err), 0);
	assert_int_equal(ms, 3000);
	assert_int_equal(conduit_parse_duration_ms("interval", "1m", &ms, &err), 0);
	assert_int_equal(ms, 60000);
	assert_int_equal(conduit_parse_duration_ms("interval", "-1s", &ms, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_parse_duration_ms("interval", "2 s", &ms, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_scheme("scheme", "https", &err), 0);
	assert_int_equal(conduit_validate_scheme("scheme", "ftp", &err), CONDUIT_EINVAL);
}

static void
test_domains(void **state)
{
	struct conduit_err err;
	char out[254];

	(void)state;
	assert_int_equal(conduit_validate_domain("domain", "Internal", out, sizeof(out), &err), 0);
	assert_string_equal(out, "internal");
	assert_int_equal(conduit_validate_domain("domain", "qp.local", out, sizeof(out), &err), 0);
	assert_int_equal(conduit_validate_domain("domain", "qp..local", out, sizeof(out), &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_domain("domain", ".local", out, sizeof(out), &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_validate_domain("domain", "a/b", out, sizeof(out), &err), CONDUIT_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_paths_and_durations),
		cmocka_unit_test(test_domains),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
