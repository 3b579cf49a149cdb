/*
 * history.h - the past, rebuilt from the audit trail.
 *
 * `conduit list --at DATE` replays audit.log's successful
 * service_register and service_deregister records (apply writes the
 * same actions, one record per change) up to DATE and returns the
 * registry as it stood then.  `audit tail --since/--until` use the same
 * time parser.
 */
#ifndef CONDUIT_HISTORY_H
#define CONDUIT_HISTORY_H

#include <stdbool.h>

#include "conduit/err.h"
#include "conduit/registry.h"

/*
 * Parses a moment into audit.log's form, YYYY-MM-DDTHH:MM:SSZ (UTC):
 *   2026-04-04                 midnight UTC at the start of that day
 *   2026-04-04T10:15[:30][Z]   also with a space instead of the T
 *   7d, 12h, 30m, 90s, 2w      that long before now (when durations_ok)
 * field names the option in the error ("--since").
 */
int conduit_history_parse_time(const char *field, const char *in,
    bool durations_ok, char out[32], struct conduit_err *err);

/* The registry as it was at `at` (YYYY-MM-DDTHH:MM:SSZ, inclusive). */
int conduit_history_registry_at(const char *state_dir, const char *at,
    struct conduit_registry *reg, struct conduit_err *err);

#endif
