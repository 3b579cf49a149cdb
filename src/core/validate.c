/*
 * validate.c - input rules (see validate.h).
 *
 * The rules are deliberately narrow: anything conduit writes into a
 * Caddy config, a dnsmasq file, a YAML file or a shell-visible place
 * must be made of characters that cannot change the meaning of those
 * formats.  IP literals are checked with inet_pton (the C library's
 * parser) plus a leading-zero rule for IPv4, so "010.0.0.1" (octal to
 * some tools) is rejected rather than guessed at.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conduit/validate.h"

#define SHOWMAX 80

/* Quotes a user value for an error message: printable ASCII only, long
 * values cut, so a hostile value cannot forge extra output lines. */
static const char *
show(const char *in, char *buf, size_t buflen)
{
	size_t i, o = 0;

	for (i = 0; in[i] != '\0' && o + 5 < buflen; i++) {
		unsigned char c = (unsigned char)in[i];
		if (i >= SHOWMAX) {
			o += (size_t)snprintf(buf + o, buflen - o, "...");
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

#define SHOW(v) show((v), showbuf, sizeof(showbuf))

static int
label_ok(const char *s, size_t len, bool allow_upper)
{
	size_t i;

	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'a' && c <= 'z')
			continue;
		if (allow_upper && c >= 'A' && c <= 'Z')
			continue;
		if ((c >= '0' && c <= '9') || c == '-')
			continue;
		return 0;
	}
	return 1;
}

int
conduit_validate_name(const char *field, const char *in, char *out,
    size_t outlen, struct conduit_err *err)
{
	char showbuf[SHOWMAX * 4 + 8];
	size_t len, i;

	if (in == NULL || in[0] == '\0')
		return conduit_err_set(err, CONDUIT_EINVAL, "%s is empty", field);
	len = strlen(in);
	if (len > 63)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "%s \"%s\" is longer than 63 characters (a DNS label)",
		    field, SHOW(in));
	if (!label_ok(in, len, true))
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "%s \"%s\" is not a DNS label: use a-z, 0-9 and '-', "
		    "not starting or ending with '-'", field, SHOW(in));
	if (outlen <= len)
		return conduit_err_set(err, CONDUIT_EINTERNAL, "name buffer too small");
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[len] = '\0';
	return 0;
}

int
conduit_validate_domain(const char *field, const char *in, char *out,
    size_t outlen, struct conduit_err *err)
{
	char showbuf[SHOWMAX * 4 + 8];
	const char *p, *dot;
	size_t len, i;

	if (in == NULL || in[0] == '\0')
		return conduit_err_set(err, CONDUIT_EINVAL, "%s is empty", field);
	len = strlen(in);
	if (len > 253)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "%s \"%s\" is longer than 253 characters", field, SHOW(in));
	for (p = in;; p = dot + 1) {
		dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (!label_ok(p, l, true))
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "%s \"%s\" is not a domain: dot-separated labels of "
			    "a-z, 0-9 and '-', each 1-63 characters, not starting "
			    "or ending with '-'", field, SHOW(in));
		if (dot == NULL)
			break;
	}
	if (outlen <= len)
		return conduit_err_set(err, CONDUIT_EINTERNAL, "domain buffer too small");
	for (i = 0; i <= len; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	return 0;
}

static int
ipv4_ok(const char *in)
{
	struct in_addr a;
	const char *p = in;

	if (inet_pton(AF_INET, in, &a) != 1)
		return 0;
	/* inet_pton accepts only dotted decimal; also refuse leading zeros. */
	while (*p) {
		if (p[0] == '0' && isdigit((unsigned char)p[1]) &&
		    (p == in || p[-1] == '.'))
			return 0;
		p++;
	}
	return 1;
}

static int
ipv6_ok(const char *in)
{
	struct in6_addr a;

	return strchr(in, ':') != NULL && inet_pton(AF_INET6, in, &a) == 1;
}

