/* ratelimit_test.c: per-client budgets, windows and eviction, and no lost
 * update when many threads fail and check the same client at once (`make
 * tsan` also runs this file under ThreadSanitizer). */
#include "test_common.h"

#include <pthread.h>
#include <string.h>

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

/* Keys are whole: an (address, userId) key longer than any fixed buffer is
 * not confused with another sharing its first 300 bytes, and a success
 * clearing one key leaves its neighbours' failures alone. */
static void test_long_keys_stay_apart(void **state)
{
	struct ratelimit *rl = ratelimit_new(16, 2, 60);
	char a[400], b[400];

	(void)state;
	memset(a, 'x', sizeof(a) - 2);
	memcpy(b, a, sizeof(b));
	a[sizeof(a) - 2] = 'a';
	b[sizeof(b) - 2] = 'b';
	a[sizeof(a) - 1] = b[sizeof(b) - 1] = '\0';
	ratelimit_fail(rl, a, 0);
	ratelimit_fail(rl, a, 0);
	ratelimit_fail(rl, b, 0);
	assert_true(ratelimit_blocked(rl, a, 0) > 0);
	assert_int_equal(ratelimit_blocked(rl, b, 0), 0);
	ratelimit_clear(rl, b);
	assert_true(ratelimit_blocked(rl, a, 0) > 0);
	ratelimit_free(rl);
}

#define RL_THREADS 4
#define RL_ROUNDS 5000

struct rl_worker {
	struct ratelimit *exact, *above;
	unsigned seen_blocked;
};

static void *rl_hammer(void *arg)
{
	struct rl_worker *w = arg;

	for (int i = 0; i < RL_ROUNDS; i++) {
		w->seen_blocked += ratelimit_blocked(w->exact, "10.0.0.9", 5000) > 0;
		ratelimit_blocked(w->above, "10.0.0.9", 5000);
		ratelimit_fail(w->exact, "10.0.0.9", 5000);
		ratelimit_fail(w->above, "10.0.0.9", 5000);
		ratelimit_fail(w->exact, "other", 5000);
	}
	return NULL;
}

/* Every failure from every thread is counted once: with a budget of exactly
 * the total the client ends blocked, with one more it does not. */
static void test_concurrent_failures_counted_once(void **state)
{
	struct ratelimit *exact = ratelimit_new(8, RL_THREADS * RL_ROUNDS, 60);
	struct ratelimit *above = ratelimit_new(8, RL_THREADS * RL_ROUNDS + 1, 60);
	struct rl_worker w[RL_THREADS];
	pthread_t t[RL_THREADS];

	(void)state;
	for (int i = 0; i < RL_THREADS; i++) {
		w[i] = (struct rl_worker){exact, above, 0};
		assert_int_equal(pthread_create(&t[i], NULL, rl_hammer, &w[i]), 0);
	}
	for (int i = 0; i < RL_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].seen_blocked, 0); /* never blocked before the end */
	}
	assert_int_equal(ratelimit_blocked(exact, "10.0.0.9", 5000), 60);
	assert_int_equal(ratelimit_blocked(above, "10.0.0.9", 5000), 0);
	ratelimit_free(exact);
	ratelimit_free(above);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_budget_per_client),
	    cmocka_unit_test(test_clear_and_evict),
	    cmocka_unit_test(test_long_keys_stay_apart),
	    cmocka_unit_test(test_concurrent_failures_counted_once),
	};
	return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
