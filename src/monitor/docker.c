/*
 * docker.c - containers through the Docker Engine API on a unix socket.
 *
 * The same requests the docker CLI makes, with libcurl's unix-socket
 * support: GET /_ping (unversioned) to learn the engine's API version,
 * then /vX.Y/containers/json?all=1, and for every container its inspect
 * document and, when running, one stats sample (stream=false).  Stats
 * with stream=false makes the engine wait for a second sample (about a
 * second on a real engine) so the per-container requests go out
 * together on one curl multi handle, at most MAX_PARALLEL at a time;
 * 50 containers cost about one stats interval, not fifty.
 *
 * CPU% and memory use the docker CLI's formulas (docker stats), so the
 * figures match what an operator sees there.  A missing socket is "not
 * present" (no Docker on this machine); a socket nobody answers on, or
 * an engine answering errors, is "error" with the reason.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "conduit/monitor.h"

#define MAX_PARALLEL 16
#define BODY_MAX (32u << 20)

/* One response: the body collects in an open_memstream FILE until
 * resp_body() closes it. */
struct resp {
	FILE *fp;
	char *buf;
	size_t len;		/* bytes received so far */
	size_t fplen;		/* open_memstream's length */
	char api_version[32];
	long code;
};

static char *
resp_body(struct resp *r)
{
	if (r->fp != NULL) {
		fclose(r->fp);
		r->fp = NULL;
	}
	return r->buf;
}

int
conduit_mon_docker_socket(const char *setting, const char *docker_host,
    char *out, size_t outlen, struct conduit_err *err)
{
	const char *p = setting;

	if (docker_host != NULL && docker_host[0] != '\0') {
		if (strncmp(docker_host, "unix://", 7) != 0)
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "DOCKER_HOST \"%s\" is not supported: only "
			    "unix:///path sockets are", docker_host);
		p = docker_host + 7;
	}
	if (p == NULL || p[0] != '/')
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "Docker socket \"%s\" is not an absolute path",
		    p ? p : "");
	if ((size_t)snprintf(out, outlen, "%s", p) >= outlen)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "Docker socket path is too long");
	return 0;
}

/* "1.43" -> 1043; -1 when not MAJOR.MINOR. */
static long
api_num(const char *v)
{
	unsigned long maj, min;
	char tail;

	if (v == NULL || sscanf(v, "%lu.%lu%c", &maj, &min, &tail) != 2 ||
	    maj > 99 || min > 999)
		return -1;
	return (long)(maj * 1000 + min);
}

void
conduit_mon_docker_negotiate(const char *server, char *out, size_t outlen)
{
	long s = api_num(server), c = api_num(CONDUIT_DOCKER_API_MAX);

	/* As the docker CLI: no header means an old engine. */
	if (s < 0)
		snprintf(out, outlen, "%s", CONDUIT_DOCKER_API_MIN);
	else if (s < c)
		snprintf(out, outlen, "%ld.%ld", s / 1000, s % 1000);
	else
		snprintf(out, outlen, "%s", CONDUIT_DOCKER_API_MAX);
}

static double
path_num(const cJSON *o, const char *a, const char *b, const char *c)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	if (c != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, c);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static double
online_cpus(const cJSON *stats)
{
	double n = path_num(stats, "cpu_stats", "online_cpus", NULL);
	const cJSON *per;

	if (!isnan(n) && n > 0)
		return n;
	per = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(stats, "cpu_stats"), "cpu_usage"),
	    "percpu_usage");
	return cJSON_IsArray(per) && cJSON_GetArraySize(per) > 0 ?
	    cJSON_GetArraySize(per) : NAN;
}

double
conduit_mon_docker_cpu_percent(const cJSON *stats)
{
	double cpu = path_num(stats, "cpu_stats", "cpu_usage", "total_usage");
	double pre = path_num(stats, "precpu_stats", "cpu_usage",
	    "total_usage");
	double sys = path_num(stats, "cpu_stats", "system_cpu_usage", NULL);
	double presys = path_num(stats, "precpu_stats", "system_cpu_usage",
	    NULL);
	double n = online_cpus(stats);

	if (isnan(cpu) || isnan(pre) || isnan(sys) || isnan(presys) ||
	    isnan(n))
		return NAN;
	/* docker CLI: both deltas must be positive, else 0.00%. */
	if (sys - presys > 0 && cpu - pre > 0)
		return (cpu - pre) / (sys - presys) * n * 100.0;
	return 0.0;
}

