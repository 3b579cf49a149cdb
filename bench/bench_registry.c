/*
 * bench_registry.c - wall time of `conduit register` and `deregister`
 * (--no-reload) against registries of 100, 1,000 and 10,000 services.
 *
 * usage: bench_registry CONDUIT_BIN [RUNS]
 *
 * For each size a fresh state dir is initialised with the real binary,
 * filled with N services (written through the library, as the binary
 * would), then RUNS registers of new names and RUNS deregisters of
 * those names are timed one by one, each a full fork+exec of the binary.
 * Prints median and p95 in milliseconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conduit/fsutil.h"
#include "conduit/registry.h"

#include "bench_util.h"

static void
report(const char *what, size_t n, double *t, int runs)
{
	double median, p95;

	bench_stats(t, runs, &median, &p95);
	printf("%-11s n=%-6zu runs=%-3d median %7.2f ms   p95 %7.2f ms\n", what, n,
	    runs, median, p95);
}

static int
fill(const char *dir, size_t n)
{
	struct conduit_registry reg;
	struct conduit_err err;
	char path[512];
	size_t i;

	conduit_registry_init(&reg);
	for (i = 0; i < n; i++) {
		struct conduit_service s;
		memset(&s, 0, sizeof(s));
		snprintf(s.name, sizeof(s.name), "svc-%06zu", i);
		s.upstreams = calloc(1, sizeof(*s.upstreams));
		s.n_upstreams = 1;
		snprintf(s.upstreams[0].host, sizeof(s.upstreams[0].host),
		    "127.0.%zu.%zu", (i / 250) % 250, i % 250 + 1);
		s.upstreams[0].port = 8000 + (long)(i % 1000);
		snprintf(s.scheme, sizeof(s.scheme), "http");
		snprintf(s.health, sizeof(s.health), "unknown");
		s.tls = true;
		s.status = SVC_ACTIVE;
		conduit_timestamp(s.registered_at, 0);
		memcpy(s.updated_at, s.registered_at, sizeof(s.updated_at));
		if (conduit_registry_add(&reg, &s, &err) != 0)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/services.json", dir);
	if (conduit_registry_save(path, &reg, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	conduit_registry_free(&reg);
	return 0;
}

int
main(int argc, char **argv)
{
	static const size_t sizes[] = { 100, 1000, 10000 };
	int runs = argc > 2 ? atoi(argv[2]) : 31;
	double *t;
	size_t si;

	if (argc < 2 || runs < 3 || runs > 1000) {
		fprintf(stderr, "usage: bench_registry CONDUIT_BIN [RUNS 3-1000]\n");
		return 2;
	}
	t = calloc((size_t)runs, sizeof(*t));
	printf("conduit register/deregister --no-reload, one process per call\n");
	for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		char dir[] = "/tmp/conduit-bench-XXXXXX", name[32], port[16];
		int i;

		if (mkdtemp(dir) == NULL)
			return 1;
		{
			char *init[] = { argv[1], "--state-dir", dir, "init", "--force",
				"--listen", "127.0.0.1", NULL };
			if (run(init) != 0 || fill(dir, sizes[si]) != 0) {
				fprintf(stderr, "setup failed\n");
				return 1;
			}
		}
		for (i = 0; i < runs; i++) {
			char *reg[] = { argv[1], "--state-dir", dir, "register", name,
				"--host", "127.0.0.1", "--port", port, "--no-reload", NULL };
			double t0;
			snprintf(name, sizeof(name), "bench-%d", i);
			snprintf(port, sizeof(port), "%d", 20000 + i);
			t0 = now_ms();
			if (run(reg) != 0) {
				fprintf(stderr, "register failed\n");
				return 1;
			}
			t[i] = now_ms() - t0;
		}
		report("register", sizes[si], t, runs);
		for (i = 0; i < runs; i++) {
			char *dereg[] = { argv[1], "--state-dir", dir, "deregister",
				name, "--no-reload", NULL };
			double t0;
			snprintf(name, sizeof(name), "bench-%d", i);
			t0 = now_ms();
			if (run(dereg) != 0) {
				fprintf(stderr, "deregister failed\n");
				return 1;
			}
			t[i] = now_ms() - t0;
		}
		report("deregister", sizes[si], t, runs);
		{
			char cmd[600];
			snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
			if (system(cmd) != 0)
				fprintf(stderr, "could not remove %s\n", dir);
		}
	}
	free(t);
	return 0;
}
