/*
 * daemons.c - the table of programs `conduit up`/`down` manage.
 */
#include <stddef.h>

#include "conduit/caddy.h"
#include "conduit/process.h"

extern const struct conduit_daemon conduit_daemon_dnsmasq;

/* Caddy before dnsmasq, like the backends in txn.c. */
static const struct conduit_daemon *const daemons[] = {
	&conduit_caddy_daemon,
	&conduit_daemon_dnsmasq,
	NULL
};

const struct conduit_daemon *const *
conduit_daemons(void)
{
	return daemons;
}
