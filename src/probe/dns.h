/*
 * dns.h - many DNS queries to one server over one UDP socket (private
 * to src/probe).
 *
 * The batch is driven from the engine's curl multi loop: its socket is
 * handed to curl_multi_poll() as an extra descriptor, so the DNS checks
 * run alongside the HTTP probes without a thread and without blocking
 * in res_send() once per name.
 */
#ifndef CONDUIT_PROBE_DNS_H
#define CONDUIT_PROBE_DNS_H

#include <stdbool.h>

#include "conduit/err.h"
#include "conduit/probe.h"

struct probe_dns;

/* A batch asking server:port; every query times out after timeout_ms. */
int probe_dns_open(struct probe_dns **out, const char *server, long port,
    long timeout_ms, struct conduit_err *err);

/* Queues name (A, or AAAA when expect is an IPv6 literal).  The result
 * is written to *res (not owned) when the answer arrives or the query
 * expires.  expect: an address the answer must contain, "" = any. */
int probe_dns_add(struct probe_dns *d, const char *name, const char *expect,
    struct conduit_probe *res);

int probe_dns_fd(const struct probe_dns *d);

/* Sends what is due, reads what has arrived, expires what is late. */
void probe_dns_pump(struct probe_dns *d, long long now_ms);

bool probe_dns_done(const struct probe_dns *d);

/* Milliseconds until the batch next needs attention (0..1000). */
long probe_dns_wait_ms(const struct probe_dns *d, long long now_ms);

/* Marks every unfinished query failed with msg (engine deadline). */
void probe_dns_abort(struct probe_dns *d, const char *msg);

void probe_dns_free(struct probe_dns *d);

/* Monotonic milliseconds. */
long long probe_now_ms(void);

#endif
