/* enc_test.c: base64 (RFC 4648 vectors, strictness) and hex. */
#include <stdio.h>

#include "test_common.h"

#include "enc.h"

static void test_b64_rfc4648(void **state)
{
	static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	static const char *url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	char out[32];
	unsigned char back[32];
	size_t n;

	(void)state;
	for (int i = 0; i < 7; i++) {
		size_t len = strlen(in[i]);
		enc_b64_encode((const unsigned char *)in[i], len, out, 0);
		assert_string_equal(out, std[i]);
		assert_int_equal(enc_b64_len(len, 0), strlen(std[i]) + 1);
		assert_int_equal(enc_b64_decode(out, strlen(out), back, &n, 0), 0);
		assert_int_equal(n, len);
		assert_memory_equal(back, in[i], len);
		enc_b64_encode((const unsigned char *)in[i], len, out, 1);
		assert_string_equal(out, url[i]);
		assert_int_equal(enc_b64_len(len, 1), strlen(url[i]) + 1);
		assert_int_equal(enc_b64_decode(out, strlen(out), back, &n, 1), 0);
		assert_int_equal(n, len);
	}
}

static void test_b64_rejects(void **state)
{
	static const char *bad_std[] = {"Zg=",	"Zg",	"Z===", "Zh==",	    "Zm9=",    "Zm9v\n",
					"Zm 9", "Zm-v", "=Zm9", "Zg==Zg==", "Zm8=Zm8="};
	/* "Zh" and "Zm9" carry non-zero trailing bits: not canonical. */
	static const char *bad_url[] = {"Z", "Zh", "Zm9", "Zg==", "Zm+v", "Zm/v"};
	unsigned char back[32];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_std) / sizeof(*bad_std); i++)
		assert_int_equal(enc_b64_decode(bad_std[i], strlen(bad_std[i]), back, &n, 0), -1);
	for (size_t i = 0; i < sizeof(bad_url) / sizeof(*bad_url); i++)
		assert_int_equal(enc_b64_decode(bad_url[i], strlen(bad_url[i]), back, &n, 1), -1);
}

static void test_hex_codec(void **state)
{
	unsigned char in[4] = {0x00, 0xab, 0x7f, 0xff}, back[4];
	char out[9];

	(void)state;
	enc_hex_encode(in, 4, out);
	assert_string_equal(out, "00ab7fff");
	assert_int_equal(enc_hex_decode(out, 8, back), 0);
	assert_memory_equal(back, in, 4);
	assert_int_equal(enc_hex_decode("0g", 2, back), -1);
	assert_int_equal(enc_hex_decode("abc", 3, back), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_b64_rfc4648),
	    cmocka_unit_test(test_b64_rejects),
	    cmocka_unit_test(test_hex_codec),
	};
	return cmocka_run_group_tests_name("enc", tests, NULL, NULL);
}
