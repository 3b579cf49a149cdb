/*
 * cmd_down.c - `conduit down`: stop the daemons `conduit up` started.
 *
 * Only processes named by this state dir's pid files, verified through
 * /proc to be the expected program (process.h), are signalled; a stale
 * pid file or socket is removed.  Daemons stop in reverse start order.
 */
#include <stdio.h>

#include "commands.h"
#include "conduit/process.h"

static const struct conduit_opt down_opts[] = {
	OPT_END_()
};

static int
down_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	const struct conduit_daemon *const *d = conduit_daemons();
	struct conduit_err one;
	size_t n = 0;
	int rc, npos, first = 0;

	if ((rc = conduit_opts_parse(&cmd_down_entry, down_opts, argc, argv,
	    &npos, err)) != 0)
		return rc == 1 ? 0 : rc;
	if (npos > 0)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unexpected argument \"%.60s\"", argv[0]);
	while (d[n] != NULL)
		n++;
	while (n-- > 0) {
		conduit_err_clear(&one);
		rc = d[n]->stop(ctx->state_dir, &one);
		if (rc == 0)
			printf("%s: stopped\n", d[n]->name);
		else if (rc == CONDUIT_ENOTFOUND)
			printf("%s: not running\n", d[n]->name);
		else if (first == 0) {
			/* Keep going: stop what can be stopped, report the
			 * first failure. */
			first = conduit_err_set(err, rc, "stopping %s: %s",
			    d[n]->name, one.msg);
		}
	}
	return first;
}

const struct conduit_cmd cmd_down_entry = {
	.name = "down",
	.summary = "stop the daemons `conduit up` started",
	.usage = "down",
	.description = "Stops the processes recorded in this state "
	    "directory's pid files (verified to\nbe the expected program), "
	    "never anything by name.",
	.flags = CMD_NEEDS_STATE,
	.opts = down_opts,
	.exec = down_exec,
};
