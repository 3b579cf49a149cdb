/*
 * cmd_certs.c - `conduit certs`: the leaves Caddy issued and the root.
 *
 *   certs [list] [--json]      every leaf in Caddy's storage
 *   certs inspect NAME [--json]
 *   certs rotate NAME          new leaf for a service (audit cert_rotate)
 *   certs ca [--pem]           where the root is, or its PEM
 *   certs trust [--dest DIR] [--dry-run]
 *
 * Everything is read from files with OpenSSL (pki.h), so list, inspect
 * and ca work while Caddy is down.  rotate deletes the stored leaf and
 * reloads the current config with must-revalidate: Caddy finds the name
 * managed but without a certificate and issues a new one, which rotate
 * waits for.  It holds the registry lock meanwhile, so no register can
 * interleave.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "conduit/audit.h"
#include "conduit/caddy.h"
#include "conduit/fsutil.h"
#include "conduit/pki.h"
#include "conduit/process.h"
#include "conduit/state.h"
#include "conduit/txn.h"
#include "conduit/validate.h"
#include "util.h"

extern char **environ;

#define ROTATE_WAIT_MS 20000L

static bool o_json, o_pem, o_dry_run;
static const char *o_dest;

static const struct conduit_opt certs_opts[] = {
	OPT_BOOL_(0, "json", "machine-readable output (list, inspect)", &o_json),
	OPT_BOOL_(0, "pem", "ca: print the root certificate itself, not its path", &o_pem),
	OPT_STRING_(0, "dest", "DIR", "trust: copy the root into DIR and run no system tool", &o_dest),
	OPT_BOOL_(0, "dry-run", "trust: print what would be done, change nothing", &o_dry_run),
	OPT_END_()
};

/* The subcommands share one option table; these entries name them for
 * completion (cli.h). */
static const struct conduit_cmd certs_sub[] = {
	{ .name = "certs list", .summary = "every issued leaf",
	    .usage = "certs list", .opts = certs_opts },
	{ .name = "certs inspect", .summary = "one service's certificate in detail",
	    .usage = "certs inspect", .opts = certs_opts },
	{ .name = "certs rotate", .summary = "force a new leaf for a service",
	    .usage = "certs rotate", .opts = certs_opts },
	{ .name = "certs ca", .summary = "the root CA's path or PEM",
	    .usage = "certs ca", .opts = certs_opts },
	{ .name = "certs trust", .summary = "install the root in this machine's trust store",
	    .usage = "certs trust", .opts = certs_opts },
};
static const struct conduit_cmd *const certs_subcmds[] = {
	&certs_sub[0], &certs_sub[1], &certs_sub[2], &certs_sub[3],
	&certs_sub[4], NULL
};

struct leaf {
	char path[PATH_MAX];
	char service[CONDUIT_NAME_MAX + 16];
	struct conduit_cert_info ci;
};

/* The service a certificate's first name belongs to. */
static void
service_of(const struct conduit_settings *s, const struct conduit_registry *reg,
    const char *host, char *out, size_t len)
{
	char label[CONDUIT_NAME_MAX];
	const struct conduit_service *svc;
	size_t dl = strlen(s->domain), hl = strlen(host);

	snprintf(out, len, "-");
	if (strncmp(host, "*.", 2) == 0) {
		snprintf(out, len, "(unknown hosts)");
		return;
	}
	if (hl <= dl + 1 || strcmp(host + hl - dl, s->domain) != 0 ||
	    host[hl - dl - 1] != '.' || hl - dl - 1 >= sizeof(label))
		return;
	snprintf(label, sizeof(label), "%.*s", (int)(hl - dl - 1), host);
	if ((svc = conduit_registry_find_active(reg, label, true)) != NULL)
		snprintf(out, len, "%s", svc->name);
}

static int
cmp_leaf(const void *a, const void *b)
{
	return strcmp(((const struct leaf *)a)->ci.sans,
	    ((const struct leaf *)b)->ci.sans);
}

