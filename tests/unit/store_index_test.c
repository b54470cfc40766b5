/* store_index_test.c: the per-secret audit index (store_index.c) and when
 * the committer fills it (store_commit.c). GET /audit/secret's list equals
 * a plain scan of the audit table wherever the mark is; a rolled-back
 * entry is never indexed; past the tail cap a batch indexes a chunk even
 * when the committer is never idle; an idle committer indexes the whole
 * tail; a mark ahead of the log is repaired at open. White-box: it moves
 * the mark itself and sets the idle time through store_int.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "store_tmp.h"

#include "store_int.h"
#include "store_stats.h"

#define NEVER_MS 100000000 /* an idle time no test waits out */

static struct store *open_store(struct store_tmp *t, int idle_ms)
{
	struct store *st = store_open(t->dir);

	assert_non_null(st);
	st->index_idle_ms = idle_ms;
	return st;
}

static void make_id(unsigned char id[STORE_ID_LEN], int k)
{
	memset(id, 0, STORE_ID_LEN);
	id[0] = 0x5e;
	id[31] = (unsigned char)k;
}

/* Appends n entries in one write transaction: entry i belongs to secret
 * (base + i) % nsec, and every seventh to none. */
static void append_n(struct store *st, int n, int nsec, int base)
{
	struct store_tx *tx = store_tx_begin(st, 1);

	assert_non_null(tx);
	for (int i = 0; i < n; i++) {
		unsigned char id[STORE_ID_LEN];
		char e[64];
		int k = (base + i) % nsec;

		make_id(id, k);
		snprintf(e, sizeof(e), "{\"action\":\"secret.read\",\"n\":%d,\"k\":%d}", base + i,
			 k);
		assert_int_equal(store_audit_append(tx, e, strlen(e), (base + i) % 7 ? id : NULL),
				 0);
	}
	assert_int_equal(store_tx_commit(tx), 0);
}

static int64_t mark_of(struct store_tmp *t)
{
	return store_tmp_int(t->db, "SELECT seq FROM audit_mark");
}

static int64_t head_of(struct store_tmp *t)
{
	return store_tmp_int(t->db, "SELECT ifnull(max(seq), 0) FROM audit");
}

/* Indexes up to n tail entries in a write transaction of the test's own. */
static void index_n(struct store *st, int64_t n)
{
	struct store_tx *tx = store_tx_begin(st, 1);
	int64_t left = -1;

	assert_non_null(tx);
	assert_int_equal(store_index_fill(tx, n, &left), 0);
	assert_true(left >= 0);
	assert_int_equal(store_tx_commit(tx), 0);
}

struct rows {
	int n;
	int64_t seq[1000];
	char *entry[1000];
};

static int collect(void *ctx, int64_t seq, const char *entry, size_t len)
{
	struct rows *r = ctx;

	assert_true(r->n < 1000);
	r->seq[r->n] = seq;
	r->entry[r->n] = strndup(entry, len);
	assert_non_null(r->entry[r->n]);
	r->n++;
	return 0;
}

static void rows_free(struct rows *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->entry[i]);
	r->n = 0;
}

/* The same list by brute force: the audit table read directly. */
static void scan(struct store_tmp *t, int k, int limit, struct rows *r)
{
	unsigned char id[STORE_ID_LEN];
	sqlite3 *h;
	sqlite3_stmt *q;

	make_id(id, k);
	assert_int_equal(sqlite3_open(t->db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h,
					    "SELECT seq, entry FROM audit WHERE secret_id = ?1"
					    " ORDER BY seq DESC LIMIT ?2",
					    -1, &q, NULL),
			 SQLITE_OK);
	sqlite3_bind_blob(q, 1, id, STORE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, limit);
	while (sqlite3_step(q) == SQLITE_ROW)
		collect(r, sqlite3_column_int64(q, 0), (const char *)sqlite3_column_text(q, 1),
			(size_t)sqlite3_column_bytes(q, 1));
	sqlite3_finalize(q);
	sqlite3_close(h);
}

/* Every secret's list (and an absent one's), at several limits, equals the
 * scan entry for entry; returns how many entries the full lists held. */
static int check_lists(struct store *st, struct store_tmp *t, int nsec)
{
	static const int limits[] = {1, 3, 50, 1000};
	int total = 0;

	for (int k = 0; k <= nsec; k++) {
		for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
			struct rows got = {0}, want = {0};
			unsigned char id[STORE_ID_LEN];
			struct store_tx *tx = store_tx_begin(st, 0);

			assert_non_null(tx);
			make_id(id, k);
			assert_int_equal(store_audit_list(tx, id, -1, limits[l], collect, &got), 0);
			store_tx_rollback(tx);
			scan(t, k, limits[l], &want);
			assert_int_equal(got.n, want.n);
			for (int i = 0; i < got.n; i++) {
				assert_int_equal(got.seq[i], want.seq[i]);
				assert_string_equal(got.entry[i], want.entry[i]);
			}
			if (limits[l] == 1000)
				total += got.n;
			rows_free(&got);
			rows_free(&want);
		}
	}
	return total;
}

