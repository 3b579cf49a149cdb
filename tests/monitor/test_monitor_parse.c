/*
 * Unit tests for the monitor's pure parts: nvidia-smi CSV, procfs
 * parsers, the Docker CLI formulas on recorded stats, ssh argv, alert
 * transitions and the Prometheus renderer.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "conduit/fsutil.h"
#include "conduit/monitor.h"
#include "conduit/settings.h"

static char *
slurp(const char *rel, const char *base)
{
	char path[1024];
	char *text = NULL;
	size_t len;

	snprintf(path, sizeof path, "%s/%s", base, rel);
	assert_int_equal(conduit_read_file(path, &text, &len, NULL), 0);
	return text;
}

/* The fixture's 12 columns plus pstate and ECC, as our query asks. */
static char *
widen(const char *csv12, const char *pstate, const char *ecc)
{
	size_t cap = strlen(csv12) * 2 + 256, o = 0;
	char *out = malloc(cap);
	const char *p = csv12;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		const char *last = NULL;

		/* Insert pstate before the last column (throttle mask). */
		for (const char *q = p; q < p + l - 1; q++)
			if (q[0] == ',' && q[1] == ' ')
				last = q;
		o += (size_t)snprintf(out + o, cap - o, "%.*s, %s%.*s, %s\n",
		    (int)(last - p), p, pstate, (int)(p + l - last), last, ecc);
		p = nl ? nl + 1 : p + l;
	}
	return out;
}

static void
test_gpu_csv_fixture(void **st)
{
	char *raw = slurp("fixtures/nvidia-smi/gpu_2xh100.csv",
	    CONDUIT_SHARED_DIR);
	char *csv = widen(raw, "P0", "[N/A]");
	cJSON *dev = cJSON_CreateArray(), *d1;
	struct conduit_err e;

	(void)st;
	assert_int_equal(conduit_mon_parse_gpu_csv(csv, dev, &e), 0);
	assert_int_equal(cJSON_GetArraySize(dev), 2);
	d1 = cJSON_GetArrayItem(dev, 1);
	assert_string_equal(conduit_mon_str(d1, "name"),
	    "NVIDIA H100 80GB HBM3");
	assert_true(conduit_mon_num(d1, "temperature_celsius") == 59);
	assert_true(conduit_mon_num(d1, "memory_used_bytes") ==
	    19818.0 * 1048576);
	assert_true(conduit_mon_num(d1, "power_draw_watts") == 631.95);
	/* [N/A] fan on HGX boards and ECC: null, not a failure. */
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(d1, "fan_percent")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(d1,
	    "ecc_uncorrected_errors")));
	/* GPU 0 mask 0x1 = idle: a reason, not an alerting one. */
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(
	    cJSON_GetArrayItem(dev, 0), "throttle_reasons"), 0)->valuestring,
	    "gpu_idle");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(dev,
	    0), "throttling")));
	cJSON_Delete(dev);
	free(csv);
	free(raw);
}

static void
test_gpu_csv_brackets_and_commas(void **st)
{
	const char *row = "0, GPU-x, Tesla, Inc. GPU, [Unknown Error], "
	    "[N/A], [N/A], 100, 200, [GPU is lost], 300.00, [Not Supported], "
	    "[Insufficient Permissions], 0x0000000000000060, 2\n";
	cJSON *dev = cJSON_CreateArray(), *d;
	struct conduit_err e;

	(void)st;
	assert_int_equal(conduit_mon_parse_gpu_csv(row, dev, &e), 0);
	d = cJSON_GetArrayItem(dev, 0);
	assert_string_equal(conduit_mon_str(d, "name"), "Tesla, Inc. GPU");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(d,
	    "temperature_celsius")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(d, "power_draw_watts")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(d, "pstate")));
	assert_true(conduit_mon_num(d, "ecc_uncorrected_errors") == 2);
	/* 0x60: SW and HW thermal slowdown -> alerting. */
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "throttling")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d,
	    "throttle_reasons")), 2);
	cJSON_Delete(dev);

	dev = cJSON_CreateArray();
	assert_int_equal(conduit_mon_parse_gpu_csv("0, GPU-x, short\n", dev,
	    &e), CONDUIT_EINVAL);
	assert_non_null(strstr(e.msg, "expected 14"));
	cJSON_Delete(dev);
}

