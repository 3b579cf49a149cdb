/*
 * dns.h - the names conduit serves, and the dnsmasq files that serve them.
 *
 * Rendering is pure (src/render/dnsmasq.c): from the settings, the
 * registry and the gateway address to
 *   - the record list (what `conduit dns` shows),
 *   - the records file, in hosts format, that dnsmasq reads with
 *     --addn-hosts and re-reads on SIGHUP (A and AAAA),
 *   - the cname file (cname= lines; dnsmasq reads it only at start, so a
 *     change there restarts dnsmasq),
 *   - dnsmasq's own configuration file (managed mode) or the drop-in for
 *     a system dnsmasq (system mode).
 * The backend (src/backend/dnsmasq.c) writes them and signals dnsmasq;
 * docs/dns.md explains the layout and the permissions.
 */
#ifndef CONDUIT_DNS_H
#define CONDUIT_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conduit/err.h"
#include "conduit/registry.h"
#include "conduit/settings.h"

/* The unprivileged account dnsmasq runs as when started by root
 * (created by scripts/install-deps.sh). */
#define CONDUIT_DNS_USER "conduit-dns"

/* Files under <state-dir>/dns/. */
#define CONDUIT_DNS_F_CONF	"dns/dnsmasq.conf"	/* in the state dir */
#define CONDUIT_DNS_F_HOSTS	"hosts"		/* in the records dir */
#define CONDUIT_DNS_F_CNAMES	"cnames.conf"	/* in the records dir */
/* As root the records dir is CONDUIT_DNS_RUN_DIR/<id> (see dnsmasq.c);
 * otherwise <state>/dns. */
#define CONDUIT_DNS_RUN_DIR	"/run/conduit"
#define CONDUIT_DNS_F_PID	"run/dnsmasq.pid"
#define CONDUIT_DNS_F_LOG	"logs/dnsmasq.log"

/* The drop-in and records file names in dns.system_dir (system mode).
 * The records file starts with '.' so a conf-dir never parses it. */
#define CONDUIT_DNS_SYS_CONF	"conduit.conf"
#define CONDUIT_DNS_SYS_HOSTS	".conduit.hosts"

enum conduit_dns_type { DNS_A, DNS_AAAA, DNS_CNAME };

struct conduit_dns_record {
	char name[CONDUIT_NAME_MAX + 256];	/* fully qualified, no dot */
	enum conduit_dns_type type;
	char value[CONDUIT_HOST_MAX];		/* address or CNAME target */
	char service[CONDUIT_NAME_MAX];		/* the service it comes from */
	bool alias;				/* name is an alias */
	bool dns_only;				/* own address, not the gateway */
};

/* "A", "AAAA", "CNAME". */
const char *conduit_dns_type_name(enum conduit_dns_type t);

/*
 * Every record for the active services of reg, in registry order: a
 * proxied service's name and aliases point at gateway (A or AAAA by its
 * family); a dns-only service's at each of its IP upstreams, or, when
 * its first upstream is a hostname, a CNAME to that hostname.
 */
int conduit_dns_records(const struct conduit_settings *s,
    const char *gateway, const struct conduit_registry *reg,
    struct conduit_dns_record **out, size_t *n, struct conduit_err *err);

/* The addn-hosts file text for recs (A and AAAA only). */
char *conduit_dns_render_hosts(const struct conduit_dns_record *recs,
    size_t n);

/* The cname= lines for recs (CNAME only); "" plus a comment when none. */
char *conduit_dns_render_cnames(const struct conduit_dns_record *recs,
    size_t n);

/* Where the managed dnsmasq finds its files and whom it runs as. */
struct conduit_dns_paths {
	const char *hosts;	/* absolute */
	const char *cnames;
	const char *pidfile;
	const char *logfile;
	const char *user;	/* NULL: stay the invoking user (not root) */
	const char *group;
};

/* The whole configuration of conduit's own dnsmasq (managed mode). */
char *conduit_dns_render_conf(const struct conduit_settings *s,
    const struct conduit_dns_paths *p);

/* The drop-in for a system dnsmasq (system mode): only options scoped
 * to conduit's domain, the records file and the cname lines. */
char *conduit_dns_render_system_conf(const struct conduit_settings *s,
    const char *hosts_path, const char *cnames_text);

/*
 * Backend helpers (src/backend/dnsmasq.c).
 */

/* Writes the records files and brings the running dnsmasq up to date
 * (SIGHUP, or a restart when the cname set changed).  Renders from the
 * registry at <state-dir>/services.json. */
int conduit_dns_sync(const char *state_dir, const struct conduit_settings *s,
    struct conduit_err *err);

/* Clears the cache of the dnsmasq conduit uses (SIGHUP to the verified
 * pid); CONDUIT_ENOTFOUND when it does not run. */
int conduit_dns_flush(const char *state_dir, const struct conduit_settings *s,
    struct conduit_err *err);

/* The pid of the dnsmasq serving conduit's names (managed or system). */
int conduit_dns_pid(const char *state_dir, const struct conduit_settings *s,
    pid_t *pid, struct conduit_err *err);

#endif
