/* redact.c: see redact.h. A small printf walker: it consumes each argument
 * with the type its conversion names, so the va_list stays in step, and
 * prints only integers and floating-point numbers. */
#include "redact.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct redact_out {
	char *buf;
	size_t len, cap;
};

static void redact_put(struct redact_out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n && o->len + 1 < o->cap; i++) {
		unsigned char ch = (unsigned char)s[i];
		o->buf[o->len++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	o->buf[o->len] = '\0';
}

/* Length modifiers, collapsed to the argument sizes that differ. */
enum redact_len { RL_INT, RL_LONG, RL_LLONG, RL_SIZE, RL_MAX, RL_PTRDIFF, RL_LDOUBLE };

static const char *redact_length(const char *p, enum redact_len *l)
{
	*l = RL_INT;
	if (p[0] == 'h') {
		p += p[1] == 'h' ? 2 : 1; /* promoted to int */
	} else if (p[0] == 'l' && p[1] == 'l') {
		*l = RL_LLONG;
		p += 2;
	} else if (p[0] == 'l' || p[0] == 'q') {
		*l = p[0] == 'q' ? RL_LLONG : RL_LONG;
		p++;
	} else if (p[0] == 'z') {
		*l = RL_SIZE;
		p++;
	} else if (p[0] == 'j') {
		*l = RL_MAX;
		p++;
	} else if (p[0] == 't') {
		*l = RL_PTRDIFF;
		p++;
	} else if (p[0] == 'L') {
		*l = RL_LDOUBLE;
		p++;
	}
	return p;
}

static void redact_number(struct redact_out *o, char conv, enum redact_len l, va_list *ap)
{
	char num[64];
	int neg = conv == 'd' || conv == 'i';
	intmax_t s = 0;
	uintmax_t u = 0;

	switch (l) {
	case RL_LONG:
		if (neg)
			s = va_arg(*ap, long);
		else
			u = va_arg(*ap, unsigned long);
		break;
	case RL_LLONG:
		if (neg)
			s = va_arg(*ap, long long);
		else
			u = va_arg(*ap, unsigned long long);
		break;
	case RL_SIZE:
		if (neg)
			s = (intmax_t)va_arg(*ap, size_t);
		else
			u = va_arg(*ap, size_t);
		break;
	case RL_MAX:
		if (neg)
			s = va_arg(*ap, intmax_t);
		else
			u = va_arg(*ap, uintmax_t);
		break;
	case RL_PTRDIFF:
		if (neg)
			s = va_arg(*ap, ptrdiff_t);
		else
			u = (uintmax_t)va_arg(*ap, ptrdiff_t);
		break;
	default:
		if (neg)
			s = va_arg(*ap, int);
		else
			u = va_arg(*ap, unsigned);
		break;
	}
	if (neg)
		snprintf(num, sizeof(num), "%jd", s);
	else if (conv == 'x' || conv == 'X')
		snprintf(num, sizeof(num), "%jx", u);
	else if (conv == 'o')
		snprintf(num, sizeof(num), "%jo", u);
	else
		snprintf(num, sizeof(num), "%ju", u);
	redact_put(o, num, strlen(num));
}

/* One conversion after '%'; returns the position after it, or NULL for
 * one it does not know (the rest of the message is then dropped, since the
 * argument types that follow are unknown). */
static const char *redact_conv(struct redact_out *o, const char *p, va_list *ap)
{
	enum redact_len l;
	char num[64];

	p += strspn(p, "-+ #0'");
	if (*p == '*') {
		(void)va_arg(*ap, int);
		p++;
	} else {
		p += strspn(p, "0123456789");
	}
	if (*p == '.') {
		p++;
		if (*p == '*') {
			(void)va_arg(*ap, int);
			p++;
		} else {
			p += strspn(p, "0123456789");
		}
	}
	p = redact_length(p, &l);
	switch (*p) {
	case '%':
		redact_put(o, "%", 1);
		break;
	case 'd':
	case 'i':
	case 'u':
	case 'x':
	case 'X':
	case 'o':
		redact_number(o, *p, l, ap);
		break;
	case 'c':
		(void)va_arg(*ap, int);
		redact_put(o, REDACT_MARK, strlen(REDACT_MARK));
		break;
	case 's':
	case 'p':
	case 'n':
		(void)va_arg(*ap, void *);
		redact_put(o, REDACT_MARK, strlen(REDACT_MARK));
		break;
	case 'f':
	case 'F':
	case 'e':
	case 'E':
	case 'g':
	case 'G':
	case 'a':
	case 'A':
		if (l == RL_LDOUBLE)
			snprintf(num, sizeof(num), "%Lg", va_arg(*ap, long double));
		else
			snprintf(num, sizeof(num), "%g", va_arg(*ap, double));
		redact_put(o, num, strlen(num));
		break;
	default:
		return NULL;
	}
	return p + 1;
}

size_t redact_vformat(char *out, size_t outlen, const char *fmt, va_list ap)
{
	struct redact_out o = {out, 0, outlen};
	va_list aq;
	const char *p = fmt;

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	va_copy(aq, ap);
	while (p != NULL && *p != '\0') {
		const char *pct = strchr(p, '%');
		size_t n = pct ? (size_t)(pct - p) : strlen(p);
		redact_put(&o, p, n);
		p = pct ? redact_conv(&o, pct + 1, &aq) : NULL;
	}
	va_end(aq);
	while (o.len > 0 && out[o.len - 1] == ' ')
		out[--o.len] = '\0';
	return o.len;
}