static void
test_apps_csv_name_last(void **st)
{
	const char *csv = "10291, 2566, GPU-a, /opt/my app, v2 --port 1\n"
	    "50983, [N/A], GPU-a, [Not Found]\n";
	cJSON *procs = cJSON_CreateArray(), *p;
	struct conduit_err e;

	(void)st;
	assert_int_equal(conduit_mon_parse_apps_csv(csv, procs, &e), 0);
	p = cJSON_GetArrayItem(procs, 0);
	assert_string_equal(conduit_mon_str(p, "name"),
	    "/opt/my app, v2 --port 1");
	assert_true(conduit_mon_num(p, "used_memory_bytes") ==
	    2566.0 * 1048576);
	p = cJSON_GetArrayItem(procs, 1);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(p, "name")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(p, "used_memory_bytes")));
	cJSON_Delete(procs);
}

static void
test_gpu_outcomes(void **st)
{
	cJSON *g;

	(void)st;
	g = conduit_mon_gpu_from_outputs("", -1, "", -1);
	assert_string_equal(conduit_mon_str(g, "status"), MON_ABSENT);
	cJSON_Delete(g);
	g = conduit_mon_gpu_from_outputs("\nNVIDIA-SMI has failed because "
	    "it couldn't communicate with the NVIDIA driver.\n\n", 9, "", 9);
	assert_string_equal(conduit_mon_str(g, "status"), MON_ERROR);
	assert_string_equal(conduit_mon_str(g, "error"), "NVIDIA-SMI has "
	    "failed because it couldn't communicate with the NVIDIA driver.");
	cJSON_Delete(g);
}

static void
test_procfs(void **st)
{
	struct conduit_cpu_times a, b;
	cJSON *h = cJSON_CreateObject();

	(void)st;
	assert_int_equal(conduit_mon_parse_stat("cpu  100 0 100 700 100 0 0 "
	    "0 0 0\ncpu0 1 2 3 4\n", &a), 0);
	assert_int_equal(conduit_mon_parse_stat("cpu  250 0 150 850 150 0 0 "
	    "0 0 0\n", &b), 0);
	/* delta total 400, delta idle+iowait 200 -> 50 % */
	assert_true(fabs(conduit_mon_cpu_percent(&a, &b) - 50.0) < 1e-9);
	assert_true(isnan(conduit_mon_cpu_percent(&b, &a)));
	assert_int_equal(conduit_mon_parse_cpulist("0-3,8-11\n"), 8);
	assert_int_equal(conduit_mon_parse_cpulist("0\n"), 1);
	assert_int_equal(conduit_mon_parse_cpulist("3-1"), -1);
	assert_int_equal(conduit_mon_parse_meminfo("MemTotal: 1000 kB\n"
	    "MemFree: 10 kB\nMemAvailable: 250 kB\nSwapTotal: 100 kB\n"
	    "SwapFree: 40 kB\n", h), 0);
	assert_true(conduit_mon_num(cJSON_GetObjectItem(h, "memory"),
	    "used_bytes") == 750 * 1024.0);
	assert_true(conduit_mon_num(cJSON_GetObjectItem(h, "memory"),
	    "used_percent") == 75);
	assert_true(conduit_mon_num(cJSON_GetObjectItem(h, "swap"),
	    "used_bytes") == 60 * 1024.0);
	cJSON_Delete(h);
}

static void
test_mounts(void **st)
{
	const char *mi =
	    "22 27 0:21 / /proc rw - proc proc rw\n"
	    "27 1 0:40 / / rw - overlay overlay rw,lowerdir=/x\n"
	    "30 27 254:1 / /data\\040disk rw - ext4 /dev/vdb rw\n"
	    "31 27 254:1 /sub /srv/bind rw - ext4 /dev/vdb rw\n"
	    "32 27 0:50 / /dev/shm rw - tmpfs tmpfs rw\n"
	    "33 27 254:2 / /models rw shared:5 - xfs /dev/vdc rw\n"
	    "34 27 0:60 / /mnt/nfs rw - nfs4 srv:/export rw\n";
	struct conduit_mount *m = NULL, one;
	size_t n = 0;

	(void)st;
	assert_int_equal(conduit_mon_select_mounts(mi, &m, &n, NULL), 0);
	assert_int_equal(n, 4);
	/* The bind of /sub (shorter path) does not hide the whole mount. */
	/* "/" is listed although overlay is a pseudo filesystem. */
	assert_string_equal(m[0].mountpoint, "/");
	assert_string_equal(m[1].mountpoint, "/data disk");
	assert_string_equal(m[2].mountpoint, "/models");
	assert_string_equal(m[2].fstype, "xfs");
	assert_string_equal(m[3].fstype, "nfs4");
	free(m);
	assert_int_equal(conduit_mon_parse_mountinfo_line("garbage", &one),
	    CONDUIT_EINVAL);
}

