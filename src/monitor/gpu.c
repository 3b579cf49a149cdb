/*
 * gpu.c - NVIDIA GPUs through nvidia-smi's CSV query interface.
 *
 * Two queries per run, started together: --query-gpu for the devices and
 * --query-compute-apps for the processes.  The format is ", "-separated
 * with no quoting, so the one free-text column of each query is placed
 * where a stray ", " inside it can be put back together: the process
 * name is asked for last (everything after the third separator is the
 * name), and for devices any extra separators are folded back into the
 * name column.  Any bracketed value ([N/A], [Not Supported], [GPU is
 * lost], ...) is null: a GPU that cannot report its fan speed is not a
 * failed run.
 *
 * nvidia-smi missing from PATH means this machine has no NVIDIA GPUs
 * ("not_present").  nvidia-smi failing (driver not loaded, exit 9; a
 * library/driver version mismatch) is reported with its own words,
 * which it prints on stdout, so both streams are kept.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "conduit/monitor.h"

/* Columns of CONDUIT_GPU_QUERY_FIELDS. */
enum { F_INDEX, F_UUID, F_NAME, F_TEMP, F_UTIL, F_MUTIL, F_MUSED, F_MTOTAL,
	F_PDRAW, F_PLIMIT, F_FAN, F_PSTATE, F_THROTTLE, F_ECC, F_COUNT };

#define MAX_FIELDS 32
#define MIB 1048576.0

static const struct {
	uint64_t bit;
	const char *name;
	bool alerting;		/* thermal or power throttling */
} throttle_bits[] = {
	{ 0x1, "gpu_idle", false },
	{ 0x2, "applications_clocks_setting", false },
	{ 0x4, "sw_power_cap", true },
	{ 0x8, "hw_slowdown", true },
	{ 0x10, "sync_boost", false },
	{ 0x20, "sw_thermal_slowdown", true },
	{ 0x40, "hw_thermal_slowdown", true },
	{ 0x80, "hw_power_brake_slowdown", true },
	{ 0x100, "display_clock_setting", false },
};
#define NBITS (sizeof throttle_bits / sizeof throttle_bits[0])

void
conduit_mon_throttle_names(uint64_t mask, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < NBITS; i++) {
		int w;

		if (!(mask & throttle_bits[i].bit))
			continue;
		w = snprintf(out + o, outlen - o, "%s%s", o ? "," : "",
		    throttle_bits[i].name);
		if (w < 0 || (size_t)w >= outlen - o)
			return;
		o += (size_t)w;
	}
}

bool
conduit_mon_throttle_alerting(uint64_t mask)
{
	for (size_t i = 0; i < NBITS; i++)
		if ((mask & throttle_bits[i].bit) && throttle_bits[i].alerting)
			return true;
	return false;
}

/* Splits line (modified in place) on ", " into at most max pieces; the
 * last piece takes the rest of the line. */
static size_t
split(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (n + 1 < max) {
		char *sep = strstr(p, ", ");

		if (sep == NULL)
			break;
		*sep = '\0';
		f[n++] = p;
		p = sep + 2;
	}
	f[n++] = p;
	return n;
}

static bool
bracketed(const char *s)
{
	return s == NULL || s[0] == '[' || s[0] == '\0';
}

static double
num(const char *s)
{
	char *end;
	double v;

	if (bracketed(s))
		return NAN;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0)
		return NAN;
	return v;
}

static const char *
str(const char *s)
{
	return bracketed(s) ? NULL : s;
}

static double
pct(double a, double b)
{
	return b > 0 ? 100.0 * a / b : NAN;
}

/* Next line of text into buf without the newline (and a trailing \r);
 * returns the position after it, NULL at the end. */
static const char *
next_line(const char *p, char *buf, size_t len)
{
	const char *nl;
	size_t l;

	if (p == NULL || *p == '\0')
		return NULL;
	nl = strchr(p, '\n');
	l = nl ? (size_t)(nl - p) : strlen(p);
	if (l >= len)
		l = len - 1;
	memcpy(buf, p, l);
	buf[l] = '\0';
	if (l > 0 && buf[l - 1] == '\r')
		buf[l - 1] = '\0';
	return nl ? nl + 1 : p + strlen(p);
}

