/*
 * settings.c - conduit.yaml <-> struct conduit_settings.
 *
 * The file is read with libyaml's document API into a node tree and
 * walked against a table of known keys; an unknown key is an error (a
 * typo must not silently fall back to a default).  Errors carry
 * FILE:LINE:COLUMN from libyaml's marks (1-based).  Values are
 * validated with the same rules as command-line flags, so a value from
 * the file can never reach a rendered config unchecked.
 *
 * The file conduit writes is rendered here too, with a comment on each
 * setting, and always parses back to the same struct.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <yaml.h>

#include "conduit/settings.h"
#include "conduit/validate.h"

void
conduit_settings_defaults(struct conduit_settings *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->domain, sizeof(s->domain), "internal");
	snprintf(s->listen, sizeof(s->listen), "0.0.0.0");
	s->https_port = 443;
	s->http_port = 80;
	s->dns_port = 53;
	snprintf(s->health.path, sizeof(s->health.path), "/");
	s->health.interval_ms = 10000;
	s->health.timeout_ms = 2000;
	s->health.passes = 2;
	s->health.fails = 2;
	s->probe_concurrency = 32;
	snprintf(s->tls_key_type, sizeof(s->tls_key_type), "ecdsa");
	s->dns_enabled = true;
	snprintf(s->dns_mode, sizeof(s->dns_mode), "managed");
	snprintf(s->dns_system_dir, sizeof(s->dns_system_dir), "/etc/dnsmasq.d");
	s->dns_local_ttl = 5;
	snprintf(s->caddy_bin, sizeof(s->caddy_bin), "caddy");
	snprintf(s->dnsmasq_bin, sizeof(s->dnsmasq_bin), "dnsmasq");
	s->monitor_sample_ms = 200;
	s->monitor_ssh_timeout_ms = 5000;
	snprintf(s->docker_socket, sizeof(s->docker_socket),
	    "/var/run/docker.sock");
	s->thresholds.gpu_temp_c = 85;
	s->thresholds.gpu_vram_pct = 90;
	s->thresholds.disk_pct = 90;
	s->thresholds.mem_pct = 90;
	s->thresholds.container_restarts = true;
	s->thresholds.container_unhealthy = true;
	s->thresholds.gpu_throttle = true;
}

/* ---- reading ---------------------------------------------------------- */

struct rd {
	yaml_document_t *doc;
	const char *fname;
	struct conduit_err *err;
};