double
conduit_mon_docker_mem_used(const cJSON *stats)
{
	double usage = path_num(stats, "memory_stats", "usage", NULL);
	double v1 = path_num(stats, "memory_stats", "stats",
	    "total_inactive_file");
	double v2 = path_num(stats, "memory_stats", "stats", "inactive_file");

	if (isnan(usage))
		return NAN;
	/* cgroup v1 reports total_inactive_file, v2 inactive_file; the
	 * CLI subtracts whichever is there when it is below usage. */
	if (!isnan(v1) && v1 < usage)
		return usage - v1;
	if (isnan(v1) && !isnan(v2) && v2 < usage)
		return usage - v2;
	return usage;
}

cJSON *
conduit_mon_container_json(const cJSON *entry, const cJSON *inspect,
    const cJSON *stats)
{
	cJSON *c = cJSON_CreateObject();
	const cJSON *names = cJSON_GetObjectItemCaseSensitive(entry, "Names");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(inspect, "State");
	const cJSON *health = cJSON_GetObjectItemCaseSensitive(st, "Health");
	const cJSON *oom = cJSON_GetObjectItemCaseSensitive(st, "OOMKilled");
	const char *id = conduit_mon_str(entry, "Id");
	const char *name = NULL, *state, *started;
	double used, limit;
	char shortid[13];

	if (c == NULL)
		return NULL;
	if (cJSON_IsArray(names) && cJSON_IsString(names->child))
		name = names->child->valuestring;
	if (name == NULL)
		name = conduit_mon_str(inspect, "Name");
	if (name != NULL && name[0] == '/')
		name++;
	snprintf(shortid, sizeof shortid, "%s", id ? id : "");
	conduit_mon_add_str(c, "id", id ? shortid : NULL);
	conduit_mon_add_str(c, "full_id", id);
	conduit_mon_add_str(c, "name", name);
	conduit_mon_add_str(c, "image", conduit_mon_str(entry, "Image"));
	state = conduit_mon_str(st, "Status");
	conduit_mon_add_str(c, "state", state ? state :
	    conduit_mon_str(entry, "State"));
	conduit_mon_add_str(c, "status", conduit_mon_str(entry, "Status"));
	conduit_mon_add_str(c, "health", conduit_mon_str(health, "Status"));
	conduit_mon_add_num(c, "restart_count", conduit_mon_num(inspect,
	    "RestartCount"));
	if (cJSON_IsBool(oom))
		cJSON_AddBoolToObject(c, "oom_killed", cJSON_IsTrue(oom));
	else
		cJSON_AddNullToObject(c, "oom_killed");
	started = conduit_mon_str(st, "StartedAt");
	/* The zero time is Go's way of saying "never started". */
	if (started != NULL && strncmp(started, "0001-01-01", 10) == 0)
		started = NULL;
	conduit_mon_add_str(c, "started_at", started);
	conduit_mon_add_num(c, "exit_code", conduit_mon_num(st, "ExitCode"));
	used = stats ? conduit_mon_docker_mem_used(stats) : NAN;
	limit = stats ? path_num(stats, "memory_stats", "limit", NULL) : NAN;
	conduit_mon_add_num(c, "cpu_percent", stats ?
	    conduit_mon_docker_cpu_percent(stats) : NAN);
	conduit_mon_add_num(c, "online_cpus", stats ? online_cpus(stats) :
	    NAN);
	conduit_mon_add_num(c, "memory_used_bytes", used);
	conduit_mon_add_num(c, "memory_limit_bytes", limit);
	conduit_mon_add_num(c, "memory_percent", limit > 0 ?
	    used / limit * 100.0 : NAN);
	return c;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct resp *r = arg;
	size_t n = size * nmemb;

	if (r->fp == NULL && r->buf == NULL)
		r->fp = open_memstream(&r->buf, &r->fplen);
	if (r->fp == NULL || r->len + n > BODY_MAX)
		return 0;	/* aborts the transfer */
	if (fwrite(data, 1, n, r->fp) != n)
		return 0;
	r->len += n;
	return n;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct resp *r = arg;
	size_t n = size * nmemb, k = 0;

	if (n > 12 && strncasecmp(data, "Api-Version:", 12) == 0) {
		const char *v = data + 12;
		size_t l = n - 12;

		while (l > 0 && *v == ' ') {
			v++;
			l--;
		}
		while (l > 0 && (v[l - 1] == '\r' || v[l - 1] == '\n' ||
		    v[l - 1] == ' '))
			l--;
		for (; k < l && k + 1 < sizeof r->api_version; k++)
			r->api_version[k] = v[k];
		r->api_version[k] = '\0';
	}
	return n;
}

