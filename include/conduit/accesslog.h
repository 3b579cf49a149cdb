/*
 * accesslog.h - Caddy's JSON access log records and the log-file
 * follower behind `conduit logs`.
 *
 * Caddy writes one JSON object per request to
 * <state>/logs/access/NAME.log:
 *   {"level":"info","ts":1712345678.123,"logger":"http.log.access.NAME",
 *    "msg":"handled request","request":{"remote_ip","remote_port",
 *    "client_ip" (2.7+),"proto","method","host","uri","headers"},
 *    "duration":0.0012,"size":12,"status":200,"resp_headers":{...}}
 * Records are read with cJSON; anything else on a line (a torn write,
 * another logger's message) is "not an access record", never a guess.
 */
#ifndef CONDUIT_ACCESSLOG_H
#define CONDUIT_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conduit/err.h"

struct conduit_access_rec {
	double ts;		/* seconds since the epoch (UTC) */
	char client[64];	/* client_ip, else remote_ip */
	char method[16];
	char proto[16];
	char host[256];
	char uri[1024];
	long status;
	double duration;	/* seconds */
	long long size;		/* response body bytes */
	char upstream[256];	/* "" unless the record names one */
};

/* Parses one line.  CONDUIT_EINVAL (err says why) when it is not a
 * Caddy access record. */
int conduit_accesslog_parse(const char *line, struct conduit_access_rec *r,
    struct conduit_err *err);

/* The ts of a JSON log line of any Caddy logger (access or gateway);
 * -1 when the line has none. */
double conduit_accesslog_line_ts(const char *line);

struct conduit_access_filter {
	double since;		/* records at or after; 0 = all */
	int status_class;	/* 4 for 4xx, 5 for 5xx; 0 = any */
	long status;		/* exact code; 0 = any */
};

/* Parses --status: "5xx", "4xx" (any NXX class 1-5) or a code 100-599. */
int conduit_accesslog_parse_status(const char *in,
    struct conduit_access_filter *f, struct conduit_err *err);

bool conduit_accesslog_match(const struct conduit_access_filter *f,
    const struct conduit_access_rec *r);

/* One human line (no newline): TIME CLIENT METHOD HOST PATH STATUS
 * DURATION UPSTREAM BYTES. */
void conduit_accesslog_format(const struct conduit_access_rec *r,
    char *out, size_t len);

/* "2026-04-04T10:15:30.123Z" for ts. */
void conduit_accesslog_time(double ts, char out[32]);

/*
 * A `tail -F` reader.  conduit_follow_open() remembers the file's
 * identity; conduit_follow_poll() delivers every complete new line and
 * survives rotation (the path now names another inode: the old file is
 * drained, then the new one is read from its start) and truncation
 * (the file is shorter than what was read: start again at 0).  A path
 * that does not exist yet is waited for.
 */
struct conduit_follow {
	char *path;
	int fd;			/* -1 while the path is absent */
	dev_t dev;
	ino_t ino;
	off_t off;		/* bytes of fd consumed */
	char *buf;		/* an incomplete last line */
	size_t len, cap;
};

typedef void (*conduit_line_fn)(const char *line, void *arg);

/* Starts at byte `off` of the file currently at path (use the offset a
 * backlog read ended at, or 0). */
int conduit_follow_open(struct conduit_follow *f, const char *path,
    off_t off, struct conduit_err *err);
int conduit_follow_poll(struct conduit_follow *f, conduit_line_fn fn,
    void *arg, struct conduit_err *err);
void conduit_follow_close(struct conduit_follow *f);

#endif
