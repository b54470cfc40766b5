/* ratelimit.c: fixed-window failure counters in a fixed-size table, shared
 * by the HTTP worker and KDF threads. Keys are kept as SHA-256 digests, so
 * a long key is never cut (two userIds sharing a prefix stay apart). Every
 * slot access holds the mutex; nothing read from a slot may be used after
 * it is released. */
#include "ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

struct rl_slot {
	unsigned char key[CRYPTO_HASH_LEN];
	int used;
	int64_t start;
	unsigned count;
};

struct ratelimit {
	pthread_mutex_t mu;
	unsigned nslots, max;
	int64_t window;
	struct rl_slot *slots;
};

struct ratelimit *ratelimit_new(unsigned slots, unsigned max, unsigned window_s)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	rl->slots = calloc(slots, sizeof(*rl->slots));
	if (rl->slots == NULL) {
		free(rl);
		return NULL;
	}
	pthread_mutex_init(&rl->mu, NULL);
	rl->nslots = slots;
	rl->max = max;
	rl->window = (int64_t)window_s * 1000;
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl->slots);
	free(rl);
}

/* The key's digest; the empty digest of a failed hash still keys every
 * client the same way, so a failure only ever makes the limit stricter. */
static void rl_digest(const char *key, unsigned char out[CRYPTO_HASH_LEN])
{
	if (crypto_sha256(key, strlen(key), out) != 0)
		memset(out, 0, CRYPTO_HASH_LEN);
}

static struct rl_slot *rl_find(struct ratelimit *rl, const unsigned char *key, int64_t now,
			       int create)
{
	struct rl_slot *victim = NULL;

	for (unsigned i = 0; i < rl->nslots; i++) {
		struct rl_slot *s = &rl->slots[i];
		if (s->used && memcmp(s->key, key, CRYPTO_HASH_LEN) == 0) {
			if (now - s->start >= rl->window) {
				s->start = now;
				s->count = 0;
			}
			return s;
		}
		if (victim == NULL || !s->used || (victim->used && s->start < victim->start))
			victim = s;
	}
	if (!create || victim == NULL)
		return NULL;
	memcpy(victim->key, key, CRYPTO_HASH_LEN);
	victim->used = 1;
	victim->start = now;
	victim->count = 0;
	return victim;
}

unsigned ratelimit_blocked(struct ratelimit *rl, const char *key, int64_t now_ms)
{
	unsigned char d[CRYPTO_HASH_LEN];
	struct rl_slot *s;
	unsigned wait = 0;

	rl_digest(key, d);

	/* Everything read from the slot is read under the lock: another thread
	 * may reuse it for a different client as soon as the lock is released. */
	pthread_mutex_lock(&rl->mu);
	s = rl_find(rl, d, now_ms, 0);
	if (s != NULL && s->count >= rl->max) {
		wait = (unsigned)((s->start + rl->window - now_ms + 999) / 1000);
		if (wait == 0)
			wait = 1;
	}
	pthread_mutex_unlock(&rl->mu);
	return wait;
}

void ratelimit_fail(struct ratelimit *rl, const char *key, int64_t now_ms)
{
	unsigned char d[CRYPTO_HASH_LEN];
	struct rl_slot *s;

	rl_digest(key, d);
	pthread_mutex_lock(&rl->mu);
	s = rl_find(rl, d, now_ms, 1);
	if (s != NULL)
		s->count++;
	pthread_mutex_unlock(&rl->mu);
}

void ratelimit_clear(struct ratelimit *rl, const char *key)
{
	unsigned char d[CRYPTO_HASH_LEN];

	rl_digest(key, d);
	pthread_mutex_lock(&rl->mu);
	for (unsigned i = 0; i < rl->nslots; i++)
		if (rl->slots[i].used && memcmp(rl->slots[i].key, d, CRYPTO_HASH_LEN) == 0)
			memset(&rl->slots[i], 0, sizeof(rl->slots[i]));
	pthread_mutex_unlock(&rl->mu);
}
