/*
 * process.c - spawn, verify, signal and stop managed programs.
 *
 * Verification reads /proc/PID/exe: a recycled pid that now belongs to
 * another program is never signalled.  Spawning double-forks so the
 * daemon is re-parented to init and conduit can exit; the grandchild's
 * pid travels back over a pipe before the pid file is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conduit/fsutil.h"
#include "conduit/process.h"

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

bool
conduit_proc_is(pid_t pid, const char *exe_name)
{
	char link[64], target[4096], *base, *del;
	ssize_t n;

	if (pid <= 1 || kill(pid, 0) != 0)
		return false;
	snprintf(link, sizeof(link), "/proc/%ld/exe", (long)pid);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	if ((del = strstr(target, " (deleted)")) != NULL)
		*del = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	return strcmp(base, exe_name) == 0;
}

static int
read_pid(const char *pidfile, pid_t *pid, struct conduit_err *err)
{
	char *data;
	long v;
	char *end;
	int rc;

	if ((rc = conduit_read_file(pidfile, &data, NULL, err)) != 0)
		return rc;
	errno = 0;
	v = strtol(data, &end, 10);
	if (errno != 0 || end == data || v <= 1 || v > 4194304 ||
	    (*end != '\0' && *end != '\n')) {
		free(data);
		return conduit_err_set(err, CONDUIT_ENOTFOUND,
		    "pid file %s does not hold a pid", pidfile);
	}
	free(data);
	*pid = (pid_t)v;
	return 0;
}

int
conduit_proc_running(const char *pidfile, const char *exe_name, pid_t *pid,
    struct conduit_err *err)
{
	pid_t p = 0;
	int rc = read_pid(pidfile, &p, err);

	if (rc == 0 && conduit_proc_is(p, exe_name)) {
		if (pid)
			*pid = p;
		return 0;
	}
	if (rc == 0 || rc == CONDUIT_ENOTFOUND)
		(void)unlink(pidfile);	/* stale: gone, or another program */
	if (rc != 0 && rc != CONDUIT_ENOTFOUND)
		return rc;
	return conduit_err_set(err, CONDUIT_ENOTFOUND, "%s is not running",
	    exe_name);
}

int
conduit_proc_signal(const char *pidfile, const char *exe_name, int sig,
    struct conduit_err *err)
{
	pid_t pid = 0;
	int rc;

	if ((rc = conduit_proc_running(pidfile, exe_name, &pid, err)) != 0)
		return rc;
	if (kill(pid, sig) != 0)
		return conduit_err_set(err, CONDUIT_EBACKEND,
		    "cannot signal %s (pid %ld): %s", exe_name, (long)pid,
		    strerror(errno));
	return 0;
}

int
conduit_proc_stop(const char *pidfile, const char *exe_name, long timeout_ms,
    struct conduit_err *err)
{
	pid_t pid = 0;
	long waited = 0;
	int rc;

	if ((rc = conduit_proc_running(pidfile, exe_name, &pid, err)) != 0)
		return rc;
	if (kill(pid, SIGTERM) != 0 && errno != ESRCH)
		return conduit_err_set(err, CONDUIT_EBACKEND,
		    "cannot stop %s (pid %ld): %s", exe_name, (long)pid,
		    strerror(errno));
	while (kill(pid, 0) == 0 && waited < timeout_ms) {
		/* Reap it if it happens to be our child. */
		(void)waitpid(pid, NULL, WNOHANG);
		sleep_ms(20);
		waited += 20;
	}
	if (kill(pid, 0) == 0) {
		(void)kill(pid, SIGKILL);
		sleep_ms(50);
		(void)waitpid(pid, NULL, WNOHANG);
	}
	(void)unlink(pidfile);
	return 0;
}

int
conduit_proc_wait(bool (*ready)(void *arg), void *arg, long timeout_ms)
{
	long waited = 0, step = 5;

	for (;;) {
		if (ready(arg))
			return 0;
		if (waited >= timeout_ms)
			return CONDUIT_EBACKEND;
		sleep_ms(step);
		waited += step;
		if (step < 50)
			step *= 2;
	}
}

int
conduit_proc_spawn(char *const argv[], const char *logfile, const char *pidfile,
    pid_t *pid, struct conduit_err *err)
{
	int pfd[2], status;
	pid_t child, grand = -1;
	ssize_t n;
	char buf[32];

	if (pipe2(pfd, O_CLOEXEC) != 0)
		return conduit_err_set(err, CONDUIT_EIO, "pipe: %s", strerror(errno));
	child = fork();
	if (child < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return conduit_err_set(err, CONDUIT_EIO, "fork: %s", strerror(errno));
	}
	if (child == 0) {
		int fd;
		close(pfd[0]);
		if (setsid() < 0)
			_exit(127);
		grand = fork();
		if (grand != 0) {
			(void)!write(pfd[1], &grand, sizeof(grand));
			_exit(grand < 0 ? 127 : 0);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		fd = open(logfile, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		umask(077);
		execvp(argv[0], argv);
		dprintf(2, "conduit: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	n = read(pfd[0], &grand, sizeof(grand));
	close(pfd[0]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(grand) || grand <= 0)
		return conduit_err_set(err, CONDUIT_EBACKEND,
		    "cannot start %s", argv[0]);
	if (pidfile != NULL) {
		int len = snprintf(buf, sizeof(buf), "%ld\n", (long)grand);
		int rc = conduit_write_atomic(pidfile, buf, (size_t)len, 0600, err);
		if (rc != 0) {
			(void)kill(grand, SIGTERM);
			return rc;
		}
	}
	if (pid)
		*pid = grand;
	return 0;
}
