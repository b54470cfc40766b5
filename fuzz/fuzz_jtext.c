/* fuzz_jtext.c: the audit-entry writer takes client-controlled strings
 * (user ids, forwarded addresses). Invariants: whatever the bytes, the text
 * parses as JSON; valid UTF-8 comes back byte for byte; the worst-case bound
 * JTEXT_STR_MAX always suffices. */
#include <assert.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jtext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = JTEXT_STR_MAX(size) + 3;
	char *buf = malloc(cap);
	struct jtext t;
	json_t *a, *in;

	assert(buf != NULL);
	jtext_init(&t, buf, cap);
	jtext_raw(&t, "[", 1);
	jtext_str(&t, (const char *)data, size);
	jtext_raw(&t, "]", 1);
	assert(jtext_end(&t) == 0);
	a = json_loadb(buf, t.len, JSON_ALLOW_NUL, NULL);
	assert(json_is_string(json_array_get(a, 0)));
	/* jansson takes the input as a string only if it is valid UTF-8 */
	in = json_stringn((const char *)data, size);
	if (in != NULL)
		assert(json_equal(json_array_get(a, 0), in));
	else /* invalid input: what could not stay became U+FFFD */
		assert(memmem(json_string_value(json_array_get(a, 0)),
			      json_string_length(json_array_get(a, 0)), "\xef\xbf\xbd", 3) != NULL);
	json_decref(in);
	json_decref(a);
	free(buf);
	return 0;
}
