/*
 * engine.c - one probe run over every active service (see probe.h).
 *
 * Every HTTP and TCP check is a libcurl easy handle in one multi handle;
 * the engine keeps at most `concurrency` of them added at a time and
 * adds the next as one finishes, so each probe's timeout starts when it
 * really starts (libcurl's own connection cap would queue handles with
 * their clocks already running).  The DNS batch (dns.c) shares the
 * loop through curl_multi_poll()'s extra descriptors.
 *
 * Choices worth knowing:
 *   - a probe passes on any 2xx or 3xx answer (redirects not followed),
 *     the same rule as Caddy's active health checks;
 *   - the body is not read: the first body byte aborts the transfer and
 *     counts as success, so a streaming health endpoint cannot hold a
 *     slot until the timeout;
 *   - upstream HTTPS certificates are not verified (upstreams often use
 *     their own); the gateway's is, against conduit's CA only;
 *   - the gateway is reached at the listen address (loopback when that
 *     is a wildcard) with the public name pinned by CURLOPT_RESOLVE, so
 *     SNI and the Host header are the real ones and no resolver is used;
 *   - proxies from the environment are ignored (CURLOPT_NOPROXY "*").
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/asn1.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "conduit/caddy.h"
#include "conduit/fsutil.h"
#include "conduit/probe.h"
#include "dns.h"

struct job {
	struct conduit_probe *p;
	struct conduit_service_status *svc;
	CURL *easy;
	struct curl_slist *resolve;
	char errbuf[CURL_ERROR_SIZE];
	bool got_body;
};

static size_t
discard_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct job *j = ud;

	(void)ptr;
	(void)size;
	(void)nmemb;
	j->got_body = true;
	return 0;	/* stop: the status line and headers are all we need */
}

static bool
is_v6(const char *host)
{
	return strchr(host, ':') != NULL;
}

/* The gateway probe's connect address: the listen address, or loopback
 * for a wildcard listen. */
static void
gateway_connect_addr(const struct conduit_settings *s, char *out, size_t len)
{
	if (strcmp(s->listen, "0.0.0.0") == 0)
		snprintf(out, len, "127.0.0.1");
	else if (strcmp(s->listen, "::") == 0)
		snprintf(out, len, "::1");
	else
		snprintf(out, len, "%s", s->listen);
}

static void
fill_service(const struct conduit_settings *s, const struct conduit_service *svc,
    const struct conduit_probe_opts *o, struct conduit_service_status *st,
    const struct conduit_health_cfg *h)
{
	long port;
	bool tls;

	snprintf(st->name, sizeof(st->name), "%s", svc->name);
	snprintf(st->fqdn, sizeof(st->fqdn), "%s.%s", svc->name, s->domain);
	snprintf(st->registered_at, sizeof(st->registered_at), "%s",
	    svc->registered_at);
	st->dns_only = svc->dns_only;
	st->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : h->timeout_ms;
	st->passes = h->passes;
	st->fails = h->fails;
	conduit_health_parse(svc->health, &st->state.current);
	conduit_health_parse(svc->health_pending, &st->state.pending);
	st->state.streak = svc->health_streak;
	st->previous = st->state.current;
	snprintf(st->checked_at, sizeof(st->checked_at), "%s",
	    svc->health_checked_at);
	if (svc->dns_only)
		return;
	tls = svc->tls;
	port = tls ? s->https_port : s->http_port;
	if (port == 0)
		return;		/* plain HTTP route with the HTTP port off */
	st->has_gateway = true;
	st->gateway_tls = tls;
	if (port == (tls ? 443 : 80))
		snprintf(st->url, sizeof(st->url), "%s://%s/",
		    tls ? "https" : "http", st->fqdn);
	else
		snprintf(st->url, sizeof(st->url), "%s://%s:%ld/",
		    tls ? "https" : "http", st->fqdn, port);
	st->gateway.kind = PROBE_GATEWAY;
	snprintf(st->gateway.target, sizeof(st->gateway.target), "%s://%s:%ld%s",
	    tls ? "https" : "http", st->fqdn, port, h->path);
}

static int
fill_upstreams(const struct conduit_service *svc,
    struct conduit_service_status *st, const char *path)
{
	size_t i;

