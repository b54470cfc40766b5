/* store_ckpt.c: WAL checkpoints off the committer. A thread of its own, on a
 * connection of its own, copies the WAL into vault.db when a commit leaves it
 * past STORE_CKPT_PAGES, so no COMMIT on the writer waits for one. It must
 * never block the writer (PASSIVE only) nor fail a request.
 *
 * The writer's automatic checkpoint is off; its wal hook (store_ckpt_hook,
 * called by SQLite after each commit on the writer, wmu held) notes the WAL's
 * frame count and wakes the checkpointer past the threshold. A WAL starts
 * again from its beginning only at a write that finds every frame copied,
 * which a busy writer gives a checkpointer on another connection no time
 * to see: so once the checkpointer has copied all but STORE_CKPT_REST
 * frames, the writer copies that rest itself after its commit (a short
 * copy, and the WAL restarts at the next batch). If the WAL
 * still reaches STORE_CKPT_HARD pages (a reader pinning an old snapshot, or
 * a checkpointer that cannot keep up), the writer checkpoints itself after
 * that commit, as SQLite's automatic checkpoint did, and journal_size_limit
 * shrinks the file back once the WAL restarts. Lock order: wmu, then ckmu;
 * the checkpointer takes only ckmu, and never while it checkpoints. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "store_int.h"

/* One PASSIVE checkpoint on db. 0 done (or another connection is doing one),
 * -1 failed (logged once until one succeeds, then retried). */
static int store_ckpt_run(struct store *st, sqlite3 *db, int *copied)
{
	int nlog = 0, nckpt = 0;
	int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);

	if (rc == SQLITE_OK || rc == SQLITE_BUSY) {
		if (copied != NULL)
			*copied = rc == SQLITE_OK ? nckpt : 0;
		if (st->ckpt_failing) {
			st->ckpt_failing = 0;
			log_info("store: checkpoints work again");
		}
		return 0;
	}
	if (!st->ckpt_failing) {
		st->ckpt_failing = 1;
		log_err("%s: checkpoint failed (retried): %s", __func__, sqlite3_errmsg(db));
	}
	return -1;
}

static void store_ckpt_launch(struct store *st);

int store_ckpt_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *st = arg;
	int rest;

	(void)name;
	if (frames < st->wal_frames) {
		st->wal_restarts++;
		st->ckpt_backfilled = 0;
	}
	st->wal_frames = frames;
	if (frames > st->wal_max)
		st->wal_max = frames;
	if (frames < STORE_CKPT_PAGES)
		return SQLITE_OK;
	if (!st->ckpt_running && !st->ckpt_tried)
		store_ckpt_launch(st);
	rest = frames - st->ckpt_backfilled;
	if (frames >= STORE_CKPT_HARD || !st->ckpt_running) {
		/* Fallback: nobody else will copy it, or not in time. */
		if (store_ckpt_run(st, db, NULL) == 0) {
			st->ckpt_fallback++;
			metrics_add(METRICS_CKPT_FALLBACK, 1);
		}
	} else if (st->ckpt_backfilled > 0 && rest >= 0 && rest <= STORE_CKPT_REST) {
		/* The checkpointer copied all but the last few commits; the WAL
		 * restarts only once nothing is left, which a writer that keeps
		 * committing would never let it see. Copy the rest here. */
		if (store_ckpt_run(st, db, NULL) == 0) {
			st->ckpt_finish++;
			metrics_add(METRICS_CKPT_REST, 1);
		}
	} else {
		pthread_mutex_lock(&st->ckmu);
		st->ckpt_wanted = 1;
		pthread_cond_signal(&st->ckcv);
		pthread_mutex_unlock(&st->ckmu);
	}
	return SQLITE_OK;
}

/* Sets an absolute CLOCK_MONOTONIC deadline ms from now (ckcv's clock). */
static void store_ckpt_deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* The checkpointer: waits to be woken (or, after a failure, for the retry
 * time), then checkpoints. Returns once stopping is set. */
