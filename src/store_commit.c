/* store_commit.c: group commit. Many writers share one SQLite transaction
 * and one fsync; the committer thread runs parked requests' work in it. It
 * must never answer 0 for work whose COMMIT did not succeed.
 *
 * The protocol and its invariants
 *
 * The batch. The store has one writer connection (st->w), guarded by wmu.
 * At most one outer transaction, "the batch", is open on it (BEGIN
 * IMMEDIATE, outer_open). Every write joins the open batch, or opens one;
 * nothing written is durable until the batch's single COMMIT. Batches are
 * numbered: gen is the one being filled, done_gen the last one finished,
 * and results[gen % STORE_RESULTS] holds its outcome (0 or -1).
 *
 * One COMMIT = one fsync. With journal_mode=WAL and synchronous=FULL,
 * SQLite syncs the WAL once per COMMIT, so a batch of N writes costs one
 * fsync instead of N. SQLite's automatic checkpoint is off on the writer:
 * copying the WAL into vault.db is the checkpointer's (store_ckpt.c), on
 * its own connection and thread, woken by the writer's wal hook after a
 * COMMIT leaves the WAL past STORE_CKPT_PAGES. The hook itself copies only
 * a short rest (so the WAL can restart) or, past STORE_CKPT_HARD, does a
 * whole checkpoint as the fallback; store_close stops the committer first,
 * then the checkpointer. store_commit_batch() is the only place that
 * commits a batch; it runs under wmu, records the result, advances gen,
 * and broadcasts wcv.
 *
 * Savepoints per writer. Each piece of work runs in its own savepoint of
 * the batch ("SAVEPOINT w" for a synchronous writer, "SAVEPOINT j" for a
 * queued job). A failed or rolled-back piece is undone alone (ROLLBACK TO),
 * together with the cached audit chain head (store_audit_mark/undo);
 * the others' work in the batch stays. A piece counts in batch_size only
 * once its savepoint is released. A queued audit entry is one INSERT, atomic
 * by itself, so it needs no savepoint.
 *
 * Synchronous writers (management calls: store_tx_begin(write) ...
 * store_tx_commit/rollback). A writer first announces itself (writers++),
 * then takes wmu and holds it until its end, so writers run one at a time.
 * At its end it leaves the count and then:
 *   - if nobody else has announced (writers == 0) or the batch is full
 *     (STORE_MAX_BATCH), it commits the batch itself (or, if the batch holds
 *     nothing, rolls the empty transaction back);
 *   - otherwise, if its work is in the batch, it waits on wcv (releasing
 *     wmu) for the batch to finish: the last writer in, the committer
 *     thread, or a full batch commits it. If STORE_BATCH_WAIT_US passes and
 *     its batch is still the open one, it commits the batch itself, so a
 *     steady stream of writers cannot postpone a commit for ever;
 *   - a writer that rolled back does not wait; it answers -1 at once.
 * Announcing before taking wmu is what lets a finishing writer know that
 * more work is on its way and the fsync can be shared.
 *
 * Sharing the batch. Synchronous writers and the committer thread take
 * turns on wmu, so a queued job never runs inside a writer's savepoint;
 * but all of them add to the same open batch, and whichever of them
 * commits it answers everyone in it.
 *
 * Parked requests (store_audit_async, store_write_async). The request
 * thread queues a job (qmu, qcv) and returns without waiting. The committer
 * thread takes the whole queue at once, takes wmu, opens the batch if none
 * is open, runs each job in it, and commits the batch if it holds anything,
 * its own work or synchronous writers' released savepoints (whose waiters
 * wcv then wakes). Jobs queued meanwhile wait for the next round, so while
 * one batch is being fsynced the next one fills up. After releasing wmu it
 * calls each job's done(ctx, rc) exactly once, from its own thread. If no
 * job succeeded, the batch is empty and no writer has announced, it rolls
 * the empty transaction back.
 *
 * What a failed batch answers. If COMMIT fails (EIO, ENOSPC), the
 * transaction is rolled back, the audit head cache is forgotten (it may be
 * ahead of the table), and the batch's result is -1: every writer waiting
 * for it and every job in it gets -1, and the caller answers 503. If the
 * committer cannot open a batch, every job it took gets -1; a writer that
 * cannot gets NULL from store_tx_begin. A job whose own savepoint failed
 * gets -1 even if its batch committed. A 0 means the COMMIT holding that
 * work returned SQLITE_OK: it is on disk.
 *
 * Who is woken when. wcv is broadcast each time a batch finishes (committed
 * or failed); waiting writers check done_gen against their own gen. qcv is
 * signalled when a job is queued and when the store stops. A waiter reads
 * its result from a ring of STORE_RESULTS batches, far more than can finish
 * while it reacquires wmu.
 *
 * The per-secret audit index (store_index.c). Entries above audit_mark,
 * the tail, are not yet in audit_index; GET /audit/secret/:key scans the
 * tail and reads the index for the rest, so neither the hot path nor a
 * reader depends on when the tail is indexed. It is indexed off the hot
 * path, in two places, each under wmu and each moving the mark in the same
 * transaction as the rows it covers:
 *   - idle: when no job has been queued for index_idle_ms after the last
 *     batch (STORE_INDEX_RETRY_MS after a failure) and the tail is not
 *     empty, the committer takes wmu and, if no batch is open and no writer
 *     has announced itself, indexes one chunk (STORE_INDEX_CHUNK) in a
 *     transaction of its own; then, while the queue stays empty, the next
 *     chunk at once. Nothing waits on this but jobs queued meanwhile, for
 *     at most one chunk;
 *   - in a batch: just before its COMMIT, if the tail is over
 *     LIMIT_AUDIT_TAIL_MAX (a load that never leaves the committer idle),
 *     one chunk goes into the batch, in a savepoint of its own that is undone
 *     alone if it fails. Whoever commits the batch does this.
 * Only committed entries are indexed: the chunk is read from the table in
 * the transaction that commits it, and a rolled-back savepoint's entries
 * are no longer there. A failed pass is logged once (until one succeeds)
 * and retried later; it never fails a batch. Each commit records the tail
 * it leaves (st->unindexed), and a writer's commit that makes it non-empty
 * wakes the committer (qmu is taken inside wmu, never the other way).
 *
 * Stopping. store_commit_stop() lets the committer drain the queue (every
 * queued job is committed and answered), joins it, and commits a batch that
 * is still open. A job queued once stopping has begun is refused (-1,
 * done not called).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "store_int.h"

/* Counts the audit entries a batch made durable (GET /metrics). wmu held. */
static void store_commit_count(struct store *st, int rc)
{
	if (rc != 0 || !st->head.valid || !st->counted_set)
		return;
	if (st->head.seq > st->counted)
		metrics_add(METRICS_AUDIT_ENTRIES, (uint64_t)(st->head.seq - st->counted));
	st->counted = st->head.seq;
}

