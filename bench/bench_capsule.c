/*
 * bench_capsule.c - what the audit chain costs.
 *
 *   bench_capsule [SEALS [CHAIN]]     (defaults 2000 and 100000)
 *
 * 1. Sealing: conduit_capsule_seal_record() for SEALS audit records,
 *    each a separate call as a conduit command makes it (load the key
 *    and keyring, open the database, BEGIN IMMEDIATE, canonical JSON,
 *    SHA3-256, Ed25519, INSERT, COMMIT with its fsync).  Prints the
 *    median and p95 per record.
 * 2. Verification: a chain of CHAIN capsules and a matching audit.log
 *    is built directly (one transaction, the capsules sealing would
 *    build: conduit_capsule_from_line), then conduit_capsule_verify() runs at each level on one
 *    thread.  Prints capsules per second.
 *
 * Works in a fresh directory under $TMPDIR (default /tmp) and removes
 * nothing else.  Figures go into docs/benchmarks-capsule.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "conduit/capsule.h"
#include "conduit/fsutil.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
die(const char *what, const struct conduit_err *err)
{
	fprintf(stderr, "bench_capsule: %s: %s\n", what, err ? err->msg : "");
	exit(1);
}

static const char line_fmt[] =
    "{\"timestamp\":\"2026-04-04T10:%02d:%02dZ\",\"action\":\"service_register\","
    "\"status\":\"success\",\"message\":\"Registered service: svc%d "
    "(127.0.0.1:%d)\",\"user\":\"bench\",\"details\":{\"name\":\"svc%d\","
    "\"host\":\"127.0.0.1\",\"port\":\"%d\",\"protocol\":\"https\","
    "\"health_path\":\"/healthz\",\"tls\":true}}";

static void
make_line(char *out, size_t len, long i)
{
	(void)snprintf(out, len, line_fmt, (int)(i / 60 % 60), (int)(i % 60),
	    (int)i, (int)(8000 + i % 1000), (int)i, (int)(8000 + i % 1000));
}

static void
bench_seal(const char *dir, long n)
{
	struct conduit_err err = { 0 };
	char line[1024], path[4096];
	double *t = malloc((size_t)n * sizeof(*t)), total = 0;
	long i;

	if (t == NULL)
		die("malloc", NULL);
	if (conduit_capsule_init(dir, &err) != 0)
		die("init", &err);
	(void)snprintf(path, sizeof(path), "%s/audit.log", dir);
	for (i = 0; i < n; i++) {
		double t0;

		make_line(line, sizeof(line), i);
		if (conduit_append_line(path, line, 0600, &err) != 0)
			die("append", &err);
		t0 = now_s();
		if (conduit_capsule_seal_record(dir, line, &err) != 0)
			die("seal", &err);
		t[i] = now_s() - t0;
		total += t[i];
	}
	qsort(t, (size_t)n, sizeof(*t), cmp_d);
	printf("seal: %ld records, median %.3f ms, p95 %.3f ms, mean %.3f ms\n",
	    n, t[n / 2] * 1e3, t[(long)(n * 0.95)] * 1e3, total / (double)n * 1e3);
	free(t);
}

/* Builds CHAIN capsules like sealing does, in one transaction. */
static void
build_chain(const char *dir, long n)
{
	struct conduit_capsule_problem prob;
	struct conduit_capsule_key key;
	struct conduit_err err = { 0 };
	unsigned char seed[32];
	char path[4096], line[1024], prev[65] = "", hash[65], sig[129];
	char signed_at[40], *canon, *log;
	size_t loglen = 0, logcap = (size_t)n * 300 + 1;
	sqlite3_stmt *st;
	sqlite3 *db;
	FILE *kf;
	long i;

	if (conduit_capsule_init(dir, &err) != 0)
		die("init", &err);
	(void)snprintf(path, sizeof(path), "%s/capsules/key", dir);
	kf = fopen(path, "rb");
	if (kf == NULL || fread(seed, 1, 32, kf) != 32)
		die("read key", NULL);
	fclose(kf);
	if (conduit_capsule_key_from_seed(&key, seed, &err) != 0)
		die("key", &err);
	(void)snprintf(path, sizeof(path), "%s/capsules/capsules.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO capsules VALUES (?, 'system', ?, "
	    "?, ?, ?, ?, '', ?, ?, NULL)", -1, &st, NULL) != SQLITE_OK)
		die("sqlite", NULL);
	log = malloc(logcap);
	if (log == NULL)
		die("malloc", NULL);
	conduit_capsule_now(signed_at);
	for (i = 0; i < n; i++) {
		const char *id;
		cJSON *cap;

		make_line(line, sizeof(line), i);
		loglen += (size_t)snprintf(log + loglen, logcap - loglen, "%s\n", line);
		cap = conduit_capsule_from_line(line, dir, i, i ? prev : NULL,
		    &err);
		if (cap == NULL)
			die("capsule", &err);
		id = cJSON_GetObjectItem(cap, "id")->valuestring;
		if (conduit_capsule_canonical(cap, NULL, &canon, NULL, hash, &prob,
		    &err) != 0 || conduit_capsule_sign(&key, hash, sig, &err) != 0)
			die("canonical", &err);
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, i);
		if (i)
			sqlite3_bind_text(st, 3, prev, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, 3);
		sqlite3_bind_text(st, 4, canon, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 5, hash, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 6, sig, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 7, signed_at, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 8, key.fingerprint, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE)
			die(sqlite3_errmsg(db), NULL);
		memcpy(prev, hash, sizeof(prev));
		free(canon);
		cJSON_Delete(cap);
	}
	sqlite3_finalize(st);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		die("commit", NULL);
	sqlite3_close(db);
	(void)snprintf(path, sizeof(path), "%s/audit.log", dir);
	if (conduit_write_atomic(path, log, loglen, 0600, &err) != 0)
		die("audit.log", &err);
	free(log);
	conduit_capsule_key_free(&key);
}

static void
bench_verify(const char *dir, long n)
{
	static const enum conduit_verify_level levels[] = { VERIFY_STRUCTURAL,
	    VERIFY_FULL, VERIFY_SIGNATURES };
	struct conduit_verify_result r;
	struct conduit_err err = { 0 };
	size_t i;

	for (i = 0; i < 3; i++) {
		double t0 = now_s(), dt;

		if (conduit_capsule_verify(dir, levels[i], &r, &err) != 0)
			die("verify", &err);
		dt = now_s() - t0;
		if (!r.valid || r.verified != n)
			die(r.reason, NULL);
		printf("verify --level %s: %ld capsules in %.2f s = %.0f "
		    "capsules/s\n", conduit_verify_level_name(levels[i]), n, dt,
		    (double)n / dt);
	}
}

int
main(int argc, char **argv)
{
	long seals = argc > 1 ? atol(argv[1]) : 2000;
	long chain = argc > 2 ? atol(argv[2]) : 100000;
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char a[4096], b[4096];

	(void)snprintf(a, sizeof(a), "%s/bench-capsule-seal-XXXXXX", tmp);
	(void)snprintf(b, sizeof(b), "%s/bench-capsule-verify-XXXXXX", tmp);
	if (seals < 1 || chain < 1 || mkdtemp(a) == NULL || mkdtemp(b) == NULL) {
		fprintf(stderr, "usage: bench_capsule [SEALS [CHAIN]]\n");
		return 2;
	}
	printf("state dirs: %s %s\n", a, b);
	bench_seal(a, seals);
	build_chain(b, chain);
	bench_verify(b, chain);
	return 0;
}
