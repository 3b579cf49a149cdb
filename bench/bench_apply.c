/*
 * bench_apply.c - wall time of `conduit apply` with a 1,000-service
 * manifest: from an empty registry, and re-applying it unchanged.
 *
 * usage: bench_apply CONDUIT_BIN [RUNS] [--live]
 *
 * Every timed call is a full fork+exec of the binary.  For each run a
 * fresh state dir is initialised on free loopback ports; with --live,
 * `conduit up` starts Caddy and dnsmasq first (untimed) and `down` stops
 * them after, so "from empty" includes the one Caddy load and the one
 * DNS reload.  Without --live, the applies use --no-reload (files only).
 * Running both and subtracting gives the backends' share.
 *
 * Then, in this process, the phases of one apply are timed through the
 * library: manifest parse, registry load, plan, and each backend's pure
 * rendering of the 1,000-service registry, and the audit append of the
 * records the first apply wrote.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "conduit/audit.h"
#include "conduit/fsutil.h"
#include "conduit/manifest.h"
#include "conduit/plan.h"
#include "conduit/registry.h"
#include "conduit/settings.h"
#include "conduit/txn.h"

#include "bench_util.h"

#define NSVC 1000

static void
report(const char *what, double *t, int runs)
{
	double median, p95;

	bench_stats(t, runs, &median, &p95);
	printf("%-34s runs=%-3d median %8.2f ms   p95 %8.2f ms\n", what, runs,
	    median, p95);
}

static long
free_port(int type)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, type, 0);
	long port = -1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* 1,000 services on 127.0.0.x: a mix of proxied with health settings,
 * load-balanced pairs, aliases and dns_only, like a real stack. */
static int
write_manifest(const char *path)
{
	FILE *fp = fopen(path, "w");
	int i;

	if (fp == NULL)
		return -1;
	fprintf(fp, "services:\n");
	for (i = 0; i < NSVC; i++) {
		fprintf(fp, "  - name: svc-%04d\n    upstreams: [\"127.0.%d.%d:%d\"",
		    i, 1 + i / 250, 1 + i % 250, 8000 + i % 1000);
		if (i % 4 == 0)
			fprintf(fp, ", \"127.0.%d.%d:%d\"", 1 + i / 250,
			    1 + i % 250, 9000 + i % 1000);
		fprintf(fp, "]\n");
		if (i % 10 == 0)
			fprintf(fp, "    dns_only: true\n");
		if (i % 3 == 0)
			fprintf(fp, "    aliases: [alias-%04d]\n", i);
		if (i % 2 == 0)
			fprintf(fp, "    health:\n      path: /health\n"
			    "      interval: 5s\n      timeout: 2s\n");
	}
	return fclose(fp);
}

static int
init_state(const char *bin, const char *dir)
{
	char https[16], http[16], dns[16];

	snprintf(https, sizeof(https), "%ld", free_port(SOCK_STREAM));
	snprintf(http, sizeof(http), "%ld", free_port(SOCK_STREAM));
	snprintf(dns, sizeof(dns), "%ld", free_port(SOCK_DGRAM));
	char *argv[] = { (char *)bin, "--state-dir", (char *)dir, "init",
	    "--listen", "127.0.0.1", "--https-port", https, "--http-port", http,
	    "--dns-port", dns, NULL };
	return run(argv);
}

static int
updown(const char *bin, const char *dir, const char *what)
{
	char *argv[] = { (char *)bin, "--state-dir", (char *)dir, (char *)what,
	    NULL };
	return run(argv);
}

static int
apply(const char *bin, const char *dir, const char *manifest, bool live)
{
	char *argv[] = { (char *)bin, "--state-dir", (char *)dir, "apply", "-f",
	    (char *)manifest, live ? NULL : "--no-reload", NULL };
	return run(argv);
}

/* Phases through the library, on the state dir left by the last run. */
static void
phases(const char *dir, const char *manifest, int runs)
{
	struct conduit_settings st;
	struct conduit_err err;
	struct conduit_txn t;
	double *tp = calloc((size_t)runs, sizeof(double));
	double *tl = calloc((size_t)runs, sizeof(double));
	double *tpl = calloc((size_t)runs, sizeof(double));
	char path[512], label[64];
	const struct conduit_backend *const *b = conduit_backends();
	int r, i;

	if (tp == NULL || tl == NULL || tpl == NULL)
		return;
	conduit_settings_defaults(&st);
	snprintf(path, sizeof(path), "%s/conduit.yaml", dir);
	if (conduit_settings_load(&st, path, &err) != 0) {
		fprintf(stderr, "settings: %s\n", err.msg);
		return;
	}
	snprintf(path, sizeof(path), "%s/services.json", dir);
	for (r = 0; r < runs; r++) {
		struct conduit_manifest m;
		struct conduit_registry reg;
		struct conduit_plan p;
		double t0 = now_ms();

		if (conduit_manifest_load(manifest, &m, &err) != 0)
			return;
		tp[r] = now_ms() - t0;
		t0 = now_ms();
		if (conduit_registry_load(path, &reg, &err) != 0)
			return;
		tl[r] = now_ms() - t0;
		t0 = now_ms();
		if (conduit_plan_build(&reg, &m, false, &p, &err) != 0)
			return;
		tpl[r] = now_ms() - t0;
		if (!conduit_plan_empty(&p))
			fprintf(stderr, "unexpected: plan not empty\n");
		conduit_plan_free(&p);
		conduit_registry_free(&reg);
		conduit_manifest_free(&m);
	}
	report("  parse manifest (libyaml)", tp, runs);
	report("  load services.json", tl, runs);
	report("  plan (unchanged)", tpl, runs);

	memset(&t, 0, sizeof(t));
	t.state_dir = dir;
	t.settings = &st;
	conduit_registry_init(&t.cur);
	if (conduit_registry_load(path, &t.cur, &err) != 0)
		return;
	for (i = 0; b[i] != NULL; i++) {
		if (b[i]->enabled && !b[i]->enabled(&t))
			continue;
		for (r = 0; r < runs; r++) {
			char *doc = NULL;
			size_t len = 0;
			double t0 = now_ms();
			if (b[i]->render(&t, &t.cur, &doc, &len, &err) != 0) {
				fprintf(stderr, "%s render: %s\n", b[i]->name, err.msg);
				return;
			}
			tp[r] = now_ms() - t0;
			free(doc);
		}
		snprintf(label, sizeof(label), "  render %s (pure)", b[i]->name);
		report(label, tp, runs);
	}
	conduit_registry_free(&t.cur);
	free(tp);
	free(tl);
	free(tpl);
}