/* Every <leafroot>/<key>/<key>.crt, sorted by names. */
static int
load_leaves(struct conduit_ctx *ctx, struct leaf **out, size_t *n,
    struct conduit_err *err)
{
	struct conduit_caddy_paths p;
	struct conduit_registry reg;
	char root[PATH_MAX], svcpath[PATH_MAX];
	struct leaf *v = NULL, *nv;
	struct dirent *e;
	size_t cap = 0;
	DIR *dir;
	int rc;

	*out = NULL;
	*n = 0;
	conduit_registry_init(&reg);
	if ((rc = conduit_caddy_paths(ctx->state_dir, &p, err)) != 0 ||
	    (rc = conduit_caddy_leaf_root(&p, root, sizeof(root), err)) != 0 ||
	    (rc = conduit_state_path(svcpath, sizeof(svcpath), ctx->state_dir,
	    CONDUIT_F_SERVICES, err)) != 0 ||
	    (rc = conduit_registry_load(svcpath, &reg, err)) != 0)
		return rc;
	if ((dir = opendir(root)) == NULL) {
		conduit_registry_free(&reg);
		return errno == ENOENT ? 0 : conduit_err_set(err, CONDUIT_EIO,
		    "cannot read %s: %s", root, strerror(errno));
	}
	while ((e = readdir(dir)) != NULL) {
		struct leaf l;
		struct conduit_err ignored;
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(l.path, sizeof(l.path), "%s/%s/%s.crt", root,
		    e->d_name, e->d_name) >= (int)sizeof(l.path))
			continue;
		if (conduit_pki_cert_info(l.path, &l.ci, &ignored) != 0)
			continue;	/* being written, or not a leaf */
		service_of(&ctx->settings, &reg, e->d_name, l.service,
		    sizeof(l.service));
		if (strncmp(e->d_name, "wildcard_.", 10) == 0)
			snprintf(l.service, sizeof(l.service), "(unknown hosts)");
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				closedir(dir);
				free(v);
				conduit_registry_free(&reg);
				return conduit_err_set(err, CONDUIT_ENOMEM,
				    "out of memory");
			}
			v = nv;
		}
		v[(*n)++] = l;
	}
	closedir(dir);
	conduit_registry_free(&reg);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), cmp_leaf);
	*out = v;
	return 0;
}

static double
days_left(time_t not_after)
{
	return floor((double)(not_after - time(NULL)) / 8640.0) / 10.0;
}

static cJSON *
leaf_json(const struct leaf *l)
{
	cJSON *o = cJSON_CreateObject(), *names;
	char nb[32], na[32], buf[1024], *tok, *save = NULL;

	conduit_timestamp(nb, (long long)l->ci.not_before);
	conduit_timestamp(na, (long long)l->ci.not_after);
	cJSON_AddStringToObject(o, "service", l->service);
	names = cJSON_AddArrayToObject(o, "names");
	snprintf(buf, sizeof(buf), "%s", l->ci.sans);
	for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ",
	    &save))
		cJSON_AddItemToArray(names, cJSON_CreateString(tok));
	cJSON_AddStringToObject(o, "key_type", l->ci.key_type);
	cJSON_AddStringToObject(o, "not_before", nb);
	cJSON_AddStringToObject(o, "not_after", na);
	cJSON_AddNumberToObject(o, "days_left", days_left(l->ci.not_after));
	cJSON_AddStringToObject(o, "issuer", l->ci.issuer);
	cJSON_AddStringToObject(o, "serial", l->ci.serial);
	cJSON_AddStringToObject(o, "sha256", l->ci.sha256);
	cJSON_AddStringToObject(o, "path", l->path);
	return o;
}