	st->upstreams = calloc(svc->n_upstreams ? svc->n_upstreams : 1,
	    sizeof(*st->upstreams));
	if (st->upstreams == NULL)
		return CONDUIT_ENOMEM;
	st->n_upstreams = svc->n_upstreams;
	for (i = 0; i < svc->n_upstreams; i++) {
		const struct conduit_upstream *u = &svc->upstreams[i];
		struct conduit_probe *p = &st->upstreams[i];
		const char *l = is_v6(u->host) ? "[" : "", *r = is_v6(u->host) ? "]" : "";
		if (svc->dns_only) {
			p->kind = PROBE_TCP;
			snprintf(p->target, sizeof(p->target), "%s%s%s:%ld", l,
			    u->host, r, u->port);
		} else {
			p->kind = PROBE_HTTP;
			snprintf(p->target, sizeof(p->target), "%s://%s%s%s:%ld%s",
			    svc->scheme[0] ? svc->scheme : "http", l, u->host, r,
			    u->port, path);
		}
	}
	return 0;
}

/*
 * The served certificate's expiry is read in OpenSSL's verify callback,
 * at depth 0 (the leaf), on the SSL_CTX curl creates for the connection:
 * cheaper than CURLOPT_CERTINFO (which formats every field of the whole
 * chain as text) and it also sees a certificate that fails verification,
 * so an expired one still shows its date.
 */
static int
leaf_verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct job *j = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
	X509 *x = X509_STORE_CTX_get_current_cert(xs);
	struct tm tm;

	if (j != NULL && x != NULL && X509_STORE_CTX_get_error_depth(xs) == 0) {
		memset(&tm, 0, sizeof(tm));
		if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
			j->svc->cert_not_after = (long long)timegm(&tm);
	}
	return ok;
}

static CURLcode
ssl_ctx_cb(CURL *e, void *sslctx, void *ud)
{
	SSL_CTX *ctx = sslctx;

	(void)e;
	SSL_CTX_set_app_data(ctx, ud);
	SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), leaf_verify_cb);
	return CURLE_OK;
}

static int
setup_easy(struct job *j, const struct conduit_probe_opts *o,
    const char *gw_addr, long gw_port, const char *ca_file)
{
	struct conduit_probe *p = j->p;
	CURL *e = curl_easy_init();
	char url[640], pin[640];
	const char *l = is_v6(gw_addr) ? "[" : "", *r = is_v6(gw_addr) ? "]" : "";

	if (e == NULL)
		return CONDUIT_ENOMEM;
	j->easy = e;
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, j->svc->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, j->svc->timeout_ms);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "conduit-status/" CONDUIT_VERSION);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	switch (p->kind) {
	case PROBE_TCP:
		snprintf(url, sizeof(url), "http://%s/", p->target);
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
		break;
	case PROBE_HTTP:
		curl_easy_setopt(e, CURLOPT_URL, p->target);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
		break;
	case PROBE_GATEWAY:
		snprintf(pin, sizeof(pin), "%s:%ld:%s%s%s", j->svc->fqdn, gw_port,
		    l, gw_addr, r);
		if ((j->resolve = curl_slist_append(NULL, pin)) == NULL)
			return CONDUIT_ENOMEM;
		curl_easy_setopt(e, CURLOPT_RESOLVE, j->resolve);
		curl_easy_setopt(e, CURLOPT_URL, p->target);
		curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
		curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
		curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, j);
		/* A resumed session verifies no certificate to report. */
		curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
		break;
	case PROBE_DNS:
		return CONDUIT_EINTERNAL;
	}
	(void)o;
	return 0;
}

static void
finish_job(struct job *j, CURLcode res)
{
	struct conduit_probe *p = j->p;
	curl_off_t us = 0;
	long code = 0;

	p->ran = true;
	curl_easy_getinfo(j->easy, p->kind == PROBE_TCP ?
	    CURLINFO_CONNECT_TIME_T : CURLINFO_TOTAL_TIME_T, &us);
	p->latency_ms = (double)us / 1000.0;
	if (res == CURLE_WRITE_ERROR && j->got_body)
		res = CURLE_OK;
	if (res != CURLE_OK) {
		snprintf(p->error, sizeof(p->error), "%s", j->errbuf[0] ?
		    j->errbuf : curl_easy_strerror(res));
		if (p->kind == PROBE_GATEWAY && j->svc->cert_not_after == 0 &&
		    !j->svc->cert_error[0])
			snprintf(j->svc->cert_error, sizeof(j->svc->cert_error),
			    "no certificate: %s", p->error);
		return;
	}
	if (p->kind == PROBE_TCP) {
		p->ok = true;
		return;
	}
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
	p->http_status = code;
	p->ok = code >= 200 && code < 400;
	if (!p->ok)
		snprintf(p->error, sizeof(p->error), "HTTP status %ld", code);
}

static void
job_free(struct job *j)
{
	if (j->easy)
		curl_easy_cleanup(j->easy);
	curl_slist_free_all(j->resolve);
	j->easy = NULL;
	j->resolve = NULL;
}

static const struct conduit_service *
pick_only(const struct conduit_registry *reg, const char *only)
{
	return conduit_registry_find_active(reg, only, true);
}

