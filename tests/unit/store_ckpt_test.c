/* store_ckpt_test.c: WAL checkpoints off the committer (store_ckpt.c).
 * Under a write load the checkpointer, not the writer, keeps the WAL short;
 * a reader pinning an old snapshot lets it grow, and the writer's fallback
 * cuts it back once the reader lets go; closing the store while the
 * checkpointer is busy loses nothing. White-box: reads the counters in
 * struct store through store_int.h. */
#include <sys/stat.h>
#include <time.h>

#include "store_tmp.h"

#include "store_int.h"

#define ROWS_PER_BATCH 20
#define ROW_BYTES 2000
/* What the WAL file may hold: the hard bound, plus one batch that crosses
 * it before the writer's fallback runs (a frame is a page and 24 bytes). */
#define WAL_BOUND ((off_t)(STORE_CKPT_HARD + 200) * (4096 + 24))

static off_t wal_size(const struct store_tmp *t)
{
	char p[128];
	struct stat sb;

	snprintf(p, sizeof(p), "%s-wal", t->db);
	return stat(p, &sb) == 0 ? sb.st_size : 0;
}

/* One batch: ROWS_PER_BATCH new rows with ids spread over the table, so
 * that each dirties its own pages. *next numbers the rows. */
static void write_batch(struct store *st, int *next)
{
	static unsigned char rec[ROW_BYTES];
	struct store_tx *tx = store_tx_begin(st, 1);

	assert_non_null(tx);
	for (int i = 0; i < ROWS_PER_BATCH; i++) {
		unsigned char id[STORE_ID_LEN] = {0};
		unsigned n = (unsigned)(*next)++ * 2654435761u;

		memcpy(id, &n, sizeof(n));
		memcpy(id + sizeof(n), next, sizeof(*next));
		assert_int_equal(store_secret_put(tx, id, 1, rec, sizeof(rec)), 0);
	}
	assert_int_equal(store_tx_commit(tx), 0);
}

static int64_t secret_count(struct store *st)
{
	struct store_tx *tx = store_tx_begin(st, 0);
	int64_t n;

	assert_non_null(tx);
	n = store_secret_count(tx);
	store_tx_rollback(tx);
	return n;
}

/* The checkpointer keeps the WAL short: the writer never checkpoints, the
 * WAL restarts from the start after the checkpointer's copies, and it
 * never comes near the hard bound. With checkpoints left to nobody (or to
 * the writer at the hard bound only) the WAL would reach the bound. */
static void test_checkpointer_keeps_wal_short(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	int next = 0;

	assert_non_null(st);
	assert_false(st->ckpt_running); /* started only once a WAL needs it */
	for (int b = 0; b < 600; b++) {
		write_batch(st, &next);
		assert_true(wal_size(t) <= WAL_BOUND);
	}
	print_message("done %lu finish %lu fallback %lu restarts %lu max %d\n",
		      (unsigned long)st->ckpt_done, (unsigned long)st->ckpt_finish,
		      (unsigned long)st->ckpt_fallback, (unsigned long)st->wal_restarts,
		      st->wal_max);
	assert_true(st->ckpt_running);
	assert_true(st->ckpt_done >= 1);
	assert_true(st->wal_restarts >= 1);
	assert_int_equal(st->ckpt_fallback, 0);
	assert_true(st->wal_max < STORE_CKPT_HARD);
	assert_int_equal(secret_count(st), next);
	store_close(st);
}

/* A reader on an old snapshot keeps any checkpoint from copying past it:
 * the WAL grows past the hard bound and the writer tries its fallback.
 * Once the reader lets go, the next checkpoints copy everything, the WAL
 * restarts and journal_size_limit cuts the file back under the bound. */
static void test_pinned_reader_then_bounded(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	struct store_tx *old;
	uint64_t restarts;
	int next = 0, b;

	assert_non_null(st);
	write_batch(st, &next);
	old = store_tx_begin_own(st);
	assert_non_null(old);
	assert_int_equal(store_secret_count(old), ROWS_PER_BATCH); /* snapshot taken */
	for (b = 0; b < 2000 && st->wal_frames < STORE_CKPT_HARD + 1000; b++)
		write_batch(st, &next);
	assert_true(st->wal_frames >= STORE_CKPT_HARD + 1000);
	assert_true(wal_size(t) > WAL_BOUND);
	assert_true(st->ckpt_fallback > 0);
	restarts = st->wal_restarts;
	store_tx_rollback(old);
	for (b = 0; b < 2000 && (st->wal_restarts == restarts || wal_size(t) > WAL_BOUND); b++)
		write_batch(st, &next);
	assert_true(st->wal_restarts > restarts);
	assert_true(wal_size(t) <= WAL_BOUND);
	assert_int_equal(secret_count(st), next);
	store_close(st);
}

/* Closing the store while the checkpointer is in the middle of a pass (a
 * slowed one) waits for it and loses nothing: every row is there after a
 * reopen, and the close did wait for the pass. */
static void test_close_while_checkpointing(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	struct timespec t0, t1;
	int next = 0;
	long ms;

	assert_non_null(st);
	st->ckpt_test_delay_ms = 300;
	while (st->wal_frames < STORE_CKPT_PAGES)
		write_batch(st, &next);
	/* The checkpointer was started by that commit; let it enter its pass. */
	nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	store_close(st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 150); /* the pass was running: close joined it */
	st = store_open(t->dir);
	assert_non_null(st);
	assert_int_equal(secret_count(st), next);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    store_tmp_test(test_checkpointer_keeps_wal_short),
	    store_tmp_test(test_pinned_reader_then_bounded),
	    store_tmp_test(test_close_while_checkpointing),
	};

	return cmocka_run_group_tests_name("store_ckpt", tests, NULL, NULL);
}
