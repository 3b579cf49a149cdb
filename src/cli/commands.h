/*
 * commands.h - every command's table entry (one source file each).
 */
#ifndef CONDUIT_CLI_COMMANDS_H
#define CONDUIT_CLI_COMMANDS_H

#include "conduit/cli.h"

extern const struct conduit_cmd cmd_init_entry;
extern const struct conduit_cmd cmd_register_entry;
extern const struct conduit_cmd cmd_deregister_entry;
extern const struct conduit_cmd cmd_apply_entry;
extern const struct conduit_cmd cmd_list_entry;
extern const struct conduit_cmd cmd_status_entry;
extern const struct conduit_cmd cmd_up_entry;
extern const struct conduit_cmd cmd_down_entry;
extern const struct conduit_cmd cmd_certs_entry;
extern const struct conduit_cmd cmd_audit_entry;
extern const struct conduit_cmd cmd_dns_entry;
extern const struct conduit_cmd cmd_monitor_entry;
extern const struct conduit_cmd cmd_logs_entry;
extern const struct conduit_cmd cmd_help_entry;
extern const struct conduit_cmd cmd_version_entry;
extern const struct conduit_cmd cmd_completion_entry;
extern const struct conduit_cmd cmd_complete_entry;

#endif
