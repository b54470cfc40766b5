/* jtext.h: JSON text written straight into a caller-sized buffer, for the
 * few hot-path documents of a fixed shape (audit entries, answers). It only
 * writes; every JSON the vault reads is parsed by jansson. */
#ifndef GV_JTEXT_H
#define GV_JTEXT_H

#include <stddef.h>

/* Worst-case size of s written as a JSON string, quotes included. */
#define JTEXT_STR_MAX(len) (6 * (len) + 2)

struct jtext {
	char *buf;
	size_t len, cap;
	int overflow; /* set once a write did not fit; the text is then unusable */
};

void jtext_init(struct jtext *t, char *buf, size_t cap);
/* Appends n bytes as they are. */
void jtext_raw(struct jtext *t, const char *s, size_t n);
/* Appends s as a quoted JSON string. Valid UTF-8 is kept; control
 * characters, '"' and '\\' are escaped; a byte that is not part of a valid
 * UTF-8 sequence becomes U+FFFD, so the result always parses. */
void jtext_str(struct jtext *t, const char *s, size_t n);
/* NUL-terminates; returns 0, or -1 if anything overflowed. */
int jtext_end(struct jtext *t);

#endif
