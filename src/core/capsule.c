/*
 * capsule.c - Capsule Protocol v1.0 content: canonical JSON, SHA3-256,
 * validation, Ed25519 over the hex hash.
 *
 * Parsing: cJSON builds the tree, but cJSON alone cannot produce the
 * protocol's canonical bytes: it forgets whether a number was written
 * `2` or `2.0`, turns big integers into doubles, truncates strings at
 * an escaped NUL, and tolerates input that the reference's json.loads
 * rejects (`01`, raw control characters, stray bytes as whitespace).
 * So a small lexer runs over the same text first.  It checks every
 * token against the JSON grammar (numbers, strings, literals, the
 * whitespace set) and records each string and number literal in
 * document order; cJSON then parses the structure, and a walk over the
 * tree in the same order pairs every number node with its literal
 * (stored in the node's otherwise unused ->valuestring, which
 * cJSON_Delete frees) and refuses strings that held \u0000.  Nothing
 * here decodes strings or numbers by hand: cJSON decodes strings,
 * strtod decodes floats.  The alternative, a full parser of our own,
 * is the kind of hand-written parser STYLE.md calls a defect; the
 * lexer is the smallest thing that keeps the information cJSON drops.
 *
 * Writing: the canonical form is Python's json.dumps(sort_keys=True,
 * separators=(",", ":"), ensure_ascii=False) applied to the reference's
 * data model.  Integers are written as their (already minimal) source
 * text; floats as Python's repr: the shortest digits that read back to
 * the same double (found by raising printf's %.*e precision until
 * strtod round-trips), fixed notation for decimal exponents -4..16,
 * else d.ddde+XX.  reasoning.confidence and reasoning.options[].
 * feasibility are always floats.
 *
 * Validation follows the reference validator's order (every top-level
 * field present, then top-level types, chain rules, then each section:
 * presence, then types), and adds what the reference's data model would
 * silently normalise (unknown fields, uppercase UUIDs, timestamps not in
 * isoformat form): a capsule that passes here hashes the same before
 * and after a trip through the reference's model.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "conduit/capsule.h"

/* ------------------------------------------------------------------ */
/* Growable output buffer                                              */

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void
buf_put(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

/* ------------------------------------------------------------------ */
/* Lexer: grammar check and literal spans in document order            */

enum tok_kind { TOK_STRING, TOK_NUMBER };

struct tok {
	enum tok_kind kind;
	size_t off, len;	/* span in the input, quotes included */
	bool has_nul;		/* a string with \u0000 */
};

struct toks {
	struct tok *v;
	size_t n, cap;
};

static int
toks_push(struct toks *t, enum tok_kind kind, size_t off, size_t len,
    bool has_nul)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct tok *nv = realloc(t->v, cap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		t->v = nv;
		t->cap = cap;
	}
	t->v[t->n++] = (struct tok){ kind, off, len, has_nul };
	return 0;
}

/* Length of the valid UTF-8 sequence at s (0 when invalid). */
static size_t
utf8_seq_len(const unsigned char *s, size_t avail)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xE0) == 0xC0) {
		n = 2;
		cp = s[0] & 0x1F;
	} else if ((s[0] & 0xF0) == 0xE0) {
		n = 3;
		cp = s[0] & 0x0F;
	} else if ((s[0] & 0xF8) == 0xF0) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

static size_t
lex_number(const char *s, size_t len, size_t i)
{
	size_t start = i;

	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else if (i < len && s[i] >= '1' && s[i] <= '9')
		while (i < len && isdigit((unsigned char)s[i]))
			i++;
	else
		return 0;
	if (i < len && s[i] == '.') {
		i++;
		if (i >= len || !isdigit((unsigned char)s[i]))
			return 0;
		while (i < len && isdigit((unsigned char)s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || !isdigit((unsigned char)s[i]))
			return 0;
		while (i < len && isdigit((unsigned char)s[i]))
			i++;
	}
	return i - start;
}

/* Returns the string's length including quotes, 0 when malformed. */
static size_t
lex_string(const char *s, size_t len, size_t i, bool *has_nul)
{
	size_t start = i++;

	*has_nul = false;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t n;

		if (c == '"')
			return i + 1 - start;
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			if (i + 1 >= len)
				return 0;
			switch (s[i + 1]) {
			case '"': case '\\': case '/': case 'b': case 'f':
			case 'n': case 'r': case 't':
				i += 2;
				continue;
			case 'u':
				if (i + 6 > len)
					return 0;
				for (n = 2; n < 6; n++)
					if (!isxdigit((unsigned char)s[i + n]))
						return 0;
				if (strncmp(s + i + 2, "0000", 4) == 0)
					*has_nul = true;
				i += 6;
				continue;
			default:
				return 0;
			}
		}
		n = utf8_seq_len((const unsigned char *)s + i, len - i);
		if (n == 0)
			return 0;
		i += n;
	}
	return 0;
}

