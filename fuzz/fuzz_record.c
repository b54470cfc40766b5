/* fuzz_record.c: the store's record opener. Invariants: a blob opens only
 * under its own row id and version; anything we seal opens back to the same
 * tree, and a read's answer is exactly its key, value and metadata; one
 * flipped byte never opens. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "jalloc.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char key[32] = "fuzz-data-key-0123456789abcdefg";
static const unsigned char id[32] = "fuzz-row-id-0123456789abcdefghi";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	json_t *o, *rec, *md, *ans;
	unsigned char *blob;
	size_t len, alen = 0;
	char *text;

	if (!ready) {
		jalloc_init();
		ready = 1;
	}
	/* Arbitrary bytes as a stored blob: a forgery never opens. */
	o = record_open(key, id, 1, data, size);
	assert(o == NULL);
	/* Arbitrary JSON as a record value: seal, open, compare, tamper. */
	md = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
	if (!json_is_object(md)) { /* the input as metadata when it is an object */
		json_decref(md);
		md = json_object();
	}
	rec = json_pack("{s:s,s:s%,s:o,s:s}", "key", "k", "value", (const char *)data, size,
			"metadata", md, "updatedBy", "fuzz");
	if (rec == NULL) /* not valid UTF-8 */
		return 0;
	blob = record_seal(key, id, 7, rec, &len);
	assert(blob != NULL);
	o = record_open(key, id, 7, blob, len);
	assert(o != NULL && json_equal(o, rec));
	json_decref(o);
	text = record_answer(key, id, 7, blob, len, "k", 1, &alen);
	assert(text != NULL && strlen(text) == alen);
	ans = json_loadb(text, alen, JSON_ALLOW_NUL, NULL);
	assert(json_object_size(ans) == 3 &&
	       json_equal(json_object_get(ans, "key"), json_object_get(rec, "key")) &&
	       json_equal(json_object_get(ans, "value"), json_object_get(rec, "value")) &&
	       json_equal(json_object_get(ans, "metadata"), json_object_get(rec, "metadata")));
	json_decref(ans);
	crypto_wipe_free(text);
	assert(record_answer(key, id, 7, blob, len, "j", 1, &alen) == NULL);
	assert(record_open(key, id, 8, blob, len) == NULL);
	blob[size % len] ^= 0x20;
	assert(record_open(key, id, 7, blob, len) == NULL);
	free(blob);
	json_decref(rec);
	return 0;
}
