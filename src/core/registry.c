/*
 * registry.c - services.json (schema: docs/registry.md).
 *
 * The document is {"version": 1, "services": [ ... ]} with one service
 * per line, so a diff of two versions shows one changed line per
 * changed service.  Parsing is cJSON; every record is re-validated on
 * load with the same rules as `register`, because the file is also a
 * hand-editable input and whatever it holds ends up in Caddy's and
 * dnsmasq's configs.  Nothing here repairs a file: a parse or rule
 * error names the file, the position (line, column) or the record, and
 * the caller stops.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "conduit/fsutil.h"
#include "conduit/registry.h"
#include "conduit/validate.h"

void
conduit_registry_init(struct conduit_registry *reg)
{
	memset(reg, 0, sizeof(*reg));
	reg->version = CONDUIT_REGISTRY_VERSION;
}

void
conduit_service_free(struct conduit_service *svc)
{
	free(svc->upstreams);
	free(svc->aliases);
	svc->upstreams = NULL;
	svc->aliases = NULL;
	svc->n_upstreams = svc->n_aliases = 0;
}

void
conduit_registry_free(struct conduit_registry *reg)
{
	size_t i;

	for (i = 0; i < reg->n; i++)
		conduit_service_free(&reg->services[i]);
	free(reg->services);
	conduit_registry_init(reg);
}

int
conduit_service_copy(struct conduit_service *dst,
    const struct conduit_service *src, struct conduit_err *err)
{
	*dst = *src;
	dst->upstreams = NULL;
	dst->aliases = NULL;
	if (src->n_upstreams) {
		dst->upstreams = malloc(src->n_upstreams * sizeof(*src->upstreams));
		if (dst->upstreams == NULL)
			goto oom;
		memcpy(dst->upstreams, src->upstreams,
		    src->n_upstreams * sizeof(*src->upstreams));
	}
	if (src->n_aliases) {
		dst->aliases = malloc(src->n_aliases * sizeof(*src->aliases));
		if (dst->aliases == NULL)
			goto oom;
		memcpy(dst->aliases, src->aliases,
		    src->n_aliases * sizeof(*src->aliases));
	}
	return 0;
oom:
	conduit_service_free(dst);
	return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
}

static int
reserve(struct conduit_registry *reg, size_t want, struct conduit_err *err)
{
	struct conduit_service *n;
	size_t cap;

	if (want <= reg->cap)
		return 0;
	cap = reg->cap ? reg->cap * 2 : 16;
	while (cap < want)
		cap *= 2;
	n = realloc(reg->services, cap * sizeof(*n));
	if (n == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	reg->services = n;
	reg->cap = cap;
	return 0;
}

int
conduit_registry_copy(struct conduit_registry *dst,
    const struct conduit_registry *src, struct conduit_err *err)
{
	size_t i;
	int rc;

	conduit_registry_init(dst);
	dst->version = src->version;
	if ((rc = reserve(dst, src->n, err)) != 0)
		return rc;
	for (i = 0; i < src->n; i++) {
		if ((rc = conduit_service_copy(&dst->services[i], &src->services[i],
		    err)) != 0) {
			conduit_registry_free(dst);
			return rc;
		}
		dst->n++;
	}
	return 0;
}

int
conduit_registry_add(struct conduit_registry *reg, struct conduit_service *svc,
    struct conduit_err *err)
{
	int rc;

	if ((rc = reserve(reg, reg->n + 1, err)) != 0)
		return rc;
	reg->services[reg->n++] = *svc;
	memset(svc, 0, sizeof(*svc));
	return 0;
}

static bool
name_matches(const struct conduit_service *s, const char *name, bool aliases)
{
	size_t i;

	if (strcasecmp(s->name, name) == 0)
		return true;
	if (aliases)
		for (i = 0; i < s->n_aliases; i++)
			if (strcasecmp(s->aliases[i], name) == 0)
				return true;
	return false;
}

struct conduit_service *
conduit_registry_find_active(const struct conduit_registry *reg,
    const char *name, bool include_aliases)
{
	size_t i;

	for (i = 0; i < reg->n; i++)
		if (reg->services[i].status == SVC_ACTIVE &&
		    name_matches(&reg->services[i], name, include_aliases))
			return &reg->services[i];
	return NULL;
}

size_t
conduit_registry_count_active(const struct conduit_registry *reg)
{
	size_t i, n = 0;

	for (i = 0; i < reg->n; i++)
		n += reg->services[i].status == SVC_ACTIVE;
	return n;
}

/* ---- JSON -> struct ------------------------------------------------ */

