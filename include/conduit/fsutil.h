/*
 * fsutil.h - the only way conduit writes files.
 *
 * Every state file is written atomically with its final mode from the
 * start (open O_CREAT|O_EXCL of a temp name in the same directory with
 * the mode, write, fsync, rename over the target, fsync the directory),
 * and a target that is a symbolic link is refused rather than followed.
 * Locks are flock(2) on a lock file, so they vanish with the process
 * (kill -9 never leaves a stale lock).
 */
#ifndef CONDUIT_FSUTIL_H
#define CONDUIT_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conduit/err.h"

/* Atomically replace path with data[0..len) at mode. */
int conduit_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode, struct conduit_err *err);

/* Reads the whole file into a NUL-terminated malloc'd buffer.  A symlink
 * is refused; a missing file is CONDUIT_ENOTFOUND. */
int conduit_read_file(const char *path, char **data, size_t *len,
    struct conduit_err *err);

/* mkdir -p with mode for every created component; an existing final
 * directory gets its mode enforced (chmod) and must not be a symlink. */
int conduit_mkdir_p(const char *path, mode_t mode, struct conduit_err *err);

/* Refuses (CONDUIT_ESTATE) when path exists and is a symlink. */
int conduit_refuse_symlink(const char *path, struct conduit_err *err);

/* Appends one line under an exclusive flock on the file itself, with
 * O_APPEND, then fsync.  Creates the file at mode. */
int conduit_append_line(const char *path, const char *line, mode_t mode,
    struct conduit_err *err);

/* A text file split into lines in place: v[i] points into buf, each
 * NUL-terminated, without its '\n'.  Empty lines are kept, so line i of
 * the file is v[i] (the audit log relies on that: line i is capsule i).
 * A final newline does not make an extra empty line. */
struct conduit_lines {
	char *buf;
	char **v;
	size_t n;
};

/* Reads path into l.  A missing file is CONDUIT_ENOTFOUND with l empty. */
int conduit_read_lines(const char *path, struct conduit_lines *l,
    struct conduit_err *err);
void conduit_lines_free(struct conduit_lines *l);

struct conduit_lock {
	int fd;
};

/* Blocking exclusive flock on <dir>/<name>.lock (created 0600). */
int conduit_lock_acquire(const char *dir, const char *name,
    struct conduit_lock *lk, struct conduit_err *err);
void conduit_lock_release(struct conduit_lock *lk);

/* snprintf into out or CONDUIT_EINVAL "path too long". */
int conduit_path_join(char *out, size_t outlen, const char *dir,
    const char *name, struct conduit_err *err);

/* UTC "YYYY-MM-DDTHH:MM:SSZ" for t (t == 0: now). */
void conduit_timestamp(char out[32], long long t);

#endif
