/*
 * dnsmasq.c - pure rendering of conduit's names into dnsmasq's files.
 *
 * Names go into one hosts-format file read with --addn-hosts: dnsmasq
 * re-reads it on SIGHUP in about 10 ms for 10,000 names, where a
 * --hostsdir (inotify) drops updates when thousands of files change and
 * stalls every query while it re-reads a large file (docs/dns.md).
 * CNAMEs cannot live in a hosts file; they are cname= lines in a second
 * configuration file, which dnsmasq reads only at start.
 *
 * Nothing here touches the file system or the network: the gateway
 * address is an argument, so unit tests compare exact text.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/dns.h"

/* A growable string; on allocation failure it stays failed and the
 * caller gets NULL from sb_take(). */
struct sb {
	char *s;
	size_t len, cap;
	bool failed;
};

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if (b->s != NULL && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = b->cap ? b->cap * 2 : 4096;
		while (ncap < b->len + (size_t)n + 1)
			ncap *= 2;
		char *p = realloc(b->s, ncap);
		if (p == NULL) {
			b->failed = true;
			return;
		}
		b->s = p;
		b->cap = ncap;
	}
}

static char *
sb_take(struct sb *b)
{
	if (b->failed) {
		free(b->s);
		return NULL;
	}
	if (b->s == NULL)
		return strdup("");
	return b->s;
}

const char *
conduit_dns_type_name(enum conduit_dns_type t)
{
	switch (t) {
	case DNS_A: return "A";
	case DNS_AAAA: return "AAAA";
	case DNS_CNAME: return "CNAME";
	}
	return "?";
}

/* DNS_A or DNS_AAAA for an IP literal, DNS_CNAME for anything else. */
static enum conduit_dns_type
kind_of(const char *host)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, host, buf) == 1)
		return DNS_A;
	if (inet_pton(AF_INET6, host, buf) == 1)
		return DNS_AAAA;
	return DNS_CNAME;
}

struct recs {
	struct conduit_dns_record *v;
	size_t n, cap;
};

static int
push(struct recs *r, const struct conduit_settings *s,
    const struct conduit_service *svc, const char *label, bool alias,
    const char *value, struct conduit_err *err)
{
	struct conduit_dns_record *rec;
	int len;

	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 64;
		struct conduit_dns_record *p = realloc(r->v, ncap * sizeof(*p));
		if (p == NULL)
			return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
		r->v = p;
		r->cap = ncap;
	}
	rec = &r->v[r->n];
	memset(rec, 0, sizeof(*rec));
	len = snprintf(rec->name, sizeof(rec->name), "%s.%s", label, s->domain);
	if (len < 0 || len > 253)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "name \"%s.%s\" is longer than the 253 characters DNS allows",
		    label, s->domain);
	rec->type = kind_of(value);
	snprintf(rec->value, sizeof(rec->value), "%s", value);
	snprintf(rec->service, sizeof(rec->service), "%s", svc->name);
	rec->alias = alias;
	rec->dns_only = svc->dns_only;
	r->n++;
	return 0;
}

/* Records for one name (the service's or an alias). */
static int
push_name(struct recs *r, const struct conduit_settings *s,
    const struct conduit_service *svc, const char *label, bool alias,
    const char *gateway, struct conduit_err *err)
{
	size_t i;
	int rc;

	if (!svc->dns_only)
		return push(r, s, svc, label, alias, gateway, err);
	if (svc->n_upstreams == 0)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "service \"%s\" has no upstream to resolve to", svc->name);
	/* A CNAME cannot share its name with other records. */
	if (kind_of(svc->upstreams[0].host) == DNS_CNAME)
		return push(r, s, svc, label, alias, svc->upstreams[0].host, err);
	for (i = 0; i < svc->n_upstreams; i++) {
		const char *h = svc->upstreams[i].host;
		size_t j;
		bool seen = false;
		if (kind_of(h) == DNS_CNAME)
			continue;
		for (j = 0; j < i; j++)
			seen = seen || strcmp(svc->upstreams[j].host, h) == 0;
		if (!seen && (rc = push(r, s, svc, label, alias, h, err)) != 0)
			return rc;
	}
	return 0;
}

