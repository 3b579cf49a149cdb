/*
 * daemons.c - the table of programs `conduit up`/`down` manage.
 */
#include <stddef.h>

#include "conduit/caddy.h"
#include "conduit/process.h"

static const struct conduit_daemon *const daemons[] = {
	&conduit_caddy_daemon,
	NULL
};

const struct conduit_daemon *const *
conduit_daemons(void)
{
	return daemons;
}
