/* rowcache.c: a direct-mapped cache indexed by the blind index (already a
 * uniform hash); a colliding row replaces the slot's (a miss costs one
 * store read, never a wrong answer). */
#include "rowcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct row_slot {
	unsigned char id[ROWCACHE_ID_LEN];
	int64_t version;
	unsigned char *blob; /* NULL: empty */
	size_t len;
};

struct rowcache {
	pthread_mutex_t mu;
	uint64_t gen;
	unsigned nslots;
	struct row_slot *slots;
};

struct rowcache *rowcache_new(unsigned slots)
{
	struct rowcache *rc = calloc(1, sizeof(*rc));

	if (rc == NULL || slots == 0)
		goto fail;
	rc->slots = calloc(slots, sizeof(*rc->slots));
	if (rc->slots == NULL)
		goto fail;
	rc->nslots = slots;
	pthread_mutex_init(&rc->mu, NULL);
	return rc;
fail:
	free(rc);
	return NULL;
}

static void row_empty(struct row_slot *s)
{
	free(s->blob);
	s->blob = NULL;
	s->len = 0;
}

void rowcache_free(struct rowcache *rc)
{
	if (rc == NULL)
		return;
	for (unsigned i = 0; i < rc->nslots; i++)
		row_empty(&rc->slots[i]);
	pthread_mutex_destroy(&rc->mu);
	free(rc->slots);
	free(rc);
}

static struct row_slot *row_slot(struct rowcache *rc, const unsigned char *id)
{
	uint32_t h;

	memcpy(&h, id, sizeof(h));
	return &rc->slots[h % rc->nslots];
}

int rowcache_get(struct rowcache *rc, const unsigned char id[ROWCACHE_ID_LEN], int64_t *version,
		 unsigned char **blob, size_t *len)
{
	struct row_slot *s;
	unsigned char *copy = NULL;

	pthread_mutex_lock(&rc->mu);
	s = row_slot(rc, id);
	if (s->blob != NULL && memcmp(s->id, id, ROWCACHE_ID_LEN) == 0 &&
	    (copy = malloc(s->len)) != NULL) {
		memcpy(copy, s->blob, s->len);
		*version = s->version;
		*len = s->len;
	}
	pthread_mutex_unlock(&rc->mu);
	*blob = copy;
	return copy != NULL;
}

uint64_t rowcache_gen(struct rowcache *rc)
{
	uint64_t g;

	pthread_mutex_lock(&rc->mu);
	g = rc->gen;
	pthread_mutex_unlock(&rc->mu);
	return g;
}

void rowcache_put(struct rowcache *rc, uint64_t gen, const unsigned char id[ROWCACHE_ID_LEN],
		  int64_t version, const unsigned char *blob, size_t len)
{
	struct row_slot *s;
	unsigned char *copy;

	if (len == 0 || len > ROWCACHE_BLOB_MAX || (copy = malloc(len)) == NULL)
		return;
	memcpy(copy, blob, len);
	pthread_mutex_lock(&rc->mu);
	if (gen == rc->gen) {
		s = row_slot(rc, id);
		row_empty(s);
		memcpy(s->id, id, ROWCACHE_ID_LEN);
		s->version = version;
		s->blob = copy;
		s->len = len;
		copy = NULL;
	}
	pthread_mutex_unlock(&rc->mu);
	free(copy);
}

void rowcache_forget(struct rowcache *rc, const unsigned char id[ROWCACHE_ID_LEN])
{
	struct row_slot *s;

	pthread_mutex_lock(&rc->mu);
	rc->gen++;
	s = row_slot(rc, id);
	if (s->blob != NULL && memcmp(s->id, id, ROWCACHE_ID_LEN) == 0)
		row_empty(s);
	pthread_mutex_unlock(&rc->mu);
}

void rowcache_clear(struct rowcache *rc)
{
	pthread_mutex_lock(&rc->mu);
	rc->gen++;
	for (unsigned i = 0; i < rc->nslots; i++)
		row_empty(&rc->slots[i]);
	pthread_mutex_unlock(&rc->mu);
}
