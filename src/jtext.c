/* jtext.c: JSON string escaping into a bounded buffer (see jtext.h). */
#include "jtext.h"

#include <string.h>

void jtext_init(struct jtext *t, char *buf, size_t cap)
{
	t->buf = buf;
	t->len = 0;
	t->cap = cap;
	t->overflow = 0;
}

void jtext_raw(struct jtext *t, const char *s, size_t n)
{
	if (t->overflow || n > t->cap - t->len) {
		t->overflow = 1;
		return;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF), or 0. */
static size_t jtext_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c >= 0xC2 && c <= 0xDF)
		need = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return need;
}

void jtext_str(struct jtext *t, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	char *o;
	size_t i = 0;

	if (t->overflow || n >= t->cap || JTEXT_STR_MAX(n) > t->cap - t->len) {
		t->overflow = 1;
		return;
	}
	o = t->buf + t->len;
	*o++ = '"';
	while (i < n) {
		unsigned char c = u[i];
		size_t k;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*o++ = (char)c;
			i++;
		} else if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
			i++;
		} else if (c < 0x20) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			o += 6;
			i++;
		} else if ((k = jtext_utf8_seq(u + i, n - i)) > 0) {
			memcpy(o, u + i, k);
			o += k;
			i += k;
		} else {
			memcpy(o, "\\ufffd", 6);
			o += 6;
			i++;
		}
	}
	*o++ = '"';
	t->len = (size_t)(o - t->buf);
}

int jtext_end(struct jtext *t)
{
	if (t->overflow || t->len >= t->cap) {
		t->overflow = 1;
		return -1;
	}
	t->buf[t->len] = '\0';
	return 0;
}
