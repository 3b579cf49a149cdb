/*
 * cmd_apply.c - `conduit apply -f FILE`: make the registry match a
 * manifest (docs/apply.md).
 *
 * The order is what makes apply safe to run from a pipeline:
 *   1. read and validate the whole manifest; any error -> report all of
 *      them, change nothing;
 *   2. lock the registry and plan against it (not against a copy read
 *      earlier, so two applies cannot interleave);
 *   3. an empty plan ends here: "no changes", no backend contacted, no
 *      audit record;
 *   4. otherwise the whole plan is one transaction (txn.h): one render
 *      and push per backend, services.json written once, and every
 *      audit record appended in the same commit, or nothing at all.
 * --dry-run stops after printing the plan and exits like `kubectl
 * diff`: 0 nothing to do, 1 changes pending, 2 errors.  A plain apply
 * exits 0 when applied or unchanged, 2 on any error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "conduit/audit.h"
#include "conduit/fsutil.h"
#include "conduit/manifest.h"
#include "conduit/plan.h"
#include "conduit/state.h"
#include "conduit/txn.h"
#include "util.h"

#define EXIT_PENDING 1
#define EXIT_ERRORS 2

static const char *o_file;
static bool o_dry_run, o_prune, o_json, o_no_reload;

static const struct conduit_opt apply_opts[] = {
	OPT_STRING_('f', "file", "FILE", "the manifest (required; - reads standard input)", &o_file),
	OPT_BOOL_(0, "dry-run", "print the plan only; exit 0 no changes, 1 changes pending, 2 errors", &o_dry_run),
	OPT_BOOL_(0, "prune", "also retire active services that are not in the manifest", &o_prune),
	OPT_BOOL_(0, "json", "print the plan as the JSON document of docs/apply.md", &o_json),
	OPT_BOOL_(0, "no-reload", "change the registry and rendered files only; do not contact running backends", &o_no_reload),
	OPT_END_()
};

/* ---- output ----------------------------------------------------------- */

static void
print_value(const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);

	fputs(s != NULL ? s : "?", stdout);
	cJSON_free(s);
}

static void
print_plan_human(const struct conduit_ctx *ctx, const struct conduit_plan *p,
    const struct conduit_manifest *m)
{
	const char *rs = conduit_color(ctx, COLOR_RESET);
	size_t i, j;

	if (conduit_plan_empty(p)) {
		printf("no changes (%zu service%s unchanged)\n", p->unchanged,
		    p->unchanged == 1 ? "" : "s");
		return;
	}
	printf("plan for %s: %zu to add, %zu to change, %zu to remove, "
	    "%zu unchanged\n", m->file, p->added, p->changed, p->removed,
	    p->unchanged);
	for (i = 0; i < p->n; i++) {
		const struct conduit_plan_item *it = &p->items[i];
		cJSON *ups;

		switch (it->op) {
		case PLAN_ADD:
			ups = conduit_plan_fields(&m->services[it->man_idx]);
			printf("  %s+ %s%s  ", conduit_color(ctx, COLOR_GREEN),
			    it->name, rs);
			print_value(cJSON_GetObjectItemCaseSensitive(ups,
			    "upstreams"));
			printf("%s\n", m->services[it->man_idx].dns_only ?
			    "  (dns only)" : "");
			cJSON_Delete(ups);
			break;
		case PLAN_CHANGE:
			printf("  %s~ %s%s\n", conduit_color(ctx, COLOR_YELLOW),
			    it->name, rs);
			for (j = 0; j < it->n_diffs; j++) {
				printf("      %s: ", it->diffs[j].field);
				print_value(it->diffs[j].old_value);
				fputs(" -> ", stdout);
				print_value(it->diffs[j].new_value);
				fputc('\n', stdout);
			}
			break;
		case PLAN_REMOVE:
			printf("  %s- %s%s\n", conduit_color(ctx, COLOR_RED),
			    it->name, rs);
			break;
		}
	}
}

static cJSON *
changes_json(const struct conduit_plan_item *it)
{
	cJSON *c = cJSON_CreateObject(), *f;
	size_t j;

	for (j = 0; c != NULL && j < it->n_diffs; j++) {
		f = cJSON_AddObjectToObject(c, it->diffs[j].field);
		if (f == NULL)
			break;
		cJSON_AddItemToObject(f, "old",
		    cJSON_Duplicate(it->diffs[j].old_value, true));
		cJSON_AddItemToObject(f, "new",
		    cJSON_Duplicate(it->diffs[j].new_value, true));
	}
	return c;
}

