/* shamir_test.c: the field against FIPS-197's example and a reference
 * multiply written differently, split/combine for every k <= n <= 16, any
 * k of n (every subset, every order), and that k-1 shares are consistent
 * with every value of the secret exactly equally often (exhaustive). */
#include "test_common.h"

#include <stdlib.h>

#include "crypto.h"
#include "shamir.h"

/* Reference: carry-less product, then reduction of the 15-bit result. */
static uint8_t ref_mul(uint8_t a, uint8_t b)
{
	unsigned p = 0;

	for (int i = 0; i < 8; i++)
		if (b & (1u << i))
			p ^= (unsigned)a << i;
	for (int i = 14; i >= 8; i--)
		if (p & (1u << i))
			p ^= 0x11bu << (i - 8);
	return (uint8_t)p;
}

static void test_field(void **state)
{
	(void)state;
	assert_int_equal(shamir_gf_mul(0x57, 0x83), 0xc1); /* FIPS-197 4.2 */
	assert_int_equal(shamir_gf_mul(0x57, 0x13), 0xfe);
	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++)
			assert_int_equal(shamir_gf_mul((uint8_t)a, (uint8_t)b),
					 ref_mul((uint8_t)a, (uint8_t)b));
	assert_int_equal(shamir_gf_inv(0), 0);
	for (unsigned a = 1; a < 256; a++)
		assert_int_equal(shamir_gf_mul((uint8_t)a, shamir_gf_inv((uint8_t)a)), 1);
}

static void pick(const unsigned char *shares, size_t len, const unsigned *idx, unsigned k,
		 uint8_t *xs, unsigned char *ys)
{
	for (unsigned j = 0; j < k; j++) {
		xs[j] = (uint8_t)(idx[j] + 1);
		memcpy(ys + j * len, shares + idx[j] * len, len);
	}
}

/* Every (k, n): the first k, the last k and a shuffled k recover the secret. */
static void test_every_k_n(void **state)
{
	unsigned char secret[32], out[32], shares[16 * 32], ys[16 * 32];
	uint8_t xs[16];
	unsigned idx[16];

	(void)state;
	for (unsigned n = 2; n <= 16; n++)
		for (unsigned k = 2; k <= n; k++) {
			assert_int_equal(crypto_random(secret, sizeof(secret)), 0);
			assert_int_equal(shamir_split(secret, 32, k, n, shares), 0);
			for (int round = 0; round < 3; round++) {
				for (unsigned i = 0; i < n; i++)
					idx[i] = i;
				if (round == 1)
					for (unsigned i = 0; i < n; i++)
						idx[i] = n - 1 - i;
				if (round == 2)
					for (unsigned i = n - 1; i > 0; i--) {
						unsigned j = (unsigned)rand() % (i + 1), t = idx[i];
						idx[i] = idx[j];
						idx[j] = t;
					}
				pick(shares, 32, idx, k, xs, ys);
				assert_int_equal(shamir_combine(xs, ys, k, 32, out), 0);
				assert_memory_equal(out, secret, 32);
			}
		}
}

/* n = 6: every subset of every size. Subsets of k or more recover the
 * secret; smaller ones (combined as if complete) do not. */
static void test_any_k_of_n(void **state)
{
	const unsigned n = 6;
	unsigned char secret[16], out[16], shares[6 * 16], ys[6 * 16];
	uint8_t xs[6];
	unsigned idx[6];

	(void)state;
	for (unsigned k = 2; k <= n; k++) {
		assert_int_equal(crypto_random(secret, sizeof(secret)), 0);
		assert_int_equal(shamir_split(secret, 16, k, n, shares), 0);
		for (unsigned mask = 1; mask < (1u << n); mask++) {
			unsigned m = 0;
			for (unsigned i = 0; i < n; i++)
				if (mask & (1u << i))
					idx[m++] = i;
			pick(shares, 16, idx, m, xs, ys);
			assert_int_equal(shamir_combine(xs, ys, m, 16, out), 0);
			if (m >= k)
				assert_memory_equal(out, secret, 16);
			else
				assert_memory_not_equal(out, secret, 16);
		}
	}
}

