/*
 * capsule_store.c - the audit chain on disk: <state-dir>/capsules/.
 *
 * Layout is the reference implementation's, so its CLI verifies
 * conduit's chain with QUANTUMPIPES_DATA_DIR=<state-dir>/capsules:
 *   key           the raw 32-byte Ed25519 seed, 0600
 *   keyring.json  epochs of public keys, 0600
 *   capsules.db   SQLite, the reference's exact table and indexes
 *
 * Sealing runs inside conduit_audit_append() under the audit lock, so
 * audit.log line N and capsule N are the same record.  The sequence and
 * previous hash are read inside a BEGIN IMMEDIATE transaction, so even
 * a writer that skipped the lock could not reuse a sequence; the
 * UNIQUE(sequence) constraint is the last guard.  The database runs
 * with synchronous=FULL and a persistent rollback journal: a commit
 * that returned is on disk, like the audit.log line it mirrors.
 *
 * The database file is created empty with mode 0600 before SQLite opens
 * it (SQLite would create it with the umask); the journal inherits that
 * mode.
 *
 * Verification reads every row in sequence order and stops at the first
 * failure, the way the reference's verifier does, so the sequence it
 * names is the first one that cannot be trusted.  It also reconciles
 * the chain with audit.log, record by record.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "conduit/capsule.h"
#include "conduit/fsutil.h"
#include "conduit/state.h"

#define F_KEY		"key"
#define F_KEYRING	"keyring.json"
#define F_DB		"capsules.db"

static const char ddl[] =
    "CREATE TABLE IF NOT EXISTS capsules (id VARCHAR(36) NOT NULL, "
    "type VARCHAR(20) NOT NULL, sequence INTEGER NOT NULL, "
    "previous_hash VARCHAR(64), data TEXT NOT NULL, "
    "hash VARCHAR(64) NOT NULL, signature TEXT NOT NULL, "
    "signature_pq TEXT NOT NULL, signed_at VARCHAR(40), "
    "signed_by VARCHAR(32), session_id VARCHAR(36), PRIMARY KEY (id), "
    "CONSTRAINT uq_capsule_sequence UNIQUE (sequence));"
    "CREATE INDEX IF NOT EXISTS ix_capsules_sequence ON capsules (sequence);"
    "CREATE INDEX IF NOT EXISTS ix_capsules_session_id ON capsules (session_id);"
    "CREATE INDEX IF NOT EXISTS ix_capsules_hash ON capsules (hash);";

static int
cap_path(char *out, size_t outlen, const char *state_dir, const char *name,
    struct conduit_err *err)
{
	int n = snprintf(out, outlen, "%s/%s%s%s", state_dir, CONDUIT_D_CAPSULES,
	    name ? "/" : "", name ? name : "");

	if (n < 0 || (size_t)n >= outlen)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "path under %s is too long", state_dir);
	return 0;
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ------------------------------------------------------------------ */
/* Key and keyring                                                     */

struct keyring {
	struct conduit_capsule_key *keys;
	size_t n;
};

static void
keyring_free(struct keyring *kr)
{
	size_t i;

	for (i = 0; i < kr->n; i++)
		conduit_capsule_key_free(&kr->keys[i]);
	free(kr->keys);
	kr->keys = NULL;
	kr->n = 0;
}

static const struct conduit_capsule_key *
keyring_lookup(const struct keyring *kr, const char *fingerprint)
{
	size_t i;

	for (i = 0; i < kr->n; i++)
		if (strcmp(kr->keys[i].fingerprint, fingerprint) == 0)
			return &kr->keys[i];
	/* pre-keyring capsules name the first 16 hex digits */
	for (i = 0; i < kr->n; i++)
		if (strlen(fingerprint) == 16 &&
		    strncmp(kr->keys[i].pub_hex, fingerprint, 16) == 0)
			return &kr->keys[i];
	return NULL;
}