/* SQL whose failure the caller reports once (store_index_failed). */
static int store_quiet(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Just before a batch's COMMIT: if the audit tail is over its cap, indexes
 * one chunk of it in a savepoint of the batch (undone alone on failure).
 * Returns the tail the batch leaves, or -1 if it cannot tell. wmu held. */
static int64_t store_commit_index(struct store *st)
{
	int64_t tail, left;

	if (store_index_tail(st->w, &tail) != 0) {
		store_index_failed(st);
		return -1;
	}
	if (tail <= LIMIT_AUDIT_TAIL_MAX)
		return tail;
	if (store_quiet(st->w->db, "SAVEPOINT x") != 0) {
		store_index_failed(st);
		return tail;
	}
	if (store_index_fill(st->w, STORE_INDEX_CHUNK, &left) == 0 &&
	    store_quiet(st->w->db, "RELEASE x") == 0) {
		store_index_ok(st);
		return left;
	}
	store_index_failed(st);
	store_quiet(st->w->db, "ROLLBACK TO x");
	store_quiet(st->w->db, "RELEASE x");
	return tail;
}

/* Commits the open batch with one fsync and wakes its waiters. wmu held. */
static void store_commit_batch(struct store *st)
{
	int rc = 0;

	if (st->outer_open) {
		uint64_t t0 = metrics_now_ns();
		int64_t tail = store_commit_index(st);
		/* On a full disk, an I/O error or no memory SQLite may roll back
		 * the whole transaction, not just the failed statement: then
		 * nothing of the batch is left, and the head record must not be
		 * written on its own (autocommit) for entries that are gone. */
		if (sqlite3_get_autocommit(st->w->db))
			rc = -1;
		/* The keyed head record goes into the batch it describes. */
		if (rc == 0)
			rc = store_audit_flush(st);
		if (rc == 0)
			rc = store_exec(st->w->db, "COMMIT");
		metrics_commit(st->batch_size, metrics_now_ns() - t0, rc == 0);
		store_commit_count(st, rc);
		if (rc == 0 && tail >= 0)
			store_index_note(st, tail);
		if (rc != 0) {
			/* A failed COMMIT (EIO, ENOSPC) may leave the transaction
			 * open; roll it back so the next batch starts clean. */
			if (!sqlite3_get_autocommit(st->w->db))
				store_exec(st->w->db, "ROLLBACK");
			store_audit_forget(st);
		} else {
			store_audit_push(st); /* before anyone in the batch is answered */
		}
		st->outer_open = 0;
	}
	st->results[st->gen % STORE_RESULTS] = (signed char)rc;
	st->done_gen = st->gen;
	st->gen++;
	st->batch_size = 0;
	pthread_cond_broadcast(&st->wcv);
}

/* Takes the writer connection for one synchronous writer and opens its
 * savepoint. Returns 0 with wmu held, or -1 without it. */
int store_commit_begin(struct store *st)
{
	/* Announce first, so a committer holding wmu knows more is coming. */
	st->writers++;
	pthread_mutex_lock(&st->wmu);
	if (!st->outer_open) {
		if (store_exec(st->w->db, "BEGIN IMMEDIATE") != 0)
			goto fail;
		st->outer_open = 1;
	}
	if (store_exec(st->w->db, "SAVEPOINT w") != 0)
		goto fail;
	store_audit_mark(st);
	return 0;
fail:
	if (--st->writers == 0 && st->outer_open && st->batch_size > 0)
		store_commit_batch(st);
	pthread_mutex_unlock(&st->wmu);
	return -1;
}

/* Waits (wmu held) until batch mine is finished; commits it itself if it is
 * still the open batch after STORE_BATCH_WAIT_US without news. */
static void store_commit_wait(struct store *st, uint64_t mine)
{
	while (st->done_gen < mine) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts); /* wcv's clock */
		ts.tv_nsec += STORE_BATCH_WAIT_US * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&st->wcv, &st->wmu, &ts) != 0 && st->done_gen < mine &&
		    st->gen == mine)
			store_commit_batch(st);
	}
}

