/* regcache.c: a direct-mapped cache; a colliding id simply replaces the
 * slot's entry (a miss costs one store read, never a wrong answer). */
#include "regcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "limit.h"

struct rc_slot {
	char id[LIMIT_TOKEN_ID_MAX + 1];
	unsigned char digest[32];
	int64_t expires;
};

struct regcache {
	pthread_mutex_t mu;
	uint64_t gen;
	unsigned nslots;
	struct rc_slot *slots;
};

struct regcache *regcache_new(unsigned slots)
{
	struct regcache *rc = calloc(1, sizeof(*rc));

	if (rc == NULL)
		return NULL;
	rc->slots = calloc(slots, sizeof(*rc->slots));
	if (rc->slots == NULL) {
		free(rc);
		return NULL;
	}
	rc->nslots = slots;
	pthread_mutex_init(&rc->mu, NULL);
	return rc;
}

void regcache_free(struct regcache *rc)
{
	if (rc == NULL)
		return;
	pthread_mutex_destroy(&rc->mu);
	free(rc->slots);
	free(rc);
}

static struct rc_slot *rc_slot(struct regcache *rc, const char *id)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (const char *p = id; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return &rc->slots[h % rc->nslots];
}

int regcache_get(struct regcache *rc, const char *id, unsigned char digest[32], int64_t *expires)
{
	struct rc_slot *s;
	int hit = 0;

	if (strlen(id) > LIMIT_TOKEN_ID_MAX)
		return 0;
	pthread_mutex_lock(&rc->mu);
	s = rc_slot(rc, id);
	if (s->id[0] != '\0' && strcmp(s->id, id) == 0) {
		memcpy(digest, s->digest, 32);
		*expires = s->expires;
		hit = 1;
	}
	pthread_mutex_unlock(&rc->mu);
	return hit;
}

uint64_t regcache_gen(struct regcache *rc)
{
	uint64_t g;

	pthread_mutex_lock(&rc->mu);
	g = rc->gen;
	pthread_mutex_unlock(&rc->mu);
	return g;
}

void regcache_put(struct regcache *rc, uint64_t gen, const char *id, const unsigned char digest[32],
		  int64_t expires)
{
	struct rc_slot *s;

	if (strlen(id) > LIMIT_TOKEN_ID_MAX)
		return;
	pthread_mutex_lock(&rc->mu);
	if (gen == rc->gen) {
		s = rc_slot(rc, id);
		strcpy(s->id, id);
		memcpy(s->digest, digest, 32);
		s->expires = expires;
	}
	pthread_mutex_unlock(&rc->mu);
}

void regcache_clear(struct regcache *rc)
{
	pthread_mutex_lock(&rc->mu);
	memset(rc->slots, 0, rc->nslots * sizeof(*rc->slots));
	rc->gen++;
	pthread_mutex_unlock(&rc->mu);
}
