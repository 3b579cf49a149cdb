/*
 * monitor.c - one monitoring run: this machine and the remote servers.
 *
 * The remote servers are polled from a second thread while this machine
 * is measured, so a run costs max(local, slowest server) rather than
 * the sum.  Locally the CPU sample window is opened first and closed
 * last: nvidia-smi and the Docker requests run inside it instead of
 * after it.
 */
#include <pthread.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "conduit/fsutil.h"
#include "conduit/monitor.h"

struct remote_arg {
	const struct conduit_monitor_req *r;
	cJSON *result;
};

static void *
remote_thread(void *p)
{
	struct remote_arg *a = p;

	a->result = conduit_mon_remote_collect(a->r->servers,
	    a->r->n_servers, &a->r->remote);
	return NULL;
}

static cJSON *
local_containers(const struct conduit_monitor_req *r)
{
	struct conduit_err e;
	char sock[256];
	cJSON *c;

	conduit_err_clear(&e);
	if (conduit_mon_docker_socket(r->docker_socket, r->docker_host, sock,
	    sizeof sock, &e) == 0)
		return conduit_mon_docker_collect(sock, r->docker_timeout_ms);
	c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "status", MON_ERROR);
	cJSON_AddStringToObject(c, "error", e.msg);
	cJSON_AddNullToObject(c, "api_version");
	cJSON_AddArrayToObject(c, "items");
	return c;
}

static cJSON *
local_server(const struct conduit_monitor_req *r)
{
	cJSON *s = cJSON_CreateObject();
	struct conduit_cpu_times t0;
	long long t0_ms;
	cJSON *gpus = NULL, *containers = NULL;

	if (s == NULL)
		return NULL;
	conduit_mon_cpu_begin(&t0, &t0_ms);
	if (r->gpu)
		gpus = conduit_mon_gpu_collect(r->nvidia_smi,
		    r->gpu_timeout_ms);
	if (r->containers)
		containers = local_containers(r);
	cJSON_AddStringToObject(s, "server", "local");
	cJSON_AddBoolToObject(s, "reachable", true);
	cJSON_AddNullToObject(s, "error");
	cJSON_AddStringToObject(s, "via", "local");
	if (r->host)
		cJSON_AddItemToObject(s, "host", conduit_mon_host_collect(&t0,
		    t0_ms, r->sample_ms));
	else
		cJSON_AddNullToObject(s, "host");
	cJSON_AddItemToObject(s, "gpus", gpus ? gpus : cJSON_CreateNull());
	cJSON_AddItemToObject(s, "containers", containers ? containers :
	    cJSON_CreateNull());
	return s;
}

cJSON *
conduit_monitor_collect(const struct conduit_monitor_req *r)
{
	cJSON *doc = cJSON_CreateObject(), *servers, *item;
	struct remote_arg ra = { r, NULL };
	pthread_t th;
	bool threaded = false;
	char ts[32];

	if (doc == NULL)
		return NULL;
	conduit_timestamp(ts, 0);
	cJSON_AddNumberToObject(doc, "schema_version", CONDUIT_MONITOR_SCHEMA);
	cJSON_AddStringToObject(doc, "generated_at", ts);
	servers = cJSON_AddArrayToObject(doc, "servers");
	if (r->n_servers > 0) {
		threaded = pthread_create(&th, NULL, remote_thread, &ra) == 0;
		if (!threaded)	/* no thread: poll them after this host */
			ra.result = NULL;
	}
	if (r->local)
		cJSON_AddItemToArray(servers, local_server(r));
	if (r->n_servers > 0) {
		if (threaded)
			pthread_join(th, NULL);
		else
			remote_thread(&ra);
		while (ra.result != NULL && (item = cJSON_DetachItemFromArray(
		    ra.result, 0)) != NULL)
			cJSON_AddItemToArray(servers, item);
		cJSON_Delete(ra.result);
	}
	return doc;
}