/* The document of docs/apply.md.  p may be NULL (manifest errors). */
static cJSON *
plan_json(const struct conduit_manifest *m, const struct conduit_plan *p,
    const struct conduit_diags *diags, bool applied, const char *error)
{
	cJSON *doc = cJSON_CreateObject(), *sum, *add, *chg, *rem, *errs, *o;
	size_t i;

	if (doc == NULL)
		return NULL;
	cJSON_AddStringToObject(doc, "file", m->file);
	cJSON_AddBoolToObject(doc, "dry_run", o_dry_run);
	cJSON_AddBoolToObject(doc, "prune", o_prune);
	sum = cJSON_AddObjectToObject(doc, "summary");
	cJSON_AddNumberToObject(sum, "added", p ? (double)p->added : 0);
	cJSON_AddNumberToObject(sum, "changed", p ? (double)p->changed : 0);
	cJSON_AddNumberToObject(sum, "removed", p ? (double)p->removed : 0);
	cJSON_AddNumberToObject(sum, "unchanged", p ? (double)p->unchanged : 0);
	add = cJSON_AddArrayToObject(doc, "add");
	chg = cJSON_AddArrayToObject(doc, "change");
	rem = cJSON_AddArrayToObject(doc, "remove");
	for (i = 0; p != NULL && i < p->n; i++) {
		const struct conduit_plan_item *it = &p->items[i];
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", it->name);
		if (it->op == PLAN_ADD) {
			cJSON_AddItemToObject(o, "fields",
			    conduit_plan_fields(&m->services[it->man_idx]));
			cJSON_AddItemToArray(add, o);
		} else if (it->op == PLAN_CHANGE) {
			cJSON_AddItemToObject(o, "changes", changes_json(it));
			cJSON_AddItemToArray(chg, o);
		} else
			cJSON_AddItemToArray(rem, o);
	}
	errs = cJSON_AddArrayToObject(doc, "errors");
	for (i = 0; diags != NULL && i < diags->n; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "file", m->file);
		cJSON_AddNumberToObject(o, "line", (double)diags->v[i].line);
		cJSON_AddNumberToObject(o, "column", (double)diags->v[i].column);
		cJSON_AddStringToObject(o, "message", diags->v[i].msg);
		cJSON_AddItemToArray(errs, o);
	}
	if (error != NULL)
		cJSON_AddStringToObject(doc, "error", error);
	else
		cJSON_AddNullToObject(doc, "error");
	cJSON_AddBoolToObject(doc, "applied", applied);
	return doc;
}

static void
emit_json(const struct conduit_manifest *m, const struct conduit_plan *p,
    const struct conduit_diags *diags, bool applied, const char *error)
{
	struct conduit_err jerr;
	cJSON *doc = plan_json(m, p, diags, applied, error);

	if (doc != NULL)
		(void)cli_print_json(doc, &jerr);
	cJSON_Delete(doc);
}

/*
 * Errors end every path the same way: the diagnostics (FILE:L:C: rule,
 * one per line, on stderr; or the JSON document), a failure audit
 * record for a real apply, exit 2.
 */
static int
fail(struct conduit_ctx *ctx, const struct conduit_manifest *m,
    const struct conduit_plan *p, const struct conduit_diags *diags,
    struct conduit_err *err)
{
	size_t i;

	if (!o_dry_run)
		(void)cli_fail(ctx, "apply", NULL, err);
	if (o_json) {
		emit_json(m, p, diags, false, err->msg);
		return EXIT_ERRORS;
	}
	for (i = 0; diags != NULL && i < diags->n; i++)
		fprintf(stderr, "%s:%zu:%zu: %s\n", m->file, diags->v[i].line,
		    diags->v[i].column, diags->v[i].msg);
	conduit_warn(ctx, "%s", err->msg);
	return EXIT_ERRORS;
}

/* ---- audit records ---------------------------------------------------- */

/* Whether a change moves what DNS answers: names, or (for dns_only
 * services, whose records point at the upstream) the upstreams. */
static bool
dns_visible(const struct conduit_plan_item *it,
    const struct conduit_service *old, const struct conduit_service *new)
{
	size_t j;

	for (j = 0; j < it->n_diffs; j++) {
		const char *f = it->diffs[j].field;
		if (strcmp(f, "aliases") == 0 || strcmp(f, "dns_only") == 0 ||
		    (strcmp(f, "upstreams") == 0 &&
		    (old->dns_only || new->dns_only)))
			return true;
	}
	return false;
}

