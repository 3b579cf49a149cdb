/*
 * remote.c - other servers over ssh, polled in parallel.
 *
 * Each server gets one `ssh -o BatchMode=yes -o ConnectTimeout=N -T --
 * [USER@]HOST "sh -c '<script>' conduit MS ONLY"` and all of them run at
 * once under one deadline (proc.c), so a dead server costs its timeout
 * and nothing more.  The script is fixed text, never built from input:
 * the only values it receives are the sample window (a number) and the
 * --only list (validated letters and commas), as positional parameters.
 *
 * The script runs `conduit monitor --json --local` when the server has
 * conduit, and then its JSON document is used as it is.  Otherwise it
 * prints marked sections of procfs files (and the two nvidia-smi
 * queries) which go through the same parsers as the local collectors.
 * The fallback cannot talk to Docker; its "containers" say
 * "unsupported".  docs/monitor.md reproduces the script.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "conduit/monitor.h"
#include "conduit/validate.h"

#define MAX_ARGS 24

/* No single quote may appear in it: it travels inside '...'. */
const char conduit_mon_fallback_script[] =
"ms=$1; only=$2\n"
"if command -v conduit >/dev/null 2>&1; then\n"
"  exec conduit monitor --json --local --sample-ms \"$ms\" --only \"$only\"\n"
"fi\n"
"echo @@conduit-fallback 1\n"
"case \",$only,\" in *,host,*)\n"
"  echo @@hostname; cat /proc/sys/kernel/hostname\n"
"  echo @@osrelease; cat /proc/sys/kernel/osrelease\n"
"  echo @@uptime; cat /proc/uptime\n"
"  echo @@loadavg; cat /proc/loadavg\n"
"  echo @@online; cat /sys/devices/system/cpu/online\n"
"  echo @@meminfo; cat /proc/meminfo\n"
"  echo @@stat1; head -n 1 /proc/stat\n"
"  sleep $((ms / 1000)).$(printf %03d $((ms % 1000)))\n"
"  echo @@stat2; head -n 1 /proc/stat\n"
"  echo @@mountinfo; cat /proc/self/mountinfo\n"
"  echo @@df; df -P -k 2>/dev/null\n"
"  echo @@dfi; df -P -i 2>/dev/null;;\n"
"esac\n"
"case \",$only,\" in *,gpu,*)\n"
"  if command -v nvidia-smi >/dev/null 2>&1; then\n"
"    echo @@gpu\n"
"    nvidia-smi --query-gpu=" CONDUIT_GPU_QUERY_FIELDS
    " --format=csv,noheader,nounits 2>&1\n"
"    echo \"@@gpu-rc $?\"\n"
"    echo @@apps\n"
"    nvidia-smi --query-compute-apps=" CONDUIT_GPU_APPS_FIELDS
    " --format=csv,noheader,nounits 2>&1\n"
"    echo \"@@apps-rc $?\"\n"
"  else\n"
"    echo @@gpu-absent\n"
"  fi;;\n"
"esac\n"
"echo @@end\n";

int
conduit_mon_validate_server(const char *server, struct conduit_err *err)
{
	const char *at, *host;
	size_t ulen;

	if (server == NULL || server[0] == '\0')
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "--server \"\" is empty: give [USER@]HOST");
	if (server[0] == '-')
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "--server \"%s\" starts with '-': give [USER@]HOST",
		    server);
	at = strrchr(server, '@');
	host = at ? at + 1 : server;
	ulen = at ? (size_t)(at - server) : 0;
	if (at != NULL && (ulen == 0 || ulen > 32 || strspn(server,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") != ulen))
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "--server \"%s\": the user name must be 1-32 of "
		    "A-Z a-z 0-9 . _ -", server);
	if (host[0] == '-')
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "--server \"%s\": the host starts with '-'", server);
	return conduit_validate_host("--server", host, NULL, err);
}

