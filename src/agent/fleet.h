/* fleet.h: what the agent does for its API: provision, list, inspect, stop,
 * start, restart and remove one vault per group, and reconcile the registry
 * with the engine at start. Each call answers an HTTP status and a JSON body. */
#ifndef GV_AGENT_FLEET_H
#define GV_AGENT_FLEET_H

#include <jansson.h>

#include "backend.h"
#include "config.h"
#include "registry.h"

struct fleet;

struct fleet *fleet_new(const struct agent_config *cfg, struct backend *b, struct registry *r);
void fleet_free(struct fleet *f);
/* Adopts what runs, starts what should run and does not; logs a summary. */
int fleet_reconcile(struct fleet *f);

/* Each returns a new reference (never NULL) and sets *status. */
json_t *fleet_provision(struct fleet *f, const char *group_id, const char *slug,
			const char *auth_token, int *status);
json_t *fleet_list(struct fleet *f, int *status);
json_t *fleet_status(struct fleet *f, const char *group_id, int *status);
json_t *fleet_remove(struct fleet *f, const char *group_id, int *status);
json_t *fleet_stop(struct fleet *f, const char *group_id, int *status);
json_t *fleet_start(struct fleet *f, const char *group_id, int *status);
json_t *fleet_restart(struct fleet *f, const char *group_id, int *status);
json_t *fleet_logs(struct fleet *f, const char *group_id, unsigned tail, int *status);
/* Prometheus text exposition of the fleet; malloc'd, caller frees. */
char *fleet_metrics(struct fleet *f);

#endif
