/* reqid_test.c: which client ids are kept, what a generated id looks like,
 * and that the current id belongs to one thread only. */
#include "test_common.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void *first_id(void *arg)
{
	reqid_take(NULL, arg);
	return NULL;
}

/* Generated ids never repeat within a thread (100,000 in a row), and two
 * threads do not start from the same id. */
static void test_generated_unique(void **state)
{
	enum { N = 100000 };
	uint64_t *ids = malloc(N * sizeof(*ids));
	char a[REQID_MAX + 1], t1[REQID_MAX + 1], t2[REQID_MAX + 1];
	pthread_t p1, p2;

	(void)state;
	assert_non_null(ids);
	for (int i = 0; i < N; i++) {
		assert_int_equal(reqid_take(NULL, a), 0);
		assert_true(all_hex(a) && strlen(a) == REQID_GEN_LEN);
		ids[i] = strtoull(a, NULL, 16);
	}
	qsort(ids, N, sizeof(*ids), cmp_u64);
	for (int i = 1; i < N; i++)
		assert_true(ids[i] != ids[i - 1]);
	free(ids);
	assert_int_equal(pthread_create(&p1, NULL, first_id, t1), 0);
	assert_int_equal(pthread_create(&p2, NULL, first_id, t2), 0);
	pthread_join(p1, NULL);
	pthread_join(p2, NULL);
	assert_string_not_equal(t1, t2);
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
	    cmocka_unit_test(test_generated_unique),
	    cmocka_unit_test(test_current),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
