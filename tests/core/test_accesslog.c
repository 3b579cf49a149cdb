/*
 * test_accesslog.c - Caddy access records and the rotating follower.
 *
 * CADDY_200 and CADDY_404 are lines Debian's Caddy 2.6.2 wrote for
 * conduit (curl through the gateway to a python3 http.server), copied
 * verbatim from <state>/logs/access/web.log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conduit/accesslog.h"

static const char CADDY_200[] =
    "{\"level\":\"info\",\"ts\":1796403452.5433986,\"logger\":\"http.log.access.conduit_access_web\",\"msg\":\"handled request\",\"request\":{\"remote_ip\":\"127.0.0.1\",\"remote_port\":\"58192\",\"proto\":\"HTTP/2.0\",\"method\":\"GET\",\"host\":\"web.internal:57259\",\"uri\":\"/\",\"headers\":{\"Accept\":[\"*/*\"],\"User-Agent\":[\"curl/7.88.1\"]},\"tls\":{\"resumed\":false,\"version\":772,\"cipher_suite\":4865,\"proto\":\"h2\",\"server_name\":\"web.internal\"}},\"user_id\":\"\",\"duration\":0.004017972,\"size\":3762,\"status\":200,\"resp_headers\":{\"Server\":[\"Caddy\",\"SimpleHTTP/0.6 Python/3.11.7\"],\"Date\":[\"Fri, 04 Dec 2026 16:57:32 GMT\"],\"Content-Type\":[\"text/html; charset=utf-8\"],\"Content-Length\":[\"3762\"]}}";

static const char CADDY_404[] =
    "{\"level\":\"error\",\"ts\":1796403452.5764794,\"logger\":\"http.log.access.conduit_access_web\",\"msg\":\"handled request\",\"request\":{\"remote_ip\":\"127.0.0.1\",\"remote_port\":\"58218\",\"proto\":\"HTTP/2.0\",\"method\":\"GET\",\"host\":\"web.internal:57259\",\"uri\":\"/nope?x=1\",\"headers\":{\"User-Agent\":[\"curl/7.88.1\"],\"Accept\":[\"*/*\"]},\"tls\":{\"resumed\":false,\"version\":772,\"cipher_suite\":4865,\"proto\":\"h2\",\"server_name\":\"web.internal\"}},\"user_id\":\"\",\"duration\":0.002864401,\"size\":335,\"status\":404,\"resp_headers\":{\"Server\":[\"Caddy\",\"SimpleHTTP/0.6 Python/3.11.7\"],\"Content-Type\":[\"text/html;charset=utf-8\"],\"Content-Length\":[\"335\"],\"Date\":[\"Fri, 04 Dec 2026 16:57:32 GMT\"]}}";

/* Caddy's own (gateway) log line: JSON, but not an access record. */
static const char CADDY_GATEWAY[] =
    "{\"level\":\"info\",\"ts\":1796403452.002,\"logger\":\"tls.obtain\",\"msg\":\"releasing lock\",\"identifier\":\"api.internal\"}";

static void
test_parse_real_records(void **state)
{
	struct conduit_access_rec r;
	struct conduit_err err;

	(void)state;
	assert_int_equal(conduit_accesslog_parse(CADDY_200, &r, &err), 0);
	assert_string_equal(r.client, "127.0.0.1");
	assert_string_equal(r.method, "GET");
	assert_string_equal(r.proto, "HTTP/2.0");
	assert_string_equal(r.host, "web.internal:57259");
	assert_string_equal(r.uri, "/");
	assert_int_equal(r.status, 200);
	assert_int_equal(r.size, 3762);
	assert_true(r.duration > 0.004017 && r.duration < 0.004018);
	assert_true(r.ts > 1796403452.54 && r.ts < 1796403452.55);
	assert_string_equal(r.upstream, "");

	assert_int_equal(conduit_accesslog_parse(CADDY_404, &r, &err), 0);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.uri, "/nope?x=1");
	assert_int_equal(r.size, 335);
}

