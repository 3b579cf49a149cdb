/*
 * cmd_up.c - `conduit up`: start the managed daemons and load the
 * registry into them.
 *
 * Generic over the daemon table (process.h): each enabled daemon is
 * started in table order unless its verified pid file shows it already
 * runs; a failed start stops the ones this run started, so `up` either
 * brings everything up or leaves things as they were.  Then every
 * backend gets the current registry, forced (an identical config is
 * pushed anyway), under the registry lock so a concurrent register
 * cannot interleave.
 */
#include <stdio.h>

#include "commands.h"
#include "conduit/process.h"
#include "conduit/txn.h"

static const struct conduit_opt up_opts[] = {
	OPT_END_()
};

static void
stop_started(struct conduit_ctx *ctx, const struct conduit_daemon *const *d,
    const bool *started, size_t n)
{
	struct conduit_err ignored;

	while (n-- > 0)
		if (started[n]) {
			(void)d[n]->stop(ctx->state_dir, &ignored);
			printf("%s: stopped again\n", d[n]->name);
		}
}

static int
up_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	const struct conduit_daemon *const *d = conduit_daemons();
	bool started[16] = { false };
	struct conduit_txn txn;
	size_t i;
	pid_t pid;
	int rc, npos;

	if ((rc = conduit_opts_parse(&cmd_up_entry, up_opts, argc, argv, &npos,
	    err)) != 0)
		return rc == 1 ? 0 : rc;
	if (npos > 0)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unexpected argument \"%.60s\"", argv[0]);

	for (i = 0; d[i] != NULL && i < 16; i++) {
		if (d[i]->enabled && !d[i]->enabled(&ctx->settings))
			continue;
		if (d[i]->running(ctx->state_dir, &pid, err) == 0) {
			printf("%s: already running (pid %ld)\n", d[i]->name,
			    (long)pid);
			continue;
		}
		conduit_err_clear(err);
		rc = d[i]->start(ctx->state_dir, &ctx->settings, err);
		if (rc == CONDUIT_EEXISTS) {
			printf("%s: %s\n", d[i]->name, err->msg);
			conduit_err_clear(err);
			continue;
		}
		if (rc != 0) {
			conduit_err_wrap(err, "starting %s", d[i]->name);
			stop_started(ctx, d, started, i);
			return rc;
		}
		started[i] = true;
		if (d[i]->running(ctx->state_dir, &pid, err) == 0)
			printf("%s: started (pid %ld)\n", d[i]->name, (long)pid);
		else
			printf("%s: started\n", d[i]->name);
		conduit_err_clear(err);
	}

	if ((rc = conduit_txn_begin(&txn, ctx->state_dir, &ctx->settings,
	    err)) == 0)
		rc = conduit_backends_sync(ctx->state_dir, &ctx->settings,
		    &txn.cur, true, err);
	if (rc == 0)
		printf("loaded %zu active service(s)\n",
		    conduit_registry_count_active(&txn.cur));
	conduit_txn_end(&txn);
	if (rc != 0)
		conduit_err_wrap(err, "loading the registry");
	return rc;
}

const struct conduit_cmd cmd_up_entry = {
	.name = "up",
	.summary = "start the gateway (Caddy) and DNS and load the registry",
	.usage = "up",
	.description = "Starts every managed daemon of this state directory "
	    "that is not running yet\n(pid files in run/, logs in logs/), "
	    "waits until each answers, then loads the\nregistry into them. "
	    "Running it again reports what already runs.",
	.flags = CMD_NEEDS_STATE,
	.opts = up_opts,
	.exec = up_exec,
};
