/*
 * txn.c - registry transactions (see txn.h for the protocol).
 *
 * The order matters and is the whole point of this file:
 *   1. lock (registry.lock) and load: everything after sees one state;
 *   2. the caller validates and edits `next` in memory;
 *   3. every backend renders next and compares it with what its files
 *      hold (or, for a backend that cannot read them back, with cur
 *      rendered); unchanged renderings are not pushed (an unchanged
 *      service set contacts no backend);
 *   4. changed renderings are applied in table order; if one fails, the
 *      ones already applied get their old document back, in reverse
 *      order;
 *   5. only then is services.json replaced and the audit records
 *      appended, still under the lock.
 * A crash between 4 and 5 leaves a backend ahead of services.json; the
 * next `conduit up` or mutation re-renders from services.json, which is
 * the source of truth.
 */
#include <stdlib.h>
#include <string.h>

#include "conduit/caddy.h"
#include "conduit/state.h"
#include "conduit/txn.h"

extern const struct conduit_backend conduit_backend_dns;

/* Caddy first, then DNS: a name should not resolve before its route
 * exists. */
static const struct conduit_backend *const backends[] = {
	&conduit_caddy_backend,
	&conduit_backend_dns,
	NULL
};

const struct conduit_backend *const *
conduit_backends(void)
{
	return backends;
}

int
conduit_txn_begin(struct conduit_txn *t, const char *state_dir,
    const struct conduit_settings *s, struct conduit_err *err)
{
	char path[4096];
	int rc;

	memset(t, 0, sizeof(*t));
	t->state_dir = state_dir;
	t->settings = s;
	t->lock.fd = -1;
	conduit_registry_init(&t->cur);
	conduit_registry_init(&t->next);
	/* The state dir's 0700 is re-asserted on every change, as the files'
	 * 0600 is by every write. */
	if ((rc = conduit_state_path(path, sizeof(path), state_dir,
	    "services.json", err)) != 0 ||
	    (rc = conduit_mkdir_p(state_dir, 0700, err)) != 0)
		return rc;
	if ((rc = conduit_lock_acquire(state_dir, "registry", &t->lock, err)) != 0)
		return rc;
	t->locked = true;
	if ((rc = conduit_registry_load(path, &t->cur, err)) != 0)
		return rc;
	return conduit_registry_copy(&t->next, &t->cur, err);
}

struct rendered {
	char *old_doc, *new_doc;
	size_t old_len, new_len;
	bool applied;
};

static bool
same(const struct rendered *r)
{
	return r->old_len == r->new_len &&
	    memcmp(r->old_doc, r->new_doc, r->new_len) == 0;
}

/* The old side of one backend: what its files hold (the deployed
 * document) when from_disk and the backend can say, else old rendered. */
static int
old_side(const struct conduit_txn *t, const struct conduit_backend *b,
    const struct conduit_registry *old, bool from_disk, struct rendered *r,
    struct conduit_err *err)
{
	struct conduit_err ignored;

	if (from_disk && b->deployed != NULL &&
	    b->deployed(t, &r->old_doc, &r->old_len, &ignored) == 0)
		return 0;
	return b->render(t, old, &r->old_doc, &r->old_len, err);
}

static int
apply_all(const struct conduit_txn *t, const struct conduit_registry *old,
    const struct conduit_registry *new, bool live, bool force,
    bool old_from_disk, struct conduit_err *err)
{
	const struct conduit_backend *const *b = conduit_backends();
	struct rendered r[8];
	size_t n = 0, i;
	int rc = 0;

	memset(r, 0, sizeof(r));
	for (n = 0; b[n] != NULL && n < 8; n++) {
		if (b[n]->enabled && !b[n]->enabled(t))
			continue;
		if ((rc = old_side(t, b[n], old, old_from_disk, &r[n],
		    err)) != 0 ||
		    (rc = b[n]->render(t, new, &r[n].new_doc, &r[n].new_len,
		    err)) != 0)
			goto out;
	}
	for (i = 0; i < n; i++) {
		if (r[i].new_doc == NULL || (!force && same(&r[i])))
			continue;
		if ((rc = b[i]->apply(t, r[i].new_doc, r[i].new_len, live,
		    err)) != 0)
			break;
		r[i].applied = true;
	}
	if (rc != 0) {
		/* Put back what was applied; keep the first error's text. */
		struct conduit_err ignored;
		while (i-- > 0)
			if (r[i].applied)
				(void)b[i]->apply(t, r[i].old_doc, r[i].old_len,
				    live, &ignored);
	}
out:
	for (i = 0; i < n; i++) {
		free(r[i].old_doc);
		free(r[i].new_doc);
	}
	return rc;
}

int
conduit_txn_commit(struct conduit_txn *t, const struct conduit_audit_rec *recs,
    size_t nrecs, struct conduit_err *err)
{
	char path[4096];
	int rc;

	if (!t->locked)
		return conduit_err_set(err, CONDUIT_EINTERNAL,
		    "transaction is not open");
	if ((rc = apply_all(t, &t->cur, &t->next, !t->no_reload, false, true,
	    err)) != 0)
		return rc;
	if ((rc = conduit_state_path(path, sizeof(path), t->state_dir,
	    "services.json", err)) != 0 ||
	    (rc = conduit_registry_save(path, &t->next, err)) != 0) {
		struct conduit_err ignored;
		(void)apply_all(t, &t->next, &t->cur, !t->no_reload, false,
		    false, &ignored);
		return rc;
	}
	if (nrecs > 0)
		return conduit_audit_append_many(t->state_dir, recs, nrecs, err);
	return 0;
}

void
conduit_txn_end(struct conduit_txn *t)
{
	if (t->locked)
		conduit_lock_release(&t->lock);
	t->locked = false;
	conduit_registry_free(&t->cur);
	conduit_registry_free(&t->next);
}

int
conduit_backends_sync(const char *state_dir, const struct conduit_settings *s,
    const struct conduit_registry *reg, bool live, struct conduit_err *err)
{
	struct conduit_txn t;
	struct conduit_registry empty;

	memset(&t, 0, sizeof(t));
	t.state_dir = state_dir;
	t.settings = s;
	t.no_reload = !live;
	conduit_registry_init(&empty);
	return apply_all(&t, &empty, reg, live, true, false, err);
}
