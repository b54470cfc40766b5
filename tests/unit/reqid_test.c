/* reqid_test.c: which client ids are kept, what a generated id looks like,
 * and that the current id belongs to one thread only. */
#include "test_common.h"

#include <pthread.h>

#include "reqid.h"

static int all_hex(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

static void test_valid(void **state)
{
	char max[REQID_MAX + 2];

	(void)state;
	assert_true(reqid_valid("abc-123_X.y", 11));
	assert_false(reqid_valid("", 0));
	assert_false(reqid_valid(NULL, 3));
	assert_false(reqid_valid("a b", 3));
	assert_false(reqid_valid("a\"b", 3));
	assert_false(reqid_valid("a\nb", 3));
	assert_false(reqid_valid("a/b", 3));
	assert_false(reqid_valid("a\0b", 3));
	assert_false(reqid_valid("caf\xc3\xa9", 5));
	memset(max, 'x', sizeof(max));
	assert_true(reqid_valid(max, REQID_MAX));
	assert_false(reqid_valid(max, REQID_MAX + 1));
}

static void test_take(void **state)
{
	char a[REQID_MAX + 1], b[REQID_MAX + 1], longer[REQID_MAX + 2];

	(void)state;
	assert_int_equal(reqid_take("trace-42", a), 0);
	assert_string_equal(a, "trace-42");
	/* Refused ids are replaced, never trimmed or escaped. */
	const char *bad[] = {NULL, "", "has space", "quote\"d", "line\r\nbreak", "%41"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(reqid_take(bad[i], a), 0);
		assert_int_equal(strlen(a), REQID_GEN_LEN);
		assert_true(all_hex(a));
	}
	memset(longer, 'y', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(reqid_take(longer, a), 0);
	assert_int_equal(strlen(a), REQID_GEN_LEN);
	longer[REQID_MAX] = '\0';
	assert_int_equal(reqid_take(longer, a), 0);
	assert_int_equal(strlen(a), REQID_MAX);
	/* Two generated ids differ. */
	reqid_take(NULL, a);
	reqid_take(NULL, b);
	assert_string_not_equal(a, b);
}

static void *other_thread(void *arg)
{
	const char **seen = arg;

	seen[0] = reqid_get();
	reqid_set("theirs");
	seen[1] = reqid_get() != NULL && strcmp(reqid_get(), "theirs") == 0 ? "ok" : "bad";
	return NULL;
}

static void test_current(void **state)
{
	const char *seen[2] = {"unset", "unset"};
	pthread_t t;

	(void)state;
	assert_null(reqid_get());
	reqid_set("mine");
	assert_string_equal(reqid_get(), "mine");
	assert_int_equal(pthread_create(&t, NULL, other_thread, seen), 0);
	pthread_join(t, NULL);
	assert_null(seen[0]); /* another thread does not see ours */
	assert_string_equal(seen[1], "ok");
	assert_string_equal(reqid_get(), "mine"); /* nor changes it */
	reqid_set("");
	assert_null(reqid_get());
	reqid_set("again");
	reqid_set(NULL);
	assert_null(reqid_get());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_take),
	    cmocka_unit_test(test_current),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
