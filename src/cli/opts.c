/*
 * opts.c - the one option parser, the usage printer, output helpers.
 *
 * Rules, the same for every command: `--opt value` and `--opt=value`;
 * `-o value` for options with a short name; `--` ends options; a value
 * may not be empty and may not be missing; an unknown option is a usage
 * error (exit 2).  Positional arguments may appear anywhere.  An
 * OPT_OPTSTRING takes its value only in the `--opt=value` form or when
 * the next word does not start with '-' and is a number.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/cli.h"

void
conduit_strlist_free(struct conduit_strlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static int
strlist_push(struct conduit_strlist *l, const char *s, struct conduit_err *err)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		const char **v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = s;
	return 0;
}

int
conduit_parse_long(const char *s, long min, long max, long *out)
{
	long v = 0;
	size_t i;

	if (s == NULL || s[0] == '\0')
		return -1;
	for (i = 0; s[i]; i++) {
		if (!isdigit((unsigned char)s[i]) || i >= 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static const struct conduit_opt *
find_long(const struct conduit_opt *opts, const char *name, size_t len)
{
	for (; opts && opts->type != OPT_END; opts++)
		if (strlen(opts->long_name) == len &&
		    strncmp(opts->long_name, name, len) == 0)
			return opts;
	return NULL;
}

static const struct conduit_opt *
find_short(const struct conduit_opt *opts, char c)
{
	for (; opts && opts->type != OPT_END; opts++)
		if (opts->short_name == c)
			return opts;
	return NULL;
}

static int
set_value(const struct conduit_cmd *cmd, const struct conduit_opt *o,
    const char *shown, const char *val, struct conduit_err *err)
{
	if (val != NULL && val[0] == '\0' && o->type != OPT_OPTSTRING)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "option %s needs a non-empty value", shown);
	switch (o->type) {
	case OPT_BOOL:
		*(bool *)o->value = true;
		return 0;
	case OPT_STRING:
	case OPT_OPTSTRING:
		*(const char **)o->value = val;
		return 0;
	case OPT_INT: {
		long v;
		if (conduit_parse_long(val, 0, 2147483647L, &v) != 0)
			return conduit_err_set(err, CONDUIT_EUSAGE,
			    "option %s needs a whole number, not \"%.40s\"",
			    shown, val);
		*(long *)o->value = v;
		return 0;
	}
	case OPT_LIST:
		return strlist_push((struct conduit_strlist *)o->value, val, err);
	case OPT_END:
		break;
	}
	(void)cmd;
	return conduit_err_set(err, CONDUIT_EINTERNAL, "bad option table");
}

static bool
is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

int
conduit_opts_parse(const struct conduit_cmd *cmd, const struct conduit_opt *opts,
    int argc, char **argv, int *npos, struct conduit_err *err)
{
	int i, out = 0, rc;
	bool dashdash = false;

	for (i = 1; i < argc; i++) {
		char *a = argv[i];
		const struct conduit_opt *o;
		const char *val = NULL, *eq;
		char shown[96];

		if (dashdash || a[0] != '-' || a[1] == '\0') {
			argv[out++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = true;
			continue;
		}
		if (is_help(a)) {
			conduit_opts_usage(cmd, opts, stdout);
			return 1;
		}
		if (a[1] == '-') {
			eq = strchr(a + 2, '=');
			o = find_long(opts, a + 2, eq ? (size_t)(eq - a - 2) :
			    strlen(a + 2));
			if (o == NULL)
				return conduit_err_set(err, CONDUIT_EUSAGE,
				    "unknown option \"%.*s\" (see `conduit %s --help`)",
				    eq ? (int)(eq - a) : 60, a, cmd->name);
			snprintf(shown, sizeof(shown), "--%s", o->long_name);
			if (eq != NULL) {
				if (o->type == OPT_BOOL)
					return conduit_err_set(err, CONDUIT_EUSAGE,
					    "option %s takes no value", shown);
				val = eq + 1;
			}
		} else {
			o = find_short(opts, a[1]);
			if (o == NULL)
				return conduit_err_set(err, CONDUIT_EUSAGE,
				    "unknown option \"%.60s\" (see `conduit %s --help`)",
				    a, cmd->name);
			snprintf(shown, sizeof(shown), "-%c", a[1]);
			if (a[2] != '\0') {
				if (o->type == OPT_BOOL)
					return conduit_err_set(err, CONDUIT_EUSAGE,
					    "unknown option \"%.60s\"", a);
				val = a + 2;
			}
		}
		if (val == NULL && o->type == OPT_OPTSTRING) {
			long dummy;
			if (i + 1 < argc &&
			    conduit_parse_long(argv[i + 1], 0, 1000000, &dummy) == 0)
				val = argv[++i];
			else
				val = "";
		} else if (val == NULL && o->type != OPT_BOOL) {
			if (i + 1 >= argc)
				return conduit_err_set(err, CONDUIT_EUSAGE,
				    "option %s needs a value (%s)", shown,
				    o->argname ? o->argname : "VALUE");
			val = argv[++i];
		}
		if ((rc = set_value(cmd, o, shown, val, err)) != 0)
			return rc;
	}
	*npos = out;
	return 0;
}

void
conduit_opts_usage(const struct conduit_cmd *cmd, const struct conduit_opt *opts,
    FILE *fp)
{
	const struct conduit_opt *o;

	fprintf(fp, "usage: conduit %s\n", cmd->usage);
	if (cmd->summary)
		fprintf(fp, "\n%s\n", cmd->summary);
	if (cmd->description)
		fprintf(fp, "\n%s\n", cmd->description);
	fprintf(fp, "\noptions:\n");
	for (o = opts; o && o->type != OPT_END; o++) {
		char left[96];
		int n;
		if (o->short_name)
			n = snprintf(left, sizeof(left), "-%c, --%s", o->short_name,
			    o->long_name);
		else
			n = snprintf(left, sizeof(left), "    --%s", o->long_name);
		if (o->type == OPT_OPTSTRING)
			snprintf(left + n, sizeof(left) - (size_t)n, "[=%s]", o->argname);
		else if (o->type != OPT_BOOL)
			snprintf(left + n, sizeof(left) - (size_t)n, " %s", o->argname);
		fprintf(fp, "  %-30s %s\n", left, o->help);
	}
	fprintf(fp, "  %-30s %s\n", "-h, --help", "show this help and exit");
	fprintf(fp, "\nexit status: 0 success, 1 failure, 2 command line "
	    "cannot be parsed.\n");
}

const char *
conduit_color(const struct conduit_ctx *ctx, enum conduit_color c)
{
	static const char *const codes[] = { "\033[0m", "\033[31m", "\033[32m",
		"\033[33m", "\033[1m", "\033[2m" };

	if (ctx == NULL || !ctx->color_out)
		return "";
	return codes[c];
}

void
conduit_warn(const struct conduit_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "conduit %s: ", ctx && ctx->cmd_name ? ctx->cmd_name : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
