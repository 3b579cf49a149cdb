/*
 * txn.h - a registry change and the backends that must follow it.
 *
 * register, deregister and apply are transactions:
 *
 *   conduit_txn_begin()   lock the registry, load it into cur and next
 *   ...caller validates and edits next...
 *   conduit_txn_commit()  render every backend for next, push it live
 *                         (unless no_reload), and only when every backend
 *                         accepted: save services.json, then append the
 *                         audit records.  When a backend refuses, the
 *                         backends already pushed get cur's rendering
 *                         back, nothing is saved, and the error carries
 *                         the backend's own text.
 *   conduit_txn_end()     unlock and free.
 *
 * Backends are a table (struct conduit_backend) so Caddy and dnsmasq
 * plug in without the transaction knowing their formats.
 */
#ifndef CONDUIT_TXN_H
#define CONDUIT_TXN_H

#include <stdbool.h>
#include <stddef.h>

#include "conduit/audit.h"
#include "conduit/err.h"
#include "conduit/fsutil.h"
#include "conduit/registry.h"
#include "conduit/settings.h"

struct conduit_txn {
	const char *state_dir;
	const struct conduit_settings *settings;
	struct conduit_lock lock;
	struct conduit_registry cur;	/* as loaded; do not edit */
	struct conduit_registry next;	/* the caller's edits */
	bool no_reload;			/* files only, no live backend */
	bool locked;
};

struct conduit_backend {
	const char *name;			/* "caddy", "dns" */
	/* Whether this backend takes part (e.g. dns.enabled). */
	bool (*enabled)(const struct conduit_txn *t);
	/* Pure rendering of reg into a malloc'd document (*out). */
	int (*render)(const struct conduit_txn *t,
	    const struct conduit_registry *reg, char **out, size_t *outlen,
	    struct conduit_err *err);
	/* Writes the rendered files and, when live, makes the running
	 * backend use them.  Must leave the old state when it fails. */
	int (*apply)(const struct conduit_txn *t, const char *doc, size_t len,
	    bool live, struct conduit_err *err);
	/* Optional: the document last applied, read back from its files
	 * (CONDUIT_ENOTFOUND when there is none).  The transaction compares
	 * the new rendering with it, and restores it on a refusal, instead
	 * of rendering the old registry a second time. */
	int (*deployed)(const struct conduit_txn *t, char **out, size_t *outlen,
	    struct conduit_err *err);
};

/* The backends in commit order (NULL-terminated). */
const struct conduit_backend *const *conduit_backends(void);

int conduit_txn_begin(struct conduit_txn *t, const char *state_dir,
    const struct conduit_settings *s, struct conduit_err *err);
int conduit_txn_commit(struct conduit_txn *t,
    const struct conduit_audit_rec *recs, size_t nrecs,
    struct conduit_err *err);
void conduit_txn_end(struct conduit_txn *t);

/* Renders reg and applies it to every enabled backend (used by `up`). */
int conduit_backends_sync(const char *state_dir,
    const struct conduit_settings *s, const struct conduit_registry *reg,
    bool live, struct conduit_err *err);

#endif
