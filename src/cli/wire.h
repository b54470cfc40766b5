/* wire.h: one HTTP exchange with groupvaultd (libcurl) and the mapping of
 * its answer to an exit code and one error line. The only user of libcurl.
 * It never prints a request body, a token or a secret value. */
#ifndef GV_CLI_WIRE_H
#define GV_CLI_WIRE_H

#include "cli.h"

#include <jansson.h>
#include <stddef.h>

#define WIRE_MAX_ANSWER (256u << 20) /* an export of a full vault fits */

struct wire_resp {
	long status;
	long retry_after; /* seconds from a Retry-After header, or 0 */
	char *body;	  /* wipe-on-free, NUL-terminated */
	size_t len;
	json_t *json; /* parsed body (wipe-on-free through jalloc) or NULL */
};

int wire_init(void);
void wire_cleanup(void);

/* Sends method path (path already escaped) with body (may be NULL) and the
 * token kind asks for. Returns 0 with *r filled for a 2xx JSON answer; else
 * prints one line and returns the exit code (r is then empty). */
int wire_request(struct cli *c, const char *method, const char *path, const json_t *body,
		 enum cli_auth auth, struct wire_resp *r);
void wire_resp_free(struct wire_resp *r);

/* The exit code for an HTTP status (and its JSON error, which tells "no such
 * route" from "no such secret"): pure, for the tests. */
int wire_exit_code(long status, const json_t *json);

/* Percent-escapes s for a path segment or query value into a new string
 * (free with wire_free_escaped), or NULL. */
char *wire_escape(const char *s);
void wire_free_escaped(char *s);

/* Writes the answer's body unchanged, plus a newline, to stdout. */
int wire_print_raw(const struct wire_resp *r);

#endif
