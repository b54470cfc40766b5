/* share.h: the printable form of one Shamir share of a vault's share key:
 * "gvs1-<index>-<set id>-<y>-<check>" in lowercase hex. The set id names
 * the vault's current share set (new at init and at every rekey), so a
 * share of another vault or an older set is refused before it is counted;
 * the check (truncated SHA-256 of everything before it) catches typing
 * errors. It never logs and never keeps a share. */
#ifndef GV_SHARE_H
#define GV_SHARE_H

#include <stddef.h>

#define SHARE_TAG "gvs1"
#define SHARE_SET_LEN 8
#define SHARE_Y_LEN 32
#define SHARE_CHECK_LEN 4
/* "gvs1-" ii "-" set "-" y "-" check */
#define SHARE_TEXT_LEN                                                                             \
	(sizeof(SHARE_TAG) - 1 + 1 + 2 + 1 + 2 * SHARE_SET_LEN + 1 + 2 * SHARE_Y_LEN + 1 +         \
	 2 * SHARE_CHECK_LEN)

struct share {
	unsigned index; /* 1..16: the x the share was evaluated at */
	unsigned char set[SHARE_SET_LEN];
	unsigned char y[SHARE_Y_LEN]; /* secret: the caller wipes it */
};

/* Writes s as text into out (SHARE_TEXT_LEN + 1 bytes, NUL-terminated; the
 * caller wipes it). 0, or -1 if the index is out of range or hashing fails. */
int share_format(const struct share *s, char *out);
/* Parses len bytes of text: 0 with *s filled, or -1 (s wiped) for anything
 * but an exact, well-formed share whose check matches. The payload is
 * decoded without branching on its digits. */
int share_parse(const char *text, size_t len, struct share *s);

#endif
