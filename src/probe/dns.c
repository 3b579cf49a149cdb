/*
 * dns.c - a batch of DNS queries on one connected UDP socket.
 *
 * Queries are built with res_nmkquery() and answers taken apart with
 * ns_initparse()/ns_parserr() (libresolv), so no DNS wire format is
 * written or parsed by hand.  Each query gets the batch index as its
 * message id; an answer is accepted only when its id and question name
 * match.  An unanswered query is sent once more at half its timeout
 * (UDP may drop), and a port-unreachable error on the connected socket
 * fails every open query at once: nothing is listening, waiting longer
 * will not help.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"

struct dns_query {
	char name[NS_MAXDNAME];
	char expect[64];
	int qtype;
	unsigned char msg[512];
	int msglen;
	int sends;
	long long first_sent, last_sent;
	bool done;
	struct conduit_probe *res;
};

struct probe_dns {
	int fd;
	char server[64];
	long port;
	long timeout_ms;
	struct dns_query *q;
	size_t n, cap, open;
};

long long
probe_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
probe_dns_open(struct probe_dns **out, const char *server, long port,
    long timeout_ms, struct conduit_err *err)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct probe_dns *d;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, server, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, server,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in6);
	} else
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "DNS server \"%s\" is not an IP address", server);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	d->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->fd < 0 || connect(d->fd, (struct sockaddr *)&ss, sl) != 0) {
		int e = errno;
		if (d->fd >= 0)
			close(d->fd);
		free(d);
		return conduit_err_set(err, CONDUIT_EIO,
		    "DNS socket to %s port %ld: %s", server, port, strerror(e));
	}
	snprintf(d->server, sizeof(d->server), "%s", server);
	d->port = port;
	d->timeout_ms = timeout_ms;
	*out = d;
	return 0;
}

int
probe_dns_add(struct probe_dns *d, const char *name, const char *expect,
    struct conduit_probe *res)
{
	struct __res_state *rs;
	struct dns_query *q;

	if (d->n >= 65535)
		return CONDUIT_EINVAL;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct dns_query *nq = realloc(d->q, cap * sizeof(*nq));
		if (nq == NULL)
			return CONDUIT_ENOMEM;
		d->q = nq;
		d->cap = cap;
	}
	q = &d->q[d->n];
	memset(q, 0, sizeof(*q));
	snprintf(q->name, sizeof(q->name), "%s", name);
	snprintf(q->expect, sizeof(q->expect), "%s", expect ? expect : "");
	q->qtype = strchr(q->expect, ':') ? ns_t_aaaa : ns_t_a;
	q->res = res;
	res->kind = PROBE_DNS;
	snprintf(res->target, sizeof(res->target), "%s", name);
	res->ran = true;

	/* res_nmkquery only reads options from the state; a zeroed one with
	 * RES_INIT set avoids reading /etc/resolv.conf for nothing. */
	if ((rs = calloc(1, sizeof(*rs))) == NULL)
		return CONDUIT_ENOMEM;
	rs->options = RES_INIT | RES_RECURSE;
	q->msglen = res_nmkquery(rs, ns_o_query, name, ns_c_in, q->qtype,
	    NULL, 0, NULL, q->msg, sizeof(q->msg));
	free(rs);
	if (q->msglen < NS_HFIXEDSZ) {
		snprintf(res->error, sizeof(res->error),
		    "cannot build a DNS query for \"%s\"", name);
		q->done = true;
		d->n++;
		return 0;
	}
	/* The id is the batch index + 1, in network order. */
	q->msg[0] = (unsigned char)((d->n + 1) >> 8);
	q->msg[1] = (unsigned char)((d->n + 1) & 0xff);
	d->n++;
	d->open++;
	return 0;
}

int
probe_dns_fd(const struct probe_dns *d)
{
	return d->fd;
}

bool
probe_dns_done(const struct probe_dns *d)
{
	return d->open == 0;
}

static void
finish(struct probe_dns *d, struct dns_query *q, bool ok, const char *why)
{
	if (q->done)
		return;
	q->done = true;
	d->open--;
	q->res->ok = ok;
	if (!ok)
		snprintf(q->res->error, sizeof(q->res->error), "%s", why);
}

void
probe_dns_abort(struct probe_dns *d, const char *msg)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		finish(d, &d->q[i], false, msg);
}

static void
refused(struct probe_dns *d)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "DNS server %s port %ld refused the query "
	    "(is dnsmasq running? `conduit up`)", d->server, d->port);
	probe_dns_abort(d, msg);
}

