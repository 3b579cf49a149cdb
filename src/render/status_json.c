/*
 * status_json.c - the `conduit status --json` document (pure).
 *
 * The schema is documented in docs/status.md and versioned by its
 * "version" field: fields are only ever added.  Every value is always
 * present (null when it does not apply) so consumers need no
 * existence checks.
 */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "conduit/probe.h"

#define STATUS_JSON_VERSION 1

static cJSON *
str_or_null(const char *s)
{
	return s != NULL && s[0] ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* Milliseconds rounded to 0.1 so the document stays readable. */
static double
ms(double v)
{
	return round(v * 10.0) / 10.0;
}

static cJSON *
probe_json(const struct conduit_probe *p)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "kind", conduit_probe_kind_name(p->kind));
	cJSON_AddStringToObject(o, "target", p->target);
	cJSON_AddBoolToObject(o, "ran", p->ran);
	cJSON_AddBoolToObject(o, "ok", p->ok);
	if (p->http_status > 0)
		cJSON_AddNumberToObject(o, "http_status", (double)p->http_status);
	else
		cJSON_AddNullToObject(o, "http_status");
	if (p->ran)
		cJSON_AddNumberToObject(o, "latency_ms", ms(p->latency_ms));
	else
		cJSON_AddNullToObject(o, "latency_ms");
	if (p->kind == PROBE_DNS)
		cJSON_AddItemToObject(o, "answer", str_or_null(p->answer));
	cJSON_AddItemToObject(o, "error", str_or_null(p->error));
	return o;
}

static cJSON *
cert_json(const struct conduit_service_status *st, long long now)
{
	cJSON *o;
	char date[32];
	struct tm tm;
	time_t t;

	if (!st->gateway_tls)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	if (st->cert_not_after != 0) {
		t = (time_t)st->cert_not_after;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
		cJSON_AddStringToObject(o, "not_after", date);
		cJSON_AddNumberToObject(o, "days_left",
		    (double)((st->cert_not_after - now) / 86400));
		cJSON_AddBoolToObject(o, "expired", st->cert_not_after <= now);
	} else {
		cJSON_AddNullToObject(o, "not_after");
		cJSON_AddNullToObject(o, "days_left");
		cJSON_AddNullToObject(o, "expired");
	}
	cJSON_AddItemToObject(o, "error", str_or_null(
	    st->cert_not_after != 0 ? "" : st->cert_error));
	return o;
}

static cJSON *
service_json(const struct conduit_service_status *st, long long now)
{
	cJSON *o = cJSON_CreateObject(), *a;
	size_t i;
	double lat = -1;

	cJSON_AddStringToObject(o, "name", st->name);
	cJSON_AddStringToObject(o, "fqdn", st->fqdn);
	cJSON_AddItemToObject(o, "url", str_or_null(st->url));
	cJSON_AddBoolToObject(o, "dns_only", st->dns_only);
	cJSON_AddStringToObject(o, "health", conduit_health_name(st->state.current));
	cJSON_AddStringToObject(o, "previous", conduit_health_name(st->previous));
	cJSON_AddBoolToObject(o, "changed", st->changed);
	cJSON_AddStringToObject(o, "observed", conduit_health_name(st->observed));
	cJSON_AddItemToObject(o, "pending", str_or_null(
	    st->state.pending == HEALTH_UNKNOWN ? "" :
	    conduit_health_name(st->state.pending)));
	cJSON_AddNumberToObject(o, "streak", (double)st->state.streak);
	cJSON_AddNumberToObject(o, "passes", (double)st->passes);
	cJSON_AddNumberToObject(o, "fails", (double)st->fails);
	cJSON_AddNumberToObject(o, "timeout_ms", (double)st->timeout_ms);
	cJSON_AddItemToObject(o, "checked_at", str_or_null(st->checked_at));
	cJSON_AddNumberToObject(o, "upstreams_up", (double)st->upstreams_up);
	cJSON_AddNumberToObject(o, "upstreams_total", (double)st->n_upstreams);

	if (st->has_gateway && st->gateway.ok)
		lat = st->gateway.latency_ms;
	else
		for (i = 0; i < st->n_upstreams; i++)
			if (st->upstreams[i].ok &&
			    (lat < 0 || st->upstreams[i].latency_ms < lat))
				lat = st->upstreams[i].latency_ms;
	if (lat >= 0)
		cJSON_AddNumberToObject(o, "latency_ms", ms(lat));
	else
		cJSON_AddNullToObject(o, "latency_ms");

	a = cJSON_AddArrayToObject(o, "upstreams");
	for (i = 0; i < st->n_upstreams; i++)
		cJSON_AddItemToArray(a, probe_json(&st->upstreams[i]));
	cJSON_AddItemToObject(o, "gateway", st->has_gateway ?
	    probe_json(&st->gateway) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "dns", st->has_dns ? probe_json(&st->dns) :
	    cJSON_CreateNull());
	cJSON_AddItemToObject(o, "cert", cert_json(st, now));
	return o;
}

cJSON *
conduit_status_render_json(const struct conduit_status_report *r,
    long long now)
{
	cJSON *doc = cJSON_CreateObject(), *sum, *arr, *names;
	size_t i, count[4] = { 0, 0, 0, 0 }, changed = 0;

	if (doc == NULL)
		return NULL;
	cJSON_AddNumberToObject(doc, "version", STATUS_JSON_VERSION);
	cJSON_AddStringToObject(doc, "checked_at", r->checked_at);
	cJSON_AddNumberToObject(doc, "elapsed_ms", ms(r->elapsed_ms));
	cJSON_AddBoolToObject(doc, "recorded", r->recorded);
	cJSON_AddStringToObject(doc, "gateway_address", r->gateway_addr);
	cJSON_AddItemToObject(doc, "dns_server", str_or_null(r->dns_server));
	if (r->dns_server[0])
		cJSON_AddNumberToObject(doc, "dns_port", (double)r->dns_port);
	else
		cJSON_AddNullToObject(doc, "dns_port");
	arr = cJSON_AddArrayToObject(doc, "services");
	for (i = 0; i < r->n; i++) {
		cJSON_AddItemToArray(arr, service_json(&r->svcs[i], now));
		count[r->svcs[i].state.current]++;
		changed += r->svcs[i].changed;
	}
	sum = cJSON_AddObjectToObject(doc, "summary");
	cJSON_AddNumberToObject(sum, "total", (double)r->n);
	cJSON_AddNumberToObject(sum, "healthy", (double)count[HEALTH_HEALTHY]);
	cJSON_AddNumberToObject(sum, "degraded", (double)count[HEALTH_DEGRADED]);
	cJSON_AddNumberToObject(sum, "down", (double)count[HEALTH_DOWN]);
	cJSON_AddNumberToObject(sum, "unknown", (double)count[HEALTH_UNKNOWN]);
	cJSON_AddNumberToObject(sum, "changed", (double)changed);
	cJSON_AddBoolToObject(sum, "all_healthy", count[HEALTH_HEALTHY] == r->n);
	names = cJSON_AddArrayToObject(sum, "not_healthy");
	for (i = 0; i < r->n; i++)
		if (r->svcs[i].state.current != HEALTH_HEALTHY)
			cJSON_AddItemToArray(names,
			    cJSON_CreateString(r->svcs[i].name));
	return doc;
}
