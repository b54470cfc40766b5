/* rowcache_test.c: hits return a copy of what was put, a row read before a
 * forget is never inserted after it, collisions replace, limits hold. */
#include <stdlib.h>

#include "test_common.h"

#include "rowcache.h"

static void id_of(unsigned char id[ROWCACHE_ID_LEN], unsigned n)
{
	memset(id, 0xA5, ROWCACHE_ID_LEN);
	memcpy(id, &n, sizeof(n));
}

static void test_put_get_copy(void **state)
{
	struct rowcache *rc = rowcache_new(8);
	unsigned char id[ROWCACHE_ID_LEN], *blob = NULL, row[] = "sealed-row";
	int64_t version = 0;
	size_t len = 0;

	(void)state;
	id_of(id, 1);
	assert_int_equal(rowcache_get(rc, id, &version, &blob, &len), 0);
	assert_null(blob);
	rowcache_put(rc, rowcache_gen(rc), id, 7, row, sizeof(row));
	row[0] = 'X'; /* the cache kept its own copy */
	assert_int_equal(rowcache_get(rc, id, &version, &blob, &len), 1);
	assert_int_equal(version, 7);
	assert_int_equal(len, sizeof(row));
	assert_memory_equal(blob, "sealed-row", sizeof(row));
	free(blob);
	/* a different id in the same slot is a miss, then replaces it */
	unsigned char other[ROWCACHE_ID_LEN];
	id_of(other, 1 + 8);
	assert_int_equal(rowcache_get(rc, other, &version, &blob, &len), 0);
	rowcache_put(rc, rowcache_gen(rc), other, 1, row, sizeof(row));
	assert_int_equal(rowcache_get(rc, id, &version, &blob, &len), 0);
	assert_int_equal(rowcache_get(rc, other, &version, &blob, &len), 1);
	free(blob);
	rowcache_free(rc);
	rowcache_free(NULL);
}

static void test_stale_reads_never_inserted(void **state)
{
	struct rowcache *rc = rowcache_new(8);
	unsigned char id[ROWCACHE_ID_LEN], b[ROWCACHE_ID_LEN], *blob = NULL;
	int64_t version = 0;
	size_t len = 0;
	uint64_t gen;

	(void)state;
	id_of(id, 3);
	id_of(b, 4);
	/* a reader takes the generation, reads version 1 from the store... */
	gen = rowcache_gen(rc);
	/* ...meanwhile a write forgets the row, commits version 2, forgets again */
	rowcache_forget(rc, id);
	rowcache_forget(rc, id);
	/* ...and the reader's version 1 must not land in the cache */
	rowcache_put(rc, gen, id, 1, (const unsigned char *)"v1", 2);
	assert_int_equal(rowcache_get(rc, id, &version, &blob, &len), 0);
	/* a forget of one row also refuses stale puts of others (conservative) */
	gen = rowcache_gen(rc);
	rowcache_forget(rc, id);
	rowcache_put(rc, gen, b, 1, (const unsigned char *)"b1", 2);
	assert_int_equal(rowcache_get(rc, b, &version, &blob, &len), 0);
	/* a cached row is gone after forget and after clear */
	rowcache_put(rc, rowcache_gen(rc), id, 2, (const unsigned char *)"v2", 2);
	rowcache_put(rc, rowcache_gen(rc), b, 1, (const unsigned char *)"b1", 2);
	rowcache_forget(rc, id);
	assert_int_equal(rowcache_get(rc, id, &version, &blob, &len), 0);
	assert_int_equal(rowcache_get(rc, b, &version, &blob, &len), 1);
	free(blob);
	gen = rowcache_gen(rc);
	rowcache_clear(rc);
	assert_int_equal(rowcache_get(rc, b, &version, &blob, &len), 0);
	rowcache_put(rc, gen, b, 1, (const unsigned char *)"b1", 2);
	assert_int_equal(rowcache_get(rc, b, &version, &blob, &len), 0);
	rowcache_free(rc);
}

static void test_limits(void **state)
{
	struct rowcache *rc = rowcache_new(4);
	unsigned char id[ROWCACHE_ID_LEN], *big = calloc(1, ROWCACHE_BLOB_MAX + 1), *blob = NULL;
	int64_t version = 0;
	size_t len = 0;

	(void)state;
	id_of(id, 5);
	rowcache_put(rc, rowcache_gen(rc), id, 1, big, ROWCACHE_BLOB_MAX + 1);
	assert_int_equal(rowcache_get(rc, id, &version, &blob, &len), 0);
	rowcache_put(rc, rowcache_gen(rc), id, 1, big, 0);
	assert_int_equal(rowcache_get(rc, id, &version, &blob, &len), 0);
	rowcache_put(rc, rowcache_gen(rc), id, 1, big, ROWCACHE_BLOB_MAX);
	assert_int_equal(rowcache_get(rc, id, &version, &blob, &len), 1);
	assert_int_equal(len, ROWCACHE_BLOB_MAX);
	free(blob);
	free(big);
	rowcache_free(rc);
	assert_null(rowcache_new(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_put_get_copy),
	    cmocka_unit_test(test_stale_reads_never_inserted),
	    cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
