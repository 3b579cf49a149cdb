/*
 * monitor_prom.c - the monitor document as Prometheus text exposition
 * (format 0.0.4), for node_exporter's textfile collector.
 *
 * The format wants every sample of a family together under one HELP and
 * TYPE, while the document is grouped by server.  So the families are a
 * table, and each family walks every server and subject (filesystem,
 * GPU, process, container) in turn.  Base units throughout (bytes,
 * seconds, celsius, watts, ratios 0-1); a null value is simply not
 * exported, never written as 0 or NaN.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "conduit/monitor.h"

enum scope { S_SERVER, S_HOST, S_FS, S_GPU, S_PROC, S_CONT, S_ALERT };

enum kind {
	K_NUM,		/* object[key] (in sub when given) * scale */
	K_BOOL,		/* true -> 1, false -> 0 */
	K_EQ,		/* string at key equals arg -> 1, else 0 */
	K_REACHABLE,	/* server reachable */
	K_SOURCE,	/* per source: ok 1, error 0, absent none */
	K_REASONS,	/* one sample per throttle reason */
	K_CPU_SHARE,	/* docker cpu_percent / (online_cpus * 100) */
	K_ONE,		/* always 1 (alerts) */
};

struct family {
	const char *name, *type, *help;
	enum scope scope;
	enum kind kind;
	const char *sub, *key, *arg;
	double scale;
};

static const struct family families[] = {
	{ "conduit_server_up", "gauge", "Whether the server answered (1) or "
	    "not (0).", S_SERVER, K_REACHABLE, NULL, NULL, NULL, 1 },
	{ "conduit_source_up", "gauge", "Whether a source (gpus, containers) "
	    "answered; absent sources are not exported.", S_SERVER, K_SOURCE,
	    NULL, NULL, NULL, 1 },
	{ "conduit_host_uptime_seconds", "gauge", "Time since boot.", S_HOST,
	    K_NUM, NULL, "uptime_seconds", NULL, 1 },
	{ "conduit_host_cpus", "gauge", "Online CPUs.", S_HOST, K_NUM, NULL,
	    "cpus", NULL, 1 },
	{ "conduit_host_load1", "gauge", "1-minute load average.", S_HOST,
	    K_NUM, NULL, "load_1m", NULL, 1 },
	{ "conduit_host_load5", "gauge", "5-minute load average.", S_HOST,
	    K_NUM, NULL, "load_5m", NULL, 1 },
	{ "conduit_host_load15", "gauge", "15-minute load average.", S_HOST,
	    K_NUM, NULL, "load_15m", NULL, 1 },
	{ "conduit_host_cpu_utilisation_ratio", "gauge", "Busy CPU time over "
	    "the sample window, all CPUs (0-1).", S_HOST, K_NUM, NULL,
	    "cpu_percent", NULL, 0.01 },
	{ "conduit_host_memory_total_bytes", "gauge", "MemTotal.", S_HOST,
	    K_NUM, "memory", "total_bytes", NULL, 1 },
	{ "conduit_host_memory_available_bytes", "gauge", "MemAvailable.",
	    S_HOST, K_NUM, "memory", "available_bytes", NULL, 1 },
	{ "conduit_host_swap_total_bytes", "gauge", "SwapTotal.", S_HOST,
	    K_NUM, "swap", "total_bytes", NULL, 1 },
	{ "conduit_host_swap_used_bytes", "gauge", "SwapTotal - SwapFree.",
	    S_HOST, K_NUM, "swap", "used_bytes", NULL, 1 },
	{ "conduit_filesystem_size_bytes", "gauge", "Filesystem size.", S_FS,
	    K_NUM, NULL, "total_bytes", NULL, 1 },
	{ "conduit_filesystem_used_bytes", "gauge", "Filesystem space in use.",
	    S_FS, K_NUM, NULL, "used_bytes", NULL, 1 },
	{ "conduit_filesystem_avail_bytes", "gauge", "Filesystem space "
	    "available to non-root users.", S_FS, K_NUM, NULL,
	    "available_bytes", NULL, 1 },
	{ "conduit_filesystem_inodes", "gauge", "Inodes in the filesystem.",
	    S_FS, K_NUM, NULL, "inodes_total", NULL, 1 },
	{ "conduit_filesystem_inodes_used", "gauge", "Inodes in use.", S_FS,
	    K_NUM, NULL, "inodes_used", NULL, 1 },
	{ "conduit_gpu_temperature_celsius", "gauge", "GPU core temperature.",
	    S_GPU, K_NUM, NULL, "temperature_celsius", NULL, 1 },
	{ "conduit_gpu_utilisation_ratio", "gauge", "GPU busy time (0-1).",
	    S_GPU, K_NUM, NULL, "utilization_percent", NULL, 0.01 },
	{ "conduit_gpu_memory_utilisation_ratio", "gauge", "GPU memory "
	    "controller busy time (0-1).", S_GPU, K_NUM, NULL,
	    "memory_utilization_percent", NULL, 0.01 },
	{ "conduit_gpu_memory_used_bytes", "gauge", "GPU memory in use.",
	    S_GPU, K_NUM, NULL, "memory_used_bytes", NULL, 1 },
	{ "conduit_gpu_memory_total_bytes", "gauge", "GPU memory.", S_GPU,
	    K_NUM, NULL, "memory_total_bytes", NULL, 1 },
	{ "conduit_gpu_power_draw_watts", "gauge", "GPU power draw.", S_GPU,
	    K_NUM, NULL, "power_draw_watts", NULL, 1 },
	{ "conduit_gpu_power_limit_watts", "gauge", "GPU power limit.", S_GPU,
	    K_NUM, NULL, "power_limit_watts", NULL, 1 },
	{ "conduit_gpu_fan_ratio", "gauge", "GPU fan speed (0-1).", S_GPU,
	    K_NUM, NULL, "fan_percent", NULL, 0.01 },
	{ "conduit_gpu_ecc_uncorrected_errors", "gauge", "Uncorrected ECC "
	    "errors since the driver loaded.", S_GPU, K_NUM, NULL,
	    "ecc_uncorrected_errors", NULL, 1 },
	{ "conduit_gpu_throttling", "gauge", "Whether thermal or power "
	    "throttling is active.", S_GPU, K_BOOL, NULL, "throttling", NULL,
	    1 },
	{ "conduit_gpu_throttle_reason", "gauge", "Active clock-event "
	    "(throttle) reasons, one series per active reason.", S_GPU,
	    K_REASONS, NULL, "throttle_reasons", NULL, 1 },
	{ "conduit_gpu_process_memory_bytes", "gauge", "GPU memory used by a "
	    "compute process.", S_PROC, K_NUM, NULL, "used_memory_bytes",
	    NULL, 1 },
	{ "conduit_container_running", "gauge", "Whether the container is "
	    "running.", S_CONT, K_EQ, NULL, "state", "running", 1 },
	{ "conduit_container_unhealthy", "gauge", "Whether the container's "
	    "health check fails (containers with a health check only).",
	    S_CONT, K_EQ, NULL, "health", "unhealthy", 1 },
	{ "conduit_container_restarts_total", "counter", "Docker's restart "
	    "count for the container.", S_CONT, K_NUM, NULL, "restart_count",
	    NULL, 1 },
	{ "conduit_container_oom_killed", "gauge", "Whether the container's "
	    "last exit was an OOM kill.", S_CONT, K_BOOL, NULL, "oom_killed",
	    NULL, 1 },
	{ "conduit_container_cpu_ratio", "gauge", "Share of the host's CPU "
	    "time the container used over one stats interval (0-1).", S_CONT,
	    K_CPU_SHARE, NULL, "cpu_percent", NULL, 1 },
	{ "conduit_container_memory_used_bytes", "gauge", "Container memory "
	    "in use (docker stats formula).", S_CONT, K_NUM, NULL,
	    "memory_used_bytes", NULL, 1 },
	{ "conduit_container_memory_limit_bytes", "gauge", "Container memory "
	    "limit.", S_CONT, K_NUM, NULL, "memory_limit_bytes", NULL, 1 },
	{ "conduit_alert_active", "gauge", "One series per active alert.",
	    S_ALERT, K_ONE, NULL, NULL, NULL, 1 },
};

