/* store_stats.c: counts for GET /metrics (see store_stats.h). Prepared per
 * call: a scrape is rare, and the hot statements stay in store.c. Reads
 * only; never touches the writer's batch. */
#include "store_stats.h"

#include "log.h"
#include "store_int.h"

int64_t store_token_live_count(struct store_tx *tx, int64_t now_ms)
{
	sqlite3_stmt *s = NULL;
	int64_t n;

	if (sqlite3_prepare_v2(tx->db,
			       "SELECT count(*) FROM tokens WHERE revoked_at IS NULL AND "
			       "expires_at > ?1",
			       -1, &s, NULL) != SQLITE_OK) {
		log_err("%s: %s", __func__, sqlite3_errmsg(tx->db));
		sqlite3_finalize(s);
		return -1;
	}
	sqlite3_bind_int64(s, 1, now_ms);
	n = store_scalar(tx, s);
	sqlite3_finalize(s);
	return n;
}

int64_t store_audit_unindexed(struct store_tx *tx)
{
	int64_t tail;

	if (store_index_tail(tx, &tail) != 0) {
		log_err("%s: %s", __func__, sqlite3_errmsg(tx->db));
		return -1;
	}
	return tail;
}
