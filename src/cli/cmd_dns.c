/*
 * cmd_dns.c - `conduit dns SUBCOMMAND`: the names conduit serves.
 *
 *   dns [list] [--json]               every name, type, address, source
 *   dns resolve NAME [--type A|AAAA]  a real query to conduit's server
 *   dns flush                         empty dnsmasq's cache
 *   dns start | stop                  only conduit's dnsmasq
 *
 * resolve builds its query with the C library's res_nmkquery(), sends it
 * over UDP to the configured address and port (not the system resolver:
 * the point is to see what conduit answers) and reads the answer with
 * libresolv's ns_initparse()/ns_parserr(), so no DNS wire format is
 * parsed by hand here.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "conduit/audit.h"
#include "conduit/dns.h"
#include "conduit/process.h"
#include "conduit/state.h"
#include "conduit/validate.h"
#include "util.h"

#define RESOLVE_TIMEOUT_MS 2000

static bool o_json;
static const char *o_type;

static const struct conduit_opt list_opts[] = {
	OPT_BOOL_(0, "json", "print the records as a JSON array", &o_json),
	OPT_END_()
};

static const struct conduit_opt resolve_opts[] = {
	OPT_STRING_('t', "type", "A|AAAA", "record type to ask for (default A)", &o_type),
	OPT_END_()
};

static const struct conduit_opt no_opts[] = {
	OPT_END_()
};

static const struct conduit_cmd list_cmd = {
	.name = "dns list", .summary = "every name conduit serves",
	.usage = "dns [list] [--json]", .opts = list_opts,
};
static const struct conduit_cmd resolve_cmd = {
	.name = "dns resolve", .summary = "query conduit's DNS server",
	.usage = "dns resolve NAME [--type A|AAAA]", .opts = resolve_opts,
};
static const struct conduit_cmd flush_cmd = {
	.name = "dns flush", .summary = "clear dnsmasq's cache",
	.usage = "dns flush", .opts = no_opts,
};
static const struct conduit_cmd start_cmd = {
	.name = "dns start", .summary = "start conduit's dnsmasq",
	.usage = "dns start", .opts = no_opts,
};
static const struct conduit_cmd stop_cmd = {
	.name = "dns stop", .summary = "stop conduit's dnsmasq",
	.usage = "dns stop", .opts = no_opts,
};
/* For completion and the man page test (cli.h). */
static const struct conduit_cmd *const dns_subcmds[] = {
	&list_cmd, &resolve_cmd, &flush_cmd, &start_cmd, &stop_cmd, NULL
};

/* Parses opts for a subcommand that takes exactly npos_want positionals. */
static int
parse_sub(const struct conduit_cmd *cmd, int argc, char **argv, int npos_want,
    struct conduit_err *err)
{
	int rc, npos;

	if ((rc = conduit_opts_parse(cmd, cmd->opts, argc, argv, &npos, err)) != 0)
		return rc;
	if (npos > npos_want)
		return conduit_err_set(err, CONDUIT_EUSAGE,
		    "unexpected argument \"%.60s\"", argv[npos_want]);
	if (npos < npos_want)
		return conduit_err_set(err, CONDUIT_EUSAGE, "usage: conduit %s",
		    cmd->usage);
	return 0;
}

static int
load_records(struct conduit_ctx *ctx, struct conduit_dns_record **recs,
    size_t *n, struct conduit_err *err)
{
	struct conduit_registry reg;
	char path[PATH_MAX], gw[64];
	int rc;

	if (conduit_settings_gateway_addr(&ctx->settings, gw, sizeof(gw)) != 0)
		return conduit_err_set(err, CONDUIT_EIO,
		    "cannot find this host's address; set gateway_ip");
	conduit_registry_init(&reg);
	if ((rc = conduit_state_path(path, sizeof(path), ctx->state_dir,
	    CONDUIT_F_SERVICES, err)) == 0 &&
	    (rc = conduit_registry_load(path, &reg, err)) == 0)
		rc = conduit_dns_records(&ctx->settings, gw, &reg, recs, n, err);
	conduit_registry_free(&reg);
	return rc;
}

static void
source_of(const struct conduit_dns_record *r, char *out, size_t len)
{
	snprintf(out, len, "%s %s%s", r->alias ? "alias of" : "service",
	    r->service, r->dns_only ? " (dns-only: own address)" :
	    " (proxied: gateway)");
}