/* name="value" with the exposition format's escapes. */
static void
label(FILE *o, const char *name, const char *v, bool first)
{
	fprintf(o, "%s%s=\"", first ? "" : ",", name);
	for (const char *p = v ? v : ""; *p != '\0'; p++) {
		if (*p == '\\')
			fputs("\\\\", o);
		else if (*p == '"')
			fprintf(o, "\\\"");
		else if (*p == '\n')
			fprintf(o, "\\n");
		else
			fputc(*p, o);
	}
	fprintf(o, "\"");
}

static const char *
numstr(double v, char *buf, size_t len)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.0f", v);
	return buf;
}

/* The labels of one subject, without braces. */
static void
labels(FILE *o, enum scope sc, const char *server, const cJSON *x)
{
	char n[32];

	label(o, "server", server, true);
	switch (sc) {
	case S_FS:
		label(o, "mountpoint", conduit_mon_str(x, "mountpoint"), false);
		label(o, "device", conduit_mon_str(x, "device"), false);
		label(o, "fstype", conduit_mon_str(x, "fstype"), false);
		break;
	case S_GPU:
		label(o, "gpu", numstr(conduit_mon_num(x, "index"), n,
		    sizeof n), false);
		label(o, "uuid", conduit_mon_str(x, "uuid"), false);
		label(o, "name", conduit_mon_str(x, "name"), false);
		break;
	case S_PROC:
		label(o, "gpu", numstr(conduit_mon_num(x, "gpu_index"), n,
		    sizeof n), false);
		label(o, "uuid", conduit_mon_str(x, "gpu_uuid"), false);
		label(o, "pid", numstr(conduit_mon_num(x, "pid"), n,
		    sizeof n), false);
		label(o, "process", conduit_mon_str(x, "name"), false);
		break;
	case S_CONT:
		label(o, "container", conduit_mon_str(x, "name"), false);
		label(o, "image", conduit_mon_str(x, "image"), false);
		break;
	case S_ALERT: {
		const char *subj = conduit_mon_str(x, "container");

		if (subj == NULL)
			subj = conduit_mon_str(x, "mountpoint");
		if (subj == NULL)
			subj = conduit_mon_str(x, "gpu_uuid");
		label(o, "metric", conduit_mon_str(x, "metric"), false);
		label(o, "subject", subj, false);
		break;
	}
	default:
		break;
	}
}