static int
certs_list(struct conduit_ctx *ctx, struct conduit_err *err)
{
	struct leaf *v;
	size_t n, i;
	int rc;

	if ((rc = load_leaves(ctx, &v, &n, err)) != 0)
		return rc;
	if (o_json) {
		cJSON *a = cJSON_CreateArray();
		for (i = 0; i < n; i++)
			cJSON_AddItemToArray(a, leaf_json(&v[i]));
		rc = cli_print_json(a, err);
		cJSON_Delete(a);
		free(v);
		return rc;
	}
	if (n == 0)
		printf("no certificates issued yet (Caddy issues one when a "
		    "service is registered while `conduit up` runs)\n");
	else
		printf("%-16s %-32s %-12s %-24s %9s  %s\n", "SERVICE", "NAMES",
		    "KEY", "NOT AFTER", "DAYS LEFT", "ISSUER");
	for (i = 0; i < n; i++) {
		char na[32];
		conduit_pki_date(v[i].ci.not_after, na);
		printf("%-16s %-32s %-12s %-24s %9.1f  %s\n", v[i].service,
		    v[i].ci.sans, v[i].ci.key_type, na,
		    days_left(v[i].ci.not_after), v[i].ci.issuer);
	}
	free(v);
	return 0;
}

/* NAME -> NAME.DOMAIN; a name with a dot is taken as the full host. */
static int
host_for(struct conduit_ctx *ctx, const char *name, char *out, size_t len,
    struct conduit_err *err)
{
	char label[CONDUIT_NAME_MAX];
	int rc;

	if (strchr(name, '.') != NULL)
		return conduit_validate_domain("name", name, out, len, err);
	if ((rc = conduit_validate_name("name", name, label, sizeof(label),
	    err)) != 0)
		return rc;
	snprintf(out, len, "%s.%s", label, ctx->settings.domain);
	return 0;
}

static void
print_cert(const char *role, const struct conduit_cert_info *ci)
{
	char nb[32], na[32];

	conduit_pki_date(ci->not_before, nb);
	conduit_pki_date(ci->not_after, na);
	printf("%s\n  subject:     %s\n", role, ci->subject[0] ? ci->subject :
	    "(empty)");
	if (ci->sans[0])
		printf("  names:       %s\n", ci->sans);
	printf("  issuer:      %s\n  not before:  %s\n  not after:   %s\n"
	    "  key:         %s\n  serial:      %s\n  sha256:      %s\n",
	    ci->issuer, nb, na, ci->key_type, ci->serial, ci->sha256);
}

static int
certs_inspect(struct conduit_ctx *ctx, const char *name,
    struct conduit_err *err)
{
	struct conduit_caddy_paths p;
	struct conduit_cert_info leaf, inter, root;
	char host[300], crt[PATH_MAX], ipath[PATH_MAX];
	bool leaf_ok = false, inter_ok = false, have_inter;
	int rc;

	if ((rc = host_for(ctx, name, host, sizeof(host), err)) != 0 ||
	    (rc = conduit_caddy_paths(ctx->state_dir, &p, err)) != 0 ||
	    (rc = conduit_caddy_leaf_path(&p, host, crt, sizeof(crt), NULL, 0,
	    err)) != 0 ||
	    (rc = conduit_state_path(ipath, sizeof(ipath), p.storage,
	    "pki/authorities/local/intermediate.crt", err)) != 0)
		return rc;
	if ((rc = conduit_pki_cert_info(crt, &leaf, err)) != 0) {
		if (rc == CONDUIT_ENOTFOUND)
			return conduit_err_set(err, CONDUIT_ENOTFOUND,
			    "no certificate for %s in %s (is it registered, and "
			    "was Caddy running?)", host, p.storage);
		return rc;
	}
	if ((rc = conduit_pki_cert_info(p.root_cert, &root, err)) != 0)
		return rc;
	have_inter = conduit_pki_cert_info(ipath, &inter, err) == 0;
	conduit_err_clear(err);
	if (have_inter) {
		(void)conduit_pki_signed_by(crt, ipath, &leaf_ok, err);
		(void)conduit_pki_signed_by(ipath, p.root_cert, &inter_ok, err);
		conduit_err_clear(err);
	}
	if (o_json) {
		struct leaf l;
		cJSON *o, *chain;
		l.ci = leaf;
		snprintf(l.path, sizeof(l.path), "%s", crt);
		snprintf(l.service, sizeof(l.service), "%s", name);
		o = leaf_json(&l);
		cJSON_AddStringToObject(o, "subject", leaf.subject);
		chain = cJSON_AddArrayToObject(o, "chain");
		cJSON_AddItemToArray(chain, cJSON_CreateString(leaf.subject));
		if (have_inter)
			cJSON_AddItemToArray(chain, cJSON_CreateString(inter.subject));
		cJSON_AddItemToArray(chain, cJSON_CreateString(root.subject));
		cJSON_AddBoolToObject(o, "chain_verified", leaf_ok && inter_ok);
		cJSON_AddStringToObject(o, "root_sha256", root.sha256);
		rc = cli_print_json(o, err);
		cJSON_Delete(o);
		return rc;
	}
	print_cert(host, &leaf);
	printf("  file:        %s\n", crt);
	if (have_inter)
		print_cert("issued by (Caddy's intermediate)", &inter);
	print_cert("root (conduit's CA)", &root);
	printf("chain: %s\n", leaf_ok && inter_ok ? "leaf <- intermediate <- "
	    "root, signatures verified" : "NOT verified: the stored leaf or "
	    "intermediate was not signed by this root (run `conduit certs "
	    "rotate`)");
	return 0;
}

