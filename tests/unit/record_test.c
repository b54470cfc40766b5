/* record_test.c: format 2 round trips, the read answer taken without a
 * parse, format 1 records still opening, and every way a record must not
 * open (wrong row, version, key, name, a flipped byte). */
#include <jansson.h>
#include <stdlib.h>

#include "test_common.h"

#include "crypto.h"
#include "record.h"

static unsigned char key[CRYPTO_KEY_LEN], id[RECORD_ID_LEN];

static json_t *sample(const char *name)
{
	return json_pack("{s:s,s:s%,s:{s:[i,i],s:s},s:s,s:s}", "key", name, "value",
			 "v\0al \"q\" \\ \n \xe2\x9c\x93", (size_t)16, "metadata", "nested", 1, 2,
			 "note", "x", "updatedAt", "2026-01-01T00:00:00.000Z", "updatedBy",
			 "u\"ser");
}

/* The answer as text, parsed back. */
static json_t *answer(const unsigned char *blob, size_t len, int64_t version, const char *name)
{
	size_t n = 0;
	char *text = record_answer(key, id, version, blob, len, name, strlen(name), &n);
	json_t *o;

	if (text == NULL)
		return NULL;
	assert_int_equal(strlen(text), n);
	o = json_loadb(text, n, JSON_ALLOW_NUL, NULL);
	assert_non_null(o);
	crypto_wipe_free(text);
	return o;
}

static void test_roundtrip_and_answer(void **state)
{
	json_t *rec = sample("db.password"), *o, *a;
	size_t len = 0;
	unsigned char *blob;

	(void)state;
	blob = record_seal(key, id, 3, rec, &len);
	assert_non_null(blob);
	o = record_open(key, id, 3, blob, len);
	assert_true(json_equal(o, rec));
	a = answer(blob, len, 3, "db.password");
	assert_non_null(a);
	assert_int_equal(json_object_size(a), 3);
	assert_true(json_equal(json_object_get(a, "key"), json_object_get(rec, "key")));
	assert_true(json_equal(json_object_get(a, "value"), json_object_get(rec, "value")));
	assert_true(json_equal(json_object_get(a, "metadata"), json_object_get(rec, "metadata")));
	json_decref(a);
	json_decref(o);
	/* the answer is only for the record's own name */
	assert_null(answer(blob, len, 3, "db.passwor"));
	assert_null(answer(blob, len, 3, "db.password2"));
	assert_null(answer(blob, len, 3, "other"));
	/* nor for another row, version or key */
	assert_null(answer(blob, len, 4, "db.password"));
	id[0] ^= 1;
	assert_null(answer(blob, len, 3, "db.password"));
	assert_null(record_open(key, id, 3, blob, len));
	id[0] ^= 1;
	key[5] ^= 1;
	assert_null(answer(blob, len, 3, "db.password"));
	key[5] ^= 1;
	for (size_t i = 0; i < len; i++) {
		blob[i] ^= 0x20;
		assert_null(answer(blob, len, 3, "db.password"));
		assert_null(record_open(key, id, 3, blob, len));
		blob[i] ^= 0x20;
	}
	free(blob);
	json_decref(rec);
}

static void test_metadata_absent_and_names_needing_escapes(void **state)
{
	json_t *rec = json_pack("{s:s,s:s}", "key", "we\"ird\\name", "value", "x"), *a;
	size_t len = 0;
	unsigned char *blob = record_seal(key, id, 1, rec, &len);

	(void)state;
	assert_non_null(blob);
	/* a name the fast path cannot compare still answers, through a parse */
	a = answer(blob, len, 1, "we\"ird\\name");
	assert_non_null(a);
	assert_string_equal(json_string_value(json_object_get(a, "key")), "we\"ird\\name");
	assert_true(json_is_object(json_object_get(a, "metadata")));
	assert_int_equal(json_object_size(json_object_get(a, "metadata")), 0);
	json_decref(a);
	assert_null(answer(blob, len, 1, "we\"ird\\nam"));
	free(blob);
	json_decref(rec);
	/* no record without a string key and value */
	rec = json_pack("{s:s,s:i}", "key", "k", "value", 1);
	assert_null(record_seal(key, id, 1, rec, &len));
	json_decref(rec);
}

