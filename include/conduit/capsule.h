/*
 * capsule.h - the tamper-evident audit chain (Capsule Protocol v1.0).
 *
 * Two layers:
 *
 *   capsule.c        pure functions: JSON that keeps each number's source
 *                    text, the protocol's canonical form, SHA3-256, the
 *                    validator (categories and fields as in
 *                    ../shared/conformance/capsule/invalid-fixtures.json),
 *                    Ed25519 over the hex hash, UUID v4, timestamps.
 *   capsule_store.c  <state-dir>/capsules/: the Ed25519 key, keyring.json
 *                    and capsules.db in the reference implementation's
 *                    layout; sealing an audit record, verifying the
 *                    chain (and that audit.log holds the same records),
 *                    walking it for export and `audit tail`.
 *
 * The mapping from an audit record to a capsule is in docs/audit-chain.md.
 */
#ifndef CONDUIT_CAPSULE_H
#define CONDUIT_CAPSULE_H

#include <stdbool.h>
#include <stddef.h>

#include "conduit/err.h"

struct cJSON;

/* ---- JSON with number text kept (capsule.c) ---- */

/*
 * Parses strict JSON (RFC 8259: UTF-8, no NUL in strings, numbers in
 * JSON grammar).  Every number node carries its source text in
 * ->valuestring (freed by cJSON_Delete), so integers stay exact and
 * `2.0` stays a float.  CONDUIT_EINVAL with the byte offset on error.
 */
struct cJSON *conduit_json_parse(const char *text, size_t len,
    struct conduit_err *err);

/* A number node whose source text is raw ("5", "0.0"); NULL on ENOMEM. */
struct cJSON *conduit_json_number(const char *raw);

/* Canonical JSON of any value: keys sorted by code point, no space,
 * only the escapes the protocol allows.  Duplicate keys are an error.
 * *out is malloc'd and NUL-terminated. */
int conduit_json_canonical(const struct cJSON *v, char **out, size_t *outlen,
    struct conduit_err *err);

/* ---- the capsule content (capsule.c) ---- */

enum conduit_capsule_cat {
	CAPSULE_OK = 0,
	CAPSULE_MISSING_FIELD,
	CAPSULE_WRONG_TYPE,
	CAPSULE_INVALID_VALUE,
	CAPSULE_CHAIN_VIOLATION,
	CAPSULE_INTEGRITY_VIOLATION,
};

/* "missing_field", "wrong_type", ... as invalid-fixtures.json spells them. */
const char *conduit_capsule_cat_name(enum conduit_capsule_cat cat);

struct conduit_capsule_problem {
	enum conduit_capsule_cat cat;
	char field[160];	/* "trigger.type", "reasoning.options[1].id" */
};

/* The seal fields, which sit beside the content and are never hashed. */
extern const char *const conduit_capsule_seal_fields[5];

/*
 * Validates a capsule dict (content, optionally with seal fields) and
 * writes its canonical JSON.  claimed_hash (NULL: the dict's own "hash"
 * field when it has one) is compared with the recomputed hash.  On a
 * rule violation returns CONDUIT_EINVAL with prob filled and err saying
 * "FIELD: CATEGORY: why".  hash_hex (65 bytes) receives the hash.
 */
int conduit_capsule_canonical(const struct cJSON *capsule,
    const char *claimed_hash, char **canon, size_t *canon_len,
    char hash_hex[65], struct conduit_capsule_problem *prob,
    struct conduit_err *err);

/* Validation alone (what conduit_capsule_canonical checks first). */
int conduit_capsule_validate(const struct cJSON *capsule,
    struct conduit_capsule_problem *prob, struct conduit_err *err);

/* SHA3-256 of data as 64 lowercase hex digits. */
int conduit_sha3_hex(const void *data, size_t len, char out[65]);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void conduit_hex(const unsigned char *in, size_t len, char *out);

/* Parses exactly 2*len hex digits (either case); -1 when malformed. */
int conduit_unhex(const char *in, unsigned char *out, size_t len);

/* A random (v4) UUID, lowercase. */
int conduit_uuid4(char out[37], struct conduit_err *err);

/* Whether s is a UUID in the canonical lowercase 8-4-4-4-12 form. */
bool conduit_uuid_is_canonical(const char *s);

/* Now, as Python's datetime.isoformat() writes UTC:
 * YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00 */
void conduit_capsule_now(char out[40]);

