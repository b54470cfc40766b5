/* fuzz_token.c: capability token verification. Invariants: an arbitrary
 * input verifies only if it is byte-for-byte a token we signed; a token we
 * sign over any payload object verifies and yields that payload's fields;
 * flipping any byte of it makes it fail. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jalloc.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char key[32] = "fuzz-signing-key-0123456789abcd";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct cap *c;
	json_t *p;

	if (!ready) {
		jalloc_init();
		ready = 1;
	}
	/* 1. The raw input as a token. */
	c = token_verify(key, sizeof(key), (const char *)data, size);
	if (c != NULL) {
		/* Only possible if the input is a token signed with our key: our
		 * signer, given its payload, must produce exactly the input. */
		char *again = token_sign(key, sizeof(key), c->payload);
		assert(again != NULL && strlen(again) == size && memcmp(again, data, size) == 0);
		token_cap_free(c);
		free(again);
	}
	/* 2. The input as a payload we sign ourselves. */
	p = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(p)) {
		char *tok = token_sign(key, sizeof(key), p);
		size_t len;
		assert(tok != NULL);
		len = strlen(tok);
		c = token_verify(key, sizeof(key), tok, len);
		if (c != NULL) {
			assert(strcmp(c->id, json_string_value(json_object_get(p, "id"))) == 0);
			assert(strcmp(c->user_id,
				      json_string_value(json_object_get(p, "userId"))) == 0);
			assert(c->expires_at ==
			       json_integer_value(json_object_get(p, "expiresAt")));
			token_cap_free(c);
		}
		if (len > 0) {
			size_t at = size % len;
			tok[at] = tok[at] == 'A' ? 'B' : 'A';
			c = token_verify(key, sizeof(key), tok, len);
			assert(c == NULL);
		}
		free(tok);
	}
	json_decref(p);
	return 0;
}
