/* store.c: SQLite storage. The only file that includes sqlite3.h. It keeps
 * sealed records by blind index, the token registry and the audit hash
 * chain; it must never be handed plaintext names, values or keys. */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "crypto.h"
#include "log.h"

enum {
	Q_META_GET,
	Q_META_PUT,
	Q_META_DEL,
	Q_SECRET_GET,
	Q_SECRET_PUT,
	Q_SECRET_DEL,
	Q_SECRET_ALL,
	Q_SECRET_COUNT,
	Q_TOKEN_PUT,
	Q_TOKEN_GET,
	Q_TOKEN_REVOKE,
	Q_TOKEN_REVOKE_USER,
	Q_TOKEN_COUNT,
	Q_TOKEN_PURGE,
	Q_AUDIT_PUT,
	Q_AUDIT_HEAD,
	Q_AUDIT_LIST,
	Q_AUDIT_LIST_SECRET,
	Q_AUDIT_ALL,
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_COUNT
};

static const char *const store_sql[Q_COUNT] = {
    [Q_META_GET] = "SELECT v FROM meta WHERE k = ?1",
    [Q_META_PUT] = "INSERT INTO meta(k, v) VALUES(?1, ?2) ON CONFLICT(k) DO UPDATE SET v = ?2",
    [Q_META_DEL] = "DELETE FROM meta WHERE k = ?1",
    [Q_SECRET_GET] = "SELECT version, record FROM secrets WHERE id = ?1",
    [Q_SECRET_PUT] = "INSERT INTO secrets(id, version, record) VALUES(?1, ?2, ?3) "
		     "ON CONFLICT(id) DO UPDATE SET version = ?2, record = ?3",
    [Q_SECRET_DEL] = "DELETE FROM secrets WHERE id = ?1",
    [Q_SECRET_ALL] = "SELECT id, version, record FROM secrets",
    [Q_SECRET_COUNT] = "SELECT count(*) FROM secrets",
    [Q_TOKEN_PUT] = "INSERT INTO tokens(id, user_id, issued_at, expires_at, scope, digest) "
		    "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_TOKEN_GET] = "SELECT revoked_at, expires_at, digest FROM tokens WHERE id = ?1",
    [Q_TOKEN_REVOKE] = "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
    [Q_TOKEN_REVOKE_USER] = "UPDATE tokens SET revoked_at = ?2 "
			    "WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
    [Q_TOKEN_COUNT] = "SELECT count(*) FROM tokens WHERE user_id = ?1 AND issued_at >= ?2",
    /* Rows are kept for an hour past expiry so the issue rate limit still
     * counts them. */
    [Q_TOKEN_PURGE] = "DELETE FROM tokens WHERE expires_at < ?1 - 3600000",
    [Q_AUDIT_PUT] = "INSERT INTO audit(seq, entry, secret_id, hash) VALUES(?1, ?2, ?3, ?4)",
    [Q_AUDIT_HEAD] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
    [Q_AUDIT_LIST] = "SELECT seq, entry FROM audit ORDER BY seq DESC LIMIT ?1",
    [Q_AUDIT_LIST_SECRET] = "SELECT seq, entry FROM audit WHERE secret_id = ?1 "
			    "ORDER BY seq DESC LIMIT ?2",
    [Q_AUDIT_ALL] = "SELECT seq, entry, hash FROM audit ORDER BY seq",
    /* Readers' transaction control, prepared once (the hot read path). */
    [Q_BEGIN] = "BEGIN",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
};

