/* request.h: the agent's outside input, parsed without I/O: the route a
 * method and path name, the provision body, and ?tail=. Pure functions, so
 * fuzz_agent drives exactly what api.c runs. */
#ifndef GV_AGENT_REQUEST_H
#define GV_AGENT_REQUEST_H

#include <stddef.h>

#include "config.h"
#include "registry.h"

enum agent_route {
	AR_HEALTH,
	AR_METRICS,
	AR_LIST,
	AR_PROVISION,
	AR_STATUS,
	AR_REMOVE,
	AR_STOP,
	AR_START,
	AR_RESTART,
	AR_LOGS,
	AR_NOT_FOUND,   /* 404 */
	AR_BAD_METHOD,  /* 405 */
	AR_BAD_GROUP,   /* 400: the path's group id is not one */
};

/* Which route; for the per-group ones the group id is copied to gid. */
enum agent_route agent_route_of(const char *method, const char *url, char gid[REG_ID_MAX + 1]);

struct provision_req {
	char group_id[REG_ID_MAX + 1];
	char slug[REG_SLUG_MAX + 1];
	char auth_token[AGENT_TOKEN_MAX + 1];
};

/* 0 and req filled, or -1 with *error and *details (static strings; details
 * may be NULL) for a 400. The caller wipes req (it holds a token). */
int agent_provision_parse(const char *body, size_t len, struct provision_req *req,
			  const char **error, const char **details);

/* ?tail=: NULL → 100; 1..10000 → n; anything else → 0 (a 400). */
unsigned agent_tail_parse(const char *s);

/* [A-Za-z0-9_.-]{1,64}, not starting with '.' */
int agent_valid_group_id(const char *s);

#endif
