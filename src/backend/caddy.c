/*
 * caddy.c - talking to the real Caddy: admin API, backend, daemon.
 *
 * The admin API is spoken with libcurl over the unix socket in
 * <state>/run (0700).  Every request carries an empty Host header,
 * which Caddy 2.6 requires on a unix socket; /load also sends
 * Cache-Control: must-revalidate so an identical config is applied
 * anyway (that is how `up` and `certs rotate` re-sync), and
 * Content-Type: application/json.
 *
 * The backend entry (txn.h) renders with src/render/caddy.c and, when
 * live, loads the document first and writes <state>/caddy/caddy.json
 * only after Caddy accepted it, so the file always shows what serves.
 *
 * The daemon entry (process.h) runs `caddy run --config caddy.json`
 * with XDG_DATA_HOME/XDG_CONFIG_HOME at the state dir, so anything
 * Caddy keeps outside the configured storage still lands in
 * <state>/caddy, and waits until the admin socket answers.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "conduit/caddy.h"
#include "conduit/fsutil.h"
#include "conduit/pki.h"
#include "conduit/process.h"
#include "conduit/state.h"
#include "conduit/txn.h"

#define CADDY_EXE "caddy"
#define LOAD_TIMEOUT_MS 60000L
#define START_TIMEOUT_MS 15000L
#define STOP_TIMEOUT_MS 10000L

struct buf {
	char *p;
	size_t n;
};

static size_t
collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t add = size * nmemb;
	char *np;

	if (b->n + add > (1u << 20))	/* Caddy's answers are small */
		return 0;
	if ((np = realloc(b->p, b->n + add + 1)) == NULL)
		return 0;
	memcpy(np + b->n, data, add);
	b->p = np;
	b->n += add;
	b->p[b->n] = '\0';
	return add;
}

/* One request on the admin socket; *status is the HTTP status. */
static int
admin_req(const char *sock, const char *path, const char *body, size_t len,
    long timeout_ms, long *status, struct buf *resp, struct conduit_err *err)
{
	struct curl_slist *h = NULL;
	char url[256];
	CURL *c;
	CURLcode cc;

	*status = 0;
	if ((c = curl_easy_init()) == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "cannot start libcurl");
	snprintf(url, sizeof(url), "http://localhost%s", path);
	/* "Host;" makes curl send the header with an empty value. */
	h = curl_slist_append(h, "Host;");
	h = curl_slist_append(h, "Expect:");
	if (body != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		h = curl_slist_append(h, "Cache-Control: must-revalidate");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
	    cc == CURLE_GOT_NOTHING)
		return conduit_err_set(err, CONDUIT_EBACKEND,
		    "gateway not running at %s: run `conduit up`", sock);
	if (cc != CURLE_OK)
		return conduit_err_set(err, CONDUIT_EBACKEND,
		    "Caddy admin API at %s: %s", sock, curl_easy_strerror(cc));
	return 0;
}

/*
 * Caddy 2.6 writes certificates into its storage in place, and a config
 * load reads the certificate of every managed name back from there.  A
 * load that lands while the previous config's background issuance is
 * still writing a leaf can therefore read a half-written file and refuse
 * the whole config ("decoding certificate metadata: unexpected end of
 * JSON input"), or find the issuance lock taken.  Those refusals are
 * transient: the load is retried a few times, a short pause apart.  Every
 * other refusal is final at once.
 */
#define LOAD_TRIES 4
#define LOAD_RETRY_MS 250L

static bool
transient_refusal(const char *msg)
{
	return strstr(msg, "decoding certificate metadata") != NULL ||
	    strstr(msg, "unexpected end of JSON input") != NULL ||
	    strstr(msg, "unable to acquire lock") != NULL;
}

static int
load_once(const char *sock, const char *doc, size_t len, bool *transient,
    struct conduit_err *err)
{
	struct buf resp = { NULL, 0 };
	long status;
	cJSON *j, *e;
	int rc;

	*transient = false;
	if ((rc = admin_req(sock, "/load", doc, len, LOAD_TIMEOUT_MS, &status,
	    &resp, err)) != 0)
		goto out;
	if (status == 200)
		goto out;
	/* Caddy explains a refusal as {"error": "..."}: pass it on as is. */
	j = resp.p ? cJSON_Parse(resp.p) : NULL;
	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (cJSON_IsString(e)) {
		rc = conduit_err_set(err, CONDUIT_EBACKEND,
		    "Caddy refused the config (HTTP %ld): %s", status,
		    e->valuestring);
		*transient = transient_refusal(e->valuestring);
	} else
		rc = conduit_err_set(err, CONDUIT_EBACKEND,
		    "Caddy refused the config (HTTP %ld): %.300s", status,
		    resp.p ? resp.p : "");
	cJSON_Delete(j);
out:
	free(resp.p);
	return rc;
}

