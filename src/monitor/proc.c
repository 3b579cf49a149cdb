/*
 * proc.c - run programs without a shell, in parallel, with a deadline.
 *
 * nvidia-smi and ssh are the only programs monitor runs.  Each job gets
 * its own stdout and stderr pipes (nvidia-smi writes its failures on
 * stdout, ssh on stderr: callers decide what to show), started with
 * posix_spawnp so no shell ever sees an argument.  One poll loop drains
 * every pipe; at the deadline whatever is still running is killed, so a
 * hung child costs at most timeout_ms and never delays the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conduit/monitor.h"

#define OUT_MAX (8u << 20)

extern char **environ;

struct run {
	pid_t pid;
	int fd[2];		/* stdout, stderr read ends; -1 when closed */
	char *buf[2];
	size_t len[2], cap[2];
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
spawn_one(struct conduit_mon_job *job, struct run *r)
{
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	int rc;

	if (pipe2(po, O_CLOEXEC) != 0)
		return errno;
	if (pipe2(pe, O_CLOEXEC) != 0) {
		rc = errno;
		close(po[0]);
		close(po[1]);
		return rc;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	rc = posix_spawnp(&r->pid, job->argv[0], &fa, NULL, job->argv,
	    environ);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	if (rc != 0) {
		close(po[0]);
		close(pe[0]);
		r->pid = -1;
		return rc;
	}
	r->fd[0] = po[0];
	r->fd[1] = pe[0];
	fcntl(r->fd[0], F_SETFL, O_NONBLOCK);
	fcntl(r->fd[1], F_SETFL, O_NONBLOCK);
	return 0;
}

/* Reads what is there; returns false when the stream has ended. */
static bool
drain(struct run *r, int s)
{
	char tmp[16384];
	ssize_t got;

	for (int i = 0; i < 64; i++) {
		got = read(r->fd[s], tmp, sizeof tmp);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return errno == EAGAIN;
		if (got == 0)
			return false;
		if (r->len[s] + (size_t)got > OUT_MAX)
			continue;	/* keep reading, drop the excess */
		if (r->len[s] + (size_t)got + 1 > r->cap[s]) {
			size_t nc = (r->cap[s] ? r->cap[s] * 2 : 8192);
			char *nb;

			while (nc < r->len[s] + (size_t)got + 1)
				nc *= 2;
			nb = realloc(r->buf[s], nc);
			if (nb == NULL)
				continue;
			r->buf[s] = nb;
			r->cap[s] = nc;
		}
		memcpy(r->buf[s] + r->len[s], tmp, (size_t)got);
		r->len[s] += (size_t)got;
	}
	return true;
}

static char *
take(char *buf, size_t len)
{
	if (buf == NULL)
		return strdup("");
	buf[len] = '\0';
	return buf;
}

int
conduit_mon_run_jobs(struct conduit_mon_job *jobs, size_t n, long timeout_ms,
    struct conduit_err *err)
{
	struct run *runs;
	struct pollfd *pfd;
	size_t *map;
	long long deadline = now_ms() + timeout_ms;
	bool killed = false;

	runs = calloc(n ? n : 1, sizeof *runs);
	pfd = calloc(n ? 2 * n : 1, sizeof *pfd);
	map = calloc(n ? 2 * n : 1, sizeof *map);
	if (runs == NULL || pfd == NULL || map == NULL) {
		free(runs);
		free(pfd);
		free(map);
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		runs[i].fd[0] = runs[i].fd[1] = -1;
		jobs[i].out = jobs[i].errout = NULL;
		jobs[i].outlen = jobs[i].errlen = 0;
		jobs[i].exited = jobs[i].timed_out = false;
		jobs[i].status = 0;
		jobs[i].spawn_errno = spawn_one(&jobs[i], &runs[i]);
	}

	/* Bounded by the deadline: after it, every child is killed, its
	 * pipes reach EOF and the loop ends. */
	for (;;) {
		size_t np = 0;
		long long left = deadline - now_ms();
		int rc;

		for (size_t i = 0; i < n; i++)
			for (int s = 0; s < 2; s++)
				if (runs[i].fd[s] >= 0) {
					pfd[np].fd = runs[i].fd[s];
					pfd[np].events = POLLIN;
					map[np++] = i * 2 + (size_t)s;
				}
		if (np == 0)
			break;
		if (left <= 0 && !killed) {
			for (size_t i = 0; i < n; i++)
				if (runs[i].pid > 0 &&
				    (runs[i].fd[0] >= 0 || runs[i].fd[1] >= 0)) {
					kill(runs[i].pid, SIGKILL);
					jobs[i].timed_out = true;
				}
			killed = true;
		}
		if (killed) {
			/* A grandchild may hold the pipe open after the
			 * kill: give it a moment, then stop reading. */
			if (left < -1000) {
				for (size_t k = 0; k < np; k++) {
					close(pfd[k].fd);
					runs[map[k] / 2].fd[map[k] % 2] = -1;
				}
				break;
			}
			left = 100;
		}
		rc = poll(pfd, np, (int)(left > 1000 ? 1000 : left));
		if (rc < 0 && errno != EINTR)
			break;
		for (size_t k = 0; k < np; k++) {
			struct run *r = &runs[map[k] / 2];
			int s = (int)(map[k] % 2);

			if (pfd[k].revents == 0)
				continue;
			if (!drain(r, s)) {
				close(r->fd[s]);
				r->fd[s] = -1;
			}
		}
	}

	for (size_t i = 0; i < n; i++) {
		struct run *r = &runs[i];

		for (int s = 0; s < 2; s++)
			if (r->fd[s] >= 0)
				close(r->fd[s]);
		if (r->pid > 0) {
			int st = 0;
			pid_t w;

			/* A child that closed its pipes may still run:
			 * wait until the deadline, then kill it, so the
			 * wait is bounded too. */
			for (;;) {
				w = waitpid(r->pid, &st, WNOHANG);
				if (w != 0 || now_ms() >= deadline)
					break;
				nanosleep(&(struct timespec){ 0, 2000000 },
				    NULL);
			}
			if (w == 0) {
				kill(r->pid, SIGKILL);
				jobs[i].timed_out = true;
				do
					w = waitpid(r->pid, &st, 0);
				while (w < 0 && errno == EINTR);
			}
			if (w == r->pid && !jobs[i].timed_out) {
				jobs[i].exited = WIFEXITED(st);
				jobs[i].status = st;
			}
		}
		jobs[i].out = take(r->buf[0], r->len[0]);
		jobs[i].outlen = r->len[0];
		jobs[i].errout = take(r->buf[1], r->len[1]);
		jobs[i].errlen = r->len[1];
	}
	free(runs);
	free(pfd);
	free(map);
	return 0;
}

void
conduit_mon_job_free(struct conduit_mon_job *job)
{
	free(job->out);
	free(job->errout);
	job->out = job->errout = NULL;
}