static bool
file_exists(const char *path)
{
	struct stat sb;

	return path != NULL && stat(path, &sb) == 0;
}

/* The address conduit's DNS should answer for st's name. */
static void
dns_expect(const struct conduit_settings *s, const struct conduit_service *svc,
    char *out, size_t len)
{
	struct in6_addr a;

	out[0] = '\0';
	if (!svc->dns_only) {
		if (conduit_settings_gateway_addr(s, out, len) != 0)
			out[0] = '\0';
		return;
	}
	if (svc->n_upstreams > 0 &&
	    (inet_pton(AF_INET, svc->upstreams[0].host, &a) == 1 ||
	    inet_pton(AF_INET6, svc->upstreams[0].host, &a) == 1))
		snprintf(out, len, "%s", svc->upstreams[0].host);
}

static int
run_loop(CURLM *m, struct job *jobs, size_t njobs, long conc,
    struct probe_dns *dns, long long deadline)
{
	struct curl_waitfd extra;
	size_t next = 0, done = 0;
	long running = 0;
	int still;

	while (done < njobs || (dns && !probe_dns_done(dns))) {
		long long now = probe_now_ms();
		CURLMsg *msg;
		int left;
		long wait;

		if (now >= deadline)
			return -1;
		while (running < conc && next < njobs) {
			if (curl_multi_add_handle(m, jobs[next].easy) != CURLM_OK)
				return CONDUIT_EINTERNAL;
			next++;
			running++;
		}
		curl_multi_perform(m, &still);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct job *j;
			char *pv = NULL;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &pv);
			j = (struct job *)(void *)pv;
			finish_job(j, msg->data.result);
			curl_multi_remove_handle(m, j->easy);
			job_free(j);
			running--;
			done++;
		}
		if (dns)
			probe_dns_pump(dns, probe_now_ms());
		if (done == njobs && (dns == NULL || probe_dns_done(dns)))
			break;
		if (running < conc && next < njobs)
			continue;	/* a slot is free: fill it before waiting */
		wait = dns && !probe_dns_done(dns) ?
		    probe_dns_wait_ms(dns, probe_now_ms()) : 1000;
		extra.fd = dns ? probe_dns_fd(dns) : -1;
		extra.events = CURL_WAIT_POLLIN;
		extra.revents = 0;
		curl_multi_poll(m, dns && !probe_dns_done(dns) ? &extra : NULL,
		    dns && !probe_dns_done(dns) ? 1 : 0, (int)wait, NULL);
	}
	return 0;
}