static int
dns_list(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	struct conduit_dns_record *recs = NULL;
	char src[256];
	size_t n = 0, i;
	int rc;

	if ((rc = parse_sub(&list_cmd, argc, argv, 0, err)) != 0)
		return rc == 1 ? 0 : rc;
	if ((rc = load_records(ctx, &recs, &n, err)) != 0)
		return rc;
	if (o_json) {
		cJSON *a = cJSON_CreateArray();
		for (i = 0; a != NULL && i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			source_of(&recs[i], src, sizeof(src));
			cJSON_AddStringToObject(o, "name", recs[i].name);
			cJSON_AddStringToObject(o, "type",
			    conduit_dns_type_name(recs[i].type));
			cJSON_AddStringToObject(o, "address", recs[i].value);
			cJSON_AddStringToObject(o, "service", recs[i].service);
			cJSON_AddBoolToObject(o, "alias", recs[i].alias);
			cJSON_AddBoolToObject(o, "dns_only", recs[i].dns_only);
			cJSON_AddStringToObject(o, "source", src);
			cJSON_AddItemToArray(a, o);
		}
		rc = cli_print_json(a, err);
		cJSON_Delete(a);
		free(recs);
		return rc;
	}
	if (n == 0)
		printf("no names (register a service first)\n");
	else
		printf("%s%-40s %-5s %-39s %s%s\n", conduit_color(ctx, COLOR_BOLD),
		    "NAME", "TYPE", "ADDRESS", "SOURCE",
		    conduit_color(ctx, COLOR_RESET));
	for (i = 0; i < n; i++) {
		source_of(&recs[i], src, sizeof(src));
		printf("%-40s %-5s %-39s %s\n", recs[i].name,
		    conduit_dns_type_name(recs[i].type), recs[i].value, src);
	}
	free(recs);
	return 0;
}

/* The address to query: the listen address, or loopback for a wildcard. */
static int
server_addr(const struct conduit_settings *s, struct sockaddr_storage *ss,
    socklen_t *sl)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	const char *a = s->listen;

	memset(ss, 0, sizeof(*ss));
	if (strcmp(a, "0.0.0.0") == 0)
		a = "127.0.0.1";
	else if (strcmp(a, "::") == 0)
		a = "::1";
	if (inet_pton(AF_INET, a, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)s->dns_port);
		*sl = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, a, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)s->dns_port);
		*sl = sizeof(*v6);
		return 0;
	}
	return -1;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One UDP exchange; *ans_len = 0 on timeout. */
static int
exchange(const struct conduit_settings *s, const unsigned char *q, int qlen,
    unsigned char *ans, int *ans_len, double *ms, struct conduit_err *err)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct pollfd pfd;
	double t0, left;
	ssize_t r;
	int fd;

	*ans_len = 0;
	if (server_addr(s, &ss, &sl) != 0)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "listen address \"%s\" is not an IP address", s->listen);
	if ((fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return conduit_err_set(err, CONDUIT_EIO, "socket: %s",
		    strerror(errno));
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
		close(fd);
		return conduit_err_set(err, CONDUIT_EIO, "connect: %s",
		    strerror(errno));
	}
	t0 = now_ms();
	if (send(fd, q, (size_t)qlen, 0) != qlen) {
		close(fd);
		return conduit_err_set(err, CONDUIT_EIO, "send: %s",
		    strerror(errno));
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		left = RESOLVE_TIMEOUT_MS - (now_ms() - t0);
		if (left <= 0 || poll(&pfd, 1, (int)left + 1) == 0)
			break;
		r = recv(fd, ans, NS_PACKETSZ * 4, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			/* ICMP port unreachable: nothing listens there. */
			close(fd);
			return conduit_err_set(err, CONDUIT_EBACKEND,
			    "no DNS server answers on port %ld: %s",
			    s->dns_port, strerror(errno));
		}
		/* Only the answer to our id counts. */
		if (r >= 2 && ans[0] == q[0] && ans[1] == q[1]) {
			*ans_len = (int)r;
			break;
		}
	}
	*ms = now_ms() - t0;
	close(fd);
	return 0;
}

