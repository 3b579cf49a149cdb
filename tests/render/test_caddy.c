/*
 * test_caddy.c - the rendered Caddy config, checked by structure.
 *
 * The output is parsed back with cJSON and the parts Caddy acts on are
 * asserted one by one: routes and their matchers, upstreams, health
 * checks, headers, the redirect server, the admin block, the pki and
 * tls apps.  Whether Caddy accepts the document is the integration
 * test's job (tests/integration/test_gateway.py).
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

#include "conduit/caddy.h"

static void
add_svc(struct conduit_registry *reg, const char *name, const char *host,
    long port)
{
	struct conduit_service s;
	struct conduit_err err;

	memset(&s, 0, sizeof(s));
	snprintf(s.name, sizeof(s.name), "%s", name);
	s.upstreams = calloc(1, sizeof(*s.upstreams));
	snprintf(s.upstreams[0].host, sizeof(s.upstreams[0].host), "%s", host);
	s.upstreams[0].port = port;
	s.n_upstreams = 1;
	snprintf(s.scheme, sizeof(s.scheme), "http");
	s.tls = true;
	s.status = SVC_ACTIVE;
	assert_int_equal(conduit_registry_add(reg, &s, &err), 0);
}

static void
add_upstream(struct conduit_service *s, const char *host, long port)
{
	s->upstreams = realloc(s->upstreams, (s->n_upstreams + 1) *
	    sizeof(*s->upstreams));
	snprintf(s->upstreams[s->n_upstreams].host, CONDUIT_HOST_MAX, "%s", host);
	s->upstreams[s->n_upstreams++].port = port;
}

struct fixture {
	struct conduit_settings s;
	struct conduit_registry reg;
	struct conduit_caddy_paths p;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct conduit_service *web;
	struct conduit_err err;

	conduit_settings_defaults(&f->s);
	snprintf(f->s.domain, sizeof(f->s.domain), "ai.internal");
	snprintf(f->s.listen, sizeof(f->s.listen), "127.0.0.1");
	f->s.https_port = 8443;
	f->s.http_port = 8080;
	f->s.health.interval_ms = 500;
	f->s.health.timeout_ms = 300;
	f->s.health.fails = 3;
	assert_int_equal(conduit_caddy_paths("/srv/st", &f->p, &err), 0);
	conduit_registry_init(&f->reg);

	add_svc(&f->reg, "web", "127.0.0.1", 9001);
	web = &f->reg.services[0];
	add_upstream(web, "::1", 9002);
	web->aliases = calloc(1, sizeof(*web->aliases));
	snprintf(web->aliases[0], CONDUIT_NAME_MAX, "w");
	web->n_aliases = 1;
	snprintf(web->health_path, sizeof(web->health_path), "/healthz");
	web->health_cfg.interval_ms = 2000;

	add_svc(&f->reg, "plain", "127.0.0.2", 9003);
	f->reg.services[1].tls = false;
	add_svc(&f->reg, "db", "127.0.0.3", 5432);
	f->reg.services[2].dns_only = true;
	add_svc(&f->reg, "old", "127.0.0.4", 9004);
	f->reg.services[3].status = SVC_INACTIVE;
	add_svc(&f->reg, "sec", "127.0.0.5", 9443);
	snprintf(f->reg.services[4].scheme, 8, "https");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	conduit_registry_free(&f->reg);
	free(f);
	return 0;
}

static cJSON *
render(struct fixture *f)
{
	struct conduit_err err;
	char *text;
	size_t len;
	cJSON *doc;

	assert_int_equal(conduit_caddy_render(&f->s, &f->reg, &f->p, &text,
	    &len, &err), 0);
	assert_int_equal(strlen(text), len);
	doc = cJSON_Parse(text);
	free(text);
	assert_non_null(doc);
	return doc;
}

static cJSON *
at(cJSON *o, const char *path)
{
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && o;
	    tok = strtok_r(NULL, ".", &save)) {
		if (tok[0] >= '0' && tok[0] <= '9')
			o = cJSON_GetArrayItem(o, atoi(tok));
		else
			o = cJSON_GetObjectItemCaseSensitive(o, tok);
	}
	return o;
}

static const char *
str(cJSON *o, const char *path)
{
	cJSON *v = at(o, path);

	if (!cJSON_IsString(v))
		fail_msg("%s is not a string", path);
	return v->valuestring;
}

static cJSON *
route_by_id(cJSON *routes, const char *id)
{
	cJSON *r;

	cJSON_ArrayForEach(r, routes) {
		cJSON *i = cJSON_GetObjectItem(r, "@id");
		if (cJSON_IsString(i) && strcmp(i->valuestring, id) == 0)
			return r;
	}
	return NULL;
}

static void
test_admin_and_storage(void **state)
{
	cJSON *doc = render(*state);

	assert_string_equal(str(doc, "admin.listen"),
	    "unix//srv/st/run/caddy-admin.sock");
	assert_true(cJSON_IsFalse(at(doc, "admin.config.persist")));
	assert_string_equal(str(doc, "storage.root"), "/srv/st/caddy");
	assert_string_equal(str(doc, "logging.logs.default.exclude.0"),
	    "http.log.access");
	cJSON_Delete(doc);
}

static void
test_https_routes(void **state)
{
	cJSON *doc = render(*state), *routes, *web, *hosts, *rp, *last;

	assert_string_equal(str(doc, "apps.http.servers.conduit-https.listen.0"),
	    "127.0.0.1:8443");
	routes = at(doc, "apps.http.servers.conduit-https.routes");
	/* web, sec and the catch-all: not plain (http), db (dns-only), old. */
	assert_int_equal(cJSON_GetArraySize(routes), 3);
	assert_null(route_by_id(routes, "conduit-svc-plain"));
	assert_null(route_by_id(routes, "conduit-svc-db"));
	assert_null(route_by_id(routes, "conduit-svc-old"));

	web = route_by_id(routes, "conduit-svc-web");
	assert_non_null(web);
	hosts = at(web, "match.0.host");
	assert_int_equal(cJSON_GetArraySize(hosts), 2);
	assert_string_equal(str(hosts, "0"), "web.ai.internal");
	assert_string_equal(str(hosts, "1"), "w.ai.internal");
	assert_true(cJSON_IsTrue(at(web, "terminal")));
	rp = at(web, "handle.0");
	assert_string_equal(str(rp, "handler"), "reverse_proxy");
	assert_string_equal(str(rp, "upstreams.0.dial"), "127.0.0.1:9001");
	assert_string_equal(str(rp, "upstreams.1.dial"), "[::1]:9002");
	assert_string_equal(str(rp, "load_balancing.selection_policy.policy"),
	    "round_robin");
	assert_string_equal(str(rp, "headers.request.set.X-Conduit-Service.0"),
	    "web");
	assert_null(at(rp, "transport"));
	assert_non_null(at(route_by_id(routes, "conduit-svc-sec"),
	    "handle.0.transport.tls"));

	last = cJSON_GetArrayItem(routes, 2);
	assert_null(at(last, "match"));
	assert_int_equal(at(last, "handle.0.status_code")->valueint, 404);
	assert_non_null(strstr(str(last, "handle.0.body"), "{http.request.host}"));
	cJSON_Delete(doc);
}

