/* redact_test.c: library messages lose every string argument and keep
 * their numbers, with the va_list kept in step across mixed types. */
#include "test_common.h"

#include "redact.h"

static size_t fmt(char *out, size_t len, const char *f, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, f);
	n = redact_vformat(out, len, f, ap);
	va_end(ap);
	return n;
}

static void test_strings_redacted(void **state)
{
	char out[256];

	(void)state;
	fmt(out, sizeof(out), "Failed to send data in request for `%s'.\n", "/secrets/db-password");
	assert_string_equal(out, "Failed to send data in request for `" REDACT_MARK "'.");
	assert_null(strstr(out, "db-password"));
	fmt(out, sizeof(out), "%.*s|%c|%p", 3, "secret", 'x', (void *)out);
	assert_string_equal(out, REDACT_MARK "|" REDACT_MARK "|" REDACT_MARK);
}

static void test_numbers_kept_in_step(void **state)
{
	char out[256];

	(void)state;
	fmt(out, sizeof(out), "a %d b %s c %llu d %zu e %lx f %u%%", -5, "name", 12345678901ULL,
	    (size_t)7, 255UL, 9u);
	assert_string_equal(out, "a -5 b " REDACT_MARK " c 12345678901 d 7 e ff f 9%");
	fmt(out, sizeof(out), "%5.2f then %d", 1.5, 42);
	assert_string_equal(out, "1.5 then 42");
}

static void test_one_line_and_truncated(void **state)
{
	char out[16];

	(void)state;
	fmt(out, sizeof(out), "x\r\ny\x1b[2J %s\n", "z");
	assert_null(strchr(out, '\r'));
	assert_null(strchr(out, '\n'));
	assert_null(strchr(out, '\x1b'));
	assert_int_equal(fmt(out, sizeof(out), "%s%s%s", "a", "b", "c"), 15);
	assert_int_equal(strlen(out), 15);
	/* An unknown conversion drops the rest rather than misread the args. */
	fmt(out, sizeof(out), "ok %w %s", "x");
	assert_string_equal(out, "ok");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strings_redacted),
	    cmocka_unit_test(test_numbers_kept_in_step),
	    cmocka_unit_test(test_one_line_and_truncated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