/* The index holds exactly the entries at or below the mark that name a
 * secret. */
static void check_index(struct store_tmp *t)
{
	assert_int_equal(store_tmp_int(t->db, "SELECT count(*) FROM audit_index"),
			 store_tmp_int(t->db,
				       "SELECT count(*) FROM audit WHERE secret_id IS NOT NULL"
				       " AND seq <= (SELECT seq FROM audit_mark)"));
	assert_int_equal(store_tmp_int(t->db, "SELECT count(*) FROM audit_index i JOIN audit a"
					      " ON a.seq = i.seq AND a.secret_id = i.secret_id"),
			 store_tmp_int(t->db, "SELECT count(*) FROM audit_index"));
}

#define NSEC 5

static void test_list_equals_scan_at_any_mark(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = open_store(t, NEVER_MS);
	int full;

	for (int b = 0; b < 6; b++)
		append_n(st, 100, NSEC, b * 100);
	/* the mark at 0: every entry is in the tail */
	assert_int_equal(mark_of(t), 0);
	full = check_lists(st, t, NSEC);
	assert_int_equal(full, 600 - 600 / 7 - 1); /* entries 0, 7, ... name none */
	/* in the middle */
	index_n(st, 250);
	assert_int_equal(mark_of(t), 250);
	check_index(t);
	assert_int_equal(check_lists(st, t, NSEC), full);
	/* at the head */
	index_n(st, 1000000);
	assert_int_equal(mark_of(t), 600);
	check_index(t);
	assert_int_equal(check_lists(st, t, NSEC), full);
	/* new entries above a mark at the old head */
	append_n(st, 40, NSEC, 600);
	assert_int_equal(mark_of(t), 600);
	assert_true(check_lists(st, t, NSEC) > full);
	store_close(st);
}

/* A job that writes an entry for secret 1 and then fails. */
static int failing_append(struct store_tx *tx, void *arg)
{
	unsigned char id[STORE_ID_LEN];

	(void)arg;
	make_id(id, 1);
	assert_int_equal(store_audit_append(tx, "{\"gone\":1}", 10, id), 0);
	return -1;
}

/* Waits (up to 20 s) for the committer to index the whole tail. */
static void wait_indexed(struct store_tmp *t)
{
	for (int i = 0; i < 2000 && mark_of(t) != head_of(t); i++) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(mark_of(t), head_of(t));
}

/* make_id(k)'s 30 zero bytes in hex */
#define ZEROS "000000000000000000000000000000000000000000000000000000000000"

static void test_rolled_back_entry_never_indexed(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = open_store(t, NEVER_MS);
	struct answers a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
	unsigned char one[STORE_ID_LEN], two[STORE_ID_LEN];
	struct store_tx *tx;

	make_id(one, 1);
	make_id(two, 2);
	/* a writer that rolls back, and a parked job that fails, each after
	 * appending an entry for secret 1 */
	tx = store_tx_begin(st, 1);
	assert_non_null(tx);
	assert_int_equal(store_audit_append(tx, "{\"gone\":0}", 10, one), 0);
	store_tx_rollback(tx);
	assert_int_equal(store_write_async(st, failing_append, NULL, answered, &a), 0);
	assert_int_equal(store_audit_async(st, "{\"kept\":2}", 10, two, answered, &a), 0);
	wait_answers(&a, 2);
	assert_int_equal(a.ok, 1);
	/* the seqs they had are secret 2's now */
	tx = store_tx_begin(st, 1);
	assert_non_null(tx);
	assert_int_equal(store_audit_append(tx, "{\"kept\":3}", 10, two), 0);
	assert_int_equal(store_tx_commit(tx), 0);
	assert_int_equal(head_of(t), 2);
	/* now let the committer index everything when idle; a parked entry
	 * wakes it from its (never ending) wait */
	st->index_idle_ms = 1;
	assert_int_equal(store_audit_async(st, "{\"wake\":1}", 10, NULL, answered, &a), 0);
	wait_answers(&a, 3);
	wait_indexed(t);
	check_index(t);
	assert_int_equal(store_tmp_int(t->db, "SELECT count(*) FROM audit_index WHERE"
					      " secret_id = x'5e" ZEROS "02'"),
			 2);
	assert_int_equal(store_tmp_int(t->db, "SELECT count(*) FROM audit_index WHERE"
					      " secret_id = x'5e" ZEROS "01'"),
			 0);
	assert_int_equal(store_tmp_int(t->db, "SELECT count(*) FROM audit WHERE"
					      " entry LIKE '%gone%'"),
			 0);
	check_lists(st, t, 3);
	store_close(st);
}

