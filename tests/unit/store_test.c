/* store_test.c: the store's rows (meta, sealed secrets, the token
 * registry) and its transactions: what a commit keeps and a rollback
 * drops, across a reopen. Each test has its own temp directory. */
#include <stdio.h>
#include <stdlib.h>

#include "store_tmp.h"

#include "store.h"

static void test_meta_and_reopen(void **state)
{
	struct store_tx *tx;
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	unsigned char *v = NULL;
	size_t len = 0;

	assert_non_null(st);
	tx = store_tx_begin(st, 1);
	assert_non_null(tx);
	assert_int_equal(store_meta_get(tx, "k", &v, &len), 1);
	assert_int_equal(store_meta_put(tx, "k", "value", 5), 0);
	assert_int_equal(store_tx_commit(tx), 0);
	store_close(st);

	st = store_open(t->dir);
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
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	unsigned char id[STORE_ID_LEN], *rec = NULL;
	int64_t ver = 0;
	size_t len = 0;
	int n = 0;

	assert_non_null(st);
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
	assert_memory_equal(rec, "sealed-22", 9);
	free(rec);
	assert_int_equal(store_secret_count(tx), 1);
	assert_int_equal(store_secret_each(tx, count_row, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_secret_del(tx, id, NULL), 0);
	assert_int_equal(store_secret_del(tx, id, NULL), 1);
	assert_int_equal(store_secret_get(tx, id, &ver, &rec, &len), 1);
	assert_int_equal(store_tx_commit(tx), 0);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    store_tmp_test(test_meta_and_reopen),
	    store_tmp_test(test_secrets),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
