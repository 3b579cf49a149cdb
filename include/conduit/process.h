/*
 * process.h - starting and stopping the programs conduit manages.
 *
 * conduit only ever signals a process it can prove it started: the pid
 * comes from a pid file in the state dir, and /proc/PID/exe must name
 * the expected program (basename match, " (deleted)" tolerated).  A pid
 * file whose process is gone or is some other program is stale: it is
 * removed and the daemon counts as not running.  Nothing is ever
 * signalled by name.
 */
#ifndef CONDUIT_PROCESS_H
#define CONDUIT_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "conduit/err.h"
#include "conduit/settings.h"

/* Starts argv[0] (looked up in PATH) detached in its own session, stdin
 * from /dev/null, stdout+stderr appended to logfile (0600).  When
 * pidfile is non-NULL the child's pid is written there atomically.
 * Returns at once; *pid receives the child's pid. */
int conduit_proc_spawn(char *const argv[], const char *logfile,
    const char *pidfile, pid_t *pid, struct conduit_err *err);

/* Reads pidfile and checks the process is alive and runs a program
 * whose basename is exe_name.  0 with *pid set when it runs;
 * CONDUIT_ENOTFOUND when not running (a stale pid file is removed). */
int conduit_proc_running(const char *pidfile, const char *exe_name,
    pid_t *pid, struct conduit_err *err);

/* Sends sig to the verified process of pidfile. */
int conduit_proc_signal(const char *pidfile, const char *exe_name, int sig,
    struct conduit_err *err);

/* SIGTERM, wait up to timeout_ms, then SIGKILL; removes the pid file.
 * CONDUIT_ENOTFOUND when it was not running. */
int conduit_proc_stop(const char *pidfile, const char *exe_name,
    long timeout_ms, struct conduit_err *err);

/* Whether pid is alive and its /proc/PID/exe basename is exe_name. */
bool conduit_proc_is(pid_t pid, const char *exe_name);

/* Sleeps in small steps until ready(arg) returns true or timeout_ms
 * passes; returns 0 or CONDUIT_EBACKEND. Bounded by design. */
int conduit_proc_wait(bool (*ready)(void *arg), void *arg, long timeout_ms);

/*
 * The daemons `conduit up` and `conduit down` manage, in start order.
 * Each lives in src/backend/ and is listed in src/backend/daemons.c.
 */
struct conduit_daemon {
	const char *name;	/* "caddy", "dnsmasq" */
	bool (*enabled)(const struct conduit_settings *s);
	/* Starts it (configured from the state dir) and waits until it
	 * answers; CONDUIT_EEXISTS when it already runs. */
	int (*start)(const char *state_dir, const struct conduit_settings *s,
	    struct conduit_err *err);
	int (*stop)(const char *state_dir, struct conduit_err *err);
	/* 0 and *pid when running; CONDUIT_ENOTFOUND when not. */
	int (*running)(const char *state_dir, pid_t *pid,
	    struct conduit_err *err);
};

const struct conduit_daemon *const *conduit_daemons(void);

#endif