static CURL *
request(const char *sock, const char *path, struct resp *r, long timeout_ms)
{
	CURL *h = curl_easy_init();
	char url[1024];

	if (h == NULL)
		return NULL;
	snprintf(url, sizeof url, "http://localhost%s", path);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PRIVATE, r);
	return h;
}

/* One blocking request; body parsed as JSON when want_json. */
static int
get(const char *sock, const char *path, long timeout_ms, struct resp *r,
    char *errbuf, size_t errlen)
{
	CURL *h = request(sock, path, r, timeout_ms);
	CURLcode cc;

	if (h == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
	curl_easy_cleanup(h);
	resp_body(r);
	if (cc != CURLE_OK) {
		snprintf(errbuf, errlen, "cannot reach the Docker engine at "
		    "%s: %s", sock, curl_easy_strerror(cc));
		return -1;
	}
	if (r->code != 200) {
		snprintf(errbuf, errlen, "Docker engine answered %ld to GET "
		    "%s: %.200s", r->code, path, r->buf ? r->buf : "");
		return -1;
	}
	return 0;
}

struct per {
	const cJSON *entry;
	struct resp inspect, stats;
	bool want_stats;
};

/* Runs every queued handle to completion; bounded by the per-request
 * timeouts (each handle ends by itself) and a loop cap. */
static void
run_multi(CURLM *m, long timeout_ms)
{
	int running = 1;

	for (long i = 0; running > 0 && i < 100000; i++) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		if (running > 0 && curl_multi_poll(m, NULL, 0,
		    (int)(timeout_ms < 1000 ? timeout_ms : 1000), NULL) !=
		    CURLM_OK)
			break;
	}
}

