/* jtext_test.c: JSON string escaping (checked by parsing the result back
 * with jansson), invalid UTF-8 replaced, and bounds. */
#include <jansson.h>
#include <stdlib.h>

#include "test_common.h"

#include "jtext.h"

/* Writes s as a JSON string and parses it back as a one-element array. */
static json_t *roundtrip(const char *s, size_t n, char *out, size_t cap)
{
	struct jtext t;
	json_t *a;

	jtext_init(&t, out, cap);
	jtext_raw(&t, "[", 1);
	jtext_str(&t, s, n);
	jtext_raw(&t, "]", 1);
	assert_int_equal(jtext_end(&t), 0);
	assert_int_equal(strlen(out), t.len);
	a = json_loads(out, JSON_ALLOW_NUL, NULL);
	assert_non_null(a);
	return a;
}

static void test_valid_strings_survive(void **state)
{
	static const char *cases[] = {
	    "",
	    "plain",
	    "quote \" and backslash \\ and slash /",
	    "tab\tnewline\nreturn\rbell\a",
	    "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x94\x91", /* 2-, 3- and 4-byte sequences */
	    "\x7f",
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		json_t *a = roundtrip(cases[i], strlen(cases[i]), out, sizeof(out));
		assert_string_equal(json_string_value(json_array_get(a, 0)), cases[i]);
		json_decref(a);
	}
	/* an embedded NUL is escaped, not a terminator */
	json_t *a = roundtrip("a\0b", 3, out, sizeof(out));
	assert_int_equal(json_string_length(json_array_get(a, 0)), 3);
	assert_memory_equal(json_string_value(json_array_get(a, 0)), "a\0b", 3);
	assert_non_null(strstr(out, "\\u0000"));
	json_decref(a);
}

static void test_invalid_utf8_replaced(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"\xff", "\xef\xbf\xbd"},				      /* never valid */
	    {"a\x80z", "a\xef\xbf\xbdz"},			      /* lone continuation */
	    {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},		      /* overlong '/' */
	    {"\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong */
	    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
	    {"\xf4\x90\x80\x80",
	     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
	    {"\xe2\x9c", "\xef\xbf\xbd\xef\xbf\xbd"},		  /* truncated at the end */
	    {"\xe2\x9cx", "\xef\xbf\xbd\xef\xbf\xbdx"},		  /* truncated in the middle */
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		json_t *a = roundtrip(cases[i].in, strlen(cases[i].in), out, sizeof(out));
		assert_string_equal(json_string_value(json_array_get(a, 0)), cases[i].want);
		json_decref(a);
	}
}

static void test_every_byte_pair_parses(void **state)
{
	char in[2], out[64];

	(void)state;
	for (int a = 0; a < 256; a++)
		for (int b = 0; b < 256; b++) {
			in[0] = (char)a;
			in[1] = (char)b;
			json_decref(roundtrip(in, 2, out, sizeof(out)));
		}
}

static void test_bounds(void **state)
{
	char out[16];
	struct jtext t;

	(void)state;
	jtext_init(&t, out, sizeof(out));
	jtext_str(&t, "ab", 2); /* needs 6*2+2 = 14 */
	assert_int_equal(t.overflow, 0);
	assert_int_equal(jtext_end(&t), 0);
	assert_string_equal(out, "\"ab\"");
	jtext_raw(&t, "0123456789ab", 12); /* 4 + 12 = 16: no room for the NUL */
	assert_int_equal(jtext_end(&t), -1);
	jtext_init(&t, out, sizeof(out));
	jtext_str(&t, "abc", 3); /* worst case 20 > 16: refused up front */
	assert_int_equal(t.overflow, 1);
	jtext_raw(&t, "x", 1); /* stays refused */
	assert_int_equal(jtext_end(&t), -1);
	jtext_init(&t, out, sizeof(out));
	jtext_raw(&t, out, (size_t)-1);
	assert_int_equal(jtext_end(&t), -1);
	jtext_init(&t, out, sizeof(out));
	jtext_str(&t, out, (size_t)-1 / 2);
	assert_int_equal(jtext_end(&t), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_strings_survive),
	    cmocka_unit_test(test_invalid_utf8_replaced),
	    cmocka_unit_test(test_every_byte_pair_parses),
	    cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
