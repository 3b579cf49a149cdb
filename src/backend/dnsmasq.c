/*
 * dnsmasq.c - the DNS backend (txn.h) and the managed dnsmasq daemon.
 *
 * Records: hosts (--addn-hosts) and cnames.conf (cname= lines, included
 * by conf-file=) in the records dir (see records_dir()).  A change to the hosts file is
 * an atomic rename plus SIGHUP to the pid in conduit's pid file, checked
 * against /proc/PID/exe: dnsmasq re-reads 10,000 names in about 10 ms
 * and answers from the old set until then, so no query ever sees a
 * half-written file.  dnsmasq reads configuration files only at start,
 * so a change to the CNAME set restarts it (rare: dns-only services with
 * a hostname upstream).
 *
 * Permissions (docs/dns.md): started by root, dnsmasq drops to the
 * dedicated user conduit-dns, whose group is the only one given access,
 * and only to the records: they live outside the state dir in
 * /run/conduit/<id>/ (0711 above it, 02710 root:conduit-dns, files 0640),
 * so the state dir itself stays 0700 wherever it is (a checkout under
 * /root included).  Before starting, every directory on the way to the
 * records is still checked for search permission by that user, because
 * dnsmasq skips an unreadable file silently and the names would leak
 * upstream.  Started by anyone else, dnsmasq keeps that user and the
 * records stay in <state>/dns, private.
 *
 * System mode (dns.mode: system): the names go into the system dnsmasq's
 * configuration directory (conduit.conf plus the records file
 * .conduit.hosts, which a conf-dir never parses) and the system dnsmasq
 * is sent SIGHUP, found through its pid file (/run/dnsmasq/dnsmasq.pid,
 * or $CONDUIT_DNS_SYSTEM_PIDFILE).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "conduit/dns.h"
#include "conduit/fsutil.h"
#include "conduit/process.h"
#include "conduit/state.h"
#include "conduit/txn.h"

#define DNSMASQ_EXE "dnsmasq"
#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 3000

/* Who dnsmasq runs as and so who must be able to read the records. */
struct dns_owner {
	bool drop;		/* started by root: drops to user/gid */
	bool exists;		/* the user exists */
	uid_t uid;
	gid_t gid;
};

static void
dns_owner(struct dns_owner *o)
{
	struct passwd *pw;

	memset(o, 0, sizeof(*o));
	if (geteuid() != 0)
		return;
	o->drop = true;
	if ((pw = getpwnam(CONDUIT_DNS_USER)) != NULL) {
		o->exists = true;
		o->uid = pw->pw_uid;
		o->gid = pw->pw_gid;
	}
}

static bool
is_system(const struct conduit_settings *s)
{
	return strcmp(s->dns_mode, "system") == 0;
}

/* Absolute paths: dnsmasq changes to / when it daemonizes. */
struct dns_files {
	char state[PATH_MAX];
	char dir[PATH_MAX];	/* the records' directory */
	char conf[PATH_MAX];
	char hosts[PATH_MAX];
	char cnames[PATH_MAX];
	char pid[PATH_MAX];
	char log[PATH_MAX];
};

/*
 * Where the records live.  dnsmasq reads them after it has dropped to
 * conduit-dns (on every SIGHUP), so that user must reach them; the state
 * dir stays 0700 and private.  As root the records therefore live
 * outside it, in CONDUIT_DNS_RUN_DIR/<id>/ (id: the first 16 hex digits
 * of the SHA-256 of the state dir's real path, so state dirs never
 * share one); the directory is 02710 root:conduit-dns (setgid, so files
 * are born with the group), the files 0640.
 * They are derived data: `up` and every change rewrite them from
 * services.json, so losing /run at a reboot loses nothing.  Not as root
 * dnsmasq runs as the invoking user and the records stay in <state>/dns.
 */
