/* store_audit_test.c: the audit hash chain: the hash it computes, listing
 * newest first, an edited or removed entry caught, and a rolled-back
 * append leaving no gap (the cached head follows the savepoint). */
#include <stdio.h>
#include <stdlib.h>

#include "store_tmp.h"

#include "crypto.h"
#include "store.h"

static void append(struct store *st, const char *e, const unsigned char *id, int keep)
{
	struct store_tx *tx = store_tx_begin(st, 1);

	assert_non_null(tx);
	assert_int_equal(store_audit_append(tx, e, strlen(e), id), 0);
	if (keep)
		assert_int_equal(store_tx_commit(tx), 0);
	else
		store_tx_rollback(tx);
}

/* Returns store_audit_verify's result; *n and *bad as it sets them. */
static int verify(struct store *st, int64_t *n, int64_t *bad, unsigned char head[32])
{
	struct store_tx *tx = store_tx_begin(st, 0);
	int rc;

	assert_non_null(tx);
	rc = store_audit_verify(tx, n, bad, head);
	store_tx_rollback(tx);
	return rc;
}

/* hash = SHA-256(previous hash | entry), from 32 zero bytes. */
static void chain_step(unsigned char h[32], const char *e)
{
	unsigned char buf[32 + 64];
	size_t len = strlen(e);

	memcpy(buf, h, 32);
	memcpy(buf + 32, e, len);
	assert_int_equal(crypto_sha256(buf, 32 + len, h), 0);
}

static void test_chain_hash(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	unsigned char head[32], want[32] = {0};
	int64_t n = 0, bad = 0;

	assert_non_null(st);
	assert_int_equal(verify(st, &n, &bad, head), 0);
	assert_int_equal(n, 0);
	assert_memory_equal(head, want, 32);
	append(st, "{\"a\":1}", NULL, 1);
	append(st, "{\"b\":2}", NULL, 1);
	chain_step(want, "{\"a\":1}");
	chain_step(want, "{\"b\":2}");
	assert_int_equal(verify(st, &n, &bad, head), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(head, want, 32);
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

static int list_count(void *ctx, int64_t seq, const char *e, size_t len)
{
	(void)seq;
	(void)e;
	(void)len;
	(*(int *)ctx)++;
	return 0;
}

static void test_list(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	unsigned char id[STORE_ID_LEN];
	struct store_tx *tx;
	int64_t first = 0;
	int count = 0;
	char e[64];

	assert_non_null(st);
	memset(id, 9, sizeof(id));
	for (int i = 0; i < 5; i++) {
		snprintf(e, sizeof(e), "{\"n\":%d}", i);
		append(st, e, i == 2 ? id : NULL, 1);
	}
	tx = store_tx_begin(st, 0);
	assert_non_null(tx);
	assert_int_equal(store_audit_list(tx, NULL, 10, list_first, &first), 0);
	assert_int_equal(first, 5); /* newest first */
	first = 0;
	assert_int_equal(store_audit_list(tx, id, 10, list_first, &first), 0);
	assert_int_equal(first, 3);
	assert_int_equal(store_audit_list(tx, NULL, 3, list_count, &count), 0);
	assert_int_equal(count, 3); /* the limit holds */
	store_tx_rollback(tx);
	store_close(st);
}

static void test_edit_and_removal_caught(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	unsigned char head[32];
	int64_t n = 0, bad = 0;
	char e[64];

	assert_non_null(st);
	for (int i = 0; i < 5; i++) {
		snprintf(e, sizeof(e), "{\"n\":%d}", i);
		append(st, e, NULL, 1);
	}
	assert_int_equal(verify(st, &n, &bad, head), 0);
	assert_int_equal(n, 5);
	store_close(st);

	/* Edit one entry behind the store's back: the chain breaks there. */
	store_tmp_sql(t->db, "UPDATE audit SET entry='{\"n\":9}' WHERE seq=3");
	st = store_open(t->dir);
	assert_non_null(st);
	assert_int_equal(verify(st, &n, &bad, head), 1);
	assert_int_equal(bad, 3);
	store_close(st);

	/* A removed entry is caught too, at the first seq out of place. */
	store_tmp_sql(t->db, "UPDATE audit SET entry='{\"n\":2}' WHERE seq=3;"
			     "DELETE FROM audit WHERE seq=2");
	st = store_open(t->dir);
	assert_non_null(st);
	assert_int_equal(verify(st, &n, &bad, head), 1);
	assert_int_equal(bad, 3);
	store_close(st);
}

/* A rolled-back append restores the cached head: the next append takes the
 * same seq and chains from the same hash, so the chain has no gap. */
static void test_rolled_back_append_leaves_no_gap(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	unsigned char head[32], want[32] = {0};
	int64_t n = 0, bad = 0;

	assert_non_null(st);
	append(st, "{\"k\":1}", NULL, 1);
	append(st, "{\"gone\":1}", NULL, 0);
	append(st, "{\"k\":2}", NULL, 1);
	assert_int_equal(verify(st, &n, &bad, head), 0);
	assert_int_equal(n, 2);
	chain_step(want, "{\"k\":1}");
	chain_step(want, "{\"k\":2}");
	assert_memory_equal(head, want, 32);
	store_close(st);
	/* A new store reads the head from the table and continues it. */
	st = store_open(t->dir);
	assert_non_null(st);
	append(st, "{\"k\":3}", NULL, 1);
	assert_int_equal(verify(st, &n, &bad, head), 0);
	assert_int_equal(n, 3);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    store_tmp_test(test_chain_hash),
	    store_tmp_test(test_list),
	    store_tmp_test(test_edit_and_removal_caught),
	    store_tmp_test(test_rolled_back_append_leaves_no_gap),
	};

	return cmocka_run_group_tests_name("store_audit", tests, NULL, NULL);
}