static int node_err(struct rd *r, yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
node_err(struct rd *r, yaml_node_t *n, const char *fmt, ...)
{
	char msg[700];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return conduit_err_set(r->err, CONDUIT_EINVAL, "%s:%zu:%zu: %s",
	    r->fname, n->start_mark.line + 1, n->start_mark.column + 1, msg);
}

static const char *
scalar(struct rd *r, yaml_node_t *n, const char *key)
{
	if (n->type != YAML_SCALAR_NODE) {
		node_err(r, n, "%s must be a single value%s", key, "");
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

/* Wraps a validator's message with the file position of node n. */
static int
at(struct rd *r, yaml_node_t *n, int rc)
{
	char old[sizeof(r->err->msg)];

	if (rc == 0)
		return 0;
	memcpy(old, r->err->msg, sizeof(old));
	return conduit_err_set(r->err, rc, "%s:%zu:%zu: %s", r->fname,
	    n->start_mark.line + 1, n->start_mark.column + 1, old);
}

static int
get_str(struct rd *r, yaml_node_t *n, const char *key, char *dst, size_t len)
{
	const char *v = scalar(r, n, key);

	if (v == NULL)
		return CONDUIT_EINVAL;
	if (strlen(v) >= len)
		return node_err(r, n, "%s \"%s\" is too long", key, v);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int
get_long(struct rd *r, yaml_node_t *n, const char *key, long min, long max,
    long *out)
{
	const char *v = scalar(r, n, key);
	char lim[64];
	long x = 0;
	size_t i;

	if (v == NULL)
		return CONDUIT_EINVAL;
	for (i = 0; v[i]; i++) {
		if (v[i] < '0' || v[i] > '9' || i > 9)
			return node_err(r, n, "%s \"%s\" is not a whole number", key, v);
		x = x * 10 + (v[i] - '0');
	}
	if (i == 0)
		return node_err(r, n, "%s is empty%s", key, "");
	if (x < min || x > max) {
		(void)snprintf(lim, sizeof(lim), "%ld-%ld", min, max);
		return at(r, n, conduit_err_set(r->err, CONDUIT_EINVAL,
		    "%s \"%s\" is out of range %s", key, v, lim));
	}
	*out = x;
	return 0;
}

static int
get_bool(struct rd *r, yaml_node_t *n, const char *key, bool *out)
{
	const char *v = scalar(r, n, key);

	if (v == NULL)
		return CONDUIT_EINVAL;
	if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
	    strcmp(v, "off") == 0)
		*out = false;
	else
		return node_err(r, n, "%s \"%s\" must be true or false", key, v);
	return 0;
}

static int
get_double(struct rd *r, yaml_node_t *n, const char *key, double min,
    double max, double *out)
{
	const char *v = scalar(r, n, key);
	char *end;
	double x;

	if (v == NULL)
		return CONDUIT_EINVAL;
	x = strtod(v, &end);
	if (*v == '\0' || *end != '\0' || x < min || x > max)
		return node_err(r, n, "%s \"%s\" is not a number in range", key, v);
	*out = x;
	return 0;
}

static int
get_duration(struct rd *r, yaml_node_t *n, const char *key, long *out)
{
	const char *v = scalar(r, n, key);

	if (v == NULL)
		return CONDUIT_EINVAL;
	return at(r, n, conduit_parse_duration_ms(key, v, out, r->err));
}

typedef int (*section_fn)(struct rd *, const char *key, yaml_node_t *val,
    struct conduit_settings *s);

static int
walk_map(struct rd *r, yaml_node_t *map, const char *what, section_fn fn,
    struct conduit_settings *s)
{
	yaml_node_pair_t *p;

	if (map->type != YAML_MAPPING_NODE)
		return node_err(r, map, "%s must be a mapping (key: value)%s",
		    what, "");
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	    p++) {
		yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(r->doc, p->value);
		int rc;
		if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE)
			return node_err(r, map, "%s has a key that is not a name%s",
			    what, "");
		rc = fn(r, (const char *)k->data.scalar.value, v, s);
		if (rc == 1)
			return node_err(r, k, "unknown setting \"%s\" in %s",
			    (const char *)k->data.scalar.value, what);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
sec_health(struct rd *r, const char *k, yaml_node_t *v,
    struct conduit_settings *s)
{
	if (strcmp(k, "path") == 0) {
		int rc = get_str(r, v, "health.path", s->health.path,
		    sizeof(s->health.path));
		return rc ? rc : at(r, v, conduit_validate_health_path(
		    "health.path", s->health.path, r->err));
	}
	if (strcmp(k, "interval") == 0)
		return get_duration(r, v, "health.interval", &s->health.interval_ms);
	if (strcmp(k, "timeout") == 0)
		return get_duration(r, v, "health.timeout", &s->health.timeout_ms);
	if (strcmp(k, "passes") == 0)
		return get_long(r, v, "health.passes", 1, 100, &s->health.passes);
	if (strcmp(k, "fails") == 0)
		return get_long(r, v, "health.fails", 1, 100, &s->health.fails);
	return 1;
}

static int
sec_probe(struct rd *r, const char *k, yaml_node_t *v,
    struct conduit_settings *s)
{
	if (strcmp(k, "concurrency") == 0)
		return get_long(r, v, "probe.concurrency", 1, 1024,
		    &s->probe_concurrency);
	return 1;
}

static int
sec_tls(struct rd *r, const char *k, yaml_node_t *v, struct conduit_settings *s)
{
	if (strcmp(k, "key_type") == 0) {
		int rc = get_str(r, v, "tls.key_type", s->tls_key_type,
		    sizeof(s->tls_key_type));
		if (rc)
			return rc;
		if (strcmp(s->tls_key_type, "ecdsa") != 0 &&
		    strcmp(s->tls_key_type, "ed25519") != 0)
			return node_err(r, v, "tls.key_type \"%s\" must be ecdsa "
			    "or ed25519%s", s->tls_key_type, "");
		return 0;
	}
	return 1;
}

static int
sec_dns(struct rd *r, const char *k, yaml_node_t *v, struct conduit_settings *s)
{
	int rc;

	if (strcmp(k, "enabled") == 0)
		return get_bool(r, v, "dns.enabled", &s->dns_enabled);
	if (strcmp(k, "mode") == 0) {
		if ((rc = get_str(r, v, "dns.mode", s->dns_mode,
		    sizeof(s->dns_mode))) != 0)
			return rc;
		if (strcmp(s->dns_mode, "managed") != 0 &&
		    strcmp(s->dns_mode, "system") != 0)
			return node_err(r, v, "dns.mode \"%s\" must be managed or "
			    "system%s", s->dns_mode, "");
		return 0;
	}
	if (strcmp(k, "system_dir") == 0) {
		if ((rc = get_str(r, v, "dns.system_dir", s->dns_system_dir,
		    sizeof(s->dns_system_dir))) != 0)
			return rc;
		if (s->dns_system_dir[0] != '/')
			return node_err(r, v, "dns.system_dir \"%s\" must be an "
			    "absolute path%s", s->dns_system_dir, "");
		return 0;
	}
	if (strcmp(k, "local_ttl") == 0)
		return get_long(r, v, "dns.local_ttl", 0, 86400, &s->dns_local_ttl);
	return 1;
}

static int
sec_bin(struct rd *r, yaml_node_t *v, const char *key, char *dst, size_t len)
{
	int rc = get_str(r, v, key, dst, len);

	if (rc)
		return rc;
	if (dst[0] == '\0' || dst[0] == '-' || strpbrk(dst, " \t\n;|&$`'\"\\") != NULL)
		return node_err(r, v, "%s \"%s\" must be a program name or path "
		    "without spaces or shell characters", key, dst);
	return 0;
}

static int
sec_caddy(struct rd *r, const char *k, yaml_node_t *v,
    struct conduit_settings *s)
{
	if (strcmp(k, "bin") == 0)
		return sec_bin(r, v, "caddy.bin", s->caddy_bin, sizeof(s->caddy_bin));
	return 1;
}

static int
sec_dnsmasq(struct rd *r, const char *k, yaml_node_t *v,
    struct conduit_settings *s)
{
	if (strcmp(k, "bin") == 0)
		return sec_bin(r, v, "dnsmasq.bin", s->dnsmasq_bin,
		    sizeof(s->dnsmasq_bin));
	return 1;
}

static int
sec_thresholds(struct rd *r, const char *k, yaml_node_t *v,
    struct conduit_settings *s)
{
	struct conduit_thresholds *t = &s->thresholds;

	if (strcmp(k, "gpu_temperature") == 0)
		return get_double(r, v, "monitor.thresholds.gpu_temperature", 0,
		    200, &t->gpu_temp_c);
	if (strcmp(k, "gpu_vram") == 0)
		return get_double(r, v, "monitor.thresholds.gpu_vram", 0, 100,
		    &t->gpu_vram_pct);
	if (strcmp(k, "disk") == 0)
		return get_double(r, v, "monitor.thresholds.disk", 0, 100,
		    &t->disk_pct);
	if (strcmp(k, "memory") == 0)
		return get_double(r, v, "monitor.thresholds.memory", 0, 100,
		    &t->mem_pct);
	if (strcmp(k, "container_restarts") == 0)
		return get_bool(r, v, "monitor.thresholds.container_restarts",
		    &t->container_restarts);
	if (strcmp(k, "container_unhealthy") == 0)
		return get_bool(r, v, "monitor.thresholds.container_unhealthy",
		    &t->container_unhealthy);
	if (strcmp(k, "gpu_throttle") == 0)
		return get_bool(r, v, "monitor.thresholds.gpu_throttle",
		    &t->gpu_throttle);
	return 1;
}

static int
sec_monitor(struct rd *r, const char *k, yaml_node_t *v,
    struct conduit_settings *s)
{
	yaml_node_item_t *it;
	int rc;

	if (strcmp(k, "sample_window") == 0) {
		if ((rc = get_duration(r, v, "monitor.sample_window",
		    &s->monitor_sample_ms)) != 0)
			return rc;
		if (s->monitor_sample_ms > 10000)
			return node_err(r, v, "monitor.sample_window must be at "
			    "most 10s%s%s", "", "");
		return 0;
	}
	if (strcmp(k, "ssh_timeout") == 0)
		return get_duration(r, v, "monitor.ssh_timeout",
		    &s->monitor_ssh_timeout_ms);
	if (strcmp(k, "docker_socket") == 0) {
		if ((rc = get_str(r, v, "monitor.docker_socket", s->docker_socket,
		    sizeof(s->docker_socket))) != 0)
			return rc;
		if (s->docker_socket[0] != '/')
			return node_err(r, v, "monitor.docker_socket \"%s\" must be "
			    "an absolute path%s", s->docker_socket, "");
		return 0;
	}
	if (strcmp(k, "thresholds") == 0)
		return walk_map(r, v, "monitor.thresholds", sec_thresholds, s);
	if (strcmp(k, "servers") == 0) {
		if (v->type != YAML_SEQUENCE_NODE)
			return node_err(r, v, "monitor.servers must be a list%s%s",
			    "", "");
		s->n_monitor_servers = 0;
		for (it = v->data.sequence.items.start;
		    it < v->data.sequence.items.top; it++) {
			yaml_node_t *e = yaml_document_get_node(r->doc, *it);
			const char *sv, *host;
			if (e == NULL || (sv = scalar(r, e, "monitor.servers")) == NULL)
				return CONDUIT_EINVAL;
			if (s->n_monitor_servers >= CONDUIT_MAX_SERVERS)
				return node_err(r, e, "monitor.servers has more than "
				    "32 entries%s%s", "", "");
			host = strchr(sv, '@') ? strchr(sv, '@') + 1 : sv;
			if (sv[0] == '-' || strlen(sv) >= 256)
				return node_err(r, e, "monitor.servers entry \"%s\" "
				    "is not [USER@]HOST%s", sv, "");
			if ((rc = at(r, e, conduit_validate_host(
			    "monitor.servers host", host, NULL, r->err))) != 0)
				return rc;
			snprintf(s->monitor_servers[s->n_monitor_servers++],
			    sizeof(s->monitor_servers[0]), "%s", sv);
		}
		return 0;
	}
	return 1;
}

int
conduit_settings_set_upstream_dns(struct conduit_settings *s,
    const char *field, const char *csv, struct conduit_err *err)
{
	char buf[512], *tok, *save = NULL;
	size_t l = strlen(csv);
	int rc;

	s->n_upstream_dns = 0;
	if (l == 0 || strcmp(csv, "none") == 0)
		return 0;
	if (csv[0] == ',' || csv[l - 1] == ',' || strstr(csv, ",,") != NULL)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "%s \"%.200s\" has an empty entry", field, csv);
	if (l >= sizeof(buf))
		return conduit_err_set(err, CONDUIT_EINVAL, "%s is too long",
		    field);
	memcpy(buf, csv, l + 1);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (s->n_upstream_dns >= CONDUIT_MAX_UPSTREAM_DNS)
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "%s lists more than %d servers", field,
			    CONDUIT_MAX_UPSTREAM_DNS);
		if ((rc = conduit_validate_ip(field, tok, err)) != 0)
			return rc;
		snprintf(s->upstream_dns[s->n_upstream_dns++],
		    sizeof(s->upstream_dns[0]), "%s", tok);
	}
	return 0;
}