static cJSON *
device_json(char **f)
{
	cJSON *d = cJSON_CreateObject();
	double mused = num(f[F_MUSED]) * MIB, mtotal = num(f[F_MTOTAL]) * MIB;
	cJSON *reasons;
	const char *t = str(f[F_THROTTLE]);
	char *end = NULL;
	unsigned long long mask = 0;
	bool have_mask = false;

	if (d == NULL)
		return NULL;
	conduit_mon_add_num(d, "index", num(f[F_INDEX]));
	conduit_mon_add_str(d, "uuid", str(f[F_UUID]));
	conduit_mon_add_str(d, "name", str(f[F_NAME]));
	conduit_mon_add_num(d, "temperature_celsius", num(f[F_TEMP]));
	conduit_mon_add_num(d, "utilization_percent", num(f[F_UTIL]));
	conduit_mon_add_num(d, "memory_utilization_percent", num(f[F_MUTIL]));
	conduit_mon_add_num(d, "memory_used_bytes", mused);
	conduit_mon_add_num(d, "memory_total_bytes", mtotal);
	conduit_mon_add_num(d, "memory_used_percent", pct(mused, mtotal));
	conduit_mon_add_num(d, "power_draw_watts", num(f[F_PDRAW]));
	conduit_mon_add_num(d, "power_limit_watts", num(f[F_PLIMIT]));
	conduit_mon_add_num(d, "fan_percent", num(f[F_FAN]));
	conduit_mon_add_str(d, "pstate", str(f[F_PSTATE]));
	if (t != NULL) {
		errno = 0;
		mask = strtoull(t, &end, 16);
		have_mask = end != t && *end == '\0' && errno == 0;
	}
	conduit_mon_add_num(d, "throttle_mask", have_mask ? (double)mask :
	    NAN);
	if (have_mask) {
		reasons = cJSON_AddArrayToObject(d, "throttle_reasons");
		for (size_t i = 0; i < NBITS && reasons != NULL; i++)
			if (mask & throttle_bits[i].bit)
				cJSON_AddItemToArray(reasons,
				    cJSON_CreateString(throttle_bits[i].name));
		cJSON_AddBoolToObject(d, "throttling",
		    conduit_mon_throttle_alerting(mask));
	} else {
		cJSON_AddNullToObject(d, "throttle_reasons");
		cJSON_AddNullToObject(d, "throttling");
	}
	conduit_mon_add_num(d, "ecc_uncorrected_errors", num(f[F_ECC]));
	return d;
}

int
conduit_mon_parse_gpu_csv(const char *text, cJSON *devices,
    struct conduit_err *err)
{
	char line[2048];
	const char *p = text;

	for (size_t row = 1; (p = next_line(p, line, sizeof line)) != NULL &&
	    row <= 1024; row++) {
		char *f[MAX_FIELDS], *g[F_COUNT];
		size_t n, extra;

		if (line[0] == '\0')
			continue;
		n = split(line, f, MAX_FIELDS);
		if (n < F_COUNT)
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "nvidia-smi row %zu has %zu fields, expected %d",
			    row, n, F_COUNT);
		/* A ", " inside the name: fold the extra pieces back. */
		extra = n - F_COUNT;
		for (size_t i = 0; i < F_COUNT; i++)
			g[i] = f[i <= F_NAME ? i : i + extra];
		for (size_t i = 1; i <= extra; i++)
			g[F_NAME][strlen(g[F_NAME])] = ',';	/* undo split */
		cJSON_AddItemToArray(devices, device_json(g));
	}
	return 0;
}

int
conduit_mon_parse_apps_csv(const char *text, cJSON *procs,
    struct conduit_err *err)
{
	char line[4096];
	const char *p = text;

	for (size_t row = 1; (p = next_line(p, line, sizeof line)) != NULL &&
	    row <= 4096; row++) {
		char *f[4];
		cJSON *o;

		if (line[0] == '\0')
			continue;
		if (split(line, f, 4) != 4)
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "nvidia-smi compute-apps row %zu has fewer than 4 "
			    "fields", row);
		o = cJSON_CreateObject();
		if (o == NULL)
			return CONDUIT_ENOMEM;
		conduit_mon_add_num(o, "pid", num(f[0]));
		conduit_mon_add_num(o, "used_memory_bytes", num(f[1]) * MIB);
		conduit_mon_add_str(o, "gpu_uuid", str(f[2]));
		conduit_mon_add_str(o, "name", str(f[3]));
		cJSON_AddItemToArray(procs, o);
	}
	return 0;
}

/* Trimmed copy of a tool's message, for the "error" field. */
static char *
message(const char *text, const char *fallback)
{
	const char *s = text ? text : "";
	size_t l;
	char *m;

	while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
		s++;
	l = strlen(s);
	while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\n' ||
	    s[l - 1] == '\r' || s[l - 1] == '\t'))
		l--;
	if (l == 0)
		return strdup(fallback);
	if (l > 1000)
		l = 1000;
	m = malloc(l + 1);
	if (m != NULL) {
		memcpy(m, s, l);
		m[l] = '\0';
	}
	return m;
}

static void
set_status(cJSON *g, const char *status, const char *error)
{
	cJSON_ReplaceItemInObjectCaseSensitive(g, "status",
	    cJSON_CreateString(status));
	cJSON_ReplaceItemInObjectCaseSensitive(g, "error", error ?
	    cJSON_CreateString(error) : cJSON_CreateNull());
}

