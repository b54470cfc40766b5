/* api.h: the agent's HTTP API (libmicrohttpd): the original agent's
 * /api/group-vaults routes plus stop/start/logs, /health and /metrics. */
#ifndef GV_AGENT_API_H
#define GV_AGENT_API_H

#include "config.h"
#include "fleet.h"

struct agent_api;

struct agent_api *agent_api_start(const struct agent_config *cfg, struct fleet *f, char *err,
				  size_t errlen);
void agent_api_stop(struct agent_api *a);

#endif