static int
sec_top(struct rd *r, const char *k, yaml_node_t *v, struct conduit_settings *s)
{
	int rc;

	if (strcmp(k, "domain") == 0) {
		const char *d = scalar(r, v, "domain");
		if (d == NULL)
			return CONDUIT_EINVAL;
		return at(r, v, conduit_validate_domain("domain", d, s->domain,
		    sizeof(s->domain), r->err));
	}
	if (strcmp(k, "listen") == 0) {
		if ((rc = get_str(r, v, "listen", s->listen, sizeof(s->listen))) != 0)
			return rc;
		return at(r, v, conduit_validate_ip("listen", s->listen, r->err));
	}
	if (strcmp(k, "gateway_ip") == 0) {
		if ((rc = get_str(r, v, "gateway_ip", s->gateway_ip,
		    sizeof(s->gateway_ip))) != 0)
			return rc;
		if (s->gateway_ip[0] == '\0')
			return 0;
		return at(r, v, conduit_validate_ip("gateway_ip", s->gateway_ip,
		    r->err));
	}
	if (strcmp(k, "https_port") == 0)
		return get_long(r, v, "https_port", 1, 65535, &s->https_port);
	if (strcmp(k, "http_port") == 0)
		return get_long(r, v, "http_port", 0, 65535, &s->http_port);
	if (strcmp(k, "dns_port") == 0)
		return get_long(r, v, "dns_port", 1, 65535, &s->dns_port);
	if (strcmp(k, "upstream_dns") == 0) {
		if (v->type == YAML_SEQUENCE_NODE) {
			yaml_node_item_t *it;
			s->n_upstream_dns = 0;
			for (it = v->data.sequence.items.start;
			    it < v->data.sequence.items.top; it++) {
				yaml_node_t *e = yaml_document_get_node(r->doc, *it);
				const char *ip;
				if (e == NULL || (ip = scalar(r, e, "upstream_dns")) == NULL)
					return CONDUIT_EINVAL;
				if (s->n_upstream_dns >= CONDUIT_MAX_UPSTREAM_DNS)
					return node_err(r, e, "upstream_dns lists more "
					    "than 4 servers%s%s", "", "");
				if ((rc = at(r, e, conduit_validate_ip("upstream_dns",
				    ip, r->err))) != 0)
					return rc;
				snprintf(s->upstream_dns[s->n_upstream_dns++],
				    sizeof(s->upstream_dns[0]), "%s", ip);
			}
			return 0;
		}
		const char *csv = scalar(r, v, "upstream_dns");
		return csv ? at(r, v, conduit_settings_set_upstream_dns(s,
		    "upstream_dns", csv, r->err)) : CONDUIT_EINVAL;
	}
	if (strcmp(k, "health") == 0)
		return walk_map(r, v, "health", sec_health, s);
	if (strcmp(k, "probe") == 0)
		return walk_map(r, v, "probe", sec_probe, s);
	if (strcmp(k, "tls") == 0)
		return walk_map(r, v, "tls", sec_tls, s);
	if (strcmp(k, "dns") == 0)
		return walk_map(r, v, "dns", sec_dns, s);
	if (strcmp(k, "caddy") == 0)
		return walk_map(r, v, "caddy", sec_caddy, s);
	if (strcmp(k, "dnsmasq") == 0)
		return walk_map(r, v, "dnsmasq", sec_dnsmasq, s);
	if (strcmp(k, "monitor") == 0)
		return walk_map(r, v, "monitor", sec_monitor, s);
	return 1;
}

