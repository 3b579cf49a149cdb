/*
 * bench_caddy_render.c - CPU time of rendering the Caddy config.
 *
 * The in-process part of conduit's share of a register: one render of
 * the complete config for N services (a register renders twice: the
 * registry before and after).  Prints median and p95 over R runs.
 *
 *   build-rel/bench/bench_caddy_render [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conduit/caddy.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static const size_t sizes[] = { 10, 100, 1000 };
	int runs = argc > 1 ? atoi(argv[1]) : 101, r;
	struct conduit_caddy_paths p;
	struct conduit_settings s;
	struct conduit_err err;
	double *t;
	size_t k, i;

	if (runs < 1 || (t = calloc((size_t)runs, sizeof(*t))) == NULL)
		return 1;
	conduit_settings_defaults(&s);
	if (conduit_caddy_paths("/var/lib/conduit", &p, &err) != 0)
		return 1;
	printf("%6s %10s %12s %12s\n", "N", "bytes", "median ms", "p95 ms");
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct conduit_registry reg;
		size_t len = 0;
		conduit_registry_init(&reg);
		for (i = 0; i < sizes[k]; i++) {
			struct conduit_service sv;
			memset(&sv, 0, sizeof(sv));
			snprintf(sv.name, sizeof(sv.name), "svc%zu", i);
			sv.upstreams = calloc(1, sizeof(*sv.upstreams));
			snprintf(sv.upstreams[0].host, CONDUIT_HOST_MAX,
			    "127.0.0.%zu", 1 + i % 200);
			sv.upstreams[0].port = 10000 + (long)i;
			sv.n_upstreams = 1;
			snprintf(sv.scheme, sizeof(sv.scheme), "http");
			sv.tls = true;
			sv.status = SVC_ACTIVE;
			if (conduit_registry_add(&reg, &sv, &err) != 0)
				return 1;
		}
		for (r = 0; r < runs; r++) {
			char *doc;
			double t0 = now_ms();
			if (conduit_caddy_render(&s, &reg, &p, &doc, &len,
			    &err) != 0)
				return 1;
			t[r] = now_ms() - t0;
			free(doc);
		}
		qsort(t, (size_t)runs, sizeof(*t), cmp);
		printf("%6zu %10zu %12.3f %12.3f\n", sizes[k], len, t[runs / 2],
		    t[(size_t)(runs * 95 / 100) < (size_t)runs ?
		    (size_t)(runs * 95 / 100) : (size_t)runs - 1]);
		conduit_registry_free(&reg);
	}
	free(t);
	return 0;
}