static void
line_col(const char *text, const char *pos, size_t *line, size_t *col)
{
	const char *p;

	*line = 1;
	*col = 1;
	for (p = text; p < pos; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else
			(*col)++;
	}
}

static int bad(struct conduit_err *err, const char *fname, size_t idx,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
bad(struct conduit_err *err, const char *fname, size_t idx, const char *fmt,
    ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return conduit_err_set(err, CONDUIT_ECORRUPT,
	    "%s: service #%zu: %s (the file was left as it is; fix or restore "
	    "it)", fname, idx + 1, msg);
}

static int
opt_str(const cJSON *o, const char *key, char *dst, size_t len, bool *ok)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	dst[0] = '\0';
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= len) {
		*ok = false;
		return -1;
	}
	memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

static long
opt_long(const cJSON *o, const char *key, long dflt, bool *ok)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (v == NULL || cJSON_IsNull(v))
		return dflt;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e9) {
		*ok = false;
		return dflt;
	}
	return (long)v->valuedouble;
}

static int
service_from_json(const cJSON *o, const char *fname, size_t idx,
    struct conduit_service *s, struct conduit_err *err)
{
	const cJSON *v, *e;
	char tmp[CONDUIT_NAME_MAX];
	bool ok = true;
	size_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	if (!cJSON_IsObject(o))
		return bad(err, fname, idx, "is not an object%s", "");
	if (opt_str(o, "name", s->name, sizeof(s->name), &ok) != 0 ||
	    s->name[0] == '\0')
		return bad(err, fname, idx, "\"name\" is missing or not a string%s", "");
	if (conduit_validate_name("name", s->name, tmp, sizeof(tmp), err) != 0)
		return bad(err, fname, idx, "%s", err->msg);
	memcpy(s->name, tmp, sizeof(s->name));

