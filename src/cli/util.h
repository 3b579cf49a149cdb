/*
 * util.h - small helpers shared by the command files.
 */
#ifndef CONDUIT_CLI_UTIL_H
#define CONDUIT_CLI_UTIL_H

#include <stdbool.h>

#include "conduit/audit.h"
#include "conduit/cli.h"
#include "conduit/registry.h"

struct cJSON;

/* Records a failed attempt in the audit log: details {"name": name,
 * "error": err->msg} (name omitted when NULL).  Returns err->code so a
 * command can `return cli_fail(...)`.  A failure to write the audit
 * record is added to the message, never hidden. */
int cli_fail(struct conduit_ctx *ctx, const char *action, const char *name,
    struct conduit_err *err);

/* Prints a cJSON document (pretty) plus a newline to stdout. */
int cli_print_json(const struct cJSON *doc, struct conduit_err *err);

/* Resolves the service name from --name and/or one positional. */
int cli_take_name(const char *opt_name, int npos, char **pos,
    const char **out, struct conduit_err *err);

/* The service_register audit details for s (conformance shape plus
 * upstreams, aliases, scheme, dns_only). */
struct cJSON *cli_register_details(const struct conduit_service *s);

/* Audit records gathered for one transaction commit; owns each
 * record's message and details. */
struct cli_audit {
	struct conduit_audit_rec *v;
	size_t n, cap;
};

/* Appends a record; takes ownership of details (even on failure). */
int cli_audit_push(struct cli_audit *a, const char *action,
    const char *message, struct cJSON *details, struct conduit_err *err);
void cli_audit_free(struct cli_audit *a);

/* Appends dns_add {"name","host"} (add) or dns_remove {"name"} records
 * for svc's name and aliases; nothing when DNS is disabled. */
int cli_dns_audit(const struct conduit_ctx *ctx,
    const struct conduit_service *svc, bool add, struct cli_audit *a,
    struct conduit_err *err);

#endif
