/*
 * err.h - the one error channel.
 *
 * Every function below the CLI returns 0 on success or a negative
 * CONDUIT_E* code, and fills a caller-owned struct conduit_err with a
 * one-line human message ("port \"70000\" is out of range 1-65535").
 * Only src/cli/main.c turns a code into an exit status and prints the
 * message; nothing below the CLI calls exit() or writes to stderr.
 */
#ifndef CONDUIT_ERR_H
#define CONDUIT_ERR_H

#include <stddef.h>

enum conduit_code {
	CONDUIT_OK = 0,
	CONDUIT_EUSAGE = -1,	/* command line cannot be parsed: exit 2 */
	CONDUIT_EINVAL = -2,	/* a value parses but breaks a rule */
	CONDUIT_EIO = -3,	/* file system or OS call failed */
	CONDUIT_ENOTFOUND = -4,
	CONDUIT_EEXISTS = -5,
	CONDUIT_ECORRUPT = -6,	/* a state file cannot be parsed */
	CONDUIT_EBACKEND = -7,	/* Caddy/dnsmasq/ssh/... refused or unreachable */
	CONDUIT_ENOMEM = -8,
	CONDUIT_ESTATE = -9,	/* state dir missing / not initialised / unsafe */
	CONDUIT_EINTERNAL = -10,
};

struct conduit_err {
	int code;
	char msg[1024];
};

/* Sets err (if non-NULL) and returns code, so callers can write
 * `return conduit_err_set(err, CONDUIT_EINVAL, "...", ...);` */
int conduit_err_set(struct conduit_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes the existing message: "loading services.json: <old msg>". */
int conduit_err_wrap(struct conduit_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void conduit_err_clear(struct conduit_err *err);

#endif
