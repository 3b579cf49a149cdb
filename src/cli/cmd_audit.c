/*
 * cmd_audit.c - `conduit audit SUBCOMMAND`: read and prove the audit trail.
 *
 *   audit tail [-n N] [filters] [--seal] [--json]   the last N records
 *   audit lint [FILE]                   check every record against the format
 *   audit verify [--level L] [--json]   check the capsule chain
 *   audit hash [FILE|-] [--canonical]   a capsule's canonical SHA3-256
 *   audit export [--format json]        the sealed chain, for the
 *                                        reference CLI's `verify FILE`
 *
 * verify's exit status is its answer: 0 valid, 1 invalid (the first bad
 * sequence and why are printed), 2 could not check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "conduit/audit.h"
#include "conduit/capsule.h"
#include "conduit/history.h"
#include "conduit/fsutil.h"
#include "conduit/state.h"
#include "util.h"

static long o_n = 20;
static bool o_json, o_seal, o_canonical;
static const char *o_since, *o_until, *o_action, *o_service, *o_level,
    *o_format;

static const struct conduit_opt tail_opts[] = {
	OPT_INT_('n', "lines", "N", "how many records, newest last (default 20)", &o_n),
	OPT_STRING_(0, "since", "DATE|DURATION", "records at or after (2026-04-01, 2026-04-01T09:00Z, 7d, 12h)", &o_since),
	OPT_STRING_(0, "until", "DATE", "records before this moment (UTC)", &o_until),
	OPT_STRING_(0, "action", "ACTION", "only this action (service_register, ...)", &o_action),
	OPT_STRING_(0, "service", "NAME", "only records about this service", &o_service),
	OPT_BOOL_(0, "seal", "show each record's seal status in the capsule chain", &o_seal),
	OPT_BOOL_(0, "json", "print the records as JSON lines, unchanged", &o_json),
	OPT_END_()
};

static const struct conduit_cmd tail_cmd = {
	.name = "audit tail",
	.summary = "show the newest audit records",
	.usage = "audit tail [-n N] [--since DATE|DURATION] [--until DATE] "
	    "[--action A] [--service NAME] [--seal] [--json]",
	.description = "Filters combine; -n applies after them.  --seal "
	    "checks each shown record against its capsule: sealed (same "
	    "record, hash and signature verify), differs, bad-hash, "
	    "bad-signature or unsealed.",
	.opts = tail_opts,
};

static const struct conduit_opt verify_opts[] = {
	OPT_STRING_(0, "level", "LEVEL", "structural, full or signatures (default signatures)", &o_level),
	OPT_BOOL_(0, "json", "print the result as JSON", &o_json),
	OPT_END_()
};

static const struct conduit_cmd verify_cmd = {
	.name = "audit verify",
	.summary = "prove audit.log and the capsule chain are intact",
	.usage = "audit verify [--level structural|full|signatures] [--json]",
	.description = "structural: sequence and hash linkage; full: also "
	    "every SHA3-256 recomputed; signatures: also every Ed25519 "
	    "signature checked with capsules/keyring.json.  Every level also "
	    "checks that audit.log and the chain hold the same records.  "
	    "Exit 0 valid, 1 invalid, 2 could not check.  Record the printed "
	    "head elsewhere: a chain cut short at its end is still a valid "
	    "chain, and only a remembered head shows it.",
	.opts = verify_opts,
};

static const struct conduit_opt hash_opts[] = {
	OPT_BOOL_(0, "canonical", "print the canonical JSON instead of the hash", &o_canonical),
	OPT_END_()
};

static const struct conduit_cmd hash_cmd = {
	.name = "audit hash",
	.summary = "canonical SHA3-256 of a capsule",
	.usage = "audit hash [FILE|-] [--canonical]",
	.description = "Reads one capsule dict (JSON) from FILE or standard "
	    "input.  A dict that carries a \"hash\" is checked against it.",
	.opts = hash_opts,
};

static const struct conduit_opt export_opts[] = {
	OPT_STRING_(0, "format", "FORMAT", "json (the only format)", &o_format),
	OPT_END_()
};

static const struct conduit_cmd export_cmd = {
	.name = "audit export",
	.summary = "the sealed chain as JSON",
	.usage = "audit export [--format json]",
	.description = "A JSON array of sealed capsules (content plus hash, "
	    "signature, signature_pq, signed_at, signed_by), the file the "
	    "reference CLI's `capsule verify FILE.json` reads.",
	.opts = export_opts,
};

static const struct conduit_opt lint_opts[] = { OPT_END_() };

static const struct conduit_cmd lint_cmd = {
	.name = "audit lint",
	.summary = "check every audit record against the record format",
	.usage = "audit lint [FILE]",
	.opts = lint_opts,
};

/* For completion and the man page test (cli.h). */
static const struct conduit_cmd *const audit_subcmds[] = {
	&tail_cmd, &lint_cmd, &verify_cmd, &hash_cmd, &export_cmd, NULL
};

