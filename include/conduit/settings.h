/*
 * settings.h - conduit.yaml, the environment and built-in defaults.
 *
 * Precedence: command-line flags > environment > config file > defaults.
 * The struct holds every setting any module reads, already validated;
 * modules never look at YAML.  Durations are milliseconds; ports are
 * 0..65535 where 0 means "off" (http_port) and only there.
 */
#ifndef CONDUIT_SETTINGS_H
#define CONDUIT_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "conduit/err.h"

#define CONDUIT_MAX_UPSTREAM_DNS 4
#define CONDUIT_MAX_SERVERS 32

struct conduit_health_cfg {
	char path[256];		/* default "/" */
	long interval_ms;	/* default 10000 */
	long timeout_ms;	/* default 2000 */
	long passes;		/* default 2 */
	long fails;		/* default 2 */
};

struct conduit_thresholds {
	double gpu_temp_c;	/* 85 */
	double gpu_vram_pct;	/* 90 */
	double disk_pct;	/* 90 */
	double mem_pct;		/* 90 */
	bool container_restarts;	/* true: any increase alerts */
	bool container_unhealthy;	/* true */
	bool gpu_throttle;	/* true: thermal/power throttling alerts */
};

struct conduit_settings {
	char domain[254];		/* "internal" */
	char listen[64];		/* "0.0.0.0" */
	char gateway_ip[64];		/* "" = derive from listen */
	long https_port;		/* 443 */
	long http_port;			/* 80; 0 = off */
	long dns_port;			/* 53 */
	char upstream_dns[CONDUIT_MAX_UPSTREAM_DNS][64];
	size_t n_upstream_dns;		/* 0 = none (air-gapped) */

	struct conduit_health_cfg health;
	long probe_concurrency;		/* 32 */

	char tls_key_type[16];		/* "ecdsa" | "ed25519" */

	bool dns_enabled;		/* true */
	char dns_mode[16];		/* "managed" | "system" */
	char dns_system_dir[256];	/* "/etc/dnsmasq.d" */
	long dns_local_ttl;		/* 5 seconds */

	char caddy_bin[256];		/* "caddy" */
	char dnsmasq_bin[256];		/* "dnsmasq" */

	long monitor_sample_ms;		/* 200 */
	long monitor_ssh_timeout_ms;	/* 5000 */
	char monitor_servers[CONDUIT_MAX_SERVERS][256];
	size_t n_monitor_servers;
	char docker_socket[256];	/* "/var/run/docker.sock" */
	struct conduit_thresholds thresholds;
};

/* Fills s with the built-in defaults. */
void conduit_settings_defaults(struct conduit_settings *s);

/* Reads path (YAML) over the current contents of s.  A missing file is
 * CONDUIT_ENOTFOUND; an unknown key, a bad value or a YAML error is
 * CONDUIT_EINVAL with "FILE:LINE:COL: ..." in err. */
int conduit_settings_load(struct conduit_settings *s, const char *path,
    struct conduit_err *err);

/* Validates every field (used after flags/env are applied too). */
int conduit_settings_validate(const struct conduit_settings *s,
    struct conduit_err *err);

/* Sets upstream_dns from "IP[,IP...]" or "none" (the flag's and the
 * file's scalar form); field names the source in messages. */
int conduit_settings_set_upstream_dns(struct conduit_settings *s,
    const char *field, const char *csv, struct conduit_err *err);

/* Renders s as a commented conduit.yaml (pure). Caller frees. */
char *conduit_settings_render_yaml(const struct conduit_settings *s);

/* The address DNS answers for proxied names: gateway_ip, else listen
 * when it is not 0.0.0.0/::, else the primary address of this host. */
int conduit_settings_gateway_addr(const struct conduit_settings *s,
    char *out, size_t outlen);

#endif