static cJSON *
fixture_json(const char *rel)
{
	char *t = slurp(rel, CONDUIT_SOURCE_DIR "/tests/fixtures/docker");
	cJSON *j = cJSON_Parse(t);

	free(t);
	assert_non_null(j);
	return j;
}

#define OLLAMA "3f4e8a9b2c1d0e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"
#define PG "c0ffee0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b"

static void
test_docker_formulas(void **st)
{
	cJSON *stats = fixture_json("stats/" OLLAMA ".json");
	cJSON *list = fixture_json("containers.json");
	cJSON *ins = fixture_json("inspect/" OLLAMA ".json"), *c;
	cJSON *pgi = fixture_json("inspect/" PG ".json");
	char out[32];
	struct conduit_err e;

	(void)st;
	assert_true(fabs(conduit_mon_docker_cpu_percent(stats) - 50.0) <
	    1e-6);
	assert_true(conduit_mon_docker_mem_used(stats) == 5368709120.0);
	c = conduit_mon_container_json(cJSON_GetArrayItem(list, 0), ins,
	    stats);
	assert_string_equal(conduit_mon_str(c, "name"), "ollama");
	assert_string_equal(conduit_mon_str(c, "health"), "healthy");
	assert_string_equal(conduit_mon_str(c, "id"), "3f4e8a9b2c1d");
	cJSON_Delete(c);
	/* Exited, OOM-killed, no stats: nulls where there is no sample. */
	c = conduit_mon_container_json(cJSON_GetArrayItem(list, 2), pgi, NULL);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(c, "oom_killed")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(c, "cpu_percent")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(c, "health")));
	assert_true(conduit_mon_num(c, "exit_code") == 137);
	cJSON_Delete(c);

	conduit_mon_docker_negotiate("1.43", out, sizeof out);
	assert_string_equal(out, "1.43");
	conduit_mon_docker_negotiate("1.47", out, sizeof out);
	assert_string_equal(out, CONDUIT_DOCKER_API_MAX);
	conduit_mon_docker_negotiate(NULL, out, sizeof out);
	assert_string_equal(out, CONDUIT_DOCKER_API_MIN);
	assert_int_equal(conduit_mon_docker_socket("/var/run/docker.sock",
	    "unix:///run/user/1000/docker.sock", out, sizeof out, &e), 0);
	assert_string_equal(out, "/run/user/1000/docker.sock");
	assert_int_equal(conduit_mon_docker_socket("/var/run/docker.sock",
	    "tcp://10.0.0.1:2375", out, sizeof out, &e), CONDUIT_EINVAL);
	cJSON_Delete(stats);
	cJSON_Delete(list);
	cJSON_Delete(ins);
	cJSON_Delete(pgi);
}

static void
test_ssh_argv(void **st)
{
	struct conduit_remote_opts o = { .ssh_bin = "ssh", .timeout_ms = 2500,
	    .sample_ms = 200, .host = true, .gpu = true };
	char *argv[24], buf[8192];
	struct conduit_err e;
	int dd = -1, host = -1;

	(void)st;
	assert_int_equal(conduit_mon_ssh_argv(&o, "admin@gpu1.lan", argv, 24,
	    buf, sizeof buf, &e), 0);
	for (int i = 0; argv[i] != NULL; i++) {
		if (strcmp(argv[i], "--") == 0)
			dd = i;
		if (strcmp(argv[i], "admin@gpu1.lan") == 0)
			host = i;
		if (strncmp(argv[i], "ConnectTimeout=", 15) == 0)
			assert_string_equal(argv[i], "ConnectTimeout=3");
	}
	assert_true(dd > 0 && host == dd + 1);
	assert_non_null(strstr(argv[host + 1], " conduit 200 host,gpu"));
	assert_null(strchr(conduit_mon_fallback_script, '\''));
	assert_int_equal(conduit_mon_ssh_argv(&o, "-oProxyCommand=x", argv,
	    24, buf, sizeof buf, &e), CONDUIT_EINVAL);
	assert_int_equal(conduit_mon_validate_server("root@-x", &e),
	    CONDUIT_EINVAL);
	assert_int_equal(conduit_mon_validate_server("a b@host", &e),
	    CONDUIT_EINVAL);
	assert_int_equal(conduit_mon_validate_server("10.0.1.20", &e), 0);
}