static void
sample(FILE *o, const struct family *f, const char *server,
    const cJSON *x, const char *extra_name, const char *extra, double v)
{
	if (isnan(v) || isinf(v))
		return;
	fprintf(o, "%s{", f->name);
	labels(o, f->scope, server, x);
	if (extra_name != NULL)
		label(o, extra_name, extra, false);
	fprintf(o, "} %.15g\n", v);
}

static void
subject(FILE *o, const struct family *f, const char *server,
    const cJSON *x)
{
	const cJSON *v, *src = f->sub ? cJSON_GetObjectItemCaseSensitive(x,
	    f->sub) : x;
	const char *s;
	double cpus;

	switch (f->kind) {
	case K_NUM:
		sample(o, f, server, x, NULL, NULL, conduit_mon_num(src,
		    f->key) * f->scale);
		break;
	case K_BOOL:
		v = cJSON_GetObjectItemCaseSensitive(src, f->key);
		if (cJSON_IsBool(v))
			sample(o, f, server, x, NULL, NULL, cJSON_IsTrue(v));
		break;
	case K_EQ:
		s = conduit_mon_str(src, f->key);
		if (s != NULL)
			sample(o, f, server, x, NULL, NULL, strcmp(s,
			    f->arg) == 0);
		break;
	case K_REASONS:
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(src,
		    f->key))
			if (cJSON_IsString(v))
				sample(o, f, server, x, "reason",
				    v->valuestring, 1);
		break;
	case K_CPU_SHARE:
		cpus = conduit_mon_num(src, "online_cpus");
		if (cpus > 0)
			sample(o, f, server, x, NULL, NULL,
			    conduit_mon_num(src, f->key) / (cpus * 100));
		break;
	case K_ONE:
		sample(o, f, server, x, NULL, NULL, 1);
		break;
	default:
		break;
	}
}

static void
server_family(FILE *o, const struct family *f, const char *name,
    const cJSON *s)
{
	static const char *const sources[] = { "gpus", "containers" };

	if (f->kind == K_REACHABLE) {
		sample(o, f, name, s, NULL, NULL, cJSON_IsTrue(
		    cJSON_GetObjectItemCaseSensitive(s, "reachable")));
		return;
	}
	for (size_t i = 0; i < 2; i++) {
		const char *st = conduit_mon_str(
		    cJSON_GetObjectItemCaseSensitive(s, sources[i]), "status");

		if (st == NULL || strcmp(st, MON_ABSENT) == 0 ||
		    strcmp(st, MON_UNSUPPORTED) == 0)
			continue;
		sample(o, f, name, s, "source", sources[i],
		    strcmp(st, MON_OK) == 0);
	}
}

/* Where each per-subject scope's objects live in a server object. */
static const struct {
	const char *source, *array;
} arrays[] = {
	[S_FS] = { "host", "filesystems" },
	[S_GPU] = { "gpus", "devices" },
	[S_PROC] = { "gpus", "processes" },
	[S_CONT] = { "containers", "items" },
};

static void
family(FILE *o, const struct family *f, const cJSON *doc)
{
	const cJSON *s, *x;

	fprintf(o, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
	    f->type);
	if (f->scope == S_ALERT) {
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(doc,
		    "alerts"))
			subject(o, f, conduit_mon_str(x, "server"), x);
		return;
	}
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(doc,
	    "servers")) {
		const char *name = conduit_mon_str(s, "server");
		const cJSON *host = cJSON_GetObjectItemCaseSensitive(s, "host");

		if (name == NULL)
			continue;
		if (f->scope == S_SERVER)
			server_family(o, f, name, s);
		else if (f->scope == S_HOST && cJSON_IsObject(host))
			subject(o, f, name, host);
		else if (f->scope != S_HOST) {
			const cJSON *src = cJSON_GetObjectItemCaseSensitive(s,
			    arrays[f->scope].source);

			cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(
			    src, arrays[f->scope].array))
				subject(o, f, name, x);
		}
	}
}

char *
conduit_render_monitor_prometheus(const cJSON *doc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&text, &len);

	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
		family(o, &families[i], doc);
	if (ferror(o)) {
		fclose(o);
		free(text);
		return NULL;
	}
	if (fclose(o) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