int
conduit_settings_load(struct conduit_settings *s, const char *path,
    struct conduit_err *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	struct rd r;
	FILE *fp;
	int rc = 0;

	fp = fopen(path, "rb");
	if (fp == NULL)
		return conduit_err_set(err, CONDUIT_ENOTFOUND,
		    "config file %s cannot be opened", path);
	if (!yaml_parser_initialize(&parser)) {
		fclose(fp);
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	}
	yaml_parser_set_input_file(&parser, fp);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = conduit_err_set(err, CONDUIT_EINVAL, "%s:%zu:%zu: %s", path,
		    parser.problem_mark.line + 1, parser.problem_mark.column + 1,
		    parser.problem ? parser.problem : "YAML syntax error");
		yaml_parser_delete(&parser);
		fclose(fp);
		return rc;
	}
	root = yaml_document_get_root_node(&doc);
	r.doc = &doc;
	r.fname = path;
	r.err = err;
	if (root != NULL && !(root->type == YAML_SCALAR_NODE &&
	    root->data.scalar.length == 0))
		rc = walk_map(&r, root, "the top level", sec_top, s);
	if (rc == 0)
		rc = conduit_settings_validate(s, err);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(fp);
	return rc;
}

int
conduit_settings_validate(const struct conduit_settings *s,
    struct conduit_err *err)
{
	char tmp[256];
	size_t i;
	int rc;

