/*
 * caddy.h - the gateway: Caddy's JSON config, its admin API, its daemon.
 *
 * conduit owns the whole Caddy configuration.  conduit_caddy_render()
 * is a pure function of (settings, registry, paths) that returns the
 * complete document; the backend (src/backend/caddy.c) posts it to
 * Caddy's admin API, which listens only on a unix socket in
 * <state>/run/, and writes <state>/caddy/caddy.json once Caddy accepted
 * it.  The layout of the config is described in docs/gateway.md; the
 * TLS side (conduit's root CA, Caddy's intermediate, leaf lifetime) in
 * docs/tls.md.
 *
 * Facts of Debian's Caddy 2.6.2 this module is built around:
 *   - requests on the admin socket need an empty Host header (else 403);
 *   - every posted config must hold the admin block, or the admin API
 *     moves to TCP 2019;
 *   - an identical config is ignored unless Cache-Control:
 *     must-revalidate is sent (we always send it);
 *   - a rejected config is answered 400 {"error": "..."} and the old
 *     config keeps serving;
 *   - active health checks know no passes/fails counts and the pki app
 *     no intermediate_lifetime (both are "unknown field" errors).
 */
#ifndef CONDUIT_CADDY_H
#define CONDUIT_CADDY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "conduit/err.h"
#include "conduit/registry.h"
#include "conduit/settings.h"

struct cJSON;
struct conduit_backend;
struct conduit_daemon;

/* The entries in the backend table (txn.c) and daemon table (daemons.c). */
extern const struct conduit_backend conduit_caddy_backend;
extern const struct conduit_daemon conduit_caddy_daemon;

/* Leaf lifetime conduit asks Caddy's internal issuer for.  It is kept
 * below the renewal window of Caddy 2.6's fixed 7-day intermediate
 * (renewed when 20% = 33.6 h remain), so no leaf is ever cut short by
 * its issuer's expiry.  See docs/tls.md. */
#define CONDUIT_CADDY_LEAF_LIFETIME "24h"

/* Where everything Caddy-related lives in a state dir. */
struct conduit_caddy_paths {
	char admin_socket[PATH_MAX];	/* run/caddy-admin.sock */
	char pidfile[PATH_MAX];		/* run/caddy.pid */
	char logfile[PATH_MAX];		/* logs/caddy.log */
	char access_dir[PATH_MAX];	/* logs/access (NAME.log inside) */
	char storage[PATH_MAX];		/* caddy (Caddy's data dir) */
	char config[PATH_MAX];		/* caddy/caddy.json */
	char root_cert[PATH_MAX];	/* pki/root.crt */
	char root_key[PATH_MAX];	/* pki/root.key */
};

int conduit_caddy_paths(const char *state_dir, struct conduit_caddy_paths *p,
    struct conduit_err *err);

/* The health check Caddy runs for svc: its overrides over the settings.
 * `conduit status` uses the same values. */
void conduit_caddy_health_for(const struct conduit_settings *s,
    const struct conduit_service *svc, struct conduit_health_cfg *out);

/* The complete Caddy config (pure).  NULL only when out of memory. */
struct cJSON *conduit_caddy_config(const struct conduit_settings *s,
    const struct conduit_registry *reg, const struct conduit_caddy_paths *p);

/* The same as compact JSON text in *out (malloc'd). */
int conduit_caddy_render(const struct conduit_settings *s,
    const struct conduit_registry *reg, const struct conduit_caddy_paths *p,
    char **out, size_t *outlen, struct conduit_err *err);

/* The route id of a service ("conduit-svc-NAME"), usable as
 * GET /id/conduit-svc-NAME on the admin API. */
int conduit_caddy_route_id(const char *name, char *out, size_t outlen);

/* POST /load.  400 -> CONDUIT_EBACKEND with Caddy's own error text;
 * nobody listening -> CONDUIT_EBACKEND "gateway not running at SOCK: run
 * `conduit up`". */
int conduit_caddy_load(const char *socket, const char *doc, size_t len,
    struct conduit_err *err);

/* Whether a Caddy answers on the admin socket. */
bool conduit_caddy_ping(const char *socket);

/* Removes Caddy's stored intermediate (and the leaves it signed) when it
 * was not signed by conduit's current root, so a re-created root never
 * leaves Caddy issuing under an old chain.  *wiped says whether it did. */
int conduit_caddy_pki_refresh(const struct conduit_caddy_paths *p,
    bool *wiped, struct conduit_err *err);

/* Path of the stored leaf certificate for host in Caddy's storage
 * (a "*." prefix is stored as "wildcard_."); sets the directory too
 * when dir is non-NULL. */
int conduit_caddy_leaf_path(const struct conduit_caddy_paths *p,
    const char *host, char *crt, size_t crtlen, char *dir, size_t dirlen,
    struct conduit_err *err);

/* The directory holding every leaf Caddy's internal issuer stored. */
int conduit_caddy_leaf_root(const struct conduit_caddy_paths *p, char *out,
    size_t outlen, struct conduit_err *err);

#endif
