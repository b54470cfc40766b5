/* store_int.h: what the store's files share (connections, the writer's
 * batch state, the audit chain head, prepared statements). Private to
 * src/store*.c and the store's unit tests; nothing else may include it. */
#ifndef GV_STORE_INT_H
#define GV_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "crypto.h"
#include "store.h"

/* Every statement a connection prepares once, at open. */
enum {
	Q_META_GET,
	Q_META_PUT,
	Q_META_DEL,
	Q_SECRET_GET,
	Q_SECRET_PUT,
	Q_SECRET_DEL,
	Q_SECRET_ALL,
	Q_SECRET_FROM,
	Q_SECRET_COUNT,
	Q_SECRET_VERSIONS,
	Q_TOKEN_PUT,
	Q_TOKEN_GET,
	Q_TOKEN_REVOKE,
	Q_TOKEN_REVOKE_USER,
	Q_TOKEN_COUNT,
	Q_TOKEN_PURGE,
	Q_TOKEN_GET_HASH,
	Q_TOKEN_SEAL,
	Q_TOKEN_PENDING,
	Q_TOKEN_LIST,
	Q_AUDIT_PUT,
	Q_AUDIT_HEAD,
	Q_AUDIT_LIST,
	Q_AUDIT_LIST_SECRET,
	Q_AUDIT_AFTER,
	Q_AUDIT_FROM,
	Q_AUDIT_SEAL,
	Q_AUDIT_TAIL,
	Q_INDEX_FILL,
	Q_INDEX_MARK,
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_COUNT
};

#define STORE_MAX_READERS 8
#define STORE_MAX_BATCH 512
#define STORE_RESULTS 1024	 /* ring of recent batch results */
#define STORE_BATCH_WAIT_US 1000 /* a waiter commits an open batch after this */
/* The per-secret audit index (store_index.c): tail rows indexed per pass,
 * a pass costing a few ms that a queued job may wait behind; how long the
 * committer must have had nothing to do before an idle pass; and how long
 * it waits again after a pass failed. */
#define STORE_INDEX_CHUNK 4096
#define STORE_INDEX_IDLE_MS 20
#define STORE_INDEX_RETRY_MS 1000
/* WAL checkpoints (store_ckpt.c). The checkpointer is woken once a commit
 * leaves STORE_CKPT_PAGES frames in the WAL: SQLite's own default, about
 * 4 MiB, a copy of a few ms off the writer's path. Past STORE_CKPT_HARD
 * the writer checkpoints itself, so the WAL cannot grow without bound
 * (journal_size_limit cuts the file back to it). A failed checkpoint is
 * retried after STORE_CKPT_RETRY_MS. */
#define STORE_CKPT_PAGES 1000
#define STORE_CKPT_HARD (8 * STORE_CKPT_PAGES)
/* Once the checkpointer has copied all but this many frames (a few
 * batches' worth), the writer copies the rest itself after its commit so
 * the WAL can restart: a short copy and the file's fsync. */
#define STORE_CKPT_REST 64
#define STORE_CKPT_RETRY_MS 1000

/* One SQLite connection with its prepared statements. */
struct store_tx {
	struct store *st;
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	int write;
	int own; /* a reader outside the pool (store_tx_begin_own): closed at its end */
	struct store_tx *next; /* free list of readers */
};

/* The last audit entry's sequence number and hash; valid=0 means "read it
 * from the table before the next append". When an append or the seal pass
 * sealed an entry, dirty is set and tag is the keyed head record for
 * (tag_seq, tag_hash), written to meta when the batch commits. */
struct store_chain_head {
	int valid;
	int64_t seq;
	unsigned char hash[CRYPTO_HASH_LEN];
	int dirty;
	int64_t tag_seq;
	unsigned char tag_hash[CRYPTO_HASH_LEN];
	unsigned char tag[CRYPTO_HASH_LEN];
};

/* A parked request's work, queued for the committer thread. */
struct store_job {
	struct store_job *next;
	store_job_fn fn; /* NULL: append entry */
	void *arg;
	store_done_fn done;
	void *ctx;
	int rc;
	int has_id;
	unsigned char id[STORE_ID_LEN];
	size_t len;
	char entry[]; /* len bytes */
};