int
conduit_dns_records(const struct conduit_settings *s, const char *gateway,
    const struct conduit_registry *reg, struct conduit_dns_record **out,
    size_t *n, struct conduit_err *err)
{
	struct recs r = { NULL, 0, 0 };
	size_t i, j;
	int rc = 0;

	if (kind_of(gateway) == DNS_CNAME)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "gateway address \"%s\" is not an IP address", gateway);
	for (i = 0; i < reg->n && rc == 0; i++) {
		const struct conduit_service *svc = &reg->services[i];
		if (svc->status != SVC_ACTIVE)
			continue;
		rc = push_name(&r, s, svc, svc->name, false, gateway, err);
		for (j = 0; j < svc->n_aliases && rc == 0; j++)
			rc = push_name(&r, s, svc, svc->aliases[j], true, gateway,
			    err);
	}
	if (rc != 0) {
		free(r.v);
		return rc;
	}
	*out = r.v;
	*n = r.n;
	return 0;
}

char *
conduit_dns_render_hosts(const struct conduit_dns_record *recs, size_t n)
{
	struct sb b = { 0 };
	size_t i;

	sb_printf(&b, "# conduit: names of the active services; generated, "
	    "do not edit\n");
	for (i = 0; i < n; i++)
		if (recs[i].type != DNS_CNAME)
			sb_printf(&b, "%s %s\n", recs[i].value, recs[i].name);
	return sb_take(&b);
}

char *
conduit_dns_render_cnames(const struct conduit_dns_record *recs, size_t n)
{
	struct sb b = { 0 };
	size_t i;

	sb_printf(&b, "# conduit: CNAMEs of dns-only services with a hostname "
	    "upstream; generated\n");
	for (i = 0; i < n; i++)
		if (recs[i].type == DNS_CNAME)
			sb_printf(&b, "cname=%s,%s\n", recs[i].name, recs[i].value);
	return sb_take(&b);
}

/* The options scoped to conduit's domain, shared by both modes. */
static void
domain_opts(struct sb *b, const struct conduit_settings *s)
{
	sb_printf(b, "# Names under %s are answered here or not at all: an "
	    "unknown one is NXDOMAIN,\n# never forwarded.\n", s->domain);
	sb_printf(b, "local=/%s/\n", s->domain);
	sb_printf(b, "# Private addresses are expected under %s.\n", s->domain);
	sb_printf(b, "rebind-domain-ok=/%s/\n", s->domain);
}

char *
conduit_dns_render_conf(const struct conduit_settings *s,
    const struct conduit_dns_paths *p)
{
	struct sb b = { 0 };
	size_t i;

	sb_printf(&b, "# conduit's dnsmasq; generated from conduit.yaml, do not "
	    "edit.\n# Started as: dnsmasq --conf-file=THIS (never the system's "
	    "configuration).\n");
	sb_printf(&b, "port=%ld\n", s->dns_port);
	if (strcmp(s->listen, "0.0.0.0") == 0 || strcmp(s->listen, "::") == 0)
		/* Every address, one socket each, so a resolver already on
		 * 127.0.0.53:53 does not stop us. */
		sb_printf(&b, "bind-dynamic\n");
	else
		sb_printf(&b, "listen-address=%s\nbind-interfaces\n", s->listen);
	sb_printf(&b, "no-hosts\n");
	sb_printf(&b, "pid-file=%s\n", p->pidfile);
	sb_printf(&b, "log-facility=%s\n", p->logfile);
	if (p->user != NULL)
		sb_printf(&b, "user=%s\n", p->user);
	if (p->group != NULL)
		sb_printf(&b, "group=%s\n", p->group);
	domain_opts(&b, s);
	sb_printf(&b, "domain-needed\nbogus-priv\nstop-dns-rebind\n");
	sb_printf(&b, "local-ttl=%ld\n", s->dns_local_ttl);
	sb_printf(&b, "no-resolv\n");
	if (s->n_upstream_dns == 0)
		sb_printf(&b, "# upstream-dns: none (air-gapped): names outside "
		    "%s are refused.\n", s->domain);
	for (i = 0; i < s->n_upstream_dns; i++)
		sb_printf(&b, "server=%s\n", s->upstream_dns[i]);
	sb_printf(&b, "addn-hosts=%s\n", p->hosts);
	sb_printf(&b, "conf-file=%s\n", p->cnames);
	return sb_take(&b);
}

char *
conduit_dns_render_system_conf(const struct conduit_settings *s,
    const char *hosts_path, const char *cnames_text)
{
	struct sb b = { 0 };

	sb_printf(&b, "# conduit's names for the system dnsmasq; generated, do "
	    "not edit.\n# Global options (ports, upstreams, domain-needed) stay "
	    "the system's.\n");
	domain_opts(&b, s);
	sb_printf(&b, "addn-hosts=%s\n", hosts_path);
	sb_printf(&b, "%s", cnames_text);
	return sb_take(&b);
}
