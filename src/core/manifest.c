/*
 * manifest.c - the `conduit apply` manifest (see manifest.h and
 * docs/apply.md).
 *
 * libyaml loads the whole document into nodes (the document API), so
 * every value keeps its start mark and every diagnostic can point at
 * FILE:LINE:COLUMN.  The walk never returns early on a broken rule: it
 * records a diagnostic and carries on with the next key, the next
 * service, and finally the cross-service checks (duplicate names and
 * aliases), so the user sees every problem in one run.  Values are
 * checked with the same validate.c rules `register` uses, so a service
 * that passes here would also pass on the command line, and vice versa.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "conduit/manifest.h"
#include "conduit/validate.h"

/* ---- diagnostics ------------------------------------------------------ */

static int
diags_vadd(struct conduit_diags *d, size_t line, size_t column,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static int
diags_vadd(struct conduit_diags *d, size_t line, size_t column,
    const char *fmt, va_list ap)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct conduit_diag *v = realloc(d->v, cap * sizeof(*v));
		if (v == NULL)
			return CONDUIT_ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n].line = line;
	d->v[d->n].column = column;
	(void)vsnprintf(d->v[d->n].msg, sizeof(d->v[d->n].msg), fmt, ap);
	d->n++;
	return 0;
}

int
conduit_diags_add(struct conduit_diags *d, size_t line, size_t column,
    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = diags_vadd(d, line, column, fmt, ap);
	va_end(ap);
	return rc;
}

