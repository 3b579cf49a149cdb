/*
 * cmd_init.c - `conduit init`: create a state directory and its settings.
 *
 * An existing state directory is never reinitialised silently: without
 * --force init fails.  With --force only conduit.yaml is rewritten from
 * the flags; the registry, the audit log and the CA are kept.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "conduit/audit.h"
#include "conduit/capsule.h"
#include "conduit/fsutil.h"
#include "conduit/pki.h"
#include "conduit/registry.h"
#include "conduit/settings.h"
#include "conduit/state.h"
#include "conduit/validate.h"

static const char *o_domain, *o_listen, *o_gateway, *o_https, *o_http, *o_dns,
    *o_updns, *o_key_type;
static bool o_force;

static const struct conduit_opt init_opts[] = {
	OPT_STRING_(0, "domain", "D", "domain names are served under (default internal)", &o_domain),
	OPT_STRING_(0, "listen", "ADDR", "address Caddy and dnsmasq bind to (default 0.0.0.0)", &o_listen),
	OPT_STRING_(0, "gateway-ip", "IP", "address DNS answers for proxied names (default: derived)", &o_gateway),
	OPT_STRING_(0, "https-port", "N", "HTTPS port of the gateway (default 443)", &o_https),
	OPT_STRING_(0, "http-port", "N", "HTTP redirect port, 0 = off (default 80)", &o_http),
	OPT_STRING_(0, "dns-port", "N", "DNS port (default 53)", &o_dns),
	OPT_STRING_(0, "upstream-dns", "IP[,IP]|none", "resolvers for outside names (default none: air-gapped)", &o_updns),
	OPT_STRING_(0, "key-type", "ecdsa|ed25519", "root CA key type (default ecdsa: P-256)", &o_key_type),
	OPT_BOOL_(0, "force", "rewrite conduit.yaml in an existing state dir (keeps registry, audit log, CA)", &o_force),
	OPT_END_()
};

static int
apply_flags(struct conduit_settings *s, struct conduit_err *err)
{
	int rc;

	if (o_domain && (rc = conduit_validate_domain("--domain", o_domain,
	    s->domain, sizeof(s->domain), err)) != 0)
		return rc;
	if (o_listen) {
		if ((rc = conduit_validate_ip("--listen", o_listen, err)) != 0)
			return rc;
		snprintf(s->listen, sizeof(s->listen), "%s", o_listen);
	}
	if (o_gateway) {
		if ((rc = conduit_validate_ip("--gateway-ip", o_gateway, err)) != 0)
			return rc;
		snprintf(s->gateway_ip, sizeof(s->gateway_ip), "%s", o_gateway);
	}
	if (o_https && (rc = conduit_validate_port("--https-port", o_https, 1,
	    &s->https_port, err)) != 0)
		return rc;
	if (o_http && (rc = conduit_validate_port("--http-port", o_http, 0,
	    &s->http_port, err)) != 0)
		return rc;
	if (o_dns && (rc = conduit_validate_port("--dns-port", o_dns, 1,
	    &s->dns_port, err)) != 0)
		return rc;
	if (o_key_type) {
		if (strcmp(o_key_type, "ecdsa") != 0 &&
		    strcmp(o_key_type, "ed25519") != 0)
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "--key-type \"%s\" must be ecdsa or ed25519", o_key_type);
		snprintf(s->tls_key_type, sizeof(s->tls_key_type), "%s",
		    o_key_type);
	}
	if (o_updns && (rc = conduit_settings_set_upstream_dns(s,
	    "--upstream-dns", o_updns, err)) != 0)
		return rc;
	return conduit_settings_validate(s, err);
}

/* An empty directory (made by systemd's StateDirectory=, say) may be
 * initialised without --force: there is nothing in it to lose. */
static bool
dir_is_empty(const char *path)
{
	struct dirent *e;
	DIR *d = opendir(path);
	bool empty = true;

	if (d == NULL)
		return false;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = false;
			break;
		}
	closedir(d);
	return empty;
}

static int
init_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	struct conduit_settings s;
	char path[PATH_MAX], *yaml;
	struct stat st;
	bool existed, ca_new;
	cJSON *d;
	int rc, npos;

	if ((rc = conduit_opts_parse(&cmd_init_entry, init_opts, argc, argv,
	    &npos, err)) != 0)
		return rc == 1 ? 0 : rc;
	if (npos > 0)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unexpected argument \"%.60s\"", argv[0]);
	conduit_settings_defaults(&s);
	if ((rc = apply_flags(&s, err)) != 0)
		return rc;

	existed = lstat(ctx->state_dir, &st) == 0;
	if (existed && !o_force && !(S_ISDIR(st.st_mode) &&
	    dir_is_empty(ctx->state_dir)))
		return conduit_err_set(err, CONDUIT_EEXISTS,
		    "%s already exists; use --force to rewrite conduit.yaml "
		    "(the registry, audit log and CA are kept)", ctx->state_dir);
	if ((rc = conduit_mkdir_p(ctx->state_dir, 0700, err)) != 0)
		return rc;
	if ((rc = conduit_refuse_symlink(ctx->config_path, err)) != 0)
		return rc;
	yaml = conduit_settings_render_yaml(&s);
	if (yaml == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	rc = conduit_write_atomic(ctx->config_path, yaml, strlen(yaml), 0600, err);
	free(yaml);
	if (rc != 0)
		return rc;

	snprintf(path, sizeof(path), "%s/%s", ctx->state_dir, CONDUIT_F_SERVICES);
	if (lstat(path, &st) != 0) {
		struct conduit_registry empty;
		conduit_registry_init(&empty);
		if ((rc = conduit_registry_save(path, &empty, err)) != 0)
			return rc;
	}

	/* An existing CA is kept, also with --force (see pki.h). */
	if ((rc = conduit_pki_init(ctx->state_dir, s.tls_key_type, s.domain,
	    &ca_new, err)) != 0)
		return rc;
	if ((rc = conduit_capsule_init(ctx->state_dir, err)) != 0)
		return rc;
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "domain", s.domain);
	cJSON_AddStringToObject(d, "dns", "dnsmasq");
	cJSON_AddStringToObject(d, "proxy", "caddy");
	cJSON_AddStringToObject(d, "ca", s.tls_key_type);
	rc = conduit_audit_append(ctx->state_dir, "conduit_setup", true,
	    existed ? "conduit re-initialised (settings rewritten)" :
	    "conduit initialised", d, err);
	cJSON_Delete(d);
	if (rc != 0)
		return rc;
	fprintf(stderr, "conduit: initialised %s (domain %s, https %s:%ld)\n",
	    ctx->state_dir, s.domain, s.listen, s.https_port);
	if (ca_new)
		fprintf(stderr, "conduit: created the root CA in %s/%s "
		    "(`conduit certs ca`)\n", ctx->state_dir, CONDUIT_D_PKI);
	return 0;
}

const struct conduit_cmd cmd_init_entry = {
	.name = "init",
	.summary = "create a state directory with its settings and CA",
	.usage = "init [--domain D] [--listen ADDR] [--gateway-ip IP] "
	    "[--https-port N] [--http-port N] [--dns-port N] "
	    "[--upstream-dns IP[,IP]|none] [--key-type ecdsa|ed25519] [--force]",
	.description = "Creates the state directory (0700) and a commented "
	    "conduit.yaml (0600).\nFails on an initialised state directory "
	    "unless --force.",
	.flags = CMD_MUTATES,
	.opts = init_opts,
	.exec = init_exec,
};
