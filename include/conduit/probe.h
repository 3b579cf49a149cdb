/*
 * probe.h - health probes, the damped health state machine, and what
 * `conduit status` reports.
 *
 * One run probes every active service at once (src/probe/engine.c):
 * each upstream directly (HTTP GET of the health path, or a TCP connect
 * for dns-only services), the public route through the gateway
 * (https://NAME.DOMAIN:PORT/PATH verified against conduit's CA, with the
 * name pinned to the gateway address so no resolver is involved), the
 * name through conduit's DNS when DNS is enabled, and the expiry of the
 * certificate the gateway served.  All of it runs in one libcurl multi
 * loop, with at most `concurrency` transfers in flight, so a run takes
 * about one timeout however many services hang.
 *
 * A run's raw verdict per service (observed) goes through a pure state
 * machine (src/probe/health.c) that damps flapping; conduit_status_record
 * (src/probe/record.c) stores the result in services.json and writes one
 * health_change audit record per transition.  The renderers in
 * src/render/status_*.c turn a report into the table or the JSON
 * document of docs/status.md; they do no I/O.
 */
#ifndef CONDUIT_PROBE_H
#define CONDUIT_PROBE_H

#include <stdbool.h>
#include <stddef.h>

#include "conduit/err.h"
#include "conduit/registry.h"
#include "conduit/settings.h"

struct cJSON;

/* Ordered from worst to best, so "better" is a larger value (unknown
 * sits below everything: it is never the result of a comparison). */
enum conduit_health {
	HEALTH_UNKNOWN = 0,
	HEALTH_DOWN,
	HEALTH_DEGRADED,
	HEALTH_HEALTHY,
};

const char *conduit_health_name(enum conduit_health h);
/* "unknown", "healthy", "degraded", "down"; anything else (also "") is
 * HEALTH_UNKNOWN and returns -1. */
int conduit_health_parse(const char *s, enum conduit_health *out);

/* The damped state as services.json stores it. */
struct conduit_health_state {
	enum conduit_health current;
	enum conduit_health pending;	/* latest candidate; UNKNOWN = none */
	long streak;			/* consecutive results towards pending */
};

/*
 * Feeds one observation into st (pure).  Out of `unknown` the first real
 * observation is taken at once.  After that a result better than the
 * current state counts as a pass, a worse one as a fail; the state moves
 * to the latest candidate after `passes` consecutive passes or `fails`
 * consecutive fails; a result equal to the current state clears the
 * streak and `unknown` is ignored.  Returns true when st->current changed.
 */
bool conduit_health_step(struct conduit_health_state *st,
    enum conduit_health observed, long passes, long fails);

enum conduit_probe_kind {
	PROBE_HTTP,	/* GET scheme://host:port/path on an upstream */
	PROBE_TCP,	/* connect to an upstream (dns-only services) */
	PROBE_GATEWAY,	/* GET through the gateway, verified TLS */
	PROBE_DNS,	/* NAME.DOMAIN through conduit's DNS */
};

const char *conduit_probe_kind_name(enum conduit_probe_kind k);

struct conduit_probe {
	enum conduit_probe_kind kind;
	char target[600];	/* URL, host:port or the queried name */
	bool ran;		/* false: not attempted (error says why) */
	bool ok;
	long http_status;	/* 0 when no HTTP response */
	double latency_ms;	/* total time; connect time for TCP */
	char answer[64];	/* DNS: first address answered */
	char error[256];	/* "" when ok */
};

struct conduit_service_status {
	char name[CONDUIT_NAME_MAX];
	char fqdn[CONDUIT_NAME_MAX + 256];
	char url[600];		/* public URL; "" for dns-only services */
	bool dns_only;

	struct conduit_probe *upstreams;
	size_t n_upstreams;
	size_t upstreams_up;
	bool has_gateway;
	bool gateway_tls;	/* the route is HTTPS: a certificate to check */
	struct conduit_probe gateway;
	bool has_dns;
	struct conduit_probe dns;
	/* Served certificate: not_after as epoch seconds, 0 = not known. */
	long long cert_not_after;
	char cert_error[256];

	long timeout_ms, passes, fails;	/* effective for this service */

	enum conduit_health observed;	/* this run, undamped */
	/* Filled by conduit_status_record (or copied from the registry). */
	enum conduit_health previous;	/* stored state before this run */
	struct conduit_health_state state;	/* stored state after it */
	bool changed;
	char checked_at[CONDUIT_TS_MAX];
	char registered_at[CONDUIT_TS_MAX];	/* identifies the record */
};

struct conduit_status_report {
	struct conduit_service_status *svcs;
	size_t n;
	char checked_at[CONDUIT_TS_MAX];
	double elapsed_ms;		/* wall time of the probe run */
	char gateway_addr[64];		/* where gateway probes connect */
	char dns_server[64];		/* "" when DNS is disabled */
	long dns_port;
	bool recorded;			/* conduit_status_record succeeded */
};

struct conduit_probe_opts {
	long timeout_ms;	/* > 0 overrides every service's timeout */
	long concurrency;	/* transfers in flight at once; <= 0: settings */
	const char *ca_file;	/* conduit's root CA (pki/root.crt) */
	const char *only;	/* one service name or alias; NULL = all */
};

/* Probes the active services of reg (or only opts->only: ENOTFOUND when
 * no active service has that name).  Probe failures are results, not
 * errors; errors are out of memory or libcurl refusing to start. */
int conduit_probe_run(const struct conduit_settings *s,
    const struct conduit_registry *reg, const struct conduit_probe_opts *o,
    struct conduit_status_report *out, struct conduit_err *err);

void conduit_status_report_free(struct conduit_status_report *r);

/* The verdict for one service from its probe results (pure). */
enum conduit_health conduit_probe_verdict(
    const struct conduit_service_status *st);

/*
 * Stores the run: under the registry lock, reloads services.json, feeds
 * each service's observation through conduit_health_step on the record
 * as it is now (so concurrent runs never record one transition twice),
 * updates only the health fields, saves atomically, and appends one
 * health_change audit record per transition.  Fills previous, state,
 * changed and checked_at in r.
 */
int conduit_status_record(const char *state_dir,
    struct conduit_status_report *r, struct conduit_err *err);

/* Copies the stored state into r without changing anything (used when
 * the run cannot be recorded). */
void conduit_status_from_registry(const struct conduit_registry *reg,
    struct conduit_status_report *r);

/* Renderers (src/render/status_*.c; pure).  now is epoch seconds, used
 * for the certificate's days left. */
char *conduit_status_render_table(const struct conduit_status_report *r,
    bool color, long long now);
struct cJSON *conduit_status_render_json(const struct conduit_status_report *r,
    long long now);

#endif