static cJSON *
fetch_containers(const char *sock, const char *ver, const cJSON *list,
    long timeout_ms)
{
	cJSON *items = cJSON_CreateArray();
	int n = cJSON_GetArraySize(list);
	struct per *p = calloc(n > 0 ? (size_t)n : 1, sizeof *p);
	CURLM *m = curl_multi_init();
	CURL **handles = calloc(n > 0 ? 2 * (size_t)n : 1, sizeof *handles);
	const cJSON *e;
	int i = 0;

	if (items == NULL || p == NULL || m == NULL || handles == NULL) {
		free(p);
		free(handles);
		if (m != NULL)
			curl_multi_cleanup(m);
		cJSON_Delete(items);
		return NULL;
	}
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	    (long)MAX_PARALLEL);
	cJSON_ArrayForEach(e, list) {
		const char *id = conduit_mon_str(e, "Id");
		const char *state = conduit_mon_str(e, "State");
		char path[512];

		p[i].entry = e;
		if (id == NULL || strspn(id, "0123456789abcdef") !=
		    strlen(id)) {
			i++;
			continue;	/* never put odd text in a URL */
		}
		snprintf(path, sizeof path, "/v%s/containers/%s/json", ver, id);
		handles[2 * i] = request(sock, path, &p[i].inspect,
		    timeout_ms);
		if (handles[2 * i] != NULL)
			curl_multi_add_handle(m, handles[2 * i]);
		p[i].want_stats = state != NULL && strcmp(state,
		    "running") == 0;
		if (p[i].want_stats) {
			snprintf(path, sizeof path,
			    "/v%s/containers/%s/stats?stream=false", ver, id);
			handles[2 * i + 1] = request(sock, path, &p[i].stats,
			    timeout_ms);
			if (handles[2 * i + 1] != NULL)
				curl_multi_add_handle(m, handles[2 * i + 1]);
		}
		i++;
	}
	run_multi(m, timeout_ms);
	for (i = 0; i < n; i++) {
		cJSON *ins = NULL, *stats = NULL;

		for (int k = 0; k < 2; k++) {
			struct resp *r = k ? &p[i].stats : &p[i].inspect;

			if (handles[2 * i + k] == NULL)
				continue;
			curl_easy_getinfo(handles[2 * i + k],
			    CURLINFO_RESPONSE_CODE, &r->code);
			curl_multi_remove_handle(m, handles[2 * i + k]);
			curl_easy_cleanup(handles[2 * i + k]);
		}
		if (resp_body(&p[i].inspect) != NULL &&
		    p[i].inspect.code == 200)
			ins = cJSON_Parse(p[i].inspect.buf);
		if (resp_body(&p[i].stats) != NULL && p[i].stats.code == 200)
			stats = cJSON_Parse(p[i].stats.buf);
		cJSON_AddItemToArray(items, conduit_mon_container_json(
		    p[i].entry, ins, stats));
		cJSON_Delete(ins);
		cJSON_Delete(stats);
		free(p[i].inspect.buf);
		free(p[i].stats.buf);
	}
	curl_multi_cleanup(m);
	free(handles);
	free(p);
	return items;
}

static cJSON *
containers_obj(const char *status, const char *error, const char *ver)
{
	cJSON *c = cJSON_CreateObject();

	if (c == NULL)
		return NULL;
	cJSON_AddStringToObject(c, "status", status);
	conduit_mon_add_str(c, "error", error);
	conduit_mon_add_str(c, "api_version", ver);
	return c;
}

cJSON *
conduit_mon_docker_collect(const char *socket_path, long timeout_ms)
{
	struct resp ping = { 0 }, list = { 0 };
	char errbuf[512], ver[32], path[128];
	cJSON *c, *arr, *items;
	struct stat sb;

	if (socket_path == NULL || socket_path[0] == '\0' ||
	    (stat(socket_path, &sb) != 0 && errno == ENOENT)) {
		c = containers_obj(MON_ABSENT, NULL, NULL);
		cJSON_AddArrayToObject(c, "items");
		return c;
	}
	if (get(socket_path, "/_ping", timeout_ms, &ping, errbuf,
	    sizeof errbuf) != 0) {
		free(ping.buf);
		c = containers_obj(MON_ERROR, errbuf, NULL);
		cJSON_AddArrayToObject(c, "items");
		return c;
	}
	conduit_mon_docker_negotiate(ping.api_version[0] ? ping.api_version :
	    NULL, ver, sizeof ver);
	free(ping.buf);
	snprintf(path, sizeof path, "/v%s/containers/json?all=1", ver);
	if (get(socket_path, path, timeout_ms, &list, errbuf,
	    sizeof errbuf) != 0) {
		free(list.buf);
		c = containers_obj(MON_ERROR, errbuf, ver);
		cJSON_AddArrayToObject(c, "items");
		return c;
	}
	arr = cJSON_Parse(list.buf);
	free(list.buf);
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(arr);
		c = containers_obj(MON_ERROR, "Docker engine sent a container "
		    "list that is not a JSON array", ver);
		cJSON_AddArrayToObject(c, "items");
		return c;
	}
	items = fetch_containers(socket_path, ver, arr, timeout_ms);
	cJSON_Delete(arr);
	c = containers_obj(items ? MON_OK : MON_ERROR, items ? NULL :
	    "out of memory", ver);
	if (items != NULL)
		cJSON_AddItemToObject(c, "items", items);
	else
		cJSON_AddArrayToObject(c, "items");
	return c;
}