static int
records_dir(const char *state_real, char *out, size_t outlen,
    struct conduit_err *err)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char hex[17];
	int i;

	if (geteuid() != 0)
		return conduit_state_path(out, outlen, state_real, CONDUIT_D_DNS,
		    err);
	if (EVP_Digest(state_real, strlen(state_real), md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen != sizeof(md))
		return conduit_err_set(err, CONDUIT_EINTERNAL,
		    "SHA-256 is unavailable");
	for (i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (snprintf(out, outlen, "%s/%s", CONDUIT_DNS_RUN_DIR, hex) >=
	    (int)outlen)
		return conduit_err_set(err, CONDUIT_EINVAL, "path too long");
	return 0;
}

static int
dns_files(const char *state_dir, struct dns_files *f, struct conduit_err *err)
{
	if (realpath(state_dir, f->state) == NULL)
		return conduit_err_set(err, CONDUIT_ESTATE,
		    "cannot resolve state directory %s: %s", state_dir,
		    strerror(errno));
	if (records_dir(f->state, f->dir, sizeof(f->dir), err) != 0 ||
	    conduit_state_path(f->conf, sizeof(f->conf), f->state,
	    CONDUIT_DNS_F_CONF, err) != 0 ||
	    conduit_state_path(f->hosts, sizeof(f->hosts), f->dir,
	    CONDUIT_DNS_F_HOSTS, err) != 0 ||
	    conduit_state_path(f->cnames, sizeof(f->cnames), f->dir,
	    CONDUIT_DNS_F_CNAMES, err) != 0 ||
	    conduit_state_path(f->pid, sizeof(f->pid), f->state,
	    CONDUIT_DNS_F_PID, err) != 0 ||
	    conduit_state_path(f->log, sizeof(f->log), f->state,
	    CONDUIT_DNS_F_LOG, err) != 0)
		return err->code;
	return 0;
}

/*
 * Gives the dnsmasq group exactly what it needs: search on the records'
 * directory and read on the records (records_mode); nothing in the state
 * dir.  Re-asserted on every write, so a hand chmod cannot silently cut
 * dnsmasq off.
 */
static int
prepare_dirs(const struct dns_files *f, const struct dns_owner *o,
    struct conduit_err *err)
{
	char sub[PATH_MAX];
	bool shared = o->drop && o->exists;
	int rc;

	if ((rc = conduit_state_path(sub, sizeof(sub), f->state, CONDUIT_D_DNS,
	    err)) != 0 || (rc = conduit_mkdir_p(sub, 0700, err)) != 0)
		return rc;
	if ((rc = conduit_state_path(sub, sizeof(sub), f->state, CONDUIT_D_RUN,
	    err)) != 0 || (rc = conduit_mkdir_p(sub, 0700, err)) != 0)
		return rc;
	if ((rc = conduit_state_path(sub, sizeof(sub), f->state, CONDUIT_D_LOGS,
	    err)) != 0 || (rc = conduit_mkdir_p(sub, 0700, err)) != 0)
		return rc;
	if (!o->drop)
		return 0;
	/* /run/conduit: search only, so the ids below are not listed. */
	if ((rc = conduit_mkdir_p(CONDUIT_DNS_RUN_DIR, 0711, err)) != 0 ||
	    (rc = conduit_mkdir_p(f->dir, shared ? 02710 : 0700, err)) != 0)
		return rc;
	/* setgid: every file written there is born with the group */
	if (shared && (chown(f->dir, 0, o->gid) != 0 ||
	    chmod(f->dir, 02710) != 0))
		return conduit_err_set(err, CONDUIT_EIO,
		    "cannot give group %s search access to %s: %s",
		    CONDUIT_DNS_USER, f->dir, strerror(errno));
	return 0;
}

static mode_t
records_mode(const struct dns_owner *o)
{
	return o->drop && o->exists ? 0640 : 0600;
}

/* Whether uid/gid may use (need = 1 search/x, 4 read) the file st. */
static bool
may(const struct stat *st, uid_t uid, gid_t gid, unsigned need)
{
	if (st->st_uid == uid)
		return ((st->st_mode >> 6) & need) == need;
	if (st->st_gid == gid)
		return ((st->st_mode >> 3) & need) == need;
	return (st->st_mode & need) == need;
}

/* dnsmasq skips a records file it cannot read without a word; refuse to
 * start it in that state, naming the directory that blocks it. */
static int
check_reachable(const char *path, const struct dns_owner *o,
    struct conduit_err *err)
{
	char buf[PATH_MAX];
	struct stat st;
	char *p;

	if (!o->drop)
		return 0;
	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (stat(buf, &st) != 0 || !may(&st, o->uid, o->gid, 1))
			return conduit_err_set(err, CONDUIT_ESTATE,
			    "dnsmasq runs as user %s, which cannot enter %s "
			    "(mode %04o): the names in %s would not be served; "
			    "give that directory search permission (chmod o+x) "
			    "or move the state directory", CONDUIT_DNS_USER,
			    buf, stat(buf, &st) == 0 ?
			    (unsigned)(st.st_mode & 07777) : 0u, path);
		*p = '/';
	}
	if (stat(path, &st) != 0 || !may(&st, o->uid, o->gid, 4))
		return conduit_err_set(err, CONDUIT_ESTATE,
		    "dnsmasq runs as user %s, which cannot read %s",
		    CONDUIT_DNS_USER, path);
	return 0;
}

