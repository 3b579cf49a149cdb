/*
 * caddy.c - the registry and the settings as one Caddy JSON config.
 *
 * Pure: no I/O, so unit tests compare the document in memory.  The shape
 * (docs/gateway.md):
 *
 *   admin    unix socket in <state>/run, autosave off; present in every
 *            config, because Caddy 2.6 moves a config without it to TCP.
 *   storage  <state>/caddy, so certificates live with the state dir
 *            whoever starts Caddy (conduit up or systemd).
 *   logging  the default log without access entries, plus one JSON
 *            access log per service in logs/access/NAME.log.
 *   http     server "conduit-https" on listen:https_port: one route per
 *            active, routed service (host NAME.DOMAIN + aliases ->
 *            reverse_proxy over its upstreams with active and passive
 *            health checks), then a catch-all 404 naming the host.
 *            Server "conduit-http" on listen:http_port (absent when 0):
 *            routes for `tls: false` services, then a redirect to HTTPS.
 *   pki      the CA "local" with conduit's root from <state>/pki;
 *            install_trust false (conduit certs trust does that).
 *   tls      leaves from the internal issuer with an explicit lifetime,
 *            plus a managed *.DOMAIN certificate that unknown names and
 *            clients without SNI get, so they reach the 404 instead of a
 *            handshake failure.
 *
 * Routes are emitted in registry order, which is registration order, so
 * an unchanged registry renders byte-identical text and the transaction
 * can skip the reload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "conduit/caddy.h"
#include "conduit/state.h"

int
conduit_caddy_paths(const char *state_dir, struct conduit_caddy_paths *p,
    struct conduit_err *err)
{
	static const struct {
		size_t off;
		const char *rel;
	} map[] = {
		{ offsetof(struct conduit_caddy_paths, admin_socket),
		    CONDUIT_D_RUN "/caddy-admin.sock" },
		{ offsetof(struct conduit_caddy_paths, pidfile),
		    CONDUIT_D_RUN "/caddy.pid" },
		{ offsetof(struct conduit_caddy_paths, logfile),
		    CONDUIT_D_LOGS "/caddy.log" },
		{ offsetof(struct conduit_caddy_paths, access_dir),
		    CONDUIT_D_LOGS "/access" },
		{ offsetof(struct conduit_caddy_paths, storage), CONDUIT_D_CADDY },
		{ offsetof(struct conduit_caddy_paths, config),
		    CONDUIT_D_CADDY "/caddy.json" },
		{ offsetof(struct conduit_caddy_paths, root_cert),
		    CONDUIT_D_PKI "/root.crt" },
		{ offsetof(struct conduit_caddy_paths, root_key),
		    CONDUIT_D_PKI "/root.key" },
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if ((rc = conduit_state_path((char *)p + map[i].off, PATH_MAX,
		    state_dir, map[i].rel, err)) != 0)
			return rc;
	/* sun_path is 108 bytes on Linux; say so rather than fail in Caddy. */
	if (strlen(p->admin_socket) >= 108)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "admin socket path %s is %zu bytes, over the 107 a unix "
		    "socket allows: use a shorter --state-dir", p->admin_socket,
		    strlen(p->admin_socket));
	return 0;
}

void
conduit_caddy_health_for(const struct conduit_settings *s,
    const struct conduit_service *svc, struct conduit_health_cfg *out)
{
	const struct conduit_health_override *o = &svc->health_cfg;

	*out = s->health;
	if (svc->health_path[0] != '\0')
		snprintf(out->path, sizeof(out->path), "%s", svc->health_path);
	else if (o->path[0] != '\0')
		snprintf(out->path, sizeof(out->path), "%s", o->path);
	if (o->interval_ms > 0)
		out->interval_ms = o->interval_ms;
	if (o->timeout_ms > 0)
		out->timeout_ms = o->timeout_ms;
	if (o->passes > 0)
		out->passes = o->passes;
	if (o->fails > 0)
		out->fails = o->fails;
}

int
conduit_caddy_route_id(const char *name, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "conduit-svc-%s", name);

	return n < 0 || (size_t)n >= outlen ? CONDUIT_EINVAL : 0;
}

/* "HOST:PORT" with IPv6 literals bracketed. */
static void
hostport(char *out, size_t len, const char *host, long port)
{
	bool v6 = strchr(host, ':') != NULL;

	snprintf(out, len, "%s%s%s:%ld", v6 ? "[" : "", host, v6 ? "]" : "",
	    port);
}

static cJSON *
str_array1(const char *s)
{
	cJSON *a = cJSON_CreateArray();

	cJSON_AddItemToArray(a, cJSON_CreateString(s));
	return a;
}

static void
add_duration(cJSON *obj, const char *key, long ms)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ldms", ms);
	cJSON_AddStringToObject(obj, key, buf);
}

