/*
 * bench_util.h - what every benchmark program needs: a monotonic clock,
 * running the conduit binary as a child, and median/p95 of a sample.
 * Header-only (static functions) because each bench_*.c is its own
 * executable.
 */
#ifndef CONDUIT_BENCH_UTIL_H
#define CONDUIT_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs argv[0] (a path) with stdout to /dev/null; its exit status or -1. */
static int
run(char *const argv[])
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts t[0..runs) and gives its median and 95th percentile. */
static void
bench_stats(double *t, int runs, double *median, double *p95)
{
	int i95 = (runs * 95) / 100;

	qsort(t, (size_t)runs, sizeof(*t), bench_cmp);
	*median = t[runs / 2];
	*p95 = t[i95 < runs ? i95 : runs - 1];
}

#endif