static void
test_not_records(void **state)
{
	struct conduit_access_rec r;
	struct conduit_err err;
	char torn[200];

	(void)state;
	assert_int_equal(conduit_accesslog_parse(CADDY_GATEWAY, &r, &err),
	    CONDUIT_EINVAL);
	assert_non_null(strstr(err.msg, "handled request"));
	assert_int_equal(conduit_accesslog_parse("", &r, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_accesslog_parse("Dec  4 16:57:32 dnsmasq[9]: "
	    "started", &r, &err), CONDUIT_EINVAL);
	assert_int_equal(conduit_accesslog_parse("[1,2]", &r, &err),
	    CONDUIT_EINVAL);
	/* A torn write: the first 199 bytes of a record. */
	snprintf(torn, sizeof(torn), "%s", CADDY_200);
	assert_int_equal(conduit_accesslog_parse(torn, &r, &err), CONDUIT_EINVAL);
	/* "handled request" without a request object */
	assert_int_equal(conduit_accesslog_parse("{\"ts\":1,\"msg\":\"handled "
	    "request\"}", &r, &err), CONDUIT_EINVAL);
	/* and without a time */
	assert_int_equal(conduit_accesslog_parse("{\"msg\":\"handled request\","
	    "\"request\":{}}", &r, &err), CONDUIT_EINVAL);
}

static void
test_variants(void **state)
{
	struct conduit_access_rec r;
	struct conduit_err err;

	(void)state;
	/* Caddy 2.7+ adds client_ip (the client behind trusted proxies);
	 * an rfc3339 time_format writes ts as a string. */
	assert_int_equal(conduit_accesslog_parse("{\"ts\":\"2026-04-04T10:15:30"
	    ".250Z\",\"msg\":\"handled request\",\"request\":{\"remote_ip\":"
	    "\"127.0.0.5\",\"client_ip\":\"10.1.2.3\",\"method\":\"POST\"},"
	    "\"status\":502,\"resp_headers\":{\"X-Conduit-Upstream\":"
	    "[\"127.0.0.9:8000\"]}}", &r, &err), 0);
	assert_string_equal(r.client, "10.1.2.3");
	assert_int_equal(r.status, 502);
	assert_int_equal(r.size, 0);	/* absent: zero, not an error */
	assert_string_equal(r.upstream, "127.0.0.9:8000");
	/* 2026-04-04T10:15:30Z is 1775297730 */
	assert_true(r.ts > 1775297730.24 && r.ts < 1775297730.26);
	assert_int_equal(conduit_accesslog_parse("{\"ts\":\"2026-04-04T12:15:30"
	    "+02:00\",\"msg\":\"handled request\",\"request\":{},\"upstream\":"
	    "\"u:1\"}", &r, &err), 0);
	assert_true(r.ts == 1775297730.0);
	assert_string_equal(r.upstream, "u:1");
	assert_true(conduit_accesslog_line_ts(CADDY_GATEWAY) > 1796403452.0);
	assert_true(conduit_accesslog_line_ts("plain text") < 0);
}

static void
test_status_filter(void **state)
{
	struct conduit_access_filter f = { 0 };
	struct conduit_access_rec r200, r404, r503;
	struct conduit_err err;

	(void)state;
	assert_int_equal(conduit_accesslog_parse(CADDY_200, &r200, &err), 0);
	assert_int_equal(conduit_accesslog_parse(CADDY_404, &r404, &err), 0);
	r503 = r404;
	r503.status = 503;

	assert_true(conduit_accesslog_match(&f, &r200));
	assert_int_equal(conduit_accesslog_parse_status("5xx", &f, &err), 0);
	assert_false(conduit_accesslog_match(&f, &r200));
	assert_false(conduit_accesslog_match(&f, &r404));
	assert_true(conduit_accesslog_match(&f, &r503));
	assert_int_equal(conduit_accesslog_parse_status("4XX", &f, &err), 0);
	assert_true(conduit_accesslog_match(&f, &r404));
	assert_false(conduit_accesslog_match(&f, &r503));
	assert_int_equal(conduit_accesslog_parse_status("200", &f, &err), 0);
	assert_true(conduit_accesslog_match(&f, &r200));
	assert_false(conduit_accesslog_match(&f, &r404));

	assert_int_equal(conduit_accesslog_parse_status("6xx", &f, &err), CONDUIT_EUSAGE);
	assert_non_null(strstr(err.msg, "\"6xx\""));
	assert_int_equal(conduit_accesslog_parse_status("99", &f, &err), CONDUIT_EUSAGE);
	assert_int_equal(conduit_accesslog_parse_status("600", &f, &err), CONDUIT_EUSAGE);
	assert_int_equal(conduit_accesslog_parse_status("5x", &f, &err), CONDUIT_EUSAGE);
	assert_int_equal(conduit_accesslog_parse_status("404 ", &f, &err), CONDUIT_EUSAGE);

	/* since: the 404 came 33 ms after the 200 */
	f = (struct conduit_access_filter){ .since = 1796403452.56 };
	assert_false(conduit_accesslog_match(&f, &r200));
	assert_true(conduit_accesslog_match(&f, &r404));
}

static void
test_format(void **state)
{
	struct conduit_access_rec r;
	struct conduit_err err;
	char out[512];

	(void)state;
	assert_int_equal(conduit_accesslog_parse(CADDY_200, &r, &err), 0);
	conduit_accesslog_format(&r, out, sizeof(out));
	assert_string_equal(out, "2026-12-04T16:57:32.543Z 127.0.0.1       GET    "
	    "web.internal:57259 / 200 4.0ms - 3762B");
	r.duration = 0.000250;
	snprintf(r.upstream, sizeof(r.upstream), "127.0.0.9:8000");
	conduit_accesslog_format(&r, out, sizeof(out));
	assert_non_null(strstr(out, " 200 250us 127.0.0.9:8000 3762B"));
	r.duration = 2.5;
	conduit_accesslog_format(&r, out, sizeof(out));
	assert_non_null(strstr(out, " 200 2.50s "));
}

/* ---- follower ---- */

struct lines {
	char v[16][64];
	int n;
};

static void
grab(const char *line, void *arg)
{
	struct lines *l = arg;

	if (l->n < 16)
		snprintf(l->v[l->n++], sizeof(l->v[0]), "%s", line);
}

static void
append(const char *path, const char *text, const char *mode)
{
	FILE *fp = fopen(path, mode);

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
test_follow_rotation_and_truncation(void **state)
{
	char dir[] = "/tmp/conduit-follow-XXXXXX", path[128], old[128];
	struct conduit_follow f;
	struct conduit_err err;
	struct lines l = { .n = 0 };

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/web.log", dir);
	snprintf(old, sizeof(old), "%s/web-rolled.log", dir);

	/* Not there yet: waited for. */
	assert_int_equal(conduit_follow_open(&f, path, 0, &err), 0);
	assert_int_equal(conduit_follow_poll(&f, grab, &l, &err), 0);
	assert_int_equal(l.n, 0);

	append(path, "one\ntwo\nthr", "w");
	assert_int_equal(conduit_follow_poll(&f, grab, &l, &err), 0);
	assert_int_equal(l.n, 2);	/* the torn "thr" is held back */
	assert_string_equal(l.v[1], "two");
	append(path, "ee\n", "a");
	assert_int_equal(conduit_follow_poll(&f, grab, &l, &err), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[2], "three");

	/* Rotation: a last line lands in the old file after the rename,
	 * then the writer opens a new file.  Both are delivered, in order. */
	assert_int_equal(rename(path, old), 0);
	append(old, "four\n", "a");
	append(path, "five\n", "w");
	assert_int_equal(conduit_follow_poll(&f, grab, &l, &err), 0);
	assert_int_equal(l.n, 5);
	assert_string_equal(l.v[3], "four");
	assert_string_equal(l.v[4], "five");

	/* Truncation in place (copytruncate), then new lines. */
	assert_int_equal(truncate(path, 0), 0);
	append(path, "six\n", "a");
	assert_int_equal(conduit_follow_poll(&f, grab, &l, &err), 0);
	assert_int_equal(l.n, 6);
	assert_string_equal(l.v[5], "six");
	conduit_follow_close(&f);

	/* Opening at an offset skips what a backlog already showed. */
	l.n = 0;
	assert_int_equal(conduit_follow_open(&f, old, 4, &err), 0);
	assert_int_equal(conduit_follow_poll(&f, grab, &l, &err), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0], "two");
	conduit_follow_close(&f);

	unlink(path);
	unlink(old);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_real_records),
		cmocka_unit_test(test_not_records),
		cmocka_unit_test(test_variants),
		cmocka_unit_test(test_status_filter),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_follow_rotation_and_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