static bool
routed(const struct conduit_service *svc)
{
	return svc->status == SVC_ACTIVE && !svc->dns_only &&
	    svc->n_upstreams > 0;
}

static void
logger_name(char *out, size_t len, const char *svc)
{
	snprintf(out, len, "conduit_access_%s", svc);
}

static cJSON *
host_list(const struct conduit_settings *s, const struct conduit_service *svc)
{
	cJSON *a = cJSON_CreateArray();
	char fq[CONDUIT_NAME_MAX + 256];
	size_t i;

	snprintf(fq, sizeof(fq), "%s.%s", svc->name, s->domain);
	cJSON_AddItemToArray(a, cJSON_CreateString(fq));
	for (i = 0; i < svc->n_aliases; i++) {
		snprintf(fq, sizeof(fq), "%s.%s", svc->aliases[i], s->domain);
		cJSON_AddItemToArray(a, cJSON_CreateString(fq));
	}
	return a;
}

static cJSON *
proxy_handler(const struct conduit_settings *s,
    const struct conduit_service *svc)
{
	struct conduit_health_cfg h;
	cJSON *rp = cJSON_CreateObject(), *ups, *u, *lb, *hc, *act, *pas, *hdr,
	    *req, *set, *sel;
	char dial[CONDUIT_HOST_MAX + 16];
	size_t i;

	conduit_caddy_health_for(s, svc, &h);
	cJSON_AddStringToObject(rp, "handler", "reverse_proxy");
	ups = cJSON_AddArrayToObject(rp, "upstreams");
	for (i = 0; i < svc->n_upstreams; i++) {
		hostport(dial, sizeof(dial), svc->upstreams[i].host,
		    svc->upstreams[i].port);
		u = cJSON_CreateObject();
		cJSON_AddStringToObject(u, "dial", dial);
		cJSON_AddItemToArray(ups, u);
	}

	/* Round robin so every upstream gets traffic; a failed dial is
	 * retried on the next upstream for up to one health timeout. */
	lb = cJSON_AddObjectToObject(rp, "load_balancing");
	sel = cJSON_AddObjectToObject(lb, "selection_policy");
	cJSON_AddStringToObject(sel, "policy", "round_robin");
	add_duration(lb, "try_duration", h.timeout_ms);
	add_duration(lb, "try_interval", 100);

	/* Caddy 2.6's active checks take one failure to mark an upstream
	 * down and one pass to bring it back (no passes/fails fields);
	 * `fails` is applied through the passive check's max_fails, which
	 * counts failures over one check interval. */
	hc = cJSON_AddObjectToObject(rp, "health_checks");
	act = cJSON_AddObjectToObject(hc, "active");
	cJSON_AddStringToObject(act, "uri", h.path);
	add_duration(act, "interval", h.interval_ms);
	add_duration(act, "timeout", h.timeout_ms);
	pas = cJSON_AddObjectToObject(hc, "passive");
	add_duration(pas, "fail_duration", h.interval_ms);
	cJSON_AddNumberToObject(pas, "max_fails", (double)h.fails);

	/* Caddy sets X-Forwarded-For/-Proto/-Host itself. */
	hdr = cJSON_AddObjectToObject(rp, "headers");
	req = cJSON_AddObjectToObject(hdr, "request");
	set = cJSON_AddObjectToObject(req, "set");
	cJSON_AddItemToObject(set, "X-Conduit-Service", str_array1(svc->name));

	if (strcmp(svc->scheme, "https") == 0) {
		cJSON *t = cJSON_AddObjectToObject(rp, "transport");
		cJSON_AddStringToObject(t, "protocol", "http");
		cJSON_AddObjectToObject(t, "tls");
	}
	return rp;
}

static cJSON *
service_route(const struct conduit_settings *s,
    const struct conduit_service *svc)
{
	cJSON *r = cJSON_CreateObject(), *m, *mh, *h;
	char id[CONDUIT_NAME_MAX + 16];

	(void)conduit_caddy_route_id(svc->name, id, sizeof(id));
	cJSON_AddStringToObject(r, "@id", id);
	m = cJSON_AddArrayToObject(r, "match");
	mh = cJSON_CreateObject();
	cJSON_AddItemToObject(mh, "host", host_list(s, svc));
	cJSON_AddItemToArray(m, mh);
	h = cJSON_AddArrayToObject(r, "handle");
	cJSON_AddItemToArray(h, proxy_handler(s, svc));
	cJSON_AddBoolToObject(r, "terminal", true);
	return r;
}

