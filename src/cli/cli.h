/* cli.h: the groupvault command line's shared state (where the server is,
 * which tokens to send, output mode) and its exit codes. Tokens are loaded
 * only when a command needs them and live in wiped buffers; nothing here
 * writes to disk. */
#ifndef GV_CLI_H
#define GV_CLI_H

#include <stddef.h>

/* Exit codes (documented in groupvault(1)). */
#define CLI_OK 0
#define CLI_ESERVER 1	/* the server refused or failed (message from its JSON) */
#define CLI_EUSAGE 2	/* bad command line */
#define CLI_ELOCKED 3	/* 423: the vault is locked */
#define CLI_ENOTFOUND 4 /* 404 */
#define CLI_EDENIED 5	/* 401 / 403 */
#define CLI_ECONNECT 6	/* no HTTP answer at all */

#define CLI_DEFAULT_ADDR "http://127.0.0.1:18790"
#define CLI_TOKEN_MAX 16384 /* the daemon's largest capability token */

enum cli_auth { CLI_AUTH_NONE, CLI_AUTH_MGMT, CLI_AUTH_CAP };

struct cli {
	const char *addr;     /* base URL, no trailing slash needed */
	const char *auth_src; /* --auth-token / GROUPVAULT_AUTH_TOKEN: text or @path */
	const char *cap_src;  /* --token / GROUPVAULT_TOKEN: text or @path */
	const char *cacert;   /* --cacert / GROUPVAULT_CACERT */
	int json;	      /* --json: print the server's JSON */
	char *auth;	      /* loaded management token (wipe buffer) or NULL */
	char *cap;	      /* loaded capability token (wipe buffer) or NULL */
};

/* The whole program after main(): returns the exit code. */
int cli_main(int argc, char **argv);

/* One line "groupvault: ..." on stderr; control bytes shown as '?'.
 * Callers never pass a secret value, password, share or token. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The token for kind (loaded from its source on first use), or NULL after
 * a usage message when none is configured or its file cannot be read. */
const char *cli_token(struct cli *c, enum cli_auth kind);

/* Wipes and frees the loaded tokens. */
void cli_clear(struct cli *c);

#endif
