/*
 * monitor.h - `conduit monitor`: host, GPUs, containers, remote servers.
 *
 * The data model is the versioned JSON document itself (docs/monitor.md),
 * held as a cJSON tree.  Collectors build their part of it with every
 * documented key present (null when unknown), the renderers (text,
 * Prometheus) read it, and the alert rules evaluate it.  A remote server
 * that runs conduit answers with the same document over ssh, so its
 * report plugs into the tree without a second model or a conversion
 * layer; a server without conduit answers with the fixed fallback script
 * whose output is parsed by the same procfs and nvidia-smi parsers the
 * local collectors use.
 *
 * Nothing here prints or exits.  A source that is absent (no nvidia-smi,
 * no Docker socket) is "not_present"; a source that fails is "error"
 * with the tool's own text; neither stops the run.
 */
#ifndef CONDUIT_MONITOR_H
#define CONDUIT_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conduit/err.h"
#include "conduit/settings.h"

struct cJSON;

#define CONDUIT_MONITOR_SCHEMA 1

/* Source status strings in the document. */
#define MON_OK		"ok"
#define MON_ABSENT	"not_present"
#define MON_ERROR	"error"
#define MON_UNSUPPORTED	"unsupported"	/* the remote fallback cannot tell */

/* ---- JSON helpers (src/monitor/json.c) -------------------------------- */

/* Number at key, NAN when missing, null or not a number. */
double conduit_mon_num(const struct cJSON *o, const char *key);
/* String at key, NULL when missing, null or not a string. */
const char *conduit_mon_str(const struct cJSON *o, const char *key);
/* Adds a number, or null when v is NAN. */
void conduit_mon_add_num(struct cJSON *o, const char *key, double v);
/* Adds a string, or null when s is NULL. */
void conduit_mon_add_str(struct cJSON *o, const char *key, const char *s);

/* ---- child processes (src/monitor/proc.c) ------------------------------ */

/* One program run with both output streams captured, no shell. */
struct conduit_mon_job {
	char *const *argv;	/* argv[0] looked up on PATH */
	char *out;		/* stdout, NUL-terminated (malloc'd) */
	size_t outlen;
	char *errout;		/* stderr, NUL-terminated (malloc'd) */
	size_t errlen;
	int status;		/* waitpid status when exited */
	bool exited;		/* false: not started, timed out or killed */
	bool timed_out;
	int spawn_errno;	/* ENOENT: program not found */
};

/* Runs every job in parallel; each is killed (SIGKILL) when it is still
 * running timeout_ms after the start.  Returns once all have ended.
 * Output past 8 MiB per stream is dropped. */
int conduit_mon_run_jobs(struct conduit_mon_job *jobs, size_t n,
    long timeout_ms, struct conduit_err *err);
void conduit_mon_job_free(struct conduit_mon_job *job);

/* ---- host (src/monitor/host.c) ---------------------------------------- */

struct conduit_cpu_times {
	unsigned long long total;
	unsigned long long idle;	/* idle + iowait */
};

/* Pure parsers of procfs text, shared with the remote fallback. */
int conduit_mon_parse_stat(const char *text, struct conduit_cpu_times *t);
double conduit_mon_cpu_percent(const struct conduit_cpu_times *a,
    const struct conduit_cpu_times *b);
/* "0-3,8-11" -> 8; -1 when unparsable. */
long conduit_mon_parse_cpulist(const char *text);
/* Adds "memory" and "swap" objects built from /proc/meminfo text. */
int conduit_mon_parse_meminfo(const char *text, struct cJSON *host);
/* Adds load_1m/5m/15m from /proc/loadavg and uptime_seconds. */
void conduit_mon_parse_loadavg(const char *text, struct cJSON *host);
void conduit_mon_parse_uptime(const char *text, struct cJSON *host);

/* A mount as /proc/self/mountinfo lists it (octal escapes decoded). */
struct conduit_mount {
	char mountpoint[4096];
	char fstype[64];
	char source[256];
	char devno[32];		/* "major:minor" */
	bool whole;		/* the filesystem's root, not a bind of a
				 * subdirectory */
};
/* Parses one mountinfo line; CONDUIT_EINVAL when malformed. */
int conduit_mon_parse_mountinfo_line(const char *line,
    struct conduit_mount *m);