struct serial_wait {
	const char *crt;
	const char *old;
};

static bool
new_leaf(void *arg)
{
	struct serial_wait *w = arg;
	struct conduit_cert_info ci;
	struct conduit_err ignored;

	return conduit_pki_cert_info(w->crt, &ci, &ignored) == 0 &&
	    strcmp(ci.serial, w->old) != 0;
}

static int
certs_rotate(struct conduit_ctx *ctx, const char *name, struct conduit_err *err)
{
	struct conduit_caddy_paths p;
	struct conduit_txn txn;
	struct conduit_cert_info ci;
	struct conduit_service *svc;
	char label[CONDUIT_NAME_MAX], host[300], crt[PATH_MAX], dir[PATH_MAX],
	    old[128] = "", *doc = NULL, msg[200];
	struct serial_wait w;
	size_t len;
	cJSON *d;
	int rc;

	if ((rc = conduit_validate_name("name", name, label, sizeof(label),
	    err)) != 0)
		return rc;
	if ((rc = conduit_txn_begin(&txn, ctx->state_dir, &ctx->settings,
	    err)) != 0)
		goto out;
	svc = conduit_registry_find_active(&txn.cur, label, false);
	if (svc == NULL || svc->dns_only || !svc->tls) {
		rc = conduit_err_set(err, CONDUIT_ENOTFOUND, svc == NULL ?
		    "no active service named \"%s\"" : "\"%s\" is not served "
		    "over TLS, so it has no certificate", label);
		goto out;
	}
	snprintf(host, sizeof(host), "%s.%s", label, ctx->settings.domain);
	if ((rc = conduit_caddy_paths(ctx->state_dir, &p, err)) != 0 ||
	    (rc = conduit_caddy_leaf_path(&p, host, crt, sizeof(crt), dir,
	    sizeof(dir), err)) != 0)
		goto out;
	if (!conduit_caddy_ping(p.admin_socket)) {
		rc = conduit_err_set(err, CONDUIT_EBACKEND,
		    "gateway not running at %s: run `conduit up`", p.admin_socket);
		goto out;
	}
	if (conduit_pki_cert_info(crt, &ci, err) == 0)
		snprintf(old, sizeof(old), "%s", ci.serial);
	conduit_err_clear(err);
	/* The leaf, its key and certmagic's metadata live in one directory. */
	{
		char f[PATH_MAX + 16];
		const char *ext[] = { "crt", "key", "json" };
		size_t i;
		for (i = 0; i < 3; i++) {
			snprintf(f, sizeof(f), "%s/%s.%s", dir, host, ext[i]);
			if (unlink(f) != 0 && errno != ENOENT) {
				rc = conduit_err_set(err, CONDUIT_EIO,
				    "cannot remove %s: %s", f, strerror(errno));
				goto out;
			}
		}
	}
	if ((rc = conduit_caddy_render(&ctx->settings, &txn.cur, &p, &doc, &len,
	    err)) != 0 ||
	    (rc = conduit_caddy_load(p.admin_socket, doc, len, err)) != 0)
		goto out;
	w = (struct serial_wait){ crt, old };
	if (conduit_proc_wait(new_leaf, &w, ROTATE_WAIT_MS) != 0) {
		rc = conduit_err_set(err, CONDUIT_EBACKEND,
		    "Caddy did not issue a new certificate for %s within %ld s "
		    "(see logs/caddy.log)", host, ROTATE_WAIT_MS / 1000);
		goto out;
	}
	(void)conduit_pki_cert_info(crt, &ci, err);
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "name", label);
	snprintf(msg, sizeof(msg), "Certificate rotated for service: %s", label);
	rc = conduit_audit_append(ctx->state_dir, "cert_rotate", true, msg, d,
	    err);
	cJSON_Delete(d);
	if (rc == 0)
		printf("rotated %s: serial %s -> %s\n", host, old[0] ? old :
		    "(none)", ci.serial);
