/* token.c: sign, verify and scope-check capability tokens. Verification
 * never trusts the payload before the MAC over its exact bytes has passed. */
#include "token.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "enc.h"
#include "limit.h"
#include "metrics.h"

unsigned token_perm(const char *name)
{
	if (strcmp(name, "read") == 0)
		return TOKEN_PERM_READ;
	if (strcmp(name, "write") == 0)
		return TOKEN_PERM_WRITE;
	if (strcmp(name, "delete") == 0)
		return TOKEN_PERM_DELETE;
	if (strcmp(name, "admin") == 0)
		return TOKEN_PERM_ADMIN;
	return 0;
}

char *token_sign(const unsigned char *key, size_t keylen, const json_t *payload)
{
	unsigned char mac[CRYPTO_HASH_LEN];
	char *json, *tok = NULL;
	size_t jlen, plen, tlen;

	json = json_dumps(payload, JSON_COMPACT);
	if (json == NULL)
		return NULL;
	jlen = strlen(json);
	plen = enc_b64_len(jlen, 1) - 1;
	tlen = plen + 1 + enc_b64_len(sizeof(mac), 1);
	tok = malloc(tlen);
	if (tok == NULL)
		goto done;
	enc_b64_encode((const unsigned char *)json, jlen, tok, 1);
	if (crypto_hmac_sha256(key, keylen, tok, plen, mac) != 0) {
		free(tok);
		tok = NULL;
		goto done;
	}
	tok[plen] = '.';
	enc_b64_encode(mac, sizeof(mac), tok + plen + 1, 1);
done:
	crypto_wipe_free(json);
	return tok;
}

static const char *token_str(json_t *o, const char *k, size_t maxlen)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > maxlen ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

struct cap *token_verify(const unsigned char *key, size_t keylen, const char *tok, size_t len)
{
	unsigned char mac[CRYPTO_HASH_LEN], given[CRYPTO_HASH_LEN + 3], *raw = NULL;
	const char *dot;
	size_t plen, glen = 0, rawlen = 0, i;
	struct cap *cap = NULL;
	json_t *p = NULL, *perms, *v;

	if (len == 0 || len > LIMIT_TOKEN_MAX)
		return NULL;
	dot = memchr(tok, '.', len);
	if (dot == NULL)
		return NULL;
	plen = (size_t)(dot - tok);
	if (len - plen - 1 != enc_b64_len(sizeof(mac), 1) - 1 ||
	    enc_b64_decode(dot + 1, len - plen - 1, given, &glen, 1) != 0 || glen != sizeof(mac))
		return NULL;
	if (crypto_hmac_sha256(key, keylen, tok, plen, mac) != 0 ||
	    !crypto_equal(mac, given, sizeof(mac)))
		return NULL;
	/* Authentic from here on; still check the shape strictly. */
	raw = malloc(plen / 4 * 3 + 3);
	if (raw == NULL || enc_b64_decode(tok, plen, raw, &rawlen, 1) != 0)
		goto fail;
	p = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(p))
		goto fail;
	cap = calloc(1, sizeof(*cap));
	if (cap == NULL)
		goto fail;
	cap->refs = 1;
	cap->payload = p;
	if (crypto_sha256(tok, plen, cap->digest) != 0)
		goto fail;
	cap->id = token_str(p, "id", LIMIT_TOKEN_ID_MAX);
	cap->group_id = token_str(p, "groupId", LIMIT_NAME_MAX);
	cap->user_id = token_str(p, "userId", LIMIT_NAME_MAX);
	cap->allowed = json_object_get(p, "allowedSecrets");
	perms = json_object_get(p, "permissions");
	v = json_object_get(p, "expiresAt");
	if (cap->id == NULL || cap->group_id == NULL || cap->user_id == NULL ||
	    !json_is_array(cap->allowed) || !json_is_array(perms) || !json_is_integer(v))
		goto fail;
	cap->expires_at = json_integer_value(v);
	json_array_foreach(perms, i, v)
	{
		unsigned bit = json_is_string(v) ? token_perm(json_string_value(v)) : 0;
		if (bit == 0)
			goto fail;
		cap->perms |= bit;
	}
	json_array_foreach(cap->allowed, i, v) if (!json_is_string(v)) goto fail;
	free(raw);
	return cap;
fail:
	free(raw);
	if (cap != NULL)
		token_cap_free(cap);
	else
		json_decref(p);
	return NULL;
}

void token_cap_free(struct cap *cap)
{
	if (cap == NULL || --cap->refs > 0)
		return;
	json_decref(cap->payload);
	free(cap);
}

struct tc_slot {
	unsigned char hash[CRYPTO_HASH_LEN];
	struct cap *cap;
};

struct token_cache {
	pthread_mutex_t mu;
	unsigned nslots;
	struct tc_slot *slots;
};

struct token_cache *token_cache_new(unsigned slots)
{
	struct token_cache *tc = calloc(1, sizeof(*tc));

	if (tc == NULL)
		return NULL;
	tc->slots = calloc(slots, sizeof(*tc->slots));
	if (tc->slots == NULL) {
		free(tc);
		return NULL;
	}
	tc->nslots = slots;
	pthread_mutex_init(&tc->mu, NULL);
	return tc;
}

void token_cache_free(struct token_cache *tc)
{
	if (tc == NULL)
		return;
	for (unsigned i = 0; i < tc->nslots; i++)
		token_cap_free(tc->slots[i].cap);
	pthread_mutex_destroy(&tc->mu);
	free(tc->slots);
	free(tc);
}

struct cap *token_verify_cached(struct token_cache *tc, const unsigned char *key, size_t keylen,
				const char *tok, size_t len)
{
	unsigned char h[CRYPTO_HASH_LEN];
	struct tc_slot *s;
	struct cap *c = NULL, *old = NULL;
	uint64_t idx;

	if (len == 0 || len > LIMIT_TOKEN_MAX || crypto_sha256(tok, len, h) != 0)
		return NULL;
	memcpy(&idx, h, sizeof(idx));
	s = &tc->slots[idx % tc->nslots];
	pthread_mutex_lock(&tc->mu);
	if (s->cap != NULL && memcmp(s->hash, h, sizeof(h)) == 0) {
		c = s->cap;
		c->refs++;
	}
	pthread_mutex_unlock(&tc->mu);
	metrics_add(c != NULL ? METRICS_TOKEN_CACHE_HIT : METRICS_TOKEN_CACHE_MISS, 1);
	if (c != NULL)
		return c;
	c = token_verify(key, keylen, tok, len);
	if (c == NULL)
		return NULL;
	c->refs++; /* one for the cache */
	pthread_mutex_lock(&tc->mu);
	old = s->cap;
	memcpy(s->hash, h, sizeof(h));
	s->cap = c;
	pthread_mutex_unlock(&tc->mu);
	token_cap_free(old);
	return c;
}

int token_in_scope(const struct cap *cap, const char *name, size_t namelen)
{
	size_t i;
	json_t *v;

	json_array_foreach(cap->allowed, i, v)
	{
		const char *pat = json_string_value(v);
		size_t plen = json_string_length(v);

		if (plen == 1 && pat[0] == '*')
			return 1;
		if (plen > 0 && pat[plen - 1] == '*') {
			if (namelen >= plen - 1 && memcmp(name, pat, plen - 1) == 0)
				return 1;
		} else if (plen == namelen && memcmp(name, pat, plen) == 0) {
			return 1;
		}
	}
	return 0;
}

int token_allows(const struct cap *cap, const char *name, size_t namelen, unsigned perm)
{
	return (cap->perms & perm) == perm && token_in_scope(cap, name, namelen);
}