static int
lex(const char *s, size_t len, struct toks *t, struct conduit_err *err)
{
	size_t i = 0, n;
	bool nul;

	while (i < len) {
		char c = s[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '{' || c == '}' || c == '[' || c == ']' || c == ':' ||
		    c == ',') {
			i++;
		} else if (c == '"') {
			n = lex_string(s, len, i, &nul);
			if (n == 0)
				return conduit_err_set(err, CONDUIT_EINVAL,
				    "invalid JSON string at byte %zu (bad escape, "
				    "control character or invalid UTF-8)", i);
			if (toks_push(t, TOK_STRING, i, n, nul) != 0)
				return conduit_err_set(err, CONDUIT_ENOMEM,
				    "out of memory");
			i += n;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			n = lex_number(s, len, i);
			if (n == 0)
				return conduit_err_set(err, CONDUIT_EINVAL,
				    "invalid JSON number at byte %zu", i);
			if (toks_push(t, TOK_NUMBER, i, n, false) != 0)
				return conduit_err_set(err, CONDUIT_ENOMEM,
				    "out of memory");
			i += n;
		} else if (len - i >= 4 && (strncmp(s + i, "true", 4) == 0 ||
		    strncmp(s + i, "null", 4) == 0)) {
			i += 4;
		} else if (len - i >= 5 && strncmp(s + i, "false", 5) == 0) {
			i += 5;
		} else {
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "invalid JSON: unexpected byte 0x%02x at offset %zu",
			    (unsigned char)c, i);
		}
	}
	return 0;
}

/* Pairs the tree with the literals, in document order. */
static int
annotate(cJSON *node, const char *text, const struct toks *t, size_t *k,
    struct conduit_err *err)
{
	cJSON *c;

	if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
		for (c = node->child; c != NULL; c = c->next) {
			if (cJSON_IsObject(node)) {
				if (*k >= t->n || t->v[*k].kind != TOK_STRING)
					goto desync;
				if (t->v[*k].has_nul)
					return conduit_err_set(err,
					    CONDUIT_EINVAL, "invalid JSON: a "
					    "key contains U+0000 (at byte %zu)",
					    t->v[*k].off);
				(*k)++;
			}
			if (annotate(c, text, t, k, err) != 0)
				return err ? err->code : CONDUIT_EINVAL;
		}
		return 0;
	}
	if (cJSON_IsString(node)) {
		if (*k >= t->n || t->v[*k].kind != TOK_STRING)
			goto desync;
		if (t->v[*k].has_nul)
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "invalid JSON: a string contains U+0000 (at byte %zu)",
			    t->v[*k].off);
		(*k)++;
		return 0;
	}
	if (cJSON_IsNumber(node)) {
		if (*k >= t->n || t->v[*k].kind != TOK_NUMBER)
			goto desync;
		node->valuestring = strndup(text + t->v[*k].off, t->v[*k].len);
		if (node->valuestring == NULL)
			return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
		(*k)++;
	}
	return 0;
desync:
	return conduit_err_set(err, CONDUIT_EINTERNAL,
	    "JSON lexer and parser disagree about the document");
}

