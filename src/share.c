/* share.c: formats and parses share text (share.h). The y payload is
 * encoded and decoded with masks, not tables or branches on its digits;
 * everything else (tag, index, set id, check) is public. It must not log a
 * share or any part of one. */
#include "share.h"

#include <string.h>

#include "crypto.h"

#define SHARE_PREFIX_LEN (sizeof(SHARE_TAG) - 1 + 1)
#define SHARE_BODY_LEN (SHARE_TEXT_LEN - 2 * SHARE_CHECK_LEN)

/* One nibble to a lowercase hex digit, without branching on it. */
static char share_hex_digit(unsigned v)
{
	/* v < 10: '0' + v; else 'a' + v - 10 = '0' + v + 39 */
	unsigned ge10 = 0u - ((9u - v) >> 8 & 1u);

	return (char)('0' + v + (39u & ge10));
}

static void share_hex_put(const unsigned char *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = share_hex_digit(in[i] >> 4);
		out[2 * i + 1] = share_hex_digit(in[i] & 0xfu);
	}
}

/* 1 when lo <= c <= hi, for values below 256, without a branch: a negative
 * difference wraps and sets bit 8. */
static unsigned share_in_range(unsigned c, unsigned lo, unsigned hi)
{
	return (~((c - lo) >> 8) & ~((hi - c) >> 8)) & 1u;
}

/* A lowercase hex digit's value, with *bad OR'd with 1 for anything else;
 * no branch and no table on c. */
static unsigned share_hex_value(unsigned char c, unsigned *bad)
{
	unsigned is_d = share_in_range(c, '0', '9'), is_a = share_in_range(c, 'a', 'f');
	unsigned md = 0u - is_d, ma = 0u - is_a;

	*bad |= 1u ^ (is_d | is_a);
	return (((c - '0') & md) | ((c - 'a' + 10u) & ma)) & 0xfu;
}

static int share_hex_get(const char *in, size_t len, unsigned char *out)
{
	unsigned bad = 0;

	for (size_t i = 0; i < len; i++)
		out[i] = (unsigned char)(share_hex_value((unsigned char)in[2 * i], &bad) << 4 |
					 share_hex_value((unsigned char)in[2 * i + 1], &bad));
	return bad ? -1 : 0;
}

static int share_check(const char *body, unsigned char check[SHARE_CHECK_LEN])
{
	unsigned char h[CRYPTO_HASH_LEN];

	if (crypto_sha256(body, SHARE_BODY_LEN, h) != 0)
		return -1;
	memcpy(check, h, SHARE_CHECK_LEN);
	return 0;
}

int share_format(const struct share *s, char *out)
{
	unsigned char idx = (unsigned char)s->index, check[SHARE_CHECK_LEN];
	char *p = out;

	if (s->index < 1 || s->index > 16)
		return -1;
	memcpy(p, SHARE_TAG "-", SHARE_PREFIX_LEN);
	p += SHARE_PREFIX_LEN;
	share_hex_put(&idx, 1, p);
	p += 2;
	*p++ = '-';
	share_hex_put(s->set, SHARE_SET_LEN, p);
	p += 2 * SHARE_SET_LEN;
	*p++ = '-';
	share_hex_put(s->y, SHARE_Y_LEN, p);
	p += 2 * SHARE_Y_LEN;
	*p++ = '-';
	if (share_check(out, check) != 0) {
		crypto_wipe(out, SHARE_TEXT_LEN + 1);
		return -1;
	}
	share_hex_put(check, SHARE_CHECK_LEN, p);
	p[2 * SHARE_CHECK_LEN] = '\0';
	return 0;
}

int share_parse(const char *text, size_t len, struct share *s)
{
	const char *p = text;
	unsigned char idx, check[SHARE_CHECK_LEN], want[SHARE_CHECK_LEN];
	int ok;

	memset(s, 0, sizeof(*s));
	if (len != SHARE_TEXT_LEN || memcmp(p, SHARE_TAG "-", SHARE_PREFIX_LEN) != 0)
		return -1;
	p += SHARE_PREFIX_LEN;
	ok = share_hex_get(p, 1, &idx) == 0 && p[2] == '-';
	p += 3;
	ok = ok && share_hex_get(p, SHARE_SET_LEN, s->set) == 0 && p[2 * SHARE_SET_LEN] == '-';
	p += 2 * SHARE_SET_LEN + 1;
	ok = ok && share_hex_get(p, SHARE_Y_LEN, s->y) == 0 && p[2 * SHARE_Y_LEN] == '-';
	p += 2 * SHARE_Y_LEN + 1;
	ok = ok && share_hex_get(p, SHARE_CHECK_LEN, check) == 0 && share_check(text, want) == 0 &&
	     crypto_equal(check, want, SHARE_CHECK_LEN);
	if (!ok || idx < 1 || idx > 16) {
		crypto_wipe(s, sizeof(*s));
		return -1;
	}
	s->index = idx;
	return 0;
}
