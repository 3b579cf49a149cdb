/*
 * cmd_audit.c - `conduit audit SUBCOMMAND`: read the audit trail.
 *
 *   audit tail [-n N] [--json]   the last N records (default 20)
 *   audit lint [FILE]            check every record against the format
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "conduit/audit.h"
#include "conduit/fsutil.h"
#include "conduit/state.h"
#include "util.h"

static long o_n = 20;
static bool o_json;

static const struct conduit_opt tail_opts[] = {
	OPT_INT_('n', "lines", "N", "how many records, newest last (default 20)", &o_n),
	OPT_BOOL_(0, "json", "print the records as JSON lines, unchanged", &o_json),
	OPT_END_()
};

static const struct conduit_cmd tail_cmd = {
	.name = "audit tail",
	.summary = "show the newest audit records",
	.usage = "audit tail [-n N] [--json]",
	.opts = tail_opts,
};

static void
print_human(const struct conduit_ctx *ctx, const char *line)
{
	cJSON *r = cJSON_Parse(line);
	const cJSON *ts, *ac, *st, *us, *msg;
	bool ok;

	if (r == NULL) {
		printf("(unparsable record) %s\n", line);
		return;
	}
	ts = cJSON_GetObjectItemCaseSensitive(r, "timestamp");
	ac = cJSON_GetObjectItemCaseSensitive(r, "action");
	st = cJSON_GetObjectItemCaseSensitive(r, "status");
	us = cJSON_GetObjectItemCaseSensitive(r, "user");
	msg = cJSON_GetObjectItemCaseSensitive(r, "message");
	ok = cJSON_IsString(st) && strcmp(st->valuestring, "success") == 0;
	printf("%s  %-10s %-20s %s%-7s%s %s\n",
	    cJSON_IsString(ts) ? ts->valuestring : "?",
	    cJSON_IsString(us) ? us->valuestring : "?",
	    cJSON_IsString(ac) ? ac->valuestring : "?",
	    conduit_color(ctx, ok ? COLOR_GREEN : COLOR_RED),
	    cJSON_IsString(st) ? st->valuestring : "?",
	    conduit_color(ctx, COLOR_RESET),
	    cJSON_IsString(msg) ? msg->valuestring : "");
	cJSON_Delete(r);
}

static int
audit_tail(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	char path[4096], *data, *p, **lines = NULL;
	size_t len, n = 0, cap = 0, i, start;
	int rc, npos;

	if ((rc = conduit_opts_parse(&tail_cmd, tail_opts, argc, argv, &npos,
	    err)) != 0)
		return rc == 1 ? 0 : rc;
	if (npos > 0)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unexpected argument \"%.60s\"", argv[0]);
	if ((rc = conduit_state_path(path, sizeof(path), ctx->state_dir,
	    CONDUIT_F_AUDIT, err)) != 0)
		return rc;
	rc = conduit_read_file(path, &data, &len, err);
	if (rc == CONDUIT_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	for (p = strtok(data, "\n"); p != NULL; p = strtok(NULL, "\n")) {
		if (n == cap) {
			char **nl;
			cap = cap ? cap * 2 : 256;
			nl = realloc(lines, cap * sizeof(*nl));
			if (nl == NULL) {
				free(lines);
				free(data);
				return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
			}
			lines = nl;
		}
		lines[n++] = p;
	}
	start = (size_t)o_n < n ? n - (size_t)o_n : 0;
	for (i = start; i < n; i++) {
		if (o_json)
			printf("%s\n", lines[i]);
		else
			print_human(ctx, lines[i]);
	}
	free(lines);
	free(data);
	return 0;
}

/* Checks every line of the log (or FILE) with the conformance rules;
 * prints each bad line number and why.  Exit 0 clean, 1 not. */
static int
audit_lint(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	static const struct conduit_cmd lint_cmd = {
		.name = "audit lint",
		.summary = "check every audit record against the record format",
		.usage = "audit lint [FILE]",
	};
	static const struct conduit_opt none[] = { OPT_END_() };
	char path[4096], *data, *p, *save = NULL;
	size_t lineno = 0, bad = 0, good = 0;
	int rc, npos;

	if ((rc = conduit_opts_parse(&lint_cmd, none, argc, argv, &npos,
	    err)) != 0)
		return rc == 1 ? 0 : rc;
	if (npos > 1)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unexpected argument \"%.60s\"", argv[1]);
	if (npos == 1)
		snprintf(path, sizeof(path), "%s", argv[0]);
	else if ((rc = conduit_state_path(path, sizeof(path), ctx->state_dir,
	    CONDUIT_F_AUDIT, err)) != 0)
		return rc;
	if ((rc = conduit_read_file(path, &data, NULL, err)) != 0)
		return rc;
	/* strtok would merge empty lines; walk them one by one instead. */
	for (p = data; *p != '\0'; p = save) {
		char *nl = strchr(p, '\n');
		struct conduit_err lerr;
		save = nl ? nl + 1 : p + strlen(p);
		if (nl)
			*nl = '\0';
		lineno++;
		if (conduit_audit_validate_line(p, &lerr) != 0) {
			printf("%s:%zu: %s\n", path, lineno, lerr.msg);
			bad++;
		} else
			good++;
	}
	free(data);
	printf("%s: %zu valid record%s, %zu invalid\n", path, good,
	    good == 1 ? "" : "s", bad);
	return bad ? 1 : 0;
}

static int
audit_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		conduit_opts_usage(&cmd_audit_entry, NULL, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "tail") == 0)
		return audit_tail(ctx, argc - 1, argv + 1, err);
	if (strcmp(argv[1], "lint") == 0)
		return audit_lint(ctx, argc - 1, argv + 1, err);
	return conduit_err_set(err, CONDUIT_EUSAGE,
	    "unknown subcommand \"%.60s\" (see `conduit audit --help`)", argv[1]);
}

const struct conduit_cmd cmd_audit_entry = {
	.name = "audit",
	.summary = "read the audit trail",
	.usage = "audit tail [-n N] [--json] | audit lint [FILE]",
	.description = "Subcommands:\n  tail   the newest records of "
	    "STATE_DIR/audit.log\n  lint   check every record against the "
	    "record format (exit 1 when any is invalid)",
	.flags = CMD_NEEDS_STATE,
	.opts = NULL,
	.exec = audit_exec,
};
