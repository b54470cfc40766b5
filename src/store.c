/* store.c: SQLite storage, the only place (with the other store_*.c files)
 * that includes sqlite3.h. It opens the connections, lends readers from a
 * pool, and keeps sealed records by blind index (the token registry is in
 * store_token.c); it
 * must never be handed plaintext names, values or keys. Group commit lives
 * in store_commit.c, the audit chain in store_audit.c, the schema in
 * store_schema.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datadir.h"
#include "log.h"
#include "store_int.h"

static const char *const store_sql[Q_COUNT] = {
    [Q_META_GET] = "SELECT v FROM meta WHERE k = ?1",
    [Q_META_PUT] = "INSERT INTO meta(k, v) VALUES(?1, ?2) ON CONFLICT(k) DO UPDATE SET v = ?2",
    [Q_META_DEL] = "DELETE FROM meta WHERE k = ?1",
    [Q_SECRET_GET] = "SELECT version, record FROM secrets WHERE id = ?1",
    [Q_SECRET_PUT] = "INSERT INTO secrets(id, version, record) VALUES(?1, ?2, ?3) "
		     "ON CONFLICT(id) DO UPDATE SET version = ?2, record = ?3",
    [Q_SECRET_DEL] = "DELETE FROM secrets WHERE id = ?1 RETURNING version",
    [Q_SECRET_ALL] = "SELECT id, version, record FROM secrets",
    /* a page in id order; ?1 = x'' starts at the first row */
    [Q_SECRET_FROM] = "SELECT id, version, record FROM secrets WHERE id > ?1 ORDER BY id",
    [Q_SECRET_COUNT] = "SELECT count(*) FROM secrets",
    [Q_SECRET_VERSIONS] = "SELECT id, version FROM secrets",
    [Q_TOKEN_PUT] = "INSERT INTO tokens(id, user_id, issued_at, expires_at, scope, digest,"
		    " token_hash, mac) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_TOKEN_GET] = "SELECT " STORE_TOKEN_COLS " FROM tokens WHERE id = ?1",
    [Q_TOKEN_GET_HASH] = "SELECT " STORE_TOKEN_COLS " FROM tokens WHERE token_hash = ?1",
    [Q_TOKEN_REVOKE] = "UPDATE tokens SET revoked_at = ?2, revoked_by = ?3, pending = 1 "
		       "WHERE id = ?1 AND revoked_at IS NULL",
    [Q_TOKEN_REVOKE_USER] = "UPDATE tokens SET revoked_at = ?2, revoked_by = ?3, pending = 1 "
			    "WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
    [Q_TOKEN_COUNT] = "SELECT count(*) FROM tokens WHERE user_id = ?1 AND issued_at >= ?2",
    /* Rows are kept for an hour past expiry so the issue rate limit still
     * counts them. */
    [Q_TOKEN_PURGE] = "DELETE FROM tokens WHERE expires_at < ?1 - 3600000",
    [Q_TOKEN_SEAL] = "UPDATE tokens SET mac = ?2, pending = 0 WHERE id = ?1",
    [Q_TOKEN_PENDING] = "SELECT " STORE_TOKEN_COLS " FROM tokens WHERE pending != 0",
    [Q_TOKEN_LIST] = "SELECT " STORE_TOKEN_COLS " FROM tokens WHERE rowid > ?3 AND "
		     "(?1 IS NULL OR user_id = ?1) AND (?2 OR (revoked_at IS NULL AND "
		     "expires_at > ?5)) "
		     "ORDER BY rowid LIMIT ?4",
    [Q_AUDIT_PUT] = "INSERT INTO audit(seq, entry, secret_id, hash, mac, hv) "
		    "VALUES(?1, ?2, ?3, ?4, ?5, 2)",
    [Q_AUDIT_HEAD] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
    [Q_AUDIT_LIST] = "SELECT seq, entry FROM audit ORDER BY seq DESC LIMIT ?1",
    /* One secret's entries, newest first: the unindexed tail (above the
     * mark, scanned by seq) merged with the indexed part. Both arms come
     * in seq order, so LIMIT stops the merge early; both read the mark in
     * the same snapshot, so no entry is seen twice or missed. */
    [Q_AUDIT_LIST_SECRET] =
	"SELECT seq, entry FROM audit WHERE seq > (SELECT seq FROM audit_mark) AND "
	"secret_id = ?1 UNION ALL "
	"SELECT i.seq, a.entry FROM audit_index i JOIN audit a ON a.seq = i.seq AND "
	"a.secret_id = i.secret_id WHERE i.secret_id = ?1 AND "
	"i.seq <= (SELECT seq FROM audit_mark) ORDER BY 1 DESC LIMIT ?2",
    [Q_AUDIT_AFTER] = "SELECT seq, entry FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [Q_AUDIT_FROM] = "SELECT seq, entry, secret_id, hash, hv, mac FROM audit WHERE seq > ?1 "
		     "ORDER BY seq LIMIT ?2",
    [Q_AUDIT_SEAL] = "UPDATE audit SET mac = ?2 WHERE seq = ?1",
    [Q_AUDIT_TAIL] = "SELECT (SELECT seq FROM audit_mark), (SELECT ifnull(max(seq), 0) FROM audit)",
    /* OR IGNORE: a pair already there (an edited file) must not wedge the
     * indexer; the pair is the same either way. */
    [Q_INDEX_FILL] = "INSERT OR IGNORE INTO audit_index(secret_id, seq) SELECT secret_id, seq "
		     "FROM audit WHERE seq > ?1 AND seq <= ?2 AND secret_id IS NOT NULL "
		     "ORDER BY 1, 2",
    [Q_INDEX_MARK] = "UPDATE audit_mark SET seq = ?1",
    /* Readers' transaction control, prepared once (the hot read path). */
    [Q_BEGIN] = "BEGIN",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
};

