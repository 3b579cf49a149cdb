/*
 * fsutil.c - atomic writes, safe reads, directories, locks.
 *
 * The atomic write creates "<dir>/.<base>.XXXXXX" with O_EXCL and the
 * final mode (so the content is never visible with a wider mode), then
 * write-all, fsync, rename, fsync(dir).  On any failure the temp file
 * is unlinked, so a rejected command leaves no debris.  kill -9 between
 * the write and the rename leaves only a dot-temp file that no reader
 * looks at; the target is always the old or the new content.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conduit/fsutil.h"

int
conduit_path_join(char *out, size_t outlen, const char *dir, const char *name,
    struct conduit_err *err)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= outlen)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "path \"%s/%s\" is too long", dir, name);
	return 0;
}

int
conduit_refuse_symlink(const char *path, struct conduit_err *err)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		return conduit_err_set(err, CONDUIT_ESTATE,
		    "%s is a symbolic link; refusing to use it (replace it "
		    "with a regular file)", path);
	return 0;
}

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
fsync_dir_of(const char *path)
{
	char buf[PATH_MAX];
	int fd, rc;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -1;
	fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
conduit_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode, struct conduit_err *err)
{
	char dirbuf[PATH_MAX], basebuf[PATH_MAX], tmp[PATH_MAX];
	int fd, n, saved;

	if (conduit_refuse_symlink(path, err) != 0)
		return err ? err->code : CONDUIT_ESTATE;
	if (snprintf(dirbuf, sizeof(dirbuf), "%s", path) >= (int)sizeof(dirbuf) ||
	    snprintf(basebuf, sizeof(basebuf), "%s", path) >= (int)sizeof(basebuf))
		return conduit_err_set(err, CONDUIT_EINVAL, "path too long: %s", path);
	n = snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dirname(dirbuf),
	    basename(basebuf));
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return conduit_err_set(err, CONDUIT_EINVAL, "path too long: %s", path);

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return conduit_err_set(err, CONDUIT_EIO,
		    "cannot create a temporary file beside %s: %s", path,
		    strerror(errno));
	if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		return conduit_err_set(err, CONDUIT_EIO, "cannot write %s: %s",
		    path, strerror(saved));
	}
	if (close(fd) != 0) {
		saved = errno;
		unlink(tmp);
		return conduit_err_set(err, CONDUIT_EIO, "cannot write %s: %s",
		    path, strerror(saved));
	}
	if (rename(tmp, path) != 0) {
		saved = errno;
		unlink(tmp);
		return conduit_err_set(err, CONDUIT_EIO,
		    "cannot replace %s: %s", path, strerror(saved));
	}
	if (fsync_dir_of(path) != 0)
		return conduit_err_set(err, CONDUIT_EIO,
		    "cannot sync the directory of %s: %s", path, strerror(errno));
	return 0;
}

int
conduit_read_file(const char *path, char **data, size_t *len,
    struct conduit_err *err)
{
	struct stat st;
	char *buf;
	size_t off = 0;
	int fd;

	*data = NULL;
	if (len)
		*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return conduit_err_set(err, CONDUIT_ENOTFOUND,
			    "%s does not exist", path);
		if (errno == ELOOP)
			return conduit_err_set(err, CONDUIT_ESTATE,
			    "%s is a symbolic link; refusing to use it", path);
		return conduit_err_set(err, CONDUIT_EIO, "cannot open %s: %s",
		    path, strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return conduit_err_set(err, CONDUIT_EIO,
		    "%s is not a regular file", path);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	}
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int saved = errno;
			free(buf);
			close(fd);
			return conduit_err_set(err, CONDUIT_EIO,
			    "cannot read %s: %s", path, strerror(saved));
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	buf[off] = '\0';
	*data = buf;
	if (len)
		*len = off;
	return 0;
}

int
conduit_mkdir_p(const char *path, mode_t mode, struct conduit_err *err)
{
	char buf[PATH_MAX];
	struct stat st;
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return conduit_err_set(err, CONDUIT_EINVAL, "path too long: %s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return conduit_err_set(err, CONDUIT_EIO,
			    "cannot create %s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return conduit_err_set(err, CONDUIT_EIO, "cannot create %s: %s",
		    buf, strerror(errno));
	if (lstat(buf, &st) != 0)
		return conduit_err_set(err, CONDUIT_EIO, "cannot stat %s: %s",
		    buf, strerror(errno));
	if (S_ISLNK(st.st_mode))
		return conduit_err_set(err, CONDUIT_ESTATE,
		    "%s is a symbolic link; refusing to use it", buf);
	if (!S_ISDIR(st.st_mode))
		return conduit_err_set(err, CONDUIT_ESTATE,
		    "%s exists and is not a directory", buf);
	if ((st.st_mode & 07777) != mode && chmod(buf, mode) != 0)
		return conduit_err_set(err, CONDUIT_EIO, "cannot chmod %s: %s",
		    buf, strerror(errno));
	return 0;
}

int
conduit_append_line(const char *path, const char *line, mode_t mode,
    struct conduit_err *err)
{
	size_t len = strlen(line);
	int fd, saved;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    mode);
	if (fd < 0) {
		if (errno == ELOOP)
			return conduit_err_set(err, CONDUIT_ESTATE,
			    "%s is a symbolic link; refusing to use it", path);
		return conduit_err_set(err, CONDUIT_EIO, "cannot open %s: %s",
		    path, strerror(errno));
	}
	if (fchmod(fd, mode) != 0 || flock(fd, LOCK_EX) != 0 ||
	    write_all(fd, line, len) != 0 ||
	    (len == 0 || line[len - 1] != '\n' ? write_all(fd, "\n", 1) : 0) != 0 ||
	    fsync(fd) != 0) {
		saved = errno;
		close(fd);
		return conduit_err_set(err, CONDUIT_EIO, "cannot append to %s: %s",
		    path, strerror(saved));
	}
	close(fd);
	return 0;
}

int
conduit_lock_acquire(const char *dir, const char *name, struct conduit_lock *lk,
    struct conduit_err *err)
{
	char path[PATH_MAX];
	int n;

	lk->fd = -1;
	n = snprintf(path, sizeof(path), "%s/%s.lock", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return conduit_err_set(err, CONDUIT_EINVAL, "path too long: %s", dir);
	lk->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lk->fd < 0)
		return conduit_err_set(err, CONDUIT_EIO, "cannot open lock %s: %s",
		    path, strerror(errno));
	while (flock(lk->fd, LOCK_EX) != 0) {
		if (errno == EINTR)
			continue;
		close(lk->fd);
		lk->fd = -1;
		return conduit_err_set(err, CONDUIT_EIO, "cannot lock %s: %s",
		    path, strerror(errno));
	}
	return 0;
}

void
conduit_lock_release(struct conduit_lock *lk)
{
	if (lk->fd >= 0) {
		(void)flock(lk->fd, LOCK_UN);
		close(lk->fd);
	}
	lk->fd = -1;
}

void
conduit_timestamp(char out[32], long long t)
{
	time_t tt = t ? (time_t)t : time(NULL);
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
conduit_read_lines(const char *path, struct conduit_lines *l,
    struct conduit_err *err)
{
	size_t len, cap = 64;
	char *p;
	int rc;

	l->buf = NULL;
	l->v = NULL;
	l->n = 0;
	if ((rc = conduit_read_file(path, &l->buf, &len, err)) != 0)
		return rc;
	l->v = malloc(cap * sizeof(*l->v));
	if (l->v == NULL)
		goto oom;
	for (p = l->buf; *p; ) {
		char *nl = strchr(p, '\n');

		if (l->n == cap) {
			char **nv = realloc(l->v, 2 * cap * sizeof(*nv));
			if (nv == NULL)
				goto oom;
			l->v = nv;
			cap *= 2;
		}
		l->v[l->n++] = p;
		if (nl == NULL)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	return 0;
oom:
	conduit_lines_free(l);
	return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
}

void
conduit_lines_free(struct conduit_lines *l)
{
	free(l->v);
	free(l->buf);
	l->v = NULL;
	l->buf = NULL;
	l->n = 0;
}