/* Pseudo filesystems (proc, sysfs, tmpfs, overlay, cgroup, ...). */
bool conduit_mon_fs_is_pseudo(const char *fstype);
/* The mounts worth listing from mountinfo text: real filesystems, one
 * per device (as df: a whole-filesystem mount over a bind mount of a
 * subdirectory, then the shortest mount point), "/" always.
 * *out is malloc'd. */
int conduit_mon_select_mounts(const char *mountinfo,
    struct conduit_mount **out, size_t *n, struct conduit_err *err);

/* One filesystem object from statvfs-style figures (block size in
 * bytes); inode figures < 0 mean unknown. */
struct cJSON *conduit_mon_fs_json(const struct conduit_mount *m,
    double total, double avail, double freeb, double inodes,
    double ifree);

/* The local host object.  The CPU window is split: cpu_begin takes the
 * first /proc/stat sample, host_collect sleeps whatever is left of
 * sample_ms, takes the second and reads everything else. */
void conduit_mon_cpu_begin(struct conduit_cpu_times *t, long long *t0_ms);
struct cJSON *conduit_mon_host_collect(const struct conduit_cpu_times *t0,
    long long t0_ms, long sample_ms);

/* ---- GPUs (src/monitor/gpu.c) ----------------------------------------- */

/* The --query-gpu field list, in this order (docs/monitor.md); the
 * parser's column enum in gpu.c follows it. */
#define CONDUIT_GPU_QUERY_FIELDS "index,uuid,name,temperature.gpu," \
	"utilization.gpu,utilization.memory,memory.used,memory.total," \
	"power.draw,power.limit,fan.speed,pstate," \
	"clocks_throttle_reasons.active," \
	"ecc.errors.uncorrected.volatile.total"
#define CONDUIT_GPU_APPS_FIELDS "pid,used_memory,gpu_uuid,process_name"

/* Throttle (clock-event) reason bits to names, comma-separated into
 * out; "" for none. */
void conduit_mon_throttle_names(uint64_t mask, char *out, size_t outlen);
/* Whether mask has a thermal or power reason (the alert rule). */
bool conduit_mon_throttle_alerting(uint64_t mask);

/* Pure: nvidia-smi CSV text (both queries) into the "gpus" object's
 * "devices" and "processes" arrays.  A bracketed value is null. */
int conduit_mon_parse_gpu_csv(const char *text, struct cJSON *devices,
    struct conduit_err *err);
int conduit_mon_parse_apps_csv(const char *text, struct cJSON *procs,
    struct conduit_err *err);

/* Builds the whole "gpus" object from the two queries' outcomes (the
 * remote fallback passes the texts it got over ssh). */
struct cJSON *conduit_mon_gpu_from_outputs(const char *gpu_text,
    int gpu_rc, const char *apps_text, int apps_rc);

/* Runs nvidia-smi (the name on PATH, or a path) twice in parallel. */
struct cJSON *conduit_mon_gpu_collect(const char *nvidia_smi,
    long timeout_ms);

/* ---- containers (src/monitor/docker.c) -------------------------------- */

#define CONDUIT_DOCKER_API_MAX "1.45"	/* newest version we speak */
#define CONDUIT_DOCKER_API_MIN "1.24"	/* assumed when /_ping says none */

/* The socket path: DOCKER_HOST=unix:///path when set, else the setting.
 * Another DOCKER_HOST scheme is CONDUIT_EINVAL. */
int conduit_mon_docker_socket(const char *setting, const char *docker_host,
    char *out, size_t outlen, struct conduit_err *err);

/* "1.43" vs "1.45": the lower of the two (negotiation). */
void conduit_mon_docker_negotiate(const char *server, char *out,
    size_t outlen);

/* Docker CLI formulas from one stats sample; NAN when not computable. */
double conduit_mon_docker_cpu_percent(const struct cJSON *stats);
double conduit_mon_docker_mem_used(const struct cJSON *stats);

/* Pure: one container object from its list entry, inspect document and
 * stats sample (stats may be NULL). */
struct cJSON *conduit_mon_container_json(const struct cJSON *entry,
    const struct cJSON *inspect, const struct cJSON *stats);