/* Ends a writer's part of the batch. With ok=0 its savepoint is undone.
 * Returns 0 once the batch holding it is durable, -1 otherwise. Releases
 * wmu. */
int store_commit_end(struct store *st, int ok)
{
	uint64_t mine;
	int rc;

	if (ok && store_exec(st->w->db, "RELEASE w") != 0)
		ok = 0;
	if (!ok) {
		store_exec(st->w->db, "ROLLBACK TO w");
		store_exec(st->w->db, "RELEASE w");
		store_audit_undo(st);
	} else {
		st->batch_size++;
	}
	mine = st->gen;
	if (--st->writers == 0 || st->batch_size >= STORE_MAX_BATCH) {
		if (st->batch_size > 0) {
			store_commit_batch(st);
		} else if (st->outer_open) {
			store_exec(st->w->db, "ROLLBACK");
			st->outer_open = 0;
		}
	} else if (ok) {
		/* Others will add to this batch and the last of them commits it;
		 * if they keep coming, commit it ourselves after a short wait. */
		store_commit_wait(st, mine);
	}
	rc = ok ? st->results[mine % STORE_RESULTS] : -1;
	pthread_mutex_unlock(&st->wmu);
	return rc;
}

/* Runs one queued job in its own savepoint; a failure undoes it alone. */
static int store_run_job(struct store *st, struct store_job *j)
{
	int rc;

	if (store_exec(st->w->db, "SAVEPOINT j") != 0)
		return -1;
	store_audit_mark(st);
	rc = j->fn(st->w, j->arg);
	if (rc == 0 && store_exec(st->w->db, "RELEASE j") == 0)
		return 0;
	store_exec(st->w->db, "ROLLBACK TO j");
	store_exec(st->w->db, "RELEASE j");
	store_audit_undo(st);
	return -1;
}

