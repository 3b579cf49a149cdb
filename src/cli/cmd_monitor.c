/*
 * cmd_monitor.c - `conduit monitor`: is the hardware all right?
 *
 * Collects (src/monitor/), tracks alerts against the state dir, renders
 * (src/render/monitor_*.c).  Cron runs it every minute, so it needs no
 * state dir to run: without one it uses the built-in settings and says
 * that alerts are not remembered.  --local is what a gateway runs on a
 * remote server over ssh: this machine only, nothing remembered, no
 * audit records (the gateway keeps the state for every server).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "commands.h"
#include "conduit/fsutil.h"
#include "conduit/monitor.h"
#include "conduit/state.h"
#include "util.h"

#define GPU_TIMEOUT_MS 10000
#define DOCKER_TIMEOUT_MS 5000

static bool o_json, o_prom, o_check, o_local;
static const char *o_prom_file, *o_only, *o_ssh_config;
static long o_sample_ms = -1;
static struct conduit_strlist o_servers;

static const struct conduit_opt monitor_opts[] = {
	OPT_BOOL_(0, "json", "print the versioned JSON document "
	    "(docs/monitor.md)", &o_json),
	OPT_BOOL_(0, "prometheus", "print Prometheus text exposition 0.0.4",
	    &o_prom),
	OPT_STRING_(0, "prometheus-file", "PATH", "write the Prometheus text "
	    "to PATH atomically (for node_exporter's textfile collector)",
	    &o_prom_file),
	OPT_STRING_(0, "only", "LIST", "sources to read: host,gpu,containers "
	    "(default all)", &o_only),
	OPT_LIST_(0, "server", "[USER@]HOST", "poll this server over ssh "
	    "(repeatable; default monitor.servers)", &o_servers),
	OPT_STRING_(0, "ssh-config", "FILE", "ssh client configuration for "
	    "the servers (ssh -F FILE)", &o_ssh_config),
	OPT_INT_(0, "sample-ms", "MS", "CPU sample window in ms, 0-10000 "
	    "(default monitor.sample_window, 200)", &o_sample_ms),
	OPT_BOOL_(0, "check", "exit 1 when any alert is active", &o_check),
	OPT_BOOL_(0, "local", "this machine only; remember nothing, audit "
	    "nothing (what the gateway runs over ssh)", &o_local),
	OPT_END_()
};

static int
parse_only(struct conduit_monitor_req *r, struct conduit_err *err)
{
	char buf[128], *tok, *save = NULL;

	if (o_only == NULL)
		return 0;
	if (strlen(o_only) >= sizeof buf)
		return conduit_err_set(err, CONDUIT_EUSAGE, "--only is too "
		    "long");
	snprintf(buf, sizeof buf, "%s", o_only);
	r->host = r->gpu = r->containers = false;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "host") == 0)
			r->host = true;
		else if (strcmp(tok, "gpu") == 0 || strcmp(tok, "gpus") == 0)
			r->gpu = true;
		else if (strcmp(tok, "containers") == 0)
			r->containers = true;
		else
			return conduit_err_set(err, CONDUIT_EUSAGE,
			    "--only \"%s\": unknown source \"%s\" (host, gpu, "
			    "containers)", o_only, tok);
	}
	if (!r->host && !r->gpu && !r->containers)
		return conduit_err_set(err, CONDUIT_EUSAGE, "--only \"%s\" "
		    "names no source (host, gpu, containers)", o_only);
	return 0;
}

/* Settings from the state dir when there is one.  Returns whether
 * alerts can be remembered there. */
static int
load_settings(struct conduit_ctx *ctx, bool *tracked, struct conduit_err *err)
{
	int rc;

	*tracked = false;
	if (conduit_state_check(ctx->state_dir, err) != 0) {
		if (ctx->state_dir_explicit && !o_local)
			return CONDUIT_ESTATE;
		conduit_err_clear(err);
		if (!o_local)
			conduit_warn(ctx, "no state directory at %s: built-in "
			    "settings; alerts are not remembered or audited "
			    "(run `conduit init`)", ctx->state_dir);
		if (!ctx->config_explicit)
			return 0;
	} else {
		*tracked = !o_local;
	}
	rc = conduit_settings_load(&ctx->settings, ctx->config_path, err);
	if (rc == CONDUIT_ENOTFOUND && !ctx->config_explicit) {
		conduit_err_clear(err);
		rc = 0;
	}
	return rc;
}

