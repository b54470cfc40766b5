/* vault_manifest_test.c: the manifest's sum is order-free and exactly
 * undone by a subtraction (with carries across bytes); updated in place in
 * a store it equals a manifest computed afresh over the final rows; a
 * stored manifest that fails its tag is never re-tagged; an absent one is
 * left absent. */
#include <stdlib.h>

#include "store_tmp.h"

#include "vault_int.h"

static const unsigned char key[CRYPTO_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static void id_of(unsigned char id[CRYPTO_HASH_LEN], unsigned char n)
{
	memset(id, 0x5A, CRYPTO_HASH_LEN);
	id[0] = n;
}

static void elem(unsigned char n, int64_t version, unsigned char e[CRYPTO_HASH_LEN])
{
	unsigned char id[CRYPTO_HASH_LEN];

	id_of(id, n);
	assert_int_equal(vault_manifest_elem(key, id, version, e), 0);
}

static void test_sum_is_a_multiset(void **state)
{
	struct vault_manifest a = {{0}, 0}, b = {{0}, 0}, z = {{0}, 0};
	unsigned char e1[CRYPTO_HASH_LEN], e2[CRYPTO_HASH_LEN], e3[CRYPTO_HASH_LEN];
	unsigned char ff[CRYPTO_HASH_LEN];

	(void)state;
	elem(1, 1, e1);
	elem(2, 1, e2);
	elem(1, 2, e3);
	assert_memory_not_equal(e1, e3, CRYPTO_HASH_LEN); /* the version counts */
	vault_manifest_add(&a, e1, 0);
	vault_manifest_add(&a, e2, 0);
	vault_manifest_add(&a, e3, 0);
	vault_manifest_add(&b, e3, 0);
	vault_manifest_add(&b, e1, 0);
	vault_manifest_add(&b, e2, 0);
	assert_memory_equal(a.sum, b.sum, CRYPTO_HASH_LEN);
	assert_int_equal(a.count, 3);
	vault_manifest_add(&a, e1, 1); /* rolling e1 out leaves {e2, e3} */
	memset(&b, 0, sizeof(b));
	vault_manifest_add(&b, e2, 0);
	vault_manifest_add(&b, e3, 0);
	assert_memory_equal(a.sum, b.sum, CRYPTO_HASH_LEN);
	assert_int_equal(a.count, b.count);
	/* below zero and back: the borrow crosses every byte */
	memset(ff, 0xFF, sizeof(ff));
	vault_manifest_add(&z, e1, 1);
	vault_manifest_add(&z, ff, 0);
	vault_manifest_add(&z, ff, 1);
	vault_manifest_add(&z, e1, 0);
	assert_memory_equal(z.sum, (unsigned char[CRYPTO_HASH_LEN]){0}, CRYPTO_HASH_LEN);
	assert_int_equal(z.count, 0);
}

/* The stored value for m, as vault_manifest.c lays it out. */
static void stored_of(const struct vault_manifest *m, unsigned char out[72])
{
	memcpy(out, m->sum, 32);
	for (int i = 0; i < 8; i++)
		out[32 + i] = (unsigned char)((uint64_t)m->count >> (56 - 8 * i));
	assert_int_equal(vault_manifest_tag(key, m, out + 40), 0);
}

static void read_stored(struct store *st, unsigned char **val, size_t *len, int want)
{
	struct store_tx *tx = store_tx_begin(st, 0);

	assert_non_null(tx);
	assert_int_equal(store_meta_get(tx, "manifest", val, len), want);
	store_tx_rollback(tx);
}

static void update(struct store *st, unsigned char n, const int64_t *from, const int64_t *to)
{
	unsigned char id[CRYPTO_HASH_LEN];
	struct store_tx *tx = store_tx_begin(st, 1);

	id_of(id, n);
	assert_non_null(tx);
	assert_int_equal(vault_manifest_update(tx, key, id, from, to), 0);
	assert_int_equal(store_tx_commit(tx), 0);
}

static void test_updates_match_a_fresh_count(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	struct vault_manifest empty = {{0}, 0}, want = {{0}, 0};
	unsigned char val0[72], e[CRYPTO_HASH_LEN], *val = NULL;
	const int64_t v1 = 1, v2 = 2;
	struct store_tx *tx;
	size_t len = 0;

	assert_non_null(st);
	update(st, 1, NULL, &v1); /* absent: left absent, for the unlock to build */
	read_stored(st, &val, &len, 1);
	stored_of(&empty, val0);
	tx = store_tx_begin(st, 1);
	assert_int_equal(store_meta_put(tx, "manifest", val0, sizeof(val0)), 0);
	assert_int_equal(store_tx_commit(tx), 0);
	update(st, 1, NULL, &v1); /* put a */
	update(st, 2, NULL, &v1); /* put b */
	update(st, 1, &v1, &v2);  /* a again */
	update(st, 2, &v1, NULL); /* delete b */
	elem(1, 2, e);
	vault_manifest_add(&want, e, 0);
	stored_of(&want, val0);
	read_stored(st, &val, &len, 0);
	assert_int_equal(len, sizeof(val0));
	assert_memory_equal(val, val0, sizeof(val0));
	free(val);
	/* a manifest failing its tag is left exactly as found */
	val0[5] ^= 1;
	tx = store_tx_begin(st, 1);
	assert_int_equal(store_meta_put(tx, "manifest", val0, sizeof(val0)), 0);
	assert_int_equal(store_tx_commit(tx), 0);
	update(st, 3, NULL, &v1);
	read_stored(st, &val, &len, 0);
	assert_memory_equal(val, val0, sizeof(val0));
	free(val);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sum_is_a_multiset),
	    store_tmp_test(test_updates_match_a_fresh_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
