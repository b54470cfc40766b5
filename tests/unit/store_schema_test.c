/* store_schema_test.c: the schema a new store creates, migration of an
 * old-version database, opening an existing database again (also twice at
 * once), and refusal of a newer schema or a corrupt file. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_tmp.h"

#include "store.h"

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
	};

	return cmocka_run_group_tests_name("store_schema", tests, NULL, NULL);
}
