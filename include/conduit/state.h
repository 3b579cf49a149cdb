/*
 * state.h - the layout of a state directory (conduit(1) FILES, and the
 * full owner/mode list in docs/guides/enclave.md).
 *
 *   conduit.yaml        settings (0600)
 *   services.json       the registry (0600)
 *   audit.log           JSONL audit log (0600)
 *   *.lock              flock files (registry.lock, audit.lock)
 *   run/                pid files and the Caddy admin socket (0700)
 *   logs/               caddy.log, dnsmasq.log, access/<name>.log
 *   caddy/              caddy.json as last rendered, Caddy's storage
 *   pki/                conduit's root CA (root.crt 0644, root.key 0600)
 *   dns/                dnsmasq.conf; as root the records dnsmasq reads
 *                       live in /run/conduit/<id>/ instead (docs/dns.md)
 *   capsules/           capsules.db, key, keyring.json
 *
 * Every directory is 0700, the state dir itself included.
 */
#ifndef CONDUIT_STATE_H
#define CONDUIT_STATE_H

#include <stddef.h>

#include "conduit/err.h"

#define CONDUIT_F_CONFIG	"conduit.yaml"
#define CONDUIT_F_SERVICES	"services.json"
#define CONDUIT_F_AUDIT		"audit.log"
#define CONDUIT_D_RUN		"run"
#define CONDUIT_D_LOGS		"logs"
#define CONDUIT_D_CADDY		"caddy"
#define CONDUIT_D_PKI		"pki"
#define CONDUIT_D_DNS		"dns"
#define CONDUIT_D_CAPSULES	"capsules"

/* out = state_dir/rel; CONDUIT_EINVAL when it does not fit. */
int conduit_state_path(char *out, size_t outlen, const char *state_dir,
    const char *rel, struct conduit_err *err);

/* Checks state_dir exists and is a directory (not a symlink) owned by
 * us: CONDUIT_ESTATE "... run `conduit init`" otherwise. */
int conduit_state_check(const char *state_dir, struct conduit_err *err);

#endif
