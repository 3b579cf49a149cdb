/*
 * cmd_register.c - `conduit register`: add a service.
 *
 * Every input is validated before the registry lock is taken; the
 * duplicate check runs under the lock, on the registry as it is at that
 * moment, so twenty concurrent registers of one name yield one record.
 * The change goes through the transaction (txn.h): backends first,
 * services.json and the audit record only once they accepted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "conduit/audit.h"
#include "conduit/registry.h"
#include "conduit/txn.h"
#include "conduit/validate.h"
#include "util.h"

static const char *o_name, *o_host, *o_port, *o_health, *o_scheme;
static struct conduit_strlist o_upstreams, o_aliases;
static bool o_no_tls, o_dns_only, o_no_reload;

static const struct conduit_opt register_opts[] = {
	OPT_STRING_(0, "name", "NAME", "service name, a DNS label (or the first argument)", &o_name),
	OPT_STRING_(0, "host", "HOST", "upstream host: IPv4, IPv6 or hostname (required)", &o_host),
	OPT_STRING_(0, "port", "PORT", "upstream port 1-65535 (required)", &o_port),
	OPT_LIST_(0, "upstream", "HOST:PORT", "a further upstream for load balancing; repeatable ([v6]:port)", &o_upstreams),
	OPT_STRING_(0, "health", "PATH", "health-check path (default: health.path setting)", &o_health),
	OPT_STRING_(0, "scheme", "http|https", "protocol to the upstream (default http)", &o_scheme),
	OPT_BOOL_(0, "no-tls", "serve over plain HTTP on the gateway instead of HTTPS", &o_no_tls),
	OPT_BOOL_(0, "dns-only", "DNS record to the upstream only, no route (databases, caches)", &o_dns_only),
	OPT_LIST_(0, "alias", "NAME", "a further name for the service; repeatable", &o_aliases),
	OPT_BOOL_(0, "no-reload", "change the registry and rendered files only; do not contact running backends", &o_no_reload),
	OPT_END_()
};

static int
add_upstream(struct conduit_service *s, const char *host, long port)
{
	struct conduit_upstream *u = realloc(s->upstreams,
	    (s->n_upstreams + 1) * sizeof(*u));

	if (u == NULL)
		return CONDUIT_ENOMEM;
	s->upstreams = u;
	snprintf(u[s->n_upstreams].host, CONDUIT_HOST_MAX, "%s", host);
	u[s->n_upstreams].port = port;
	s->n_upstreams++;
	return 0;
}

/* Builds the record from the flags; validates everything. */
static int
build(const char *name, struct conduit_service *s, struct conduit_err *err)
{
	char host[CONDUIT_HOST_MAX];
	long port;
	size_t i, j;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = conduit_validate_name("name", name, s->name, sizeof(s->name),
	    err)) != 0)
		return rc;
	if (o_host == NULL)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "--host is required (the upstream's address)");
	if (o_port == NULL)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "--port is required (the upstream's port)");
	if ((rc = conduit_validate_host("host", o_host, NULL, err)) != 0 ||
	    (rc = conduit_validate_port("port", o_port, 1, &port, err)) != 0)
		return rc;
	if (add_upstream(s, o_host, port) != 0)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	for (i = 0; i < o_upstreams.n; i++) {
		if ((rc = conduit_validate_hostport("upstream", o_upstreams.v[i],
		    host, sizeof(host), &port, err)) != 0)
			return rc;
		for (j = 0; j < s->n_upstreams; j++)
			if (strcmp(s->upstreams[j].host, host) == 0 &&
			    s->upstreams[j].port == port)
				return conduit_err_set(err, CONDUIT_EINVAL,
				    "upstream \"%s\" is listed twice", o_upstreams.v[i]);
		if (add_upstream(s, host, port) != 0)
			return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	}
	if (o_health) {
		if ((rc = conduit_validate_health_path("health path", o_health,
		    err)) != 0)
			return rc;
		snprintf(s->health_path, sizeof(s->health_path), "%s", o_health);
	}
	if (o_scheme && (rc = conduit_validate_scheme("scheme", o_scheme,
	    err)) != 0)
		return rc;
	snprintf(s->scheme, sizeof(s->scheme), "%s", o_scheme ? o_scheme : "http");
	s->tls = !o_no_tls;
	s->dns_only = o_dns_only;
	if (o_aliases.n) {
		s->aliases = calloc(o_aliases.n, sizeof(*s->aliases));
		if (s->aliases == NULL)
			return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	}
	for (i = 0; i < o_aliases.n; i++) {
		if ((rc = conduit_validate_name("alias", o_aliases.v[i],
		    s->aliases[i], CONDUIT_NAME_MAX, err)) != 0)
			return rc;
		s->n_aliases++;
		if (strcmp(s->aliases[i], s->name) == 0)
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "alias \"%s\" is the service's own name", s->aliases[i]);
		for (j = 0; j < i; j++)
			if (strcmp(s->aliases[i], s->aliases[j]) == 0)
				return conduit_err_set(err, CONDUIT_EINVAL,
				    "alias \"%s\" is listed twice", s->aliases[i]);
	}
	snprintf(s->health, sizeof(s->health), "unknown");
	s->status = SVC_ACTIVE;
	conduit_timestamp(s->registered_at, 0);
	memcpy(s->updated_at, s->registered_at, sizeof(s->updated_at));
	return 0;
}

