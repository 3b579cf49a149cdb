/*
 * cli.h - the command table, the option parser and the output helpers.
 *
 * Modelled on git's builtin table and tmux's cmd_entry: a command is a
 * value (struct conduit_cmd) naming its options as data.  One parser
 * serves every command, so `--opt value`, `--opt=value`, `-o value`,
 * `--` and `-h/--help` behave the same everywhere, and the usage text
 * printed by --help and `conduit help CMD` is generated from the same
 * table.
 *
 * A command's exec returns:
 *   0        success (exit 0)
 *   > 0      that exit status; the command already said what it wanted
 *   < 0      a CONDUIT_E* code; main prints "conduit CMD: err->msg" and
 *            exits 2 for CONDUIT_EUSAGE, 1 otherwise.
 */
#ifndef CONDUIT_CLI_H
#define CONDUIT_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "conduit/err.h"
#include "conduit/settings.h"

enum conduit_opt_type {
	OPT_END = 0,
	OPT_BOOL,	/* bool *value; takes no argument */
	OPT_STRING,	/* const char **value */
	OPT_INT,	/* long *value; decimal, range checked by the command */
	OPT_LIST,	/* struct conduit_strlist *value; repeatable */
	OPT_OPTSTRING,	/* const char **value; argument optional (--watch[=N]) */
};

struct conduit_strlist {
	const char **v;
	size_t n;
	size_t cap;
};

struct conduit_opt {
	enum conduit_opt_type type;
	char short_name;	/* 0 when none */
	const char *long_name;	/* without the leading "--" */
	const char *argname;	/* "NAME"; NULL for OPT_BOOL */
	const char *help;	/* one line; include the default */
	void *value;
};

#define OPT_BOOL_(s, l, h, v)        { OPT_BOOL, (s), (l), NULL, (h), (v) }
#define OPT_STRING_(s, l, a, h, v)   { OPT_STRING, (s), (l), (a), (h), (v) }
#define OPT_INT_(s, l, a, h, v)      { OPT_INT, (s), (l), (a), (h), (v) }
#define OPT_LIST_(s, l, a, h, v)     { OPT_LIST, (s), (l), (a), (h), (v) }
#define OPT_OPTSTRING_(s, l, a, h, v) { OPT_OPTSTRING, (s), (l), (a), (h), (v) }
#define OPT_END_()                   { OPT_END, 0, NULL, NULL, NULL, NULL }

/* What a command needs before it runs (the table's flags column). */
enum {
	CMD_NEEDS_STATE = 1 << 0,	/* state dir must exist; settings loaded */
	CMD_MUTATES = 1 << 1,		/* changes state: validated, locked, audited */
	CMD_HIDDEN = 1 << 2,		/* plumbing: left out of `conduit help` */
};

struct conduit_ctx {
	const char *prog;		/* "conduit" */
	const char *cmd_name;		/* "register" */
	char state_dir[PATH_MAX];
	char config_path[PATH_MAX];
	bool state_dir_explicit;	/* from --state-dir or environment */
	bool config_explicit;
	struct conduit_settings settings;	/* valid when CMD_NEEDS_STATE */
	bool color_out;			/* stdout is a TTY and NO_COLOR unset */
	bool color_err;
};

struct conduit_cmd {
	const char *name;
	const char *summary;		/* one line for `conduit help` */
	const char *usage;		/* "register [--name] NAME --host HOST ..." */
	const char *description;	/* paragraph for --help; may be NULL */
	unsigned flags;
	const struct conduit_opt *opts;	/* static table; values are statics */
	int (*exec)(struct conduit_ctx *ctx, int argc, char **argv,
	    struct conduit_err *err);
	/* Commands with subcommands (audit, certs, dns) list their
	 * subcommands' entries here, NULL-terminated, so completion and the
	 * man page test see every subcommand's options.  A subcommand's
	 * name is its last word ("audit tail" -> "tail").  NULL when none. */
	const struct conduit_cmd *const *subcmds;
};

/*
 * Parses argv (argv[0] is the command name) against opts.  Positional
 * arguments are compacted into argv[0..*npos-1] (argv[0] is dropped).
 * Returns 0, CONDUIT_EUSAGE with err set, or 1 when -h/--help was given
 * and the usage has been printed to stdout (the command returns 0).
 */
int conduit_opts_parse(const struct conduit_cmd *cmd,
    const struct conduit_opt *opts, int argc, char **argv, int *npos,
    struct conduit_err *err);

/* Usage text for cmd and its options, to fp. */
void conduit_opts_usage(const struct conduit_cmd *cmd,
    const struct conduit_opt *opts, FILE *fp);

/* Lookup in the dispatch table (src/cli/main.c). */
const struct conduit_cmd *conduit_cmd_find(const char *name);
const struct conduit_cmd *const *conduit_cmd_all(void);

void conduit_strlist_free(struct conduit_strlist *l);

/* Output helpers: colour only when the stream is a TTY and NO_COLOR is
 * unset.  conduit_color() returns "" when colour is off. */
enum conduit_color { COLOR_RESET, COLOR_RED, COLOR_GREEN, COLOR_YELLOW,
	COLOR_BOLD, COLOR_DIM };
const char *conduit_color(const struct conduit_ctx *ctx, enum conduit_color c);

/* Progress/warnings to stderr, prefixed "conduit CMD: ". */
void conduit_warn(const struct conduit_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parses a decimal long with no sign/whitespace/overflow into *out. */
int conduit_parse_long(const char *s, long min, long max, long *out);

#endif
