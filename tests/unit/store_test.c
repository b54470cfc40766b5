/* store_test.c: schema creation, reopen, records, tokens, and the audit
 * hash chain catching an edited entry. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "test_common.h"

#include "store.h"

static char dir[] = "/tmp/gv-store-test-XXXXXX";

static void rmdir_all(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
}

static void test_meta_and_reopen(void **state)
{
	struct store_tx *tx;
	struct store *st = store_open(dir);
	unsigned char *v = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(st);
	tx = store_tx_begin(st, 1);
	assert_non_null(tx);
	assert_int_equal(store_meta_get(tx, "k", &v, &len), 1);
	assert_int_equal(store_meta_put(tx, "k", "value", 5), 0);
	assert_int_equal(store_tx_commit(tx), 0);
	store_close(st);

	st = store_open(dir);
	assert_non_null(st);
	tx = store_tx_begin(st, 0);
	assert_non_null(tx);
	assert_int_equal(store_meta_get(tx, "k", &v, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(v, "value", 5);
	free(v);
	store_tx_rollback(tx);
	/* A rolled-back write leaves nothing. */
	tx = store_tx_begin(st, 1);
	assert_non_null(tx);
	assert_int_equal(store_meta_put(tx, "gone", "x", 1), 0);
	store_tx_rollback(tx);
	tx = store_tx_begin(st, 0);
	assert_non_null(tx);
	assert_int_equal(store_meta_get(tx, "gone", &v, &len), 1);
	store_tx_rollback(tx);
	store_close(st);
}

static int count_row(void *ctx, const unsigned char *id, int64_t version, const unsigned char *rec,
		     size_t len)
{
	(void)id;
	(void)version;
	(void)rec;
	(void)len;
	(*(int *)ctx)++;
	return 0;
}