	if ((rc = conduit_validate_domain("domain", s->domain, tmp, sizeof(tmp),
	    err)) != 0)
		return rc;
	if ((rc = conduit_validate_ip("listen", s->listen, err)) != 0)
		return rc;
	if (s->gateway_ip[0] &&
	    (rc = conduit_validate_ip("gateway_ip", s->gateway_ip, err)) != 0)
		return rc;
	if (s->https_port < 1 || s->https_port > 65535)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "https_port \"%ld\" is out of range 1-65535", s->https_port);
	if (s->http_port < 0 || s->http_port > 65535)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "http_port \"%ld\" is out of range 0-65535", s->http_port);
	if (s->dns_port < 1 || s->dns_port > 65535)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "dns_port \"%ld\" is out of range 1-65535", s->dns_port);
	if (s->http_port != 0 && s->http_port == s->https_port)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "http_port and https_port are both %ld; they must differ",
		    s->http_port);
	for (i = 0; i < s->n_upstream_dns; i++)
		if ((rc = conduit_validate_ip("upstream_dns", s->upstream_dns[i],
		    err)) != 0)
			return rc;
	if ((rc = conduit_validate_health_path("health.path", s->health.path,
	    err)) != 0)
		return rc;
	if (s->health.timeout_ms <= 0 || s->health.interval_ms <= 0)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "health.interval and health.timeout must be positive");
	return 0;
}