static void
test_health_checks(void **state)
{
	cJSON *doc = render(*state), *routes, *hc;

	routes = at(doc, "apps.http.servers.conduit-https.routes");
	/* web: its own path and interval; the settings' timeout and fails. */
	hc = at(route_by_id(routes, "conduit-svc-web"), "handle.0.health_checks");
	assert_string_equal(str(hc, "active.uri"), "/healthz");
	assert_string_equal(str(hc, "active.interval"), "2000ms");
	assert_string_equal(str(hc, "active.timeout"), "300ms");
	assert_int_equal(at(hc, "passive.max_fails")->valueint, 3);
	/* Caddy 2.6.2 rejects these as unknown fields. */
	assert_null(at(hc, "active.passes"));
	assert_null(at(hc, "active.fails"));
	/* sec: the settings throughout. */
	hc = at(route_by_id(routes, "conduit-svc-sec"), "handle.0.health_checks");
	assert_string_equal(str(hc, "active.uri"), "/");
	assert_string_equal(str(hc, "active.interval"), "500ms");
	cJSON_Delete(doc);
}

static void
test_http_server_and_redirect(void **state)
{
	struct fixture *f = *state;
	cJSON *doc = render(f), *routes, *last;

	assert_int_equal(at(doc, "apps.http.http_port")->valueint, 8080);
	assert_string_equal(str(doc, "apps.http.servers.conduit-http.listen.0"),
	    "127.0.0.1:8080");
	routes = at(doc, "apps.http.servers.conduit-http.routes");
	assert_int_equal(cJSON_GetArraySize(routes), 2);
	assert_string_equal(str(route_by_id(routes, "conduit-svc-plain"),
	    "match.0.host.0"), "plain.ai.internal");
	last = cJSON_GetArrayItem(routes, 1);
	assert_int_equal(at(last, "handle.0.status_code")->valueint, 308);
	assert_string_equal(str(last, "handle.0.headers.Location.0"),
	    "https://{http.request.host}:8443{http.request.uri}");
	cJSON_Delete(doc);

	f->s.https_port = 443;
	doc = render(f);
	assert_string_equal(str(doc, "apps.http.servers.conduit-http.routes.1."
	    "handle.0.headers.Location.0"),
	    "https://{http.request.host}{http.request.uri}");
	cJSON_Delete(doc);

	f->s.http_port = 0;
	doc = render(f);
	assert_null(at(doc, "apps.http.servers.conduit-http"));
	assert_null(at(doc, "apps.http.http_port"));
	cJSON_Delete(doc);
}

