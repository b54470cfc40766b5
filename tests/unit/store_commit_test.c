/* store_commit_test.c: group commit (store_commit.c). Concurrent writers
 * keep exactly their own work; writers that overlap share one fsync, and
 * so do parked jobs; a failed job is undone alone; a failed batch answers
 * -1 to every writer and job in it. White-box: it reads the writer count
 * and the fault VFS's fsync counter through store_int.h. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_tmp.h"

#include "store_int.h"

static char fault_dir[] = "/tmp/gv-store-fault-XXXXXX";
static char fault_file[64]; /* GV_FAULT_FILE: I/O fails while it exists */

static void fault_set(const char *mode)
{
	FILE *f = fopen(fault_file, "w");

	assert_non_null(f);
	fputs(mode, f);
	fclose(f);
}

static int fault_clear(void **state)
{
	unlink(fault_file);
	return store_tmp_teardown(state);
}

static int64_t count(struct store *st, int secrets)
{
	struct store_tx *tx = store_tx_begin(st, 0);
	struct store_audit_check c;
	int64_t n = -1;

	assert_non_null(tx);
	if (secrets)
		n = store_secret_count(tx);
	else {
		assert_int_equal(store_audit_verify(tx, &c), 0);
		n = c.entries;
	}
	store_tx_rollback(tx);
	return n;
}

/* One synchronous write: a secret row and its audit entry. */
static int write_one(struct store *st, int a, int b, int keep)
{
	unsigned char id[STORE_ID_LEN] = {0};
	struct store_tx *tx = store_tx_begin(st, 1);
	char e[32];

	if (tx == NULL)
		return -1;
	id[0] = (unsigned char)a;
	id[1] = (unsigned char)b;
	snprintf(e, sizeof(e), "{\"w\":%d,\"i\":%d}", a, b);
	if (store_secret_put(tx, id, 1, "x", 1) != 0 ||
	    store_audit_append(tx, e, strlen(e), NULL) != 0 || !keep) {
		store_tx_rollback(tx);
		return keep ? -1 : 0;
	}
	return store_tx_commit(tx);
}

/* Calibrates the counter: one writer alone, one COMMIT, one fsync. */
static void test_one_commit_is_one_fsync(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	uint64_t before;

	assert_non_null(st);
	/* No idle audit-index pass in between: it commits (and syncs) too. */
	st->index_idle_ms = 100000000;
	assert_int_equal(write_one(st, 0, 0, 1), 0); /* the WAL exists now */
	before = store_fault_syncs();
	for (int i = 1; i <= 10; i++)
		assert_int_equal(write_one(st, 0, i, 1), 0);
	assert_int_equal(store_fault_syncs() - before, 10);
	/* A rolled-back writer alone commits nothing and syncs nothing. */
	before = store_fault_syncs();
	assert_int_equal(write_one(st, 1, 0, 0), 0);
	assert_int_equal(store_fault_syncs() - before, 0);
	store_close(st);
}

struct writer_arg {
	struct store *st;
	int id;
	int failures;
};

static void *writer_loop(void *p)
{
	struct writer_arg *a = p;

	for (int i = 0; i < 50; i++) {
		/* every tenth writer changes its mind */
		if (write_one(a->st, a->id, i, i % 10 != 9) != 0)
			a->failures++;
	}
	return NULL;
}

/* Free-running writers: all kept work is there, rolled-back work is not,
 * and the chain is whole. (How many fsyncs this takes depends on the
 * scheduler; the bound is test_overlapping_writers_share_one_fsync's.) */
static void test_concurrent_writers_keep_their_work(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	struct writer_arg args[8];
	pthread_t th[8];
	uint64_t before;

	assert_non_null(st);
	before = store_fault_syncs();
	for (int i = 0; i < 8; i++) {
		args[i] = (struct writer_arg){st, i, 0};
		assert_int_equal(pthread_create(&th[i], NULL, writer_loop, &args[i]), 0);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 8; i++)
		assert_int_equal(args[i].failures, 0);
	/* 8 writers x 45 kept; the rolled-back ones left nothing behind. */
	assert_int_equal(count(st, 1), 8 * 45);
	assert_int_equal(count(st, 0), 8 * 45);
	fprintf(stderr, "free-running: %d commits, %llu fsyncs\n", 8 * 45,
		(unsigned long long)(store_fault_syncs() - before));
	store_close(st);
}