/* Never idle: batches below the cap index nothing; the batch that takes
 * the tail past LIMIT_AUDIT_TAIL_MAX indexes one chunk before its COMMIT,
 * for synchronous writers and parked entries alike. */
static void test_tail_cap_indexes_in_batch(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = open_store(t, NEVER_MS);
	struct answers a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
	enum { PARKED = STORE_INDEX_CHUNK + 8 };
	struct store_tx *tx;
	int64_t tail = -1;

	for (int b = 0; b < LIMIT_AUDIT_TAIL_MAX / 1024; b++)
		append_n(st, 1024, 40, b * 1024);
	assert_int_equal(head_of(t), LIMIT_AUDIT_TAIL_MAX);
	assert_int_equal(mark_of(t), 0);
	append_n(st, 1, 40, LIMIT_AUDIT_TAIL_MAX);
	assert_int_equal(mark_of(t), STORE_INDEX_CHUNK);
	check_index(t);
	/* parked entries: the committer's batches cross the cap once more */
	for (int i = 0; i < PARKED; i++) {
		unsigned char id[STORE_ID_LEN];
		make_id(id, i % 40);
		assert_int_equal(store_audit_async(st, "{\"p\":1}", 7, id, answered, &a), 0);
	}
	wait_answers(&a, PARKED);
	assert_int_equal(a.ok, PARKED);
	assert_int_equal(mark_of(t), 2 * STORE_INDEX_CHUNK);
	check_index(t);
	tx = store_tx_begin(st, 0);
	assert_non_null(tx);
	assert_int_equal(store_index_tail(tx, &tail), 0);
	assert_int_equal(store_audit_unindexed(tx), tail);
	store_tx_rollback(tx);
	assert_int_equal(tail, LIMIT_AUDIT_TAIL_MAX + 1 + PARKED - 2 * STORE_INDEX_CHUNK);
	assert_true(tail <= LIMIT_AUDIT_TAIL_MAX);
	assert_int_equal(st->unindexed, tail);
	check_lists(st, t, 40);
	store_close(st);
}

/* An idle committer indexes the whole tail, chunk after chunk, and the
 * gauge reads 0. */
static void test_idle_committer_indexes_tail(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = open_store(t, STORE_INDEX_IDLE_MS);
	struct store_tx *tx;

	append_n(st, STORE_INDEX_CHUNK + 500, NSEC, 0);
	wait_indexed(t);
	assert_int_equal(mark_of(t), STORE_INDEX_CHUNK + 500);
	check_index(t);
	tx = store_tx_begin(st, 0);
	assert_non_null(tx);
	assert_int_equal(store_audit_unindexed(tx), 0);
	store_tx_rollback(tx);
	check_lists(st, t, NSEC);
	store_close(st);
}

/* A log cut back by hand below the mark, or a mark row removed: at open
 * the index is dropped and rebuilt (stale pairs would otherwise stay, and
 * entries written later under the mark would never be indexed). */
static void test_mark_past_log_repaired_at_open(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = open_store(t, NEVER_MS);

	append_n(st, 300, NSEC, 0);
	index_n(st, 1000);
	assert_int_equal(mark_of(t), 300);
	store_close(st);
	store_tmp_sql(t->db, "DELETE FROM audit WHERE seq > 250");
	st = open_store(t, STORE_INDEX_IDLE_MS);
	check_lists(st, t, NSEC);
	wait_indexed(t);
	assert_int_equal(mark_of(t), 250);
	check_index(t);
	check_lists(st, t, NSEC);
	store_close(st);
	store_tmp_sql(t->db, "DELETE FROM audit_mark");
	st = open_store(t, STORE_INDEX_IDLE_MS);
	check_lists(st, t, NSEC);
	wait_indexed(t);
	check_index(t);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    store_tmp_test(test_list_equals_scan_at_any_mark),
	    store_tmp_test(test_rolled_back_entry_never_indexed),
	    store_tmp_test(test_tail_cap_indexes_in_batch),
	    store_tmp_test(test_idle_committer_indexes_tail),
	    store_tmp_test(test_mark_past_log_repaired_at_open),
	};

	return cmocka_run_group_tests_name("store_index", tests, NULL, NULL);
}
