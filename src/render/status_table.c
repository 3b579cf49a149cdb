/*
 * status_table.c - the `conduit status` table (pure).
 *
 * Columns are sized to their widest cell before any colour is added, so
 * escape codes never upset the alignment; with colour off the output is
 * plain ASCII that scripts can cut.  Under the table, every failed probe
 * is listed with its error, because "down" alone does not tell an
 * operator where to look.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conduit/probe.h"

enum { C_NAME, C_URL, C_UPS, C_HEALTH, C_LAT, C_CERT, C_DNS, NCOL };

static const char *const headers[NCOL] = {
	"NAME", "URL", "UPSTREAMS", "HEALTH", "LATENCY", "CERT", "DNS"
};

#define CELL 128

static const char *
health_color(enum conduit_health h)
{
	switch (h) {
	case HEALTH_HEALTHY:
		return "\033[32m";
	case HEALTH_DEGRADED:
		return "\033[33m";
	case HEALTH_DOWN:
		return "\033[31m";
	case HEALTH_UNKNOWN:
		break;
	}
	return "\033[2m";
}

static const char *
health_symbol(enum conduit_health h)
{
	switch (h) {
	case HEALTH_HEALTHY:
		return "\xe2\x9c\x94 ";		/* check mark */
	case HEALTH_DEGRADED:
		return "\xe2\x96\xb2 ";		/* triangle */
	case HEALTH_DOWN:
		return "\xe2\x9c\x98 ";		/* cross */
	case HEALTH_UNKNOWN:
		break;
	}
	return "? ";
}

/* The latency shown for a service: through the gateway when that
 * worked, else the fastest upstream that answered; < 0 when none. */
static double
shown_latency(const struct conduit_service_status *st)
{
	double best = -1;
	size_t i;

	if (st->has_gateway && st->gateway.ok)
		return st->gateway.latency_ms;
	for (i = 0; i < st->n_upstreams; i++)
		if (st->upstreams[i].ok &&
		    (best < 0 || st->upstreams[i].latency_ms < best))
			best = st->upstreams[i].latency_ms;
	return best;
}

static void
fmt_latency(char *out, double ms)
{
	if (ms < 0)
		snprintf(out, CELL, "-");
	else if (ms < 10)
		snprintf(out, CELL, "%.1f ms", ms);
	else
		snprintf(out, CELL, "%.0f ms", ms);
}