static void
print_human(const struct conduit_ctx *ctx, const char *line, const char *seal)
{
	cJSON *r = cJSON_Parse(line);
	const cJSON *ts, *ac, *st, *us, *msg;
	bool ok;

	if (seal != NULL)
		printf("%s%-13s%s ", conduit_color(ctx, strcmp(seal, "sealed") == 0 ?
		    COLOR_DIM : COLOR_RED), seal, conduit_color(ctx, COLOR_RESET));
	if (r == NULL) {
		printf("(unparsable record) %s\n", line);
		return;
	}
	ts = cJSON_GetObjectItemCaseSensitive(r, "timestamp");
	ac = cJSON_GetObjectItemCaseSensitive(r, "action");
	st = cJSON_GetObjectItemCaseSensitive(r, "status");
	us = cJSON_GetObjectItemCaseSensitive(r, "user");
	msg = cJSON_GetObjectItemCaseSensitive(r, "message");
	ok = cJSON_IsString(st) && strcmp(st->valuestring, "success") == 0;
	printf("%s  %-10s %-20s %s%-7s%s %s\n",
	    cJSON_IsString(ts) ? ts->valuestring : "?",
	    cJSON_IsString(us) ? us->valuestring : "?",
	    cJSON_IsString(ac) ? ac->valuestring : "?",
	    conduit_color(ctx, ok ? COLOR_GREEN : COLOR_RED),
	    cJSON_IsString(st) ? st->valuestring : "?",
	    conduit_color(ctx, COLOR_RESET),
	    cJSON_IsString(msg) ? msg->valuestring : "");
	cJSON_Delete(r);
}

/* Whether a record's details are about service `name`: details.name, or
 * a string or {"name": ...} object in one of its arrays (apply). */
static bool
about_service(const cJSON *d, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, "name"), *a, *e;

	if (cJSON_IsString(v) && strcmp(v->valuestring, name) == 0)
		return true;
	cJSON_ArrayForEach(a, d) {
		if (!cJSON_IsArray(a))
			continue;
		cJSON_ArrayForEach(e, a) {
			v = cJSON_IsObject(e) ?
			    cJSON_GetObjectItemCaseSensitive(e, "name") : e;
			if (cJSON_IsString(v) && strcmp(v->valuestring, name) == 0)
				return true;
		}
	}
	return false;
}

struct tail_filter {
	char since[32], until[32];
};

static bool
wanted(const struct tail_filter *f, const char *line)
{
	cJSON *r = cJSON_Parse(line);
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(r, "timestamp");
	const cJSON *ac = cJSON_GetObjectItemCaseSensitive(r, "action");
	bool ok = true;

	if (o_since || o_until)
		ok = cJSON_IsString(ts) &&
		    (!o_since || strcmp(ts->valuestring, f->since) >= 0) &&
		    (!o_until || strcmp(ts->valuestring, f->until) < 0);
	if (ok && o_action)
		ok = cJSON_IsString(ac) && strcmp(ac->valuestring, o_action) == 0;
	if (ok && o_service)
		ok = about_service(cJSON_GetObjectItemCaseSensitive(r, "details"),
		    o_service);
	cJSON_Delete(r);
	return ok;
}