/*
 * One record per service touched, as register and deregister write them
 * (service_register + dns_add per name; service_deregister + dns_remove
 * per name); a change is service_update, plus dns_remove/dns_add of the
 * old and new names when DNS answers differently; then the `apply`
 * summary.  cur is the registry the plan was built from.
 */
static int
build_records(const struct conduit_ctx *ctx, const struct conduit_plan *p,
    const struct conduit_manifest *m, const struct conduit_registry *cur,
    struct cli_audit *a, struct conduit_err *err)
{
	char msg[512];
	size_t i, j, off;
	cJSON *d;
	int rc = 0;

	for (i = 0; i < p->n && rc == 0; i++) {
		const struct conduit_plan_item *it = &p->items[i];
		const struct conduit_service *s, *old;

		switch (it->op) {
		case PLAN_ADD:
			s = &m->services[it->man_idx];
			snprintf(msg, sizeof(msg), "Registered service: %s "
			    "(%s%s%s:%ld)", s->name,
			    strchr(s->upstreams[0].host, ':') ? "[" : "",
			    s->upstreams[0].host,
			    strchr(s->upstreams[0].host, ':') ? "]" : "",
			    s->upstreams[0].port);
			if ((rc = cli_audit_push(a, "service_register", msg,
			    cli_register_details(s), err)) == 0)
				rc = cli_dns_audit(ctx, s, true, a, err);
			break;
		case PLAN_CHANGE:
			s = &m->services[it->man_idx];
			old = &cur->services[it->reg_idx];
			d = cJSON_CreateObject();
			if (d != NULL) {
				cJSON_AddStringToObject(d, "name", it->name);
				cJSON_AddItemToObject(d, "changes",
				    changes_json(it));
			}
			off = (size_t)snprintf(msg, sizeof(msg),
			    "Updated service: %s (", it->name);
			for (j = 0; j < it->n_diffs && off < sizeof(msg); j++)
				off += (size_t)snprintf(msg + off, sizeof(msg) - off,
				    "%s%s", j ? ", " : "", it->diffs[j].field);
			if (off < sizeof(msg) - 1)
				strcat(msg, ")");
			if (d == NULL)
				rc = conduit_err_set(err, CONDUIT_ENOMEM,
				    "out of memory");
			else
				rc = cli_audit_push(a, "service_update", msg, d,
				    err);
			if (rc == 0 && dns_visible(it, old, s) &&
			    (rc = cli_dns_audit(ctx, old, false, a, err)) == 0)
				rc = cli_dns_audit(ctx, s, true, a, err);
			break;
		default:
			old = &cur->services[it->reg_idx];
			d = cJSON_CreateObject();
			if (d != NULL)
				cJSON_AddStringToObject(d, "name", it->name);
			snprintf(msg, sizeof(msg), "Deregistered service: %s",
			    it->name);
			if (d == NULL)
				rc = conduit_err_set(err, CONDUIT_ENOMEM,
				    "out of memory");
			else if ((rc = cli_audit_push(a, "service_deregister",
			    msg, d, err)) == 0)
				rc = cli_dns_audit(ctx, old, false, a, err);
			break;
		}
	}
	if (rc != 0)
		return rc;
	d = cJSON_CreateObject();
	if (d == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	cJSON_AddStringToObject(d, "file", m->file);
	cJSON_AddNumberToObject(d, "added", (double)p->added);
	cJSON_AddNumberToObject(d, "changed", (double)p->changed);
	cJSON_AddNumberToObject(d, "removed", (double)p->removed);
	cJSON_AddNumberToObject(d, "unchanged", (double)p->unchanged);
	snprintf(msg, sizeof(msg), "Applied %s: %zu added, %zu changed, "
	    "%zu removed, %zu unchanged", m->file, p->added, p->changed,
	    p->removed, p->unchanged);
	return cli_audit_push(a, "apply", msg, d, err);
}

/* ---- the command ------------------------------------------------------ */

static int
dry_run(struct conduit_ctx *ctx, struct conduit_manifest *m,
    struct conduit_err *err)
{
	struct conduit_registry reg;
	struct conduit_plan plan;
	char path[4096];
	int rc;