/* "YYYY-MM-DDTHH:MM:SSZ" -> "YYYY-MM-DDTHH:MM:SS+00:00" and back. */
int conduit_capsule_ts_from_audit(const char *in, char out[40]);
int conduit_capsule_ts_to_audit(const char *in, char out[32]);

/* ---- Ed25519 over the 64 hex characters of a hash (capsule.c) ---- */

struct conduit_capsule_key {
	void *pkey;			/* EVP_PKEY *, private or public */
	unsigned char pub[32];
	char pub_hex[65];
	char fingerprint[16];		/* "qp_key_" + 4 hex digits */
};

int conduit_capsule_key_from_seed(struct conduit_capsule_key *k,
    const unsigned char seed[32], struct conduit_err *err);
int conduit_capsule_key_from_public(struct conduit_capsule_key *k,
    const unsigned char pub[32], struct conduit_err *err);
void conduit_capsule_key_free(struct conduit_capsule_key *k);
int conduit_capsule_sign(const struct conduit_capsule_key *k,
    const char hash_hex[65], char sig_hex[129], struct conduit_err *err);
/* 0 valid, 1 invalid signature, <0 error. */
int conduit_capsule_verify_sig(const struct conduit_capsule_key *k,
    const char hash_hex[65], const char *sig_hex);

/* ---- the chain in <state-dir>/capsules (capsule_store.c) ---- */

/* Creates capsules/, the key (0600) and keyring.json (0600) unless they
 * exist; idempotent.  `conduit init` calls it. */
int conduit_capsule_init(const char *state_dir, struct conduit_err *err);

/*
 * Seals one audit record (the exact JSONL line written to audit.log,
 * without or with its newline) as the next capsule.  The caller holds
 * the audit lock, so the two stores grow in step; the transaction and
 * the UNIQUE(sequence) constraint guard against anyone who does not.
 * Creates the key and keyring first when neither exists.
 */
int conduit_capsule_seal_record(const char *state_dir, const char *line,
    struct conduit_err *err);

/* The capsule (content only) that sealing builds for one audit line:
 * the mapping of docs/audit-chain.md, with a fresh UUID v4. */
struct cJSON *conduit_capsule_from_line(const char *line,
    const char *state_dir, long long seq, const char *prev,
    struct conduit_err *err);

enum conduit_verify_level {
	VERIFY_STRUCTURAL,	/* sequence and linkage */
	VERIFY_FULL,		/* + every hash recomputed */
	VERIFY_SIGNATURES,	/* + Ed25519 with the keyring */
};

int conduit_verify_level_parse(const char *s, enum conduit_verify_level *out);
const char *conduit_verify_level_name(enum conduit_verify_level l);

struct conduit_verify_result {
	bool valid;
	long long capsules;		/* rows in the chain */
	long long verified;		/* capsules that passed */
	long long log_records;		/* lines in audit.log */
	long long bad_sequence;		/* first bad one; -1 when valid */
	char reason[512];
	long long head_sequence;	/* -1 when the chain is empty */
	char head_hash[65];
};

/* Returns 0 with res filled (valid or not) or <0 when it could not
 * check at all (no database, unreadable keyring...). */
int conduit_capsule_verify(const char *state_dir,
    enum conduit_verify_level level, struct conduit_verify_result *res,
    struct conduit_err *err);

/* One stored capsule as the walkers hand it over. */
struct conduit_capsule_row {
	long long sequence;
	const char *id;
	const char *previous_hash;	/* NULL at 0 */
	const char *data;		/* the content JSON as stored */
	const char *hash;
	const char *signature;
	const char *signature_pq;
	const char *signed_at;
	const char *signed_by;
};

/* Calls fn for each capsule in sequence order; fn returns non-zero to
 * stop (that value is returned). */
int conduit_capsule_foreach(const char *state_dir,
    int (*fn)(const struct conduit_capsule_row *row, void *arg), void *arg,
    struct conduit_err *err);

/* The sealed record (content plus the five seal fields) as one compact
 * JSON object, the shape the reference CLI's `verify FILE.json` reads. */
char *conduit_capsule_row_sealed_json(const struct conduit_capsule_row *row);

/*
 * Seal status of each audit.log line, for `audit tail`: status[i] for
 * line i.  "sealed" means the capsule at that sequence holds the same
 * record, its hash recomputes and its signature verifies; otherwise
 * "unsealed" (no capsule), "differs", "bad-hash" or "bad-signature".
 */
int conduit_capsule_line_status(const char *state_dir, const char **lines,
    size_t n, size_t first_index, const char **status,
    struct conduit_err *err);

#endif
