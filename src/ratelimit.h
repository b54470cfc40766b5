/* ratelimit.h: a bounded table of failure counters keyed by client, for
 * unlock attempts. One client's failures never spend another's budget. */
#ifndef GV_RATELIMIT_H
#define GV_RATELIMIT_H

#include <stdint.h>

struct ratelimit;

/* Keeps at most slots clients; when full the stalest entry is reused. */
struct ratelimit *ratelimit_new(unsigned slots, unsigned max, unsigned window_s);
void ratelimit_free(struct ratelimit *rl);
/* 0 when key may try; else the seconds until it may (>= 1). */
unsigned ratelimit_blocked(struct ratelimit *rl, const char *key, int64_t now_ms);
void ratelimit_fail(struct ratelimit *rl, const char *key, int64_t now_ms);
void ratelimit_clear(struct ratelimit *rl, const char *key);

#endif
