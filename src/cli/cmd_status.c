/*
 * cmd_status.c - `conduit status`: probe every service, record changes.
 *
 * One run = load the registry (no lock), probe (probe.h: concurrent,
 * about one timeout long), record the damped result under the registry
 * lock with one health_change per transition, print.  Recording is part
 * of every run, --watch rounds included, so cron jobs running
 * `status --check` keep the health history; when it cannot be recorded
 * (a read-only state dir, say) the run still reports, with a warning,
 * and shows the stored state next to what it observed.
 *
 * Exit status (docs/status.md): 0, or with --check 0 only when every
 * active service is healthy and 1 when any is degraded, down or
 * unknown; 1 also for errors, 2 for a bad command line.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "conduit/probe.h"
#include "conduit/registry.h"
#include "conduit/state.h"
#include "conduit/validate.h"
#include "util.h"

#define WATCH_MAX_S 86400

static bool o_json, o_check;
static const char *o_watch, *o_service, *o_timeout;

static const struct conduit_opt status_opts[] = {
	OPT_BOOL_(0, "json", "print the documented JSON document (docs/status.md)", &o_json),
	OPT_BOOL_(0, "check", "exit 1 unless every active service is healthy; no table", &o_check),
	OPT_OPTSTRING_('w', "watch", "SECONDS", "redraw every SECONDS until interrupted (default: health.interval)", &o_watch),
	OPT_STRING_(0, "service", "NAME", "probe only this service", &o_service),
	OPT_STRING_(0, "timeout", "SECONDS", "probe timeout for this run (default: health.timeout; 500ms, 2s)", &o_timeout),
	OPT_END_()
};

static volatile sig_atomic_t stop_watch;

static void
on_signal(int sig)
{
	(void)sig;
	stop_watch = 1;
}

/* Runs the probes and records them; *r is filled on success. */
static int
run_once(struct conduit_ctx *ctx, const struct conduit_probe_opts *po,
    struct conduit_status_report *r, struct conduit_err *err)
{
	struct conduit_registry reg;
	struct conduit_err rerr = { 0, "" };
	char path[4096];
	int rc;

	if ((rc = conduit_state_path(path, sizeof(path), ctx->state_dir,
	    CONDUIT_F_SERVICES, err)) != 0 ||
	    (rc = conduit_registry_load(path, &reg, err)) != 0)
		return rc;
	rc = conduit_probe_run(&ctx->settings, &reg, po, r, err);
	if (rc == 0 && conduit_status_record(ctx->state_dir, r, &rerr) != 0) {
		conduit_warn(ctx, "the result was not recorded: %s", rerr.msg);
		conduit_status_from_registry(&reg, r);
	}
	conduit_registry_free(&reg);
	return rc;
}

static int
print_report(struct conduit_ctx *ctx, const struct conduit_status_report *r,
    bool table, struct conduit_err *err)
{
	long long now = (long long)time(NULL);
	char *text;
	cJSON *doc;
	int rc;

	if (o_json) {
		if ((doc = conduit_status_render_json(r, now)) == NULL)
			return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
		rc = cli_print_json(doc, err);
		cJSON_Delete(doc);
		return rc;
	}
	if (!table)
		return 0;
	if (r->n == 0) {
		fprintf(stderr, "conduit status: no active services registered\n");
		return 0;
	}
	if ((text = conduit_status_render_table(r, ctx->color_out, now)) == NULL)
		return conduit_err_set(err, CONDUIT_ENOMEM, "out of memory");
	fputs(text, stdout);
	free(text);
	return 0;
}

/* --check: 0 when all healthy, else 1 naming the others on stderr. */
static int
check_result(const struct conduit_status_report *r)
{
	size_t i, bad = 0;

	for (i = 0; i < r->n; i++) {
		const struct conduit_service_status *st = &r->svcs[i];
		if (st->state.current == HEALTH_HEALTHY)
			continue;
		fprintf(stderr, "%s%s (%s)", bad++ ? ", " :
		    "conduit status: not healthy: ", st->name,
		    conduit_health_name(st->state.current));
	}
	if (bad)
		fputc('\n', stderr);
	return bad ? 1 : 0;
}

