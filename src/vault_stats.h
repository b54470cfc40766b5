/* vault_stats.h: the vault's gauges for GET /metrics (state, counts). No
 * name, value or user id leaves through here. */
#ifndef GV_VAULT_STATS_H
#define GV_VAULT_STATS_H

struct vault;
struct metrics_gauges;

/* Fills the vault's part of g: initialized, unlocked, session_left,
 * secrets and tokens (-1 when the store cannot be read). */
void vault_stats_fill(struct vault *v, struct metrics_gauges *g);

#endif