static void
print_json_with_seal(const char *line, size_t seq, const char *seal)
{
	/* {"sequence": N, "seal": S, "record": <line unchanged>} */
	printf("{\"sequence\":%zu,\"seal\":\"%s\",\"record\":%s}\n", seq, seal,
	    line);
}

static int
audit_tail(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	struct conduit_lines log;
	char path[4096], **lines;
	size_t n, i, start, *idx = NULL, nsel = 0;
	const char **seal = NULL, **sel = NULL;
	struct tail_filter f;
	int rc, npos;

	if ((rc = conduit_opts_parse(&tail_cmd, tail_opts, argc, argv, &npos,
	    err)) != 0)
		return rc == 1 ? 0 : rc;
	if (npos > 0)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unexpected argument \"%.60s\"", argv[0]);
	if (o_n < 0)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "-n \"%ld\" must be 0 or more", o_n);
	if ((o_since && (rc = conduit_history_parse_time("--since", o_since,
	    true, f.since, err)) != 0) ||
	    (o_until && (rc = conduit_history_parse_time("--until", o_until,
	    false, f.until, err)) != 0))
		return rc;
	if ((rc = conduit_state_path(path, sizeof(path), ctx->state_dir,
	    CONDUIT_F_AUDIT, err)) != 0)
		return rc;
	/* every line keeps its index: line i is capsule sequence i */
	rc = conduit_read_lines(path, &log, err);
	if (rc == CONDUIT_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	lines = log.v;
	n = log.n;
	idx = malloc((n ? n : 1) * sizeof(*idx));
	if (idx == NULL) {
		rc = conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (wanted(&f, lines[i]))
			idx[nsel++] = i;
	start = (size_t)o_n < nsel ? nsel - (size_t)o_n : 0;
	if (o_seal) {
		seal = calloc(nsel ? nsel : 1, sizeof(*seal));
		sel = calloc(nsel ? nsel : 1, sizeof(*sel));
		if (seal == NULL || sel == NULL) {
			rc = conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
			goto out;
		}
		/* one lookup per shown record, by its sequence */
		for (i = start; i < nsel && rc == 0; i++) {
			sel[i] = lines[idx[i]];
			rc = conduit_capsule_line_status(ctx->state_dir, &sel[i], 1,
			    idx[i], &seal[i], err);
		}
		if (rc != 0)
			goto out;
	}
	for (i = start; i < nsel; i++) {
		if (o_json && o_seal)
			print_json_with_seal(lines[idx[i]], idx[i], seal[i]);
		else if (o_json)
			printf("%s\n", lines[idx[i]]);
		else
			print_human(ctx, lines[idx[i]], o_seal ? seal[i] : NULL);
	}
out:
	free(seal);
	free(sel);
	free(idx);
	conduit_lines_free(&log);
	return rc;
}

static int
parse_only(const struct conduit_cmd *cmd, const struct conduit_opt *opts,
    int argc, char **argv, int max_pos, int *npos, struct conduit_err *err)
{
	int rc = conduit_opts_parse(cmd, opts, argc, argv, npos, err);

	if (rc != 0)
		return rc;
	if (*npos > max_pos)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unexpected argument \"%.60s\"", argv[max_pos]);
	return 0;
}