/* A name or alias of s already in use by an active record. */
static const char *
collision(const struct conduit_registry *reg, const struct conduit_service *s)
{
	size_t i;

	if (conduit_registry_find_active(reg, s->name, true) != NULL)
		return s->name;
	for (i = 0; i < s->n_aliases; i++)
		if (conduit_registry_find_active(reg, s->aliases[i], true) != NULL)
			return s->aliases[i];
	return NULL;
}

cJSON *
cli_register_details(const struct conduit_service *s)
{
	cJSON *d = cJSON_CreateObject(), *a;
	char port[16];
	size_t i;

	snprintf(port, sizeof(port), "%ld", s->upstreams[0].port);
	cJSON_AddStringToObject(d, "name", s->name);
	cJSON_AddStringToObject(d, "host", s->upstreams[0].host);
	cJSON_AddStringToObject(d, "port", port);
	cJSON_AddStringToObject(d, "protocol", s->tls ? "https" : "http");
	cJSON_AddStringToObject(d, "health_path", s->health_path);
	cJSON_AddBoolToObject(d, "tls", s->tls);
	cJSON_AddBoolToObject(d, "dns_only", s->dns_only);
	cJSON_AddStringToObject(d, "scheme", s->scheme);
	a = cJSON_AddArrayToObject(d, "upstreams");
	for (i = 0; i < s->n_upstreams; i++) {
		char hp[CONDUIT_HOST_MAX + 16];
		bool v6 = strchr(s->upstreams[i].host, ':') != NULL;
		snprintf(hp, sizeof(hp), "%s%s%s:%ld", v6 ? "[" : "",
		    s->upstreams[i].host, v6 ? "]" : "", s->upstreams[i].port);
		cJSON_AddItemToArray(a, cJSON_CreateString(hp));
	}
	a = cJSON_AddArrayToObject(d, "aliases");
	for (i = 0; i < s->n_aliases; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(s->aliases[i]));
	return d;
}

static int
register_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	struct conduit_service svc;
	struct conduit_txn txn;
	struct cli_audit recs = { 0 };
	const char *name = NULL, *clash;
	char msg[512];
	int rc, npos;

	if ((rc = conduit_opts_parse(&cmd_register_entry, register_opts, argc,
	    argv, &npos, err)) != 0)
		return rc == 1 ? 0 : cli_fail(ctx, "service_register", NULL, err);
	if ((rc = cli_take_name(o_name, npos, argv, &name, err)) != 0)
		return cli_fail(ctx, "service_register", NULL, err);
	memset(&svc, 0, sizeof(svc));
	if ((rc = build(name, &svc, err)) != 0) {
		conduit_service_free(&svc);
		return cli_fail(ctx, "service_register", name, err);
	}

	if ((rc = conduit_txn_begin(&txn, ctx->state_dir, &ctx->settings,
	    err)) != 0)
		goto fail;
	txn.no_reload = o_no_reload;
	if ((clash = collision(&txn.cur, &svc)) != NULL) {
		rc = conduit_err_set(err, CONDUIT_EEXISTS,
		    "\"%s\" is already registered and active; deregister it "
		    "first or choose another name", clash);
		goto fail;
	}
	snprintf(msg, sizeof(msg), "Registered service: %s (%s%s%s:%ld)", svc.name,
	    strchr(svc.upstreams[0].host, ':') ? "[" : "", svc.upstreams[0].host,
	    strchr(svc.upstreams[0].host, ':') ? "]" : "", svc.upstreams[0].port);
	/* service_register, then the dns_add of each name it brings. */
	if ((rc = cli_audit_push(&recs, "service_register", msg,
	    cli_register_details(&svc), err)) != 0 ||
	    (rc = cli_dns_audit(ctx, &svc, true, &recs, err)) != 0 ||
	    (rc = conduit_registry_add(&txn.next, &svc, err)) != 0)
		goto fail;
	if ((rc = conduit_txn_commit(&txn, recs.v, recs.n, err)) != 0)
		goto fail;
	conduit_txn_end(&txn);
	cli_audit_free(&recs);
	printf("registered %s -> %s\n", name, msg + strlen("Registered service: "));
	return 0;
fail:
	conduit_txn_end(&txn);
	cli_audit_free(&recs);
	conduit_service_free(&svc);
	return cli_fail(ctx, "service_register", name, err);
}

const struct conduit_cmd cmd_register_entry = {
	.name = "register",
	.summary = "add a service: a name, TLS route and DNS record",
	.usage = "register [--name] NAME --host HOST --port PORT "
	    "[--upstream HOST:PORT]... [--health PATH] [--scheme http|https] "
	    "[--no-tls] [--dns-only] [--alias NAME]... [--no-reload]",
	.description = "Validates every value, then under the registry lock "
	    "adds the service, reloads the\nbackends and only then saves "
	    "services.json and the audit record. A name that is\nalready "
	    "active is refused and nothing changes.",
	.flags = CMD_NEEDS_STATE | CMD_MUTATES,
	.opts = register_opts,
	.exec = register_exec,
};