int
conduit_mon_ssh_argv(const struct conduit_remote_opts *o, const char *server,
    char **argv, size_t maxargs, char *buf, size_t buflen,
    struct conduit_err *err)
{
	size_t n = 0, used = 0;
	long secs = (o->timeout_ms + 999) / 1000;
	char only[32];
	int w;

/* Appends a formatted string to buf and points the next arg at it. */
#define ARG(...) do {							\
	if (n + 2 > maxargs)						\
		return conduit_err_set(err, CONDUIT_EINTERNAL,		\
		    "ssh command line too long");			\
	w = snprintf(buf + used, buflen - used, __VA_ARGS__);		\
	if (w < 0 || (size_t)w >= buflen - used)			\
		return conduit_err_set(err, CONDUIT_EINTERNAL,		\
		    "ssh command line too long");			\
	argv[n++] = buf + used;						\
	used += (size_t)w + 1;						\
} while (0)

	if (conduit_mon_validate_server(server, err) != 0)
		return CONDUIT_EINVAL;
	snprintf(only, sizeof only, "%s%s%s%s%s", o->host ? "host" : "",
	    o->host && o->gpu ? "," : "", o->gpu ? "gpu" : "",
	    (o->host || o->gpu) && o->containers ? "," : "",
	    o->containers ? "containers" : "");
	ARG("%s", o->ssh_bin ? o->ssh_bin : "ssh");
	if (o->ssh_config != NULL) {
		ARG("-F");
		ARG("%s", o->ssh_config);
	}
	ARG("-T");
	ARG("-o");
	ARG("BatchMode=yes");
	ARG("-o");
	ARG("ConnectTimeout=%ld", secs > 0 ? secs : 1);
	ARG("--");
	ARG("%s", server);
	ARG("sh -c '%s' conduit %ld %s", conduit_mon_fallback_script,
	    o->sample_ms, only[0] ? only : "none");
	argv[n] = NULL;
#undef ARG
	return 0;
}

cJSON *
conduit_mon_server_error(const char *server, const char *msg)
{
	cJSON *s = cJSON_CreateObject();

	if (s == NULL)
		return NULL;
	conduit_mon_add_str(s, "server", server);
	cJSON_AddBoolToObject(s, "reachable", false);
	conduit_mon_add_str(s, "error", msg);
	cJSON_AddNullToObject(s, "via");
	cJSON_AddNullToObject(s, "host");
	cJSON_AddNullToObject(s, "gpus");
	cJSON_AddNullToObject(s, "containers");
	return s;
}

/* The text of section "@@name" up to the next "@@" line (malloc'd), or
 * NULL when the output has no such section. */
static char *
section(const char *out, const char *name)
{
	char mark[64];
	const char *p, *end;
	size_t ml;
	char *s;

	ml = (size_t)snprintf(mark, sizeof mark, "@@%s\n", name);
	for (p = out; p != NULL; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, mark, ml) == 0)
			break;
	}
	if (p == NULL)
		return NULL;
	p += ml;
	for (end = p; *end != '\0'; ) {
		if (strncmp(end, "@@", 2) == 0)
			break;
		end = strchr(end, '\n');
		if (end == NULL) {
			end = p + strlen(p);
			break;
		}
		end++;
	}
	s = malloc((size_t)(end - p) + 1);
	if (s != NULL) {
		memcpy(s, p, (size_t)(end - p));
		s[end - p] = '\0';
	}
	return s;
}

/* "@@name N" -> N; -2 when absent. */
static int
section_rc(const char *out, const char *name)
{
	char mark[64];
	const char *p;
	int rc;

	snprintf(mark, sizeof mark, "\n@@%s ", name);
	p = strstr(out, mark);
	if (p == NULL || sscanf(p + strlen(mark), "%d", &rc) != 1)
		return -2;
	return rc;
}

static void
chomp(char *s)
{
	size_t l = s ? strlen(s) : 0;

	while (l > 0 && (s[l - 1] == '\n' || s[l - 1] == '\r'))
		s[--l] = '\0';
}

/* The df -P row for mountpoint: column col (1-based) as a number. */
static double
df_value(const char *df, const char *mountpoint, int col)
{
	const char *p = df;

	/* Rows: FS BLOCKS USED AVAIL CAP% MOUNTPOINT (rest of line). */
	for (int line = 0; p != NULL && *p != '\0' && line < 10000; line++) {
		double v[4];
		int off = 0;
		char fs[512];
		const char *mp, *nl = strchr(p, '\n');
		size_t mlen;

		if (sscanf(p, "%511s %lf %lf %lf %*s %n", fs, &v[0], &v[1],
		    &v[2], &off) == 4 && off > 0) {
			mp = p + off;
			mlen = nl ? (size_t)(nl - mp) : strlen(mp);
			if (mlen == strlen(mountpoint) &&
			    strncmp(mp, mountpoint, mlen) == 0)
				return v[col - 1];
		}
		p = nl ? nl + 1 : NULL;
	}
	return NAN;
}

