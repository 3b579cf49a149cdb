/*
 * monitor_text.c - the human report: one block per server.
 *
 * Pure: the monitor document in, text out.  Values the document has as
 * null print as "-" so a column never shifts; colour (when asked for)
 * only marks what needs attention: alerts and sources in error.  The
 * text is written to an open_memstream FILE.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "conduit/monitor.h"

static const char *
bytes(double v, char *out, size_t len)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB",
	    "PiB" };
	int i = 0;

	if (isnan(v)) {
		snprintf(out, len, "-");
		return out;
	}
	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(out, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
	return out;
}

/* v with prec decimals and a unit suffix, or "-" for null. */
static const char *
numf(double v, const char *spec, char *out, size_t len)
{
	int prec = spec[0] - '0';

	if (isnan(v))
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.*f%s", prec, v, spec + 1);
	return out;
}

static void
uptime(FILE *b, double s)
{
	long d, h, m;

	if (isnan(s)) {
		fprintf(b, "up -");
		return;
	}
	d = (long)(s / 86400);
	h = (long)(s / 3600) % 24;
	m = (long)(s / 60) % 60;
	if (d > 0)
		fprintf(b, "up %ldd %ldh", d, h);
	else
		fprintf(b, "up %ldh %ldm", h, m);
}

static void
host_block(FILE *b, const cJSON *h)
{
	const cJSON *mem = cJSON_GetObjectItemCaseSensitive(h, "memory");
	const cJSON *swap = cJSON_GetObjectItemCaseSensitive(h, "swap");
	const cJSON *fs;
	char a[32], c[32], d[32], e[32], f[32];

	fprintf(b, "  Host        %s, kernel %s, ",
	    conduit_mon_str(h, "hostname") ? conduit_mon_str(h, "hostname") :
	    "-", conduit_mon_str(h, "kernel") ? conduit_mon_str(h, "kernel") :
	    "-");
	uptime(b, conduit_mon_num(h, "uptime_seconds"));
	fprintf(b, "\n  CPU         %s CPUs, load %s %s %s, %s busy\n",
	    numf(conduit_mon_num(h, "cpus"), "0", a, sizeof a),
	    numf(conduit_mon_num(h, "load_1m"), "2", c, sizeof c),
	    numf(conduit_mon_num(h, "load_5m"), "2", d, sizeof d),
	    numf(conduit_mon_num(h, "load_15m"), "2", e, sizeof e),
	    numf(conduit_mon_num(h, "cpu_percent"), "0%", f, sizeof f));
	fprintf(b, "  Memory      %s / %s", bytes(conduit_mon_num(mem,
	    "used_bytes"), a, sizeof a), bytes(conduit_mon_num(mem,
	    "total_bytes"), c, sizeof c));
	fprintf(b, " (%s)", numf(conduit_mon_num(mem, "used_percent"), "0%",
	    a, sizeof a));
	fprintf(b, ", swap %s / %s\n", bytes(conduit_mon_num(swap, "used_bytes"),
	    a, sizeof a), bytes(conduit_mon_num(swap, "total_bytes"), c,
	    sizeof c));
	cJSON_ArrayForEach(fs, cJSON_GetObjectItemCaseSensitive(h,
	    "filesystems")) {
		fprintf(b, "  Disk        %-16s %s / %s (%s)",
		    conduit_mon_str(fs, "mountpoint") ?
		    conduit_mon_str(fs, "mountpoint") : "-",
		    bytes(conduit_mon_num(fs, "used_bytes"), a, sizeof a),
		    bytes(conduit_mon_num(fs, "total_bytes"), c, sizeof c),
		    numf(conduit_mon_num(fs, "used_percent"), "0%", d,
		    sizeof d));
		fprintf(b, ", inodes %s\n", numf(conduit_mon_num(fs,
		    "inodes_used_percent"), "0%", e, sizeof e));
	}
}

/* "not present", "error: ..." lines; returns true when the source has
 * data to show. */
static bool
source_line(FILE *b, const char *label, const cJSON *src,
    const char *red, const char *reset)
{
	const char *st = conduit_mon_str(src, "status");
	const char *err = conduit_mon_str(src, "error");

	if (!cJSON_IsObject(src))
		return false;
	if (st != NULL && strcmp(st, MON_ABSENT) == 0) {
		fprintf(b, "  %-11s not present\n", label);
		return false;
	}
	if (st == NULL || strcmp(st, MON_OK) != 0) {
		fprintf(b, "  %-11s %s%s: %s%s\n", label, red, st ? st : "error",
		    err ? err : "unknown", reset);
		return false;
	}
	return true;
}