static void
test_access_logs(void **state)
{
	cJSON *doc = render(*state), *lg;

	/* Keys with dots: looked up directly, not through at(). */
	lg = cJSON_GetObjectItem(at(doc, "apps.http.servers.conduit-https.logs."
	    "logger_names"), "w.ai.internal");
	assert_true(cJSON_IsString(lg));
	assert_string_equal(lg->valuestring, "conduit_access_web");
	lg = at(doc, "logging.logs.conduit_access_web");
	assert_non_null(lg);
	assert_string_equal(str(lg, "writer.filename"),
	    "/srv/st/logs/access/web.log");
	assert_string_equal(str(lg, "encoder.format"), "json");
	assert_string_equal(str(lg, "include.0"),
	    "http.log.access.conduit_access_web");
	assert_null(at(doc, "logging.logs.conduit_access_db"));
	cJSON_Delete(doc);
}

static void
test_pki_and_tls(void **state)
{
	struct fixture *f = *state;
	cJSON *doc = render(f), *ca, *pol;

	ca = at(doc, "apps.pki.certificate_authorities.local");
	assert_true(cJSON_IsFalse(at(ca, "install_trust")));
	assert_string_equal(str(ca, "root.certificate"), "/srv/st/pki/root.crt");
	assert_string_equal(str(ca, "root.private_key"), "/srv/st/pki/root.key");
	assert_string_equal(str(ca, "root.format"), "pem_file");
	assert_null(at(ca, "intermediate_lifetime"));

	assert_string_equal(str(doc, "apps.tls.certificates.automate.0"),
	    "*.ai.internal");
	pol = at(doc, "apps.tls.automation.policies.0");
	assert_null(at(pol, "subjects"));
	assert_string_equal(str(pol, "issuers.0.module"), "internal");
	assert_string_equal(str(pol, "issuers.0.ca"), "local");
	assert_string_equal(str(pol, "issuers.0.lifetime"), "24h");
	assert_string_equal(str(pol, "key_type"), "p256");
	assert_string_equal(str(doc, "apps.http.servers.conduit-https."
	    "tls_connection_policies.0.default_sni"), "*.ai.internal");
	assert_true(cJSON_IsTrue(at(doc, "apps.http.servers.conduit-https."
	    "automatic_https.disable_redirects")));
	cJSON_Delete(doc);

	snprintf(f->s.tls_key_type, sizeof(f->s.tls_key_type), "ed25519");
	doc = render(f);
	assert_string_equal(str(doc, "apps.tls.automation.policies.0.key_type"),
	    "ed25519");
	cJSON_Delete(doc);
}

static void
test_deterministic_and_empty(void **state)
{
	struct fixture *f = *state;
	struct conduit_registry empty;
	struct conduit_err err;
	char *a, *b;
	size_t al, bl;
	cJSON *doc;

	assert_int_equal(conduit_caddy_render(&f->s, &f->reg, &f->p, &a, &al,
	    &err), 0);
	assert_int_equal(conduit_caddy_render(&f->s, &f->reg, &f->p, &b, &bl,
	    &err), 0);
	assert_int_equal(al, bl);
	assert_memory_equal(a, b, al);
	free(a);
	free(b);

	conduit_registry_init(&empty);
	doc = conduit_caddy_config(&f->s, &empty, &f->p);
	assert_int_equal(cJSON_GetArraySize(at(doc,
	    "apps.http.servers.conduit-https.routes")), 1);
	assert_non_null(at(doc, "admin.listen"));
	cJSON_Delete(doc);
}

static void
test_paths(void **state)
{
	struct conduit_caddy_paths p;
	struct conduit_err err;
	char longdir[200];

	(void)state;
	assert_int_equal(conduit_caddy_paths("/var/lib/conduit", &p, &err), 0);
	assert_string_equal(p.config, "/var/lib/conduit/caddy/caddy.json");
	assert_string_equal(p.pidfile, "/var/lib/conduit/run/caddy.pid");
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	assert_int_equal(conduit_caddy_paths(longdir, &p, &err), CONDUIT_EINVAL);
	assert_non_null(strstr(err.msg, "unix socket"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_admin_and_storage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_server_and_redirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pki_and_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deterministic_and_empty, setup, teardown),
		cmocka_unit_test(test_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