static cJSON *
static_route(int status, const char *body, const char *location)
{
	cJSON *r = cJSON_CreateObject(), *h, *sr, *hd;

	h = cJSON_AddArrayToObject(r, "handle");
	sr = cJSON_CreateObject();
	cJSON_AddStringToObject(sr, "handler", "static_response");
	cJSON_AddNumberToObject(sr, "status_code", status);
	hd = cJSON_AddObjectToObject(sr, "headers");
	if (location != NULL)
		cJSON_AddItemToObject(hd, "Location", str_array1(location));
	else
		cJSON_AddItemToObject(hd, "Content-Type",
		    str_array1("text/plain; charset=utf-8"));
	if (body != NULL)
		cJSON_AddStringToObject(sr, "body", body);
	cJSON_AddItemToArray(h, sr);
	cJSON_AddBoolToObject(r, "terminal", true);
	return r;
}

static cJSON *
server(const struct conduit_settings *s, long port)
{
	cJSON *srv = cJSON_CreateObject(), *pr;
	char addr[96];

	hostport(addr, sizeof(addr), s->listen, port);
	cJSON_AddItemToObject(srv, "listen", str_array1(addr));
	/* No HTTP/3: it would need the UDP port too, for no gain on a LAN. */
	pr = cJSON_AddArrayToObject(srv, "protocols");
	cJSON_AddItemToArray(pr, cJSON_CreateString("h1"));
	cJSON_AddItemToArray(pr, cJSON_CreateString("h2"));
	cJSON_AddArrayToObject(srv, "routes");
	cJSON_AddObjectToObject(cJSON_AddObjectToObject(srv, "logs"),
	    "logger_names");
	return srv;
}

/* Adds svc's route to srv and its access log to logs. */
static void
add_service(const struct conduit_settings *s, const struct conduit_caddy_paths *p,
    const struct conduit_service *svc, cJSON *srv, cJSON *logs)
{
	cJSON *names = cJSON_GetObjectItem(cJSON_GetObjectItem(srv, "logs"),
	    "logger_names"), *hosts, *h, *lg, *w, *e, *inc;
	char lname[CONDUIT_NAME_MAX + 32], file[PATH_MAX + 80], inc_name[128];

	cJSON_AddItemToArray(cJSON_GetObjectItem(srv, "routes"),
	    service_route(s, svc));
	logger_name(lname, sizeof(lname), svc->name);
	hosts = host_list(s, svc);
	cJSON_ArrayForEach(h, hosts)
		cJSON_AddStringToObject(names, h->valuestring, lname);
	cJSON_Delete(hosts);

	snprintf(file, sizeof(file), "%s/%s.log", p->access_dir, svc->name);
	snprintf(inc_name, sizeof(inc_name), "http.log.access.%s", lname);
	lg = cJSON_AddObjectToObject(logs, lname);
	w = cJSON_AddObjectToObject(lg, "writer");
	cJSON_AddStringToObject(w, "output", "file");
	cJSON_AddStringToObject(w, "filename", file);
	e = cJSON_AddObjectToObject(lg, "encoder");
	cJSON_AddStringToObject(e, "format", "json");
	inc = cJSON_AddArrayToObject(lg, "include");
	cJSON_AddItemToArray(inc, cJSON_CreateString(inc_name));
}

static cJSON *
pki_app(const struct conduit_settings *s, const struct conduit_caddy_paths *p)
{
	cJSON *pki = cJSON_CreateObject(), *cas, *ca, *root;
	char cn[320];

	cas = cJSON_AddObjectToObject(pki, "certificate_authorities");
	ca = cJSON_AddObjectToObject(cas, "local");
	cJSON_AddStringToObject(ca, "name", "conduit internal CA");
	snprintf(cn, sizeof(cn), "conduit intermediate (%s)", s->domain);
	cJSON_AddStringToObject(ca, "intermediate_common_name", cn);
	cJSON_AddBoolToObject(ca, "install_trust", false);
	root = cJSON_AddObjectToObject(ca, "root");
	cJSON_AddStringToObject(root, "certificate", p->root_cert);
	cJSON_AddStringToObject(root, "private_key", p->root_key);
	cJSON_AddStringToObject(root, "format", "pem_file");
	return pki;
}

static cJSON *
tls_app(const struct conduit_settings *s)
{
	cJSON *tls = cJSON_CreateObject(), *certs, *aut, *pols, *pol, *iss, *is;
	char wild[300];

	snprintf(wild, sizeof(wild), "*.%s", s->domain);
	certs = cJSON_AddObjectToObject(tls, "certificates");
	cJSON_AddItemToObject(certs, "automate", str_array1(wild));
	aut = cJSON_AddObjectToObject(tls, "automation");
	pols = cJSON_AddArrayToObject(aut, "policies");
	pol = cJSON_CreateObject();
	iss = cJSON_AddArrayToObject(pol, "issuers");
	is = cJSON_CreateObject();
	cJSON_AddStringToObject(is, "module", "internal");
	cJSON_AddStringToObject(is, "ca", "local");
	cJSON_AddStringToObject(is, "lifetime", CONDUIT_CADDY_LEAF_LIFETIME);
	cJSON_AddItemToArray(iss, is);
	cJSON_AddStringToObject(pol, "key_type",
	    strcmp(s->tls_key_type, "ed25519") == 0 ? "ed25519" : "p256");
	cJSON_AddItemToArray(pols, pol);
	return tls;
}