static void
gpu_block(FILE *b, const cJSON *g, const char *red, const char *reset)
{
	const cJSON *d, *p;
	char a[32], c[32], e[32], f[32], t[32];

	if (!source_line(b, "GPUs", g, red, reset))
		return;
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g,
	    "devices")) == 0)
		fprintf(b, "  GPUs        none\n");
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(g, "devices")) {
		const cJSON *r;
		bool thr = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d,
		    "throttling"));

		fprintf(b, "  GPU %-7s %s", numf(conduit_mon_num(d, "index"),
		    "0", a, sizeof a), conduit_mon_str(d, "name") ?
		    conduit_mon_str(d, "name") : "-");
		fprintf(b, "  %s  util %s", numf(conduit_mon_num(d,
		    "temperature_celsius"), "0C", t, sizeof t),
		    numf(conduit_mon_num(d, "utilization_percent"), "0%",
		    c, sizeof c));
		fprintf(b, "  mem %s / %s (%s)", bytes(conduit_mon_num(d,
		    "memory_used_bytes"), e, sizeof e),
		    bytes(conduit_mon_num(d, "memory_total_bytes"), f,
		    sizeof f), numf(conduit_mon_num(d, "memory_used_percent"),
		    "0%", a, sizeof a));
		fprintf(b, "  %s / %s  %s", numf(conduit_mon_num(d,
		    "power_draw_watts"), "0 W", c, sizeof c),
		    numf(conduit_mon_num(d, "power_limit_watts"), "0 W", t,
		    sizeof t), conduit_mon_str(d, "pstate") ?
		    conduit_mon_str(d, "pstate") : "-");
		fprintf(b, "  fan %s", numf(conduit_mon_num(d, "fan_percent"),
		    "0%", a, sizeof a));
		if (thr) {
			fprintf(b, "  %sthrottled:", red);
			cJSON_ArrayForEach(r,
			    cJSON_GetObjectItemCaseSensitive(d,
			    "throttle_reasons"))
				if (cJSON_IsString(r))
					fprintf(b, " %s", r->valuestring);
			fprintf(b, "%s", reset);
		}
		fprintf(b, "\n");
	}
	if (conduit_mon_str(g, "error") != NULL)
		fprintf(b, "    %sprocesses: %s%s\n", red, conduit_mon_str(g,
		    "error"), reset);
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(g,
	    "processes")) {
		fprintf(b, "    pid %s on GPU %s  %s  %s\n",
		    numf(conduit_mon_num(p, "pid"), "0", a, sizeof a),
		    numf(conduit_mon_num(p, "gpu_index"), "0", c,
		    sizeof c),
		    bytes(conduit_mon_num(p, "used_memory_bytes"), e,
		    sizeof e),
		    conduit_mon_str(p, "name") ? conduit_mon_str(p, "name") :
		    "-");
	}
}

static void
container_block(FILE *b, const cJSON *cs, const char *red,
    const char *reset)
{
	const cJSON *c, *list = cJSON_GetObjectItemCaseSensitive(cs, "items");
	int n = 0, running = 0;
	char a[32], d[32], e[32];

	if (!source_line(b, "Containers", cs, red, reset))
		return;
	cJSON_ArrayForEach(c, list) {
		const char *st = conduit_mon_str(c, "state");

		n++;
		if (st != NULL && strcmp(st, "running") == 0)
			running++;
	}
	fprintf(b, "  Containers  %d (%d running)\n", n, running);
	cJSON_ArrayForEach(c, list) {
		const char *h = conduit_mon_str(c, "health");
		bool bad = h != NULL && strcmp(h, "unhealthy") == 0;
		double inc = conduit_mon_num(c, "restarts_new");

		fprintf(b, "    %-24s %-10s %s%-9s%s restarts %s",
		    conduit_mon_str(c, "name") ? conduit_mon_str(c, "name") :
		    "-", conduit_mon_str(c, "state") ?
		    conduit_mon_str(c, "state") : "-", bad ? red : "",
		    h ? h : "-", bad ? reset : "",
		    numf(conduit_mon_num(c, "restart_count"), "0", a,
		    sizeof a));
		if (!isnan(inc) && inc > 0)
			fprintf(b, " %s(+%.0f)%s", red, inc, reset);
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c,
		    "oom_killed")))
			fprintf(b, " %sOOM-killed%s", red, reset);
		fprintf(b, "  cpu %s  mem %s / %s\n",
		    numf(conduit_mon_num(c, "cpu_percent"), "1%", a,
		    sizeof a),
		    bytes(conduit_mon_num(c, "memory_used_bytes"), d,
		    sizeof d),
		    bytes(conduit_mon_num(c, "memory_limit_bytes"), e,
		    sizeof e));
	}
}

char *
conduit_render_monitor_text(const cJSON *doc, bool color)
{
	const char *red = color ? "\033[31m" : "";
	const char *bold = color ? "\033[1m" : "";
	const char *reset = color ? "\033[0m" : "";
	char *text = NULL;
	size_t len = 0;
	FILE *b = open_memstream(&text, &len);
	const cJSON *s, *a;
	int nalerts = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc,
	    "alerts"));

	if (b == NULL)
		return NULL;
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(doc,
	    "servers")) {
		const char *name = conduit_mon_str(s, "server");
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(s, "host");
		const char *hn = conduit_mon_str(h, "hostname");

		if (ftell(b) > 0)
			fprintf(b, "\n");
		fprintf(b, "%s%s%s%s%s%s", bold, name ? name : "-", hn ? " (" :
		    "", hn ? hn : "", hn ? ")" : "", reset);
		if (conduit_mon_str(s, "via") != NULL &&
		    strcmp(conduit_mon_str(s, "via"), "fallback") == 0)
			fprintf(b, " [fallback: conduit not installed there]");
		fprintf(b, "\n");
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s,
		    "reachable"))) {
			fprintf(b, "  %sunreachable: %s%s\n", red,
			    conduit_mon_str(s, "error") ?
			    conduit_mon_str(s, "error") : "no answer", reset);
			continue;
		}
		if (cJSON_IsObject(h))
			host_block(b, h);
		gpu_block(b, cJSON_GetObjectItemCaseSensitive(s, "gpus"), red,
		    reset);
		container_block(b, cJSON_GetObjectItemCaseSensitive(s,
		    "containers"), red, reset);
	}
	fprintf(b, "\n%sAlerts%s      %d\n", bold, reset, nalerts);
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(doc, "alerts"))
		fprintf(b, "  %s!%s %s\n", red, reset,
		    conduit_mon_str(a, "message") ?
		    conduit_mon_str(a, "message") : "-");
	if (ferror(b)) {
		fclose(b);
		free(text);
		return NULL;
	}
	if (fclose(b) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