/* Seals plaintext as record_seal would, for formats it no longer writes. */
static unsigned char *seal_text(const char *text, int64_t version, size_t *len)
{
	static const char label[] = "groupvault/secret/v1";
	unsigned char aad[sizeof(label) - 1 + RECORD_ID_LEN + 8], *out;
	size_t n = strlen(text);

	memcpy(aad, label, sizeof(label) - 1);
	memcpy(aad + sizeof(label) - 1, id, RECORD_ID_LEN);
	for (int i = 0; i < 8; i++)
		aad[sizeof(aad) - 1 - i] = (unsigned char)((uint64_t)version >> (8 * i));
	out = malloc(n + CRYPTO_SEAL_OVERHEAD);
	assert_int_equal(crypto_seal(key, aad, sizeof(aad), text, n, out), 0);
	*len = n + CRYPTO_SEAL_OVERHEAD;
	return out;
}

static void test_format1_still_opens(void **state)
{
	/* members in an order format 2 never uses, metadata absent */
	const char *v1 = "{\"updatedBy\":\"a\",\"value\":\"s3cret\",\"key\":\"api\"}";
	size_t len = 0;
	unsigned char *blob = seal_text(v1, 2, &len);
	json_t *o = record_open(key, id, 2, blob, len), *a;

	(void)state;
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "value")), "s3cret");
	a = answer(blob, len, 2, "api");
	assert_non_null(a);
	assert_string_equal(json_string_value(json_object_get(a, "value")), "s3cret");
	assert_int_equal(json_object_size(json_object_get(a, "metadata")), 0);
	assert_null(answer(blob, len, 2, "ap"));
	json_decref(a);
	json_decref(o);
	free(blob);
}

static void test_malformed_plaintexts_refused(void **state)
{
	static const char *bad[] = {
	    "",
	    "\x02",
	    "\x02{\"key\":\"k\",\"value\":\"v\",\"metadata\":{}}", /* no second text */
	    "\x02[1]\n{}",
	    "\x02{\"value\":\"v\",\"key\":\"k\"}\n{", /* not the answer's shape */
	    "[\"key\"]",
	    "{\"key\":\"k\",\"key\":\"k\",\"value\":\"v\"}", /* duplicate member */
	};
	/* Format 2 with the answer's prefix: a read answers from the first text
	 * as sealed (the tag vouches for it), a full open parses both. */
	static const char *open_only[] = {
	    "\x02{\"key\":\"k\",\"value\":\"v\"}\nnot json",
	    "\x02{\"key\":\"k\",\"value\":1}\n{}",
	};
	size_t len = 0;
	unsigned char *blob;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		blob = seal_text(bad[i], 1, &len);
		assert_null(record_open(key, id, 1, blob, len));
		assert_null(answer(blob, len, 1, "k"));
		free(blob);
	}
	for (size_t i = 0; i < sizeof(open_only) / sizeof(*open_only); i++) {
		blob = seal_text(open_only[i], 1, &len);
		assert_null(record_open(key, id, 1, blob, len));
		free(blob);
	}
	assert_null(record_open(key, id, 1, (const unsigned char *)"short", 5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_and_answer),
	    cmocka_unit_test(test_metadata_absent_and_names_needing_escapes),
	    cmocka_unit_test(test_format1_still_opens),
	    cmocka_unit_test(test_malformed_plaintexts_refused),
	};

	if (crypto_init() != 0)
		return 1;
	crypto_random(key, sizeof(key));
	crypto_random(id, sizeof(id));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