cJSON *
conduit_caddy_config(const struct conduit_settings *s,
    const struct conduit_registry *reg, const struct conduit_caddy_paths *p)
{
	cJSON *doc = cJSON_CreateObject(), *admin, *cfg, *st, *logs, *def, *ex,
	    *apps, *http, *servers, *https, *plain = NULL, *tcp;
	char sock[PATH_MAX + 8], wild[300], loc[128];
	size_t i;

	if (doc == NULL)
		return NULL;
	admin = cJSON_AddObjectToObject(doc, "admin");
	snprintf(sock, sizeof(sock), "unix/%s", p->admin_socket);
	cJSON_AddStringToObject(admin, "listen", sock);
	cfg = cJSON_AddObjectToObject(admin, "config");
	cJSON_AddBoolToObject(cfg, "persist", false);

	st = cJSON_AddObjectToObject(doc, "storage");
	cJSON_AddStringToObject(st, "module", "file_system");
	cJSON_AddStringToObject(st, "root", p->storage);

	logs = cJSON_AddObjectToObject(cJSON_AddObjectToObject(doc, "logging"),
	    "logs");
	def = cJSON_AddObjectToObject(logs, "default");
	ex = cJSON_AddArrayToObject(def, "exclude");
	cJSON_AddItemToArray(ex, cJSON_CreateString("http.log.access"));

	apps = cJSON_AddObjectToObject(doc, "apps");
	http = cJSON_AddObjectToObject(apps, "http");
	/* http_port tells Caddy which listener is plain HTTP; with 0 there
	 * is none and Caddy's default (80) is never bound. */
	if (s->http_port > 0)
		cJSON_AddNumberToObject(http, "http_port", (double)s->http_port);
	cJSON_AddNumberToObject(http, "https_port", (double)s->https_port);
	servers = cJSON_AddObjectToObject(http, "servers");

	https = server(s, s->https_port);
	/* conduit writes its own redirect server (below), with the port. */
	cJSON_AddBoolToObject(cJSON_AddObjectToObject(https, "automatic_https"),
	    "disable_redirects", true);
	snprintf(wild, sizeof(wild), "*.%s", s->domain);
	tcp = cJSON_CreateObject();
	cJSON_AddStringToObject(tcp, "default_sni", wild);
	cJSON_AddItemToObject(https, "tls_connection_policies", cJSON_CreateArray());
	cJSON_AddItemToArray(cJSON_GetObjectItem(https,
	    "tls_connection_policies"), tcp);
	cJSON_AddItemToObject(servers, "conduit-https", https);
	if (s->http_port > 0) {
		plain = server(s, s->http_port);
		cJSON_AddItemToObject(servers, "conduit-http", plain);
	}

	for (i = 0; i < reg->n; i++) {
		const struct conduit_service *svc = &reg->services[i];
		if (!routed(svc))
			continue;
		if (svc->tls)
			add_service(s, p, svc, https, logs);
		else if (plain != NULL)
			add_service(s, p, svc, plain, logs);
	}

	cJSON_AddItemToArray(cJSON_GetObjectItem(https, "routes"),
	    static_route(404, "conduit: no service is registered as "
	    "{http.request.host} (see `conduit list`)\n", NULL));
	if (plain != NULL) {
		if (s->https_port == 443)
			snprintf(loc, sizeof(loc),
			    "https://{http.request.host}{http.request.uri}");
		else
			snprintf(loc, sizeof(loc),
			    "https://{http.request.host}:%ld{http.request.uri}",
			    s->https_port);
		cJSON_AddItemToArray(cJSON_GetObjectItem(plain, "routes"),
		    static_route(308, NULL, loc));
	}

	cJSON_AddItemToObject(apps, "pki", pki_app(s, p));
	cJSON_AddItemToObject(apps, "tls", tls_app(s));
	return doc;
}

int
conduit_caddy_render(const struct conduit_settings *s,
    const struct conduit_registry *reg, const struct conduit_caddy_paths *p,
    char **out, size_t *outlen, struct conduit_err *err)
{
	cJSON *doc = conduit_caddy_config(s, reg, p);
	char *text;

	if (doc == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (text == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	*out = text;
	if (outlen)
		*outlen = strlen(text);
	return 0;
}
