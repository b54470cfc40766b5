/* rowcache.h: recently read secret rows (blind index -> version and sealed
 * record), so a repeated read needs no database read. It holds only
 * ciphertext, exactly as stored. A write forgets its row before it commits
 * and again after (before it is acknowledged), and a row read from the store
 * before a forget is never inserted after it: a read that starts after an
 * acknowledgement never sees the older row. */
#ifndef GV_ROWCACHE_H
#define GV_ROWCACHE_H

#include <stddef.h>
#include <stdint.h>

#define ROWCACHE_ID_LEN 32
#define ROWCACHE_BLOB_MAX 2048 /* larger records are simply not cached */

struct rowcache;

struct rowcache *rowcache_new(unsigned slots);
void rowcache_free(struct rowcache *rc);
/* 1 with a malloc'd copy of the row in *blob (caller frees), 0 on a miss. */
int rowcache_get(struct rowcache *rc, const unsigned char id[ROWCACHE_ID_LEN], int64_t *version,
		 unsigned char **blob, size_t *len);
/* The generation to pass to rowcache_put; read it before reading the store. */
uint64_t rowcache_gen(struct rowcache *rc);
/* Caches a row read from the store at generation gen (dropped if anything
 * was forgotten since). */
void rowcache_put(struct rowcache *rc, uint64_t gen, const unsigned char id[ROWCACHE_ID_LEN],
		  int64_t version, const unsigned char *blob, size_t len);
/* Forgets one row and moves to a new generation. */
void rowcache_forget(struct rowcache *rc, const unsigned char id[ROWCACHE_ID_LEN]);
/* Forgets everything and moves to a new generation. */
void rowcache_clear(struct rowcache *rc);

#endif
