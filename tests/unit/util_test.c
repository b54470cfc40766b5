/* util_test.c: the secret-name rule, timestamps, UTF-8 counting and the
 * clocks measured against a real sleep. */
#include "test_common.h"

#include <time.h>

#include "util.h"

static void test_names(void **state)
{
	char long_name[257];

	(void)state;
	assert_true(util_valid_name("api-key", 7));
	assert_true(util_valid_name("A.b_c-9", 7));
	assert_true(util_valid_name("__proto__", 9));
	assert_true(util_valid_name("..", 2));
	assert_false(util_valid_name("", 0));
	assert_false(util_valid_name("a b", 3));
	assert_false(util_valid_name("a/b", 3));
	assert_false(util_valid_name("a\0b", 3));
	assert_false(util_valid_name("caf\xc3\xa9", 5));
	memset(long_name, 'x', sizeof(long_name));
	assert_true(util_valid_name(long_name, 255));
	assert_false(util_valid_name(long_name, 256));
}

static void test_iso8601(void **state)
{
	char buf[32];

	(void)state;
	util_iso8601(1795862279126LL, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-28T10:37:59.126Z");
	util_iso8601(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

static void test_utf8(void **state)
{
	(void)state;
	assert_int_equal(util_utf8_chars("abc", 3), 3);
	assert_int_equal(util_utf8_chars("\xc3\xbc\xe2\x9c\x93", 5), 2);
}

/* Both clocks move forward by about the time actually slept, and the
 * monotonic one never goes back across many reads. */
static void test_clocks(void **state)
{
	struct timespec nap = {0, 120 * 1000000L};
	int64_t m0, m1, w0, w1, prev;

	(void)state;
	w0 = util_now_ms();
	m0 = util_mono_ms();
	assert_true(w0 > 1700000000000LL); /* after 2023: a real epoch in ms */
	assert_int_equal(nanosleep(&nap, NULL), 0);
	m1 = util_mono_ms();
	w1 = util_now_ms();
	assert_true(m1 - m0 >= 120);
	assert_true(m1 - m0 < 5000);
	assert_true(w1 - w0 >= 100); /* the wall clock may be stepped; be loose */
	assert_true(w1 - w0 < 5000);
	prev = m1;
	for (int i = 0; i < 100000; i++) {
		int64_t now = util_mono_ms();
		assert_true(now >= prev);
		prev = now;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_iso8601),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_clocks),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
