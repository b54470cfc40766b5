/* util_test.c: the secret-name rule, timestamps and UTF-8 counting. */
#include "test_common.h"

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
	assert_true(util_now_ms() > 1700000000000LL);
	assert_true(util_mono_ms() >= 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_iso8601),
	    cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