static void
fmt_cert(char *out, const struct conduit_service_status *st, long long now)
{
	struct tm tm;
	time_t t = (time_t)st->cert_not_after;
	long long days;
	char date[16];

	if (!st->gateway_tls) {
		snprintf(out, CELL, "-");
		return;
	}
	if (st->cert_not_after == 0) {
		snprintf(out, CELL, "?");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	days = (st->cert_not_after - now) / 86400;
	/* Short-lived leaves (Caddy's internal issuer: a day) read better
	 * in hours. */
	if (st->cert_not_after <= now)
		snprintf(out, CELL, "%s (expired)", date);
	else if (days < 2)
		snprintf(out, CELL, "%s (%lldh)", date,
		    (st->cert_not_after - now) / 3600);
	else
		snprintf(out, CELL, "%s (%lldd)", date, days);
}

static void
fill_row(char cells[NCOL][CELL], const struct conduit_service_status *st,
    long long now)
{
	snprintf(cells[C_NAME], CELL, "%s", st->name);
	snprintf(cells[C_URL], CELL, "%s", st->dns_only ? st->fqdn :
	    st->url[0] ? st->url : "-");
	snprintf(cells[C_UPS], CELL, "%zu/%zu", st->upstreams_up, st->n_upstreams);
	if (st->state.pending != HEALTH_UNKNOWN)
		snprintf(cells[C_HEALTH], CELL, "%s (%s? %ld/%ld)",
		    conduit_health_name(st->state.current),
		    conduit_health_name(st->state.pending), st->state.streak,
		    st->state.pending > st->state.current ? st->passes : st->fails);
	else
		snprintf(cells[C_HEALTH], CELL, "%s",
		    conduit_health_name(st->state.current));
	fmt_latency(cells[C_LAT], shown_latency(st));
	fmt_cert(cells[C_CERT], st, now);
	snprintf(cells[C_DNS], CELL, "%s", !st->has_dns ? "-" :
	    st->dns.ok ? "ok" : "fail");
}

static void
print_problem(FILE *fp, const char *name, const char *what,
    const struct conduit_probe *p)
{
	if (p->ok)
		return;
	fprintf(fp, "  %s: %s %s: %s\n", name, what, p->target,
	    p->error[0] ? p->error : "failed");
}

char *
conduit_status_render_table(const struct conduit_status_report *r, bool color,
    long long now)
{
	char (*cells)[NCOL][CELL];
	size_t w[NCOL], i, c, count[4] = { 0, 0, 0, 0 }, problems = 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	if ((cells = calloc(r->n ? r->n : 1, sizeof(*cells))) == NULL)
		return NULL;
	if ((fp = open_memstream(&buf, &len)) == NULL) {
		free(cells);
		return NULL;
	}
	for (c = 0; c < NCOL; c++)
		w[c] = strlen(headers[c]);
	for (i = 0; i < r->n; i++) {
		fill_row(cells[i], &r->svcs[i], now);
		for (c = 0; c < NCOL; c++)
			if (strlen(cells[i][c]) > w[c])
				w[c] = strlen(cells[i][c]);
		count[r->svcs[i].state.current]++;
	}
	/* The HEALTH column gets two more for the symbol on a TTY. */
	if (color)
		w[C_HEALTH] += 2;

	fputs(color ? "\033[1m" : "", fp);
	for (c = 0; c < NCOL; c++)
		fprintf(fp, "%-*s%s", c + 1 < NCOL ? (int)w[c] : 0, headers[c],
		    c + 1 < NCOL ? "  " : "");
	fputs(color ? "\033[0m\n" : "\n", fp);
	for (i = 0; i < r->n; i++) {
		const struct conduit_service_status *st = &r->svcs[i];
		for (c = 0; c < NCOL; c++) {
			const char *on = "", *sym = "";
			int pad = (int)w[c];
			if (color && c == C_HEALTH) {
				on = health_color(st->state.current);
				sym = health_symbol(st->state.current);
				pad -= 2;
			} else if (color && c == C_DNS && st->has_dns)
				on = st->dns.ok ? "\033[32m" : "\033[31m";
			else if (color && c == C_CERT && st->cert_not_after != 0 &&
			    st->cert_not_after - now < 14 * 86400)
				on = "\033[33m";
			fprintf(fp, "%s%s", on, sym);
			if (c + 1 < NCOL)
				fprintf(fp, "%-*s%s  ", pad, cells[i][c],
				    on[0] ? "\033[0m" : "");
			else
				fprintf(fp, "%s%s", cells[i][c], on[0] ? "\033[0m" : "");
		}
		fputc('\n', fp);
	}
	fprintf(fp, "\n%zu service%s: %zu healthy, %zu degraded, %zu down, "
	    "%zu unknown (checked %s in %.0f ms)\n", r->n, r->n == 1 ? "" : "s",
	    count[HEALTH_HEALTHY], count[HEALTH_DEGRADED], count[HEALTH_DOWN],
	    count[HEALTH_UNKNOWN], r->checked_at, r->elapsed_ms);

	for (i = 0; i < r->n; i++) {
		const struct conduit_service_status *st = &r->svcs[i];
		size_t k;
		bool any = !(st->has_gateway ? st->gateway.ok : true) ||
		    (st->has_dns && !st->dns.ok) ||
		    st->upstreams_up < st->n_upstreams;
		if (!any)
			continue;
		if (problems++ == 0)
			fprintf(fp, "\nproblems:\n");
		for (k = 0; k < st->n_upstreams; k++)
			print_problem(fp, st->name, "upstream", &st->upstreams[k]);
		if (st->has_gateway)
			print_problem(fp, st->name, "gateway", &st->gateway);
		if (st->has_dns)
			print_problem(fp, st->name, "dns", &st->dns);
	}
	free(cells);
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
