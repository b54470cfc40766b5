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

struct store {
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	pthread_mutex_t mu;
	int in_tx;
	/* Cached audit chain head; refreshed after a rollback. */
	int head_valid;
	int64_t head_seq;
	unsigned char head_hash[CRYPTO_HASH_LEN];
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
static int f_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}
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
static int f_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int f_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int f_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int f_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int f_devchar(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int f_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int f_shmlock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void f_shmbarrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
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
    3,        f_close,  f_read,     f_write,     f_truncate, f_sync,       f_size,
    f_lock,   f_unlock, f_reserved, f_control,   f_sector,   f_devchar,    f_shmmap,
    f_shmlock, f_shmbarrier, f_shmunmap, f_fetch, f_unfetch,
};

static int fault_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
		      int *out)
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

static void fault_install(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, fault_register);
}
#else
static void fault_install(void)
{
}
#endif

static int store_exec(struct store *st, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_err("store: %s", err ? err : sqlite3_errmsg(st->db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int store_user_version(struct store *st, int *version)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Each step moves the schema one version on, inside one transaction. */
static int store_migrate(struct store *st)
{
	int version;

	if (store_user_version(st, &version) != 0)
		return -1;
	if (version > STORE_SCHEMA_VERSION) {
		log_err("store: database schema %d is newer than this build (%d)", version,
			STORE_SCHEMA_VERSION);
		return -1;
	}
	while (version < STORE_SCHEMA_VERSION) {
		char bump[64];
		if (store_exec(st, "BEGIN IMMEDIATE") != 0)
			return -1;
		if (version == 0 && store_exec(st, store_schema_v1) != 0)
			goto fail;
		if (version == 1 && store_exec(st, store_schema_v2) != 0)
			goto fail;
		version++;
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", version);
		if (store_exec(st, bump) != 0 || store_exec(st, "COMMIT") != 0)
			goto fail;
	}
	return 0;
fail:
	store_exec(st, "ROLLBACK");
	return -1;
}

struct store *store_open(const char *dir)
{
	struct store *st;
	char path[4096];
	int i;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_err("store: cannot create %s: %s", dir, strerror(errno));
		return NULL;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/vault.db", dir) >= sizeof(path)) {
		log_err("store: data dir path too long");
		return NULL;
	}
	fault_install();
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	pthread_mutex_init(&st->mu, NULL);
	if (sqlite3_open_v2(path, &st->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		log_err("store: cannot open %s: %s", path,
			st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	chmod(path, 0600);
	sqlite3_busy_timeout(st->db, 5000);
	sqlite3_extended_result_codes(st->db, 1);
	/* synchronous=FULL: every commit fsyncs the WAL before it returns, which
	 * is what makes a 2xx durable. secure_delete overwrites freed cells. */
	if (store_exec(st, "PRAGMA journal_mode=WAL") != 0 ||
	    store_exec(st, STORE_SYNC_PRAGMA) != 0 ||
	    store_exec(st, "PRAGMA secure_delete=ON") != 0 ||
	    store_exec(st, "PRAGMA foreign_keys=ON") != 0 ||
	    store_exec(st, "PRAGMA trusted_schema=OFF") != 0)
		goto fail;
	if (store_migrate(st) != 0)
		goto fail;
	if (store_exec(st, "PRAGMA quick_check") != 0)
		goto fail;
	for (i = 0; i < Q_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->q[i],
				       NULL) != SQLITE_OK) {
			log_err("store: prepare %d: %s", i, sqlite3_errmsg(st->db));
			goto fail;
		}
	}
	return st;
fail:
	store_close(st);
	return NULL;
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(st->q[i]);
	if (st->db != NULL)
		sqlite3_close(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

int store_tx_begin(struct store *st, int write)
{
	pthread_mutex_lock(&st->mu);
	if (store_exec(st, write ? "BEGIN IMMEDIATE" : "BEGIN") != 0) {
		pthread_mutex_unlock(&st->mu);
		return -1;
	}
	st->in_tx = 1;
	return 0;
}

int store_tx_commit(struct store *st)
{
	int rc = store_exec(st, "COMMIT");

	if (rc != 0) {
		store_exec(st, "ROLLBACK");
		st->head_valid = 0;
	}
	st->in_tx = 0;
	pthread_mutex_unlock(&st->mu);
	return rc;
}

void store_tx_rollback(struct store *st)
{
	store_exec(st, "ROLLBACK");
	st->head_valid = 0;
	st->in_tx = 0;
	pthread_mutex_unlock(&st->mu);
}

/* Returns a reset statement ready for binding. */
static sqlite3_stmt *store_q(struct store *st, int q)
{
	sqlite3_stmt *s = st->q[q];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static int store_step_done(struct store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_err("store: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
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

static int64_t store_scalar(struct store *st, sqlite3_stmt *s)
{
	int64_t v = -1;
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	else
		log_err("store: %s", sqlite3_errmsg(st->db));
	sqlite3_reset(s);
	return v;
}

int store_meta_get(struct store *st, const char *name, unsigned char **val, size_t *len)
{
	sqlite3_stmt *s = store_q(st, Q_META_GET);
	int rc;

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rc = store_blob_dup(s, 0, val, len);
	} else if (rc == SQLITE_DONE) {
		rc = 1;
	} else {
		log_err("store: %s", sqlite3_errmsg(st->db));
		rc = -1;
	}
	sqlite3_reset(s);
	return rc;
}

int store_meta_put(struct store *st, const char *name, const void *val, size_t len)
{
	sqlite3_stmt *s = store_q(st, Q_META_PUT);

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(s, 2, val, len, SQLITE_STATIC);
	return store_step_done(st, s);
}

int store_meta_del(struct store *st, const char *name)
{
	sqlite3_stmt *s = store_q(st, Q_META_DEL);

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	return store_step_done(st, s);
}

int store_secret_get(struct store *st, const unsigned char id[STORE_ID_LEN], int64_t *version,
		     unsigned char **rec, size_t *len)
{
	sqlite3_stmt *s = store_q(st, Q_SECRET_GET);
	int rc;

	sqlite3_bind_blob(s, 1, id, STORE_ID_LEN, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*version = sqlite3_column_int64(s, 0);
		rc = store_blob_dup(s, 1, rec, len);
	} else if (rc == SQLITE_DONE) {
		rc = 1;
	} else {
		log_err("store: %s", sqlite3_errmsg(st->db));
		rc = -1;
	}
	sqlite3_reset(s);
	return rc;
}

int store_secret_put(struct store *st, const unsigned char id[STORE_ID_LEN], int64_t version,
		     const void *rec, size_t len)
{
	sqlite3_stmt *s = store_q(st, Q_SECRET_PUT);

	sqlite3_bind_blob(s, 1, id, STORE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, version);
	sqlite3_bind_blob64(s, 3, rec, len, SQLITE_STATIC);
	return store_step_done(st, s);
}

int store_secret_del(struct store *st, const unsigned char id[STORE_ID_LEN])
{
	sqlite3_stmt *s = store_q(st, Q_SECRET_DEL);

	sqlite3_bind_blob(s, 1, id, STORE_ID_LEN, SQLITE_STATIC);
	if (store_step_done(st, s) != 0)
		return -1;
	return sqlite3_changes(st->db) > 0 ? 0 : 1;
}

int store_secret_each(struct store *st, store_secret_fn fn, void *ctx)
{
	sqlite3_stmt *s = store_q(st, Q_SECRET_ALL);
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
		log_err("store: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

int64_t store_secret_count(struct store *st)
{
	return store_scalar(st, store_q(st, Q_SECRET_COUNT));
}

int store_token_put(struct store *st, const struct store_token *t)
{
	sqlite3_stmt *s = store_q(st, Q_TOKEN_PUT);

	sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, t->user_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, t->issued_at);
	sqlite3_bind_int64(s, 4, t->expires_at);
	sqlite3_bind_blob64(s, 5, t->scope, t->scope_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 6, t->digest, 32, SQLITE_STATIC);
	return store_step_done(st, s);
}

int store_token_get(struct store *st, const char *id, int *revoked, int64_t *expires_at,
		    unsigned char digest[32])
{
	sqlite3_stmt *s = store_q(st, Q_TOKEN_GET);
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
		log_err("store: %s", sqlite3_errmsg(st->db));
		rc = -1;
	}
	sqlite3_reset(s);
	return rc;
}

static int64_t store_changes(struct store *st, sqlite3_stmt *s)
{
	if (store_step_done(st, s) != 0)
		return -1;
	return sqlite3_changes64(st->db);
}

int64_t store_token_revoke(struct store *st, const char *id, int64_t at)
{
	sqlite3_stmt *s = store_q(st, Q_TOKEN_REVOKE);

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, at);
	return store_changes(st, s);
}

int64_t store_token_revoke_user(struct store *st, const char *user_id, int64_t at)
{
	sqlite3_stmt *s = store_q(st, Q_TOKEN_REVOKE_USER);

	sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, at);
	return store_changes(st, s);
}

int64_t store_token_count_since(struct store *st, const char *user_id, int64_t since)
{
	sqlite3_stmt *s = store_q(st, Q_TOKEN_COUNT);

	sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, since);
	return store_scalar(st, s);
}

int64_t store_token_purge(struct store *st, int64_t now)
{
	sqlite3_stmt *s = store_q(st, Q_TOKEN_PURGE);

	sqlite3_bind_int64(s, 1, now);
	return store_changes(st, s);
}

static int store_audit_head(struct store *st)
{
	sqlite3_stmt *s;
	int rc;

	if (st->head_valid)
		return 0;
	s = store_q(st, Q_AUDIT_HEAD);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 1) != CRYPTO_HASH_LEN) {
			sqlite3_reset(s);
			log_err("store: audit head hash malformed");
			return -1;
		}
		st->head_seq = sqlite3_column_int64(s, 0);
		memcpy(st->head_hash, sqlite3_column_blob(s, 1), CRYPTO_HASH_LEN);
	} else if (rc == SQLITE_DONE) {
		st->head_seq = 0;
		memset(st->head_hash, 0, CRYPTO_HASH_LEN);
	} else {
		log_err("store: %s", sqlite3_errmsg(st->db));
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	st->head_valid = 1;
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

int store_audit_append(struct store *st, const char *entry, size_t len,
		       const unsigned char *secret_id)
{
	unsigned char hash[CRYPTO_HASH_LEN];
	sqlite3_stmt *s;

	if (store_audit_head(st) != 0 || store_chain(st->head_hash, entry, len, hash) != 0)
		return -1;
	s = store_q(st, Q_AUDIT_PUT);
	sqlite3_bind_int64(s, 1, st->head_seq + 1);
	sqlite3_bind_text64(s, 2, entry, len, SQLITE_STATIC, SQLITE_UTF8);
	if (secret_id != NULL)
		sqlite3_bind_blob(s, 3, secret_id, STORE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, hash, CRYPTO_HASH_LEN, SQLITE_STATIC);
	if (store_step_done(st, s) != 0) {
		st->head_valid = 0;
		return -1;
	}
	st->head_seq++;
	memcpy(st->head_hash, hash, CRYPTO_HASH_LEN);
	return 0;
}

int store_audit_list(struct store *st, const unsigned char *secret_id, int limit,
		     store_audit_fn fn, void *ctx)
{
	sqlite3_stmt *s;
	int rc;

	if (secret_id != NULL) {
		s = store_q(st, Q_AUDIT_LIST_SECRET);
		sqlite3_bind_blob(s, 1, secret_id, STORE_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_int(s, 2, limit);
	} else {
		s = store_q(st, Q_AUDIT_LIST);
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
		log_err("store: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

int store_audit_verify(struct store *st, int64_t *entries, int64_t *bad_seq,
		       unsigned char head[32])
{
	sqlite3_stmt *s = store_q(st, Q_AUDIT_ALL);
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
		log_err("store: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	*entries = n;
	memcpy(head, prev, CRYPTO_HASH_LEN);
	return broken;
}
