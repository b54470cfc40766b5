/* regcache.h: an in-memory cache of the token registry (id -> payload
 * digest, expiry), so verifying a capability token needs no database read.
 * It only ever holds tokens that were valid in the store; any revocation
 * empties it (before and after the revocation commits), and an entry read
 * from the store before an emptying is never inserted after it. */
#ifndef GV_REGCACHE_H
#define GV_REGCACHE_H

#include <stdint.h>

struct regcache;

struct regcache *regcache_new(unsigned slots);
void regcache_free(struct regcache *rc);
/* 1 and fills digest/expires if id is cached as valid; 0 otherwise. */
int regcache_get(struct regcache *rc, const char *id, unsigned char digest[32], int64_t *expires);
/* The generation to pass to regcache_put after reading the store. */
uint64_t regcache_gen(struct regcache *rc);
/* Caches a valid (unrevoked) registry row read at generation gen. */
void regcache_put(struct regcache *rc, uint64_t gen, const char *id, const unsigned char digest[32],
		  int64_t expires);
/* Forgets everything and moves to a new generation. */
void regcache_clear(struct regcache *rc);

#endif