static const char store_schema_v1[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE secrets(id BLOB PRIMARY KEY, version INTEGER NOT NULL,"
    " record BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE tokens(id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
    " issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, revoked_at INTEGER,"
    " scope BLOB);"
    "CREATE INDEX tokens_user ON tokens(user_id, issued_at);"
    "CREATE TABLE audit(seq INTEGER PRIMARY KEY, entry TEXT NOT NULL, secret_id BLOB,"
    " hash BLOB NOT NULL);"
    "CREATE INDEX audit_secret ON audit(secret_id, seq) WHERE secret_id IS NOT NULL;";

/* v2: the registry binds each token id to the digest of its exact payload,
 * so a leaked signing key alone cannot widen a registered token. Tokens
 * issued before v2 have no digest and no longer verify. */
static const char store_schema_v2[] = "ALTER TABLE tokens ADD COLUMN digest BLOB;";

#ifdef GV_STORE_NOSYNC
/* Fuzz builds only: no fsync, so a fuzzer can run millions of writes. */
#define STORE_SYNC_PRAGMA "PRAGMA synchronous=OFF"
#else
#define STORE_SYNC_PRAGMA "PRAGMA synchronous=FULL"
#endif

#define STORE_MAX_READERS 8
#define STORE_MAX_BATCH 512
#define STORE_RESULTS 1024	 /* ring of recent batch results */
#define STORE_BATCH_WAIT_US 1000 /* a waiter commits an open batch after this */

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

/* One SQLite connection with its prepared statements. */
struct store_tx {
	struct store *st;
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	int write;
	struct store_tx *next; /* free list of readers */
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
	int head_valid, saved_valid;
	int64_t head_seq, saved_seq;
	unsigned char head_hash[CRYPTO_HASH_LEN], saved_hash[CRYPTO_HASH_LEN];
	/* Asynchronous audit entries, appended and committed by the committer
	 * thread so that no request thread waits on an fsync. */
	pthread_t committer;
	int committer_running;
	pthread_mutex_t qmu;
	pthread_cond_t qcv;
	struct store_job *queue, **queue_tail;
	int stopping;
	/* Readers: a pool of connections, each used by one thread at a time. */
	pthread_mutex_t rmu;
	pthread_cond_t rcv;
	struct store_tx *free_readers;
	unsigned nreaders;
};

#ifdef GV_FAULT_INJECTION
/* Test builds only: a VFS shim that fails writes or syncs while the file
 * named by GV_FAULT_FILE exists. Its first word picks the error: "eio" or
 * "enospc"; a second word "sync" fails only fsync. */
#include <unistd.h>

struct fault_file {
	sqlite3_file base;
	sqlite3_file *real;
};

static sqlite3_vfs *fault_real;
static sqlite3_vfs fault_vfs;
static const char *fault_path;

static int fault_now(int is_sync)
{
	char buf[32] = {0};
	FILE *f;
	int sync_only;

	if (fault_path == NULL || (f = fopen(fault_path, "r")) == NULL)
		return SQLITE_OK;
	if (fread(buf, 1, sizeof(buf) - 1, f) == 0)
		buf[0] = '\0';
	fclose(f);
	sync_only = strstr(buf, "sync") != NULL;
	if (sync_only && !is_sync)
		return SQLITE_OK;
	if (strncmp(buf, "enospc", 6) == 0)
		return SQLITE_FULL;
	return is_sync ? SQLITE_IOERR_FSYNC : SQLITE_IOERR_WRITE;
}

#define REAL(f) (((struct fault_file *)(f))->real)
static int f_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int f_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
	return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int f_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
	int rc = fault_now(0);
	return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int f_sync(sqlite3_file *f, int flags)
{
	int rc = fault_now(1);
	return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int f_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int f_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int f_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int f_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int f_devchar(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int f_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int f_shmlock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void f_shmbarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int f_shmunmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int f_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp)
{
	return REAL(f)->pMethods->xFetch(REAL(f), o, n, pp);
}
static int f_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), o, p);
}
#undef REAL

static const sqlite3_io_methods fault_io = {
    3,	       f_close,	     f_read,	 f_write,   f_truncate, f_sync,	   f_size,
    f_lock,    f_unlock,     f_reserved, f_control, f_sector,	f_devchar, f_shmmap,
    f_shmlock, f_shmbarrier, f_shmunmap, f_fetch,   f_unfetch,
};

static int fault_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out)
{
	struct fault_file *p = (struct fault_file *)file;
	int rc;

	(void)vfs;
	p->real = (sqlite3_file *)&p[1];
	rc = fault_real->xOpen(fault_real, name, p->real, flags, out);
	p->base.pMethods = p->real->pMethods != NULL ? &fault_io : NULL;
	return rc;
}