static int
looks_numeric_dotted(const char *in)
{
	for (; *in; in++)
		if (!isdigit((unsigned char)*in) && *in != '.')
			return 0;
	return 1;
}

int
conduit_validate_host(const char *field, const char *in,
    enum conduit_host_kind *kind, struct conduit_err *err)
{
	char showbuf[SHOWMAX * 4 + 8];
	const char *p, *dot;

	if (in == NULL || in[0] == '\0')
		return conduit_err_set(err, CONDUIT_EINVAL, "%s is empty", field);
	if (strlen(in) > 253)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "%s \"%s\" is longer than 253 characters", field, SHOW(in));
	if (ipv4_ok(in)) {
		if (kind)
			*kind = HOST_IPV4;
		return 0;
	}
	if (ipv6_ok(in)) {
		if (kind)
			*kind = HOST_IPV6;
		return 0;
	}
	if (looks_numeric_dotted(in))
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "%s \"%s\" is not a valid IPv4 address (four octets 0-255, "
		    "no leading zeros)", field, SHOW(in));
	if (strchr(in, ':') != NULL)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "%s \"%s\" is not a valid IPv6 address", field, SHOW(in));
	for (p = in;; p = dot + 1) {
		dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (dot != NULL && dot[1] == '\0' && l > 0) {
			/* one trailing dot (FQDN form) is fine */
			if (!label_ok(p, l, true))
				break;
			if (kind)
				*kind = HOST_NAME;
			return 0;
		}
		if (!label_ok(p, l, true))
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "%s \"%s\" is not an IP address or RFC 1123 hostname",
			    field, SHOW(in));
		if (dot == NULL)
			break;
	}
	if (kind)
		*kind = HOST_NAME;
	return 0;
}

int
conduit_validate_ip(const char *field, const char *in, struct conduit_err *err)
{
	char showbuf[SHOWMAX * 4 + 8];

	if (in == NULL || in[0] == '\0')
		return conduit_err_set(err, CONDUIT_EINVAL, "%s is empty", field);
	if (ipv4_ok(in) || ipv6_ok(in))
		return 0;
	return conduit_err_set(err, CONDUIT_EINVAL,
	    "%s \"%s\" is not an IPv4 or IPv6 address", field, SHOW(in));
}

int
conduit_validate_port(const char *field, const char *in, long min, long *out,
    struct conduit_err *err)
{
	char showbuf[SHOWMAX * 4 + 8];
	long v = 0;
	size_t i;

	if (in == NULL || in[0] == '\0')
		return conduit_err_set(err, CONDUIT_EINVAL, "%s is empty", field);
	for (i = 0; in[i]; i++) {
		if (!isdigit((unsigned char)in[i]) || i >= 6)
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "%s \"%s\" is not a port number (decimal %ld-65535)",
			    field, SHOW(in), min);
		v = v * 10 + (in[i] - '0');
	}
	if (v < min || v > 65535)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "%s \"%s\" is out of range %ld-65535", field, SHOW(in), min);
	*out = v;
	return 0;
}