/* k = 2: for every index x and share value y, each secret s is consistent
 * with exactly one line through (x, y), whatever s is. */
static void test_k2_reveals_nothing(void **state)
{
	(void)state;
	for (unsigned x = 1; x <= 16; x++) {
		unsigned char s0 = (unsigned char)(x * 37), sh[16];

		assert_int_equal(shamir_split(&s0, 1, 2, 16, sh), 0);
		for (unsigned s = 0; s < 256; s++) {
			unsigned hits = 0;
			for (unsigned a = 0; a < 256; a++)
				hits += (uint8_t)(s ^ shamir_gf_mul((uint8_t)a, (uint8_t)x)) ==
					sh[x - 1];
			assert_int_equal(hits, 1);
		}
	}
}

/* k = 3, two shares known: over every polynomial s + a x + b x^2 (all
 * 2^24), those through both shares hit every secret exactly once. */
static void test_k3_reveals_nothing(void **state)
{
	static const uint8_t pairs[][2] = {{1, 2}, {3, 16}, {7, 9}};

	(void)state;
	for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
		uint8_t x1 = pairs[p][0], x2 = pairs[p][1];
		uint8_t x1s = shamir_gf_mul(x1, x1), x2s = shamir_gf_mul(x2, x2);
		unsigned char s0 = 0xa5, sh[16];
		unsigned count[256] = {0};

		assert_int_equal(shamir_split(&s0, 1, 3, 16, sh), 0);
		/* for each (a, b) the first share fixes s; count when the second holds */
		for (unsigned a = 0; a < 256; a++)
			for (unsigned b = 0; b < 256; b++) {
				uint8_t s = sh[x1 - 1] ^ shamir_gf_mul((uint8_t)a, x1) ^
					    shamir_gf_mul((uint8_t)b, x1s);
				uint8_t y2 = s ^ shamir_gf_mul((uint8_t)a, x2) ^
					     shamir_gf_mul((uint8_t)b, x2s);
				count[s] += y2 == sh[x2 - 1];
			}
		for (unsigned s = 0; s < 256; s++)
			assert_int_equal(count[s], 1);
	}
}

static void test_tamper_and_args(void **state)
{
	unsigned char secret[32], out[32], shares[5 * 32], ys[3 * 32], again[5 * 32];
	uint8_t xs[3] = {1, 2, 3}, dup[3] = {1, 1, 3}, zero[3] = {0, 2, 3};

	(void)state;
	assert_int_equal(crypto_random(secret, sizeof(secret)), 0);
	assert_int_equal(shamir_split(secret, 32, 3, 5, shares), 0);
	memcpy(ys, shares, sizeof(ys));
	ys[32 + 7] ^= 0x01; /* one bit of share 2 */
	assert_int_equal(shamir_combine(xs, ys, 3, 32, out), 0);
	assert_memory_not_equal(out, secret, 32);
	assert_memory_equal(out, secret, 7); /* bytes are independent */
	assert_int_equal(shamir_combine(dup, ys, 3, 32, out), -1);
	assert_int_equal(shamir_combine(zero, ys, 3, 32, out), -1);
	assert_int_equal(shamir_split(secret, 32, 1, 5, shares), -1);
	assert_int_equal(shamir_split(secret, 32, 6, 5, shares), -1);
	assert_int_equal(shamir_split(secret, 32, 2, 17, shares), -1);
	assert_int_equal(shamir_split(secret, 0, 2, 3, shares), -1);
	/* fresh coefficients each time */
	assert_int_equal(shamir_split(secret, 32, 3, 5, shares), 0);
	assert_int_equal(shamir_split(secret, 32, 3, 5, again), 0);
	assert_memory_not_equal(shares, again, sizeof(shares));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_field),
	    cmocka_unit_test(test_every_k_n),
	    cmocka_unit_test(test_any_k_of_n),
	    cmocka_unit_test(test_k2_reveals_nothing),
	    cmocka_unit_test(test_k3_reveals_nothing),
	    cmocka_unit_test(test_tamper_and_args),
	};
	return cmocka_run_group_tests_name("shamir", tests, NULL, NULL);
}