	conduit_registry_init(&reg);
	conduit_plan_init(&plan);
	if ((rc = conduit_state_path(path, sizeof(path), ctx->state_dir,
	    CONDUIT_F_SERVICES, err)) != 0 ||
	    (rc = conduit_registry_load(path, &reg, err)) != 0)
		rc = fail(ctx, m, NULL, NULL, err);
	else if (conduit_plan_build(&reg, m, o_prune, &plan, err) != 0)
		rc = fail(ctx, m, NULL, &plan.diags, err);
	else {
		if (o_json)
			emit_json(m, &plan, NULL, false, NULL);
		else
			print_plan_human(ctx, &plan, m);
		rc = conduit_plan_empty(&plan) ? 0 : EXIT_PENDING;
	}
	conduit_plan_free(&plan);
	conduit_registry_free(&reg);
	return rc;
}

static int
apply(struct conduit_ctx *ctx, struct conduit_manifest *m,
    struct conduit_err *err)
{
	struct conduit_txn txn;
	struct conduit_plan plan;
	struct cli_audit recs = { 0 };
	char now[32];
	int rc;

	conduit_plan_init(&plan);
	if ((rc = conduit_txn_begin(&txn, ctx->state_dir, &ctx->settings,
	    err)) != 0) {
		conduit_txn_end(&txn);
		return fail(ctx, m, NULL, NULL, err);
	}
	txn.no_reload = o_no_reload;
	if ((rc = conduit_plan_build(&txn.cur, m, o_prune, &plan, err)) != 0) {
		conduit_txn_end(&txn);
		rc = fail(ctx, m, NULL, &plan.diags, err);
		conduit_plan_free(&plan);
		return rc;
	}
	if (conduit_plan_empty(&plan)) {
		/* Compared before committing: nothing rendered, nothing
		 * pushed, nothing written, nothing audited. */
		conduit_txn_end(&txn);
		if (o_json)
			emit_json(m, &plan, NULL, false, NULL);
		else
			print_plan_human(ctx, &plan, m);
		conduit_plan_free(&plan);
		return 0;
	}
	if (!o_json)
		print_plan_human(ctx, &plan, m);
	conduit_timestamp(now, 0);
	if ((rc = conduit_plan_apply(&plan, m, &txn.next, now, err)) != 0 ||
	    (rc = build_records(ctx, &plan, m, &txn.cur, &recs, err)) != 0 ||
	    (rc = conduit_txn_commit(&txn, recs.v, recs.n, err)) != 0) {
		conduit_txn_end(&txn);
		cli_audit_free(&recs);
		conduit_err_wrap(err, "nothing was changed");
		rc = fail(ctx, m, &plan, NULL, err);
		conduit_plan_free(&plan);
		return rc;
	}
	conduit_txn_end(&txn);
	cli_audit_free(&recs);
	if (o_json)
		emit_json(m, &plan, NULL, true, NULL);
	else
		printf("applied: %zu added, %zu changed, %zu removed, "
		    "%zu unchanged\n", plan.added, plan.changed, plan.removed,
		    plan.unchanged);
	conduit_plan_free(&plan);
	return 0;
}

static int
apply_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	struct conduit_manifest m;
	int rc, npos;

	if ((rc = conduit_opts_parse(&cmd_apply_entry, apply_opts, argc, argv,
	    &npos, err)) != 0)
		return rc == 1 ? 0 : rc;
	if (npos > 0)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unexpected argument \"%.60s\" (the manifest is -f FILE)",
		    argv[0]);
	if (o_file == NULL)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "-f FILE is required (- reads standard input)");
	if ((rc = conduit_manifest_load(o_file, &m, err)) != 0)
		rc = fail(ctx, &m, NULL, &m.diags, err);
	else if (o_dry_run)
		rc = dry_run(ctx, &m, err);
	else
		rc = apply(ctx, &m, err);
	conduit_manifest_free(&m);
	return rc;
}

const struct conduit_cmd cmd_apply_entry = {
	.name = "apply",
	.summary = "make the registry match a YAML manifest (plan, then one transaction)",
	.usage = "apply -f FILE [--dry-run] [--prune] [--json] [--no-reload]",
	.description = "Validates the whole manifest (every error with "
	    "FILE:LINE:COLUMN), plans the services to\nadd, change and (with "
	    "--prune) retire, prints the plan and applies it as one\n"
	    "transaction: all or nothing. An unchanged manifest contacts no "
	    "backend and\nwrites nothing. Format and exit codes: docs/apply.md.",
	.flags = CMD_NEEDS_STATE | CMD_MUTATES,
	.opts = apply_opts,
	.exec = apply_exec,
};
