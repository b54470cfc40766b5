/* store_index.c: the per-secret audit index (audit_index) that
 * GET /audit/secret/:key reads, filled in sorted chunks off the hot path,
 * and its mark (audit_mark: complete through that seq). It runs only inside
 * a transaction its caller opened (store_commit.c decides when) and must
 * never index an entry that is not in the table it commits with. */
#include "log.h"
#include "store_int.h"

/* The mark and the last seq, in the caller's transaction. 0, 1 (the mark
 * row is missing), or -1. */
static int store_index_read(struct store_tx *tx, int64_t *mark, int64_t *top)
{
	sqlite3_stmt *s = store_q(tx, Q_AUDIT_TAIL);
	int rc = sqlite3_step(s), r = -1;

	if (rc == SQLITE_ROW) {
		r = sqlite3_column_type(s, 0) == SQLITE_NULL ? 1 : 0;
		*mark = sqlite3_column_int64(s, 0);
		*top = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	return r;
}

int store_index_tail(struct store_tx *tx, int64_t *tail)
{
	int64_t mark, top;

	if (store_index_read(tx, &mark, &top) != 0)
		return -1;
	*tail = top > mark ? top - mark : 0;
	return 0;
}

int store_index_fill(struct store_tx *tx, int64_t max, int64_t *left)
{
	int64_t mark, top, hi;
	sqlite3_stmt *s;

	if (store_index_read(tx, &mark, &top) != 0)
		return -1;
	if (top <= mark) {
		*left = 0;
		return 0;
	}
	/* seqs have no gaps, so (mark, hi] is at most max entries */
	hi = top - mark > max ? mark + max : top;
	s = store_q(tx, Q_INDEX_FILL);
	sqlite3_bind_int64(s, 1, mark);
	sqlite3_bind_int64(s, 2, hi);
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	s = store_q(tx, Q_INDEX_MARK);
	sqlite3_bind_int64(s, 1, hi);
	if (sqlite3_step(s) != SQLITE_DONE || sqlite3_changes(tx->db) != 1) {
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	*left = top - hi;
	return 0;
}

/* Entries may only have been removed by hand (the log is append-only, and
 * store_audit_verify reports it); whatever the index then says about them
 * is dropped and it is rebuilt. */
static const char store_index_reset[] = "BEGIN IMMEDIATE;"
					"DELETE FROM audit_index;"
					"INSERT OR REPLACE INTO audit_mark(one, seq) VALUES(1, 0);"
					"COMMIT;";

int store_index_open(struct store *st)
{
	int64_t mark = 0, top = 0, tail;
	int r;

	if (store_exec(st->w->db, "BEGIN") != 0)
		return -1;
	r = store_index_read(st->w, &mark, &top);
	store_exec(st->w->db, "COMMIT");
	if (r < 0) {
		log_err("store: cannot read the audit index mark: %s", sqlite3_errmsg(st->w->db));
		return -1;
	}
	if (r == 1 || mark > top) {
		log_warn("store: the audit index mark is %s; rebuilding the index",
			 r == 1 ? "missing" : "past the last entry");
		if (store_exec(st->w->db, store_index_reset) != 0) {
			if (!sqlite3_get_autocommit(st->w->db))
				store_exec(st->w->db, "ROLLBACK");
			return -1;
		}
		mark = 0;
	}
	tail = top - mark;
	st->unindexed = tail;
	return 0;
}

void store_index_failed(struct store *st)
{
	if (!st->index_failing)
		log_err("store: audit index update failed (%s); retrying later",
			sqlite3_errmsg(st->w->db));
	st->index_failing = 1;
}

void store_index_ok(struct store *st)
{
	if (st->index_failing)
		log_info("store: audit index updates again");
	st->index_failing = 0;
}

void store_index_note(struct store *st, int64_t tail)
{
	int64_t was = st->unindexed;

	st->unindexed = tail;
	if (was == 0 && tail > 0) {
		/* a writer's commit: the committer may be waiting without a timer */
		pthread_mutex_lock(&st->qmu);
		pthread_cond_signal(&st->qcv);
		pthread_mutex_unlock(&st->qmu);
	}
}