static void fault_register(void)
{
	fault_path = getenv("GV_FAULT_FILE");
	fault_real = sqlite3_vfs_find(NULL);
	fault_vfs = *fault_real;
	fault_vfs.zName = "gvfault";
	fault_vfs.szOsFile = (int)sizeof(struct fault_file) + fault_real->szOsFile;
	fault_vfs.xOpen = fault_open;
	sqlite3_vfs_register(&fault_vfs, 1);
}

#endif

/* Process-wide SQLite settings, before its first use. */
static void store_global_setup(void)
{
	/* No allocation statistics: they take one global mutex on every
	 * allocation, which readers and the committer then contend for. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
#ifdef GV_FAULT_INJECTION
	fault_register();
#endif
}

static int store_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_err("store: %s", err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int store_user_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Each step moves the schema one version on, inside one transaction. */
static int store_migrate(sqlite3 *db)
{
	int version;

	if (store_user_version(db, &version) != 0)
		return -1;
	if (version > STORE_SCHEMA_VERSION) {
		log_err("store: database schema %d is newer than this build (%d)", version,
			STORE_SCHEMA_VERSION);
		return -1;
	}
	while (version < STORE_SCHEMA_VERSION) {
		char bump[64];
		if (store_exec(db, "BEGIN IMMEDIATE") != 0)
			return -1;
		if (version == 0 && store_exec(db, store_schema_v1) != 0)
			goto fail;
		if (version == 1 && store_exec(db, store_schema_v2) != 0)
			goto fail;
		version++;
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", version);
		if (store_exec(db, bump) != 0 || store_exec(db, "COMMIT") != 0)
			goto fail;
	}
	return 0;
fail:
	store_exec(db, "ROLLBACK");
	return -1;
}

static void store_conn_close(struct store_tx *tx)
{
	if (tx == NULL)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(tx->q[i]);
	if (tx->db != NULL)
		sqlite3_close(tx->db);
	free(tx);
}

/* Opens a connection; the writer also creates and migrates the schema. */
static struct store_tx *store_conn_open(struct store *st, int write)
{
	struct store_tx *tx = calloc(1, sizeof(*tx));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (write ? SQLITE_OPEN_CREATE : 0);

	if (tx == NULL)
		return NULL;
	tx->st = st;
	tx->write = write;
	if (sqlite3_open_v2(st->path, &tx->db, flags, NULL) != SQLITE_OK) {
		log_err("store: cannot open %s: %s", st->path,
			tx->db ? sqlite3_errmsg(tx->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(tx->db, 5000);
	sqlite3_extended_result_codes(tx->db, 1);
	/* synchronous=FULL: every commit fsyncs the WAL before it returns, which
	 * is what makes a 2xx durable. secure_delete overwrites freed cells. */
	/* Small page caches: the OS caches the file anyway, and hundreds of
	 * vaults share a host. */
	if (store_exec(tx->db, "PRAGMA journal_mode=WAL") != 0 ||
	    store_exec(tx->db, write ? "PRAGMA cache_size=-1024" : "PRAGMA cache_size=-256") != 0 ||
	    store_exec(tx->db, STORE_SYNC_PRAGMA) != 0 ||
	    store_exec(tx->db, "PRAGMA secure_delete=ON") != 0 ||
	    store_exec(tx->db, "PRAGMA trusted_schema=OFF") != 0)
		goto fail;
	if (write) {
		chmod(st->path, 0600);
		/* No integrity scan here: it costs time in proportion to the file
		 * at every start. WAL recovery keeps the file consistent across
		 * crashes, and every record is authenticated when read. */
		if (store_migrate(tx->db) != 0)
			goto fail;
	}
	for (int i = 0; i < Q_COUNT; i++) {
		if (sqlite3_prepare_v3(tx->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &tx->q[i], NULL) != SQLITE_OK) {
			log_err("store: prepare %d: %s", i, sqlite3_errmsg(tx->db));
			goto fail;
		}
	}
	return tx;
fail:
	store_conn_close(tx);
	return NULL;
}

static void store_commit_batch(struct store *st);
static int store_audit_append_conn(struct store_tx *tx, const char *entry, size_t len,
				   const unsigned char *secret_id);

/* Runs one queued job in its own savepoint; a failure undoes it alone. */
static int store_run_job(struct store *st, struct store_job *j)
{
	int rc;

	if (store_exec(st->w->db, "SAVEPOINT j") != 0)
		return -1;
	st->saved_valid = st->head_valid;
	st->saved_seq = st->head_seq;
	memcpy(st->saved_hash, st->head_hash, sizeof(st->saved_hash));
	rc = j->fn(st->w, j->arg);
	if (rc == 0 && store_exec(st->w->db, "RELEASE j") == 0)
		return 0;
	store_exec(st->w->db, "ROLLBACK TO j");
	store_exec(st->w->db, "RELEASE j");
	st->head_valid = st->saved_valid;
	st->head_seq = st->saved_seq;
	memcpy(st->head_hash, st->saved_hash, sizeof(st->head_hash));
	return -1;
}

/* The committer: takes every queued entry, appends them to the open batch
 * (joining any synchronous writers' work) and commits with one fsync. New
 * entries queue up meanwhile without blocking anyone. */
static void *store_committer_main(void *arg)
{
	struct store *st = arg;

	for (;;) {
		struct store_job *jobs, *j, *next;
		int rc = 0, any = 0;

		pthread_mutex_lock(&st->qmu);
		while (st->queue == NULL && !st->stopping)
			pthread_cond_wait(&st->qcv, &st->qmu);
		jobs = st->queue;
		st->queue = NULL;
		st->queue_tail = &st->queue;
		pthread_mutex_unlock(&st->qmu);
		if (jobs == NULL)
			break; /* stopping, and drained */
		pthread_mutex_lock(&st->wmu);
		if (!st->outer_open) {
			rc = store_exec(st->w->db, "BEGIN IMMEDIATE");
			st->outer_open = rc == 0;
		}
		for (j = jobs; j != NULL; j = j->next) {
			if (rc != 0)
				j->rc = -1;
			else if (j->fn == NULL) /* one statement: atomic by itself */
				j->rc = store_audit_append_conn(st->w, j->entry, j->len,
								j->has_id ? j->id : NULL);
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
		pthread_mutex_unlock(&st->wmu);
		for (j = jobs; j != NULL; j = next) {
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

struct store *store_open(const char *dir)
{
	struct store *st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_err("store: cannot create %s: %s", dir, strerror(errno));
		return NULL;
	}
	{
		static pthread_once_t once = PTHREAD_ONCE_INIT;
		pthread_once(&once, store_global_setup);
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	if ((size_t)snprintf(st->path, sizeof(st->path), "%s/vault.db", dir) >= sizeof(st->path)) {
		log_err("store: data dir path too long");
		free(st);
		return NULL;
	}
	pthread_mutex_init(&st->wmu, NULL);
	pthread_cond_init(&st->wcv, NULL);
	pthread_mutex_init(&st->rmu, NULL);
	pthread_cond_init(&st->rcv, NULL);
	pthread_mutex_init(&st->qmu, NULL);
	pthread_cond_init(&st->qcv, NULL);
	st->queue_tail = &st->queue;
	st->gen = 1;
	st->w = store_conn_open(st, 1);
	if (st->w == NULL) {
		store_close(st);
		return NULL;
	}
	if (pthread_create(&st->committer, NULL, store_committer_main, st) != 0) {
		store_close(st);
		return NULL;
	}
	st->committer_running = 1;
	return st;
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->committer_running) {
		/* Drain: queued entries are committed and answered first. */
		pthread_mutex_lock(&st->qmu);
		st->stopping = 1;
		pthread_cond_signal(&st->qcv);
		pthread_mutex_unlock(&st->qmu);
		pthread_join(st->committer, NULL);
	}
	if (st->outer_open)
		store_exec(st->w->db, "COMMIT");
	store_conn_close(st->w);
	while (st->free_readers != NULL) {
		struct store_tx *next = st->free_readers->next;
		store_conn_close(st->free_readers);
		st->free_readers = next;
	}
	pthread_mutex_destroy(&st->wmu);
	pthread_cond_destroy(&st->wcv);
	pthread_mutex_destroy(&st->rmu);
	pthread_cond_destroy(&st->rcv);
	pthread_mutex_destroy(&st->qmu);
	pthread_cond_destroy(&st->qcv);
	free(st);
}

/* ---- transactions: group commit for writers, a pool for readers ---- */

/* Steps a statement that returns no rows, and resets it. */
static int store_step_done(struct store_tx *tx, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		return -1;
	}
	return 0;
}

/* Runs one of the connection's prepared statements that return no rows. */
static int store_run(struct store_tx *tx, int q) { return store_step_done(tx, tx->q[q]); }

static struct store_tx *store_reader_get(struct store *st)
{
	struct store_tx *tx = NULL;
	int create = 0;

	pthread_mutex_lock(&st->rmu);
	while (st->free_readers == NULL && st->nreaders >= STORE_MAX_READERS)
		pthread_cond_wait(&st->rcv, &st->rmu);
	if (st->free_readers != NULL) {
		tx = st->free_readers;
		st->free_readers = tx->next;
	} else {
		st->nreaders++;
		create = 1;
	}
	pthread_mutex_unlock(&st->rmu);
	if (create && (tx = store_conn_open(st, 0)) == NULL) {
		pthread_mutex_lock(&st->rmu);
		st->nreaders--;
		pthread_cond_signal(&st->rcv);
		pthread_mutex_unlock(&st->rmu);
	}
	return tx;
}

static void store_reader_put(struct store_tx *tx)
{
	struct store *st = tx->st;

	pthread_mutex_lock(&st->rmu);
	tx->next = st->free_readers;
	st->free_readers = tx;
	pthread_cond_signal(&st->rcv);
	pthread_mutex_unlock(&st->rmu);
}

void store_trim(struct store *st)
{
	struct store_tx *extra, *next;

	/* Keep one reader; a burst reopens more (a few hundred µs each). */
	pthread_mutex_lock(&st->rmu);
	extra = st->free_readers != NULL ? st->free_readers->next : NULL;
	if (st->free_readers != NULL)
		st->free_readers->next = NULL;
	for (next = extra; next != NULL; next = next->next)
		st->nreaders--;
	if (st->free_readers != NULL)
		sqlite3_db_release_memory(st->free_readers->db);
	pthread_cond_broadcast(&st->rcv);
	pthread_mutex_unlock(&st->rmu);
	for (; extra != NULL; extra = next) {
		next = extra->next;
		store_conn_close(extra);
	}
	pthread_mutex_lock(&st->wmu);
	if (!st->outer_open)
		sqlite3_db_release_memory(st->w->db);
	pthread_mutex_unlock(&st->wmu);
}

/* Commits the open batch with one fsync and wakes its waiters. wmu held. */
static void store_commit_batch(struct store *st)
{
	int rc = 0;

	if (st->outer_open) {
		rc = store_exec(st->w->db, "COMMIT");
		if (rc != 0) {
			/* A failed COMMIT (EIO, ENOSPC) may leave the transaction
			 * open; roll it back so the next batch starts clean. */
			if (!sqlite3_get_autocommit(st->w->db))
				store_exec(st->w->db, "ROLLBACK");
			st->head_valid = 0;
		}
		st->outer_open = 0;
	}
	st->results[st->gen % STORE_RESULTS] = (signed char)rc;
	st->done_gen = st->gen;
	st->gen++;
	st->batch_size = 0;
	pthread_cond_broadcast(&st->wcv);
}

struct store_tx *store_tx_begin(struct store *st, int write)
{
	struct store_tx *tx;

	if (!write) {
		tx = store_reader_get(st);
		if (tx == NULL)
			return NULL;
		if (store_run(tx, Q_BEGIN) != 0) {
			store_reader_put(tx);
			return NULL;
		}
		return tx;
	}
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
	st->saved_valid = st->head_valid;
	st->saved_seq = st->head_seq;
	memcpy(st->saved_hash, st->head_hash, sizeof(st->saved_hash));
	return st->w;
fail:
	if (--st->writers == 0 && st->outer_open && st->batch_size > 0)
		store_commit_batch(st);
	pthread_mutex_unlock(&st->wmu);
	return NULL;
}

/* Ends a writer's part of the batch. With ok=0 its savepoint is undone.
 * Returns 0 once the batch holding it is durable, -1 otherwise. */
static int store_writer_end(struct store *st, int ok)
{
	uint64_t mine;
	int rc;

	if (ok && store_exec(st->w->db, "RELEASE w") != 0)
		ok = 0;
	if (!ok) {
		store_exec(st->w->db, "ROLLBACK TO w");
		store_exec(st->w->db, "RELEASE w");
		st->head_valid = st->saved_valid;
		st->head_seq = st->saved_seq;
		memcpy(st->head_hash, st->saved_hash, sizeof(st->head_hash));
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
		while (st->done_gen < mine) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += STORE_BATCH_WAIT_US * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_cond_timedwait(&st->wcv, &st->wmu, &ts) != 0 &&
			    st->done_gen < mine && st->gen == mine)
				store_commit_batch(st);
		}
	}
	rc = ok ? st->results[mine % STORE_RESULTS] : -1;
	pthread_mutex_unlock(&st->wmu);
	return rc;
}

uint64_t store_batches(struct store *st)
{
	uint64_t n;

	pthread_mutex_lock(&st->wmu);
	n = st->done_gen;
	pthread_mutex_unlock(&st->wmu);
	return n;
}

int store_tx_commit(struct store_tx *tx)
{
	int rc;

	if (tx->write)
		return store_writer_end(tx->st, 1);
	rc = store_run(tx, Q_COMMIT);
	store_reader_put(tx);
	return rc;
}

void store_tx_rollback(struct store_tx *tx)
{
	if (tx->write) {
		store_writer_end(tx->st, 0);
		return;
	}
	store_run(tx, Q_ROLLBACK);
	store_reader_put(tx);
}

/* Returns a reset statement ready for binding. */
static sqlite3_stmt *store_q(struct store_tx *tx, int q)
{
	sqlite3_stmt *s = tx->q[q];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static int store_blob_dup(sqlite3_stmt *s, int col, unsigned char **out, size_t *len)
{
	const void *p = sqlite3_column_blob(s, col);
	int n = sqlite3_column_bytes(s, col);

	*out = malloc(n > 0 ? (size_t)n : 1);
	if (*out == NULL)
		return -1;
	if (n > 0)
		memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	return 0;
}

static int64_t store_scalar(struct store_tx *tx, sqlite3_stmt *s)
{
	int64_t v = -1;
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	else
		log_err("store: %s", sqlite3_errmsg(tx->db));
	sqlite3_reset(s);
	return v;
}

int store_meta_get(struct store_tx *tx, const char *name, unsigned char **val, size_t *len)
{
	sqlite3_stmt *s = store_q(tx, Q_META_GET);
	int rc;

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rc = store_blob_dup(s, 0, val, len);
	} else if (rc == SQLITE_DONE) {
		rc = 1;
	} else {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		rc = -1;
	}
	sqlite3_reset(s);
	return rc;
}

int store_meta_put(struct store_tx *tx, const char *name, const void *val, size_t len)
{
	sqlite3_stmt *s = store_q(tx, Q_META_PUT);

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(s, 2, val, len, SQLITE_STATIC);
	return store_step_done(tx, s);
}

int store_meta_del(struct store_tx *tx, const char *name)
{
	sqlite3_stmt *s = store_q(tx, Q_META_DEL);

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	return store_step_done(tx, s);
}

int store_secret_get(struct store_tx *tx, const unsigned char id[STORE_ID_LEN], int64_t *version,
		     unsigned char **rec, size_t *len)
{
	sqlite3_stmt *s = store_q(tx, Q_SECRET_GET);
	int rc;

	sqlite3_bind_blob(s, 1, id, STORE_ID_LEN, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*version = sqlite3_column_int64(s, 0);
		rc = store_blob_dup(s, 1, rec, len);
	} else if (rc == SQLITE_DONE) {
		rc = 1;
	} else {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		rc = -1;
	}
	sqlite3_reset(s);
	return rc;
}

int store_secret_put(struct store_tx *tx, const unsigned char id[STORE_ID_LEN], int64_t version,
		     const void *rec, size_t len)
{
	sqlite3_stmt *s = store_q(tx, Q_SECRET_PUT);

	sqlite3_bind_blob(s, 1, id, STORE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, version);
	sqlite3_bind_blob64(s, 3, rec, len, SQLITE_STATIC);
	return store_step_done(tx, s);
}

int store_secret_del(struct store_tx *tx, const unsigned char id[STORE_ID_LEN])
{
	sqlite3_stmt *s = store_q(tx, Q_SECRET_DEL);

	sqlite3_bind_blob(s, 1, id, STORE_ID_LEN, SQLITE_STATIC);
	if (store_step_done(tx, s) != 0)
		return -1;
	return sqlite3_changes(tx->db) > 0 ? 0 : 1;
}

int store_secret_each(struct store_tx *tx, store_secret_fn fn, void *ctx)
{
	sqlite3_stmt *s = store_q(tx, Q_SECRET_ALL);
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const void *id = sqlite3_column_blob(s, 0);
		int idlen = sqlite3_column_bytes(s, 0);
		int64_t version = sqlite3_column_int64(s, 1);
		const unsigned char *rec = sqlite3_column_blob(s, 2);
		int len = sqlite3_column_bytes(s, 2);
		int r;

		if (idlen != STORE_ID_LEN || rec == NULL) {
			log_err("store: malformed secret row");
			sqlite3_reset(s);
			return -1;
		}
		r = fn(ctx, id, version, rec, (size_t)len);
		if (r != 0) {
			sqlite3_reset(s);
			return r;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		return -1;
	}
	return 0;
}

int64_t store_secret_count(struct store_tx *tx)
{
	return store_scalar(tx, store_q(tx, Q_SECRET_COUNT));
}

int store_token_put(struct store_tx *tx, const struct store_token *t)
{
	sqlite3_stmt *s = store_q(tx, Q_TOKEN_PUT);

	sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, t->user_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, t->issued_at);
	sqlite3_bind_int64(s, 4, t->expires_at);
	sqlite3_bind_blob64(s, 5, t->scope, t->scope_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 6, t->digest, 32, SQLITE_STATIC);
	return store_step_done(tx, s);
}

int store_token_get(struct store_tx *tx, const char *id, int *revoked, int64_t *expires_at,
		    unsigned char digest[32])
{
	sqlite3_stmt *s = store_q(tx, Q_TOKEN_GET);
	int rc;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*revoked = sqlite3_column_type(s, 0) != SQLITE_NULL;
		*expires_at = sqlite3_column_int64(s, 1);
		memset(digest, 0, 32);
		if (sqlite3_column_bytes(s, 2) == 32)
			memcpy(digest, sqlite3_column_blob(s, 2), 32);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 1;
	} else {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		rc = -1;
	}
	sqlite3_reset(s);
	return rc;
}

static int64_t store_changes(struct store_tx *tx, sqlite3_stmt *s)
{
	if (store_step_done(tx, s) != 0)
		return -1;
	return sqlite3_changes64(tx->db);
}

int64_t store_token_revoke(struct store_tx *tx, const char *id, int64_t at)
{
	sqlite3_stmt *s = store_q(tx, Q_TOKEN_REVOKE);

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, at);
	return store_changes(tx, s);
}

int64_t store_token_revoke_user(struct store_tx *tx, const char *user_id, int64_t at)
{
	sqlite3_stmt *s = store_q(tx, Q_TOKEN_REVOKE_USER);

	sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, at);
	return store_changes(tx, s);
}

