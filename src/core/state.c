/*
 * state.c - locating and checking a state directory (see state.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conduit/state.h"

int
conduit_state_path(char *out, size_t outlen, const char *state_dir,
    const char *rel, struct conduit_err *err)
{
	int n = snprintf(out, outlen, "%s/%s", state_dir, rel);

	if (n < 0 || (size_t)n >= outlen)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "path \"%s/%s\" is too long", state_dir, rel);
	return 0;
}

int
conduit_state_check(const char *state_dir, struct conduit_err *err)
{
	struct stat st;

	if (lstat(state_dir, &st) != 0)
		return conduit_err_set(err, CONDUIT_ESTATE,
		    "state directory %s does not exist: run `conduit init` "
		    "(or pass --state-dir)", state_dir);
	if (S_ISLNK(st.st_mode))
		return conduit_err_set(err, CONDUIT_ESTATE,
		    "state directory %s is a symbolic link; refusing to use it",
		    state_dir);
	if (!S_ISDIR(st.st_mode))
		return conduit_err_set(err, CONDUIT_ESTATE,
		    "state directory %s is not a directory", state_dir);
	if (st.st_uid != geteuid())
		return conduit_err_set(err, CONDUIT_ESTATE,
		    "state directory %s belongs to uid %ld, not to you (uid %ld)",
		    state_dir, (long)st.st_uid, (long)geteuid());
	return 0;
}