	v = cJSON_GetObjectItemCaseSensitive(o, "upstreams");
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1)
		return bad(err, fname, idx, "\"upstreams\" must be a non-empty array%s", "");
	s->n_upstreams = (size_t)cJSON_GetArraySize(v);
	s->upstreams = calloc(s->n_upstreams, sizeof(*s->upstreams));
	if (s->upstreams == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	i = 0;
	cJSON_ArrayForEach(e, v) {
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(e, "host");
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "port");
		if (!cJSON_IsString(h) || !cJSON_IsNumber(p) ||
		    strlen(h->valuestring) >= CONDUIT_HOST_MAX ||
		    p->valuedouble < 1 || p->valuedouble > 65535 ||
		    p->valuedouble != (double)(long)p->valuedouble) {
			rc = bad(err, fname, idx, "upstream #%s needs a \"host\" "
			    "string and a \"port\" 1-65535", "");
			goto fail;
		}
		if (conduit_validate_host("upstream host", h->valuestring, NULL,
		    err) != 0) {
			rc = bad(err, fname, idx, "%s", err->msg);
			goto fail;
		}
		snprintf(s->upstreams[i].host, CONDUIT_HOST_MAX, "%s",
		    h->valuestring);
		s->upstreams[i].port = (long)p->valuedouble;
		i++;
	}

	opt_str(o, "scheme", s->scheme, sizeof(s->scheme), &ok);
	if (s->scheme[0] == '\0')
		snprintf(s->scheme, sizeof(s->scheme), "http");
	if (conduit_validate_scheme("scheme", s->scheme, err) != 0) {
		rc = bad(err, fname, idx, "%s", err->msg);
		goto fail;
	}
	opt_str(o, "health_path", s->health_path, sizeof(s->health_path), &ok);
	if (s->health_path[0] && conduit_validate_health_path("health_path",
	    s->health_path, err) != 0) {
		rc = bad(err, fname, idx, "%s", err->msg);
		goto fail;
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "tls");
	s->tls = v == NULL ? true : cJSON_IsTrue(v);
	if (v != NULL && !cJSON_IsBool(v))
		ok = false;
	v = cJSON_GetObjectItemCaseSensitive(o, "dns_only");
	s->dns_only = cJSON_IsTrue(v);
	if (v != NULL && !cJSON_IsBool(v))
		ok = false;

	v = cJSON_GetObjectItemCaseSensitive(o, "aliases");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsArray(v)) {
			rc = bad(err, fname, idx, "\"aliases\" must be an array%s", "");
			goto fail;
		}
		s->n_aliases = (size_t)cJSON_GetArraySize(v);
		if (s->n_aliases) {
			s->aliases = calloc(s->n_aliases, sizeof(*s->aliases));
			if (s->aliases == NULL) {
				rc = conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
				goto fail;
			}
		}
		i = 0;
		cJSON_ArrayForEach(e, v) {
			if (!cJSON_IsString(e) || conduit_validate_name("alias",
			    e->valuestring, s->aliases[i], CONDUIT_NAME_MAX, err) != 0) {
				rc = bad(err, fname, idx, "alias #%s is not a DNS label", "");
				goto fail;
			}
			i++;
		}
	}

	opt_str(o, "status", tmp, sizeof(tmp), &ok);
	if (strcmp(tmp, "active") == 0)
		s->status = SVC_ACTIVE;
	else if (strcmp(tmp, "inactive") == 0)
		s->status = SVC_INACTIVE;
	else {
		rc = bad(err, fname, idx, "\"status\" must be \"active\" or "
		    "\"inactive\"%s", "");
		goto fail;
	}

	opt_str(o, "health", s->health, sizeof(s->health), &ok);
	if (s->health[0] == '\0')
		snprintf(s->health, sizeof(s->health), "unknown");
	opt_str(o, "health_pending", s->health_pending,
	    sizeof(s->health_pending), &ok);
	s->health_streak = opt_long(o, "health_streak", 0, &ok);
	opt_str(o, "health_checked_at", s->health_checked_at,
	    sizeof(s->health_checked_at), &ok);

	v = cJSON_GetObjectItemCaseSensitive(o, "health_check");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsObject(v)) {
			rc = bad(err, fname, idx, "\"health_check\" must be an object%s", "");
			goto fail;
		}
		opt_str(v, "path", s->health_cfg.path, sizeof(s->health_cfg.path), &ok);
		if (s->health_cfg.path[0] && conduit_validate_health_path(
		    "health_check.path", s->health_cfg.path, err) != 0) {
			rc = bad(err, fname, idx, "%s", err->msg);
			goto fail;
		}
		s->health_cfg.interval_ms = opt_long(v, "interval_ms", 0, &ok);
		s->health_cfg.timeout_ms = opt_long(v, "timeout_ms", 0, &ok);
		s->health_cfg.passes = opt_long(v, "passes", 0, &ok);
		s->health_cfg.fails = opt_long(v, "fails", 0, &ok);
	}

	opt_str(o, "registered_at", s->registered_at, sizeof(s->registered_at), &ok);
	opt_str(o, "updated_at", s->updated_at, sizeof(s->updated_at), &ok);
	opt_str(o, "deregistered_at", s->deregistered_at,
	    sizeof(s->deregistered_at), &ok);
	if (!ok) {
		rc = bad(err, fname, idx, "a field has the wrong type or is too "
		    "long%s", "");
		goto fail;
	}
	return 0;