/* ---- writing ---------------------------------------------------------- */

char *
conduit_settings_render_yaml(const struct conduit_settings *s)
{
	char dns[CONDUIT_MAX_UPSTREAM_DNS * 66 + 8] = "";
	char servers[CONDUIT_MAX_SERVERS * 264 + 8] = "";
	size_t i, off = 0;
	char *out;
	int n;

	for (i = 0; i < s->n_upstream_dns; i++)
		off += (size_t)snprintf(dns + off, sizeof(dns) - off, "%s\"%s\"",
		    i ? ", " : "", s->upstream_dns[i]);
	off = 0;
	for (i = 0; i < s->n_monitor_servers; i++)
		off += (size_t)snprintf(servers + off, sizeof(servers) - off,
		    "%s\"%s\"", i ? ", " : "", s->monitor_servers[i]);

	n = asprintf(&out,
	    "# conduit settings. Written by `conduit init`; edit freely.\n"
	    "# Precedence: command-line flags > environment > this file > defaults.\n"
	    "# Reference: docs/configuration.md\n"
	    "\n"
	    "# Names are served as NAME.DOMAIN.\n"
	    "domain: \"%s\"\n"
	    "# Address the gateway (Caddy) and DNS (dnsmasq) bind to.\n"
	    "listen: \"%s\"\n"
	    "# Address DNS answers for proxied names (\"\" = listen address, or this\n"
	    "# host's primary address when listen is 0.0.0.0).\n"
	    "gateway_ip: \"%s\"\n"
	    "https_port: %ld\n"
	    "# Plain HTTP port that redirects to HTTPS; 0 turns it off.\n"
	    "http_port: %ld\n"
	    "dns_port: %ld\n"
	    "# DNS servers for names outside the domain; [] = air-gapped (refused).\n"
	    "upstream_dns: [%s]\n"
	    "\n"
	    "# Health checks: Caddy's active checks and `conduit status` use these.\n"
	    "health:\n"
	    "  path: \"%s\"\n"
	    "  interval: %ldms\n"
	    "  timeout: %ldms\n"
	    "  passes: %ld   # consecutive passes before a service counts as up\n"
	    "  fails: %ld    # consecutive failures before it counts as down\n"
	    "\n"
	    "probe:\n"
	    "  concurrency: %ld   # probes in flight at once in `conduit status`\n"
	    "\n"
	    "tls:\n"
	    "  key_type: %s   # root CA key: ecdsa (P-256) or ed25519\n"
	    "\n"
	    "dns:\n"
	    "  enabled: %s\n"
	    "  mode: %s   # managed: conduit runs dnsmasq; system: a system dnsmasq\n"
	    "  system_dir: \"%s\"\n"
	    "  local_ttl: %ld   # seconds\n"
	    "\n"
	    "caddy:\n"
	    "  bin: \"%s\"\n"
	    "dnsmasq:\n"
	    "  bin: \"%s\"\n"
	    "\n"
	    "monitor:\n"
	    "  sample_window: %ldms   # CPU utilisation sample\n"
	    "  ssh_timeout: %ldms\n"
	    "  docker_socket: \"%s\"\n"
	    "  servers: [%s]   # [USER@]HOST polled over ssh\n"
	    "  thresholds:\n"
	    "    gpu_temperature: %g   # degrees C\n"
	    "    gpu_vram: %g          # percent\n"
	    "    disk: %g              # percent\n"
	    "    memory: %g            # percent\n"
	    "    container_restarts: %s\n"
	    "    container_unhealthy: %s\n"
	    "    gpu_throttle: %s\n",
	    s->domain, s->listen, s->gateway_ip, s->https_port, s->http_port,
	    s->dns_port, dns, s->health.path, s->health.interval_ms,
	    s->health.timeout_ms, s->health.passes, s->health.fails,
	    s->probe_concurrency, s->tls_key_type,
	    s->dns_enabled ? "true" : "false", s->dns_mode, s->dns_system_dir,
	    s->dns_local_ttl, s->caddy_bin, s->dnsmasq_bin, s->monitor_sample_ms,
	    s->monitor_ssh_timeout_ms, s->docker_socket, servers,
	    s->thresholds.gpu_temp_c, s->thresholds.gpu_vram_pct,
	    s->thresholds.disk_pct, s->thresholds.mem_pct,
	    s->thresholds.container_restarts ? "true" : "false",
	    s->thresholds.container_unhealthy ? "true" : "false",
	    s->thresholds.gpu_throttle ? "true" : "false");
	return n < 0 ? NULL : out;
}

int
conduit_settings_gateway_addr(const struct conduit_settings *s, char *out,
    size_t outlen)
{
	struct ifaddrs *ifa, *i;
	int found = -1;

	if (s->gateway_ip[0]) {
		snprintf(out, outlen, "%s", s->gateway_ip);
		return 0;
	}
	if (strcmp(s->listen, "0.0.0.0") != 0 && strcmp(s->listen, "::") != 0) {
		snprintf(out, outlen, "%s", s->listen);
		return 0;
	}
	/* The first non-loopback IPv4 address that is up. */
	if (getifaddrs(&ifa) != 0)
		return -1;
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
		    (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
			continue;
		if (inet_ntop(AF_INET,
		    &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, out,
		    (socklen_t)outlen) != NULL) {
			found = 0;
			break;
		}
	}
	freeifaddrs(ifa);
	if (found != 0)
		snprintf(out, outlen, "127.0.0.1");
	return 0;
}
