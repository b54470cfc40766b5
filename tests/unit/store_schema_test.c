/* store_schema_test.c: the schema a new store creates, migration of an
 * old-version database, opening an existing database again (also twice at
 * once), and refusal of a newer schema or a corrupt file. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_tmp.h"

#include "store_int.h"

static const unsigned char dg[32] = "0123456789abcdef0123456789abcde";

/* The v1 schema as the build that wrote it created it (no digest column). */
static const char schema_v1[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE secrets(id BLOB PRIMARY KEY, version INTEGER NOT NULL,"
    " record BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE tokens(id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
    " issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    " revoked_at INTEGER, scope BLOB);"
    "CREATE TABLE audit(seq INTEGER PRIMARY KEY, entry TEXT NOT NULL,"
    " secret_id BLOB, hash BLOB NOT NULL);";

static void put_meta(struct store *st, const char *k)
{
	struct store_tx *tx = store_tx_begin(st, 1);

	assert_non_null(tx);
	assert_int_equal(store_meta_put(tx, k, "v", 1), 0);
	assert_int_equal(store_tx_commit(tx), 0);
}

static int has_meta(struct store *st, const char *k)
{
	struct store_tx *tx = store_tx_begin(st, 0);
	unsigned char *v = NULL;
	size_t len = 0;
	int rc;

	assert_non_null(tx);
	rc = store_meta_get(tx, k, &v, &len);
	free(v);
	store_tx_rollback(tx);
	return rc == 0;
}

static void test_new_store_has_current_schema(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);

	assert_non_null(st);
	store_close(st);
	assert_int_equal(store_tmp_int(t->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(store_tmp_int(t->db,
				       "SELECT count(*) FROM sqlite_master WHERE type='table'"
				       " AND name IN ('meta','secrets','tokens','audit')"),
			 4);
	assert_int_equal(store_tmp_int(t->db, "SELECT count(*) FROM pragma_table_info('tokens')"
					      " WHERE name='digest'"),
			 1);
}

static int digest_is_dg(void *ctx, const struct store_token_row *r)
{
	(void)ctx;
	return memcmp(r->digest, dg, 32) == 0;
}

static void test_migrates_v1(void **state)
{
	struct store_tmp *t = *state;
	struct store_token tok = {"t1", "u", 1, 2, "s", 1, dg, dg, dg};
	int fnrc = -1;
	struct store_tx *tx;
	struct store *st;
	char sql[1024];

	snprintf(sql, sizeof(sql),
		 "%sINSERT INTO meta VALUES('kept', x'01');PRAGMA user_version=1;", schema_v1);
	store_tmp_sql(t->db, sql);
	st = store_open(t->dir);
	assert_non_null(st);
	assert_true(has_meta(st, "kept"));
	/* v2's column is there: a token keeps its digest. */
	tx = store_tx_begin(st, 1);
	assert_non_null(tx);
	assert_int_equal(store_token_put(tx, &tok), 0);
	assert_int_equal(store_token_get(tx, "t1", NULL, digest_is_dg, NULL, &fnrc), 0);
	assert_int_equal(fnrc, 1);
	assert_int_equal(store_tx_commit(tx), 0);
	store_close(st);
	assert_int_equal(store_tmp_int(t->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
}

/* A step that fails leaves the database at the version before it. */
static void test_failed_migration_step_changes_nothing(void **state)
{
	struct store_tmp *t = *state;
	char sql[1024];

	/* A v1 file that somehow already has v2's column: ALTER TABLE fails. */
	snprintf(sql, sizeof(sql),
		 "%sALTER TABLE tokens ADD COLUMN digest BLOB;PRAGMA user_version=1;", schema_v1);
	store_tmp_sql(t->db, sql);
	assert_null(store_open(t->dir));
	assert_int_equal(store_tmp_int(t->db, "PRAGMA user_version"), 1);
}

static void test_reopen_and_open_twice(void **state)
{
	struct store_tmp *t = *state;
	struct store *a, *b;
	int64_t objects;

	a = store_open(t->dir);
	assert_non_null(a);
	put_meta(a, "first");
	store_close(a);
	objects = store_tmp_int(t->db, "SELECT count(*) FROM sqlite_master");

	/* Two stores on one file at once: each sees the other's commits. */
	a = store_open(t->dir);
	assert_non_null(a);
	b = store_open(t->dir);
	assert_non_null(b);
	assert_true(has_meta(b, "first"));
	put_meta(b, "second");
	assert_true(has_meta(a, "second"));
	store_close(b);
	store_close(a);

	/* Nothing was created twice and nothing was lost. */
	assert_int_equal(store_tmp_int(t->db, "SELECT count(*) FROM sqlite_master"), objects);
	assert_int_equal(store_tmp_int(t->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(store_tmp_int(t->db, "SELECT count(*) FROM meta"), 2);
}

static void test_newer_schema_refused(void **state)
{
	struct store_tmp *t = *state;

	store_tmp_sql(t->db, "PRAGMA user_version=99");
	assert_null(store_open(t->dir));
	/* Refused without touching it. */
	assert_int_equal(store_tmp_int(t->db, "PRAGMA user_version"), 99);
}

static void test_corrupt_header_refused(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	int fd;

	assert_non_null(st);
	put_meta(st, "k");
	store_close(st);
	/* Overwrite the "SQLite format 3" magic at the start of the file. */
	fd = open(t->db, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "this is not sql!", 16, 0), 16);
	close(fd);
	assert_null(store_open(t->dir));
}

/* Objects this build does not create are refused at open, the file is
 * left as it was, and a clean file still opens. */
static void test_unexpected_objects_refused(void **state)
{
	static const char *const plants[] = {
	    "CREATE TRIGGER noop BEFORE UPDATE OF revoked_at ON tokens BEGIN"
	    " SELECT RAISE(IGNORE); END;",
	    "CREATE VIEW v AS SELECT * FROM tokens;",
	    "CREATE TABLE extra(x);",
	    "CREATE INDEX extra_i ON tokens(expires_at);",
	    "DROP INDEX tokens_user;",
	};
	struct store_tmp *t = *state;
	struct store *st;

	for (size_t i = 0; i < sizeof(plants) / sizeof(plants[0]); i++) {
		char undo[128];
		st = store_open(t->dir);
		assert_non_null(st);
		store_close(st);
		store_tmp_sql(t->db, plants[i]);
		assert_null(store_open(t->dir));
		assert_int_equal(store_tmp_int(t->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
		snprintf(undo, sizeof(undo), "%s",
			 i == 0	  ? "DROP TRIGGER noop"
			 : i == 1 ? "DROP VIEW v"
			 : i == 2 ? "DROP TABLE extra"
			 : i == 3 ? "DROP INDEX extra_i"
				  : "CREATE INDEX tokens_user ON tokens(user_id, issued_at)");
		store_tmp_sql(t->db, undo);
	}
	st = store_open(t->dir);
	assert_non_null(st);
	store_close(st);
}

/* A column redefined behind our back (same names) is refused too. */
static void test_changed_column_refused(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);

	assert_non_null(st);
	store_close(st);
	store_tmp_sql(t->db, "PRAGMA writable_schema=ON;"
			     "UPDATE sqlite_master SET sql = replace(sql, 'revoked_at INTEGER',"
			     " 'revoked_at INTEGER DEFAULT 1') WHERE name = 'tokens';");
	assert_null(store_open(t->dir));
}

/* Rows from before the registry had MACs are revoked by the upgrade. */
static void test_v2_tokens_revoked_by_upgrade(void **state)
{
	struct store_tmp *t = *state;
	struct store *st;
	char sql[1024];

	snprintf(sql, sizeof(sql),
		 "%sALTER TABLE tokens ADD COLUMN digest BLOB;"
		 "INSERT INTO tokens VALUES('old', 'u', 1, 9e15, NULL, x'00', x'00');"
		 "INSERT INTO tokens VALUES('gone', 'u', 1, 9e15, 5, x'00', x'00');"
		 "PRAGMA user_version=2;",
		 schema_v1);
	store_tmp_sql(t->db, sql);
	st = store_open(t->dir);
	assert_non_null(st);
	store_close(st);
	assert_int_equal(
	    store_tmp_int(t->db, "SELECT count(*) FROM tokens WHERE revoked_at IS NULL"), 0);
	assert_int_equal(store_tmp_int(t->db, "SELECT revoked_at FROM tokens WHERE id = 'gone'"),
			 5);
	assert_int_equal(store_tmp_int(t->db, "SELECT count(*) FROM tokens WHERE"
					      " revoked_by = 'upgrade' AND id = 'old'"),
			 1);
}

/* What the v4 -> v5 test's lists saw. */
struct list_seen {
	int k, n;
	int64_t last;
};

/* Each listed entry is {"n":seq} of secret k, in falling seq. */
static int check_entry(void *ctx, int64_t seq, const char *entry, size_t len)
{
	struct list_seen *sn = ctx;
	char want[32];

	snprintf(want, sizeof(want), "{\"n\":%lld}", (long long)seq);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(entry, want, len);
	assert_true(seq < sn->last);
	assert_true(seq % 5 != 0 && seq % 3 == sn->k);
	sn->last = seq;
	sn->n++;
	return 0;
}

/* v4 -> v5: a v4 file built by the v1..v4 steps, with entries for three
 * secrets and some for none, opens with audit_secret gone, every entry
 * that names a secret in audit_index, the mark at the last entry, and
 * per-secret lists that match the table. */
static void test_v4_audit_indexed_by_upgrade(void **state)
{
	struct store_tmp *t = *state;
	unsigned char id[STORE_ID_LEN] = {0x77};
	struct store_tx *tx;
	struct store *st;
	sqlite3 *h;
	sqlite3_stmt *q;

	assert_int_equal(sqlite3_open(t->db, &h), SQLITE_OK);
	assert_int_equal(store_schema_migrate_to(h, 4), 0);
	assert_int_equal(sqlite3_prepare_v2(h,
					    "INSERT INTO audit(seq, entry, secret_id, hash, hv)"
					    " VALUES(?1, ?2, ?3, zeroblob(32), 2)",
					    -1, &q, NULL),
			 SQLITE_OK);
	for (int i = 1; i <= 300; i++) {
		char e[32];
		snprintf(e, sizeof(e), "{\"n\":%d}", i);
		id[1] = (unsigned char)(i % 3);
		sqlite3_bind_int(q, 1, i);
		sqlite3_bind_text(q, 2, e, -1, SQLITE_TRANSIENT);
		if (i % 5 != 0)
			sqlite3_bind_blob(q, 3, id, STORE_ID_LEN, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(q, 3);
		assert_int_equal(sqlite3_step(q), SQLITE_DONE);
		sqlite3_reset(q);
	}
	sqlite3_finalize(q);
	sqlite3_close(h);
	assert_int_equal(store_tmp_int(t->db, "PRAGMA user_version"), 4);
	assert_int_equal(store_tmp_int(t->db, "SELECT count(*) FROM sqlite_master"
					      " WHERE name = 'audit_secret'"),
			 1);

	st = store_open(t->dir);
	assert_non_null(st);
	st->index_idle_ms = 100000000; /* only the upgrade indexes */
	assert_int_equal(store_tmp_int(t->db, "PRAGMA user_version"), 5);
	assert_int_equal(store_tmp_int(t->db, "SELECT count(*) FROM sqlite_master"
					      " WHERE name = 'audit_secret'"),
			 0);
	assert_int_equal(store_tmp_int(t->db, "SELECT seq FROM audit_mark"), 300);
	assert_int_equal(store_tmp_int(t->db, "SELECT count(*) FROM audit_index"), 240);
	assert_int_equal(store_tmp_int(t->db, "SELECT count(*) FROM audit_index i JOIN audit a"
					      " ON a.seq = i.seq AND a.secret_id = i.secret_id"),
			 240);
	/* newest first, exactly the entries of that secret */
	for (int k = 0; k < 3; k++) {
		struct list_seen sn = {k, 0, 1000};
		id[1] = (unsigned char)k;
		tx = store_tx_begin(st, 0);
		assert_non_null(tx);
		assert_int_equal(store_audit_list(tx, id, -1, 1000, check_entry, &sn), 0);
		store_tx_rollback(tx);
		assert_int_equal(sn.n, 80);
	}
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    store_tmp_test(test_new_store_has_current_schema),
	    store_tmp_test(test_migrates_v1),
	    store_tmp_test(test_failed_migration_step_changes_nothing),
	    store_tmp_test(test_reopen_and_open_twice),
	    store_tmp_test(test_newer_schema_refused),
	    store_tmp_test(test_corrupt_header_refused),
	    store_tmp_test(test_unexpected_objects_refused),
	    store_tmp_test(test_changed_column_refused),
	    store_tmp_test(test_v2_tokens_revoked_by_upgrade),
	    store_tmp_test(test_v4_audit_indexed_by_upgrade),
	};

	return cmocka_run_group_tests_name("store_schema", tests, NULL, NULL);
}