fail:
	conduit_service_free(s);
	return rc;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* At most one active record per name: sort the active names (already
 * folded to lower case) and compare neighbours, O(n log n). */
static int
check_unique(const struct conduit_registry *reg, const char *fname,
    struct conduit_err *err)
{
	const char **names;
	size_t i, n = 0;
	int rc = 0;

	if (reg->n < 2)
		return 0;
	names = malloc(reg->n * sizeof(*names));
	if (names == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	for (i = 0; i < reg->n; i++)
		if (reg->services[i].status == SVC_ACTIVE)
			names[n++] = reg->services[i].name;
	qsort(names, n, sizeof(*names), cmp_name);
	for (i = 1; i < n; i++)
		if (strcmp(names[i - 1], names[i]) == 0) {
			rc = conduit_err_set(err, CONDUIT_ECORRUPT,
			    "%s: name \"%s\" is active twice (the file was left as "
			    "it is; fix or restore it)", fname, names[i]);
			break;
		}
	free(names);
	return rc;
}

int
conduit_registry_from_json(const char *text, size_t len, const char *fname,
    struct conduit_registry *reg, struct conduit_err *err)
{
	const char *end = NULL;
	const cJSON *v, *e;
	cJSON *root;
	size_t idx = 0, line, col;
	int rc = 0;

