/* crypto_test.c: known-answer vectors (RFC 9106 Argon2id, the GCM spec's
 * AES-256 case, RFC 4231 HMAC, the original service's derived key) and
 * tamper cases for every part of a sealed box. */
#include <stdio.h>

#include "test_common.h"

#include <stdlib.h>

#include "crypto.h"

static void test_argon2id_rfc9106(void **state)
{
	/* RFC 9106 section 5.3: Argon2id, t=3, m=32 KiB, p=4, with secret and AD. */
	unsigned char pw[32], salt[16], secret[8], ad[12], out[32], want[32];
	struct crypto_kdf kdf = {32, 3, 4};

	(void)state;
	memset(pw, 1, sizeof(pw));
	memset(salt, 2, sizeof(salt));
	memset(secret, 3, sizeof(secret));
	memset(ad, 4, sizeof(ad));
	test_hex("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659", want);
	assert_int_equal(crypto_argon2id_raw(&kdf, pw, sizeof(pw), salt, sizeof(salt), secret,
					     sizeof(secret), ad, sizeof(ad), out, sizeof(out)),
			 0);
	assert_memory_equal(out, want, 32);
}

static void test_argon2id_ocmt_vector(void **state)
{
	/* The original service's export: password and derived key from vectors/. */
	const char *pw = "correct horse battery staple 42";
	unsigned char salt[16], out[32], want[32];
	struct crypto_kdf kdf = {65536, 3, 4};
	static const unsigned char salt_b64_decoded[16] = {0xbd, 0xac, 0xe8, 0x95, 0x27, 0x1c,
							   0xe5, 0xb1, 0x45, 0x44, 0x45, 0x42,
							   0xff, 0xde, 0xaa, 0xd2};

	(void)state;
	memcpy(salt, salt_b64_decoded, 16);
	test_hex("a5c08715b589d270d9914c6f816040fb856379ca619d2eeed076200899c03f4a", want);
	assert_int_equal(crypto_argon2id(&kdf, pw, strlen(pw), salt, 16, out, 32), 0);
	assert_memory_equal(out, want, 32);
}

static void test_kdf_bounds(void **state)
{
	struct crypto_kdf ok = {65536, 3, 4}, big = {1u << 30, 3, 4}, zero = {65536, 0, 4};
	struct crypto_kdf lanes = {65536, 3, 64}, small = {512, 3, 4};
	unsigned char out[32];

	(void)state;
	assert_true(crypto_kdf_valid(&ok));
	assert_false(crypto_kdf_valid(&big));
	assert_false(crypto_kdf_valid(&zero));
	assert_false(crypto_kdf_valid(&lanes));
	assert_false(crypto_kdf_valid(&small));
	assert_int_equal(
	    crypto_argon2id(&big, "pw", 2, (const unsigned char *)"0123456789abcdef", 16, out, 32),
	    -1);
}

static void test_gcm_spec_case16(void **state)
{
	unsigned char key[32], iv[12], aad[20], pt[60], ct[60], tag[16], want_ct[60], want_tag[16];
	unsigned char back[60];

	(void)state;
	test_hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key);
	test_hex("cafebabefacedbaddecaf888", iv);
	test_hex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad);
	test_hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		 "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		 pt);
	test_hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
		 "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
		 want_ct);
	test_hex("76fc6ece0f4e1768cddf8853bb2d551b", want_tag);
	assert_int_equal(crypto_gcm_encrypt(key, iv, aad, sizeof(aad), pt, sizeof(pt), ct, tag), 0);
	assert_memory_equal(ct, want_ct, sizeof(ct));
	assert_memory_equal(tag, want_tag, sizeof(tag));
	assert_int_equal(crypto_gcm_decrypt(key, iv, aad, sizeof(aad), ct, sizeof(ct), tag, back),
			 0);
	assert_memory_equal(back, pt, sizeof(pt));
}