/* The records the first apply wrote (audit.log of dir, from the first
 * service_register to the apply summary), appended again through the
 * library: the share of the audit log and its capsule chain. */
static void
audit_share(const char *dir, int runs)
{
	struct conduit_audit_rec *recs = NULL;
	struct conduit_err err;
	cJSON **docs = NULL;
	char path[600], *text = NULL, *line, *save = NULL, label[64];
	size_t len, n = 0, i;
	double *t = calloc((size_t)runs, sizeof(double));
	bool in = false;
	int r;

	snprintf(path, sizeof(path), "%s/audit.log", dir);
	if (t == NULL || conduit_read_file(path, &text, &len, &err) != 0)
		goto out;
	recs = calloc(len / 64 + 1, sizeof(*recs));
	docs = calloc(len / 64 + 1, sizeof(*docs));
	if (recs == NULL || docs == NULL)
		goto out;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		cJSON *o = cJSON_Parse(line);
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "action");
		if (!cJSON_IsString(a)) {
			cJSON_Delete(o);
			continue;
		}
		in = in || strcmp(a->valuestring, "service_register") == 0;
		if (!in) {
			cJSON_Delete(o);
			continue;
		}
		docs[n] = o;
		recs[n] = (struct conduit_audit_rec){ a->valuestring, true,
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o,
		    "message")), cJSON_GetObjectItemCaseSensitive(o, "details") };
		n++;
		if (strcmp(a->valuestring, "apply") == 0)
			break;
	}
	for (r = 0; r < runs; r++) {
		double t0 = now_ms();
		if (conduit_audit_append_many(dir, recs, n, &err) != 0) {
			fprintf(stderr, "audit: %s\n", err.msg);
			goto out;
		}
		t[r] = now_ms() - t0;
	}
	snprintf(label, sizeof(label), "  audit append (%zu records)", n);
	report(label, t, runs);
out:
	for (i = 0; docs != NULL && i < n; i++)
		cJSON_Delete(docs[i]);
	free(docs);
	free(recs);
	free(text);
	free(t);
}

int
main(int argc, char **argv)
{
	const char *bin;
	char tmp[] = "/tmp/conduit-bench-apply-XXXXXX", dir[600], man[600];
	double *empty, *again;
	int runs = 10, r, i;
	bool live = false;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_apply CONDUIT_BIN [RUNS] [--live]\n");
		return 2;
	}
	bin = argv[1];
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--live") == 0)
			live = true;
		else
			runs = atoi(argv[i]);
	}
	if (runs < 1 || runs > 100 || mkdtemp(tmp) == NULL)
		return 2;
	/* dnsmasq drops to its own user and must reach the state dirs. */
	if (live && chmod(tmp, 0711) != 0)
		return 1;
	snprintf(man, sizeof(man), "%s/services.yaml", tmp);
	if (write_manifest(man) != 0)
		return 1;
	empty = calloc((size_t)runs, sizeof(double));
	again = calloc((size_t)runs, sizeof(double));
	if (empty == NULL || again == NULL)
		return 1;

	printf("conduit apply, %d services, %s\n", NSVC, live ?
	    "live Caddy + dnsmasq (conduit up)" : "--no-reload (files only)");
	for (r = 0; r < runs; r++) {
		double t0;
		snprintf(dir, sizeof(dir), "%s/s%d", tmp, r);
		if (init_state(bin, dir) != 0) {
			fprintf(stderr, "init failed\n");
			return 1;
		}
		if (live && updown(bin, dir, "up") != 0) {
			fprintf(stderr, "conduit up failed (see %s/logs)\n", dir);
			return 1;
		}
		t0 = now_ms();
		if (apply(bin, dir, man, live) != 0) {
			fprintf(stderr, "apply failed\n");
			if (live)
				updown(bin, dir, "down");
			return 1;
		}
		empty[r] = now_ms() - t0;
		t0 = now_ms();
		if (apply(bin, dir, man, live) != 0) {
			fprintf(stderr, "re-apply failed\n");
			if (live)
				updown(bin, dir, "down");
			return 1;
		}
		again[r] = now_ms() - t0;
		if (live)
			updown(bin, dir, "down");
	}
	report("apply from empty", empty, runs);
	report("re-apply unchanged", again, runs);
	printf("phases (in-process, same manifest and registry):\n");
	phases(dir, man, runs);
	audit_share(dir, runs < 3 ? runs : 3);
	{
		char *rm[] = { "/bin/rm", "-rf", tmp, NULL };
		(void)run(rm);
	}
	free(empty);
	free(again);
	return 0;
}
