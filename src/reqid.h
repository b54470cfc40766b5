/* reqid.h: request ids (X-Request-Id): a client's id when it is short and
 * plain, else a random one; and the id of the request the calling thread
 * is serving, for audit entries and log lines. Never holds anything else. */
#ifndef GV_REQID_H
#define GV_REQID_H

#include <stddef.h>

/* Longest id accepted from a client; a generated one is 16 hex digits. */
#define REQID_MAX 64
#define REQID_GEN_LEN 16

/* 1 if s (n bytes) may be used as an id as sent: 1..REQID_MAX bytes of
 * [A-Za-z0-9._-]. */
int reqid_valid(const char *s, size_t n);
/* Writes into out (REQID_MAX + 1 bytes) the client's id when valid (sent
 * may be NULL), else a new one (a keyed hash of a per-thread counter).
 * Returns 0, or -1 if no key could be had (out then holds a fallback from a
 * counter). */
int reqid_take(const char *sent, char out[REQID_MAX + 1]);
/* The calling thread's current request id (copied); NULL or "" clears it. */
void reqid_set(const char *id);
/* The calling thread's current request id, or NULL outside a request. The
 * pointer is valid on this thread until its next reqid_set. */
const char *reqid_get(void);

#endif
