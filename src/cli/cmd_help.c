/*
 * cmd_help.c - `conduit help [COMMAND]` and `conduit version`.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static int
help_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	const struct conduit_cmd *const *all = conduit_cmd_all();
	const struct conduit_cmd *c;
	size_t i;
	int rc, npos;

	(void)ctx;
	if ((rc = conduit_opts_parse(&cmd_help_entry, NULL, argc, argv, &npos,
	    err)) != 0)
		return rc == 1 ? 0 : rc;
	if (npos == 0) {
		printf("usage: conduit [--state-dir DIR] [--config FILE] COMMAND "
		    "[options]\n\ncommands:\n");
		for (i = 0; all[i] != NULL; i++)
			if (!(all[i]->flags & CMD_HIDDEN))
				printf("  %-12s %s\n", all[i]->name, all[i]->summary);
		printf("\n`conduit help COMMAND` or `conduit COMMAND --help` for "
		    "one command.\n");
		return 0;
	}
	if (npos > 1)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "help takes one command name");
	c = conduit_cmd_find(argv[0]);
	if (c == NULL)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unknown command \"%.60s\"", argv[0]);
	conduit_opts_usage(c, c->opts, stdout);
	return 0;
}

const struct conduit_cmd cmd_help_entry = {
	.name = "help",
	.summary = "show help for conduit or one command",
	.usage = "help [COMMAND]",
	.flags = 0,
	.opts = NULL,
	.exec = help_exec,
};

static int
version_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	int rc;

	(void)ctx;
	if ((rc = conduit_opts_parse(&cmd_version_entry, NULL, argc, argv, &argc,
	    err)) != 0)
		return rc == 1 ? 0 : rc;
	if (argc > 0)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "version takes no arguments");
	printf("conduit %s\n", CONDUIT_VERSION);
	return 0;
}

const struct conduit_cmd cmd_version_entry = {
	.name = "version",
	.summary = "print the version",
	.usage = "version",
	.flags = 0,
	.opts = NULL,
	.exec = version_exec,
};