static void
sleep_ms_interruptible(long ms)
{
	struct timespec ts = { 0, 100 * 1000000L };

	for (; ms > 0 && !stop_watch; ms -= 100)
		nanosleep(&ts, NULL);
}

static int
watch(struct conduit_ctx *ctx, const struct conduit_probe_opts *po,
    long every_ms, struct conduit_err *err)
{
	struct sigaction sa, old_int, old_term;
	struct conduit_status_report r;
	int rc = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	stop_watch = 0;
	while (!stop_watch) {
		if ((rc = run_once(ctx, po, &r, err)) != 0)
			break;
		if (stop_watch) {
			conduit_status_report_free(&r);
			break;
		}
		if (isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout);
		else
			fputs("\n", stdout);
		printf("conduit status: every %lds, %s (Ctrl-C to stop)\n\n",
		    every_ms / 1000, r.checked_at);
		rc = print_report(ctx, &r, true, err);
		conduit_status_report_free(&r);
		fflush(stdout);
		if (rc != 0)
			break;
		sleep_ms_interruptible(every_ms);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return rc;
}

static int
status_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	struct conduit_probe_opts po;
	struct conduit_status_report r;
	char ca[4096];
	long every_ms = 0;
	int rc, npos;

	if ((rc = conduit_opts_parse(&cmd_status_entry, status_opts, argc, argv,
	    &npos, err)) != 0)
		return rc == 1 ? 0 : rc;
	if (npos > 0)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unexpected argument \"%.60s\" (use --service NAME)", argv[0]);
	memset(&po, 0, sizeof(po));
	if (o_timeout != NULL) {
		if ((rc = conduit_parse_duration_ms("--timeout", o_timeout,
		    &po.timeout_ms, err)) != 0)
			return rc;
		if (po.timeout_ms < 1 || po.timeout_ms > 600000)
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "--timeout \"%s\" is out of range 1ms-600s", o_timeout);
	}
	if (o_watch != NULL) {
		if (o_json || o_check)
			return conduit_err_set(err, CONDUIT_EUSAGE,
			    "--watch cannot be combined with --json or --check");
		if (o_watch[0] == '\0')
			every_ms = ctx->settings.health.interval_ms;
		else {
			long s;
			if (conduit_parse_long(o_watch, 1, WATCH_MAX_S, &s) != 0)
				return conduit_err_set(err, CONDUIT_EUSAGE,
				    "--watch \"%.40s\" must be 1-%d seconds", o_watch,
				    WATCH_MAX_S);
			every_ms = s * 1000;
		}
		if (every_ms < 1000)
			every_ms = 1000;
	}
	if ((rc = conduit_state_path(ca, sizeof(ca), ctx->state_dir,
	    CONDUIT_D_PKI "/root.crt", err)) != 0)
		return rc;
	po.ca_file = ca;
	po.only = o_service;

	if (o_watch != NULL)
		return watch(ctx, &po, every_ms, err);
	if ((rc = run_once(ctx, &po, &r, err)) != 0)
		return rc;
	rc = print_report(ctx, &r, !o_check, err);
	if (rc == 0 && o_check)
		rc = check_result(&r);
	conduit_status_report_free(&r);
	return rc;
}

const struct conduit_cmd cmd_status_entry = {
	.name = "status",
	.summary = "probe every service and show its health",
	.usage = "status [--json] [--check] [--watch [SECONDS]] [--service NAME] "
	    "[--timeout SECONDS]",
	.description =
	    "Probes every active service at once: each upstream directly, the "
	    "route through the gateway (TLS verified against conduit's CA), the "
	    "name through conduit's DNS, and the certificate's expiry.  Health "
	    "changes are damped by health.passes/health.fails, stored in the "
	    "registry and audited as health_change.  --check exits 0 only when "
	    "every active service is healthy (1 otherwise), for cron and "
	    "pipelines.  Schema and exit codes: docs/status.md.",
	.flags = CMD_NEEDS_STATE,
	.opts = status_opts,
	.exec = status_exec,
};
