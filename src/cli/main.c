/*
 * main.c - global options, the dispatch table, exit codes.
 *
 *   conduit [--state-dir DIR] [--config FILE] COMMAND [options]
 *
 * The table's flags column says what a command needs before it runs;
 * that set-up (finding the state dir, checking it, loading settings)
 * happens here once, so commands start from a ready context.  This is
 * the only place that turns an error code into an exit status.
 */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "conduit/settings.h"
#include "conduit/state.h"

static const struct conduit_cmd *const commands[] = {
	&cmd_init_entry,
	&cmd_register_entry,
	&cmd_deregister_entry,
	&cmd_apply_entry,
	&cmd_list_entry,
	&cmd_status_entry,
	&cmd_up_entry,
	&cmd_down_entry,
	&cmd_certs_entry,
	&cmd_audit_entry,
	&cmd_dns_entry,
	&cmd_monitor_entry,
	&cmd_logs_entry,
	&cmd_help_entry,
	&cmd_version_entry,
	&cmd_completion_entry,
	&cmd_complete_entry,
	NULL
};

const struct conduit_cmd *const *
conduit_cmd_all(void)
{
	return commands;
}

const struct conduit_cmd *
conduit_cmd_find(const char *name)
{
	size_t i;

	for (i = 0; commands[i] != NULL; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: conduit [--state-dir DIR] [--config FILE] COMMAND "
	    "[options]\n\ncommands:\n");
	for (i = 0; commands[i] != NULL; i++)
		if (!(commands[i]->flags & CMD_HIDDEN))
			fprintf(fp, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(fp, "\nglobal options:\n"
	    "  --state-dir DIR   state directory (env CONDUIT_STATE_DIR; default "
	    "/var/lib/conduit as root,\n"
	    "                    else $XDG_STATE_HOME/conduit or "
	    "~/.local/state/conduit)\n"
	    "  --config FILE     settings file (env CONDUIT_CONFIG; default "
	    "STATE_DIR/conduit.yaml)\n"
	    "  --version         print the version\n"
	    "  -h, --help        this help; `conduit help COMMAND` for one command\n"
	    "\nexit status: 0 success; 1 failure (including a value that breaks a "
	    "rule);\n2 the command line cannot be parsed.\n");
}

static int
default_state_dir(char *out, size_t len)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	struct passwd *pw;
	int n;

	if (geteuid() == 0)
		n = snprintf(out, len, "/var/lib/conduit");
	else if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, len, "%s/conduit", xdg);
	else {
		if (home == NULL || home[0] != '/') {
			pw = getpwuid(geteuid());
			home = pw ? pw->pw_dir : "/";
		}
		n = snprintf(out, len, "%s/.local/state/conduit", home);
	}
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int
take_value(int *i, int argc, char **argv, const char *name, const char **out,
    struct conduit_err *err)
{
	const char *a = argv[*i];
	size_t nl = strlen(name);

	if (a[nl] == '=')
		*out = a + nl + 1;
	else if (*i + 1 < argc)
		*out = argv[++*i];
	else
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "option %s needs a value", name);
	if ((*out)[0] == '\0')
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "option %s needs a non-empty value", name);
	return 0;
}

static int
setup_ctx(struct conduit_ctx *ctx, const char *state_dir, const char *config,
    struct conduit_err *err)
{
	const char *env;
	int n;

