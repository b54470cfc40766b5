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

static void test_migrates_v1(void **state)
{
	struct store_tmp *t = *state;
	struct store_token tok = {"t1", "u", 1, 2, "s", 1, dg};
	unsigned char got[32];
	int revoked = -1;
	int64_t exp = 0;
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
	assert_int_equal(store_token_get(tx, "t1", &revoked, &exp, got), 0);
	assert_memory_equal(got, dg, 32);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    store_tmp_test(test_new_store_has_current_schema),
	    store_tmp_test(test_migrates_v1),
	    store_tmp_test(test_failed_migration_step_changes_nothing),
	    store_tmp_test(test_reopen_and_open_twice),
	    store_tmp_test(test_newer_schema_refused),
	    store_tmp_test(test_corrupt_header_refused),
	};

	return cmocka_run_group_tests_name("store_schema", tests, NULL, NULL);
}