static void *writer_once(void *p)
{
	struct writer_arg *a = p;

	if (write_one(a->st, a->id, 0, 1) != 0)
		a->failures++;
	return NULL;
}

/* Starts n writers that each begin a write while the caller holds the
 * writer; returns once all of them have announced themselves. */
static void start_behind(struct store *st, pthread_t *th, struct writer_arg *args, int n, int base)
{
	for (int i = 0; i < n; i++) {
		args[i] = (struct writer_arg){st, base + i, 0};
		assert_int_equal(pthread_create(&th[i], NULL, writer_once, &args[i]), 0);
	}
	while (st->writers < (unsigned)n + 1)
		sched_yield();
}

#define ROUNDS 10
#define WRITERS 8

/* The bound. Each round, WRITERS writers overlap: one holds the writer
 * while the other seven have announced themselves and wait for it. Group
 * commit puts all eight in one batch, so a round costs one fsync: 10 for
 * the 80 commits (measured: 11 to 18, the more the machine is loaded).
 * Only the 1 ms timer of a waiting writer splits a round, when the writers
 * behind it take longer than that to run. The bound, 3 fsyncs a round
 * (30), allows two such splits in every round, and still fails if batches
 * held fewer than 8/3 writers on average; one fsync per commit costs 80. */
static void test_overlapping_writers_share_one_fsync(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	struct writer_arg args[WRITERS - 1];
	pthread_t th[WRITERS - 1];
	uint64_t before, fsyncs;

	assert_non_null(st);
	st->index_idle_ms = 100000000; /* no idle index pass: it syncs too */
	assert_int_equal(write_one(st, 200, 0, 1), 0); /* the WAL exists now */
	before = store_fault_syncs();
	for (int r = 0; r < ROUNDS; r++) {
		unsigned char id[STORE_ID_LEN] = {0xff, (unsigned char)r};
		struct store_tx *tx = store_tx_begin(st, 1);

		assert_non_null(tx);
		assert_int_equal(store_secret_put(tx, id, 1, "h", 1), 0);
		start_behind(st, th, args, WRITERS - 1, r * WRITERS);
		assert_int_equal(store_tx_commit(tx), 0);
		for (int i = 0; i < WRITERS - 1; i++)
			pthread_join(th[i], NULL);
		for (int i = 0; i < WRITERS - 1; i++)
			assert_int_equal(args[i].failures, 0);
	}
	fsyncs = store_fault_syncs() - before;
	fprintf(stderr, "overlapping: %d commits, %llu fsyncs\n", ROUNDS * WRITERS,
		(unsigned long long)fsyncs);
	assert_true(fsyncs <= ROUNDS * 3);
	assert_int_equal(count(st, 1), 1 + ROUNDS * WRITERS);
	store_close(st);
}

static int put_job(struct store_tx *tx, void *arg)
{
	unsigned char id[STORE_ID_LEN] = {0xaa};

	id[1] = (unsigned char)(intptr_t)arg;
	return store_secret_put(tx, id, 1, "j", 1);
}

static int failing_job(struct store_tx *tx, void *arg)
{
	(void)put_job(tx, arg);
	return -1;
}

#define JOBS 64

/* Jobs parked while the writer is busy pile up in the queue; the committer
 * takes the queue whole. So 64 jobs cost at most 3 fsyncs: the held
 * writer's batch, the committer's first take (which may hold just one job,
 * queued before the rest) and everything queued behind it. */