static int
keyring_load(const char *state_dir, struct keyring *kr, struct conduit_err *err)
{
	char path[PATH_MAX], *text;
	const cJSON *ep, *v;
	size_t len, cap;
	cJSON *doc;
	int rc;

	kr->keys = NULL;
	kr->n = 0;
	if ((rc = cap_path(path, sizeof(path), state_dir, F_KEYRING, err)) != 0)
		return rc;
	if ((rc = conduit_read_file(path, &text, &len, err)) != 0)
		return rc;
	doc = cJSON_ParseWithLength(text, len);
	free(text);
	v = cJSON_GetObjectItemCaseSensitive(doc, "version");
	if (doc == NULL || !cJSON_IsNumber(v) || v->valuedouble != 1 ||
	    !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "epochs"))) {
		cJSON_Delete(doc);
		return conduit_err_set(err, CONDUIT_ECORRUPT,
		    "%s is not a version 1 keyring", path);
	}
	cap = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc,
	    "epochs"));
	kr->keys = calloc(cap ? cap : 1, sizeof(*kr->keys));
	if (kr->keys == NULL) {
		cJSON_Delete(doc);
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	}
	cJSON_ArrayForEach(ep, cJSON_GetObjectItemCaseSensitive(doc, "epochs")) {
		const cJSON *hx = cJSON_GetObjectItemCaseSensitive(ep,
		    "public_key_hex");
		unsigned char pub[32];

		if (!cJSON_IsString(hx) ||
		    conduit_unhex(hx->valuestring, pub, 32) != 0 ||
		    conduit_capsule_key_from_public(&kr->keys[kr->n], pub,
		    err) != 0) {
			cJSON_Delete(doc);
			keyring_free(kr);
			return conduit_err_set(err, CONDUIT_ECORRUPT,
			    "%s: an epoch's public_key_hex is not an Ed25519 "
			    "public key", path);
		}
		kr->n++;
	}
	cJSON_Delete(doc);
	return 0;
}

static int
key_load(const char *state_dir, struct conduit_capsule_key *k,
    struct conduit_err *err)
{
	char path[PATH_MAX], *seed;
	size_t len;
	int rc;

	if ((rc = cap_path(path, sizeof(path), state_dir, F_KEY, err)) != 0)
		return rc;
	if ((rc = conduit_read_file(path, &seed, &len, err)) != 0)
		return rc;
	if (len != 32) {
		free(seed);
		return conduit_err_set(err, CONDUIT_ECORRUPT,
		    "%s holds %zu bytes, not a 32-byte Ed25519 seed", path, len);
	}
	rc = conduit_capsule_key_from_seed(k, (unsigned char *)seed, err);
	OPENSSL_cleanse(seed, len);
	free(seed);
	return rc;
}

static int
keyring_write(const char *state_dir, const struct conduit_capsule_key *k,
    struct conduit_err *err)
{
	char path[PATH_MAX], now[40], *text;
	cJSON *doc, *eps, *ep;
	int rc;

	if ((rc = cap_path(path, sizeof(path), state_dir, F_KEYRING, err)) != 0)
		return rc;
	conduit_capsule_now(now);
	doc = cJSON_CreateObject();
	ep = cJSON_CreateObject();
	if (doc == NULL || ep == NULL) {
		cJSON_Delete(doc);
		cJSON_Delete(ep);
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	}
	cJSON_AddNumberToObject(doc, "version", 1);
	cJSON_AddNumberToObject(doc, "active_epoch", 0);
	eps = cJSON_AddArrayToObject(doc, "epochs");
	if (eps == NULL || !cJSON_AddItemToArray(eps, ep)) {
		cJSON_Delete(doc);
		cJSON_Delete(ep);
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	}
	cJSON_AddNumberToObject(ep, "epoch", 0);
	cJSON_AddStringToObject(ep, "algorithm", "ed25519");
	cJSON_AddStringToObject(ep, "public_key_hex", k->pub_hex);
	cJSON_AddStringToObject(ep, "fingerprint", k->fingerprint);
	cJSON_AddStringToObject(ep, "created_at", now);
	cJSON_AddNullToObject(ep, "rotated_at");
	cJSON_AddStringToObject(ep, "status", "active");
	text = cJSON_Print(doc);
	cJSON_Delete(doc);
	if (text == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	{
		size_t len = strlen(text);
		char *withnl = realloc(text, len + 2);

		if (withnl == NULL) {
			free(text);
			return conduit_err_set(err, CONDUIT_ENOMEM,
			    "out of memory");
		}
		text = withnl;
		text[len] = '\n';
		text[len + 1] = '\0';
	}
	rc = conduit_write_atomic(path, text, strlen(text), 0600, err);
	free(text);
	return rc;
}

/* Creates the database file empty at 0600 when it does not exist. */
static int
db_precreate(const char *path, struct conduit_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == EEXIST)
		return conduit_refuse_symlink(path, err);
	return conduit_err_set(err, CONDUIT_EIO, "cannot create %s: %s", path,
	    strerror(errno));
}

static int
db_open(const char *state_dir, bool create, sqlite3 **db,
    struct conduit_err *err)
{
	char path[PATH_MAX];
	int rc;

