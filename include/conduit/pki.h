/*
 * pki.h - conduit's own root CA and reading certificates with OpenSSL.
 *
 * The root lives in <state>/pki/ (root.crt 0644, root.key 0600) and is
 * created once by `conduit init`; Caddy's pki app signs its intermediate
 * with it (docs/tls.md).  Owning the root means it survives Caddy's
 * storage being wiped and can be exported while Caddy is down.
 */
#ifndef CONDUIT_PKI_H
#define CONDUIT_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "conduit/err.h"

#define CONDUIT_PKI_ROOT_DAYS 3650

/* Creates pki/root.key and pki/root.crt unless root.crt already exists
 * (*created says which).  key_type: "ecdsa" (P-256) or "ed25519". */
int conduit_pki_init(const char *state_dir, const char *key_type,
    const char *domain, bool *created, struct conduit_err *err);

struct conduit_cert_info {
	char subject[256];
	char issuer[256];
	char sans[1024];	/* "a.internal, b.internal" */
	char key_type[32];	/* "ECDSA P-256", "Ed25519", "RSA 2048" */
	char serial[128];	/* upper-case hex */
	char sha256[100];	/* AA:BB:... */
	time_t not_before, not_after;
	bool is_ca;
};

/* Reads the first certificate of a PEM file. */
int conduit_pki_cert_info(const char *pem_path, struct conduit_cert_info *ci,
    struct conduit_err *err);

/* Same for PEM text in memory. */
int conduit_pki_cert_info_mem(const char *pem, size_t len,
    struct conduit_cert_info *ci, struct conduit_err *err);

/* *ok = whether the first certificate in cert_path carries a valid
 * signature by the key of the certificate in issuer_path. */
int conduit_pki_signed_by(const char *cert_path, const char *issuer_path,
    bool *ok, struct conduit_err *err);

/* Full UTC date "2026-05-01 12:00:00 UTC". */
void conduit_pki_date(time_t t, char out[32]);

#endif