static int
emit(const cJSON *doc, const struct conduit_ctx *ctx, struct conduit_err *err)
{
	char *text = NULL;
	int rc = 0;

	if (o_prom_file != NULL || o_prom) {
		text = conduit_render_monitor_prometheus(doc);
		if (text == NULL)
			return conduit_err_set(err, CONDUIT_ENOMEM,
			    "out of memory");
		/* 0644: node_exporter runs as its own user. */
		if (o_prom_file != NULL && (rc = conduit_write_atomic(
		    o_prom_file, text, strlen(text), 0644, err)) != 0) {
			free(text);
			return conduit_err_wrap(err, "--prometheus-file");
		}
		if (o_prom)
			fputs(text, stdout);
		free(text);
	}
	if (o_json)
		return cli_print_json(doc, err);
	if (!o_prom && o_prom_file == NULL) {
		text = conduit_render_monitor_text(doc, ctx->color_out);
		if (text == NULL)
			return conduit_err_set(err, CONDUIT_ENOMEM,
			    "out of memory");
		fputs(text, stdout);
		free(text);
	}
	return rc;
}

static int
monitor_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	struct conduit_monitor_req r = { .host = true, .gpu = true,
	    .containers = true, .local = true };
	const char *servers[CONDUIT_MAX_SERVERS + 64];
	const struct conduit_settings *s = &ctx->settings;
	bool tracked;
	cJSON *doc;
	size_t n = 0;
	int rc, npos;

	if ((rc = conduit_opts_parse(&cmd_monitor_entry, monitor_opts, argc,
	    argv, &npos, err)) != 0)
		return rc == 1 ? 0 : rc;
	if (npos > 0)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unexpected argument \"%.60s\"", argv[0]);
	if (o_json && o_prom)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "--json and --prometheus both want stdout: pick one (use "
		    "--prometheus-file for the other)");
	if (o_sample_ms != -1 && (o_sample_ms < 0 || o_sample_ms > 10000))
		return conduit_err_set(err, CONDUIT_EUSAGE, "--sample-ms "
		    "\"%ld\" is out of range 0-10000", o_sample_ms);
	if ((rc = parse_only(&r, err)) != 0)
		return rc;
	if (o_local && o_servers.n > 0)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "--local and --server exclude each other");
	if (o_servers.n > sizeof servers / sizeof servers[0])
		return conduit_err_set(err, CONDUIT_EUSAGE, "at most %zu "
		    "--server options", sizeof servers / sizeof servers[0]);
	for (size_t i = 0; i < o_servers.n; i++)
		if (conduit_mon_validate_server(o_servers.v[i], err) != 0)
			return CONDUIT_EUSAGE;
	if ((rc = load_settings(ctx, &tracked, err)) != 0)
		return rc;

	if (o_servers.n > 0)
		for (size_t i = 0; i < o_servers.n; i++)
			servers[n++] = o_servers.v[i];
	else if (!o_local)
		for (size_t i = 0; i < s->n_monitor_servers; i++) {
			if (conduit_mon_validate_server(s->monitor_servers[i],
			    err) != 0)
				return conduit_err_wrap(err, "monitor.servers");
			servers[n++] = s->monitor_servers[i];
		}
	r.sample_ms = o_sample_ms >= 0 ? o_sample_ms : s->monitor_sample_ms;
	r.nvidia_smi = "nvidia-smi";
	r.gpu_timeout_ms = GPU_TIMEOUT_MS;
	r.docker_socket = s->docker_socket;
	r.docker_host = getenv("DOCKER_HOST");
	r.docker_timeout_ms = DOCKER_TIMEOUT_MS;
	r.servers = servers;
	r.n_servers = n;
	r.remote = (struct conduit_remote_opts){ .ssh_bin = "ssh",
	    .ssh_config = o_ssh_config, .timeout_ms =
	    s->monitor_ssh_timeout_ms, .sample_ms = r.sample_ms,
	    .host = r.host, .gpu = r.gpu, .containers = r.containers };

	curl_global_init(CURL_GLOBAL_DEFAULT);
	doc = conduit_monitor_collect(&r);
	if (doc == NULL) {
		curl_global_cleanup();
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	}
	if (tracked)
		rc = conduit_monitor_track(ctx->state_dir, doc, &s->thresholds,
		    err);
	else
		conduit_monitor_untracked(doc, &s->thresholds);
	if (rc == 0)
		rc = emit(doc, ctx, err);
	if (rc == 0 && o_check && cJSON_GetArraySize(
	    cJSON_GetObjectItemCaseSensitive(doc, "alerts")) > 0)
		rc = 1;
	cJSON_Delete(doc);
	curl_global_cleanup();
	conduit_strlist_free(&o_servers);
	return rc;
}

const struct conduit_cmd cmd_monitor_entry = {
	.name = "monitor",
	.summary = "check host, GPUs, containers and remote servers",
	.usage = "monitor [--json | --prometheus] [--prometheus-file PATH] "
	    "[--only host,gpu,containers] [--server [USER@]HOST]... [--check]",
	.description = "Reads this machine from procfs, its GPUs with "
	    "nvidia-smi, its containers from the Docker Engine API, and each "
	    "server over ssh (in parallel).  Thresholds come from "
	    "monitor.thresholds; a breach is an alert, audited once when it "
	    "starts and once when it clears.  Schema and metric names: "
	    "docs/monitor.md.",
	.flags = 0,
	.opts = monitor_opts,
	.exec = monitor_exec,
};