	*db = NULL;
	if ((rc = cap_path(path, sizeof(path), state_dir, F_DB, err)) != 0)
		return rc;
	if (create && (rc = db_precreate(path, err)) != 0)
		return rc;
	if (!create && !exists(path))
		return conduit_err_set(err, CONDUIT_ENOTFOUND,
		    "%s does not exist", path);
	if ((rc = conduit_refuse_symlink(path, err)) != 0)
		return rc;
	if (sqlite3_open_v2(path, db, create ? SQLITE_OPEN_READWRITE :
	    SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = conduit_err_set(err, CONDUIT_EIO, "cannot open %s: %s", path,
		    *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return rc;
	}
	sqlite3_busy_timeout(*db, 30000);
	if (!create)
		return 0;
	/* Both pragmas are per connection; the schema is created once.
	 * A persistent rollback journal measured faster than WAL here:
	 * sealing opens the database once per record, and the last WAL
	 * connection to close checkpoints and deletes the log each time. */
	if (sqlite3_exec(*db, "PRAGMA synchronous=FULL;"
	    "PRAGMA journal_mode=PERSIST", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_table_column_metadata(*db, NULL, "capsules", "signature_pq",
	    NULL, NULL, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	if (sqlite3_exec(*db, ddl, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	rc = conduit_err_set(err, CONDUIT_EIO, "cannot set up %s: %s", path,
	    sqlite3_errmsg(*db));
	sqlite3_close(*db);
	*db = NULL;
	return rc;
}

int
conduit_capsule_init(const char *state_dir, struct conduit_err *err)
{
	char dir[PATH_MAX], keyp[PATH_MAX], ringp[PATH_MAX];
	struct conduit_capsule_key k;
	unsigned char seed[32];
	sqlite3 *db;
	int rc;

	if ((rc = cap_path(dir, sizeof(dir), state_dir, NULL, err)) != 0 ||
	    (rc = cap_path(keyp, sizeof(keyp), state_dir, F_KEY, err)) != 0 ||
	    (rc = cap_path(ringp, sizeof(ringp), state_dir, F_KEYRING, err)) != 0)
		return rc;
	if ((rc = conduit_mkdir_p(dir, 0700, err)) != 0)
		return rc;
	if (!exists(keyp)) {
		if (exists(ringp))
			return conduit_err_set(err, CONDUIT_ESTATE,
			    "%s exists but the key %s is missing; restore the "
			    "key from a backup (a new key would not verify the "
			    "chain)", ringp, keyp);
		if (RAND_bytes(seed, sizeof(seed)) != 1)
			return conduit_err_set(err, CONDUIT_EINTERNAL,
			    "the random number generator failed");
		rc = conduit_write_atomic(keyp, seed, sizeof(seed), 0600, err);
		OPENSSL_cleanse(seed, sizeof(seed));
		if (rc != 0)
			return rc;
	}
	if ((rc = key_load(state_dir, &k, err)) != 0)
		return rc;
	if (!exists(ringp))
		rc = keyring_write(state_dir, &k, err);
	conduit_capsule_key_free(&k);
	if (rc != 0)
		return rc;
	if ((rc = db_open(state_dir, true, &db, err)) != 0)
		return rc;
	sqlite3_close(db);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Sealing                                                             */

static cJSON *
obj_add(cJSON *parent, const char *name)
{
	return cJSON_AddObjectToObject(parent, name);
}

static void
add_str_or_null(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

struct audit_fields {
	const char *timestamp, *action, *status, *message, *user;
	cJSON *details;
};

static int
audit_fields(cJSON *rec, struct audit_fields *f, struct conduit_err *err)
{
	static const char *const names[] = { "timestamp", "action", "status",
	    "message", "user" };
	const char **dst[] = { &f->timestamp, &f->action, &f->status,
	    &f->message, &f->user };
	size_t i;

	for (i = 0; i < 5; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, names[i]);

		if (!cJSON_IsString(v))
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "audit record: \"%s\" must be a string", names[i]);
		*dst[i] = v->valuestring;
	}
	f->details = cJSON_GetObjectItemCaseSensitive(rec, "details");
	if (!cJSON_IsObject(f->details))
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "audit record: \"details\" must be an object");
	return 0;
}

/* The capsule for one audit record; details is moved out of rec. */
static cJSON *
capsule_from_record(cJSON *rec, const struct audit_fields *f,
    const char *state_dir, long long seq, const char *prev, const char *id,
    struct conduit_err *err)
{
	char ts[40], seqs[24], host[256];
	cJSON *c, *s, *env;
	bool ok = true;

	if (conduit_capsule_ts_from_audit(f->timestamp, ts) != 0) {
		(void)conduit_err_set(err, CONDUIT_EINVAL,
		    "audit record: timestamp \"%s\" is not YYYY-MM-DDTHH:MM:SSZ",
		    f->timestamp);
		return NULL;
	}
	if (gethostname(host, sizeof(host)) != 0)
		(void)snprintf(host, sizeof(host), "%s", "unknown");
	host[sizeof(host) - 1] = '\0';
	(void)snprintf(seqs, sizeof(seqs), "%lld", seq);

	c = cJSON_CreateObject();
	if (c == NULL)
		goto oom;
	cJSON_AddStringToObject(c, "id", id);
	cJSON_AddStringToObject(c, "type", "system");
	cJSON_AddStringToObject(c, "domain", "conduit");
	cJSON_AddNullToObject(c, "parent_id");
	ok = cJSON_AddItemToObject(c, "sequence", conduit_json_number(seqs));
	add_str_or_null(c, "previous_hash", prev);
	cJSON_AddStringToObject(c, "spec_version", "1.0");

	s = obj_add(c, "trigger");
	cJSON_AddStringToObject(s, "type", "system");
	cJSON_AddStringToObject(s, "source", f->user);
	cJSON_AddStringToObject(s, "timestamp", ts);
	cJSON_AddStringToObject(s, "request", f->action);
	cJSON_AddNullToObject(s, "correlation_id");
	cJSON_AddStringToObject(s, "user_id", f->user);

	s = obj_add(c, "context");
	cJSON_AddStringToObject(s, "agent_id", "conduit");
	cJSON_AddNullToObject(s, "session_id");
	env = obj_add(s, "environment");
	cJSON_AddStringToObject(env, "hostname", host);
	cJSON_AddStringToObject(env, "state_dir", state_dir);

	s = obj_add(c, "reasoning");
	cJSON_AddStringToObject(s, "analysis", "");
	cJSON_AddArrayToObject(s, "options");
	cJSON_AddArrayToObject(s, "options_considered");
	cJSON_AddStringToObject(s, "selected_option", "");
	cJSON_AddStringToObject(s, "reasoning", "");
	ok = ok && cJSON_AddItemToObject(s, "confidence", conduit_json_number("0.0"));
	cJSON_AddNullToObject(s, "model");
	cJSON_AddNullToObject(s, "prompt_hash");

	s = obj_add(c, "authority");
	cJSON_AddStringToObject(s, "type", "autonomous");
	cJSON_AddNullToObject(s, "approver");
	cJSON_AddNullToObject(s, "policy_reference");
	cJSON_AddArrayToObject(s, "chain");
	cJSON_AddNullToObject(s, "escalation_reason");

	s = obj_add(c, "execution");
	cJSON_AddArrayToObject(s, "tool_calls");
	ok = ok && cJSON_AddItemToObject(s, "duration_ms", conduit_json_number("0"));
	cJSON_AddObjectToObject(s, "resources_used");

	s = obj_add(c, "outcome");
	cJSON_AddStringToObject(s, "status", f->status);
	ok = ok && cJSON_AddItemToObject(s, "result",
	    cJSON_DetachItemFromObjectCaseSensitive(rec, "details"));
	cJSON_AddStringToObject(s, "summary", f->message);
	add_str_or_null(s, "error", strcmp(f->status, "failure") == 0 ?
	    f->message : NULL);
	cJSON_AddArrayToObject(s, "side_effects");
	cJSON_AddObjectToObject(s, "metrics");
	if (ok)
		return c;
	cJSON_Delete(c);
oom:
	(void)conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	return NULL;
}

struct cJSON *
conduit_capsule_from_line(const char *line, const char *state_dir,
    long long seq, const char *prev, struct conduit_err *err)
{
	struct audit_fields f;
	char id[37];
	cJSON *rec, *cap = NULL;

	rec = conduit_json_parse(line, strlen(line), err);
	if (rec == NULL)
		return NULL;
	if (audit_fields(rec, &f, err) == 0 && conduit_uuid4(id, err) == 0)
		cap = capsule_from_record(rec, &f, state_dir, seq, prev, id, err);
	cJSON_Delete(rec);
	return cap;
}

static int
db_fail(sqlite3 *db, struct conduit_err *err, const char *what)
{
	return conduit_err_set(err, CONDUIT_EIO, "capsules.db: %s: %s", what,
	    sqlite3_errmsg(db));
}

static int
insert_capsule(sqlite3 *db, const char *id, long long seq, const char *prev,
    const char *data, size_t data_len, const char *hash, const char *sig,
    const char *signed_at, const char *signed_by, struct conduit_err *err)
{
	static const char sql[] = "INSERT INTO capsules (id, type, sequence, "
	    "previous_hash, data, hash, signature, signature_pq, signed_at, "
	    "signed_by, session_id) VALUES (?, 'system', ?, ?, ?, ?, ?, '', ?, "
	    "?, NULL)";
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err, "prepare insert");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, seq);
	if (prev)
		sqlite3_bind_text(st, 3, prev, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_text(st, 4, data, (int)data_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, sig, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, signed_at, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, signed_by, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(db, err, "insert");
	return 0;
}

/* Reads the chain head inside the caller's transaction. */
static int
chain_head(sqlite3 *db, long long *seq, char prev[65], struct conduit_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*seq = -1;
	prev[0] = '\0';
	if (sqlite3_prepare_v2(db, "SELECT sequence, hash FROM capsules ORDER "
	    "BY sequence DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, err, "prepare");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *h = sqlite3_column_text(st, 1);

		*seq = sqlite3_column_int64(st, 0);
		(void)snprintf(prev, 65, "%s", h ? (const char *)h : "");
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, err, "read the chain head");
	return 0;
}

static int
seal_into(sqlite3 *db, const struct conduit_capsule_key *key,
    const char *state_dir, const char *line, struct conduit_err *err)
{
	char id[37], prev[65], hash[65], sig[129], signed_at[40];
	struct conduit_capsule_problem prob;
	struct audit_fields f;
	cJSON *rec, *cap = NULL;
	char *canon = NULL;
	size_t len = strlen(line), clen;
	long long head;
	int rc;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	rec = conduit_json_parse(line, len, err);
	if (rec == NULL)
		return conduit_err_wrap(err, "sealing the audit record");
	if ((rc = audit_fields(rec, &f, err)) != 0 ||
	    (rc = conduit_uuid4(id, err)) != 0)
		goto out;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_fail(db, err, "begin");
		goto out;
	}
	if ((rc = chain_head(db, &head, prev, err)) != 0)
		goto rollback;
	cap = capsule_from_record(rec, &f, state_dir, head + 1,
	    head < 0 ? NULL : prev, id, err);
	if (cap == NULL) {
		rc = err ? err->code : CONDUIT_EINVAL;
		goto rollback;
	}
	if ((rc = conduit_capsule_canonical(cap, NULL, &canon, &clen, hash,
	    &prob, err)) != 0 ||
	    (rc = conduit_capsule_sign(key, hash, sig, err)) != 0)
		goto rollback;
	conduit_capsule_now(signed_at);
	if ((rc = insert_capsule(db, id, head + 1, head < 0 ? NULL : prev, canon,
	    clen, hash, sig, signed_at, key->fingerprint, err)) != 0)
		goto rollback;
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_fail(db, err, "commit");
		goto rollback;
	}
	goto out;
rollback:
	(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out:
	free(canon);
	cJSON_Delete(cap);
	cJSON_Delete(rec);
	return rc;
}

/* The signing key, checked against the keyring's active epoch. */
static int
signer_load(const char *state_dir, struct conduit_capsule_key *key,
    struct conduit_err *err)
{
	char keyp[PATH_MAX], ringp[PATH_MAX];
	struct keyring kr;
	int rc;

	if ((rc = cap_path(keyp, sizeof(keyp), state_dir, F_KEY, err)) != 0 ||
	    (rc = cap_path(ringp, sizeof(ringp), state_dir, F_KEYRING, err)) != 0)
		return rc;
	if (!exists(keyp) && !exists(ringp) &&
	    (rc = conduit_capsule_init(state_dir, err)) != 0)
		return rc;
	if ((rc = key_load(state_dir, key, err)) != 0)
		return rc;
	if ((rc = keyring_load(state_dir, &kr, err)) != 0) {
		conduit_capsule_key_free(key);
		return rc;
	}
	if (keyring_lookup(&kr, key->fingerprint) == NULL ||
	    strcmp(keyring_lookup(&kr, key->fingerprint)->pub_hex,
	    key->pub_hex) != 0) {
		keyring_free(&kr);
		conduit_capsule_key_free(key);
		return conduit_err_set(err, CONDUIT_ESTATE,
		    "the signing key %s is not in %s; capsules sealed with it "
		    "would not verify", keyp, ringp);
	}
	keyring_free(&kr);
	return 0;
}

int
conduit_capsule_seal_record(const char *state_dir, const char *line,
    struct conduit_err *err)
{
	struct conduit_capsule_key key;
	sqlite3 *db;
	int rc;

	if ((rc = signer_load(state_dir, &key, err)) != 0)
		return conduit_err_wrap(err, "audit chain");
	if ((rc = db_open(state_dir, true, &db, err)) != 0) {
		conduit_capsule_key_free(&key);
		return conduit_err_wrap(err, "audit chain");
	}
	rc = seal_into(db, &key, state_dir, line, err);
	sqlite3_close(db);
	conduit_capsule_key_free(&key);
	if (rc != 0)
		return conduit_err_wrap(err, "audit chain");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */

int
conduit_verify_level_parse(const char *s, enum conduit_verify_level *out)
{
	if (strcmp(s, "structural") == 0)
		*out = VERIFY_STRUCTURAL;
	else if (strcmp(s, "full") == 0)
		*out = VERIFY_FULL;
	else if (strcmp(s, "signatures") == 0)
		*out = VERIFY_SIGNATURES;
	else
		return -1;
	return 0;
}

const char *
conduit_verify_level_name(enum conduit_verify_level l)
{
	return l == VERIFY_STRUCTURAL ? "structural" :
	    l == VERIFY_FULL ? "full" : "signatures";
}

static const char *
col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static void
row_from(sqlite3_stmt *st, struct conduit_capsule_row *r)
{
	r->sequence = sqlite3_column_int64(st, 0);
	r->id = col(st, 1) ? col(st, 1) : "";
	r->previous_hash = col(st, 2);
	r->data = col(st, 3) ? col(st, 3) : "";
	r->hash = col(st, 4) ? col(st, 4) : "";
	r->signature = col(st, 5) ? col(st, 5) : "";
	r->signature_pq = col(st, 6) ? col(st, 6) : "";
	r->signed_at = col(st, 7);
	r->signed_by = col(st, 8) ? col(st, 8) : "";
}

#define ROW_COLUMNS "sequence, id, previous_hash, data, hash, signature, " \
	"signature_pq, signed_at, signed_by"

int
conduit_capsule_foreach(const char *state_dir,
    int (*fn)(const struct conduit_capsule_row *row, void *arg), void *arg,
    struct conduit_err *err)
{
	struct conduit_capsule_row r;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc, stop = 0;

	if ((rc = db_open(state_dir, false, &db, err)) != 0)
		return rc == CONDUIT_ENOTFOUND ? 0 : rc;
	if (sqlite3_prepare_v2(db, "SELECT " ROW_COLUMNS " FROM capsules ORDER "
	    "BY sequence", -1, &st, NULL) != SQLITE_OK) {
		rc = db_fail(db, err, "read");
		sqlite3_close(db);
		return rc;
	}
	while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_from(st, &r);
		stop = fn(&r, arg);
	}
	if (stop == 0 && rc != SQLITE_DONE)
		stop = db_fail(db, err, "read");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return stop;
}

char *
conduit_capsule_row_sealed_json(const struct conduit_capsule_row *r)
{
	size_t dlen = strlen(r->data), slen;
	char *seal, *out;
	cJSON *s = cJSON_CreateObject();

	if (s == NULL || dlen < 2 || r->data[dlen - 1] != '}') {
		cJSON_Delete(s);
		return NULL;
	}
	cJSON_AddStringToObject(s, "hash", r->hash);
	cJSON_AddStringToObject(s, "signature", r->signature);
	cJSON_AddStringToObject(s, "signature_pq", r->signature_pq);
	add_str_or_null(s, "signed_at", r->signed_at);
	cJSON_AddStringToObject(s, "signed_by", r->signed_by);
	seal = cJSON_PrintUnformatted(s);
	cJSON_Delete(s);
	if (seal == NULL)
		return NULL;
	slen = strlen(seal);
	out = malloc(dlen + slen + 1);
	if (out != NULL) {
		/* "{...content" + "," + "seal...}" */
		memcpy(out, r->data, dlen - 1);
		out[dlen - 1] = ',';
		memcpy(out + dlen, seal + 1, slen);	/* includes the NUL */
	}
	free(seal);
	return out;
}

/* The audit record a capsule holds, canonical, for comparing with a
 * line of audit.log. */
static char *
record_of_capsule(const cJSON *cap)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(cap, "trigger");
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(cap, "outcome");
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(t, "timestamp");
	const char *names[] = { "action", "status", "message", "user" };
	const cJSON *vals[] = {
		cJSON_GetObjectItemCaseSensitive(t, "request"),
		cJSON_GetObjectItemCaseSensitive(o, "status"),
		cJSON_GetObjectItemCaseSensitive(o, "summary"),
		cJSON_GetObjectItemCaseSensitive(t, "source"),
	};
	const cJSON *details = cJSON_GetObjectItemCaseSensitive(o, "result");
	char ats[32], *out = NULL;
	cJSON *rec;
	size_t i;

	if (!cJSON_IsString(ts) ||
	    conduit_capsule_ts_to_audit(ts->valuestring, ats) != 0 ||
	    details == NULL)
		return NULL;
	rec = cJSON_CreateObject();
	if (rec == NULL)
		return NULL;
	cJSON_AddStringToObject(rec, "timestamp", ats);
	for (i = 0; i < 4; i++) {
		if (!cJSON_IsString(vals[i])) {
			cJSON_Delete(rec);
			return NULL;
		}
		cJSON_AddStringToObject(rec, names[i], vals[i]->valuestring);
	}
	cJSON_AddItemToObject(rec, "details", cJSON_Duplicate(details, true));
	if (conduit_json_canonical(rec, &out, NULL, NULL) != 0)
		out = NULL;
	cJSON_Delete(rec);
	return out;
}

static char *
record_of_line(const char *line)
{
	cJSON *v = conduit_json_parse(line, strlen(line), NULL);
	char *out = NULL;

	if (v == NULL)
		return NULL;
	if (conduit_json_canonical(v, &out, NULL, NULL) != 0)
		out = NULL;
	cJSON_Delete(v);
	return out;
}

/* audit.log as lines; a missing log is an empty one. */
static int
lines_load(const char *state_dir, struct conduit_lines *l,
    struct conduit_err *err)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = conduit_path_join(path, sizeof(path), state_dir,
	    CONDUIT_F_AUDIT, err)) != 0)
		return rc;
	rc = conduit_read_lines(path, l, err);
	if (rc == CONDUIT_ENOTFOUND) {
		conduit_err_clear(err);
		return 0;
	}
	return rc;
}

struct verify_state {
	enum conduit_verify_level level;
	struct keyring kr;
	struct conduit_lines log;
	struct conduit_verify_result *res;
	char prev_hash[65];
	long long i;
	bool check_log;
};

static int bad(struct verify_state *vs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Records the first failure; returns 1 to stop the walk. */
static int
bad(struct verify_state *vs, const char *fmt, ...)
{
	va_list ap;

	vs->res->valid = false;
	vs->res->bad_sequence = vs->i;
	va_start(ap, fmt);
	(void)vsnprintf(vs->res->reason, sizeof(vs->res->reason), fmt, ap);
	va_end(ap);
	return 1;
}

static int
verify_row(const struct conduit_capsule_row *r, void *arg)
{
	struct verify_state *vs = arg;
	struct conduit_capsule_problem prob;
	struct conduit_err e = { 0 };
	const struct conduit_capsule_key *k;
	char hash[65], *canon = NULL, *a, *b;
	const cJSON *v;
	cJSON *cap;
	int rc = 0;

	if (r->sequence != vs->i)
		return bad(vs, "sequence gap: expected sequence %lld, found %lld "
		    "(a capsule is missing or was reordered)", vs->i,
		    r->sequence);
	if (vs->i == 0 && r->previous_hash != NULL)
		return bad(vs, "the genesis capsule has a previous_hash");
	if (vs->i > 0 && (r->previous_hash == NULL ||
	    strcmp(r->previous_hash, vs->prev_hash) != 0))
		return bad(vs, "chain broken: previous_hash does not match the "
		    "hash of capsule %lld", vs->i - 1);
	cap = conduit_json_parse(r->data, strlen(r->data), &e);
	if (cap == NULL)
		return bad(vs, "the stored content is not valid JSON: %s", e.msg);
	v = cJSON_GetObjectItemCaseSensitive(cap, "sequence");
	if (!cJSON_IsNumber(v) || v->valuestring == NULL ||
	    strtoll(v->valuestring, NULL, 10) != r->sequence ||
	    strpbrk(v->valuestring, ".eE") != NULL) {
		rc = bad(vs, "%s", "the content's sequence differs from the "
		    "row's (rows were swapped or renumbered)");
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(cap, "previous_hash");
	if (r->previous_hash ? !cJSON_IsString(v) ||
	    strcmp(v->valuestring, r->previous_hash) != 0 : !cJSON_IsNull(v)) {
		rc = bad(vs, "%s", "the content's previous_hash differs from "
		    "the row's");
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(cap, "id");
	if (!cJSON_IsString(v) || strcmp(v->valuestring, r->id) != 0) {
		rc = bad(vs, "%s", "the content's id differs from the row's");
		goto out;
	}
	if (vs->level >= VERIFY_FULL) {
		if (conduit_capsule_canonical(cap, r->hash, &canon, NULL, hash,
		    &prob, &e) != 0) {
			rc = bad(vs, prob.cat == CAPSULE_INTEGRITY_VIOLATION ?
			    "content hash mismatch: the content was changed "
			    "after it was sealed (%s)" : "invalid capsule: %s",
			    e.msg);
			goto out;
		}
	}
	if (vs->level == VERIFY_SIGNATURES) {
		k = keyring_lookup(&vs->kr, r->signed_by);
		if (k == NULL) {
			rc = bad(vs, "signed by %s, a key that is not in "
			    "keyring.json", r->signed_by);
			goto out;
		}
		if (conduit_capsule_verify_sig(k, r->hash, r->signature) != 0) {
			rc = bad(vs, "signature verification failed (key %s)",
			    r->signed_by);
			goto out;
		}
	}
	if (vs->check_log) {
		if ((size_t)vs->i >= vs->log.n) {
			rc = bad(vs, "%s", "audit.log has no line for this "
			    "capsule (audit.log was truncated)");
			goto out;
		}
		a = record_of_capsule(cap);
		b = record_of_line(vs->log.v[vs->i]);
		if (a == NULL || b == NULL || strcmp(a, b) != 0)
			rc = bad(vs, "audit.log line %lld and the capsule hold "
			    "different records", vs->i + 1);
		free(a);
		free(b);
		if (rc)
			goto out;
	}
	(void)snprintf(vs->prev_hash, sizeof(vs->prev_hash), "%s", r->hash);
	vs->res->verified++;
	vs->res->head_sequence = r->sequence;
	(void)snprintf(vs->res->head_hash, sizeof(vs->res->head_hash), "%s",
	    r->hash);
	vs->i++;
out:
	free(canon);
	cJSON_Delete(cap);
	return rc;
}

int
conduit_capsule_verify(const char *state_dir, enum conduit_verify_level level,
    struct conduit_verify_result *res, struct conduit_err *err)
{
	struct verify_state vs = { .level = level, .res = res, .check_log = true };
	char path[PATH_MAX];
	int rc;

	memset(res, 0, sizeof(*res));
	res->valid = true;
	res->bad_sequence = -1;
	res->head_sequence = -1;
	if ((rc = cap_path(path, sizeof(path), state_dir, F_DB, err)) != 0)
		return rc;
	if ((rc = lines_load(state_dir, &vs.log, err)) != 0) {
		conduit_lines_free(&vs.log);
		return rc;
	}
	res->log_records = (long long)vs.log.n;
	if (!exists(path) && vs.log.n > 0) {
		conduit_lines_free(&vs.log);
		return conduit_err_set(err, CONDUIT_ENOTFOUND,
		    "%s does not exist, but audit.log holds %zu records", path,
		    vs.log.n);
	}
	if (level == VERIFY_SIGNATURES &&
	    (rc = keyring_load(state_dir, &vs.kr, err)) != 0) {
		conduit_lines_free(&vs.log);
		return rc;
	}
	rc = conduit_capsule_foreach(state_dir, verify_row, &vs, err);
	if (rc < 0) {
		keyring_free(&vs.kr);
		conduit_lines_free(&vs.log);
		return rc;
	}
	res->capsules = vs.i;
	if (res->valid) {
		res->capsules = vs.i;
		if ((size_t)vs.i < vs.log.n) {
			res->valid = false;
			res->bad_sequence = vs.i;
			(void)snprintf(res->reason, sizeof(res->reason),
			    "audit.log line %lld has no capsule (the chain is "
			    "shorter than audit.log: truncated or not sealed)",
			    vs.i + 1);
		}
	} else {
		/* count every row, not only those read before the failure */
		sqlite3 *db;
		sqlite3_stmt *st;

		if (db_open(state_dir, false, &db, NULL) == 0) {
			if (sqlite3_prepare_v2(db, "SELECT count(*) FROM capsules",
			    -1, &st, NULL) == SQLITE_OK) {
				if (sqlite3_step(st) == SQLITE_ROW)
					res->capsules = sqlite3_column_int64(st, 0);
				sqlite3_finalize(st);
			}
			sqlite3_close(db);
		}
	}
	keyring_free(&vs.kr);
	conduit_lines_free(&vs.log);
	return 0;
}

int
conduit_capsule_line_status(const char *state_dir, const char **lines,
    size_t n, size_t first_index, const char **status,
    struct conduit_err *err)
{
	struct conduit_capsule_problem prob;
	struct conduit_capsule_row r;
	struct keyring kr;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		status[i] = "unsealed";
	rc = db_open(state_dir, false, &db, err);
	if (rc == CONDUIT_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if ((rc = keyring_load(state_dir, &kr, err)) != 0) {
		sqlite3_close(db);
		return rc;
	}
	if (sqlite3_prepare_v2(db, "SELECT " ROW_COLUMNS " FROM capsules WHERE "
	    "sequence = ?", -1, &st, NULL) != SQLITE_OK) {
		rc = db_fail(db, err, "read");
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct conduit_capsule_key *k;
		char hash[65], *canon = NULL, *a = NULL, *b = NULL;
		cJSON *cap;

		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)(first_index + i));
		if (sqlite3_step(st) != SQLITE_ROW)
			continue;
		row_from(st, &r);
		cap = conduit_json_parse(r.data, strlen(r.data), NULL);
		if (cap == NULL ||
		    conduit_capsule_canonical(cap, r.hash, &canon, NULL, hash,
		    &prob, NULL) != 0) {
			status[i] = "bad-hash";
		} else if ((k = keyring_lookup(&kr, r.signed_by)) == NULL ||
		    conduit_capsule_verify_sig(k, r.hash, r.signature) != 0) {
			status[i] = "bad-signature";
		} else {
			a = record_of_capsule(cap);
			b = record_of_line(lines[i]);
			status[i] = a && b && strcmp(a, b) == 0 ? "sealed" :
			    "differs";
		}
		free(a);
		free(b);
		free(canon);
		cJSON_Delete(cap);
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	keyring_free(&kr);
	return rc;
}
