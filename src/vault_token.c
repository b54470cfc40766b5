/* vault_token.c: capability tokens: issue (signed, recorded in the registry
 * with its scope sealed), check (signature, expiry, group, registry) and
 * revoke. It never logs a token; the registry keeps only its digest. */
#include "vault_int.h"

#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "regcache.h"
#include "token.h"
#include "util.h"

/* Records a signed token in the registry with the issue's audit entry, in
 * one write transaction; refused (VAULT_TOKEN_LIMIT) past the user's
 * hourly quota. Caller holds rw. */
static enum vault_err vault_token_record(struct vault *v, const struct vault_keys *k,
					 const struct store_token *t,
					 const struct vault_audit_ev *ev)
{
	struct store_tx *tx = store_tx_begin(v->st, 1);
	int64_t issued;

	if (tx == NULL)
		return VAULT_STORE_FAILED;
	issued = store_token_count_since(tx, t->user_id, t->issued_at - 3600 * 1000);
	if (issued < 0 || issued >= (int64_t)v->cfg->token_issue_per_hour) {
		store_tx_rollback(tx);
		return issued < 0 ? VAULT_STORE_FAILED : VAULT_TOKEN_LIMIT;
	}
	if (store_token_put(tx, t) != 0 || store_token_purge(tx, t->issued_at) < 0 ||
	    vault_audit_append(v, tx, k, ev) != 0) {
		store_tx_rollback(tx);
		return VAULT_STORE_FAILED;
	}
	return store_tx_commit(tx) == 0 ? VAULT_OK : VAULT_STORE_FAILED;
}

/* The token's scope as the registry keeps it, sealed under the data key;
 * a malloc'd buffer of *len bytes, or NULL. */
static unsigned char *vault_token_scope(const struct vault_keys *k, json_t *allowed, json_t *perms,
					const char *issued_by, size_t *len)
{
	json_t *sj = json_pack("{s:O,s:O,s:s}", "allowedSecrets", allowed, "permissions", perms,
			       "issuedBy", issued_by);
	char *scope = sj ? json_dumps(sj, JSON_COMPACT) : NULL;
	unsigned char *sealed = NULL;

	json_decref(sj);
	if (scope == NULL)
		return NULL;
	*len = strlen(scope) + CRYPTO_SEAL_OVERHEAD;
	sealed = malloc(*len);
	if (sealed != NULL && crypto_seal(k->data, VAULT_TOKEN_AAD, sizeof(VAULT_TOKEN_AAD) - 1,
					  scope, strlen(scope), sealed) != 0) {
		free(sealed);
		sealed = NULL;
	}
	crypto_wipe_free(scope);
	return sealed;
}

enum vault_err vault_token_issue(struct vault *v, const char *user_id, json_t *allowed,
				 json_t *perms, long long ttl_s, const struct vault_actor *who,
				 json_t **out)
{
	struct vault_audit_ev ev = {"token.issued", user_id, who->ip, NULL, 0, NULL, NULL, 1, NULL};
	unsigned char rnd[16], digest[CRYPTO_HASH_LEN], *scope = NULL;
	char id[TOKEN_ID_LEN + 1], *tok = NULL;
	int64_t now = util_now_ms(), expires = now + ttl_s * 1000;
	struct store_token t = {id, user_id, now, expires, NULL, 0, digest};
	struct vault_keys *k;
	json_t *payload = NULL;
	enum vault_err err = VAULT_INTERNAL;

	if (crypto_random(rnd, sizeof(rnd)) != 0)
		return VAULT_INTERNAL;
	enc_hex_encode(rnd, sizeof(rnd), id);
	pthread_rwlock_rdlock(&v->rw);
	k = vault_keys_live(v);
	if (k == NULL) {
		err = VAULT_LOCKED;
		goto done;
	}
	payload = json_pack("{s:s,s:s,s:s,s:O,s:O,s:I}", "id", id, "groupId", v->cfg->group_id,
			    "userId", user_id, "allowedSecrets", allowed, "permissions", perms,
			    "expiresAt", (json_int_t)expires);
	tok = payload ? token_sign(v->sign_key, CRYPTO_HASH_LEN, payload) : NULL;
	scope = vault_token_scope(k, allowed, perms, vault_actor_user(who), &t.scope_len);
	t.scope = scope;
	if (tok == NULL || scope == NULL || crypto_sha256(tok, strcspn(tok, "."), digest) != 0)
		goto done;
	err = vault_token_record(v, k, &t, &ev);
	if (err != VAULT_OK)
		goto done;
	*out = json_pack("{s:s,s:I,s:s,s:I}", "token", tok, "expiresIn", (json_int_t)ttl_s, "id",
			 id, "expiresAt", (json_int_t)expires);
	err = *out ? VAULT_OK : VAULT_INTERNAL;
done:
	pthread_rwlock_unlock(&v->rw);
	free(scope);
	free(tok);
	json_decref(payload);
	return err;
}