/* A one-server document with a GPU at temp and a disk at pct. */
static cJSON *
doc_with(double temp, double disk_pct, bool gpu_ok)
{
	char text[2048];

	snprintf(text, sizeof text, "{\"schema_version\":1,\"servers\":[{"
	    "\"server\":\"local\",\"reachable\":true,\"host\":{\"memory\":"
	    "{\"used_percent\":10},\"filesystems\":[{\"mountpoint\":\"/\","
	    "\"used_percent\":%g}]},\"gpus\":{\"status\":\"%s\",\"devices\":"
	    "[{\"index\":0,\"uuid\":\"GPU-a\",\"temperature_celsius\":%g,"
	    "\"memory_used_percent\":5,\"throttling\":false}]},"
	    "\"containers\":null}]}", disk_pct, gpu_ok ? "ok" : "error",
	    temp);
	return cJSON_Parse(text);
}

static int
count_state(const cJSON *recs, const char *state)
{
	const cJSON *r;
	int n = 0;

	cJSON_ArrayForEach(r, recs)
		if (strcmp(conduit_mon_str(cJSON_GetObjectItem(r, "details"),
		    "state"), state) == 0)
			n++;
	return n;
}

static cJSON *
run_once(cJSON *state, double temp, double disk, bool gpu_ok)
{
	struct conduit_settings s;
	cJSON *doc = doc_with(temp, disk, gpu_ok), *checks, *recs;

	conduit_settings_defaults(&s);
	checks = conduit_mon_alerts_eval(doc, &s.thresholds);
	recs = conduit_mon_alerts_transitions(doc, checks, state,
	    "2026-01-01T00:00:00Z");
	cJSON_Delete(checks);
	cJSON_Delete(doc);
	return recs;
}

static void
test_alert_transitions(void **st)
{
	cJSON *state = conduit_mon_state_new(), *recs, *d;

	(void)st;
	recs = run_once(state, 92, 50, true);
	assert_int_equal(cJSON_GetArraySize(recs), 1);
	d = cJSON_GetObjectItem(cJSON_GetArrayItem(recs, 0), "details");
	assert_string_equal(conduit_mon_str(d, "metric"), "gpu_temperature");
	assert_true(conduit_mon_num(d, "value") == 92);
	assert_true(conduit_mon_num(d, "threshold") == 85);
	assert_string_equal(conduit_mon_str(d, "unit"), "celsius");
	assert_true(conduit_mon_num(d, "gpu_index") == 0);
	assert_string_equal(conduit_mon_str(cJSON_GetArrayItem(recs, 0),
	    "message"), "GPU 0 temperature 92C exceeds threshold 85C");
	cJSON_Delete(recs);
	/* Still hot: nothing new.  Disk fills: one more. */
	recs = run_once(state, 93, 95, true);
	assert_int_equal(cJSON_GetArraySize(recs), 1);
	assert_int_equal(count_state(recs, "firing"), 1);
	cJSON_Delete(recs);
	/* nvidia-smi fails: the GPU alert is neither cleared nor re-sent. */
	recs = run_once(state, 40, 95, false);
	assert_int_equal(cJSON_GetArraySize(recs), 0);
	cJSON_Delete(recs);
	/* Both back to normal: two cleared records. */
	recs = run_once(state, 60, 50, true);
	assert_int_equal(count_state(recs, "cleared"), 2);
	assert_int_equal(cJSON_GetArraySize(recs), 2);
	cJSON_Delete(recs);
	recs = run_once(state, 60, 50, true);
	assert_int_equal(cJSON_GetArraySize(recs), 0);
	cJSON_Delete(recs);
	cJSON_Delete(state);
}

static void
test_restart_baseline(void **st)
{
	cJSON *state = conduit_mon_state_new(), *doc, *c;
	char text[512];
	int counts[] = { 4, 4, 6 };
	double want_new[] = { NAN, 0, 2 };

	(void)st;
	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof text, "{\"servers\":[{\"server\":"
		    "\"local\",\"reachable\":true,\"containers\":{\"status\":"
		    "\"ok\",\"items\":[{\"name\":\"c\",\"full_id\":\"abc\","
		    "\"restart_count\":%d}]}}]}", counts[i]);
		doc = cJSON_Parse(text);
		conduit_mon_restarts_apply(doc, state);
		c = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		    cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "servers"), 0),
		    "containers"), "items"), 0);
		if (isnan(want_new[i]))
			assert_true(cJSON_IsNull(cJSON_GetObjectItem(c,
			    "restarts_new")));
		else
			assert_true(conduit_mon_num(c, "restarts_new") ==
			    want_new[i]);
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc,
		    "events")), i == 2 ? 1 : 0);
		cJSON_Delete(doc);
	}
	cJSON_Delete(state);
}