struct cJSON *
conduit_json_parse(const char *text, size_t len, struct conduit_err *err)
{
	struct toks t = { 0 };
	const char *end = NULL;
	cJSON *root;
	size_t k = 0;

	if (lex(text, len, &t, err) != 0) {
		free(t.v);
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (root == NULL) {
		size_t at = end ? (size_t)(end - text) : 0;

		free(t.v);
		(void)conduit_err_set(err, CONDUIT_EINVAL,
		    "invalid JSON near byte %zu", at);
		return NULL;
	}
	while (end && (size_t)(end - text) < len && strchr(" \t\r\n", *end) &&
	    *end != '\0')
		end++;
	if (end == NULL || (size_t)(end - text) != len) {
		free(t.v);
		cJSON_Delete(root);
		(void)conduit_err_set(err, CONDUIT_EINVAL,
		    "invalid JSON: extra data after the document");
		return NULL;
	}
	if (annotate(root, text, &t, &k, err) != 0 || k != t.n) {
		if (k != t.n && (err == NULL || err->code == 0))
			(void)conduit_err_set(err, CONDUIT_EINTERNAL,
			    "JSON lexer and parser disagree about the document");
		free(t.v);
		cJSON_Delete(root);
		return NULL;
	}
	free(t.v);
	return root;
}

struct cJSON *
conduit_json_number(const char *raw)
{
	cJSON *n = cJSON_CreateNumber(strtod(raw, NULL));

	if (n == NULL)
		return NULL;
	n->valuestring = strdup(raw);
	if (n->valuestring == NULL) {
		cJSON_Delete(n);
		return NULL;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Canonical writer                                                    */

/* Python's repr(float). */
static int
fmt_pyfloat(double d, char *out, size_t outlen)
{
	static const char zeros[] = "0000000000000000";
	char tmp[40], digits[24];
	int prec, exp10, decpt, nd = 0, n;
	const char *p;
	char *q = out;
	size_t room = outlen;

	if (!isfinite(d))
		return -1;
	if (d == 0.0)
		return snprintf(out, outlen, "%s", signbit(d) ? "-0.0" : "0.0") <
		    (int)outlen ? 0 : -1;
	for (prec = 0; prec <= 16; prec++) {
		(void)snprintf(tmp, sizeof(tmp), "%.*e", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	/* tmp is [-]d[.ddd]e[+-]XX */
	p = tmp;
	if (*p == '-') {
		*q++ = '-';
		room--;
		p++;
	}
	for (; *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	digits[nd] = '\0';
	exp10 = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		digits[--nd] = '\0';
	decpt = exp10 + 1;
	if (decpt <= -4 || decpt > 16) {
		n = snprintf(q, room, "%c%s%se%c%02d", digits[0],
		    nd > 1 ? "." : "", digits + 1, exp10 < 0 ? '-' : '+',
		    abs(exp10));
	} else if (decpt <= 0) {
		n = snprintf(q, room, "0.%.*s%s", -decpt, zeros, digits);
	} else if (decpt >= nd) {
		n = snprintf(q, room, "%s%.*s.0", digits, decpt - nd, zeros);
	} else {
		n = snprintf(q, room, "%.*s.%s", decpt, digits, digits + decpt);
	}
	return n >= 0 && n < (int)room ? 0 : -1;
}

static int
put_number(struct buf *b, const cJSON *n, bool force_float,
    struct conduit_err *err)
{
	const char *raw = n->valuestring;
	char tmp[64];
	bool is_int;
	double d;

	if (raw == NULL)
		return conduit_err_set(err, CONDUIT_EINTERNAL,
		    "number without its source text");
	is_int = strpbrk(raw, ".eE") == NULL;
	if (is_int && !force_float) {
		buf_puts(b, strcmp(raw, "-0") == 0 ? "0" : raw);
		return 0;
	}
	errno = 0;
	d = strtod(raw, NULL);
	if (fmt_pyfloat(d, tmp, sizeof(tmp)) != 0)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "number %s is out of the range of a double", raw);
	buf_puts(b, tmp);
	return 0;
}

static void
put_string(struct buf *b, const char *s)
{
	const char *run = s;
	char esc[8];

	buf_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *e = NULL;

		if (c == '"')
			e = "\\\"";
		else if (c == '\\')
			e = "\\\\";
		else if (c == '\n')
			e = "\\n";
		else if (c == '\r')
			e = "\\r";
		else if (c == '\t')
			e = "\\t";
		else if (c == '\b')
			e = "\\b";
		else if (c == '\f')
			e = "\\f";
		else if (c < 0x20) {
			(void)snprintf(esc, sizeof(esc), "\\u%04x", c);
			e = esc;
		}
		if (e) {
			buf_put(b, run, (size_t)(s - run));
			buf_puts(b, e);
			run = s + 1;
		}
	}
	buf_put(b, run, (size_t)(s - run));
	buf_put(b, "\"", 1);
}

/* Where the writer is inside a capsule, for the forced floats. */
enum cctx { C_NONE, C_ROOT, C_REASONING, C_OPTIONS, C_OPTION };

static int
cmp_keys(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return strcmp(x->string, y->string);
}

static bool
is_seal_field(const char *k)
{
	size_t i;

	for (i = 0; i < 5; i++)
		if (strcmp(k, conduit_capsule_seal_fields[i]) == 0)
			return true;
	return false;
}

static int
put_value(struct buf *b, const cJSON *v, enum cctx ctx, bool force_float,
    struct conduit_err *err)
{
	const cJSON *c;

	if (cJSON_IsNull(v)) {
		buf_puts(b, "null");
	} else if (cJSON_IsTrue(v)) {
		buf_puts(b, "true");
	} else if (cJSON_IsFalse(v)) {
		buf_puts(b, "false");
	} else if (cJSON_IsNumber(v)) {
		return put_number(b, v, force_float, err);
	} else if (cJSON_IsString(v)) {
		put_string(b, v->valuestring);
	} else if (cJSON_IsArray(v)) {
		bool first = true;

		buf_put(b, "[", 1);
		for (c = v->child; c; c = c->next) {
			if (!first)
				buf_put(b, ",", 1);
			first = false;
			if (put_value(b, c, ctx == C_OPTIONS ? C_OPTION : C_NONE,
			    false, err) != 0)
				return err ? err->code : CONDUIT_EINVAL;
		}
		buf_put(b, "]", 1);
	} else if (cJSON_IsObject(v)) {
		const cJSON **kids;
		size_t n = 0, i, j;
		int rc = 0;

		for (c = v->child; c; c = c->next)
			n++;
		kids = malloc((n ? n : 1) * sizeof(*kids));
		if (kids == NULL)
			return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
		for (c = v->child, i = 0; c; c = c->next) {
			if (ctx == C_ROOT && is_seal_field(c->string))
				continue;
			kids[i++] = c;
		}
		n = i;
		qsort(kids, n, sizeof(*kids), cmp_keys);
		buf_put(b, "{", 1);
		for (i = 0; i < n && rc == 0; i++) {
			enum cctx sub = C_NONE;
			bool ff = false;

			if (i > 0 && strcmp(kids[i]->string, kids[i - 1]->string) == 0) {
				rc = conduit_err_set(err, CONDUIT_EINVAL,
				    "duplicate key \"%s\" in a JSON object",
				    kids[i]->string);
				break;
			}
			if (i > 0)
				buf_put(b, ",", 1);
			put_string(b, kids[i]->string);
			buf_put(b, ":", 1);
			if (ctx == C_ROOT && strcmp(kids[i]->string, "reasoning") == 0)
				sub = C_REASONING;
			else if (ctx == C_REASONING &&
			    strcmp(kids[i]->string, "options") == 0)
				sub = C_OPTIONS;
			ff = (ctx == C_REASONING &&
			    strcmp(kids[i]->string, "confidence") == 0) ||
			    (ctx == C_OPTION &&
			    strcmp(kids[i]->string, "feasibility") == 0);
			rc = put_value(b, kids[i], sub, ff, err);
		}
		for (j = 0; j < n; j++)
			kids[j] = NULL;
		free(kids);
		if (rc != 0)
			return rc;
		buf_put(b, "}", 1);
	} else {
		return conduit_err_set(err, CONDUIT_EINTERNAL,
		    "unexpected JSON node type %d", v->type);
	}
	return 0;
}

static int
canonical(const cJSON *v, enum cctx ctx, char **out, size_t *outlen,
    struct conduit_err *err)
{
	struct buf b = { 0 };
	int rc = put_value(&b, v, ctx, false, err);

	if (rc == 0 && b.oom)
		rc = conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	if (rc != 0) {
		free(b.p);
		return rc;
	}
	if (b.p == NULL && (b.p = strdup("")) == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	*out = b.p;
	if (outlen)
		*outlen = b.len;
	return 0;
}

int
conduit_json_canonical(const struct cJSON *v, char **out, size_t *outlen,
    struct conduit_err *err)
{
	return canonical(v, C_NONE, out, outlen, err);
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */

const char *const conduit_capsule_seal_fields[5] = {
	"hash", "signature", "signature_pq", "signed_at", "signed_by",
};

const char *
conduit_capsule_cat_name(enum conduit_capsule_cat cat)
{
	switch (cat) {
	case CAPSULE_OK: return "ok";
	case CAPSULE_MISSING_FIELD: return "missing_field";
	case CAPSULE_WRONG_TYPE: return "wrong_type";
	case CAPSULE_INVALID_VALUE: return "invalid_value";
	case CAPSULE_CHAIN_VIOLATION: return "chain_violation";
	case CAPSULE_INTEGRITY_VIOLATION: return "integrity_violation";
	}
	return "unknown";
}

enum ftype {
	F_STR,		/* string */
	F_STR_NULL,	/* string or null */
	F_OBJ,
	F_ANY,
	F_INT,		/* JSON integer literal */
	F_NUM,		/* integer or float, not bool */
	F_BOOL,
	F_STRS,		/* array of strings */
	F_OBJS,		/* array of objects */
	F_OPTIONS,	/* array of reasoning options */
	F_TOOLCALLS,	/* array of tool calls */
	F_TS,		/* isoformat timestamp */
};

struct fspec {
	const char *name;
	enum ftype type;
};

static const struct fspec trigger_spec[] = {
	{ "type", F_STR }, { "source", F_STR }, { "timestamp", F_TS },
	{ "request", F_STR }, { "correlation_id", F_STR_NULL },
	{ "user_id", F_STR_NULL }, { NULL, 0 },
};
static const struct fspec context_spec[] = {
	{ "agent_id", F_STR }, { "session_id", F_STR_NULL },
	{ "environment", F_OBJ }, { NULL, 0 },
};
static const struct fspec reasoning_spec[] = {
	{ "analysis", F_STR }, { "options", F_OPTIONS },
	{ "options_considered", F_STRS }, { "selected_option", F_STR },
	{ "reasoning", F_STR }, { "confidence", F_NUM },
	{ "model", F_STR_NULL }, { "prompt_hash", F_STR_NULL }, { NULL, 0 },
};
static const struct fspec authority_spec[] = {
	{ "type", F_STR }, { "approver", F_STR_NULL },
	{ "policy_reference", F_STR_NULL }, { "chain", F_OBJS },
	{ "escalation_reason", F_STR_NULL }, { NULL, 0 },
};
static const struct fspec execution_spec[] = {
	{ "tool_calls", F_TOOLCALLS }, { "duration_ms", F_INT },
	{ "resources_used", F_OBJ }, { NULL, 0 },
};
static const struct fspec outcome_spec[] = {
	{ "status", F_STR }, { "result", F_ANY }, { "summary", F_STR },
	{ "error", F_STR_NULL }, { "side_effects", F_STRS },
	{ "metrics", F_OBJ }, { NULL, 0 },
};
static const struct fspec option_spec[] = {
	{ "id", F_STR }, { "description", F_STR }, { "pros", F_STRS },
	{ "cons", F_STRS }, { "estimated_impact", F_OBJ },
	{ "feasibility", F_NUM }, { "risks", F_STRS }, { "selected", F_BOOL },
	{ "rejection_reason", F_STR }, { NULL, 0 },
};
static const struct fspec toolcall_spec[] = {
	{ "tool", F_STR }, { "arguments", F_OBJ }, { "result", F_ANY },
	{ "success", F_BOOL }, { "duration_ms", F_INT }, { "error", F_STR_NULL },
	{ NULL, 0 },
};

static const struct {
	const char *name;
	const struct fspec *spec;
} sections[] = {
	{ "trigger", trigger_spec }, { "context", context_spec },
	{ "reasoning", reasoning_spec }, { "authority", authority_spec },
	{ "execution", execution_spec }, { "outcome", outcome_spec },
};

static const char *const top_fields[] = {
	"id", "type", "domain", "parent_id", "sequence", "previous_hash",
	"spec_version", "trigger", "context", "reasoning", "authority",
	"execution", "outcome",
};

static const char *const capsule_types[] = {
	"agent", "tool", "system", "kill", "workflow", "chat", "vault", "auth",
};

static int
fail(struct conduit_capsule_problem *prob, struct conduit_err *err,
    enum conduit_capsule_cat cat, const char *field, const char *why)
{
	if (prob) {
		prob->cat = cat;
		(void)snprintf(prob->field, sizeof(prob->field), "%s", field);
	}
	return conduit_err_set(err, CONDUIT_EINVAL, "%s: %s: %s", field,
	    conduit_capsule_cat_name(cat), why);
}

bool
conduit_uuid_is_canonical(const char *s)
{
	size_t i;

	if (strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isdigit((unsigned char)s[i]) &&
		    !(s[i] >= 'a' && s[i] <= 'f')) {
			return false;
		}
	}
	return true;
}

static bool
is_hex64_lower(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return s[64] == '\0';
}

static bool
digits_at(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* datetime.isoformat() of an aware datetime: YYYY-MM-DDTHH:MM:SS,
 * then .ffffff only when non-zero, then +HH:MM. */
static bool
is_isoformat_ts(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	size_t len = strlen(s), off = 19;
	int y, mo, d, h, mi, sec, oh, om;

	if (len != 25 && len != 32)
		return false;
	if (!digits_at(s, 4) || s[4] != '-' || !digits_at(s + 5, 2) ||
	    s[7] != '-' || !digits_at(s + 8, 2) || s[10] != 'T' ||
	    !digits_at(s + 11, 2) || s[13] != ':' || !digits_at(s + 14, 2) ||
	    s[16] != ':' || !digits_at(s + 17, 2))
		return false;
	if (len == 32) {
		if (s[19] != '.' || !digits_at(s + 20, 6) ||
		    strncmp(s + 20, "000000", 6) == 0)
			return false;
		off = 26;
	}
	if ((s[off] != '+' && s[off] != '-') || !digits_at(s + off + 1, 2) ||
	    s[off + 3] != ':' || !digits_at(s + off + 4, 2))
		return false;
	y = atoi(s);
	mo = atoi(s + 5);
	d = atoi(s + 8);
	h = atoi(s + 11);
	mi = atoi(s + 14);
	sec = atoi(s + 17);
	oh = atoi(s + off + 1);
	om = atoi(s + off + 4);
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    h > 23 || mi > 59 || sec > 59 || oh > 23 || om > 59)
		return false;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	return true;
}

static bool
is_int_literal(const cJSON *v)
{
	return cJSON_IsNumber(v) && v->valuestring &&
	    strpbrk(v->valuestring, ".eE") == NULL;
}

static int check_fields(const cJSON *obj, const struct fspec *spec,
    const char *path, struct conduit_capsule_problem *prob,
    struct conduit_err *err);

static int
check_array_items(const cJSON *arr, enum ftype t, const char *path,
    struct conduit_capsule_problem *prob, struct conduit_err *err)
{
	char sub[160];
	const cJSON *c;
	int i = 0;

	cJSON_ArrayForEach(c, arr) {
		(void)snprintf(sub, sizeof(sub), "%s[%d]", path, i++);
		if (t == F_STRS && !cJSON_IsString(c))
			return fail(prob, err, CAPSULE_WRONG_TYPE, sub,
			    "must be a string");
		if (t != F_STRS && !cJSON_IsObject(c))
			return fail(prob, err, CAPSULE_WRONG_TYPE, sub,
			    "must be an object");
		if (t == F_OPTIONS &&
		    check_fields(c, option_spec, sub, prob, err) != 0)
			return CONDUIT_EINVAL;
		if (t == F_TOOLCALLS &&
		    check_fields(c, toolcall_spec, sub, prob, err) != 0)
			return CONDUIT_EINVAL;
	}
	return 0;
}

static int
check_type(const cJSON *v, enum ftype t, const char *field,
    struct conduit_capsule_problem *prob, struct conduit_err *err)
{
	switch (t) {
	case F_ANY:
		return 0;
	case F_STR:
		if (!cJSON_IsString(v))
			return fail(prob, err, CAPSULE_WRONG_TYPE, field,
			    "must be a non-null string");
		return 0;
	case F_STR_NULL:
		if (!cJSON_IsString(v) && !cJSON_IsNull(v))
			return fail(prob, err, CAPSULE_WRONG_TYPE, field,
			    "must be a string or null");
		return 0;
	case F_OBJ:
		if (!cJSON_IsObject(v))
			return fail(prob, err, CAPSULE_WRONG_TYPE, field,
			    "must be an object");
		return 0;
	case F_INT:
		if (!is_int_literal(v))
			return fail(prob, err, CAPSULE_WRONG_TYPE, field,
			    "must be an integer");
		return 0;
	case F_NUM:
		if (!cJSON_IsNumber(v))
			return fail(prob, err, CAPSULE_WRONG_TYPE, field,
			    "must be a number");
		if (!isfinite(strtod(v->valuestring, NULL)))
			return fail(prob, err, CAPSULE_INVALID_VALUE, field,
			    "is out of the range of a double");
		return 0;
	case F_BOOL:
		if (!cJSON_IsBool(v))
			return fail(prob, err, CAPSULE_WRONG_TYPE, field,
			    "must be true or false");
		return 0;
	case F_STRS:
	case F_OBJS:
	case F_OPTIONS:
	case F_TOOLCALLS:
		if (!cJSON_IsArray(v))
			return fail(prob, err, CAPSULE_WRONG_TYPE, field,
			    "must be an array");
		return check_array_items(v, t, field, prob, err);
	case F_TS:
		if (!cJSON_IsString(v))
			return fail(prob, err, CAPSULE_WRONG_TYPE, field,
			    "must be a string");
		if (!is_isoformat_ts(v->valuestring))
			return fail(prob, err, CAPSULE_INVALID_VALUE, field,
			    "must be YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM "
			    "(isoformat, no \"Z\")");
		return 0;
	}
	return 0;
}

static int
check_unknown(const cJSON *obj, const char *const *names, size_t n,
    const char *path, bool allow_seal, struct conduit_capsule_problem *prob,
    struct conduit_err *err)
{
	const cJSON *c;
	char sub[160];
	size_t i;

	for (c = obj->child; c; c = c->next) {
		for (i = 0; i < n; i++)
			if (strcmp(c->string, names[i]) == 0)
				break;
		if (i < n || (allow_seal && is_seal_field(c->string)))
			continue;
		(void)snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "",
		    c->string);
		return fail(prob, err, CAPSULE_INVALID_VALUE, sub,
		    "is not a field of a capsule (the reference's data model "
		    "would drop it)");
	}
	return 0;
}

static int
check_fields(const cJSON *obj, const struct fspec *spec, const char *path,
    struct conduit_capsule_problem *prob, struct conduit_err *err)
{
	const char *names[16];
	char field[160];
	size_t i, n = 0;

	if (!cJSON_IsObject(obj))
		return fail(prob, err, CAPSULE_WRONG_TYPE, path,
		    "must be an object");
	for (i = 0; spec[i].name; i++) {
		names[n++] = spec[i].name;
		if (cJSON_GetObjectItemCaseSensitive(obj, spec[i].name) == NULL) {
			(void)snprintf(field, sizeof(field), "%s.%s", path,
			    spec[i].name);
			return fail(prob, err, CAPSULE_MISSING_FIELD, field,
			    "is required");
		}
	}
	for (i = 0; spec[i].name; i++) {
		(void)snprintf(field, sizeof(field), "%s.%s", path, spec[i].name);
		if (check_type(cJSON_GetObjectItemCaseSensitive(obj, spec[i].name),
		    spec[i].type, field, prob, err) != 0)
			return CONDUIT_EINVAL;
	}
	return check_unknown(obj, names, n, path, false, prob, err);
}

static int
check_uuid(const cJSON *v, const char *field, bool nullable,
    struct conduit_capsule_problem *prob, struct conduit_err *err)
{
	if (nullable && cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return fail(prob, err, CAPSULE_WRONG_TYPE, field,
		    nullable ? "must be null or a UUID string" :
		    "must be a UUID string");
	if (!conduit_uuid_is_canonical(v->valuestring))
		return fail(prob, err, CAPSULE_INVALID_VALUE, field,
		    "must be a UUID in lowercase 8-4-4-4-12 form");
	return 0;
}

static int
check_options_considered(const cJSON *r, struct conduit_capsule_problem *prob,
    struct conduit_err *err)
{
	const cJSON *opts = cJSON_GetObjectItemCaseSensitive(r, "options");
	const cJSON *oc = cJSON_GetObjectItemCaseSensitive(r, "options_considered");
	const cJSON *o, *d;
	int no = cJSON_GetArraySize(opts), noc = cJSON_GetArraySize(oc), i = 0;

	/* The reference's model derives one list from the other. */
	if (no == 0)
		return noc == 0 ? 0 : fail(prob, err, CAPSULE_INVALID_VALUE,
		    "reasoning.options_considered", "must be empty when "
		    "reasoning.options is empty");
	if (no != noc)
		goto bad;
	cJSON_ArrayForEach(o, opts) {
		d = cJSON_GetObjectItemCaseSensitive(o, "description");
		if (strcmp(d->valuestring,
		    cJSON_GetArrayItem(oc, i++)->valuestring) != 0)
			goto bad;
	}
	return 0;
bad:
	return fail(prob, err, CAPSULE_INVALID_VALUE,
	    "reasoning.options_considered",
	    "must list the descriptions of reasoning.options in order");
}

int
conduit_capsule_validate(const struct cJSON *c,
    struct conduit_capsule_problem *prob, struct conduit_err *err)
{
	const cJSON *v, *ph, *seq;
	size_t i;

	if (prob) {
		prob->cat = CAPSULE_OK;
		prob->field[0] = '\0';
	}
	if (!cJSON_IsObject(c))
		return fail(prob, err, CAPSULE_WRONG_TYPE, "",
		    "a capsule must be a JSON object");
	for (i = 0; i < sizeof(top_fields) / sizeof(top_fields[0]); i++)
		if (cJSON_GetObjectItemCaseSensitive(c, top_fields[i]) == NULL)
			return fail(prob, err, CAPSULE_MISSING_FIELD,
			    top_fields[i], "is required");

	if (check_uuid(cJSON_GetObjectItemCaseSensitive(c, "id"), "id", false,
	    prob, err) != 0)
		return CONDUIT_EINVAL;
	v = cJSON_GetObjectItemCaseSensitive(c, "type");
	if (!cJSON_IsString(v))
		return fail(prob, err, CAPSULE_WRONG_TYPE, "type",
		    "must be a string");
	for (i = 0; i < sizeof(capsule_types) / sizeof(capsule_types[0]); i++)
		if (strcmp(v->valuestring, capsule_types[i]) == 0)
			break;
	if (i == sizeof(capsule_types) / sizeof(capsule_types[0]))
		return fail(prob, err, CAPSULE_INVALID_VALUE, "type",
		    "must be one of agent, tool, system, kill, workflow, chat, "
		    "vault, auth");
	if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "domain")))
		return fail(prob, err, CAPSULE_WRONG_TYPE, "domain",
		    "must be a string");
	if (check_uuid(cJSON_GetObjectItemCaseSensitive(c, "parent_id"),
	    "parent_id", true, prob, err) != 0)
		return CONDUIT_EINVAL;
	seq = cJSON_GetObjectItemCaseSensitive(c, "sequence");
	if (!is_int_literal(seq))
		return fail(prob, err, CAPSULE_WRONG_TYPE, "sequence",
		    "must be an integer");
	if (seq->valuestring[0] == '-' && strcmp(seq->valuestring, "-0") != 0)
		return fail(prob, err, CAPSULE_INVALID_VALUE, "sequence",
		    "must be non-negative");
	if (strlen(seq->valuestring) > 18)
		return fail(prob, err, CAPSULE_INVALID_VALUE, "sequence",
		    "is too large");
	ph = cJSON_GetObjectItemCaseSensitive(c, "previous_hash");
	if (!cJSON_IsNull(ph)) {
		if (!cJSON_IsString(ph))
			return fail(prob, err, CAPSULE_WRONG_TYPE,
			    "previous_hash", "must be null or a string");
		if (!is_hex64_lower(ph->valuestring))
			return fail(prob, err, CAPSULE_INVALID_VALUE,
			    "previous_hash",
			    "must be 64 lowercase hexadecimal digits");
	}
	v = cJSON_GetObjectItemCaseSensitive(c, "spec_version");
	if (!cJSON_IsString(v))
		return fail(prob, err, CAPSULE_WRONG_TYPE, "spec_version",
		    "must be a string");
	if (strcmp(v->valuestring, "1.0") != 0)
		return fail(prob, err, CAPSULE_INVALID_VALUE, "spec_version",
		    "must be \"1.0\"");
	if (strtoll(seq->valuestring, NULL, 10) == 0 && !cJSON_IsNull(ph))
		return fail(prob, err, CAPSULE_CHAIN_VIOLATION, "previous_hash",
		    "the genesis capsule (sequence 0) must have previous_hash "
		    "null");
	if (strtoll(seq->valuestring, NULL, 10) != 0 && cJSON_IsNull(ph))
		return fail(prob, err, CAPSULE_CHAIN_VIOLATION, "previous_hash",
		    "a capsule after the genesis must name the previous hash");

	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (check_fields(cJSON_GetObjectItemCaseSensitive(c,
		    sections[i].name), sections[i].spec, sections[i].name, prob,
		    err) != 0)
			return CONDUIT_EINVAL;
	v = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(c, "reasoning"), "confidence");
	{
		double conf = strtod(v->valuestring, NULL);

		if (!(conf >= 0.0 && conf <= 1.0))
			return fail(prob, err, CAPSULE_INVALID_VALUE,
			    "reasoning.confidence", "must be between 0.0 and 1.0");
	}
	if (check_options_considered(cJSON_GetObjectItemCaseSensitive(c,
	    "reasoning"), prob, err) != 0)
		return CONDUIT_EINVAL;
	return check_unknown(c, top_fields,
	    sizeof(top_fields) / sizeof(top_fields[0]), "", true, prob, err);
}

int
conduit_capsule_canonical(const struct cJSON *capsule, const char *claimed,
    char **canon, size_t *canon_len, char hash_hex[65],
    struct conduit_capsule_problem *prob, struct conduit_err *err)
{
	const cJSON *h;
	size_t len = 0;
	int rc;

	*canon = NULL;
	rc = conduit_capsule_validate(capsule, prob, err);
	if (rc != 0)
		return rc;
	rc = canonical(capsule, C_ROOT, canon, &len, err);
	if (rc != 0) {
		/* a duplicate key or an out-of-range float */
		if (prob) {
			prob->cat = CAPSULE_INVALID_VALUE;
			(void)snprintf(prob->field, sizeof(prob->field), "%s", "");
		}
		return rc;
	}
	if (canon_len)
		*canon_len = len;
	rc = conduit_sha3_hex(*canon, len, hash_hex);
	if (rc != 0) {
		free(*canon);
		*canon = NULL;
		return conduit_err_set(err, rc, "SHA3-256 is unavailable");
	}
	if (claimed == NULL) {
		h = cJSON_GetObjectItemCaseSensitive(capsule, "hash");
		if (cJSON_IsString(h))
			claimed = h->valuestring;
		else if (h != NULL && !cJSON_IsNull(h))
			rc = fail(prob, err, CAPSULE_WRONG_TYPE, "hash",
			    "must be a string");
	}
	if (rc == 0 && claimed != NULL && strcmp(claimed, hash_hex) != 0)
		rc = fail(prob, err, CAPSULE_INTEGRITY_VIOLATION, "hash",
		    "the recomputed SHA3-256 of the content differs from the "
		    "claimed hash");
	if (rc != 0) {
		free(*canon);
		*canon = NULL;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Hashes, hex, ids, time                                              */

void
conduit_hex(const unsigned char *in, size_t len, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
conduit_unhex(const char *in, unsigned char *out, size_t len)
{
	size_t i;

	if (strlen(in) != 2 * len)
		return -1;
	for (i = 0; i < len; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int
conduit_sha3_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha3_256(), NULL) != 1 ||
	    mdlen != 32)
		return CONDUIT_EINTERNAL;
	conduit_hex(md, 32, out);
	return 0;
}

int
conduit_uuid4(char out[37], struct conduit_err *err)
{
	unsigned char r[16];
	char hx[33];

	if (RAND_bytes(r, sizeof(r)) != 1)
		return conduit_err_set(err, CONDUIT_EINTERNAL,
		    "the random number generator failed");
	r[6] = (unsigned char)((r[6] & 0x0F) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3F) | 0x80);
	conduit_hex(r, 16, hx);
	(void)snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hx, hx + 8,
	    hx + 12, hx + 16, hx + 20);
	return 0;
}

void
conduit_capsule_now(char out[40])
{
	struct timespec ts;
	struct tm tm;
	char base[24];
	int us;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	us = (int)((ts.tv_nsec / 1000) % 1000000);
	if (us)
		(void)snprintf(out, 40, "%.19s.%06d+00:00", base, us);
	else
		(void)snprintf(out, 40, "%.19s+00:00", base);
}

int
conduit_capsule_ts_from_audit(const char *in, char out[40])
{
	if (strlen(in) != 20 || in[19] != 'Z')
		return -1;
	(void)snprintf(out, 40, "%.19s+00:00", in);
	return is_isoformat_ts(out) ? 0 : -1;
}

int
conduit_capsule_ts_to_audit(const char *in, char out[32])
{
	if (strlen(in) != 25 || strcmp(in + 19, "+00:00") != 0)
		return -1;
	(void)snprintf(out, 32, "%.19sZ", in);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Ed25519                                                             */

static void
key_fill_public(struct conduit_capsule_key *k)
{
	conduit_hex(k->pub, 32, k->pub_hex);
	(void)snprintf(k->fingerprint, sizeof(k->fingerprint), "qp_key_%.4s",
	    k->pub_hex);
}

int
conduit_capsule_key_from_seed(struct conduit_capsule_key *k,
    const unsigned char seed[32], struct conduit_err *err)
{
	size_t publen = 32;

	memset(k, 0, sizeof(*k));
	k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	if (k->pkey == NULL ||
	    EVP_PKEY_get_raw_public_key(k->pkey, k->pub, &publen) != 1 ||
	    publen != 32) {
		conduit_capsule_key_free(k);
		return conduit_err_set(err, CONDUIT_EINTERNAL,
		    "cannot load the Ed25519 key");
	}
	key_fill_public(k);
	return 0;
}

int
conduit_capsule_key_from_public(struct conduit_capsule_key *k,
    const unsigned char pub[32], struct conduit_err *err)
{
	memset(k, 0, sizeof(*k));
	k->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	if (k->pkey == NULL)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "not an Ed25519 public key");
	memcpy(k->pub, pub, 32);
	key_fill_public(k);
	return 0;
}

void
conduit_capsule_key_free(struct conduit_capsule_key *k)
{
	if (k->pkey)
		EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
}

int
conduit_capsule_sign(const struct conduit_capsule_key *k,
    const char hash_hex[65], char sig_hex[129], struct conduit_err *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[64];
	size_t siglen = sizeof(sig);
	int ok;

	ok = ctx != NULL &&
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)hash_hex,
	    64) == 1 && siglen == 64;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return conduit_err_set(err, CONDUIT_EINTERNAL,
		    "Ed25519 signing failed");
	conduit_hex(sig, 64, sig_hex);
	return 0;
}

int
conduit_capsule_verify_sig(const struct conduit_capsule_key *k,
    const char hash_hex[65], const char *sig_hex)
{
	unsigned char sig[64];
	EVP_MD_CTX *ctx;
	int rc;

	if (conduit_unhex(sig_hex, sig, sizeof(sig)) != 0 ||
	    strlen(hash_hex) != 64)
		return 1;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return CONDUIT_ENOMEM;
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) != 1) {
		EVP_MD_CTX_free(ctx);
		return CONDUIT_EINTERNAL;
	}
	rc = EVP_DigestVerify(ctx, sig, sizeof(sig),
	    (const unsigned char *)hash_hex, 64) == 1 ? 0 : 1;
	EVP_MD_CTX_free(ctx);
	return rc;
}