int64_t store_token_count_since(struct store_tx *tx, const char *user_id, int64_t since)
{
	sqlite3_stmt *s = store_q(tx, Q_TOKEN_COUNT);

	sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, since);
	return store_scalar(tx, s);
}

int64_t store_token_purge(struct store_tx *tx, int64_t now)
{
	sqlite3_stmt *s = store_q(tx, Q_TOKEN_PURGE);

	sqlite3_bind_int64(s, 1, now);
	return store_changes(tx, s);
}

static int store_audit_head(struct store_tx *tx)
{
	sqlite3_stmt *s;
	int rc;

	if (tx->st->head_valid)
		return 0;
	s = store_q(tx, Q_AUDIT_HEAD);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 1) != CRYPTO_HASH_LEN) {
			sqlite3_reset(s);
			log_err("store: audit head hash malformed");
			return -1;
		}
		tx->st->head_seq = sqlite3_column_int64(s, 0);
		memcpy(tx->st->head_hash, sqlite3_column_blob(s, 1), CRYPTO_HASH_LEN);
	} else if (rc == SQLITE_DONE) {
		tx->st->head_seq = 0;
		memset(tx->st->head_hash, 0, CRYPTO_HASH_LEN);
	} else {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	tx->st->head_valid = 1;
	return 0;
}

