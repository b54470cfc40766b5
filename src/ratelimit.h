/* ratelimit.h: a bounded table of failure counters keyed by client (any
 * text: an address, or an address and a userId), each in its own fixed
 * window. One key's failures never spend another's budget. */
#ifndef GV_RATELIMIT_H
#define GV_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/* Keeps at most slots keys; when full the stalest entry is reused. max
 * failures per window_s seconds, counted from a key's first failure. */
struct ratelimit *ratelimit_new(unsigned slots, unsigned max, unsigned window_s);
void ratelimit_free(struct ratelimit *rl);
/* 0 when key may try; else the seconds until it may (>= 1). */
unsigned ratelimit_blocked(struct ratelimit *rl, const char *key, int64_t now_ms);
void ratelimit_fail(struct ratelimit *rl, const char *key, int64_t now_ms);
/* Forgets key's failures (a success by exactly that key). */
void ratelimit_clear(struct ratelimit *rl, const char *key);

#endif