static void test_secrets(void **state)
{
	struct store_tx *tx;
	struct store *st = store_open(dir);
	unsigned char id[STORE_ID_LEN], *rec = NULL;
	int64_t ver = 0;
	size_t len = 0;
	int n = 0;

	(void)state;
	memset(id, 7, sizeof(id));
	tx = store_tx_begin(st, 1);
	assert_non_null(tx);
	assert_int_equal(store_secret_put(tx, id, 1, "sealed-1", 8), 0);
	assert_int_equal(store_secret_put(tx, id, 2, "sealed-22", 9), 0);
	assert_int_equal(store_tx_commit(tx), 0);
	tx = store_tx_begin(st, 1);
	assert_non_null(tx);
	assert_int_equal(store_secret_get(tx, id, &ver, &rec, &len), 0);
	assert_int_equal(ver, 2);
	assert_int_equal(len, 9);
	free(rec);
	assert_int_equal(store_secret_count(tx), 1);
	assert_int_equal(store_secret_each(tx, count_row, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_secret_del(tx, id), 0);
	assert_int_equal(store_secret_del(tx, id), 1);
	assert_int_equal(store_secret_get(tx, id, &ver, &rec, &len), 1);
	assert_int_equal(store_tx_commit(tx), 0);
	store_close(st);
}

static void test_tokens(void **state)
{
	struct store_tx *tx;
	struct store *st = store_open(dir);
	static const unsigned char dg[32] = "0123456789abcdef0123456789abcde";
	struct store_token a = {"t1", "alice", 1000, 5000000, "s", 1, dg};
	struct store_token b = {"t2", "alice", 2000, 6000000, "s", 1, dg};
	struct store_token c = {"t3", "bob", 2000, 6000000, "s", 1, dg};
	unsigned char got[32];
	int revoked = 0;
	int64_t exp = 0;

	(void)state;
	tx = store_tx_begin(st, 1);
	assert_non_null(tx);
	assert_int_equal(store_token_put(tx, &a), 0);
	assert_int_equal(store_token_put(tx, &b), 0);
	assert_int_equal(store_token_put(tx, &c), 0);
	assert_int_equal(store_token_put(tx, &c), -1); /* duplicate id */
	assert_int_equal(store_token_count_since(tx, "alice", 1500), 1);
	assert_int_equal(store_token_revoke(tx, "t1", 3000), 1);
	assert_int_equal(store_token_revoke(tx, "t1", 3000), 0);
	assert_int_equal(store_token_revoke_user(tx, "alice", 3000), 1);
	assert_int_equal(store_token_get(tx, "t2", &revoked, &exp, got), 0);
	assert_true(revoked);
	assert_int_equal(exp, 6000000);
	assert_memory_equal(got, dg, 32);
	assert_int_equal(store_token_get(tx, "t3", &revoked, &exp, got), 0);
	assert_false(revoked);
	assert_int_equal(store_token_get(tx, "nope", &revoked, &exp, got), 1);
	/* Purge drops rows an hour past expiry. */
	assert_int_equal(store_token_purge(tx, 5000000 + 3600000 + 1), 1);
	assert_int_equal(store_token_get(tx, "t1", &revoked, &exp, got), 1);
	assert_int_equal(store_tx_commit(tx), 0);
	store_close(st);
}

static int list_first(void *ctx, int64_t seq, const char *e, size_t len)
{
	(void)e;
	(void)len;
	if (*(int64_t *)ctx == 0)
		*(int64_t *)ctx = seq;
	return 0;
}

static void test_audit_chain(void **state)
{
	struct store_tx *tx;
	struct store *st = store_open(dir);
	unsigned char head[32], id[STORE_ID_LEN];
	int64_t n = 0, bad = 0, first = 0;
	char path[256], e[64];
	sqlite3 *db;

	(void)state;
	memset(id, 9, sizeof(id));
	tx = store_tx_begin(st, 1);
	assert_non_null(tx);
	for (int i = 0; i < 5; i++) {
		snprintf(e, sizeof(e), "{\"n\":%d}", i);
		assert_int_equal(store_audit_append(tx, e, strlen(e), i == 2 ? id : NULL), 0);
	}
	assert_int_equal(store_tx_commit(tx), 0);
	tx = store_tx_begin(st, 0);
	assert_non_null(tx);
	assert_int_equal(store_audit_verify(tx, &n, &bad, head), 0);
	assert_int_equal(n, 5);
	assert_int_equal(store_audit_list(tx, NULL, 10, list_first, &first), 0);
	assert_int_equal(first, 5); /* newest first */
	first = 0;
	assert_int_equal(store_audit_list(tx, id, 10, list_first, &first), 0);
	assert_int_equal(first, 3);
	store_tx_rollback(tx);
	store_close(st);

	/* Edit one entry behind the store's back: the chain breaks there. */
	snprintf(path, sizeof(path), "%s/vault.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db, "UPDATE audit SET entry='{\"n\":9}' WHERE seq=3", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	st = store_open(dir);
	tx = store_tx_begin(st, 0);
	assert_non_null(tx);
	assert_int_equal(store_audit_verify(tx, &n, &bad, head), 1);
	assert_int_equal(bad, 3);
	store_tx_rollback(tx);
	store_close(st);

	/* A removed entry is caught too. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM audit WHERE seq=2", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	st = store_open(dir);
	tx = store_tx_begin(st, 0);
	assert_non_null(tx);
	assert_int_equal(store_audit_verify(tx, &n, &bad, head), 1);
	assert_int_equal(bad, 3);
	store_tx_rollback(tx);
	store_close(st);
}

static void test_migrates_v1(void **state)
{
	struct store_tx *tx;
	static const unsigned char dg[32] = "0123456789abcdef0123456789abcde";
	char sub[300], path[320];
	struct store_token t = {"t1", "u", 1, 2, "s", 1, dg};
	struct store *st;
	sqlite3 *db;
	int version = 0;
	sqlite3_stmt *q;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/v1", dir);
	mkdir(sub, 0700);
	snprintf(path, sizeof(path), "%s/vault.db", sub);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db,
			 "CREATE TABLE meta(k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;"
			 "CREATE TABLE secrets(id BLOB PRIMARY KEY, version INTEGER NOT NULL,"
			 " record BLOB NOT NULL) WITHOUT ROWID;"
			 "CREATE TABLE tokens(id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
			 " issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
			 " revoked_at INTEGER, scope BLOB);"
			 "CREATE TABLE audit(seq INTEGER PRIMARY KEY, entry TEXT NOT NULL,"
			 " secret_id BLOB, hash BLOB NOT NULL);"
			 "INSERT INTO meta VALUES('kept', x'01');"
			 "PRAGMA user_version=1;",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	st = store_open(sub);
	assert_non_null(st);
	tx = store_tx_begin(st, 1);
	assert_non_null(tx);
	assert_int_equal(store_token_put(tx, &t), 0);
	assert_int_equal(store_tx_commit(tx), 0);
	store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM meta WHERE k='kept'", -1, &q, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 1);
	sqlite3_finalize(q);
	sqlite3_close(db);
	assert_int_equal(version, STORE_SCHEMA_VERSION);
}

struct writer_arg {
	struct store *st;
	int id;
	int failures;
};

static void *writer_main(void *p)
{
	struct writer_arg *a = p;

	for (int i = 0; i < 50; i++) {
		unsigned char id[STORE_ID_LEN] = {0};
		struct store_tx *tx = store_tx_begin(a->st, 1);
		char e[32];

		if (tx == NULL) {
			a->failures++;
			continue;
		}
		id[0] = (unsigned char)a->id;
		id[1] = (unsigned char)i;
		snprintf(e, sizeof(e), "{\"w\":%d,\"i\":%d}", a->id, i);
		if (store_secret_put(tx, id, 1, "x", 1) != 0 ||
		    store_audit_append(tx, e, strlen(e), NULL) != 0) {
			store_tx_rollback(tx);
			a->failures++;
			continue;
		}
		if (i % 10 == 9) { /* every tenth writer changes its mind */
			store_tx_rollback(tx);
			continue;
		}
		if (store_tx_commit(tx) != 0)
			a->failures++;
	}
	return NULL;
}

