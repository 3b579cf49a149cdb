/*
 * cmd_list.c - `conduit list`: the registry, no network.
 *
 * --json is the scripting API (docs/registry.md): {"version": 1,
 * "domain": ..., "services": [record...]} with records exactly as in
 * services.json plus "fqdn" and "url".
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "conduit/history.h"
#include "conduit/registry.h"
#include "conduit/state.h"
#include "util.h"

static bool o_all, o_json;
static const char *o_at;

static const struct conduit_opt list_opts[] = {
	OPT_BOOL_('a', "all", "include deregistered (inactive) records", &o_all),
	OPT_BOOL_(0, "json", "print the documented JSON document instead of a table", &o_json),
	OPT_STRING_(0, "at", "DATE", "the registry as it was then, rebuilt from audit.log (UTC: YYYY-MM-DD[THH:MM[:SS]Z])", &o_at),
	OPT_END_()
};

static void
service_url(const struct conduit_ctx *ctx, const struct conduit_service *s,
    char *out, size_t len)
{
	const struct conduit_settings *st = &ctx->settings;
	bool dflt;

	if (s->dns_only) {
		snprintf(out, len, "%s.%s", s->name, st->domain);
		return;
	}
	if (s->tls) {
		dflt = st->https_port == 443;
		snprintf(out, len, "https://%s.%s%s%.0ld/", s->name, st->domain,
		    dflt ? "" : ":", dflt ? 0L : st->https_port);
	} else {
		dflt = st->http_port == 80;
		snprintf(out, len, "http://%s.%s%s%.0ld/", s->name, st->domain,
		    dflt ? "" : ":", dflt ? 0L : st->http_port);
	}
}

static int
print_json(const struct conduit_ctx *ctx, const struct conduit_registry *reg,
    struct conduit_err *err)
{
	cJSON *doc = cJSON_CreateObject(), *arr;
	char buf[512];
	size_t i;
	int rc;

	cJSON_AddNumberToObject(doc, "version", 1);
	cJSON_AddStringToObject(doc, "domain", ctx->settings.domain);
	arr = cJSON_AddArrayToObject(doc, "services");
	for (i = 0; i < reg->n; i++) {
		const struct conduit_service *s = &reg->services[i];
		cJSON *o;
		if (!o_all && s->status != SVC_ACTIVE)
			continue;
		o = conduit_service_to_json(s);
		snprintf(buf, sizeof(buf), "%s.%s", s->name, ctx->settings.domain);
		cJSON_AddStringToObject(o, "fqdn", buf);
		service_url(ctx, s, buf, sizeof(buf));
		if (s->dns_only)
			cJSON_AddNullToObject(o, "url");
		else
			cJSON_AddStringToObject(o, "url", buf);
		cJSON_AddItemToArray(arr, o);
	}
	rc = cli_print_json(doc, err);
	cJSON_Delete(doc);
	return rc;
}

static void
print_table(const struct conduit_ctx *ctx, const struct conduit_registry *reg)
{
	char ups[512], url[512];
	size_t i, j, shown = 0;

	for (i = 0; i < reg->n; i++) {
		const struct conduit_service *s = &reg->services[i];
		size_t off = 0;
		if (!o_all && s->status != SVC_ACTIVE)
			continue;
		if (shown++ == 0)
			printf("%s%-20s %-8s %-32s %-8s %s%s\n",
			    conduit_color(ctx, COLOR_BOLD), "NAME", "STATUS",
			    "UPSTREAMS", "HEALTH", "URL", conduit_color(ctx, COLOR_RESET));
		ups[0] = '\0';
		for (j = 0; j < s->n_upstreams && off < sizeof(ups) - 1; j++) {
			bool v6 = strchr(s->upstreams[j].host, ':') != NULL;
			int n = snprintf(ups + off, sizeof(ups) - off, "%s%s%s%s:%ld",
			    j ? "," : "", v6 ? "[" : "", s->upstreams[j].host,
			    v6 ? "]" : "", s->upstreams[j].port);
			if (n < 0)
				break;
			off += (size_t)n;
		}
		service_url(ctx, s, url, sizeof(url));
		printf("%-20s %-8s %-32s %-8s %s%s\n", s->name,
		    s->status == SVC_ACTIVE ? "active" : "inactive", ups,
		    s->health, url, s->dns_only ? " (dns-only)" : "");
	}
	if (shown == 0)
		fprintf(stderr, "conduit list: no %sservices registered\n",
		    o_all ? "" : "active ");
}

static int
list_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	struct conduit_registry reg;
	char path[4096], at[32];
	int rc, npos;

	if ((rc = conduit_opts_parse(&cmd_list_entry, list_opts, argc, argv,
	    &npos, err)) != 0)
		return rc == 1 ? 0 : rc;
	if (npos > 0)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unexpected argument \"%.60s\"", argv[0]);
	if (o_at != NULL) {
		if ((rc = conduit_history_parse_time("--at", o_at, false, at,
		    err)) != 0 || (rc = conduit_history_registry_at(ctx->state_dir,
		    at, &reg, err)) != 0)
			return rc;
	} else if ((rc = conduit_state_path(path, sizeof(path), ctx->state_dir,
	    CONDUIT_F_SERVICES, err)) != 0 ||
	    (rc = conduit_registry_load(path, &reg, err)) != 0)
		return rc;
	if (o_json)
		rc = print_json(ctx, &reg, err);
	else
		print_table(ctx, &reg);
	conduit_registry_free(&reg);
	return rc;
}

const struct conduit_cmd cmd_list_entry = {
	.name = "list",
	.summary = "show the registry (no network)",
	.usage = "list [--all] [--json] [--at DATE]",
	.description = NULL,
	.flags = CMD_NEEDS_STATE,
	.opts = list_opts,
	.exec = list_exec,
};
