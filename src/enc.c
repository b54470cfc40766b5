/* enc.c: base64 and hex. Strict on input: wrong alphabet, bad padding or
 * non-zero trailing bits are errors, so every value has one encoding. */
#include "enc.h"

#include <stdint.h>

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t enc_b64_len(size_t len, int url)
{
	if (url)
		return len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0) + 1;
	return (len + 2) / 3 * 4 + 1;
}

void enc_b64_encode(const unsigned char *in, size_t len, char *out, int url)
{
	const char *a = url ? b64_url : b64_std;
	size_t i = 0, o = 0;

	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		if (!url) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		if (!url)
			out[o++] = '=';
	}
	out[o] = '\0';
}

static int b64_val(char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

int enc_b64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen, int url)
{
	size_t i, o = 0, pad = 0, full;
	uint32_t v;
	int d[4];

	if (!url) {
		if (len % 4 != 0)
			return -1;
		if (len >= 1 && in[len - 1] == '=')
			pad++;
		if (len >= 2 && in[len - 2] == '=')
			pad++;
		len -= pad;
	} else if (len % 4 == 1) {
		return -1;
	}
	full = len / 4 * 4;
	for (i = 0; i < full; i += 4) {
		for (int k = 0; k < 4; k++)
			if ((d[k] = b64_val(in[i + k], url)) < 0)
				return -1;
		v = (uint32_t)d[0] << 18 | (uint32_t)d[1] << 12 | (uint32_t)d[2] << 6 |
		    (uint32_t)d[3];
		out[o++] = (unsigned char)(v >> 16);
		out[o++] = (unsigned char)(v >> 8);
		out[o++] = (unsigned char)v;
	}
	switch (len - full) {
	case 0:
		break;
	case 2:
		if ((d[0] = b64_val(in[i], url)) < 0 || (d[1] = b64_val(in[i + 1], url)) < 0)
			return -1;
		if (d[1] & 15)
			return -1;
		out[o++] = (unsigned char)(d[0] << 2 | d[1] >> 4);
		break;
	case 3:
		if ((d[0] = b64_val(in[i], url)) < 0 || (d[1] = b64_val(in[i + 1], url)) < 0 ||
		    (d[2] = b64_val(in[i + 2], url)) < 0)
			return -1;
		if (d[2] & 3)
			return -1;
		out[o++] = (unsigned char)(d[0] << 2 | d[1] >> 4);
		out[o++] = (unsigned char)((d[1] & 15) << 4 | d[2] >> 2);
		break;
	default:
		return -1;
	}
	if (!url && pad != (4 - (len - full)) % 4)
		return -1;
	*outlen = o;
	return 0;
}

void enc_hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char h[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = h[in[i] >> 4];
		out[2 * i + 1] = h[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int enc_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int enc_hex_decode(const char *in, size_t len, unsigned char *out)
{
	if (len % 2 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 2) {
		int hi = enc_hex_value(in[i]), lo = enc_hex_value(in[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}