/* Each process's gpu_index, from the devices' uuids. */
static void
link_processes(cJSON *devices, cJSON *procs)
{
	cJSON *p, *d;

	cJSON_ArrayForEach(p, procs) {
		const char *u = conduit_mon_str(p, "gpu_uuid");
		double idx = NAN;

		cJSON_ArrayForEach(d, devices) {
			const char *du = conduit_mon_str(d, "uuid");

			if (u != NULL && du != NULL && strcmp(u, du) == 0)
				idx = conduit_mon_num(d, "index");
		}
		conduit_mon_add_num(p, "gpu_index", idx);
	}
}

cJSON *
conduit_mon_gpu_from_outputs(const char *gpu_text, int gpu_rc,
    const char *apps_text, int apps_rc)
{
	cJSON *g = cJSON_CreateObject();
	cJSON *devices, *procs;
	struct conduit_err e;
	char *msg;

	if (g == NULL)
		return NULL;
	cJSON_AddStringToObject(g, "status", MON_OK);
	cJSON_AddNullToObject(g, "error");
	devices = cJSON_AddArrayToObject(g, "devices");
	if (gpu_rc == -1) {
		set_status(g, MON_ABSENT, NULL);
		cJSON_AddArrayToObject(g, "processes");
		return g;
	}
	if (gpu_rc != 0) {
		msg = message(gpu_text, "nvidia-smi failed");
		set_status(g, MON_ERROR, msg);
		free(msg);
		cJSON_AddArrayToObject(g, "processes");
		return g;
	}
	conduit_err_clear(&e);
	if (conduit_mon_parse_gpu_csv(gpu_text, devices, &e) != 0) {
		set_status(g, MON_ERROR, e.msg);
		cJSON_AddArrayToObject(g, "processes");
		return g;
	}
	if (apps_rc != 0) {
		/* The devices are still worth reporting. */
		msg = message(apps_text, "nvidia-smi --query-compute-apps "
		    "failed");
		cJSON_AddNullToObject(g, "processes");
		cJSON_ReplaceItemInObjectCaseSensitive(g, "error",
		    cJSON_CreateString(msg ? msg : "processes unavailable"));
		free(msg);
		return g;
	}
	procs = cJSON_AddArrayToObject(g, "processes");
	if (conduit_mon_parse_apps_csv(apps_text, procs, &e) != 0)
		cJSON_ReplaceItemInObjectCaseSensitive(g, "error",
		    cJSON_CreateString(e.msg));
	link_processes(devices, procs);
	return g;
}

/* The outcome of one job as from_outputs wants it: the text (stdout
 * then stderr) and the code (-1 not found, 0.. exit, -2 other). */
static int
job_rc(const struct conduit_mon_job *j, long timeout_ms, char **text)
{
	size_t l = j->outlen + j->errlen + 2;

	*text = malloc(l > 128 ? l : 128);
	if (*text == NULL)
		return -2;
	if (j->spawn_errno == ENOENT) {
		(*text)[0] = '\0';
		return -1;
	}
	if (j->spawn_errno != 0) {
		snprintf(*text, 128, "cannot run nvidia-smi: %s",
		    strerror(j->spawn_errno));
		return -2;
	}
	if (j->timed_out) {
		snprintf(*text, 128, "nvidia-smi did not answer within %ld ms",
		    timeout_ms);
		return -2;
	}
	snprintf(*text, l, "%s%s%s", j->out, j->outlen && j->errlen ? "\n" :
	    "", j->errout);
	if (!j->exited)
		return -2;
	return WEXITSTATUS(j->status);
}

cJSON *
conduit_mon_gpu_collect(const char *nvidia_smi, long timeout_ms)
{
	char *a1[] = { (char *)nvidia_smi,
	    "--query-gpu=" CONDUIT_GPU_QUERY_FIELDS,
	    "--format=csv,noheader,nounits", NULL };
	char *a2[] = { (char *)nvidia_smi,
	    "--query-compute-apps=" CONDUIT_GPU_APPS_FIELDS,
	    "--format=csv,noheader,nounits", NULL };
	struct conduit_mon_job jobs[2] = { { .argv = a1 }, { .argv = a2 } };
	char *t1 = NULL, *t2 = NULL;
	int r1, r2;
	cJSON *g;

	if (conduit_mon_run_jobs(jobs, 2, timeout_ms, NULL) != 0)
		return conduit_mon_gpu_from_outputs("out of memory", -2, "",
		    0);
	r1 = job_rc(&jobs[0], timeout_ms, &t1);
	r2 = job_rc(&jobs[1], timeout_ms, &t2);
	g = conduit_mon_gpu_from_outputs(t1 ? t1 : "", r1, t2 ? t2 : "", r2);
	free(t1);
	free(t2);
	conduit_mon_job_free(&jobs[0]);
	conduit_mon_job_free(&jobs[1]);
	return g;
}
