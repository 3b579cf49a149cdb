/*
 * cmd_deregister.c - `conduit deregister`: retire a service.
 *
 * The record stays in services.json, marked inactive with
 * deregistered_at, so `list --all` and the audit trail keep the history
 * and the name can be registered again.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "conduit/registry.h"
#include "conduit/txn.h"
#include "conduit/validate.h"
#include "util.h"

static const char *o_name;
static bool o_no_reload;

static const struct conduit_opt deregister_opts[] = {
	OPT_STRING_(0, "name", "NAME", "service to retire (or the first argument)", &o_name),
	OPT_BOOL_(0, "no-reload", "change the registry and rendered files only; do not contact running backends", &o_no_reload),
	OPT_END_()
};

static int
deregister_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	struct conduit_txn txn;
	struct conduit_service *svc;
	struct cli_audit recs = { 0 };
	const char *raw = NULL;
	char name[CONDUIT_NAME_MAX], msg[256];
	cJSON *d;
	int rc, npos;

	if ((rc = conduit_opts_parse(&cmd_deregister_entry, deregister_opts,
	    argc, argv, &npos, err)) != 0)
		return rc == 1 ? 0 : cli_fail(ctx, "service_deregister", NULL, err);
	if ((rc = cli_take_name(o_name, npos, argv, &raw, err)) != 0)
		return cli_fail(ctx, "service_deregister", NULL, err);
	if ((rc = conduit_validate_name("name", raw, name, sizeof(name), err)) != 0)
		return cli_fail(ctx, "service_deregister", raw, err);

	if ((rc = conduit_txn_begin(&txn, ctx->state_dir, &ctx->settings,
	    err)) != 0)
		goto fail;
	txn.no_reload = o_no_reload;
	svc = conduit_registry_find_active(&txn.next, name, false);
	if (svc == NULL) {
		rc = conduit_err_set(err, CONDUIT_ENOTFOUND,
		    "no active service named \"%s\" (see `conduit list --all`)",
		    name);
		goto fail;
	}
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "name", name);
	snprintf(msg, sizeof(msg), "Deregistered service: %s", name);
	/* service_deregister, then the dns_remove of each of its names
	 * (gathered while the record is still active). */
	rc = cli_audit_push(&recs, "service_deregister", msg, d, err);
	d = NULL;
	if (rc != 0 || (rc = cli_dns_audit(ctx, svc, false, &recs, err)) != 0)
		goto fail;
	svc->status = SVC_INACTIVE;
	conduit_timestamp(svc->deregistered_at, 0);
	memcpy(svc->updated_at, svc->deregistered_at, sizeof(svc->updated_at));
	if ((rc = conduit_txn_commit(&txn, recs.v, recs.n, err)) != 0)
		goto fail;
	conduit_txn_end(&txn);
	cli_audit_free(&recs);
	printf("deregistered %s\n", name);
	return 0;
fail:
	conduit_txn_end(&txn);
	cli_audit_free(&recs);
	return cli_fail(ctx, "service_deregister", name, err);
}

const struct conduit_cmd cmd_deregister_entry = {
	.name = "deregister",
	.summary = "retire a service (its history is kept)",
	.usage = "deregister [--name] NAME [--no-reload]",
	.description = "Marks the active record inactive with deregistered_at, "
	    "removes its route and DNS\nrecord. An unknown or inactive name "
	    "fails and changes nothing.",
	.flags = CMD_NEEDS_STATE | CMD_MUTATES,
	.opts = deregister_opts,
	.exec = deregister_exec,
};