	if (state_dir == NULL && (env = getenv("CONDUIT_STATE_DIR")) != NULL &&
	    env[0] != '\0')
		state_dir = env;
	if (state_dir != NULL) {
		ctx->state_dir_explicit = true;
		n = snprintf(ctx->state_dir, sizeof(ctx->state_dir), "%s", state_dir);
		if (n < 0 || (size_t)n >= sizeof(ctx->state_dir))
			return conduit_err_set(err, CONDUIT_EUSAGE,
			    "--state-dir is too long");
	} else if (default_state_dir(ctx->state_dir, sizeof(ctx->state_dir)) != 0)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "cannot work out a default state directory");
	/* Strip trailing slashes so derived paths read well. */
	n = (int)strlen(ctx->state_dir);
	while (n > 1 && ctx->state_dir[n - 1] == '/')
		ctx->state_dir[--n] = '\0';

	if (config == NULL && (env = getenv("CONDUIT_CONFIG")) != NULL &&
	    env[0] != '\0')
		config = env;
	if (config != NULL) {
		ctx->config_explicit = true;
		n = snprintf(ctx->config_path, sizeof(ctx->config_path), "%s", config);
	} else
		n = snprintf(ctx->config_path, sizeof(ctx->config_path), "%s/%s",
		    ctx->state_dir, CONDUIT_F_CONFIG);
	if (n < 0 || (size_t)n >= sizeof(ctx->config_path))
		return conduit_err_set(err, CONDUIT_EUSAGE, "--config is too long");

	env = getenv("NO_COLOR");
	ctx->color_out = isatty(STDOUT_FILENO) && (env == NULL || env[0] == '\0');
	ctx->color_err = isatty(STDERR_FILENO) && (env == NULL || env[0] == '\0');
	conduit_settings_defaults(&ctx->settings);
	return 0;
}

static int
prepare(struct conduit_ctx *ctx, const struct conduit_cmd *cmd,
    struct conduit_err *err)
{
	int rc;

	if (!(cmd->flags & CMD_NEEDS_STATE))
		return 0;
	if ((rc = conduit_state_check(ctx->state_dir, err)) != 0)
		return rc;
	rc = conduit_settings_load(&ctx->settings, ctx->config_path, err);
	if (rc == CONDUIT_ENOTFOUND)
		return conduit_err_set(err, CONDUIT_ESTATE,
		    "%s is not initialised (no settings file %s): run `conduit "
		    "init`", ctx->state_dir, ctx->config_path);
	return rc;
}

int
main(int argc, char **argv)
{
	static struct conduit_ctx ctx;
	struct conduit_err err = { 0, "" };
	const struct conduit_cmd *cmd;
	const char *state_dir = NULL, *config = NULL;
	int i, rc;

	ctx.prog = "conduit";
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
			printf("conduit %s\n", CONDUIT_VERSION);
			return 0;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strncmp(a, "--state-dir", 11) == 0 &&
		    (a[11] == '\0' || a[11] == '=')) {
			if ((rc = take_value(&i, argc, argv, "--state-dir",
			    &state_dir, &err)) != 0)
				goto fail;
		} else if (strncmp(a, "--config", 8) == 0 &&
		    (a[8] == '\0' || a[8] == '=')) {
			if ((rc = take_value(&i, argc, argv, "--config", &config,
			    &err)) != 0)
				goto fail;
		} else {
			rc = conduit_err_set(&err, CONDUIT_EUSAGE,
			    "unknown global option \"%.60s\" (see `conduit --help`)", a);
			goto fail;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = conduit_cmd_find(argv[i]);
	if (cmd == NULL) {
		fprintf(stderr, "conduit: unknown command \"%.60s\" (see `conduit "
		    "--help`)\n", argv[i]);
		return 2;
	}
	ctx.cmd_name = cmd->name;
	if ((rc = setup_ctx(&ctx, state_dir, config, &err)) != 0 ||
	    (rc = prepare(&ctx, cmd, &err)) != 0) {
		/* --help must work even without a state dir. */
		int j;
		for (j = i + 1; j < argc; j++)
			if (strcmp(argv[j], "-h") == 0 || strcmp(argv[j], "--help") == 0) {
				conduit_opts_usage(cmd, cmd->opts, stdout);
				return 0;
			}
		goto fail_cmd;
	}
	rc = cmd->exec(&ctx, argc - i, argv + i, &err);
	if (rc >= 0) {
		fflush(stdout);
		return rc;
	}
fail_cmd:
	fprintf(stderr, "conduit %s: %s\n", cmd->name, err.msg);
	return rc == CONDUIT_EUSAGE ? 2 : 1;
fail:
	fprintf(stderr, "conduit: %s\n", err.msg);
	return rc == CONDUIT_EUSAGE ? 2 : 1;
}
