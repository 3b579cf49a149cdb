/*
 * test_dnsmasq.c - the pure DNS rendering: records, hosts, cnames, conf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conduit/dns.h"

static void
add_svc(struct conduit_registry *reg, const char *name, bool dns_only,
    bool active, const char *const *hosts, size_t nhosts,
    const char *const *aliases, size_t naliases)
{
	struct conduit_service s;
	struct conduit_err err;
	size_t i;

	memset(&s, 0, sizeof(s));
	snprintf(s.name, sizeof(s.name), "%s", name);
	s.dns_only = dns_only;
	s.status = active ? SVC_ACTIVE : SVC_INACTIVE;
	s.upstreams = calloc(nhosts, sizeof(*s.upstreams));
	assert_non_null(s.upstreams);
	for (i = 0; i < nhosts; i++) {
		snprintf(s.upstreams[i].host, CONDUIT_HOST_MAX, "%s", hosts[i]);
		s.upstreams[i].port = 5432;
	}
	s.n_upstreams = nhosts;
	if (naliases) {
		s.aliases = calloc(naliases, sizeof(*s.aliases));
		assert_non_null(s.aliases);
		for (i = 0; i < naliases; i++)
			snprintf(s.aliases[i], CONDUIT_NAME_MAX, "%s", aliases[i]);
		s.n_aliases = naliases;
	}
	assert_int_equal(conduit_registry_add(reg, &s, &err), 0);
}

static void
settings(struct conduit_settings *s)
{
	conduit_settings_defaults(s);
	snprintf(s->domain, sizeof(s->domain), "corp.test");
	snprintf(s->listen, sizeof(s->listen), "127.0.0.1");
	s->dns_port = 5353;
	s->dns_local_ttl = 7;
}

static void
test_records_and_hosts(void **state)
{
	struct conduit_settings s;
	struct conduit_registry reg;
	struct conduit_dns_record *recs = NULL;
	struct conduit_err err;
	size_t n = 0;
	char *hosts, *cnames;
	const char *web_up[] = { "127.0.0.9" };
	const char *web_al[] = { "www", "portal" };
	const char *db_up[] = { "127.0.0.7", "127.0.0.8", "127.0.0.7" };
	const char *v6_up[] = { "fd00::5" };
	const char *pg_up[] = { "pg1.dc.example", "127.0.0.3" };
	const char *gone_up[] = { "127.0.0.4" };

	(void)state;
	settings(&s);
	conduit_registry_init(&reg);
	add_svc(&reg, "web", false, true, web_up, 1, web_al, 2);
	add_svc(&reg, "db", true, true, db_up, 3, NULL, 0);
	add_svc(&reg, "cache6", true, true, v6_up, 1, NULL, 0);
	add_svc(&reg, "pg", true, true, pg_up, 2, NULL, 0);
	add_svc(&reg, "gone", false, false, gone_up, 1, NULL, 0);
	assert_int_equal(conduit_dns_records(&s, "10.1.2.3", &reg, &recs, &n,
	    &err), 0);
	/* web + 2 aliases, db twice (duplicate upstream folded), cache6, pg;
	 * the inactive service has no name. */
	assert_int_equal(n, 7);
	assert_string_equal(recs[0].name, "web.corp.test");
	assert_int_equal(recs[0].type, DNS_A);
	assert_string_equal(recs[0].value, "10.1.2.3");
	assert_true(recs[1].alias);
	assert_string_equal(recs[1].service, "web");
	assert_true(recs[3].dns_only);
	assert_string_equal(recs[4].value, "127.0.0.8");
	assert_int_equal(recs[5].type, DNS_AAAA);
	assert_int_equal(recs[6].type, DNS_CNAME);
	assert_string_equal(recs[6].value, "pg1.dc.example");

	hosts = conduit_dns_render_hosts(recs, n);
	cnames = conduit_dns_render_cnames(recs, n);
	assert_non_null(hosts);
	assert_non_null(cnames);
	assert_string_equal(strchr(hosts, '\n') + 1,
	    "10.1.2.3 web.corp.test\n"
	    "10.1.2.3 www.corp.test\n"
	    "10.1.2.3 portal.corp.test\n"
	    "127.0.0.7 db.corp.test\n"
	    "127.0.0.8 db.corp.test\n"
	    "fd00::5 cache6.corp.test\n");
	assert_string_equal(strchr(cnames, '\n') + 1,
	    "cname=pg.corp.test,pg1.dc.example\n");
	assert_null(strstr(hosts, "gone"));
	free(hosts);
	free(cnames);
	free(recs);
	conduit_registry_free(&reg);
}