#ifdef GV_STORE_NOSYNC
/* Fuzz builds only: no fsync, so a fuzzer can run millions of writes. */
#define STORE_SYNC_PRAGMA "PRAGMA synchronous=OFF"
#else
#define STORE_SYNC_PRAGMA "PRAGMA synchronous=FULL"
#endif

/* Process-wide SQLite settings, before its first use. */
static void store_global_setup(void)
{
	/* No allocation statistics: they take one global mutex on every
	 * allocation, which readers and the committer then contend for. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
#ifdef GV_FAULT_INJECTION
	store_fault_register();
#endif
}

int store_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_err("store: %s", err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

void store_conn_close(struct store_tx *tx)
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
struct store_tx *store_conn_open(struct store *st, int write)
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
		if (store_schema_migrate(tx->db) != 0 || store_schema_check(tx->db) != 0)
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

struct store *store_open(const char *dir)
{
	struct store *st;

	if (datadir_prepare(dir) != 0)
		return NULL;
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
	/* Timed waits (batch wait, idle index pass, checkpoint retry) count
	 * on the monotonic clock: a wall-clock step must not stretch them. */
	pthread_condattr_t mono;
	pthread_condattr_init(&mono);
	pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
	pthread_cond_init(&st->wcv, &mono);
	pthread_mutex_init(&st->rmu, NULL);
	pthread_cond_init(&st->rcv, NULL);
	pthread_mutex_init(&st->qmu, NULL);
	pthread_cond_init(&st->qcv, &mono);
	pthread_mutex_init(&st->ckmu, NULL);
	pthread_cond_init(&st->ckcv, &mono);
	pthread_condattr_destroy(&mono);
	st->queue_tail = &st->queue;
	st->gen = 1;
	st->index_idle_ms = STORE_INDEX_IDLE_MS;
	st->w = store_conn_open(st, 1);
	if (st->w == NULL || store_index_open(st) != 0 || store_ckpt_start(st) != 0 ||
	    store_commit_start(st) != 0) {
		store_close(st);
		return NULL;
	}
	return st;
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_commit_stop(st);
	store_ckpt_stop(st);
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
	pthread_mutex_destroy(&st->ckmu);
	pthread_cond_destroy(&st->ckcv);
	free(st);
}

