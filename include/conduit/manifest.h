/*
 * manifest.h - the services manifest that `conduit apply` reads
 * (format: docs/apply.md).
 *
 *   services:
 *     - name: api
 *       upstreams: ["127.0.0.1:8000"]
 *       health: { path: /healthz, interval: 5s }
 *
 * Parsing never stops at the first problem: every rule broken anywhere
 * in the file is collected as a diagnostic with its FILE:LINE:COLUMN,
 * so one run shows the whole list to fix.  Only a YAML syntax error
 * stops early, because libyaml cannot resynchronise after one.  A
 * manifest with any diagnostic holds no services: the caller must not
 * act on half a file.
 */
#ifndef CONDUIT_MANIFEST_H
#define CONDUIT_MANIFEST_H

#include <stddef.h>

#include "conduit/err.h"
#include "conduit/registry.h"

/* Upper bound on a manifest's size (a 10,000-service file is ~1 MiB). */
#define CONDUIT_MANIFEST_MAX_BYTES (16u * 1024 * 1024)

/* One broken rule: where (1-based) and what. */
struct conduit_diag {
	size_t line;
	size_t column;
	char msg[512];
};

struct conduit_diags {
	struct conduit_diag *v;
	size_t n;
	size_t cap;
};

struct conduit_manifest {
	char file[256];			/* as shown in messages; "<stdin>" */
	/* Desired records: name and aliases lowercased, status active,
	 * health_path and health_cfg set from `health:`, no timestamps. */
	struct conduit_service *services;
	size_t n;
	/* Position of each service's `name:` value (for later checks). */
	size_t *line, *column;
	struct conduit_diags diags;
};

void conduit_manifest_init(struct conduit_manifest *m);
void conduit_manifest_free(struct conduit_manifest *m);

/*
 * Parses text as the manifest named fname.  Returns 0 when the file is
 * valid; CONDUIT_EINVAL when m->diags holds one or more diagnostics (and
 * m->n is 0); CONDUIT_ENOMEM.  err gets a one-line summary.
 */
int conduit_manifest_parse(const char *text, size_t len, const char *fname,
    struct conduit_manifest *m, struct conduit_err *err);

/* Reads path ("-" = standard input, shown as "<stdin>") and parses it.
 * An unreadable file is CONDUIT_EIO / CONDUIT_ENOTFOUND with no diags. */
int conduit_manifest_load(const char *path, struct conduit_manifest *m,
    struct conduit_err *err);

/* Appends a diagnostic (used by the manifest parser and the planner). */
int conduit_diags_add(struct conduit_diags *d, size_t line, size_t column,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void conduit_diags_free(struct conduit_diags *d);

#endif