static cJSON *
fallback_host(const char *out)
{
	cJSON *host = cJSON_CreateObject(), *fs;
	char *s;
	struct conduit_cpu_times a, b;
	bool have_a;
	long ncpu;
	struct conduit_mount *m = NULL;
	size_t nm = 0;
	char *df, *dfi;

	if (host == NULL)
		return NULL;
	s = section(out, "hostname");
	chomp(s);
	conduit_mon_add_str(host, "hostname", s);
	free(s);
	s = section(out, "osrelease");
	chomp(s);
	conduit_mon_add_str(host, "kernel", s);
	free(s);
	s = section(out, "uptime");
	conduit_mon_parse_uptime(s, host);
	free(s);
	s = section(out, "online");
	ncpu = conduit_mon_parse_cpulist(s);
	free(s);
	conduit_mon_add_num(host, "cpus", ncpu > 0 ? (double)ncpu : NAN);
	s = section(out, "loadavg");
	conduit_mon_parse_loadavg(s, host);
	free(s);
	s = section(out, "stat1");
	have_a = conduit_mon_parse_stat(s, &a) == 0;
	free(s);
	s = section(out, "stat2");
	if (have_a && conduit_mon_parse_stat(s, &b) == 0)
		conduit_mon_add_num(host, "cpu_percent",
		    conduit_mon_cpu_percent(&a, &b));
	else
		cJSON_AddNullToObject(host, "cpu_percent");
	free(s);
	s = section(out, "meminfo");
	conduit_mon_parse_meminfo(s, host);
	free(s);

	fs = cJSON_AddArrayToObject(host, "filesystems");
	s = section(out, "mountinfo");
	df = section(out, "df");
	dfi = section(out, "dfi");
	if (s != NULL && df != NULL &&
	    conduit_mon_select_mounts(s, &m, &nm, NULL) == 0) {
		for (size_t i = 0; i < nm; i++) {
			double total = df_value(df, m[i].mountpoint, 1);
			double used = df_value(df, m[i].mountpoint, 2);
			double avail = df_value(df, m[i].mountpoint, 3);
			double in = dfi ? df_value(dfi, m[i].mountpoint, 1) :
			    NAN;
			double iu = dfi ? df_value(dfi, m[i].mountpoint, 2) :
			    NAN;

			if (isnan(total) || (total == 0 &&
			    strcmp(m[i].mountpoint, "/") != 0))
				continue;
			cJSON_AddItemToArray(fs, conduit_mon_fs_json(&m[i],
			    total * 1024, avail * 1024,
			    (total - used) * 1024, isnan(in) ? -1 : in,
			    in - iu));
		}
	}
	free(m);
	free(s);
	free(df);
	free(dfi);
	return host;
}

static cJSON *
fallback_gpus(const char *out)
{
	char *g, *a;
	cJSON *obj;

	if (strstr(out, "\n@@gpu-absent\n") != NULL)
		return conduit_mon_gpu_from_outputs("", -1, "", 0);
	g = section(out, "gpu");
	a = section(out, "apps");
	if (g == NULL)
		obj = conduit_mon_gpu_from_outputs("the fallback script "
		    "printed no GPU section", -2, "", 0);
	else
		obj = conduit_mon_gpu_from_outputs(g, section_rc(out,
		    "gpu-rc"), a ? a : "", section_rc(out, "apps-rc"));
	free(g);
	free(a);
	return obj;
}

cJSON *
conduit_mon_remote_parse(const char *server, const char *out,
    const struct conduit_remote_opts *o, struct conduit_err *err)
{
	const char *p = out;
	cJSON *s;

	while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
		p++;
	if (*p == '{') {
		cJSON *doc = cJSON_Parse(p), *servers, *first;
		double v;

		if (doc == NULL) {
			conduit_err_set(err, CONDUIT_EBACKEND, "%s: conduit "
			    "on the server printed JSON that does not parse",
			    server);
			return NULL;
		}
		v = conduit_mon_num(doc, "schema_version");
		servers = cJSON_GetObjectItemCaseSensitive(doc, "servers");
		first = cJSON_IsArray(servers) ? servers->child : NULL;
		if (v != CONDUIT_MONITOR_SCHEMA || !cJSON_IsObject(first)) {
			conduit_err_set(err, CONDUIT_EBACKEND, "%s: conduit "
			    "on the server speaks monitor schema %g, this one "
			    "%d", server, v, CONDUIT_MONITOR_SCHEMA);
			cJSON_Delete(doc);
			return NULL;
		}
		s = cJSON_DetachItemViaPointer(servers, first);
		cJSON_Delete(doc);
		cJSON_ReplaceItemInObjectCaseSensitive(s, "server",
		    cJSON_CreateString(server));
		cJSON_ReplaceItemInObjectCaseSensitive(s, "via",
		    cJSON_CreateString("conduit"));
		return s;
	}
	if (strncmp(p, "@@conduit-fallback 1\n", 21) != 0 ||
	    strstr(p, "\n@@end") == NULL) {
		char first[128];

		snprintf(first, sizeof first, "%.*s", (int)strcspn(p, "\n"),
		    p);
		conduit_err_set(err, CONDUIT_EBACKEND, "%s: unexpected "
		    "answer from the server: \"%s\"", server, first);
		return NULL;
	}
	s = cJSON_CreateObject();
	if (s == NULL)
		return NULL;
	conduit_mon_add_str(s, "server", server);
	cJSON_AddBoolToObject(s, "reachable", true);
	cJSON_AddNullToObject(s, "error");
	cJSON_AddStringToObject(s, "via", "fallback");
	if (o->host)
		cJSON_AddItemToObject(s, "host", fallback_host(p));
	else
		cJSON_AddNullToObject(s, "host");
	if (o->gpu)
		cJSON_AddItemToObject(s, "gpus", fallback_gpus(p));
	else
		cJSON_AddNullToObject(s, "gpus");
	if (o->containers) {
		cJSON *c = cJSON_CreateObject();

		cJSON_AddStringToObject(c, "status", MON_UNSUPPORTED);
		cJSON_AddStringToObject(c, "error", "conduit is not "
		    "installed on the server; the fallback script does not "
		    "read Docker");
		cJSON_AddNullToObject(c, "api_version");
		cJSON_AddArrayToObject(c, "items");
		cJSON_AddItemToObject(s, "containers", c);
	} else {
		cJSON_AddNullToObject(s, "containers");
	}
	return s;
}