out:
	free(doc);
	conduit_txn_end(&txn);
	return rc;
}

static int
certs_ca(struct conduit_ctx *ctx, struct conduit_err *err)
{
	struct conduit_caddy_paths p;
	char *pem;
	size_t len;
	int rc;

	if ((rc = conduit_caddy_paths(ctx->state_dir, &p, err)) != 0)
		return rc;
	if ((rc = conduit_read_file(p.root_cert, &pem, &len, err)) != 0) {
		if (rc == CONDUIT_ENOTFOUND)
			return conduit_err_set(err, CONDUIT_ENOTFOUND,
			    "no root CA at %s: run `conduit init --force` to "
			    "create one", p.root_cert);
		return rc;
	}
	if (o_pem)
		fwrite(pem, 1, len, stdout);
	else
		printf("%s\n", p.root_cert);
	free(pem);
	return 0;
}

/* Runs argv and waits; 0 when it exited 0. */
static int
run_tool(char *const argv[], struct conduit_err *err)
{
	pid_t pid;
	int st, e;

	if ((e = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ)) != 0)
		return conduit_err_set(err, CONDUIT_EIO, "cannot run %s: %s",
		    argv[0], strerror(e));
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return conduit_err_set(err, CONDUIT_EIO, "waitpid: %s",
			    strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return conduit_err_set(err, CONDUIT_EIO,
		    "%s failed (status %d); is this run as root?", argv[0],
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}

struct trust_store {
	const char *system;
	const char *probe;	/* the tool whose presence identifies it */
	const char *dir;
	char *const *update;
};

static char *const debian_update[] = { "update-ca-certificates", NULL };
static char *const rhel_update[] = { "update-ca-trust", "extract", NULL };
static const struct trust_store stores[] = {
	{ "debian", "/usr/sbin/update-ca-certificates",
	    "/usr/local/share/ca-certificates", debian_update },
	{ "rhel", "/usr/bin/update-ca-trust",
	    "/etc/pki/ca-trust/source/anchors", rhel_update },
};

static int
certs_trust(struct conduit_ctx *ctx, struct conduit_err *err)
{
	const struct trust_store *ts = NULL;
	struct conduit_caddy_paths p;
	char dest[PATH_MAX], *pem = NULL, msg[PATH_MAX + 64];
	size_t len, i;
	cJSON *d;
	int rc;

	if (o_dest != NULL) {
		struct stat st;
		if (stat(o_dest, &st) != 0 || !S_ISDIR(st.st_mode))
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "--dest \"%s\" is not an existing directory", o_dest);
	}
	if ((rc = conduit_caddy_paths(ctx->state_dir, &p, err)) != 0 ||
	    (rc = conduit_read_file(p.root_cert, &pem, &len, err)) != 0)
		return rc;
	for (i = 0; i < sizeof(stores) / sizeof(stores[0]) && ts == NULL; i++)
		if (access(stores[i].probe, X_OK) == 0)
			ts = &stores[i];
	if (o_dest == NULL && ts == NULL) {
		free(pem);
		return conduit_err_set(err, CONDUIT_ENOTFOUND,
		    "neither update-ca-certificates nor update-ca-trust is "
		    "installed; copy %s into your trust store by hand, or use "
		    "--dest DIR", p.root_cert);
	}
	snprintf(dest, sizeof(dest), "%s/conduit-%s.crt",
	    o_dest ? o_dest : ts->dir, ctx->settings.domain);
	printf("root CA:  %s\ninstall:  %s\n", p.root_cert, dest);
	if (o_dest == NULL)
		printf("then run: %s%s%s\n", ts->update[0], ts->update[1] ? " " :
		    "", ts->update[1] ? ts->update[1] : "");
	printf("macOS:    sudo security add-trusted-cert -d -r trustRoot -k "
	    "/Library/Keychains/System.keychain %s\n", p.root_cert);
	printf("Windows:  certutil -addstore -f Root %s\n", p.root_cert);
	if (o_dry_run) {
		free(pem);
		printf("(dry run: nothing changed)\n");
		return 0;
	}
	rc = conduit_write_atomic(dest, pem, len, 0644, err);
	free(pem);
	if (rc == 0 && o_dest == NULL)
		rc = run_tool(ts->update, err);
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "path", dest);
	cJSON_AddStringToObject(d, "system", o_dest ? "directory" : ts->system);
	if (rc != 0) {
		cJSON_AddStringToObject(d, "error", err->msg);
		(void)conduit_audit_append(ctx->state_dir, "ca_trust_install",
		    false, err->msg, d, NULL);
		cJSON_Delete(d);
		return rc;
	}
	snprintf(msg, sizeof(msg), "Root CA installed: %s", dest);
	rc = conduit_audit_append(ctx->state_dir, "ca_trust_install", true, msg,
	    d, err);
	cJSON_Delete(d);
	if (rc == 0)
		printf("installed\n");
	return rc;
}