static void test_hmac_rfc4231(void **state)
{
	unsigned char key1[20], out[32], want[32];

	(void)state;
	memset(key1, 0x0b, sizeof(key1));
	test_hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", want);
	assert_int_equal(crypto_hmac_sha256(key1, sizeof(key1), "Hi There", 8, out), 0);
	assert_memory_equal(out, want, 32);
	test_hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want);
	assert_int_equal(crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, out), 0);
	assert_memory_equal(out, want, 32);
	/* The two-part form equals the one-part form over the concatenation. */
	assert_int_equal(
	    crypto_hmac_sha256_2("Jefe", 4, "what do ya ", 11, "want for nothing?", 17, out), 0);
	assert_memory_equal(out, want, 32);
}

/* RFC 4231 cases 6 and 7: a key longer than a block is hashed first. A
 * prepared key gives the one-shot answer, again and again (using it does
 * not change it), and SHA-256 itself meets FIPS 180's "abc". */
static void test_mac_key_prepared(void **state)
{
	static const char d6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	static const char d7[] = "This is a test using a larger than block-size key and a larger "
				 "than block-size data. The key needs to be hashed before being "
				 "used by the HMAC algorithm.";
	unsigned char key[131], out[32], want[32], again[32];
	struct crypto_mac_key mk, copy;

	(void)state;
	memset(key, 0xaa, sizeof(key));
	test_hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", want);
	assert_int_equal(crypto_hmac_sha256(key, sizeof(key), d6, strlen(d6), out), 0);
	assert_memory_equal(out, want, 32);
	assert_int_equal(crypto_mac_key_set(&mk, key, sizeof(key)), 0);
	memcpy(&copy, &mk, sizeof(mk));
	for (int i = 0; i < 3; i++) {
		memset(out, 0, sizeof(out));
		assert_int_equal(crypto_mac_sha256(&mk, d6, strlen(d6), NULL, 0, out), 0);
		assert_memory_equal(out, want, 32);
	}
	assert_memory_equal(&mk, &copy, sizeof(mk));
	test_hex("9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", want);
	assert_int_equal(crypto_mac_sha256(&mk, d7, 40, d7 + 40, strlen(d7) - 40, out), 0);
	assert_memory_equal(out, want, 32);
	assert_int_equal(crypto_hmac_sha256_2(key, sizeof(key), d7, 7, d7 + 7, strlen(d7) - 7, again),
			 0);
	assert_memory_equal(again, want, 32);
	/* Empty message and empty key are still HMACs (no shortcut). */
	assert_int_equal(crypto_mac_key_set(&mk, "", 0), 0);
	assert_int_equal(crypto_mac_sha256(&mk, NULL, 0, NULL, 0, out), 0);
	test_hex("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad", want);
	assert_memory_equal(out, want, 32);
	crypto_mac_key_wipe(&mk);
	for (size_t i = 0; i < sizeof(mk.state); i++)
		assert_int_equal(mk.state[i], 0);
	test_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want);
	assert_int_equal(crypto_sha256("abc", 3, out), 0);
	assert_memory_equal(out, want, 32);
}

static void test_seal_roundtrip_and_tamper(void **state)
{
	unsigned char key[32], other[32], box[64 + CRYPTO_SEAL_OVERHEAD], out[64],
	    copy[sizeof(box)];
	const char *msg = "the quick brown fox jumps over the lazy dog, twice!";
	size_t len = strlen(msg), blen = len + CRYPTO_SEAL_OVERHEAD;
	const char *aad = "row-1";

	(void)state;
	assert_int_equal(crypto_random(key, sizeof(key)), 0);
	memcpy(other, key, sizeof(key));
	other[0] ^= 1;
	assert_int_equal(crypto_seal(key, aad, 5, msg, len, box), 0);
	assert_int_equal(crypto_open(key, aad, 5, box, blen, out), 0);
	assert_memory_equal(out, msg, len);
	/* Every single-bit flip anywhere in nonce, ciphertext or tag fails. */
	for (size_t i = 0; i < blen; i++) {
		memcpy(copy, box, blen);
		copy[i] ^= 0x01;
		assert_int_equal(crypto_open(key, aad, 5, copy, blen, out), -1);
	}
	/* Wrong AAD (a record moved to another row), wrong key, truncation. */
	assert_int_equal(crypto_open(key, "row-2", 5, box, blen, out), -1);
	assert_int_equal(crypto_open(other, aad, 5, box, blen, out), -1);
	assert_int_equal(crypto_open(key, aad, 5, box, blen - 1, out), -1);
	assert_int_equal(crypto_open(key, aad, 5, box, CRYPTO_SEAL_OVERHEAD - 1, out), -1);
	/* Two seals of the same text differ (fresh nonces). */
	assert_int_equal(crypto_seal(key, aad, 5, msg, len, copy), 0);
	assert_memory_not_equal(copy, box, blen);
}