	conduit_registry_init(reg);
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (root == NULL) {
		line_col(text, end ? end : text, &line, &col);
		return conduit_err_set(err, CONDUIT_ECORRUPT,
		    "%s: not valid JSON at line %zu, column %zu (the file was "
		    "left as it is; fix or restore it)", fname, line, col);
	}
	if (!cJSON_IsObject(root)) {
		rc = conduit_err_set(err, CONDUIT_ECORRUPT,
		    "%s: the top level must be an object with \"version\" and "
		    "\"services\"", fname);
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (!cJSON_IsNumber(v) || v->valueint != CONDUIT_REGISTRY_VERSION) {
		rc = conduit_err_set(err, CONDUIT_ECORRUPT,
		    "%s: \"version\" must be %d (this conduit reads registry "
		    "version %d only)", fname, CONDUIT_REGISTRY_VERSION,
		    CONDUIT_REGISTRY_VERSION);
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "services");
	if (!cJSON_IsArray(v)) {
		rc = conduit_err_set(err, CONDUIT_ECORRUPT,
		    "%s: \"services\" must be an array", fname);
		goto out;
	}
	if ((rc = reserve(reg, (size_t)cJSON_GetArraySize(v), err)) != 0)
		goto out;
	cJSON_ArrayForEach(e, v) {
		struct conduit_service s;
		if ((rc = service_from_json(e, fname, idx, &s, err)) != 0)
			goto out;
		reg->services[reg->n++] = s;
		idx++;
	}
	rc = check_unique(reg, fname, err);
out:
	cJSON_Delete(root);
	if (rc != 0)
		conduit_registry_free(reg);
	return rc;
}

/* ---- struct -> JSON ------------------------------------------------ */

static void
add_str_or_null(cJSON *o, const char *key, const char *v)
{
	if (v[0])
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

static void
add_long_or_null(cJSON *o, const char *key, long v)
{
	if (v)
		cJSON_AddNumberToObject(o, key, (double)v);
	else
		cJSON_AddNullToObject(o, key);
}

cJSON *
conduit_service_to_json(const struct conduit_service *s)
{
	cJSON *o = cJSON_CreateObject(), *a, *u, *h;
	size_t i;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "name", s->name);
	a = cJSON_AddArrayToObject(o, "upstreams");
	for (i = 0; a && i < s->n_upstreams; i++) {
		u = cJSON_CreateObject();
		cJSON_AddStringToObject(u, "host", s->upstreams[i].host);
		cJSON_AddNumberToObject(u, "port", (double)s->upstreams[i].port);
		cJSON_AddItemToArray(a, u);
	}
	cJSON_AddStringToObject(o, "scheme", s->scheme);
	add_str_or_null(o, "health_path", s->health_path);
	cJSON_AddBoolToObject(o, "tls", s->tls);
	cJSON_AddBoolToObject(o, "dns_only", s->dns_only);
	a = cJSON_AddArrayToObject(o, "aliases");
	for (i = 0; a && i < s->n_aliases; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(s->aliases[i]));
	cJSON_AddStringToObject(o, "status",
	    s->status == SVC_ACTIVE ? "active" : "inactive");
	h = cJSON_AddObjectToObject(o, "health_check");
	if (h) {
		add_str_or_null(h, "path", s->health_cfg.path);
		add_long_or_null(h, "interval_ms", s->health_cfg.interval_ms);
		add_long_or_null(h, "timeout_ms", s->health_cfg.timeout_ms);
		add_long_or_null(h, "passes", s->health_cfg.passes);
		add_long_or_null(h, "fails", s->health_cfg.fails);
	}
	cJSON_AddStringToObject(o, "health", s->health[0] ? s->health : "unknown");
	add_str_or_null(o, "health_pending", s->health_pending);
	cJSON_AddNumberToObject(o, "health_streak", (double)s->health_streak);
	add_str_or_null(o, "health_checked_at", s->health_checked_at);
	cJSON_AddStringToObject(o, "registered_at", s->registered_at);
	cJSON_AddStringToObject(o, "updated_at", s->updated_at);
	add_str_or_null(o, "deregistered_at", s->deregistered_at);
	return o;
}

char *
conduit_registry_to_json(const struct conduit_registry *reg)
{
	char **lines;
	size_t i, total, off;
	char *out = NULL;
	int hdr;
	char head[64];

	lines = calloc(reg->n ? reg->n : 1, sizeof(*lines));
	if (lines == NULL)
		return NULL;
	hdr = snprintf(head, sizeof(head), "{\"version\": %d, \"services\": [\n",
	    reg->version);
	total = (size_t)hdr + 4;
	for (i = 0; i < reg->n; i++) {
		cJSON *o = conduit_service_to_json(&reg->services[i]);
		lines[i] = o ? cJSON_PrintUnformatted(o) : NULL;
		cJSON_Delete(o);
		if (lines[i] == NULL)
			goto out;
		total += strlen(lines[i]) + 2;
	}
	out = malloc(total + 1);
	if (out == NULL)
		goto out;
	memcpy(out, head, (size_t)hdr);
	off = (size_t)hdr;
	for (i = 0; i < reg->n; i++) {
		size_t l = strlen(lines[i]);
		memcpy(out + off, lines[i], l);
		off += l;
		if (i + 1 < reg->n)
			out[off++] = ',';
		out[off++] = '\n';
	}
	memcpy(out + off, "]}\n", 4);
out:
	for (i = 0; i < reg->n; i++)
		cJSON_free(lines[i]);
	free(lines);
	return out;
}

int
conduit_registry_load(const char *path, struct conduit_registry *reg,
    struct conduit_err *err)
{
	char *text;
	size_t len;
	int rc;

	conduit_registry_init(reg);
	rc = conduit_read_file(path, &text, &len, err);
	if (rc == CONDUIT_ENOTFOUND) {
		conduit_err_clear(err);
		return 0;
	}
	if (rc != 0)
		return rc;
	rc = conduit_registry_from_json(text, len, path, reg, err);
	free(text);
	return rc;
}

int
conduit_registry_save(const char *path, const struct conduit_registry *reg,
    struct conduit_err *err)
{
	char *text = conduit_registry_to_json(reg);
	int rc;

	if (text == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	rc = conduit_write_atomic(path, text, strlen(text), 0600, err);
	free(text);
	return rc;
}