int
conduit_validate_hostport(const char *field, const char *in, char *host,
    size_t hostlen, long *port, struct conduit_err *err)
{
	char showbuf[SHOWMAX * 4 + 8], sub[300];
	const char *colon, *hstart;
	size_t hlen;
	int rc;

	if (in == NULL || in[0] == '\0')
		return conduit_err_set(err, CONDUIT_EINVAL, "%s is empty", field);
	if (in[0] == '[') {
		const char *close = strchr(in, ']');
		if (close == NULL || close[1] != ':')
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "%s \"%s\" is not HOST:PORT or [IPV6]:PORT", field, SHOW(in));
		hstart = in + 1;
		hlen = (size_t)(close - hstart);
		colon = close + 1;
	} else {
		colon = strrchr(in, ':');
		if (colon == NULL || strchr(in, ':') != colon)
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "%s \"%s\" is not HOST:PORT (write IPv6 as [addr]:port)",
			    field, SHOW(in));
		hstart = in;
		hlen = (size_t)(colon - in);
	}
	if (hlen == 0 || hlen >= hostlen)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "%s \"%s\" has an empty or oversized host", field, SHOW(in));
	memcpy(host, hstart, hlen);
	host[hlen] = '\0';
	(void)snprintf(sub, sizeof(sub), "%s host", field);
	if (in[0] == '[') {
		if (!ipv6_ok(host))
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "%s \"%s\" is not a valid IPv6 address", sub, SHOW(host));
	} else if ((rc = conduit_validate_host(sub, host, NULL, err)) != 0)
		return rc;
	(void)snprintf(sub, sizeof(sub), "%s port", field);
	return conduit_validate_port(sub, colon + 1, 1, port, err);
}

int
conduit_validate_health_path(const char *field, const char *in,
    struct conduit_err *err)
{
	char showbuf[SHOWMAX * 4 + 8];
	static const char ok[] = "-._~!$&'()*+,;=:@/%";
	size_t i, len;

	if (in == NULL || in[0] == '\0')
		return conduit_err_set(err, CONDUIT_EINVAL, "%s is empty", field);
	len = strlen(in);
	if (in[0] != '/')
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "%s \"%s\" must start with '/'", field, SHOW(in));
	if (len > 255)
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "%s \"%s\" is longer than 255 characters", field, SHOW(in));
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (isalnum(c) || (c < 0x80 && c != 0 && strchr(ok, c) != NULL &&
		    c != '\'' && c != '$'))
			continue;
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "%s \"%s\" contains a character not allowed in a URL path "
		    "(allowed: letters, digits and -._~!&()*+,;=:@/%%)", field,
		    SHOW(in));
	}
	if (strstr(in, "/../") != NULL || (len >= 3 && strcmp(in + len - 3, "/..") == 0))
		return conduit_err_set(err, CONDUIT_EINVAL,
		    "%s \"%s\" must not contain '..' segments", field, SHOW(in));
	return 0;
}

int
conduit_validate_scheme(const char *field, const char *in,
    struct conduit_err *err)
{
	char showbuf[SHOWMAX * 4 + 8];

	if (in != NULL && (strcmp(in, "http") == 0 || strcmp(in, "https") == 0))
		return 0;
	return conduit_err_set(err, CONDUIT_EINVAL,
	    "%s \"%s\" must be http or https", field, in ? SHOW(in) : "");
}

int
conduit_parse_duration_ms(const char *field, const char *in, long *out_ms,
    struct conduit_err *err)
{
	char showbuf[SHOWMAX * 4 + 8];
	long v = 0, mult;
	size_t i = 0;
	const char *unit;

	if (in == NULL || in[0] == '\0')
		return conduit_err_set(err, CONDUIT_EINVAL, "%s is empty", field);
	while (isdigit((unsigned char)in[i])) {
		if (i >= 9)
			return conduit_err_set(err, CONDUIT_EINVAL,
			    "%s \"%s\" is too large", field, SHOW(in));
		v = v * 10 + (in[i] - '0');
		i++;
	}
	unit = in + i;
	if (i == 0)
		goto bad;
	if (*unit == '\0' || strcmp(unit, "s") == 0)
		mult = 1000;
	else if (strcmp(unit, "ms") == 0)
		mult = 1;
	else if (strcmp(unit, "m") == 0)
		mult = 60000;
	else if (strcmp(unit, "h") == 0)
		mult = 3600000;
	else
		goto bad;
	*out_ms = v * mult;
	return 0;
bad:
	return conduit_err_set(err, CONDUIT_EINVAL,
	    "%s \"%s\" is not a duration (e.g. 500ms, 2s, 1m; a bare number "
	    "is seconds)", field, SHOW(in));
}