struct store {
	char path[4096];
	/* The writer: one connection, one open transaction that collects every
	 * writer's savepoint until it is committed by one fsync. */
	struct store_tx *w;
	pthread_mutex_t wmu;
	pthread_cond_t wcv;
	_Atomic unsigned writers; /* between store_tx_begin(write) and its end */
	int outer_open;
	unsigned batch_size;
	uint64_t gen;	   /* the batch being filled */
	uint64_t done_gen; /* batches committed (or failed) so far */
	signed char results[STORE_RESULTS];
	/* Cached audit chain head (writer only), and its value at the start of
	 * the current savepoint, restored if that savepoint rolls back. */
	struct store_chain_head head, saved;
	/* Who MACs audit entries (the vault, while unlocked); see store.h. */
	store_mac_fn mac;
	void *mac_ctx;
	/* Where committed entries are pushed, and the last seq pushed (-1:
	 * not known yet; set when the head is first read). */
	store_sink_fn sink;
	void *sink_ctx;
	int64_t sunk;
	int sink_failing;
	/* The head seq at the last commit counted for GET /metrics (set when
	 * the head is first read). Writer only. */
	int64_t counted;
	int counted_set;
	/* Parked requests' work, appended and committed by the committer
	 * thread so that no request thread waits on an fsync. */
	pthread_t committer;
	int committer_running;
	pthread_mutex_t qmu;
	pthread_cond_t qcv;
	struct store_job *queue, **queue_tail;
	int stopping;
	/* Audit entries above audit_mark, as of the last commit (the committer
	 * indexes them when idle); whether indexing is failing (logged once);
	 * the idle time before a pass (white-box tests raise it: never idle). */
	_Atomic int64_t unindexed;
	_Atomic int index_failing;
	_Atomic int index_idle_ms;
	/* The checkpointer (store_ckpt.c): its connection and thread, woken
	 * through ckmu/ckcv by the writer's wal hook. The WAL's frame count
	 * after the last commit, its largest, how often it restarted from the
	 * start, and the checkpoints done by the checkpointer and by the writer
	 * (to finish one, or as the fallback); ckpt_backfilled: the frames the
	 * checkpointer's last pass left copied in this WAL. Set under wmu or by the checkpointer,
	 * read by tests and GET /metrics. ckpt_test_delay_ms: white-box tests slow it. */
	struct store_tx *ck;
	pthread_t ckpt_thread;
	_Atomic int ckpt_running;
	pthread_mutex_t ckmu;
	pthread_cond_t ckcv;
	int ckpt_wanted, ckpt_stopping;
	int ckpt_tried; /* the checkpointer is started once, when first needed (wmu) */
	_Atomic int ckpt_failing;
	_Atomic int ckpt_test_delay_ms;
	_Atomic int wal_frames, wal_max, ckpt_backfilled;
	_Atomic uint64_t wal_restarts, ckpt_done, ckpt_finish, ckpt_fallback;
	/* Readers: a pool of connections, each used by one thread at a time. */
	pthread_mutex_t rmu;
	pthread_cond_t rcv;
	struct store_tx *free_readers;
	unsigned nreaders;
};

/* store.c: opens a connection with the store's pragmas and statements
 * (write: the writer, which also migrates the schema); NULL on failure,
 * logged. Closes one; NULL is a no-op. */
struct store_tx *store_conn_open(struct store *st, int write);
void store_conn_close(struct store_tx *tx);
/* store.c: statement helpers. */
int store_exec(sqlite3 *db, const char *sql);
/* Returns the connection's statement q, reset and unbound. */
sqlite3_stmt *store_q(struct store_tx *tx, int q);
/* Steps a statement that returns no rows, and resets it. */
int store_step_done(struct store_tx *tx, sqlite3_stmt *s);
/* Copies column col into a new malloc'd buffer. 0 or -1. */
int store_blob_dup(sqlite3_stmt *s, int col, unsigned char **out, size_t *len);
/* The first column of a one-row statement (reset after), or -1 (logged). */
int64_t store_scalar(struct store_tx *tx, sqlite3_stmt *s);

/* store_token.c: the columns every registry read selects, in order. */
#define STORE_TOKEN_COLS                                                                           \
	"rowid, id, user_id, issued_at, expires_at, revoked_at, revoked_by, pending, scope, "      \
	"digest, token_hash, mac"

/* store_schema.c: creates or migrates the schema on the writer connection;
 * refuses a database newer than this build. */
int store_schema_migrate(sqlite3 *db);
/* The same, stopping at version target (tests build old files with it). */
int store_schema_migrate_to(sqlite3 *db, int target);
/* Refuses (-1, one log line) a database whose schema objects differ from
 * the ones this build creates: triggers, views, unknown tables or indexes,
 * changed columns. */
int store_schema_check(sqlite3 *db);

/* store_commit.c: the writer's side of the batch (wmu is held from begin to
 * end), and the committer thread. */
int store_commit_begin(struct store *st);
int store_commit_end(struct store *st, int ok);
int store_commit_start(struct store *st);
void store_commit_stop(struct store *st);

/* store_ckpt.c: turns the writer's automatic checkpoint off, installs its
 * wal hook and starts the checkpointer (if it cannot, the writer keeps
 * checkpointing, logged). 0 or -1. Stop joins it and closes its
 * connection; safe if it never started. */
int store_ckpt_start(struct store *st);
void store_ckpt_stop(struct store *st);
/* The writer's wal hook (sqlite3_wal_hook), after each commit, wmu held. */
int store_ckpt_hook(void *arg, sqlite3 *db, const char *name, int frames);

/* store_audit.c: the cached chain head across a writer's savepoint. */
void store_audit_mark(struct store *st);
void store_audit_undo(struct store *st);
void store_audit_forget(struct store *st);
/* Writes the keyed head record if the batch sealed entries; called just
 * before a batch's COMMIT (wmu held). 0 or -1 (the batch must then fail). */
int store_audit_flush(struct store *st);
/* After a batch committed: pushes its entries to the sink, if any. */
void store_audit_push(struct store *st);

/* store_index.c: the per-secret audit index (audit_index, audit_mark).
 * The tail is the entries above the mark: 0 with *tail set, or -1. */
int store_index_tail(struct store_tx *tx, int64_t *tail);
/* In the open write transaction: indexes up to max tail entries in
 * (secret_id, seq) order and moves the mark past them; *left is the tail
 * that remains. 0, or -1 (nothing logged: see store_index_failed). */
int store_index_fill(struct store_tx *tx, int64_t max, int64_t *left);
/* At open, on the writer: repairs a mark that is missing or ahead of the
 * log (an edited file; the index is then rebuilt from the start) and sets
 * st->unindexed. 0 or -1. */
int store_index_open(struct store *st);
/* A pass failed (logs once until one succeeds), or succeeded. */
void store_index_failed(struct store *st);
void store_index_ok(struct store *st);
/* After a commit: records the tail it left (tail >= 0) and wakes the
 * committer if the tail was empty before. wmu held. */
void store_index_note(struct store *st, int64_t tail);

/* store_fault.c, test builds (GV_FAULT_INJECTION) only: registers the VFS
 * shim as the default, and counts the fsyncs it passed through. */
void store_fault_register(void);
uint64_t store_fault_syncs(void);

#endif
