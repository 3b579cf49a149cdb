/*
 * health.c - the health verdict and the damping state machine (pure).
 *
 * A single probe run says what a service looks like right now; the
 * stored health is what an operator and `status --check` act on, so it
 * must not flap with every dropped packet.  The rules:
 *
 *   - out of `unknown` the first observation is taken as it is: a fresh
 *     service should not sit in `unknown` for `passes` runs;
 *   - afterwards every result is a pass (better than the current state),
 *     a fail (worse), or equal, which clears the streak; a pass after
 *     fails (or the reverse) restarts it; `unknown` (nothing could be
 *     probed) is no evidence either way and is ignored;
 *   - after `passes` consecutive passes or `fails` consecutive fails the
 *     state moves to the latest candidate.  So down -> degraded ->
 *     healthy counts as one run of passes, and recovery may land on
 *     degraded first while the gateway still holds an upstream out.
 */
#include <string.h>

#include "conduit/probe.h"

static const char *const health_names[] = {
	[HEALTH_UNKNOWN] = "unknown",
	[HEALTH_DOWN] = "down",
	[HEALTH_DEGRADED] = "degraded",
	[HEALTH_HEALTHY] = "healthy",
};

const char *
conduit_health_name(enum conduit_health h)
{
	if ((unsigned)h >= sizeof(health_names) / sizeof(health_names[0]))
		return "unknown";
	return health_names[h];
}

int
conduit_health_parse(const char *s, enum conduit_health *out)
{
	size_t i;

	*out = HEALTH_UNKNOWN;
	for (i = 0; s != NULL && i < sizeof(health_names) / sizeof(health_names[0]);
	    i++)
		if (strcmp(s, health_names[i]) == 0) {
			*out = (enum conduit_health)i;
			return 0;
		}
	return -1;
}

const char *
conduit_probe_kind_name(enum conduit_probe_kind k)
{
	switch (k) {
	case PROBE_HTTP:
		return "http";
	case PROBE_TCP:
		return "tcp";
	case PROBE_GATEWAY:
		return "gateway";
	case PROBE_DNS:
		return "dns";
	}
	return "unknown";
}

bool
conduit_health_step(struct conduit_health_state *st,
    enum conduit_health observed, long passes, long fails)
{
	int dir, pdir;
	long need;

	if (observed == HEALTH_UNKNOWN)
		return false;
	if (st->current == HEALTH_UNKNOWN) {
		st->current = observed;
		st->pending = HEALTH_UNKNOWN;
		st->streak = 0;
		return true;
	}
	if (observed == st->current) {
		st->pending = HEALTH_UNKNOWN;
		st->streak = 0;
		return false;
	}
	dir = observed > st->current ? 1 : -1;
	pdir = st->pending == HEALTH_UNKNOWN ? 0 :
	    st->pending > st->current ? 1 : st->pending < st->current ? -1 : 0;
	st->streak = pdir == dir && st->streak > 0 ? st->streak + 1 : 1;
	st->pending = observed;
	need = dir > 0 ? passes : fails;
	if (need < 1)
		need = 1;
	if (st->streak < need)
		return false;
	st->current = observed;
	st->pending = HEALTH_UNKNOWN;
	st->streak = 0;
	return true;
}

enum conduit_health
conduit_probe_verdict(const struct conduit_service_status *st)
{
	bool gw_ok;

	if (st->n_upstreams == 0)
		return HEALTH_UNKNOWN;
	/* A gateway that cannot be checked (no route) does not count. */
	gw_ok = !st->has_gateway || st->gateway.ok;
	if (st->upstreams_up == st->n_upstreams && gw_ok)
		return HEALTH_HEALTHY;
	if (st->upstreams_up == 0 && !(st->has_gateway && st->gateway.ok))
		return HEALTH_DOWN;
	return HEALTH_DEGRADED;
}