int
conduit_caddy_load(const char *sock, const char *doc, size_t len,
    struct conduit_err *err)
{
	struct timespec pause = { 0, LOAD_RETRY_MS * 1000000L };
	bool transient = false;
	int rc, i;

	for (i = 0; i < LOAD_TRIES; i++) {
		if (i > 0)
			(void)nanosleep(&pause, NULL);
		rc = load_once(sock, doc, len, &transient, err);
		if (rc == 0 || !transient)
			break;
	}
	return rc;
}

bool
conduit_caddy_ping(const char *sock)
{
	struct buf resp = { NULL, 0 };
	struct conduit_err ignored;
	long status = 0;
	struct stat st;

	if (lstat(sock, &st) != 0 || !S_ISSOCK(st.st_mode))
		return false;
	(void)admin_req(sock, "/config/admin", NULL, 0, 2000, &status, &resp,
	    &ignored);
	free(resp.p);
	return status == 200;
}

int
conduit_caddy_leaf_root(const struct conduit_caddy_paths *p, char *out,
    size_t outlen, struct conduit_err *err)
{
	return conduit_state_path(out, outlen, p->storage, "certificates/local",
	    err);
}

int
conduit_caddy_leaf_path(const struct conduit_caddy_paths *p, const char *host,
    char *crt, size_t crtlen, char *dir, size_t dirlen,
    struct conduit_err *err)
{
	char root[PATH_MAX], key[300];
	int n, rc;

	/* certmagic's storage key: "*." becomes "wildcard_.". */
	if (strncmp(host, "*.", 2) == 0)
		snprintf(key, sizeof(key), "wildcard_.%s", host + 2);
	else
		snprintf(key, sizeof(key), "%s", host);
	if ((rc = conduit_caddy_leaf_root(p, root, sizeof(root), err)) != 0)
		return rc;
	n = snprintf(crt, crtlen, "%s/%s/%s.crt", root, key, key);
	if (n < 0 || (size_t)n >= crtlen)
		return conduit_err_set(err, CONDUIT_EINVAL, "path too long");
	if (dir != NULL) {
		n = snprintf(dir, dirlen, "%s/%s", root, key);
		if (n < 0 || (size_t)n >= dirlen)
			return conduit_err_set(err, CONDUIT_EINVAL, "path too long");
	}
	return 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* rm -r without following symbolic links (FTW_PHYS). */
static int
remove_tree(const char *path, struct conduit_err *err)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return 0;
	if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		return conduit_err_set(err, CONDUIT_EIO, "cannot remove %s: %s",
		    path, strerror(errno));
	return 0;
}

int
conduit_caddy_pki_refresh(const struct conduit_caddy_paths *p, bool *wiped,
    struct conduit_err *err)
{
	char inter[PATH_MAX], ca_dir[PATH_MAX], leaves[PATH_MAX];
	struct stat st;
	bool ok;
	int rc;

	*wiped = false;
	if ((rc = conduit_state_path(ca_dir, sizeof(ca_dir), p->storage,
	    "pki/authorities/local", err)) != 0 ||
	    (rc = conduit_state_path(inter, sizeof(inter), ca_dir,
	    "intermediate.crt", err)) != 0 ||
	    (rc = conduit_caddy_leaf_root(p, leaves, sizeof(leaves), err)) != 0)
		return rc;
	if (lstat(inter, &st) != 0)
		return 0;	/* Caddy will make one from the current root */
	if ((rc = conduit_pki_signed_by(inter, p->root_cert, &ok, err)) != 0 &&
	    rc != CONDUIT_ECORRUPT)
		return rc;
	if (rc == 0 && ok)
		return 0;
	/* Signed by another root (or unreadable): Caddy 2.6 would keep using
	 * it.  Drop it and every leaf it signed; Caddy re-issues both. */
	conduit_err_clear(err);
	if ((rc = remove_tree(ca_dir, err)) != 0 ||
	    (rc = remove_tree(leaves, err)) != 0)
		return rc;
	*wiped = true;
	return 0;
}

/* Whether dir/<name>.crt, .key and .json are all there and whole: the
 * metadata parses as JSON and the certificate as PEM.  Caddy 2.6 writes
 * these in place, so one killed while issuing (a `down` right after a
 * load, a crash) can leave a torn file that makes every later load of a
 * config naming that host fail ("decoding certificate metadata"). */
