/* shamir.h: Shamir's secret sharing over GF(2^8) (the AES field, x^8 + x^4 +
 * x^3 + x + 1), byte by byte. Constant time in the secret: the field is
 * multiplied bitwise, never through a table indexed by a secret byte. It
 * knows nothing of share text or holders (share.c, vault_threshold.c). */
#ifndef GV_SHAMIR_H
#define GV_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#define SHAMIR_MAX_SHARES 16
#define SHAMIR_MAX_LEN 64

/* Splits secret (len 1..SHAMIR_MAX_LEN bytes) into n shares of which any k
 * recover it (2 <= k <= n <= SHAMIR_MAX_SHARES). Share i (0-based) is the
 * polynomial evaluated at x = i + 1, written to shares + i * len (the caller
 * owns the n * len bytes and wipes them). 0, or -1 on bad arguments or a
 * failed RNG (shares are then wiped). */
int shamir_split(const unsigned char *secret, size_t len, unsigned k, unsigned n,
		 unsigned char *shares);
/* Recovers the secret from k shares: xs[j] (1..255, distinct) and the len
 * bytes at ys + j * len. With fewer than the split's k shares, or an altered
 * one, the output is some other value: the caller must check it (the share
 * key opens the root key or not). 0, or -1 on bad arguments. */
int shamir_combine(const uint8_t *xs, const unsigned char *ys, unsigned k, size_t len,
		   unsigned char *out);
/* The field's product and inverse (inverse of 0 is 0), for the tests. */
uint8_t shamir_gf_mul(uint8_t a, uint8_t b);
uint8_t shamir_gf_inv(uint8_t a);

#endif
