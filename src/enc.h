/* enc.h: strict base64 (standard and URL alphabets) and hex codecs.
 * Decoders reject anything that is not canonical; they never read past len. */
#ifndef GV_ENC_H
#define GV_ENC_H

#include <stddef.h>

/* Encoded length including the NUL. */
size_t enc_b64_len(size_t len, int url);
/* Writes a NUL-terminated string into out (enc_b64_len bytes). Standard
 * alphabet with '=' padding, or (url) the URL alphabet without padding. */
void enc_b64_encode(const unsigned char *in, size_t len, char *out, int url);
/* Decodes into out (at least len*3/4+3 bytes); returns 0 and sets *outlen,
 * or -1 on any non-canonical input. */
int enc_b64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen, int url);

/* The value of one hex digit, or -1. */
int enc_hex_value(char c);
void enc_hex_encode(const unsigned char *in, size_t len, char *out); /* 2*len+1 bytes */
int enc_hex_decode(const char *in, size_t len, unsigned char *out);  /* len/2 bytes */

#endif