void
conduit_diags_free(struct conduit_diags *d)
{
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* ---- the manifest ----------------------------------------------------- */

void
conduit_manifest_init(struct conduit_manifest *m)
{
	memset(m, 0, sizeof(*m));
}

static void
drop_services(struct conduit_manifest *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		conduit_service_free(&m->services[i]);
	free(m->services);
	free(m->line);
	free(m->column);
	m->services = NULL;
	m->line = m->column = NULL;
	m->n = 0;
}

void
conduit_manifest_free(struct conduit_manifest *m)
{
	drop_services(m);
	conduit_diags_free(&m->diags);
}

/* A name or alias with where it was written, for the duplicate check. */
struct label {
	const char *text;	/* lowercased, points into a service */
	size_t svc;		/* index of the service */
	bool alias;
	size_t line, column;
	size_t seq;		/* order of appearance */
};

struct parser {
	yaml_document_t *doc;
	struct conduit_manifest *m;
	struct label *labels;
	size_t n_labels, cap_labels;
	bool oom;
};

static void diag(struct parser *p, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
diag(struct parser *p, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (diags_vadd(&p->m->diags, n->start_mark.line + 1,
	    n->start_mark.column + 1, fmt, ap) != 0)
		p->oom = true;
	va_end(ap);
}

static yaml_node_t *
node(struct parser *p, int id)
{
	return yaml_document_get_node(p->doc, id);
}

/* `key:` with nothing, `~` or `null`: the same as leaving the key out. */
static bool
is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* The text of a scalar, or NULL with a diagnostic naming the key. */
static const char *
scalar(struct parser *p, const yaml_node_t *n, const char *key)
{
	if (n->type != YAML_SCALAR_NODE) {
		diag(p, n, "%s must be a single value, not a %s", key,
		    n->type == YAML_SEQUENCE_NODE ? "list" : "mapping");
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

static bool
get_bool(struct parser *p, const yaml_node_t *n, const char *key, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };
	const char *v = scalar(p, n, key);
	size_t i;

	if (v == NULL)
		return false;
	for (i = 0; yes[i] != NULL; i++)
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
	for (i = 0; no[i] != NULL; i++)
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	diag(p, n, "%s \"%.80s\" must be true or false", key, v);
	return false;
}

/* Runs a validate.c rule; its message becomes the diagnostic. */
static bool
check(struct parser *p, const yaml_node_t *n, int rc,
    const struct conduit_err *err)
{
	if (rc == 0)
		return true;
	diag(p, n, "%s", err->msg);
	return false;
}

static void
add_label(struct parser *p, const char *text, size_t svc, bool alias,
    const yaml_node_t *n)
{
	if (p->n_labels == p->cap_labels) {
		size_t cap = p->cap_labels ? p->cap_labels * 2 : 64;
		struct label *v = realloc(p->labels, cap * sizeof(*v));
		if (v == NULL) {
			p->oom = true;
			return;
		}
		p->labels = v;
		p->cap_labels = cap;
	}
	p->labels[p->n_labels] = (struct label){ text, svc, alias,
	    n->start_mark.line + 1, n->start_mark.column + 1, p->n_labels };
	p->n_labels++;
}

static void
parse_upstreams(struct parser *p, const yaml_node_t *v,
    struct conduit_service *s)
{
	struct conduit_err err;
	yaml_node_item_t *it;
	size_t n, j;
	char host[CONDUIT_HOST_MAX];
	long port;

	if (v->type != YAML_SEQUENCE_NODE) {
		diag(p, v, "upstreams must be a list of HOST:PORT strings");
		return;
	}
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0) {
		diag(p, v, "upstreams is empty: list at least one HOST:PORT");
		return;
	}
	s->upstreams = calloc(n, sizeof(*s->upstreams));
	if (s->upstreams == NULL) {
		p->oom = true;
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	    it++) {
		yaml_node_t *e = node(p, *it);
		const char *hp = scalar(p, e, "an upstream");

		if (hp == NULL || !check(p, e, conduit_validate_hostport(
		    "upstream", hp, host, sizeof(host), &port, &err), &err))
			continue;
		for (j = 0; j < s->n_upstreams; j++)
			if (strcmp(s->upstreams[j].host, host) == 0 &&
			    s->upstreams[j].port == port)
				break;
		if (j < s->n_upstreams) {
			diag(p, e, "upstream \"%s\" is listed twice", hp);
			continue;
		}
		snprintf(s->upstreams[s->n_upstreams].host, CONDUIT_HOST_MAX,
		    "%s", host);
		s->upstreams[s->n_upstreams++].port = port;
	}
}

static void
parse_aliases(struct parser *p, const yaml_node_t *v,
    struct conduit_service *s, size_t idx)
{
	struct conduit_err err;
	yaml_node_item_t *it;
	size_t n;

	if (v->type != YAML_SEQUENCE_NODE) {
		diag(p, v, "aliases must be a list of names");
		return;
	}
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0)
		return;
	s->aliases = calloc(n, sizeof(*s->aliases));
	if (s->aliases == NULL) {
		p->oom = true;
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	    it++) {
		yaml_node_t *e = node(p, *it);
		const char *a = scalar(p, e, "an alias");

		if (a == NULL || !check(p, e, conduit_validate_name("alias", a,
		    s->aliases[s->n_aliases], CONDUIT_NAME_MAX, &err), &err))
			continue;
		/* Duplicates and clashes are found with the names, later;
		 * the label points at the array, which is never realloc'd. */
		add_label(p, s->aliases[s->n_aliases], idx, true, e);
		s->n_aliases++;
	}
}

static bool
get_count(struct parser *p, const yaml_node_t *n, const char *key, long *out)
{
	const char *v = scalar(p, n, key);
	long x = 0;
	size_t i;

	if (v == NULL)
		return false;
	for (i = 0; v[i] != '\0'; i++) {
		if (!isdigit((unsigned char)v[i]) || i > 6)
			break;
		x = x * 10 + (v[i] - '0');
	}
	if (i == 0 || v[i] != '\0' || x < 1 || x > 100) {
		diag(p, n, "%s \"%.80s\" must be a whole number 1-100", key, v);
		return false;
	}
	*out = x;
	return true;
}

static bool
get_duration(struct parser *p, const yaml_node_t *n, const char *key,
    long *out)
{
	struct conduit_err err;
	const char *v = scalar(p, n, key);

	if (v == NULL || !check(p, n, conduit_parse_duration_ms(key, v, out,
	    &err), &err))
		return false;
	if (*out <= 0) {
		diag(p, n, "%s \"%.80s\" must be longer than zero", key, v);
		return false;
	}
	return true;
}

static void
parse_health(struct parser *p, const yaml_node_t *v, struct conduit_service *s)
{
	static const char *const keys[] = { "path", "interval", "timeout",
	    "passes", "fails", NULL };
	struct conduit_health_override *h = &s->health_cfg;
	struct conduit_err err;
	yaml_node_pair_t *pr;
	unsigned seen = 0;
	size_t k;

	if (v->type != YAML_MAPPING_NODE) {
		diag(p, v, "health must be a mapping (path, interval, timeout, "
		    "passes, fails)");
		return;
	}
	for (pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top;
	    pr++) {
		yaml_node_t *kn = node(p, pr->key), *vn = node(p, pr->value);
		const char *key = scalar(p, kn, "a key");

		if (key == NULL)
			continue;
		for (k = 0; keys[k] != NULL && strcmp(keys[k], key) != 0; k++)
			;
		if (keys[k] == NULL) {
			diag(p, kn, "unknown key \"health.%.60s\" (allowed: path, "
			    "interval, timeout, passes, fails)", key);
			continue;
		}
		if (seen & (1u << k)) {
			diag(p, kn, "key \"health.%s\" is given twice", key);
			continue;
		}
		seen |= 1u << k;
		if (is_null(vn))
			continue;
		switch (k) {
		case 0: {
			const char *path = scalar(p, vn, "health.path");
			if (path != NULL && check(p, vn,
			    conduit_validate_health_path("health.path", path,
			    &err), &err))
				snprintf(s->health_path, sizeof(s->health_path),
				    "%s", path);
			break;
		}
		case 1:
			(void)get_duration(p, vn, "health.interval", &h->interval_ms);
			break;
		case 2:
			(void)get_duration(p, vn, "health.timeout", &h->timeout_ms);
			break;
		case 3:
			(void)get_count(p, vn, "health.passes", &h->passes);
			break;
		default:
			(void)get_count(p, vn, "health.fails", &h->fails);
			break;
		}
	}
}

enum { K_NAME, K_UPSTREAMS, K_SCHEME, K_TLS, K_DNS_ONLY, K_ALIASES, K_HEALTH };

static const char *const service_keys[] = { "name", "upstreams", "scheme",
    "tls", "dns_only", "aliases", "health", NULL };

/* Parses one list item into m->services[idx]. */
static void
parse_service(struct parser *p, const yaml_node_t *item, size_t idx)
{
	struct conduit_service *s = &p->m->services[idx];
	struct conduit_err err;
	yaml_node_pair_t *pr;
	unsigned seen = 0;
	size_t k;

	memset(s, 0, sizeof(*s));
	snprintf(s->scheme, sizeof(s->scheme), "http");
	s->tls = true;
	s->status = SVC_ACTIVE;
	snprintf(s->health, sizeof(s->health), "unknown");
	p->m->line[idx] = item->start_mark.line + 1;
	p->m->column[idx] = item->start_mark.column + 1;
	if (item->type != YAML_MAPPING_NODE) {
		diag(p, item, "service #%zu must be a mapping with at least "
		    "name and upstreams", idx + 1);
		return;
	}
	for (pr = item->data.mapping.pairs.start;
	    pr < item->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = node(p, pr->key), *vn = node(p, pr->value);
		const char *key = scalar(p, kn, "a key"), *v;

		if (key == NULL)
			continue;
		for (k = 0; service_keys[k] != NULL &&
		    strcmp(service_keys[k], key) != 0; k++)
			;
		if (service_keys[k] == NULL) {
			diag(p, kn, "unknown key \"%.60s\" (allowed: name, "
			    "upstreams, scheme, tls, dns_only, aliases, health)",
			    key);
			continue;
		}
		if (seen & (1u << k)) {
			diag(p, kn, "key \"%s\" is given twice", key);
			continue;
		}
		seen |= 1u << k;
		if (is_null(vn)) {
			/* Absent; for a required key the "required" error
			 * below says so. */
			if (k == K_NAME || k == K_UPSTREAMS)
				seen &= ~(1u << k);
			continue;
		}
		switch (k) {
		case K_NAME:
			v = scalar(p, vn, "name");
			if (v != NULL && check(p, vn, conduit_validate_name(
			    "name", v, s->name, sizeof(s->name), &err), &err)) {
				add_label(p, s->name, idx, false, vn);
				p->m->line[idx] = vn->start_mark.line + 1;
				p->m->column[idx] = vn->start_mark.column + 1;
			}
			break;
		case K_UPSTREAMS:
			parse_upstreams(p, vn, s);
			break;
		case K_SCHEME:
			v = scalar(p, vn, "scheme");
			if (v != NULL && check(p, vn, conduit_validate_scheme(
			    "scheme", v, &err), &err))
				snprintf(s->scheme, sizeof(s->scheme), "%s", v);
			break;
		case K_TLS:
			(void)get_bool(p, vn, "tls", &s->tls);
			break;
		case K_DNS_ONLY:
			(void)get_bool(p, vn, "dns_only", &s->dns_only);
			break;
		case K_ALIASES:
			parse_aliases(p, vn, s, idx);
			break;
		default:
			parse_health(p, vn, s);
			break;
		}
	}
	if (!(seen & (1u << K_NAME)))
		diag(p, item, "service #%zu has no name (required)", idx + 1);
	if (!(seen & (1u << K_UPSTREAMS)))
		diag(p, item, "service #%zu%s%s%s has no upstreams (required: a "
		    "list of HOST:PORT)", idx + 1, s->name[0] ? " (\"" : "",
		    s->name, s->name[0] ? "\")" : "");
}

static int
label_cmp(const void *a, const void *b)
{
	const struct label *x = a, *y = b;
	int c = strcmp(x->text, y->text);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Every name and alias must be unique across the manifest (names were
 * lowercased by validate_name, so this is case-insensitive). */
static void
check_labels(struct parser *p)
{
	const struct conduit_service *sv = p->m->services;
	size_t i, first = 0;

	if (p->n_labels == 0)
		return;
	qsort(p->labels, p->n_labels, sizeof(*p->labels), label_cmp);
	for (i = 1; i < p->n_labels; i++) {
		const struct label *a, *b = &p->labels[i];

		if (strcmp(p->labels[first].text, b->text) != 0) {
			first = i;
			continue;
		}
		a = &p->labels[first];
		if (!a->alias && !b->alias)
			conduit_diags_add(&p->m->diags, b->line, b->column,
			    "duplicate service name \"%s\" (names are "
			    "case-insensitive; first defined at line %zu)",
			    b->text, a->line);
		else if (a->svc == b->svc && a->alias && b->alias)
			conduit_diags_add(&p->m->diags, b->line, b->column,
			    "alias \"%s\" is listed twice", b->text);
		else if (a->svc == b->svc) {
			const struct label *al = a->alias ? a : b;
			conduit_diags_add(&p->m->diags, al->line, al->column,
			    "alias \"%s\" is the service's own name", al->text);
		} else
			conduit_diags_add(&p->m->diags, b->line, b->column,
			    "%s \"%s\" is already %s of service \"%s\" "
			    "(line %zu); every name and alias must be unique",
			    b->alias ? "alias" : "name", b->text,
			    a->alias ? "an alias" : "the name", sv[a->svc].name,
			    a->line);
	}
}

static int
diag_cmp(const void *a, const void *b)
{
	const struct conduit_diag *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return strcmp(x->msg, y->msg);
}

static void
parse_root(struct parser *p, const yaml_node_t *root)
{
	const yaml_node_t *list = NULL;
	yaml_node_pair_t *pr;
	yaml_node_item_t *it;
	size_t n, i;

	if (root == NULL || is_null(root)) {
		conduit_diags_add(&p->m->diags, 1, 1, "the manifest is empty: "
		    "expected a top-level \"services:\" list");
		return;
	}
	if (root->type != YAML_MAPPING_NODE) {
		diag(p, root, "the top level must be a mapping with a "
		    "\"services:\" list");
		return;
	}
	for (pr = root->data.mapping.pairs.start;
	    pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = node(p, pr->key);
		const char *key = scalar(p, kn, "a key");

		if (key == NULL)
			continue;
		if (strcmp(key, "services") != 0)
			diag(p, kn, "unknown top-level key \"%.60s\" (allowed: "
			    "services)", key);
		else if (list != NULL)
			diag(p, kn, "key \"services\" is given twice");
		else
			list = node(p, pr->value);
	}
	if (list == NULL) {
		diag(p, root, "no \"services:\" list (write \"services: []\" "
		    "for none)");
		return;
	}
	if (list->type != YAML_SEQUENCE_NODE) {
		diag(p, list, "services must be a list of services (write "
		    "\"services: []\" for none)");
		return;
	}
	n = (size_t)(list->data.sequence.items.top -
	    list->data.sequence.items.start);
	if (n == 0)
		return;
	p->m->services = calloc(n, sizeof(*p->m->services));
	p->m->line = calloc(n, sizeof(*p->m->line));
	p->m->column = calloc(n, sizeof(*p->m->column));
	if (p->m->services == NULL || p->m->line == NULL ||
	    p->m->column == NULL) {
		p->oom = true;
		return;
	}
	p->m->n = n;
	for (i = 0, it = list->data.sequence.items.start; i < n; i++, it++)
		parse_service(p, node(p, *it), i);
	check_labels(p);
}

int
conduit_manifest_parse(const char *text, size_t len, const char *fname,
    struct conduit_manifest *m, struct conduit_err *err)
{
	yaml_parser_t yp;
	yaml_document_t doc, extra;
	struct parser p;
	int rc = 0;

	conduit_manifest_init(m);
	snprintf(m->file, sizeof(m->file), "%s", fname);
	if (!yaml_parser_initialize(&yp))
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	if (!yaml_parser_load(&yp, &doc)) {
		/* libyaml cannot go on after a syntax error: this is the one
		 * case with a single diagnostic. */
		if (conduit_diags_add(&m->diags, yp.problem_mark.line + 1,
		    yp.problem_mark.column + 1, "YAML syntax error: %s%s%s",
		    yp.problem ? yp.problem : "cannot parse",
		    yp.context ? " " : "", yp.context ? yp.context : "") != 0)
			rc = CONDUIT_ENOMEM;
		yaml_parser_delete(&yp);
		goto out;
	}
	memset(&p, 0, sizeof(p));
	p.doc = &doc;
	p.m = m;
	parse_root(&p, yaml_document_get_root_node(&doc));
	free(p.labels);
	if (!p.oom && yaml_parser_load(&yp, &extra)) {
		yaml_node_t *r = yaml_document_get_root_node(&extra);
		if (r != NULL)
			diag(&p, r, "a second YAML document (after \"---\"): "
			    "a manifest is one document");
		yaml_document_delete(&extra);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&yp);
	if (p.oom)
		rc = CONDUIT_ENOMEM;
out:
	if (rc == CONDUIT_ENOMEM) {
		conduit_manifest_free(m);
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	}
	if (m->diags.n > 0) {
		drop_services(m);
		qsort(m->diags.v, m->diags.n, sizeof(*m->diags.v), diag_cmp);
		return conduit_err_set(err, CONDUIT_EINVAL, "%s: %zu error%s; "
		    "nothing was changed", m->file, m->diags.n,
		    m->diags.n == 1 ? "" : "s");
	}
	return 0;
}

/* The whole stream, bounded; works for files, pipes and terminals. */
static int
slurp(FILE *fp, const char *shown, char **out, size_t *outlen,
    struct conduit_err *err)
{
	size_t cap = 65536, len = 0, got;
	char *buf = malloc(cap), *nb;

	if (buf == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	while ((got = fread(buf + len, 1, cap - len, fp)) > 0) {
		len += got;
		if (len < cap)
			continue;
		if (cap >= CONDUIT_MANIFEST_MAX_BYTES) {
			free(buf);
			return conduit_err_set(err, CONDUIT_EINVAL, "%s is larger "
			    "than %u bytes", shown, CONDUIT_MANIFEST_MAX_BYTES);
		}
		nb = realloc(buf, cap * 2);
		if (nb == NULL) {
			free(buf);
			return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
		}
		buf = nb;
		cap *= 2;
	}
	if (ferror(fp)) {
		free(buf);
		return conduit_err_set(err, CONDUIT_EIO, "%s cannot be read: %s",
		    shown, strerror(errno));
	}
	*out = buf;
	*outlen = len;
	return 0;
}

int
conduit_manifest_load(const char *path, struct conduit_manifest *m,
    struct conduit_err *err)
{
	bool std = strcmp(path, "-") == 0;
	const char *shown = std ? "<stdin>" : path;
	char *text = NULL;
	size_t len = 0;
	FILE *fp;
	int rc;

	conduit_manifest_init(m);
	snprintf(m->file, sizeof(m->file), "%s", shown);
	fp = std ? stdin : fopen(path, "rb");
	if (fp == NULL)
		return conduit_err_set(err, errno == ENOENT ? CONDUIT_ENOTFOUND :
		    CONDUIT_EIO, "manifest %s cannot be opened: %s", path,
		    strerror(errno));
	rc = slurp(fp, shown, &text, &len, err);
	if (!std)
		fclose(fp);
	if (rc != 0)
		return rc;
	rc = conduit_manifest_parse(text, len, shown, m, err);
	free(text);
	return rc;
}
