/* cmd.h: the commands' handlers (cmd_vault.c, cmd_token.c, cmd_secret.c,
 * cmd_audit.c). Each gets a parsed, checked command line (cmds.c checked
 * positionals and required options) and returns an exit code; each prints
 * the server's JSON unchanged under --json and a human form otherwise. */
#ifndef GV_CLI_CMD_H
#define GV_CLI_CMD_H

#include "args.h"
#include "cli.h"

typedef int cmd_fn(struct cli *c, const struct args *a);

/* cmd_vault.c: the vault's state and its unlocking. */
cmd_fn cmd_status, cmd_health, cmd_init, cmd_unlock, cmd_unlock_share, cmd_lock, cmd_extend,
    cmd_rekey;
/* cmd_token.c: capability tokens. */
cmd_fn cmd_token_issue, cmd_token_list, cmd_token_revoke, cmd_token_revoke_user;
/* cmd_secret.c: secrets, with a capability token. */
cmd_fn cmd_get, cmd_put, cmd_delete, cmd_list;
/* cmd_audit.c: the audit log, export and import. */
cmd_fn cmd_audit, cmd_audit_verify, cmd_export, cmd_import;

/* Shared by the handlers: reads a new password (twice on a terminal, once
 * with stdin) into a JSON string; NULL after a message. In cmd_vault.c. */
json_t *cmd_read_secret(const struct args *a, const char *what, int confirm);

/* Prints an answer (the server's JSON with --json, else human(json)),
 * frees it and returns CLI_OK. In cmd_vault.c. */
struct wire_resp;
int cmd_print(const struct cli *c, struct wire_resp *r, void (*human)(const json_t *j));
/* Fetches a JSON integer field (0 when absent). */
long long cmd_int(const json_t *j, const char *key);

#endif
