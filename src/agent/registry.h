/* registry.h: the agent's durable record of every vault it runs (SQLite).
 * A row is written before the vault is created and removed only after the
 * backend removed it, so a crash in between leaves something to reconcile. */
#ifndef GV_AGENT_REGISTRY_H
#define GV_AGENT_REGISTRY_H

#include <stdint.h>

#include "config.h"

#define REG_ID_MAX 64    /* group id bytes */
#define REG_SLUG_MAX 128 /* slug bytes */

enum reg_state {
	REG_PROVISIONING, /* row written, vault not yet healthy */
	REG_RUNNING,      /* wanted running */
	REG_STOPPED,      /* stopped by the operator: reconcile leaves it stopped */
};

struct reg_vault {
	char group_id[REG_ID_MAX + 1];
	char slug[REG_SLUG_MAX + 1];
	char name[160];
	unsigned port;
	char backend[16];
	char backend_id[160];
	enum reg_state state;
	char auth_token[AGENT_TOKEN_MAX + 1]; /* the vault's AUTH_TOKEN */
	int64_t created_at;                   /* ms since the epoch */
};

struct registry;

struct registry *registry_open(const char *path, char *err, size_t errlen);
void registry_close(struct registry *r);
/* 0 and *out filled, 1 when there is no such group, -1 on error. */
int registry_get(struct registry *r, const char *group_id, struct reg_vault *out);
int registry_insert(struct registry *r, const struct reg_vault *v);
int registry_update(struct registry *r, const struct reg_vault *v); /* by group_id */
int registry_delete(struct registry *r, const char *group_id);
/* Calls fn for every row, by group id; stops early when fn returns non-zero. */
int registry_each(struct registry *r, int (*fn)(const struct reg_vault *v, void *arg), void *arg);
/* 1 if some row holds port (or name), 0 if none, -1 on error. */
int registry_port_held(struct registry *r, unsigned port);
int registry_name_held(struct registry *r, const char *name);
const char *reg_state_name(enum reg_state s);

#endif
