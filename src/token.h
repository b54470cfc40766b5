/* token.h: capability tokens. A token is base64url(payload JSON) "."
 * base64url(HMAC-SHA256(key, first part as sent)); the payload is never
 * re-serialised for verification. Pure functions: no store, no clock. */
#ifndef GV_TOKEN_H
#define GV_TOKEN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define TOKEN_PERM_READ 1u
#define TOKEN_PERM_WRITE 2u
#define TOKEN_PERM_DELETE 4u
/* Accepted as the original does; no operation requires it, so it grants
 * nothing beyond the other permissions. */
#define TOKEN_PERM_ADMIN 8u
#define TOKEN_ID_LEN 32 /* hex characters */

struct cap {
	_Atomic int refs;
	json_t *payload; /* owns the strings below */
	const char *id;
	const char *group_id;
	const char *user_id;
	json_t *allowed; /* array of strings */
	unsigned perms;
	int64_t expires_at;	  /* ms since the epoch */
	unsigned char digest[32]; /* SHA-256 of the payload part as sent */
};

/* Parses a permission name; 0 when unknown. */
unsigned token_perm(const char *name);

/* Signs payload (an object) into a new malloc'd token string. */
char *token_sign(const unsigned char *key, size_t keylen, const json_t *payload);

/* Verifies the signature (constant time) and the payload's shape. Returns a
 * cap to free with token_cap_free, or NULL when anything is wrong. */
struct cap *token_verify(const unsigned char *key, size_t keylen, const char *tok, size_t len);
/* Drops one reference; the last one frees. NULL is a no-op. */
void token_cap_free(struct cap *cap);

/* A cache of verified tokens keyed by SHA-256 of the whole token, so a
 * token used again skips MAC, decoding and parsing. It caches only what
 * token_verify accepted; revocation and expiry are still checked by the
 * caller on every use. */
struct token_cache;
struct token_cache *token_cache_new(unsigned slots);
void token_cache_free(struct token_cache *tc);
/* token_verify through the cache: same answer, shared result. */
struct cap *token_verify_cached(struct token_cache *tc, const unsigned char *key, size_t keylen,
				const char *tok, size_t len);

/* Does the token grant perm on name? Patterns: "*", exact names, and a
 * prefix ending in '*' ("prod.*"). Any other string is an exact name; one
 * that no valid secret name equals (e.g. "db/pass") simply matches
 * nothing. */
int token_allows(const struct cap *cap, const char *name, size_t namelen, unsigned perm);
/* Scope check alone (for listing). */
int token_in_scope(const struct cap *cap, const char *name, size_t namelen);

#endif