static int
dns_resolve(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	const struct conduit_settings *s = &ctx->settings;
	unsigned char q[NS_PACKETSZ], ans[NS_PACKETSZ * 4];
	char fqdn[NS_MAXDNAME], rdata[NS_MAXDNAME];
	struct __res_state rs;
	ns_msg msg;
	ns_rr rr;
	int type = ns_t_a, qlen, alen, i, rc, count, rcode;
	size_t l;
	double ms = 0;

	if ((rc = parse_sub(&resolve_cmd, argc, argv, 1, err)) != 0)
		return rc == 1 ? 0 : rc;
	if (o_type != NULL) {
		if (strcasecmp(o_type, "A") == 0)
			type = ns_t_a;
		else if (strcasecmp(o_type, "AAAA") == 0)
			type = ns_t_aaaa;
		else
			return conduit_err_set(err, CONDUIT_EUSAGE,
			    "--type \"%.20s\" is not A or AAAA", o_type);
	}
	/* A bare label is a name under the domain. */
	snprintf(fqdn, sizeof(fqdn), "%s", argv[0]);
	l = strlen(fqdn);
	if (l > 0 && fqdn[l - 1] == '.')
		fqdn[--l] = '\0';
	if (strchr(fqdn, '.') == NULL)
		snprintf(fqdn + l, sizeof(fqdn) - l, ".%s", s->domain);
	if ((rc = conduit_validate_domain("name", fqdn, fqdn, sizeof(fqdn),
	    err)) != 0)
		return rc;

	memset(&rs, 0, sizeof(rs));
	if (res_ninit(&rs) != 0)
		return conduit_err_set(err, CONDUIT_EIO, "res_ninit failed");
	qlen = res_nmkquery(&rs, ns_o_query, fqdn, ns_c_in, type, NULL, 0,
	    NULL, q, sizeof(q));
	res_nclose(&rs);
	if (qlen < 0)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "cannot build a query for \"%s\"", fqdn);
	if ((rc = exchange(s, q, qlen, ans, &alen, &ms, err)) != 0)
		return rc;
	if (alen == 0)
		return conduit_err_set(err, CONDUIT_EBACKEND,
		    "no answer for %s from %s port %ld within %d ms", fqdn,
		    s->listen, s->dns_port, RESOLVE_TIMEOUT_MS);
	if (ns_initparse(ans, alen, &msg) != 0)
		return conduit_err_set(err, CONDUIT_EBACKEND,
		    "the answer for %s does not parse as DNS", fqdn);
	rcode = ns_msg_getflag(msg, ns_f_rcode);
	if (rcode != ns_r_noerror) {
		const char *rn = rcode == ns_r_nxdomain ? "NXDOMAIN" :
		    rcode == ns_r_refused ? "REFUSED" :
		    rcode == ns_r_servfail ? "SERVFAIL" : "an error";
		printf("%s: %s (%.1f ms)\n", fqdn, rn, ms);
		return 1;
	}
	count = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < count; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) != 0)
			return conduit_err_set(err, CONDUIT_EBACKEND,
			    "answer record %d for %s does not parse", i, fqdn);
		if (ns_rr_type(rr) == ns_t_a && ns_rr_rdlen(rr) == 4)
			inet_ntop(AF_INET, ns_rr_rdata(rr), rdata, sizeof(rdata));
		else if (ns_rr_type(rr) == ns_t_aaaa && ns_rr_rdlen(rr) == 16)
			inet_ntop(AF_INET6, ns_rr_rdata(rr), rdata, sizeof(rdata));
		else if (ns_rr_type(rr) == ns_t_cname) {
			if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg),
			    ns_rr_rdata(rr), rdata, sizeof(rdata)) < 0)
				snprintf(rdata, sizeof(rdata), "?");
		} else
			snprintf(rdata, sizeof(rdata), "(type %d)",
			    ns_rr_type(rr));
		printf("%s\t%s\t%s\tttl %lu\n", ns_rr_name(rr),
		    ns_rr_type(rr) == ns_t_a ? "A" :
		    ns_rr_type(rr) == ns_t_aaaa ? "AAAA" :
		    ns_rr_type(rr) == ns_t_cname ? "CNAME" : "?", rdata,
		    (unsigned long)ns_rr_ttl(rr));
	}
	if (count == 0)
		printf("%s: no %s record (the name exists)\n", fqdn,
		    type == ns_t_a ? "A" : "AAAA");
	printf(";; %.1f ms from %s port %ld\n", ms, s->listen, s->dns_port);
	return 0;
}

static int
dns_flush(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	cJSON *d;
	int rc;

	if ((rc = parse_sub(&flush_cmd, argc, argv, 0, err)) != 0)
		return rc == 1 ? 0 : rc;
	if ((rc = conduit_dns_flush(ctx->state_dir, &ctx->settings, err)) != 0)
		return cli_fail(ctx, "dns_flush", NULL, err);
	d = cJSON_CreateObject();
	rc = conduit_audit_append(ctx->state_dir, "dns_flush", true,
	    "DNS cache flushed", d, err);
	cJSON_Delete(d);
	if (rc != 0)
		return rc;
	printf("flushed dnsmasq's cache\n");
	return 0;
}

static const struct conduit_daemon *
dnsmasq_daemon(void)
{
	const struct conduit_daemon *const *d;

	for (d = conduit_daemons(); *d != NULL; d++)
		if (strcmp((*d)->name, "dnsmasq") == 0)
			return *d;
	return NULL;
}

static int
dns_startstop(struct conduit_ctx *ctx, bool start, int argc, char **argv,
    struct conduit_err *err)
{
	const struct conduit_daemon *d = dnsmasq_daemon();
	pid_t pid = 0;
	int rc;