/* Takes one answer apart; finishes the query it belongs to. */
static void
take_answer(struct probe_dns *d, const unsigned char *buf, int len,
    long long now)
{
	ns_msg msg;
	ns_rr rr;
	struct dns_query *q;
	char addr[INET6_ADDRSTRLEN], first[64] = "";
	unsigned id;
	int i, count, rcode;
	bool match = false, any = false;

	if (ns_initparse(buf, len, &msg) != 0)
		return;
	id = ns_msg_id(msg);
	if (id == 0 || id > d->n || d->q[id - 1].done)
		return;
	q = &d->q[id - 1];
	if (ns_msg_count(msg, ns_s_qd) != 1 ||
	    ns_parserr(&msg, ns_s_qd, 0, &rr) != 0 ||
	    strcasecmp(ns_rr_name(rr), q->name) != 0)
		return;
	q->res->latency_ms = (double)(now - q->first_sent);
	rcode = ns_msg_getflag(msg, ns_f_rcode);
	if (rcode != ns_r_noerror) {
		finish(d, q, false, rcode == ns_r_nxdomain ?
		    "no such name (NXDOMAIN)" : rcode == ns_r_refused ?
		    "the DNS server refused the query" : "the DNS server failed");
		return;
	}
	count = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < count; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) != 0)
			break;
		if (ns_rr_type(rr) == ns_t_a && ns_rr_rdlen(rr) == 4)
			inet_ntop(AF_INET, ns_rr_rdata(rr), addr, sizeof(addr));
		else if (ns_rr_type(rr) == ns_t_aaaa && ns_rr_rdlen(rr) == 16)
			inet_ntop(AF_INET6, ns_rr_rdata(rr), addr, sizeof(addr));
		else
			continue;
		if (!any)
			snprintf(first, sizeof(first), "%s", addr);
		any = true;
		if (q->expect[0] && strcmp(addr, q->expect) == 0)
			match = true;
	}
	snprintf(q->res->answer, sizeof(q->res->answer), "%s", first);
	if (!any)
		finish(d, q, false, "no address in the answer");
	else if (q->expect[0] && !match) {
		char why[128];
		snprintf(why, sizeof(why), "answered %s, expected %s", first,
		    q->expect);
		finish(d, q, false, why);
	} else
		finish(d, q, true, "");
}

void
probe_dns_pump(struct probe_dns *d, long long now)
{
	unsigned char buf[4096];
	size_t i;
	ssize_t r;

	for (i = 0; i < d->n && d->open > 0; i++) {
		struct dns_query *q = &d->q[i];
		bool due = q->sends == 0 ||
		    (q->sends == 1 && now - q->first_sent >= d->timeout_ms / 2);
		if (q->done || !due)
			continue;
		if (send(d->fd, q->msg, (size_t)q->msglen, 0) < 0) {
			if (errno == ECONNREFUSED) {
				refused(d);
				return;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;	/* try again on the next pump */
			char why[160];
			snprintf(why, sizeof(why), "sending the DNS query: %s",
			    strerror(errno));
			finish(d, q, false, why);
			continue;
		}
		if (q->sends++ == 0)
			q->first_sent = now;
		q->last_sent = now;
	}
	for (;;) {
		r = recv(d->fd, buf, sizeof(buf), 0);
		if (r < 0) {
			if (errno == ECONNREFUSED) {
				refused(d);
				return;
			}
			break;
		}
		take_answer(d, buf, (int)r, now);
	}
	for (i = 0; i < d->n; i++) {
		struct dns_query *q = &d->q[i];
		if (!q->done && q->sends > 0 && now - q->first_sent >= d->timeout_ms) {
			q->res->latency_ms = (double)(now - q->first_sent);
			finish(d, q, false, "no answer from the DNS server "
			    "within the timeout");
		}
	}
}

long
probe_dns_wait_ms(const struct probe_dns *d, long long now)
{
	long best = 1000, left;
	size_t i;

	for (i = 0; i < d->n; i++) {
		const struct dns_query *q = &d->q[i];
		if (q->done)
			continue;
		if (q->sends == 0)
			return 0;
		left = (long)(q->first_sent + (q->sends == 1 ? d->timeout_ms / 2 :
		    d->timeout_ms) - now);
		if (left < best)
			best = left < 0 ? 0 : left;
	}
	return best;
}

void
probe_dns_free(struct probe_dns *d)
{
	if (d == NULL)
		return;
	if (d->fd >= 0)
		close(d->fd);
	free(d->q);
	free(d);
}
