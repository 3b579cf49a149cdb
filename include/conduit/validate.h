/*
 * validate.h - the input rules, in one place.
 *
 * Every value that reaches a file, a rendered config or a backend
 * passes one of these first.  Each returns 0 or CONDUIT_EINVAL with a
 * message that names the field, quotes the value and states the rule:
 *   port "70000" is out of range 1-65535
 * `field` is the user-facing name ("port", "--host", "domain").
 */
#ifndef CONDUIT_VALIDATE_H
#define CONDUIT_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "conduit/err.h"

/* DNS label: 1-63 of a-z0-9-, no leading/trailing '-'.  Upper case is
 * folded into out (size >= 64). */
int conduit_validate_name(const char *field, const char *in, char *out,
    size_t outlen, struct conduit_err *err);

/* A domain: dot-separated labels, <= 253 chars, lowercased into out. */
int conduit_validate_domain(const char *field, const char *in, char *out,
    size_t outlen, struct conduit_err *err);

enum conduit_host_kind { HOST_IPV4, HOST_IPV6, HOST_NAME };

/* IPv4 literal (octets 0-255, no leading zeros), IPv6 literal (no
 * brackets), or RFC 1123 hostname.  Sets *kind when non-NULL. */
int conduit_validate_host(const char *field, const char *in,
    enum conduit_host_kind *kind, struct conduit_err *err);

/* IP literal only (v4 or v6). */
int conduit_validate_ip(const char *field, const char *in,
    struct conduit_err *err);

/* Decimal min..max, no sign, no whitespace, no overflow. */
int conduit_validate_port(const char *field, const char *in, long min,
    long *out, struct conduit_err *err);

/* "HOST:PORT" or "[V6]:PORT". host must have room for 254 bytes. */
int conduit_validate_hostport(const char *field, const char *in,
    char *host, size_t hostlen, long *port, struct conduit_err *err);

/* Starts with '/', <= 255 chars, RFC 3986 path characters only. */
int conduit_validate_health_path(const char *field, const char *in,
    struct conduit_err *err);

/* "http" or "https". */
int conduit_validate_scheme(const char *field, const char *in,
    struct conduit_err *err);

/* Durations: "500ms", "2s", "1m", or a bare number of seconds. */
int conduit_parse_duration_ms(const char *field, const char *in,
    long *out_ms, struct conduit_err *err);

#endif
