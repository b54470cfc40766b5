/* shamir.c: Shamir split and combine over GF(2^8). Every operation on a
 * secret byte is a fixed sequence of shifts, masks and XORs: no branch and
 * no table index depends on a secret or a coefficient. It must not log, and
 * it leaves no coefficient behind (wiped before return). */
#include "shamir.h"

#include <string.h>

#include "crypto.h"
#include "log.h"

uint8_t shamir_gf_mul(uint8_t a, uint8_t b)
{
	unsigned p = 0, x = a, y = b;

	for (int i = 0; i < 8; i++) {
		p ^= x & (0u - (y & 1u));
		/* reduce by x^8 + x^4 + x^3 + x + 1 when the top bit shifts out */
		x = ((x << 1) ^ (0x1bu & (0u - (x >> 7)))) & 0xffu;
		y >>= 1;
	}
	return (uint8_t)p;
}

/* a^254 = a^-1 in GF(2^8)*: a^2 * a^4 * ... * a^128, always seven squarings
 * and seven products. */
uint8_t shamir_gf_inv(uint8_t a)
{
	uint8_t x = a, r = 1;

	for (int i = 0; i < 7; i++) {
		x = shamir_gf_mul(x, x);
		r = shamir_gf_mul(r, x);
	}
	return r;
}

int shamir_split(const unsigned char *secret, size_t len, unsigned k, unsigned n,
		 unsigned char *shares)
{
	/* coefficients 1..k-1 of every byte's polynomial */
	unsigned char coef[(SHAMIR_MAX_SHARES - 1) * SHAMIR_MAX_LEN];
	int rc = -1;

	if (len == 0 || len > SHAMIR_MAX_LEN || k < 2 || k > n || n > SHAMIR_MAX_SHARES) {
		log_err("%s: bad arguments", __func__);
		return -1;
	}
	if (crypto_random(coef, (size_t)(k - 1) * len) != 0) {
		log_err("%s: no randomness", __func__);
		memset(shares, 0, (size_t)n * len);
		goto done;
	}
	for (unsigned i = 0; i < n; i++) {
		uint8_t x = (uint8_t)(i + 1);

		for (size_t b = 0; b < len; b++) {
			/* Horner from the highest coefficient down to the secret */
			uint8_t y = coef[(size_t)(k - 2) * len + b];

			for (unsigned c = k - 2; c > 0; c--)
				y = shamir_gf_mul(y, x) ^ coef[(size_t)(c - 1) * len + b];
			shares[(size_t)i * len + b] = shamir_gf_mul(y, x) ^ secret[b];
		}
	}
	rc = 0;
done:
	crypto_wipe(coef, sizeof(coef));
	return rc;
}

int shamir_combine(const uint8_t *xs, const unsigned char *ys, unsigned k, size_t len,
		   unsigned char *out)
{
	uint8_t lag[SHAMIR_MAX_SHARES];

	if (len == 0 || len > SHAMIR_MAX_LEN || k < 1 || k > SHAMIR_MAX_SHARES) {
		log_err("%s: bad arguments", __func__);
		return -1;
	}
	/* The indexes are public; only the y values are secret. */
	for (unsigned j = 0; j < k; j++) {
		if (xs[j] == 0)
			return -1;
		for (unsigned m = 0; m < j; m++)
			if (xs[m] == xs[j])
				return -1;
	}
	/* Lagrange basis at 0: prod over m != j of x_m / (x_m - x_j) */
	for (unsigned j = 0; j < k; j++) {
		uint8_t l = 1;

		for (unsigned m = 0; m < k; m++)
			if (m != j)
				l = shamir_gf_mul(
				    l, shamir_gf_mul(xs[m], shamir_gf_inv(xs[m] ^ xs[j])));
		lag[j] = l;
	}
	for (size_t b = 0; b < len; b++) {
		uint8_t s = 0;

		for (unsigned j = 0; j < k; j++)
			s ^= shamir_gf_mul(lag[j], ys[(size_t)j * len + b]);
		out[b] = s;
	}
	return 0;
}
