/*
 * util.c - helpers shared by the command files (see util.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "conduit/audit.h"
#include "util.h"

int
cli_fail(struct conduit_ctx *ctx, const char *action, const char *name,
    struct conduit_err *err)
{
	struct conduit_err aerr = { 0, "" };
	char shown[128];
	cJSON *d = cJSON_CreateObject();
	int code = err->code ? err->code : CONDUIT_EINTERNAL;

	if (d != NULL) {
		if (name != NULL) {
			/* Hostile names are recorded, cut to a sane length. */
			snprintf(shown, sizeof(shown), "%s", name);
			cJSON_AddStringToObject(d, "name", shown);
		}
		cJSON_AddStringToObject(d, "error", err->msg);
	}
	if (conduit_audit_append(ctx->state_dir, action, false, err->msg, d,
	    &aerr) != 0) {
		size_t l = strlen(err->msg);
		snprintf(err->msg + l, sizeof(err->msg) - l,
		    " (and the audit record could not be written: %s)", aerr.msg);
	}
	cJSON_Delete(d);
	err->code = code;
	return code;
}

int
cli_print_json(const cJSON *doc, struct conduit_err *err)
{
	char *s = cJSON_Print(doc);

	if (s == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	fputs(s, stdout);
	fputc('\n', stdout);
	cJSON_free(s);
	return 0;
}

int
cli_take_name(const char *opt_name, int npos, char **pos, const char **out,
    struct conduit_err *err)
{
	if (npos > 1)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unexpected argument \"%.60s\"", pos[1]);
	if (opt_name != NULL && npos == 1 && strcmp(opt_name, pos[0]) != 0)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "two different names given (\"%.60s\" and \"%.60s\")",
		    opt_name, pos[0]);
	*out = opt_name ? opt_name : npos == 1 ? pos[0] : NULL;
	if (*out == NULL)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "a service name is required (--name NAME)");
	return 0;
}

int
cli_audit_push(struct cli_audit *a, const char *action, const char *message,
    cJSON *details, struct conduit_err *err)
{
	char *msg = strdup(message);

	if (msg != NULL && a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 4;
		struct conduit_audit_rec *v = realloc(a->v, cap * sizeof(*v));
		if (v == NULL) {
			free(msg);
			msg = NULL;
		} else {
			a->v = v;
			a->cap = cap;
		}
	}
	if (msg == NULL) {
		cJSON_Delete(details);
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	}
	a->v[a->n++] = (struct conduit_audit_rec){ action, true, msg, details };
	return 0;
}

void
cli_audit_free(struct cli_audit *a)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		free((char *)a->v[i].message);
		cJSON_Delete(a->v[i].details);
	}
	free(a->v);
	memset(a, 0, sizeof(*a));
}
