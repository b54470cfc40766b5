/* store_stats.h: counts the store gives GET /metrics. Only counts: never a
 * row's content. */
#ifndef GV_STORE_STATS_H
#define GV_STORE_STATS_H

#include <stdint.h>

struct store_tx;

/* Registry rows neither revoked nor expired at now_ms; -1 on failure. */
int64_t store_token_live_count(struct store_tx *tx, int64_t now_ms);
/* Audit entries not yet in the per-secret index (the tail); -1 on failure. */
int64_t store_audit_unindexed(struct store_tx *tx);

#endif
