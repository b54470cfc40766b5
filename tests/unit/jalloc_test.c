/* jalloc_test.c: the jansson hook is explicit and checkable, and
 * jalloc_dump returns a wipe-on-free buffer holding exactly the JSON. */
#include "test_common.h"

#include <stdlib.h>

#include "crypto.h"
#include "jalloc.h"

static void *plain_malloc(size_t n) { return malloc(n); }
static void plain_free(void *p) { free(p); }

static void test_ready_tracks_the_hook(void **state)
{
	(void)state;
	json_set_alloc_funcs(plain_malloc, plain_free);
	assert_false(jalloc_ready());
	jalloc_init();
	assert_true(jalloc_ready());
}

static void test_dump(void **state)
{
	json_t *j;
	char *text;
	size_t len = 0;

	(void)state;
	jalloc_init();
	j = json_pack("{s:s,s:i}", "value", "s3cr\"et", "n", 7);
	text = jalloc_dump(j, &len);
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	assert_string_equal(text, "{\"value\":\"s3cr\\\"et\",\"n\":7}");
	/* Allocated by crypto_wipe_malloc: crypto_wipe_free accepts it (ASan
	 * would flag a mismatched free). */
	crypto_wipe_free(text);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ready_tracks_the_hook),
	    cmocka_unit_test(test_dump),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