static bool
leaf_whole(const char *dir, const char *name)
{
	static const char *const ext[] = { "crt", "key", "json" };
	char path[PATH_MAX], *data = NULL;
	size_t i, len = 0;
	bool ok = true;

	for (i = 0; i < 3 && ok; i++) {
		struct conduit_err ignored;
		if (snprintf(path, sizeof(path), "%s/%s.%s", dir, name,
		    ext[i]) >= (int)sizeof(path) ||
		    conduit_read_file(path, &data, &len, &ignored) != 0)
			return false;
		if (len == 0)
			ok = false;
		else if (i == 0)
			ok = strstr(data, "-----END CERTIFICATE-----") != NULL;
		else if (i == 2) {
			cJSON *j = cJSON_ParseWithLength(data, len);
			ok = cJSON_IsObject(j);
			cJSON_Delete(j);
		}
		free(data);
		data = NULL;
	}
	return ok;
}

/* Removes every torn leaf from Caddy's storage; Caddy re-issues them
 * from conduit's CA on the next load.  Run while Caddy is stopped. */
static int
drop_torn_leaves(const struct conduit_caddy_paths *p, struct conduit_err *err)
{
	char leaves[PATH_MAX], dir[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if ((rc = conduit_caddy_leaf_root(p, leaves, sizeof(leaves), err)) != 0)
		return rc;
	if ((d = opendir(leaves)) == NULL)
		return 0;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(dir, sizeof(dir), "%s/%s", leaves, e->d_name) >=
		    (int)sizeof(dir))
			continue;
		if (!leaf_whole(dir, e->d_name))
			rc = remove_tree(dir, err);
	}
	closedir(d);
	return rc;
}

static int
ensure_dirs(const struct conduit_caddy_paths *p, struct conduit_err *err)
{
	char run[PATH_MAX];
	char *slash;
	int rc;

	snprintf(run, sizeof(run), "%s", p->admin_socket);
	if ((slash = strrchr(run, '/')) != NULL)
		*slash = '\0';
	if ((rc = conduit_mkdir_p(run, 0700, err)) != 0 ||
	    (rc = conduit_mkdir_p(p->access_dir, 0700, err)) != 0 ||
	    (rc = conduit_mkdir_p(p->storage, 0700, err)) != 0)
		return rc;
	return 0;
}

/* ---- the backend (txn.h) ---- */

static int
backend_render(const struct conduit_txn *t, const struct conduit_registry *reg,
    char **out, size_t *outlen, struct conduit_err *err)
{
	struct conduit_caddy_paths p;
	int rc;

	if ((rc = conduit_caddy_paths(t->state_dir, &p, err)) != 0)
		return rc;
	return conduit_caddy_render(t->settings, reg, &p, out, outlen, err);
}

static int
backend_apply(const struct conduit_txn *t, const char *doc, size_t len,
    bool live, struct conduit_err *err)
{
	struct conduit_caddy_paths p;
	bool wiped;
	int rc;

	if ((rc = conduit_caddy_paths(t->state_dir, &p, err)) != 0 ||
	    (rc = ensure_dirs(&p, err)) != 0)
		return rc;
	if (live) {
		if ((rc = conduit_caddy_pki_refresh(&p, &wiped, err)) != 0 ||
		    (rc = conduit_caddy_load(p.admin_socket, doc, len, err)) != 0)
			return rc;
	}
	return conduit_write_atomic(p.config, doc, len, 0600, err);
}

/* caddy.json is written only once Caddy took it (or with --no-reload),
 * so it is the configuration last applied. */
static int
backend_deployed(const struct conduit_txn *t, char **out, size_t *outlen,
    struct conduit_err *err)
{
	struct conduit_caddy_paths p;
	int rc;

	if ((rc = conduit_caddy_paths(t->state_dir, &p, err)) != 0)
		return rc;
	return conduit_read_file(p.config, out, outlen, err);
}

const struct conduit_backend conduit_caddy_backend = {
	.name = "caddy",
	.enabled = NULL,
	.render = backend_render,
	.apply = backend_apply,
	.deployed = backend_deployed,
};

/* ---- the daemon (process.h) ---- */

struct start_wait {
	const char *sock;
	pid_t pid;
	bool died;
};

static bool
started(void *arg)
{
	struct start_wait *w = arg;

	/* Right after the fork /proc/PID/exe is still conduit: only a
	 * vanished process counts as a failed start. */
	if (kill(w->pid, 0) != 0) {
		w->died = true;
		return true;
	}
	return conduit_caddy_ping(w->sock);
}

/* The last "Error: ..." line Caddy wrote, for a failed start. */
static void
last_error(const char *logfile, char *out, size_t len)
{
	char *data = NULL, *line, *save = NULL;
	struct conduit_err ignored;

	snprintf(out, len, "see %s", logfile);
	if (conduit_read_file(logfile, &data, NULL, &ignored) != 0)
		return;
	for (line = strtok_r(data, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "Error: ", 7) == 0)
			snprintf(out, len, "%s (%s)", line + 7, logfile);
	free(data);
}