static void *store_ckpt_main(void *arg)
{
	struct store *st = arg;
	int retry = 0;

	pthread_mutex_lock(&st->ckmu);
	for (;;) {
		int wanted, copied = 0;
		uint64_t restarts;

		if (!st->ckpt_wanted && !st->ckpt_stopping) {
			if (retry) {
				struct timespec ts;
				store_ckpt_deadline(&ts, STORE_CKPT_RETRY_MS);
				if (pthread_cond_timedwait(&st->ckcv, &st->ckmu, &ts) == ETIMEDOUT)
					st->ckpt_wanted = 1;
			} else {
				pthread_cond_wait(&st->ckcv, &st->ckmu);
			}
			continue;
		}
		if (st->ckpt_stopping)
			break;
		wanted = st->ckpt_wanted;
		st->ckpt_wanted = 0;
		pthread_mutex_unlock(&st->ckmu);
		if (wanted && st->ckpt_test_delay_ms > 0) {
			struct timespec d = {st->ckpt_test_delay_ms / 1000,
					     (st->ckpt_test_delay_ms % 1000) * 1000000L};
			nanosleep(&d, NULL);
		}
		restarts = st->wal_restarts;
		retry = store_ckpt_run(st, st->ck->db, &copied) != 0;
		if (!retry) {
			st->ckpt_done++;
			metrics_add(METRICS_CKPT_CHECKPOINTER, 1);
			/* Unless the WAL restarted meanwhile (then it is stale). */
			if (st->wal_restarts == restarts)
				st->ckpt_backfilled = copied;
		}
		pthread_mutex_lock(&st->ckmu);
	}
	pthread_mutex_unlock(&st->ckmu);
	return NULL;
}

int store_ckpt_start(struct store *st)
{
	sqlite3_stmt *s = NULL;
	int64_t page = -1;
	char sql[64];

	/* The hook replaces SQLite's automatic checkpoint (itself a wal hook);
	 * turning that off first says so. The WAL file is cut back to the hard
	 * bound when it restarts after having grown past it. */
	sqlite3_wal_autocheckpoint(st->w->db, 0);
	if (sqlite3_prepare_v2(st->w->db, "PRAGMA page_size", -1, &s, NULL) == SQLITE_OK)
		page = store_scalar(st->w, s);
	sqlite3_finalize(s);
	if (page <= 0)
		return -1;
	snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit=%lld",
		 (long long)(STORE_CKPT_HARD * page));
	if (store_exec(st->w->db, sql) != 0)
		return -1;
	sqlite3_wal_hook(st->w->db, store_ckpt_hook, st);
	return 0;
}

/* Starts the checkpointer the first time the WAL needs one (wmu held, from
 * the hook): a vault that never writes 1000 pages (most of a fleet, idle)
 * never pays for its connection and thread. Tried once; if it cannot start,
 * checkpoints stay on the writer. */
static void store_ckpt_launch(struct store *st)
{
	st->ckpt_tried = 1;
	st->ck = store_conn_open(st, 0);
	if (st->ck == NULL) {
		log_err("store: checkpoints run on the writer (no connection for them)");
		return;
	}
	if (pthread_create(&st->ckpt_thread, NULL, store_ckpt_main, st) != 0) {
		log_err("store: checkpoints run on the writer (cannot start a thread)");
		store_conn_close(st->ck);
		st->ck = NULL;
		return;
	}
	st->ckpt_running = 1;
}

void store_ckpt_stop(struct store *st)
{
	if (st->ckpt_running) {
		pthread_mutex_lock(&st->ckmu);
		st->ckpt_stopping = 1;
		pthread_cond_signal(&st->ckcv);
		pthread_mutex_unlock(&st->ckmu);
		pthread_join(st->ckpt_thread, NULL);
		st->ckpt_running = 0;
	}
	store_conn_close(st->ck);
	st->ck = NULL;
}