static void test_equal(void **state)
{
	(void)state;
	assert_true(crypto_equal("abcd", "abcd", 4));
	assert_false(crypto_equal("abcd", "abce", 4));
	assert_true(crypto_equal_str("token", 5, "token", 5));
	assert_false(crypto_equal_str("token", 5, "token!", 6));
	assert_false(crypto_equal_str("", 0, "x", 1));
	assert_false(crypto_equal_str("tokeN", 5, "token", 5));
}

/* This binary is linked with -Wl,--wrap=free: every free() made by our own
 * objects comes here first. While `watch` is set, the hook checks that the
 * block being freed (the one that holds watch) is all zero by then, i.e.
 * that crypto_wipe_free wiped it before handing it back. */
void __real_free(void *p);
void __wrap_free(void *p);

static const unsigned char *watch;
static size_t watch_len;
/* volatile: the compiler takes free() for the library's, which touches no
 * variable of ours, and would otherwise not reload these after a free. */
static volatile int watch_seen, watch_wiped;

void __wrap_free(void *p)
{
	const unsigned char *base = p;

	if (watch != NULL && base != NULL && base <= watch && watch - base <= 64) {
		watch_seen++;
		watch_wiped = 1;
		for (const unsigned char *q = base; q < watch + watch_len; q++)
			if (*q != 0)
				watch_wiped = 0;
	}
	__real_free(p);
}

static void test_wipe_free_wipes(void **state)
{
	char *w = crypto_wipe_malloc(100);
	char *plain = malloc(100);

	(void)state;
	assert_non_null(w);
	memset(w, 'x', 100);
	watch = (const unsigned char *)w;
	watch_len = 100;
	crypto_wipe_free(w);
	assert_int_equal(watch_seen, 1); /* the block really went to free() */
	assert_true(watch_wiped);	 /* ...and held only zeros by then */

	/* The hook can tell: a plain free() of a filled block is not a wipe. */
	assert_non_null(plain);
	for (volatile char *v = plain; v < plain + 100; v++)
		*v = 'y'; /* volatile: the compiler may not drop stores before free */
	watch = (const unsigned char *)plain;
	watch_seen = 0;
	free(plain);
	assert_int_equal(watch_seen, 1);
	assert_false(watch_wiped);
	watch = NULL;
	crypto_wipe_free(NULL);
}

static void test_secure_alloc(void **state)
{
	unsigned char *k = crypto_secure_alloc(32);

	(void)state;
	assert_non_null(k);
	for (int i = 0; i < 32; i++)
		assert_int_equal(k[i], 0);
	crypto_secure_free(k, 32);
	crypto_secure_free(NULL, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_argon2id_rfc9106),
	    cmocka_unit_test(test_argon2id_ocmt_vector),
	    cmocka_unit_test(test_kdf_bounds),
	    cmocka_unit_test(test_gcm_spec_case16),
	    cmocka_unit_test(test_hmac_rfc4231),
	    cmocka_unit_test(test_mac_key_prepared),
	    cmocka_unit_test(test_seal_roundtrip_and_tamper),
	    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_wipe_free_wipes),
	    cmocka_unit_test(test_secure_alloc),
	};

	if (crypto_init() != 0)
		return 1;
	return cmocka_run_group_tests_name("crypto", tests, NULL, NULL);
}