static void test_group_commit(void **state)
{
	char sub[300];
	struct store *st;
	struct store_tx *tx;
	struct writer_arg args[8];
	pthread_t th[8];
	unsigned char head[32];
	int64_t n = 0, bad = 0;
	uint64_t before;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/gc", dir);
	st = store_open(sub);
	assert_non_null(st);
	before = store_batches(st);
	for (int i = 0; i < 8; i++) {
		args[i] = (struct writer_arg){st, i, 0};
		pthread_create(&th[i], NULL, writer_main, &args[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	tx = store_tx_begin(st, 0);
	assert_non_null(tx);
	/* 8 writers x 45 kept; the rolled-back ones left nothing behind. */
	assert_int_equal(store_secret_count(tx), 8 * 45);
	assert_int_equal(store_audit_verify(tx, &n, &bad, head), 0);
	assert_int_equal(n, 8 * 45);
	store_tx_rollback(tx);
	/* Fewer fsyncs than commits: the writers shared batches. */
	fprintf(stderr, "group commit: %d commits in %llu batches\n", 8 * 45,
		(unsigned long long)(store_batches(st) - before));
	assert_true(store_batches(st) - before < 8 * 45);
	store_close(st);
}

static void test_newer_schema_refused(void **state)
{
	char path[256];
	sqlite3 *db;

	(void)state;
	snprintf(path, sizeof(path), "%s/vault.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(store_open(dir));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_meta_and_reopen),
	    cmocka_unit_test(test_secrets),
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_audit_chain),
	    cmocka_unit_test(test_migrates_v1),
	    cmocka_unit_test(test_group_commit),
	    cmocka_unit_test(test_newer_schema_refused),
	};
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	rc = cmocka_run_group_tests_name("store", tests, NULL, NULL);
	rmdir_all();
	return rc;
}