int
conduit_probe_run(const struct conduit_settings *s,
    const struct conduit_registry *reg, const struct conduit_probe_opts *o,
    struct conduit_status_report *out, struct conduit_err *err)
{
	const struct conduit_service *only = NULL;
	struct conduit_service_status *st;
	struct probe_dns *dns = NULL;
	struct conduit_err derr = { 0, "" };
	struct job *jobs = NULL;
	size_t i, k, njobs = 0, nsvc = 0;
	long conc, max_timeout = 0;
	long long t0 = probe_now_ms();
	bool have_ca = file_exists(o->ca_file), curl_up = false;
	struct conduit_health_cfg h;
	char expect[64];
	CURLM *m = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	conduit_timestamp(out->checked_at, 0);
	gateway_connect_addr(s, out->gateway_addr, sizeof(out->gateway_addr));
	if (o->only != NULL && (only = pick_only(reg, o->only)) == NULL)
		return conduit_err_set(err, CONDUIT_ENOTFOUND,
		    "no active service named \"%.64s\" (see `conduit list`)", o->only);
	out->svcs = calloc(reg->n ? reg->n : 1, sizeof(*out->svcs));
	if (out->svcs == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	for (i = 0; i < reg->n; i++) {
		const struct conduit_service *svc = &reg->services[i];
		if (svc->status != SVC_ACTIVE || (only && svc != only))
			continue;
		st = &out->svcs[nsvc++];
		out->n = nsvc;
		conduit_caddy_health_for(s, svc, &h);
		fill_service(s, svc, o, st, &h);
		if (fill_upstreams(svc, st, h.path) != 0)
			goto nomem;
		njobs += st->n_upstreams + (st->has_gateway ? 1 : 0);
		if (st->timeout_ms > max_timeout)
			max_timeout = st->timeout_ms;
	}

	if (s->dns_enabled && nsvc > 0) {
		gateway_connect_addr(s, out->dns_server, sizeof(out->dns_server));
		out->dns_port = s->dns_port;
		if (probe_dns_open(&dns, out->dns_server, s->dns_port,
		    o->timeout_ms > 0 ? o->timeout_ms : s->health.timeout_ms,
		    &derr) != 0)
			dns = NULL;
	}

	if ((jobs = calloc(njobs ? njobs : 1, sizeof(*jobs))) == NULL)
		goto nomem;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rc = conduit_err_set(err, CONDUIT_EINTERNAL,
		    "libcurl could not be initialised");
		goto out;
	}
	curl_up = true;
	if ((m = curl_multi_init()) == NULL) {
		rc = conduit_err_set(err, CONDUIT_EINTERNAL,
		    "libcurl could not start a probe run");
		goto out;
	}
	for (i = 0, k = 0; i < reg->n; i++) {
		const struct conduit_service *svc = &reg->services[i];
		if (svc->status != SVC_ACTIVE || (only && svc != only))
			continue;
		st = &out->svcs[k++];
		if (s->dns_enabled) {
			st->has_dns = true;
			dns_expect(s, svc, expect, sizeof(expect));
			if (dns == NULL) {
				st->dns.kind = PROBE_DNS;
				snprintf(st->dns.target, sizeof(st->dns.target), "%s",
				    st->fqdn);
				snprintf(st->dns.error, sizeof(st->dns.error), "%s",
				    derr.msg);
			} else if (probe_dns_add(dns, st->fqdn, expect, &st->dns) != 0)
				goto nomem;
		}
	}
	/* The job array: upstreams first, then gateway routes, so a hanging
	 * gateway never delays the direct checks. */
	njobs = 0;
	for (i = 0; i < out->n; i++)
		for (k = 0; k < out->svcs[i].n_upstreams; k++) {
			jobs[njobs].svc = &out->svcs[i];
			jobs[njobs++].p = &out->svcs[i].upstreams[k];
		}
	for (i = 0; i < out->n; i++) {
		st = &out->svcs[i];
		if (!st->has_gateway)
			continue;
		if (st->gateway_tls && !have_ca) {
			st->gateway.ran = false;
			snprintf(st->gateway.error, sizeof(st->gateway.error),
			    "conduit's CA (%s) does not exist yet: run `conduit up`",
			    o->ca_file ? o->ca_file : "pki/root.crt");
			snprintf(st->cert_error, sizeof(st->cert_error), "%s",
			    st->gateway.error);
			continue;
		}
		jobs[njobs].svc = st;
		jobs[njobs++].p = &st->gateway;
	}
	for (i = 0; i < njobs; i++) {
		long port = jobs[i].svc->gateway_tls ? s->https_port :
		    s->http_port;
		if ((rc = setup_easy(&jobs[i], o, out->gateway_addr, port,
		    o->ca_file)) != 0) {
			if (rc == CONDUIT_ENOMEM)
				goto nomem;
			rc = conduit_err_set(err, rc, "cannot set up a probe");
			goto out;
		}
	}

	conc = o->concurrency > 0 ? o->concurrency : s->probe_concurrency;
	if (conc < 1)
		conc = 1;
	rc = run_loop(m, jobs, njobs, conc, dns,
	    t0 + ((long long)njobs / conc + 2) * (max_timeout + 1000));
	if (rc == -1) {
		/* Only reachable when libcurl missed its own timeouts. */
		for (i = 0; i < njobs; i++)
			if (jobs[i].easy != NULL && !jobs[i].p->ran) {
				jobs[i].p->ran = true;
				snprintf(jobs[i].p->error, sizeof(jobs[i].p->error),
				    "the probe run's deadline passed");
			}
		if (dns)
			probe_dns_abort(dns, "the probe run's deadline passed");
		rc = 0;
	} else if (rc != 0) {
		rc = conduit_err_set(err, rc, "libcurl refused a probe");
		goto out;
	}
	for (i = 0; i < out->n; i++) {
		st = &out->svcs[i];
		for (k = 0; k < st->n_upstreams; k++)
			if (st->upstreams[k].ok)
				st->upstreams_up++;
		st->observed = conduit_probe_verdict(st);
	}
	out->elapsed_ms = (double)(probe_now_ms() - t0);
	goto out;
nomem:
	rc = conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
out:
	for (i = 0; jobs != NULL && i < njobs; i++) {
		if (jobs[i].easy != NULL && m != NULL)
			curl_multi_remove_handle(m, jobs[i].easy);
		job_free(&jobs[i]);
	}
	free(jobs);
	if (m != NULL)
		curl_multi_cleanup(m);
	probe_dns_free(dns);
	if (curl_up)
		curl_global_cleanup();
	if (rc != 0)
		conduit_status_report_free(out);
	return rc;
}

void
conduit_status_report_free(struct conduit_status_report *r)
{
	size_t i;

	for (i = 0; r->svcs != NULL && i < r->n; i++)
		free(r->svcs[i].upstreams);
	free(r->svcs);
	r->svcs = NULL;
	r->n = 0;
}