/* Adds the jobs to the open batch (opening one if needed) and commits it.
 * Returns the batch's result. wmu held. */
static int store_commit_jobs(struct store *st, struct store_job *jobs)
{
	int rc = 0, any = 0;

	if (!st->outer_open) {
		rc = store_exec(st->w->db, "BEGIN IMMEDIATE");
		st->outer_open = rc == 0;
	}
	for (struct store_job *j = jobs; j != NULL; j = j->next) {
		/* A job whose failure took the whole transaction with it (see
		 * store_commit_batch) leaves none for the rest to join. */
		if (rc == 0 && st->outer_open && sqlite3_get_autocommit(st->w->db))
			rc = -1;
		if (rc != 0)
			j->rc = -1;
		else if (j->fn == NULL) /* one statement: atomic by itself */
			j->rc =
			    store_audit_append(st->w, j->entry, j->len, j->has_id ? j->id : NULL);
		else
			j->rc = store_run_job(st, j);
		if (j->rc == 0) {
			st->batch_size++;
			any = 1;
		}
	}
	if (st->outer_open && (any || st->batch_size > 0)) {
		uint64_t mine = st->gen;
		store_commit_batch(st);
		rc = st->results[mine % STORE_RESULTS];
	} else if (st->outer_open && st->writers == 0) {
		store_exec(st->w->db, "ROLLBACK");
		st->outer_open = 0;
	}
	return rc;
}

/* An idle pass: one chunk of the audit tail indexed in a transaction of
 * its own, only while no batch is open and no writer has announced itself
 * (they go first; the next idle spell retries). Returns 1 if more of the
 * tail is left for the next pass at once, else 0. */
static int store_commit_idle(struct store *st)
{
	int64_t left = -1;

	pthread_mutex_lock(&st->wmu);
	if (!st->outer_open && st->writers == 0) {
		if (store_quiet(st->w->db, "BEGIN IMMEDIATE") == 0 &&
		    store_index_fill(st->w, STORE_INDEX_CHUNK, &left) == 0 &&
		    store_quiet(st->w->db, "COMMIT") == 0) {
			store_index_ok(st);
			st->unindexed = left;
		} else {
			store_index_failed(st);
			if (!sqlite3_get_autocommit(st->w->db))
				store_quiet(st->w->db, "ROLLBACK");
			left = -1;
		}
	}
	pthread_mutex_unlock(&st->wmu);
	return left > 0;
}

/* Waits for queued jobs and takes them all. NULL with *idle set: nothing
 * came for the idle time while the audit tail waits to be indexed (at once
 * if now is set). NULL otherwise: stopping, and drained. */
static struct store_job *store_committer_wait(struct store *st, int now, int *idle)
{
	struct timespec until;
	struct store_job *jobs;
	int timed = 0, expired = now;