static void
test_prometheus(void **st)
{
	cJSON *doc = doc_with(92, 50, true);
	char *text;

	(void)st;
	cJSON_ReplaceItemInObject(cJSON_GetArrayItem(cJSON_GetObjectItem(doc,
	    "servers"), 0), "server", cJSON_CreateString("gpu\"1\\"));
	text = conduit_render_monitor_prometheus(doc);
	assert_non_null(strstr(text, "# TYPE conduit_gpu_temperature_celsius "
	    "gauge\n"));
	assert_non_null(strstr(text, "conduit_gpu_temperature_celsius{server="
	    "\"gpu\\\"1\\\\\",gpu=\"0\",uuid=\"GPU-a\",name=\"\"} 92\n"));
	assert_non_null(strstr(text, "conduit_filesystem_size_bytes") );
	/* used_percent only in the doc: no sample, never NaN. */
	assert_null(strstr(text, "NaN"));
	free(text);
	cJSON_Delete(doc);
}

static void
test_fallback_parse(void **st)
{
	const char *out = "@@conduit-fallback 1\n@@hostname\ngpu1\n"
	    "@@osrelease\n6.1.0\n@@uptime\n100.5 90.0\n@@loadavg\n1.00 0.50 "
	    "0.25 1/100 5\n@@online\n0-7\n@@meminfo\nMemTotal: 1000 kB\n"
	    "MemAvailable: 500 kB\n@@stat1\ncpu  100 0 0 900 0 0 0 0\n"
	    "@@stat2\ncpu  200 0 0 1000 0 0 0 0\n@@mountinfo\n"
	    "27 1 254:0 / / rw - ext4 /dev/vda rw\n@@df\n"
	    "Filesystem 1024-blocks Used Available Capacity Mounted on\n"
	    "/dev/vda 1000 600 400 60% /\n@@dfi\n"
	    "Filesystem Inodes IUsed IFree IUse% Mounted on\n"
	    "/dev/vda 100 10 90 10% /\n@@gpu-absent\n@@end\n";
	struct conduit_remote_opts o = { .host = true, .gpu = true,
	    .containers = true };
	struct conduit_err e;
	cJSON *s = conduit_mon_remote_parse("gpu1", out, &o, &e), *h, *fs;

	(void)st;
	assert_non_null(s);
	assert_string_equal(conduit_mon_str(s, "via"), "fallback");
	h = cJSON_GetObjectItem(s, "host");
	assert_string_equal(conduit_mon_str(h, "hostname"), "gpu1");
	assert_true(conduit_mon_num(h, "cpus") == 8);
	assert_true(conduit_mon_num(h, "cpu_percent") == 50);
	fs = cJSON_GetArrayItem(cJSON_GetObjectItem(h, "filesystems"), 0);
	assert_true(conduit_mon_num(fs, "used_bytes") == 600 * 1024.0);
	assert_true(conduit_mon_num(fs, "inodes_used") == 10);
	assert_string_equal(conduit_mon_str(cJSON_GetObjectItem(s, "gpus"),
	    "status"), MON_ABSENT);
	assert_string_equal(conduit_mon_str(cJSON_GetObjectItem(s,
	    "containers"), "status"), MON_UNSUPPORTED);
	cJSON_Delete(s);
	assert_null(conduit_mon_remote_parse("gpu1", "Welcome to gpu1!\n", &o,
	    &e));
	assert_non_null(strstr(e.msg, "Welcome"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gpu_csv_fixture),
		cmocka_unit_test(test_gpu_csv_brackets_and_commas),
		cmocka_unit_test(test_apps_csv_name_last),
		cmocka_unit_test(test_gpu_outcomes),
		cmocka_unit_test(test_procfs),
		cmocka_unit_test(test_mounts),
		cmocka_unit_test(test_docker_formulas),
		cmocka_unit_test(test_ssh_argv),
		cmocka_unit_test(test_alert_transitions),
		cmocka_unit_test(test_restart_baseline),
		cmocka_unit_test(test_prometheus),
		cmocka_unit_test(test_fallback_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
