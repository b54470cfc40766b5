/* clientaddr_test.c: the client address behind N trusted proxies is the
 * Nth X-Forwarded-For hop from the right, across header lines; anything
 * else (too few hops, not an address) is refused so the caller falls back
 * to the socket's peer. */
#include "test_common.h"

#include "clientaddr.h"

static int pick(const char *const *vals, size_t n, unsigned hops, char *out)
{
	return clientaddr_from_xff(vals, n, hops, out, 64);
}

static void test_rightmost_hops(void **state)
{
	const char *one[] = {"203.0.113.9, 10.0.0.7"};
	const char *two[] = {"1.1.1.1,10.0.0.7", "  192.168.0.1  "};
	char out[64];

	(void)state;
	assert_int_equal(pick(one, 1, 1, out), 0);
	assert_string_equal(out, "10.0.0.7");
	assert_int_equal(pick(one, 1, 2, out), 0);
	assert_string_equal(out, "203.0.113.9");
	assert_int_equal(pick(two, 2, 1, out), 0);
	assert_string_equal(out, "192.168.0.1");
	assert_int_equal(pick(two, 2, 2, out), 0);
	assert_string_equal(out, "10.0.0.7");
	assert_int_equal(pick(two, 2, 3, out), 0);
	assert_string_equal(out, "1.1.1.1");
	assert_int_equal(pick(two, 2, 4, out), -1); /* fewer hops than proxies */
	assert_int_equal(pick(two, 2, 0, out), -1);
}

static void test_only_addresses(void **state)
{
	const char *bad[] = {"10.0.0.7, evil\r\nx", "10.0.0.7, ", "10.0.0.7, [::1]:80",
			     "10.0.0.7, 10.0.0.256"};
	const char *v6[] = {"2001:DB8:0:0::1"};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pick(&bad[i], 1, 1, out), -1);
	assert_int_equal(pick(v6, 1, 1, out), 0);
	assert_string_equal(out, "2001:db8::1"); /* canonical: one key per address */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rightmost_hops),
	    cmocka_unit_test(test_only_addresses),
	};
	return cmocka_run_group_tests_name("clientaddr", tests, NULL, NULL);
}
