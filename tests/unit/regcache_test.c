/* regcache_test.c: hits, misses, collisions and the generation rule that
 * keeps a revoked token from being re-cached by a racing reader. */
#include "test_common.h"

#include "regcache.h"

static void test_hit_miss_collision(void **state)
{
	struct regcache *rc = regcache_new(1); /* every id collides */
	unsigned char d1[32], d2[32], got[32];
	int64_t exp = 0;

	(void)state;
	memset(d1, 1, 32);
	memset(d2, 2, 32);
	assert_false(regcache_get(rc, "a", got, &exp));
	regcache_put(rc, regcache_gen(rc), "a", d1, 10);
	assert_true(regcache_get(rc, "a", got, &exp));
	assert_memory_equal(got, d1, 32);
	assert_int_equal(exp, 10);
	regcache_put(rc, regcache_gen(rc), "b", d2, 20);
	assert_false(regcache_get(rc, "a", got, &exp)); /* replaced, not wrong */
	assert_true(regcache_get(rc, "b", got, &exp));
	assert_memory_equal(got, d2, 32);
	regcache_free(rc);
	regcache_free(NULL);
}

static void test_generation_blocks_stale_insert(void **state)
{
	struct regcache *rc = regcache_new(64);
	unsigned char d[32] = {0}, got[32];
	int64_t exp;
	uint64_t gen;

	(void)state;
	regcache_put(rc, regcache_gen(rc), "t1", d, 5);
	gen = regcache_gen(rc);		   /* a reader starts reading the store... */
	regcache_clear(rc);		   /* ...a revocation happens... */
	regcache_put(rc, gen, "t2", d, 5); /* ...its stale row is refused */
	assert_false(regcache_get(rc, "t1", got, &exp));
	assert_false(regcache_get(rc, "t2", got, &exp));
	regcache_put(rc, regcache_gen(rc), "t2", d, 5);
	assert_true(regcache_get(rc, "t2", got, &exp));
	regcache_free(rc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hit_miss_collision),
	    cmocka_unit_test(test_generation_blocks_stale_insert),
	};
	return cmocka_run_group_tests_name("regcache", tests, NULL, NULL);
}