/* ---- transactions: a pool for readers; writers join the batch ---- */

int store_step_done(struct store_tx *tx, sqlite3_stmt *s)
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

struct store_tx *store_tx_begin(struct store *st, int write)
{
	struct store_tx *tx;

	if (write)
		return store_commit_begin(st) == 0 ? st->w : NULL;
	tx = store_reader_get(st);
	if (tx == NULL)
		return NULL;
	if (store_run(tx, Q_BEGIN) != 0) {
		store_reader_put(tx);
		return NULL;
	}
	return tx;
}

struct store_tx *store_tx_begin_own(struct store *st)
{
	struct store_tx *tx = store_conn_open(st, 0);

	if (tx == NULL)
		return NULL;
	tx->own = 1;
	if (store_run(tx, Q_BEGIN) != 0) {
		store_conn_close(tx);
		return NULL;
	}
	return tx;
}

/* Ends a reader's use: back to the pool, or closed if it was its own. */
static void store_reader_done(struct store_tx *tx)
{
	if (tx->own)
		store_conn_close(tx);
	else
		store_reader_put(tx);
}

int store_tx_commit(struct store_tx *tx)
{
	int rc;

	if (tx->write)
		return store_commit_end(tx->st, 1);
	rc = store_run(tx, Q_COMMIT);
	store_reader_done(tx);
	return rc;
}

void store_tx_rollback(struct store_tx *tx)
{
	if (tx->write) {
		store_commit_end(tx->st, 0);
		return;
	}
	store_run(tx, Q_ROLLBACK);
	store_reader_done(tx);
}

/* ---- rows: meta and sealed secrets (the registry is store_token.c) ---- */

sqlite3_stmt *store_q(struct store_tx *tx, int q)
{
	sqlite3_stmt *s = tx->q[q];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

int store_blob_dup(sqlite3_stmt *s, int col, unsigned char **out, size_t *len)
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

int64_t store_scalar(struct store_tx *tx, sqlite3_stmt *s)
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

int store_secret_del(struct store_tx *tx, const unsigned char id[STORE_ID_LEN], int64_t *version)
{
	sqlite3_stmt *s = store_q(tx, Q_SECRET_DEL);
	int rc, found = 0;

	sqlite3_bind_blob(s, 1, id, STORE_ID_LEN, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (version != NULL)
			*version = sqlite3_column_int64(s, 0);
		found = 1;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		return -1;
	}
	return found ? 0 : 1;
}

/* Steps s (already bound) through its rows as store_secret_each says. */
static int store_secret_rows(struct store_tx *tx, sqlite3_stmt *s, store_secret_fn fn, void *ctx)
{
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

int store_secret_each(struct store_tx *tx, store_secret_fn fn, void *ctx)
{
	return store_secret_rows(tx, store_q(tx, Q_SECRET_ALL), fn, ctx);
}

int store_secret_from(struct store_tx *tx, const unsigned char *after, store_secret_fn fn,
		      void *ctx)
{
	static const unsigned char none[1];
	sqlite3_stmt *s = store_q(tx, Q_SECRET_FROM);

	if (sqlite3_bind_blob(s, 1, after ? after : none, after ? STORE_ID_LEN : 0,
			      SQLITE_STATIC) != SQLITE_OK) {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		return -1;
	}
	return store_secret_rows(tx, s, fn, ctx);
}

int64_t store_secret_count(struct store_tx *tx)
{
	return store_scalar(tx, store_q(tx, Q_SECRET_COUNT));
}

int store_secret_versions(struct store_tx *tx, store_version_fn fn, void *ctx)
{
	sqlite3_stmt *s = store_q(tx, Q_SECRET_VERSIONS);
	int rc = SQLITE_DONE, r = 0;

	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) != STORE_ID_LEN) {
			log_err("store: malformed secret row");
			r = -1;
			break;
		}
		r = fn(ctx, sqlite3_column_blob(s, 0), sqlite3_column_int64(s, 1));
	}
	sqlite3_reset(s);
	if (r == 0 && rc != SQLITE_DONE) {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		return -1;
	}
	return r;
}