static void test_parked_jobs_share_one_fsync(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	struct answers a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
	struct store_tx *tx;
	uint64_t before;

	assert_non_null(st);
	/* No idle audit-index pass in between: it commits (and syncs) too. */
	st->index_idle_ms = 100000000;
	assert_int_equal(write_one(st, 0, 0, 1), 0); /* the WAL exists now */
	before = store_fault_syncs();
	tx = store_tx_begin(st, 1);
	assert_non_null(tx);
	for (int i = 0; i < JOBS; i++) {
		if (i % 2 == 0)
			assert_int_equal(store_audit_async(st, "{\"p\":1}", 7, NULL, answered, &a),
					 0);
		else
			assert_int_equal(
			    store_write_async(st, put_job, (void *)(intptr_t)i, answered, &a), 0);
	}
	assert_int_equal(store_tx_commit(tx), 0);
	wait_answers(&a, JOBS);
	assert_int_equal(a.ok, JOBS);
	assert_true(store_fault_syncs() - before <= 3);
	assert_int_equal(count(st, 1), 1 + JOBS / 2);
	assert_int_equal(count(st, 0), 1 + JOBS / 2);
	store_close(st);
}

/* A job that fails is undone alone; the job beside it in the batch stays. */
static void test_failed_job_undone_alone(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	struct answers bad = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
	struct answers good = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
	struct store_tx *tx;

	assert_non_null(st);
	tx = store_tx_begin(st, 1); /* hold the writer: both jobs queue up */
	assert_non_null(tx);
	assert_int_equal(store_write_async(st, failing_job, (void *)1, answered, &bad), 0);
	assert_int_equal(store_write_async(st, put_job, (void *)2, answered, &good), 0);
	assert_int_equal(store_tx_commit(tx), 0);
	wait_answers(&bad, 1);
	wait_answers(&good, 1);
	assert_int_equal(bad.failed, 1);
	assert_int_equal(good.ok, 1);
	assert_int_equal(count(st, 1), 1);
	store_close(st);
}

static void *writer_expect_fail(void *p)
{
	struct writer_arg *a = p;

	if (write_one(a->st, a->id, 0, 1) != -1)
		a->failures++;
	return NULL;
}

/* When fsync fails, every writer and job in the batch hears -1, nothing of
 * it is kept, and the next batch works (the audit head is re-read). */
static void test_failed_batch_answers_everyone(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	struct answers a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
	struct writer_arg b = {st, 2, 0};
	unsigned char id[STORE_ID_LEN] = {1};
	struct store_tx *tx;
	pthread_t th;

	assert_non_null(st);
	assert_int_equal(write_one(st, 0, 0, 1), 0);
	tx = store_tx_begin(st, 1);
	assert_non_null(tx);
	assert_int_equal(store_secret_put(tx, id, 1, "a", 1), 0);
	assert_int_equal(store_audit_append(tx, "{\"a\":1}", 7, NULL), 0);
	assert_int_equal(pthread_create(&th, NULL, writer_expect_fail, &b), 0);
	while (st->writers < 2)
		sched_yield();
	assert_int_equal(store_audit_async(st, "{\"p\":1}", 7, NULL, answered, &a), 0);
	fault_set("eio sync");
	assert_int_equal(store_tx_commit(tx), -1);
	pthread_join(th, NULL);
	assert_int_equal(b.failures, 0);
	wait_answers(&a, 1);
	assert_int_equal(a.failed, 1);
	unlink(fault_file);
	assert_int_equal(count(st, 1), 1);
	assert_int_equal(count(st, 0), 1);
	assert_int_equal(write_one(st, 3, 0, 1), 0);
	assert_int_equal(count(st, 0), 2); /* verified: the chain is whole */
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    store_tmp_test(test_one_commit_is_one_fsync),
	    store_tmp_test(test_concurrent_writers_keep_their_work),
	    store_tmp_test(test_overlapping_writers_share_one_fsync),
	    store_tmp_test(test_parked_jobs_share_one_fsync),
	    store_tmp_test(test_failed_job_undone_alone),
	    cmocka_unit_test_setup_teardown(test_failed_batch_answers_everyone, store_tmp_setup,
					    fault_clear),
	};
	int rc;

	/* The fault VFS reads GV_FAULT_FILE once, at the first store_open. */
	if (mkdtemp(fault_dir) == NULL)
		return 1;
	snprintf(fault_file, sizeof(fault_file), "%s/fault", fault_dir);
	setenv("GV_FAULT_FILE", fault_file, 1);
	rc = cmocka_run_group_tests_name("store_commit", tests, NULL, NULL);
	unlink(fault_file);
	rmdir(fault_dir);
	return rc;
}