static void
test_ipv6_gateway_gives_aaaa(void **state)
{
	struct conduit_settings s;
	struct conduit_registry reg;
	struct conduit_dns_record *recs = NULL;
	struct conduit_err err;
	size_t n = 0;
	const char *up[] = { "127.0.0.9" };

	(void)state;
	settings(&s);
	conduit_registry_init(&reg);
	add_svc(&reg, "api", false, true, up, 1, NULL, 0);
	assert_int_equal(conduit_dns_records(&s, "fd00::1", &reg, &recs, &n,
	    &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(recs[0].type, DNS_AAAA);
	free(recs);
	/* A gateway that is not an address is refused, not rendered. */
	assert_int_equal(conduit_dns_records(&s, "gw.example", &reg, &recs, &n,
	    &err), CONDUIT_EINVAL);
	assert_non_null(strstr(err.msg, "gw.example"));
	conduit_registry_free(&reg);
}

static void
test_empty_registry(void **state)
{
	struct conduit_settings s;
	struct conduit_registry reg;
	struct conduit_dns_record *recs = NULL;
	struct conduit_err err;
	size_t n = 5;
	char *hosts;

	(void)state;
	settings(&s);
	conduit_registry_init(&reg);
	assert_int_equal(conduit_dns_records(&s, "10.0.0.1", &reg, &recs, &n,
	    &err), 0);
	assert_int_equal(n, 0);
	hosts = conduit_dns_render_hosts(recs, n);
	/* Only the comment line: dnsmasq reads it as zero names. */
	assert_non_null(hosts);
	assert_string_equal(strchr(hosts, '\n') + 1, "");
	free(hosts);
	free(recs);
}

static bool
has_line(const char *text, const char *line)
{
	size_t l = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && (p[l] == '\n' || p[l] == '\0'))
			return true;
		p += l;
	}
	return false;
}

static void
test_conf_air_gapped(void **state)
{
	struct conduit_settings s;
	struct conduit_dns_paths p = { "/s/dns/hosts", "/s/dns/cnames.conf",
	    "/s/run/dnsmasq.pid", "/s/logs/dnsmasq.log", "conduit-dns",
	    "conduit-dns" };
	char *conf;

	(void)state;
	settings(&s);
	conf = conduit_dns_render_conf(&s, &p);
	assert_non_null(conf);
	const char *want[] = { "port=5353", "listen-address=127.0.0.1",
	    "bind-interfaces", "no-hosts", "pid-file=/s/run/dnsmasq.pid",
	    "log-facility=/s/logs/dnsmasq.log", "user=conduit-dns",
	    "group=conduit-dns", "local=/corp.test/",
	    "rebind-domain-ok=/corp.test/", "domain-needed", "bogus-priv",
	    "stop-dns-rebind", "local-ttl=7", "no-resolv",
	    "addn-hosts=/s/dns/hosts", "conf-file=/s/dns/cnames.conf" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!has_line(conf, want[i]))
			fail_msg("missing line \"%s\" in:\n%s", want[i], conf);
	/* Air-gapped: not one server= line, so outside names are refused. */
	assert_null(strstr(conf, "server="));
	free(conf);
}

static void
test_conf_upstreams_and_wildcard(void **state)
{
	struct conduit_settings s;
	struct conduit_dns_paths p = { "/h", "/c", "/p", "/l", NULL, NULL };
	char *conf;

	(void)state;
	settings(&s);
	snprintf(s.listen, sizeof(s.listen), "0.0.0.0");
	snprintf(s.upstream_dns[0], sizeof(s.upstream_dns[0]), "127.0.0.53");
	snprintf(s.upstream_dns[1], sizeof(s.upstream_dns[1]), "::1");
	s.n_upstream_dns = 2;
	conf = conduit_dns_render_conf(&s, &p);
	assert_non_null(conf);
	assert_true(has_line(conf, "no-resolv"));
	assert_true(has_line(conf, "server=127.0.0.53"));
	assert_true(has_line(conf, "server=::1"));
	assert_true(has_line(conf, "bind-dynamic"));
	assert_null(strstr(conf, "listen-address"));
	/* Not root: no user switch. */
	assert_null(strstr(conf, "user="));
	free(conf);
}

static void
test_system_conf(void **state)
{
	struct conduit_settings s;
	char *conf;

	(void)state;
	settings(&s);
	conf = conduit_dns_render_system_conf(&s, "/etc/dnsmasq.d/.conduit.hosts",
	    "cname=pg.corp.test,pg1.dc.example\n");
	assert_non_null(conf);
	assert_true(has_line(conf, "local=/corp.test/"));
	assert_true(has_line(conf, "addn-hosts=/etc/dnsmasq.d/.conduit.hosts"));
	assert_true(has_line(conf, "cname=pg.corp.test,pg1.dc.example"));
	/* Global options belong to the system's own configuration. */
	assert_null(strstr(conf, "port="));
	assert_null(strstr(conf, "no-resolv"));
	assert_null(strstr(conf, "pid-file"));
	free(conf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_and_hosts),
		cmocka_unit_test(test_ipv6_gateway_gives_aaaa),
		cmocka_unit_test(test_empty_registry),
		cmocka_unit_test(test_conf_air_gapped),
		cmocka_unit_test(test_conf_upstreams_and_wildcard),
		cmocka_unit_test(test_system_conf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