static int
audit_verify(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	enum conduit_verify_level level = VERIFY_SIGNATURES;
	struct conduit_verify_result r;
	int rc, npos;

	if ((rc = parse_only(&verify_cmd, verify_opts, argc, argv, 0, &npos,
	    err)) != 0)
		return rc == 1 ? 0 : rc;
	if (o_level && conduit_verify_level_parse(o_level, &level) != 0)
		return conduit_err_set(err, CONDUIT_EUSAGE, "--level \"%.60s\" "
		    "is not structural, full or signatures", o_level);
	if ((rc = conduit_capsule_verify(ctx->state_dir, level, &r, err)) != 0) {
		fprintf(stderr, "conduit audit verify: %s\n", err->msg);
		return 2;
	}
	if (o_json) {
		cJSON *doc = cJSON_CreateObject(), *h;

		cJSON_AddBoolToObject(doc, "valid", r.valid);
		cJSON_AddStringToObject(doc, "level", conduit_verify_level_name(level));
		cJSON_AddNumberToObject(doc, "capsules", (double)r.capsules);
		cJSON_AddNumberToObject(doc, "verified", (double)r.verified);
		cJSON_AddNumberToObject(doc, "audit_records", (double)r.log_records);
		if (r.valid) {
			cJSON_AddNullToObject(doc, "first_bad_sequence");
			cJSON_AddNullToObject(doc, "reason");
		} else {
			cJSON_AddNumberToObject(doc, "first_bad_sequence",
			    (double)r.bad_sequence);
			cJSON_AddStringToObject(doc, "reason", r.reason);
		}
		if (r.head_sequence >= 0) {
			h = cJSON_AddObjectToObject(doc, "head");
			cJSON_AddNumberToObject(h, "sequence", (double)r.head_sequence);
			cJSON_AddStringToObject(h, "hash", r.head_hash);
		} else {
			cJSON_AddNullToObject(doc, "head");
		}
		rc = cli_print_json(doc, err);
		cJSON_Delete(doc);
		if (rc != 0)
			return rc;
		return r.valid ? 0 : 1;
	}
	if (r.valid)
		printf("%sok%s: %lld capsules verified (%s), audit.log holds the "
		    "same %lld records\n", conduit_color(ctx, COLOR_GREEN),
		    conduit_color(ctx, COLOR_RESET), r.verified,
		    conduit_verify_level_name(level), r.log_records);
	else
		printf("%sINVALID%s at sequence %lld: %s\n%lld of %lld capsules "
		    "verified (%s) before it\n", conduit_color(ctx, COLOR_RED),
		    conduit_color(ctx, COLOR_RESET), r.bad_sequence, r.reason,
		    r.verified, r.capsules, conduit_verify_level_name(level));
	if (r.head_sequence >= 0)
		printf("%s: sequence %lld hash %s\n", r.valid ? "head" :
		    "last good capsule", r.head_sequence, r.head_hash);
	else
		printf("head: none (the chain is empty)\n");
	return r.valid ? 0 : 1;
}

static int
audit_hash(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	struct conduit_capsule_problem prob;
	char *text = NULL, *canon = NULL, hash[65];
	size_t len = 0, cap = 0;
	cJSON *doc;
	int rc, npos;

	(void)ctx;
	if ((rc = parse_only(&hash_cmd, hash_opts, argc, argv, 1, &npos,
	    err)) != 0)
		return rc == 1 ? 0 : rc;
	if (npos == 1 && strcmp(argv[0], "-") != 0) {
		if ((rc = conduit_read_file(argv[0], &text, &len, err)) != 0)
			return rc;
	} else {
		size_t got;

		do {
			if (len + 4096 + 1 > cap) {
				char *nt = realloc(text, cap = cap ? cap * 2 : 8192);
				if (nt == NULL) {
					free(text);
					return conduit_err_set(err, CONDUIT_ENOMEM,
					    "out of memory");
				}
				text = nt;
			}
			got = fread(text + len, 1, 4096, stdin);
			len += got;
		} while (got > 0);
		if (ferror(stdin)) {
			free(text);
			return conduit_err_set(err, CONDUIT_EIO,
			    "cannot read standard input");
		}
		text[len] = '\0';
	}
	doc = conduit_json_parse(text, len, err);
	free(text);
	if (doc == NULL)
		return err->code;
	rc = conduit_capsule_canonical(doc, NULL, &canon, NULL, hash, &prob, err);
	cJSON_Delete(doc);
	if (rc != 0)
		return rc;
	if (o_canonical)
		printf("%s\n", canon);
	else
		printf("%s\n", hash);
	free(canon);
	return 0;
}

struct export_state {
	bool first;
	int failed;
};

