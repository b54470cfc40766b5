/* ratelimit_test.c: per-client budgets, windows and eviction. */
#include "test_common.h"

#include "ratelimit.h"

static void test_budget_per_client(void **state)
{
	struct ratelimit *rl = ratelimit_new(16, 5, 900);

	(void)state;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(ratelimit_blocked(rl, "10.0.0.1", 1000), 0);
		ratelimit_fail(rl, "10.0.0.1", 1000);
	}
	assert_int_equal(ratelimit_blocked(rl, "10.0.0.1", 1000), 900);
	assert_int_equal(ratelimit_blocked(rl, "10.0.0.1", 1000 + 899500), 1);
	/* Another client is unaffected. */
	assert_int_equal(ratelimit_blocked(rl, "10.0.0.2", 1000), 0);
	/* The window ends. */
	assert_int_equal(ratelimit_blocked(rl, "10.0.0.1", 1000 + 900000), 0);
	ratelimit_free(rl);
}

static void test_clear_and_evict(void **state)
{
	struct ratelimit *rl = ratelimit_new(2, 1, 60);

	(void)state;
	ratelimit_fail(rl, "a", 0);
	assert_true(ratelimit_blocked(rl, "a", 0) > 0);
	ratelimit_clear(rl, "a");
	assert_int_equal(ratelimit_blocked(rl, "a", 0), 0);
	ratelimit_fail(rl, "a", 10);
	ratelimit_fail(rl, "b", 20);
	ratelimit_fail(rl, "c", 30); /* evicts the stalest, "a" */
	assert_int_equal(ratelimit_blocked(rl, "a", 40), 0);
	assert_true(ratelimit_blocked(rl, "b", 40) > 0);
	assert_true(ratelimit_blocked(rl, "c", 40) > 0);
	ratelimit_free(rl);
	ratelimit_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_budget_per_client),
	    cmocka_unit_test(test_clear_and_evict),
	};
	return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