static void
unlink_stale_socket(const char *sock)
{
	struct stat st;

	if (lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    !conduit_caddy_ping(sock))
		(void)unlink(sock);
}

static int
daemon_running(const char *state_dir, pid_t *pid, struct conduit_err *err)
{
	struct conduit_caddy_paths p;
	int rc;

	if ((rc = conduit_caddy_paths(state_dir, &p, err)) != 0)
		return rc;
	rc = conduit_proc_running(p.pidfile, CADDY_EXE, pid, err);
	if (rc == CONDUIT_ENOTFOUND)
		unlink_stale_socket(p.admin_socket);
	return rc;
}

static int
daemon_start(const char *state_dir, const struct conduit_settings *s,
    struct conduit_err *err)
{
	struct conduit_caddy_paths p;
	struct start_wait w;
	struct stat st;
	char why[600], *doc;
	size_t len;
	pid_t pid;
	bool wiped;
	int rc;

	if ((rc = conduit_caddy_paths(state_dir, &p, err)) != 0 ||
	    (rc = ensure_dirs(&p, err)) != 0)
		return rc;
	if (conduit_proc_running(p.pidfile, CADDY_EXE, &pid, err) == 0)
		return conduit_err_set(err, CONDUIT_EEXISTS,
		    "already running (pid %ld)", (long)pid);
	if (conduit_caddy_ping(p.admin_socket))
		return conduit_err_set(err, CONDUIT_EEXISTS,
		    "a Caddy that conduit did not start answers at %s "
		    "(systemd?); leaving it alone", p.admin_socket);
	unlink_stale_socket(p.admin_socket);
	if ((rc = drop_torn_leaves(&p, err)) != 0 ||
	    (rc = conduit_caddy_pki_refresh(&p, &wiped, err)) != 0)
		return rc;
	/* First start: the configuration of an empty registry; `up` loads
	 * the real one as soon as the admin socket answers. */
	if (lstat(p.config, &st) != 0) {
		struct conduit_registry empty;
		conduit_registry_init(&empty);
		if ((rc = conduit_caddy_render(s, &empty, &p, &doc, &len,
		    err)) != 0)
			return rc;
		rc = conduit_write_atomic(p.config, doc, len, 0600, err);
		free(doc);
		if (rc != 0)
			return rc;
	}
	if (setenv("XDG_DATA_HOME", state_dir, 1) != 0 ||
	    setenv("XDG_CONFIG_HOME", state_dir, 1) != 0)
		return conduit_err_set(err, CONDUIT_EIO, "setenv: %s",
		    strerror(errno));
	{
		char *argv[] = { (char *)s->caddy_bin, "run", "--config",
		    p.config, NULL };
		if ((rc = conduit_proc_spawn(argv, p.logfile, p.pidfile, &pid,
		    err)) != 0)
			return rc;
	}
	w = (struct start_wait){ p.admin_socket, pid, false };
	rc = conduit_proc_wait(started, &w, START_TIMEOUT_MS);
	if (rc == 0 && !w.died)
		return 0;
	last_error(p.logfile, why, sizeof(why));
	if (!w.died) {
		struct conduit_err ignored;
		(void)conduit_proc_stop(p.pidfile, CADDY_EXE, STOP_TIMEOUT_MS,
		    &ignored);
		return conduit_err_set(err, CONDUIT_EBACKEND,
		    "caddy did not answer on %s within %ld s; stopped it (%s)",
		    p.admin_socket, START_TIMEOUT_MS / 1000, why);
	}
	(void)unlink(p.pidfile);
	return conduit_err_set(err, CONDUIT_EBACKEND, "caddy exited: %s", why);
}

static int
daemon_stop(const char *state_dir, struct conduit_err *err)
{
	struct conduit_caddy_paths p;
	int rc;

	if ((rc = conduit_caddy_paths(state_dir, &p, err)) != 0)
		return rc;
	rc = conduit_proc_stop(p.pidfile, CADDY_EXE, STOP_TIMEOUT_MS, err);
	unlink_stale_socket(p.admin_socket);
	return rc;
}

static bool
daemon_enabled(const struct conduit_settings *s)
{
	(void)s;
	return true;	/* the gateway is what conduit is for */
}

const struct conduit_daemon conduit_caddy_daemon = {
	.name = "caddy",
	.enabled = daemon_enabled,
	.start = daemon_start,
	.stop = daemon_stop,
	.running = daemon_running,
};