/* The last line of ssh's stderr: its reason ("Connection refused"). */
static void
last_line(const char *text, char *out, size_t outlen)
{
	size_t l = strlen(text);
	const char *start;

	while (l > 0 && (text[l - 1] == '\n' || text[l - 1] == '\r'))
		l--;
	start = text + l;
	while (start > text && start[-1] != '\n')
		start--;
	snprintf(out, outlen, "%.*s", (int)(text + l - start), start);
}

cJSON *
conduit_mon_remote_collect(const char *const *servers, size_t n,
    const struct conduit_remote_opts *o)
{
	struct conduit_mon_job *jobs = calloc(n ? n : 1, sizeof *jobs);
	char **argv = calloc(n ? n : 1, MAX_ARGS * sizeof *argv);
	char *bufs = calloc(n ? n : 1, 8192);
	cJSON *arr = cJSON_CreateArray();
	char **errs = calloc(n ? n : 1, sizeof *errs);
	struct conduit_err e;

	if (jobs == NULL || argv == NULL || bufs == NULL || arr == NULL ||
	    errs == NULL) {
		free(jobs);
		free(argv);
		free(bufs);
		free(errs);
		cJSON_Delete(arr);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		static char *const never[] = { "/nonexistent/conduit", NULL };

		if (conduit_mon_ssh_argv(o, servers[i], argv + i * MAX_ARGS,
		    MAX_ARGS, bufs + i * 8192, 8192, &e) != 0) {
			errs[i] = strdup(e.msg);
			jobs[i].argv = never;	/* fails to spawn, harmless */
		} else {
			jobs[i].argv = argv + i * MAX_ARGS;
		}
	}
	conduit_mon_run_jobs(jobs, n, o->timeout_ms, NULL);
	for (size_t i = 0; i < n; i++) {
		struct conduit_mon_job *j = &jobs[i];
		char msg[1200], why[1024];
		cJSON *s = NULL;

		if (errs[i] != NULL) {
			snprintf(msg, sizeof msg, "%s", errs[i]);
		} else if (j->spawn_errno != 0) {
			snprintf(msg, sizeof msg, "cannot run %s: %s",
			    j->argv[0], strerror(j->spawn_errno));
		} else if (j->timed_out) {
			snprintf(msg, sizeof msg, "no answer within %ld ms",
			    o->timeout_ms);
		} else if (!j->exited || WEXITSTATUS(j->status) != 0) {
			last_line(j->errout, why, sizeof why);
			snprintf(msg, sizeof msg, "ssh exited %d%s%s",
			    j->exited ? WEXITSTATUS(j->status) : -1,
			    why[0] ? ": " : "", why);
		} else {
			conduit_err_clear(&e);
			s = conduit_mon_remote_parse(servers[i], j->out, o, &e);
			if (s == NULL)
				snprintf(msg, sizeof msg, "%s", e.msg[0] ?
				    e.msg : "out of memory");
		}
		cJSON_AddItemToArray(arr, s ? s : conduit_mon_server_error(
		    servers[i], msg));
		conduit_mon_job_free(j);
		free(errs[i]);
	}
	free(jobs);
	free(argv);
	free(bufs);
	free(errs);
	return arr;
}