static int
certs_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	const char *sub;
	int rc, npos;

	if ((rc = conduit_opts_parse(&cmd_certs_entry, certs_opts, argc, argv,
	    &npos, err)) != 0)
		return rc == 1 ? 0 : rc;
	sub = npos > 0 ? argv[0] : "list";
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ca") == 0 ||
	    strcmp(sub, "trust") == 0) {
		if (npos > 1)
			return conduit_err_set(err, CONDUIT_EUSAGE,
			    "unexpected argument \"%.60s\"", argv[1]);
		return sub[0] == 'l' ? certs_list(ctx, err) :
		    sub[0] == 'c' ? certs_ca(ctx, err) : certs_trust(ctx, err);
	}
	if (strcmp(sub, "inspect") == 0 || strcmp(sub, "rotate") == 0) {
		if (npos != 2)
			return conduit_err_set(err, CONDUIT_EUSAGE,
			    "certs %s needs exactly one NAME", sub);
		if (sub[0] == 'i')
			return certs_inspect(ctx, argv[1], err);
		if ((rc = certs_rotate(ctx, argv[1], err)) != 0 &&
		    rc != CONDUIT_EUSAGE)
			return cli_fail(ctx, "cert_rotate", argv[1], err);
		return rc;
	}
	return conduit_err_set(err, CONDUIT_EUSAGE,
	    "unknown certs subcommand \"%.60s\" (list, inspect, rotate, ca, "
	    "trust)", sub);
}

const struct conduit_cmd cmd_certs_entry = {
	.name = "certs",
	.summary = "TLS certificates: list, inspect, rotate, the root CA",
	.usage = "certs [list] [--json] | certs inspect NAME [--json] | "
	    "certs rotate NAME | certs ca [--pem] | certs trust [--dest DIR] "
	    "[--dry-run]",
	.description = "Reads the leaves Caddy issued from its storage "
	    "(<state>/caddy) and conduit's root\nCA (<state>/pki). rotate "
	    "makes Caddy issue a new leaf for a service; trust\ninstalls the "
	    "root in this machine's trust store (Debian or RHEL) and prints "
	    "the\ncommands for macOS and Windows.",
	.flags = CMD_NEEDS_STATE,
	.opts = certs_opts,
	.exec = certs_exec,
	.subcmds = certs_subcmds,
};