/* The registry's digest and expiry for a token id, from the cache or the
 * store: VAULT_OK, VAULT_TOKEN_INVALID (unknown or revoked) or a store error. */
static enum vault_err vault_token_registry(struct vault *v, const char *id,
					   unsigned char stored[CRYPTO_HASH_LEN], int64_t *expires)
{
	struct store_tx *tx;
	uint64_t gen;
	int revoked = 0, r;

	if (regcache_get(v->tokens, id, stored, expires))
		return VAULT_OK;
	gen = regcache_gen(v->tokens);
	if ((tx = store_tx_begin(v->st, 0)) == NULL)
		return VAULT_STORE_FAILED;
	r = store_token_get(tx, id, &revoked, expires, stored);
	store_tx_rollback(tx);
	if (r != 0 || revoked)
		return r < 0 ? VAULT_STORE_FAILED : VAULT_TOKEN_INVALID;
	regcache_put(v->tokens, gen, id, stored, *expires);
	return VAULT_OK;
}

enum vault_err vault_token_check(struct vault *v, const char *tok, size_t len, struct cap **cap)
{
	struct cap *c = token_verify_cached(v->verified, v->sign_key, CRYPTO_HASH_LEN, tok, len);
	unsigned char stored[CRYPTO_HASH_LEN];
	int64_t expires = 0;
	enum vault_err err;

	if (c == NULL)
		return VAULT_TOKEN_INVALID;
	if (c->expires_at < util_now_ms())
		err = VAULT_TOKEN_INVALID;
	else if (strcmp(c->group_id, v->cfg->group_id) != 0)
		err = VAULT_WRONG_GROUP;
	else
		err = vault_token_registry(v, c->id, stored, &expires);
	/* The registry row must be for exactly these payload bytes. */
	if (err == VAULT_OK &&
	    (expires != c->expires_at || !crypto_equal(stored, c->digest, CRYPTO_HASH_LEN)))
		err = VAULT_TOKEN_INVALID;
	if (err != VAULT_OK) {
		token_cap_free(c);
		return err;
	}
	*cap = c;
	return VAULT_OK;
}

/* Revokes by token id (user NULL) or every token of a user, with its audit
 * entry. The registry cache is emptied before and after the commit
 * (regcache.h). *count: rows changed. */
static enum vault_err vault_token_revoke_where(struct vault *v, const char *id, const char *user,
					       const struct vault_audit_ev *ev, int64_t *count)
{
	struct store_tx *tx;
	int r;

	if ((tx = store_tx_begin(v->st, 1)) == NULL)
		return VAULT_STORE_FAILED;
	regcache_clear(v->tokens);
	*count = user ? store_token_revoke_user(tx, user, util_now_ms())
		      : store_token_revoke(tx, id, util_now_ms());
	if (*count < 0 || vault_audit_append(v, tx, NULL, ev) != 0) {
		store_tx_rollback(tx);
		return VAULT_STORE_FAILED;
	}
	r = store_tx_commit(tx);
	regcache_clear(v->tokens);
	return r == 0 ? VAULT_OK : VAULT_STORE_FAILED;
}

enum vault_err vault_token_revoke(struct vault *v, const char *id, const struct vault_actor *who)
{
	struct vault_audit_ev ev = {
	    "token.revoked", vault_actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};
	int64_t n;

	return vault_token_revoke_where(v, id, NULL, &ev, &n);
}

enum vault_err vault_token_revoke_user(struct vault *v, const char *user_id,
				       const struct vault_actor *who, long long *count)
{
	struct vault_audit_ev ev = {
	    "tokens.revoked.user", vault_actor_user(who), who->ip, NULL, 0, user_id, NULL, 1, NULL};
	int64_t n = 0;
	enum vault_err err = vault_token_revoke_where(v, NULL, user_id, &ev, &n);

	if (err == VAULT_OK)
		*count = n;
	return err;
}