/* The "containers" object; socket absent: not_present. */
struct cJSON *conduit_mon_docker_collect(const char *socket_path,
    long timeout_ms);

/* ---- remote servers (src/monitor/remote.c) ---------------------------- */

/* The fixed fallback script run when the remote has no conduit. */
extern const char conduit_mon_fallback_script[];

/* "[USER@]HOST": the host part must be a valid hostname or IP and the
 * whole must not start with '-'. */
int conduit_mon_validate_server(const char *server, struct conduit_err *err);

struct conduit_remote_opts {
	const char *ssh_bin;		/* "ssh" */
	const char *ssh_config;		/* -F FILE, or NULL */
	long timeout_ms;		/* whole run per server */
	long sample_ms;
	bool host, gpu, containers;	/* --only */
};

/* The ssh argv for one server (pure; *argv and its strings are in buf). */
int conduit_mon_ssh_argv(const struct conduit_remote_opts *o,
    const char *server, char **argv, size_t maxargs, char *buf,
    size_t buflen, struct conduit_err *err);

/* Parses what a remote printed into a server object: a conduit document
 * (its first server) or the fallback's sections. */
struct cJSON *conduit_mon_remote_parse(const char *server, const char *out,
    const struct conduit_remote_opts *o, struct conduit_err *err);

/* Server objects for every server, polled in parallel (in order). */
struct cJSON *conduit_mon_remote_collect(const char *const *servers,
    size_t n, const struct conduit_remote_opts *o);

/* A server object for an unreachable server. */
struct cJSON *conduit_mon_server_error(const char *server, const char *msg);

/* ---- the run (src/monitor/monitor.c) ---------------------------------- */

struct conduit_monitor_req {
	bool host, gpu, containers;	/* --only; all true by default */
	bool local;			/* report this machine */
	long sample_ms;
	const char *nvidia_smi;		/* "nvidia-smi" */
	long gpu_timeout_ms;
	const char *docker_socket;	/* the setting */
	const char *docker_host;	/* $DOCKER_HOST, or NULL */
	long docker_timeout_ms;
	const char *const *servers;
	size_t n_servers;
	struct conduit_remote_opts remote;
};

/* The whole document without alerts: {schema_version, generated_at,
 * servers: [...]}. */
struct cJSON *conduit_monitor_collect(const struct conduit_monitor_req *r);

/* ---- alerts and remembered state (src/monitor/alerts.c) --------------- */

/*
 * The state file <state-dir>/monitor/state.json remembers container
 * restart baselines and the alerts that are firing.  Pure functions:
 *   restarts_apply: sets each container's "restarts_new" from the
 *     baseline (null on first sighting), appends "events", updates state.
 *   alerts_eval: every rule checked against the document, one object
 *     per rule and subject with "active" (breached) and "key".
 *   alerts_transitions: compares with the remembered firing set; returns
 *     the monitor_alert audit records to write (array of {message,
 *     details}) and updates state's firing set.
 */
struct cJSON *conduit_mon_state_new(void);
void conduit_mon_restarts_apply(struct cJSON *doc, struct cJSON *state);
struct cJSON *conduit_mon_alerts_eval(const struct cJSON *doc,
    const struct conduit_thresholds *th);
struct cJSON *conduit_mon_alerts_transitions(const struct cJSON *doc,
    const struct cJSON *checks, struct cJSON *state, const char *now);

/* Loads (missing: new), applies restarts and alert transitions, writes
 * audit records and saves, all under <state-dir>/monitor/state.lock.
 * Adds "alerts" and "events" to doc. */
int conduit_monitor_track(const char *state_dir, struct cJSON *doc,
    const struct conduit_thresholds *th, struct conduit_err *err);

/* Without a state dir: alerts from thresholds alone (no restart
 * baseline, nothing remembered or audited). */
void conduit_monitor_untracked(struct cJSON *doc,
    const struct conduit_thresholds *th);

/* ---- renderers (src/render/monitor_*.c) ------------------------------- */

char *conduit_render_monitor_text(const struct cJSON *doc, bool color);
char *conduit_render_monitor_prometheus(const struct cJSON *doc);

#endif