static int store_chain(const unsigned char prev[CRYPTO_HASH_LEN], const char *entry, size_t len,
		       unsigned char out[CRYPTO_HASH_LEN])
{
	unsigned char *buf = malloc(CRYPTO_HASH_LEN + len);
	int rc;

	if (buf == NULL)
		return -1;
	memcpy(buf, prev, CRYPTO_HASH_LEN);
	memcpy(buf + CRYPTO_HASH_LEN, entry, len);
	rc = crypto_sha256(buf, CRYPTO_HASH_LEN + len, out);
	free(buf);
	return rc;
}

int store_audit_append(struct store_tx *tx, const char *entry, size_t len,
		       const unsigned char *secret_id)
{
	return store_audit_append_conn(tx, entry, len, secret_id);
}

static int store_audit_append_conn(struct store_tx *tx, const char *entry, size_t len,
				   const unsigned char *secret_id)
{
	unsigned char hash[CRYPTO_HASH_LEN];
	sqlite3_stmt *s;

	if (store_audit_head(tx) != 0 || store_chain(tx->st->head_hash, entry, len, hash) != 0)
		return -1;
	s = store_q(tx, Q_AUDIT_PUT);
	sqlite3_bind_int64(s, 1, tx->st->head_seq + 1);
	sqlite3_bind_text64(s, 2, entry, len, SQLITE_STATIC, SQLITE_UTF8);
	if (secret_id != NULL)
		sqlite3_bind_blob(s, 3, secret_id, STORE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, hash, CRYPTO_HASH_LEN, SQLITE_STATIC);
	if (store_step_done(tx, s) != 0) {
		tx->st->head_valid = 0;
		return -1;
	}
	tx->st->head_seq++;
	memcpy(tx->st->head_hash, hash, CRYPTO_HASH_LEN);
	return 0;
}