	pthread_mutex_lock(&st->qmu);
	while (st->queue == NULL && !st->stopping && !expired) {
		if (st->unindexed <= 0) {
			pthread_cond_wait(&st->qcv, &st->qmu);
			continue;
		}
		if (!timed) {
			long ms = st->index_failing ? STORE_INDEX_RETRY_MS : st->index_idle_ms;
			clock_gettime(CLOCK_MONOTONIC, &until); /* qcv's clock */
			until.tv_sec += ms / 1000;
			until.tv_nsec += (ms % 1000) * 1000000L;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			timed = 1;
		}
		expired = pthread_cond_timedwait(&st->qcv, &st->qmu, &until) == ETIMEDOUT;
	}
	jobs = st->queue;
	st->queue = NULL;
	st->queue_tail = &st->queue;
	*idle = jobs == NULL && !st->stopping;
	pthread_mutex_unlock(&st->qmu);
	return jobs;
}

/* The committer: takes every queued job, appends them to the open batch
 * (joining any synchronous writers' work) and commits with one fsync. New
 * jobs queue up meanwhile without blocking anyone. When idle, it indexes
 * the audit tail. */
static void *store_committer_main(void *arg)
{
	struct store *st = arg;
	int more = 0;

	for (;;) {
		struct store_job *jobs, *next;
		int rc, idle;

		jobs = store_committer_wait(st, more, &idle);
		if (jobs == NULL && idle) {
			more = store_commit_idle(st);
			continue;
		}
		more = 0;
		if (jobs == NULL)
			break; /* stopping, and drained */
		pthread_mutex_lock(&st->wmu);
		rc = store_commit_jobs(st, jobs);
		pthread_mutex_unlock(&st->wmu);
		for (struct store_job *j = jobs; j != NULL; j = next) {
			next = j->next;
			j->done(j->ctx, j->rc != 0 ? -1 : rc);
			crypto_wipe(j->entry, j->len);
			free(j);
		}
	}
	return NULL;
}

static int store_enqueue(struct store *st, struct store_job *j)
{
	pthread_mutex_lock(&st->qmu);
	if (st->stopping) {
		pthread_mutex_unlock(&st->qmu);
		free(j);
		return -1;
	}
	*st->queue_tail = j;
	st->queue_tail = &j->next;
	pthread_cond_signal(&st->qcv);
	pthread_mutex_unlock(&st->qmu);
	return 0;
}

int store_audit_async(struct store *st, const char *entry, size_t len,
		      const unsigned char *secret_id, store_done_fn done, void *ctx)
{
	struct store_job *j = calloc(1, sizeof(*j) + len);

	if (j == NULL)
		return -1;
	j->done = done;
	j->ctx = ctx;
	j->has_id = secret_id != NULL;
	if (secret_id != NULL)
		memcpy(j->id, secret_id, STORE_ID_LEN);
	j->len = len;
	memcpy(j->entry, entry, len);
	return store_enqueue(st, j);
}

int store_write_async(struct store *st, store_job_fn fn, void *arg, store_done_fn done, void *ctx)
{
	struct store_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return -1;
	j->fn = fn;
	j->arg = arg;
	j->done = done;
	j->ctx = ctx;
	return store_enqueue(st, j);
}

int store_commit_start(struct store *st)
{
	if (pthread_create(&st->committer, NULL, store_committer_main, st) != 0) {
		log_err("store: cannot start the committer thread");
		return -1;
	}
	st->committer_running = 1;
	return 0;
}

void store_commit_stop(struct store *st)
{
	if (st->committer_running) {
		/* Drain: queued entries are committed and answered first. */
		pthread_mutex_lock(&st->qmu);
		st->stopping = 1;
		pthread_cond_signal(&st->qcv);
		pthread_mutex_unlock(&st->qmu);
		pthread_join(st->committer, NULL);
		st->committer_running = 0;
	}
	if (st->outer_open && (store_audit_flush(st) != 0 || store_exec(st->w->db, "COMMIT") != 0))
		store_exec(st->w->db, "ROLLBACK");
	else if (st->outer_open)
		store_audit_push(st);
}