	if ((rc = parse_sub(start ? &start_cmd : &stop_cmd, argc, argv, 0,
	    err)) != 0)
		return rc == 1 ? 0 : rc;
	if (d == NULL || !d->enabled(&ctx->settings))
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "conduit manages no dnsmasq here (dns.enabled is false or "
		    "dns.mode is system)");
	if (!start) {
		if ((rc = d->stop(ctx->state_dir, err)) != 0)
			return rc;
		printf("dnsmasq stopped\n");
		return 0;
	}
	if ((rc = d->start(ctx->state_dir, &ctx->settings, err)) != 0)
		return rc;
	(void)d->running(ctx->state_dir, &pid, err);
	printf("dnsmasq started (pid %ld) on %s port %ld\n", (long)pid,
	    ctx->settings.listen, ctx->settings.dns_port);
	return 0;
}

static int
dns_exec(struct conduit_ctx *ctx, int argc, char **argv,
    struct conduit_err *err)
{
	const char *sub = argc >= 2 ? argv[1] : NULL;

	if (sub != NULL && (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)) {
		conduit_opts_usage(&cmd_dns_entry, NULL, stdout);
		return 0;
	}
	if (sub == NULL || sub[0] == '-')
		return dns_list(ctx, argc, argv, err);
	if (strcmp(sub, "list") == 0)
		return dns_list(ctx, argc - 1, argv + 1, err);
	if (strcmp(sub, "resolve") == 0)
		return dns_resolve(ctx, argc - 1, argv + 1, err);
	if (strcmp(sub, "flush") == 0)
		return dns_flush(ctx, argc - 1, argv + 1, err);
	if (strcmp(sub, "start") == 0)
		return dns_startstop(ctx, true, argc - 1, argv + 1, err);
	if (strcmp(sub, "stop") == 0)
		return dns_startstop(ctx, false, argc - 1, argv + 1, err);
	return conduit_err_set(err, CONDUIT_EUSAGE,
	    "unknown subcommand \"%.60s\" (see `conduit dns --help`)", sub);
}

const struct conduit_cmd cmd_dns_entry = {
	.name = "dns",
	.summary = "list, resolve and flush the names conduit serves",
	.usage = "dns [list [--json] | resolve NAME [--type A|AAAA] | flush | "
	    "start | stop]",
	.description = "list: every name, its record type, address and the "
	    "service it comes from.\nresolve: a real DNS query to conduit's "
	    "server (listen address, dns port); exit 1\non NXDOMAIN, REFUSED "
	    "or no answer within 2 s.\nflush: clears dnsmasq's cache "
	    "(audited as dns_flush).\nstart/stop: only conduit's dnsmasq "
	    "(`conduit up`/`down` manage every daemon).",
	.flags = CMD_NEEDS_STATE,
	.opts = NULL,
	.exec = dns_exec,
	.subcmds = dns_subcmds,
};

int
cli_dns_audit(const struct conduit_ctx *ctx, const struct conduit_service *svc,
    bool add, struct cli_audit *a, struct conduit_err *err)
{
	struct conduit_registry one = { CONDUIT_REGISTRY_VERSION,
	    (struct conduit_service *)svc, 1, 1 };
	struct conduit_dns_record *recs = NULL;
	char gw[64], msg[512];
	size_t n = 0, i, j;
	int rc = 0;

	if (!ctx->settings.dns_enabled)
		return 0;
	if (conduit_settings_gateway_addr(&ctx->settings, gw, sizeof(gw)) != 0)
		return conduit_err_set(err, CONDUIT_EIO,
		    "cannot find this host's address; set gateway_ip");
	if ((rc = conduit_dns_records(&ctx->settings, gw, &one, &recs, &n,
	    err)) != 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		char label[CONDUIT_NAME_MAX];
		cJSON *d = cJSON_CreateObject();
		bool dup = false;
		/* One record per name, even with several addresses. */
		for (j = 0; j < i; j++)
			dup = dup || strcmp(recs[j].name, recs[i].name) == 0;
		if (dup) {
			cJSON_Delete(d);
			continue;
		}
		snprintf(label, sizeof(label), "%.*s",
		    (int)(strlen(recs[i].name) - strlen(ctx->settings.domain) - 1),
		    recs[i].name);
		cJSON_AddStringToObject(d, "name", label);
		if (add) {
			cJSON_AddStringToObject(d, "host", recs[i].value);
			snprintf(msg, sizeof(msg), "DNS entry added: %s -> %s",
			    recs[i].name, recs[i].value);
		} else
			snprintf(msg, sizeof(msg), "DNS entry removed: %s",
			    recs[i].name);
		rc = cli_audit_push(a, add ? "dns_add" : "dns_remove", msg, d, err);
	}
	free(recs);
	return rc;
}