int store_audit_list(struct store_tx *tx, const unsigned char *secret_id, int limit,
		     store_audit_fn fn, void *ctx)
{
	sqlite3_stmt *s;
	int rc;

	if (secret_id != NULL) {
		s = store_q(tx, Q_AUDIT_LIST_SECRET);
		sqlite3_bind_blob(s, 1, secret_id, STORE_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_int(s, 2, limit);
	} else {
		s = store_q(tx, Q_AUDIT_LIST);
		sqlite3_bind_int(s, 1, limit);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *e = (const char *)sqlite3_column_text(s, 1);
		int r = fn(ctx, sqlite3_column_int64(s, 0), e ? e : "",
			   (size_t)sqlite3_column_bytes(s, 1));
		if (r != 0) {
			sqlite3_reset(s);
			return r;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		return -1;
	}
	return 0;
}

int store_audit_verify(struct store_tx *tx, int64_t *entries, int64_t *bad_seq,
		       unsigned char head[32])
{
	sqlite3_stmt *s = store_q(tx, Q_AUDIT_ALL);
	unsigned char prev[CRYPTO_HASH_LEN] = {0}, h[CRYPTO_HASH_LEN];
	int64_t expect = 1, n = 0;
	int rc, broken = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(s, 0);
		const char *e = (const char *)sqlite3_column_text(s, 1);
		size_t len = (size_t)sqlite3_column_bytes(s, 1);
		const void *stored = sqlite3_column_blob(s, 2);

		if (seq != expect || e == NULL || store_chain(prev, e, len, h) != 0 ||
		    sqlite3_column_bytes(s, 2) != CRYPTO_HASH_LEN ||
		    !crypto_equal(h, stored, CRYPTO_HASH_LEN)) {
			*bad_seq = seq;
			broken = 1;
			break;
		}
		memcpy(prev, h, sizeof(prev));
		expect++;
		n++;
	}
	sqlite3_reset(s);
	if (!broken && rc != SQLITE_DONE) {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		return -1;
	}
	*entries = n;
	memcpy(head, prev, CRYPTO_HASH_LEN);
	return broken;
}
