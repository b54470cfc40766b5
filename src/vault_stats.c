/* vault_stats.c: the vault's gauges for GET /metrics (see vault_stats.h).
 * Takes a read connection like any reader; never the writer, never a key. */
#include "vault_stats.h"

#include "metrics.h"
#include "store_stats.h"
#include "util.h"
#include "vault_int.h"

void vault_stats_fill(struct vault *v, struct metrics_gauges *g)
{
	struct store_tx *tx;

	g->initialized = vault_is_initialized(v);
	g->session_left = vault_session_left(v);
	g->unlocked = g->session_left > 0;
	g->secrets = g->tokens = g->audit_unindexed = -1;
	if ((tx = store_tx_begin(v->st, 0)) == NULL)
		return;
	g->secrets = store_secret_count(tx);
	g->tokens = store_token_live_count(tx, util_now_ms());
	g->audit_unindexed = store_audit_unindexed(tx);
	store_tx_rollback(tx);
}