static int
export_row(const struct conduit_capsule_row *row, void *arg)
{
	struct export_state *es = arg;
	char *s = conduit_capsule_row_sealed_json(row);

	if (s == NULL) {
		es->failed = 1;
		return CONDUIT_ECORRUPT;
	}
	printf("%s\n  %s", es->first ? "" : ",", s);
	es->first = false;
	free(s);
	return 0;
}

static int
audit_export(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	struct export_state es = { true, 0 };
	int rc, npos;

	if ((rc = parse_only(&export_cmd, export_opts, argc, argv, 0, &npos,
	    err)) != 0)
		return rc == 1 ? 0 : rc;
	if (o_format && strcmp(o_format, "json") != 0)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "--format \"%.60s\" is not supported (json)", o_format);
	printf("[");
	rc = conduit_capsule_foreach(ctx->state_dir, export_row, &es, err);
	if (es.failed)
		return conduit_err_set(err, CONDUIT_ECORRUPT, "a stored capsule's "
		    "content is not a JSON object; run `conduit audit verify`");
	if (rc != 0)
		return rc;
	printf("%s]\n", es.first ? "" : "\n");
	return 0;
}

/* Checks every line of the log (or FILE) with the conformance rules;
 * prints each bad line number and why.  Exit 0 clean, 1 not. */
static int
audit_lint(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	struct conduit_lines log;
	char path[4096];
	size_t i, bad = 0, good = 0;
	int rc, npos;

	if ((rc = conduit_opts_parse(&lint_cmd, lint_cmd.opts, argc, argv, &npos,
	    err)) != 0)
		return rc == 1 ? 0 : rc;
	if (npos > 1)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unexpected argument \"%.60s\"", argv[1]);
	if (npos == 1)
		snprintf(path, sizeof(path), "%s", argv[0]);
	else if ((rc = conduit_state_path(path, sizeof(path), ctx->state_dir,
	    CONDUIT_F_AUDIT, err)) != 0)
		return rc;
	if ((rc = conduit_read_lines(path, &log, err)) != 0)
		return rc;
	for (i = 0; i < log.n; i++) {
		struct conduit_err lerr;
		if (conduit_audit_validate_line(log.v[i], &lerr) != 0) {
			printf("%s:%zu: %s\n", path, i + 1, lerr.msg);
			bad++;
		} else
			good++;
	}
	conduit_lines_free(&log);
	printf("%s: %zu valid record%s, %zu invalid\n", path, good,
	    good == 1 ? "" : "s", bad);
	return bad ? 1 : 0;
}

static int
audit_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		conduit_opts_usage(&cmd_audit_entry, NULL, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "tail") == 0)
		return audit_tail(ctx, argc - 1, argv + 1, err);
	if (strcmp(argv[1], "lint") == 0)
		return audit_lint(ctx, argc - 1, argv + 1, err);
	if (strcmp(argv[1], "verify") == 0)
		return audit_verify(ctx, argc - 1, argv + 1, err);
	if (strcmp(argv[1], "hash") == 0)
		return audit_hash(ctx, argc - 1, argv + 1, err);
	if (strcmp(argv[1], "export") == 0)
		return audit_export(ctx, argc - 1, argv + 1, err);
	return conduit_err_set(err, CONDUIT_EUSAGE,
	    "unknown subcommand \"%.60s\" (see `conduit audit --help`)", argv[1]);
}

const struct conduit_cmd cmd_audit_entry = {
	.name = "audit",
	.summary = "read and prove the audit trail",
	.usage = "audit tail|lint|verify|hash|export [OPTIONS]",
	.description = "Subcommands:\n"
	    "  tail     the newest records of STATE_DIR/audit.log, filtered\n"
	    "  lint     check every record against the record format (exit 1 "
	    "when any is invalid)\n"
	    "  verify   check the capsule chain and that it matches audit.log\n"
	    "  hash     a capsule's canonical SHA3-256 (Capsule Protocol 1.0)\n"
	    "  export   the sealed chain as JSON for the reference verifier\n"
	    "See `conduit audit SUBCOMMAND --help` and docs/audit-chain.md.",
	.flags = CMD_NEEDS_STATE,
	.opts = NULL,
	.exec = audit_exec,
	.subcmds = audit_subcmds,
};