/* The document the transaction carries: the hosts text, a NUL, the
 * cname lines.  Either part NULL means out of memory. */
static int
join_doc(const char *hosts, const char *cnames, char **out, size_t *outlen,
    struct conduit_err *err)
{
	size_t hl, cl;

	if (hosts == NULL || cnames == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	hl = strlen(hosts);
	cl = strlen(cnames);
	if ((*out = malloc(hl + cl + 2)) == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	memcpy(*out, hosts, hl + 1);
	memcpy(*out + hl + 1, cnames, cl + 1);
	*outlen = hl + 1 + cl;
	return 0;
}

/* The rendered document (join_doc's layout) for reg. */
static int
render_doc(const struct conduit_settings *s, const struct conduit_registry *reg,
    char **out, size_t *outlen, struct conduit_err *err)
{
	struct conduit_dns_record *recs = NULL;
	char gw[64], *hosts, *cnames;
	size_t n = 0;
	int rc;

	if (conduit_settings_gateway_addr(s, gw, sizeof(gw)) != 0)
		return conduit_err_set(err, CONDUIT_EIO,
		    "cannot find this host's address for the gateway; set "
		    "gateway_ip in conduit.yaml");
	if ((rc = conduit_dns_records(s, gw, reg, &recs, &n, err)) != 0)
		return rc;
	hosts = conduit_dns_render_hosts(recs, n);
	cnames = conduit_dns_render_cnames(recs, n);
	free(recs);
	rc = join_doc(hosts, cnames, out, outlen, err);
	free(hosts);
	free(cnames);
	return rc;
}

/* Whether path holds exactly data. */
static bool
file_is(const char *path, const char *data)
{
	char *cur = NULL;
	bool same;

	if (conduit_read_file(path, &cur, NULL, NULL) != 0)
		return false;
	same = strcmp(cur, data) == 0;
	free(cur);
	return same;
}

/* Writes hosts and cnames; *cnames_changed says whether a restart is
 * needed for the running dnsmasq to see them. */
static int
write_records(const char *hosts_path, const char *cnames_path,
    const char *doc, mode_t mode, bool *cnames_changed,
    struct conduit_err *err)
{
	const char *cnames = doc + strlen(doc) + 1;
	int rc;

	*cnames_changed = !file_is(cnames_path, cnames);
	if (*cnames_changed && (rc = conduit_write_atomic(cnames_path, cnames,
	    strlen(cnames), mode, err)) != 0)
		return rc;
	return conduit_write_atomic(hosts_path, doc, strlen(doc), mode, err);
}

/*
 * The managed daemon.
 */

/* The last non-empty line of the log: where dnsmasq says why it failed. */
static void
log_tail(const char *log, char *out, size_t outlen)
{
	char *data = NULL, *end, *start;

	out[0] = '\0';
	if (conduit_read_file(log, &data, NULL, NULL) != 0)
		return;
	end = data + strlen(data);
	while (end > data && (end[-1] == '\n' || end[-1] == ' '))
		*--end = '\0';
	start = strrchr(data, '\n');
	snprintf(out, outlen, "%s", start ? start + 1 : data);
	free(data);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Runs dnsmasq and waits for the foreground process to exit: dnsmasq
 * forks the daemon, which binds its sockets and writes the pid file,
 * and only then lets the foreground process exit 0, or with the reason
 * on stderr.  So when this returns 0 the server answers.
 */
static int
run_dnsmasq(const struct conduit_settings *s, const struct dns_files *f,
    struct conduit_err *err)
{
	char arg[PATH_MAX + 16], tail[512];
	char *argv[3];
	pid_t child;
	int status = 0, fd;
	long waited = 0;

	snprintf(arg, sizeof(arg), "--conf-file=%s", f->conf);
	argv[0] = (char *)s->dnsmasq_bin;
	argv[1] = arg;
	argv[2] = NULL;
	child = fork();
	if (child < 0)
		return conduit_err_set(err, CONDUIT_EIO, "fork: %s",
		    strerror(errno));
	if (child == 0) {
		if ((fd = open("/dev/null", O_RDONLY)) >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		fd = open(f->log, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		dprintf(2, "conduit: cannot run %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	for (;;) {
		pid_t r = waitpid(child, &status, WNOHANG);
		if (r == child)
			break;
		if (r < 0 && errno != EINTR)
			return conduit_err_set(err, CONDUIT_EBACKEND,
			    "waiting for dnsmasq: %s", strerror(errno));
		if (waited >= START_TIMEOUT_MS) {
			(void)kill(child, SIGKILL);
			(void)waitpid(child, NULL, 0);
			return conduit_err_set(err, CONDUIT_EBACKEND,
			    "dnsmasq did not start within %d ms (see %s)",
			    START_TIMEOUT_MS, f->log);
		}
		sleep_ms(5);
		waited += 5;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_tail(f->log, tail, sizeof(tail));
		return conduit_err_set(err, CONDUIT_EBACKEND,
		    "dnsmasq refused to start: %s", tail[0] ? tail : "(no message)");
	}
	if (conduit_proc_running(f->pid, DNSMASQ_EXE, NULL, err) != 0)
		return conduit_err_set(err, CONDUIT_EBACKEND,
		    "dnsmasq started but its pid file %s names no dnsmasq (see %s)",
		    f->pid, f->log);
	return 0;
}

/* Renders dnsmasq.conf and, unless the caller has just written them,
 * the records from services.json. */
static int
write_all_files(const struct dns_files *f, const struct conduit_settings *s,
    const struct dns_owner *o, bool records_ready, struct conduit_err *err)
{
	struct conduit_dns_paths p = {
		.hosts = f->hosts, .cnames = f->cnames, .pidfile = f->pid,
		.logfile = f->log,
		.user = o->drop ? CONDUIT_DNS_USER : NULL,
		.group = o->drop ? CONDUIT_DNS_USER : NULL,
	};
	struct conduit_registry reg;
	char svc_path[PATH_MAX], *conf, *doc = NULL;
	size_t len;
	bool changed;
	int rc;

	if ((rc = prepare_dirs(f, o, err)) != 0)
		return rc;
	if ((conf = conduit_dns_render_conf(s, &p)) == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	/* Read by dnsmasq as root, before it drops privileges. */
	rc = conduit_write_atomic(f->conf, conf, strlen(conf), 0600, err);
	free(conf);
	if (rc != 0 || records_ready)
		return rc;
	conduit_registry_init(&reg);
	if ((rc = conduit_state_path(svc_path, sizeof(svc_path), f->state,
	    CONDUIT_F_SERVICES, err)) == 0 &&
	    (rc = conduit_registry_load(svc_path, &reg, err)) == 0 &&
	    (rc = render_doc(s, &reg, &doc, &len, err)) == 0)
		rc = write_records(f->hosts, f->cnames, doc, records_mode(o),
		    &changed, err);
	free(doc);
	conduit_registry_free(&reg);
	return rc;
}

static bool
dnsmasq_enabled(const struct conduit_settings *s)
{
	return s->dns_enabled && !is_system(s);
}

static int
start_daemon(const char *state_dir, const struct conduit_settings *s,
    bool records_ready, struct conduit_err *err)
{
	struct dns_files f;
	struct dns_owner o;
	pid_t pid;
	int rc;

	if ((rc = dns_files(state_dir, &f, err)) != 0)
		return rc;
	if (conduit_proc_running(f.pid, DNSMASQ_EXE, &pid, NULL) == 0)
		return conduit_err_set(err, CONDUIT_EEXISTS,
		    "dnsmasq already runs (pid %ld)", (long)pid);
	dns_owner(&o);
	if (o.drop && !o.exists)
		return conduit_err_set(err, CONDUIT_ESTATE,
		    "user %s does not exist; dnsmasq drops root to it: run "
		    "scripts/install-deps.sh (or useradd --system "
		    "--user-group --no-create-home %s)", CONDUIT_DNS_USER,
		    CONDUIT_DNS_USER);
	if ((rc = write_all_files(&f, s, &o, records_ready, err)) != 0 ||
	    (rc = check_reachable(f.hosts, &o, err)) != 0)
		return rc;
	return run_dnsmasq(s, &f, err);
}

static int
dnsmasq_start(const char *state_dir, const struct conduit_settings *s,
    struct conduit_err *err)
{
	return start_daemon(state_dir, s, false, err);
}

static int
dnsmasq_stop(const char *state_dir, struct conduit_err *err)
{
	struct dns_files f;
	int rc;

	if ((rc = dns_files(state_dir, &f, err)) != 0)
		return rc;
	return conduit_proc_stop(f.pid, DNSMASQ_EXE, STOP_TIMEOUT_MS, err);
}

static int
dnsmasq_running(const char *state_dir, pid_t *pid, struct conduit_err *err)
{
	struct dns_files f;
	int rc;

	if ((rc = dns_files(state_dir, &f, err)) != 0)
		return rc;
	return conduit_proc_running(f.pid, DNSMASQ_EXE, pid, err);
}

const struct conduit_daemon conduit_daemon_dnsmasq = {
	.name = "dnsmasq",
	.enabled = dnsmasq_enabled,
	.start = dnsmasq_start,
	.stop = dnsmasq_stop,
	.running = dnsmasq_running,
};

/*
 * System mode.
 */

static const char *
system_pidfile(void)
{
	const char *p = getenv("CONDUIT_DNS_SYSTEM_PIDFILE");

	return p && p[0] == '/' ? p : "/run/dnsmasq/dnsmasq.pid";
}

static int
system_apply(const struct conduit_settings *s, const char *doc, bool live,
    struct conduit_err *err)
{
	char conf_path[PATH_MAX], hosts_path[PATH_MAX], *conf;
	const char *cnames = doc + strlen(doc) + 1;
	bool conf_changed;
	int rc;

	if (conduit_path_join(conf_path, sizeof(conf_path), s->dns_system_dir,
	    CONDUIT_DNS_SYS_CONF, err) != 0 ||
	    conduit_path_join(hosts_path, sizeof(hosts_path), s->dns_system_dir,
	    CONDUIT_DNS_SYS_HOSTS, err) != 0)
		return err->code;
	if ((conf = conduit_dns_render_system_conf(s, hosts_path, cnames)) == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	conf_changed = !file_is(conf_path, conf);
	/* The system dnsmasq runs as its own user: the names it serves to
	 * anyone are world-readable, as everything in its config dir is. */
	rc = conduit_write_atomic(hosts_path, doc, strlen(doc), 0644, err);
	if (rc == 0 && conf_changed)
		rc = conduit_write_atomic(conf_path, conf, strlen(conf), 0644, err);
	free(conf);
	if (rc != 0 || !live)
		return rc;
	rc = conduit_proc_signal(system_pidfile(), DNSMASQ_EXE, SIGHUP, err);
	if (rc == CONDUIT_ENOTFOUND)
		return 0;	/* not running: it reads the files when it starts */
	if (rc == 0 && conf_changed)
		return conduit_err_set(err, CONDUIT_EBACKEND,
		    "%s changed and dnsmasq reads it only at start: restart the "
		    "system dnsmasq (systemctl restart dnsmasq)", conf_path);
	return rc;
}

/*
 * The transaction backend.
 */

/* Set when a restart for new CNAMEs stopped dnsmasq and could not start
 * it again, so that the transaction's rollback restarts it. */
static bool restart_failed;

static bool
dns_enabled(const struct conduit_txn *t)
{
	return t->settings->dns_enabled;
}

static int
dns_render(const struct conduit_txn *t, const struct conduit_registry *reg,
    char **out, size_t *outlen, struct conduit_err *err)
{
	return render_doc(t->settings, reg, out, outlen, err);
}

static int
dns_apply(const struct conduit_txn *t, const char *doc, size_t len, bool live,
    struct conduit_err *err)
{
	struct dns_files f;
	struct dns_owner o;
	bool cnames_changed;
	int rc;

	if (is_system(t->settings))
		return system_apply(t->settings, doc, live, err);
	if ((rc = dns_files(t->state_dir, &f, err)) != 0)
		return rc;
	dns_owner(&o);
	if ((rc = prepare_dirs(&f, &o, err)) != 0 ||
	    (rc = write_records(f.hosts, f.cnames, doc, records_mode(&o),
	    &cnames_changed, err)) != 0)
		return rc;
	if (!live)
		return 0;
	if (conduit_proc_running(f.pid, DNSMASQ_EXE, NULL, NULL) != 0) {
		/* Not running: `conduit up` reads the files.  Unless this
		 * is the rollback of a restart that failed just now: then
		 * the old files bring the old server back. */
		if (!restart_failed)
			return 0;
		restart_failed = false;
		return start_daemon(t->state_dir, t->settings, true, err);
	}
	if (!cnames_changed)
		return conduit_proc_signal(f.pid, DNSMASQ_EXE, SIGHUP, err);
	if ((rc = dnsmasq_stop(t->state_dir, err)) != 0)
		return rc;
	/* The records on disk are this transaction's, not services.json's
	 * (saved only after every backend accepted). */
	rc = start_daemon(t->state_dir, t->settings, true, err);
	restart_failed = rc != 0;
	return rc;
}

/* The records files as the document dns_render makes: hosts, a NUL,
 * the cname lines.  Managed mode only; system mode renders instead. */
static int
dns_deployed(const struct conduit_txn *t, char **out, size_t *outlen,
    struct conduit_err *err)
{
	struct dns_files f;
	char *hosts = NULL, *cnames = NULL;
	size_t hl, cl;
	int rc;

	if (is_system(t->settings))
		return conduit_err_set(err, CONDUIT_ENOTFOUND, "system mode");
	if ((rc = dns_files(t->state_dir, &f, err)) != 0 ||
	    (rc = conduit_read_file(f.hosts, &hosts, &hl, err)) != 0 ||
	    (rc = conduit_read_file(f.cnames, &cnames, &cl, err)) != 0) {
		free(hosts);
		return rc;
	}
	rc = join_doc(hosts, cnames, out, outlen, err);
	free(hosts);
	free(cnames);
	return rc;
}

const struct conduit_backend conduit_backend_dns = {
	.name = "dns",
	.enabled = dns_enabled,
	.render = dns_render,
	.apply = dns_apply,
	.deployed = dns_deployed,
};

/*
 * Helpers for `conduit dns`.
 */

static int
dns_pidfile(const char *state_dir, const struct conduit_settings *s,
    char *out, size_t outlen, struct conduit_err *err)
{
	struct dns_files f;
	int rc;

	if (is_system(s)) {
		snprintf(out, outlen, "%s", system_pidfile());
		return 0;
	}
	if ((rc = dns_files(state_dir, &f, err)) != 0)
		return rc;
	snprintf(out, outlen, "%s", f.pid);
	return 0;
}

int
conduit_dns_pid(const char *state_dir, const struct conduit_settings *s,
    pid_t *pid, struct conduit_err *err)
{
	char pidfile[PATH_MAX];
	int rc;

	if ((rc = dns_pidfile(state_dir, s, pidfile, sizeof(pidfile), err)) != 0)
		return rc;
	return conduit_proc_running(pidfile, DNSMASQ_EXE, pid, err);
}

int
conduit_dns_flush(const char *state_dir, const struct conduit_settings *s,
    struct conduit_err *err)
{
	char pidfile[PATH_MAX];
	int rc;

	/* SIGHUP empties the cache and re-reads the records, which is the
	 * same set; dnsmasq has no cache-only signal. */
	if ((rc = dns_pidfile(state_dir, s, pidfile, sizeof(pidfile), err)) != 0)
		return rc;
	return conduit_proc_signal(pidfile, DNSMASQ_EXE, SIGHUP, err);
}

int
conduit_dns_sync(const char *state_dir, const struct conduit_settings *s,
    struct conduit_err *err)
{
	struct conduit_registry reg;
	char path[PATH_MAX], *doc = NULL;
	struct conduit_txn t;
	size_t len;
	int rc;

	memset(&t, 0, sizeof(t));
	t.state_dir = state_dir;
	t.settings = s;
	conduit_registry_init(&reg);
	if ((rc = conduit_state_path(path, sizeof(path), state_dir,
	    CONDUIT_F_SERVICES, err)) == 0 &&
	    (rc = conduit_registry_load(path, &reg, err)) == 0 &&
	    (rc = render_doc(s, &reg, &doc, &len, err)) == 0)
		rc = dns_apply(&t, doc, len, true, err);
	free(doc);
	conduit_registry_free(&reg);
	return rc;
}
