/* vault_token.c: capability tokens: issue (signed, recorded in the registry
 * with its scope sealed and the row MAC'd), check (signature, expiry,
 * group, registry row and its MAC) and revoke (by id or token hash). It
 * never logs a token; the registry keeps only its digest and hash. */
#include "vault_int.h"

#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "metrics.h"
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
	unsigned char rnd[16], digest[CRYPTO_HASH_LEN], hash[CRYPTO_HASH_LEN], mac[CRYPTO_HASH_LEN];
	unsigned char *scope = NULL;
	char id[TOKEN_ID_LEN + 1], *tok = NULL;
	int64_t now = util_now_ms(), expires = now + ttl_s * 1000;
	struct store_token t = {id, user_id, now, expires, NULL, 0, digest, hash, mac};
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
	if (tok == NULL || scope == NULL)
		goto done;
	/* Never issue what the check (and the HTTP layer) would refuse. */
	if (strlen(tok) > LIMIT_TOKEN_MAX) {
		err = VAULT_TOKEN_SIZE;
		goto done;
	}
	if (crypto_sha256(tok, strcspn(tok, "."), digest) != 0 ||
	    crypto_sha256(tok, strlen(tok), hash) != 0 || vault_registry_mac(k, &t, 0, mac) != 0)
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

/* One registry row as the check sees it. */
struct vault_token_look {
	const struct vault_keys *k; /* NULL: locked, the revocation flags only */
	enum vault_reg verdict;
	const char *why;
	int64_t expires;
	unsigned char digest[CRYPTO_HASH_LEN];
	struct store_token_row bad; /* a tampered row, for the report */
};

static int vault_token_look_row(void *arg, const struct store_token_row *r)
{
	struct vault_token_look *c = arg;

	c->expires = r->expires_at;
	memcpy(c->digest, r->digest, CRYPTO_HASH_LEN);
	if (c->k == NULL) {
		c->verdict = r->revoked || r->pending ? VAULT_REG_REVOKED : VAULT_REG_VALID;
		return 0;
	}
	c->verdict = vault_registry_judge(c->k, r, &c->why);
	if (c->verdict == VAULT_REG_TAMPERED) {
		c->bad = *r;
		c->bad.scope = NULL; /* not valid past this call */
	}
	return 0;
}

/* The registry's digest and expiry for a token id, from the cache or the
 * store: VAULT_OK, VAULT_TOKEN_INVALID (unknown, revoked or tampered) or a
 * store error. With k the row's MAC is checked and a valid row cached;
 * without (locked) only its revocation is, and nothing is cached. */
static enum vault_err vault_token_registry(struct vault *v, const struct vault_keys *k,
					   const char *id, unsigned char stored[CRYPTO_HASH_LEN],
					   int64_t *expires)
{
	struct vault_token_look c = {.k = k};
	struct store_tx *tx;
	uint64_t gen;
	int r, fnrc;

	if (regcache_get(v->tokens, id, stored, expires)) {
		metrics_add(METRICS_REGISTRY_CACHE_HIT, 1);
		return VAULT_OK;
	}
	metrics_add(METRICS_REGISTRY_CACHE_MISS, 1);
	gen = regcache_gen(v->tokens);
	if ((tx = store_tx_begin(v->st, 0)) == NULL)
		return VAULT_STORE_FAILED;
	r = store_token_get(tx, id, NULL, vault_token_look_row, &c, &fnrc);
	store_tx_rollback(tx);
	if (r != 0)
		return r < 0 ? VAULT_STORE_FAILED : VAULT_TOKEN_INVALID;
	if (c.verdict == VAULT_REG_TAMPERED)
		vault_registry_report(v, NULL, k, &c.bad, c.why);
	if (c.verdict != VAULT_REG_VALID)
		return VAULT_TOKEN_INVALID;
	memcpy(stored, c.digest, CRYPTO_HASH_LEN);
	*expires = c.expires;
	if (k != NULL)
		regcache_put(v->tokens, gen, id, stored, *expires);
	return VAULT_OK;
}

/* The registry row must exist, be valid and be for exactly these payload
 * bytes. Caller holds v->rw; k as for vault_token_registry. */
static enum vault_err vault_token_row_ok(struct vault *v, const struct vault_keys *k,
					 const struct cap *c)
{
	unsigned char stored[CRYPTO_HASH_LEN];
	int64_t expires = 0;
	enum vault_err err = vault_token_registry(v, k, c->id, stored, &expires);

	if (err == VAULT_OK &&
	    (expires != c->expires_at || !crypto_equal(stored, c->digest, CRYPTO_HASH_LEN)))
		err = VAULT_TOKEN_INVALID;
	return err;
}

enum vault_err vault_token_recheck(struct vault *v, const struct vault_keys *k,
				   const struct cap *cap)
{
	return vault_token_row_ok(v, k, cap);
}

enum vault_err vault_token_check(struct vault *v, const char *tok, size_t len, struct cap **cap)
{
	struct cap *c = token_verify_cached(v->verified, v->sign_key, CRYPTO_HASH_LEN, tok, len);
	enum vault_err err;

	if (c == NULL)
		return VAULT_TOKEN_INVALID;
	if (c->expires_at < util_now_ms()) {
		err = VAULT_TOKEN_INVALID;
	} else if (strcmp(c->group_id, v->cfg->group_id) != 0) {
		err = VAULT_WRONG_GROUP;
	} else {
		pthread_rwlock_rdlock(&v->rw);
		err = vault_token_row_ok(v, vault_keys_live(v), c);
		pthread_rwlock_unlock(&v->rw);
	}
	if (err != VAULT_OK) {
		token_cap_free(c);
		return err;
	}
	*cap = c;
	return VAULT_OK;
}

/* The row a revocation names: its id and user. */
struct vault_token_target {
	char id[LIMIT_TOKEN_ID_MAX + 1];
	char user[LIMIT_NAME_MAX + 1];
};

static int vault_token_target_row(void *arg, const struct store_token_row *r)
{
	struct vault_token_target *t = arg;

	memcpy(t->id, r->id, sizeof(t->id));
	memcpy(t->user, r->user_id, sizeof(t->user));
	return 0;
}

/* Marks the rows revoked (one token: id or hash; or every token of user),
 * re-MACs them at once when unlocked (k), and audits, in one write
 * transaction. The registry cache is emptied before and after the commit
 * (regcache.h). *count: rows changed. */
static enum vault_err vault_token_revoke_tx(struct vault *v, const struct vault_keys *k,
					    const char *id, const unsigned char *hash,
					    const char *user, struct vault_audit_ev *ev,
					    int64_t *count)
{
	struct vault_token_target t = {"", ""};
	const char *by = ev->user;
	struct store_tx *tx;
	int r = 0, fnrc;

	if ((tx = store_tx_begin(v->st, 1)) == NULL)
		return VAULT_STORE_FAILED;
	regcache_clear(v->tokens);
	if (user == NULL) {
		r = store_token_get(tx, id, hash, vault_token_target_row, &t, &fnrc);
		ev->target_user = t.user;
	}
	if (r == 1) { /* nothing by that id or hash: a denial, audited */
		ev->success = 0;
		ev->error = "Token not found";
		ev->target_user = NULL;
		*count = 0;
	} else if (r == 0) {
		*count = user ? store_token_revoke_user(tx, user, util_now_ms(), by)
			      : store_token_revoke(tx, t.id, util_now_ms(), by);
	}
	if (r < 0 || *count < 0 || (k != NULL && vault_registry_seal(v, tx, k) != 0) ||
	    vault_audit_append(v, tx, k, ev) != 0) {
		store_tx_rollback(tx);
		return VAULT_STORE_FAILED;
	}
	r = store_tx_commit(tx) == 0 ? r : -1;
	regcache_clear(v->tokens);
	return r < 0 ? VAULT_STORE_FAILED : r == 1 ? VAULT_NO_TOKEN : VAULT_OK;
}

enum vault_err vault_token_revoke(struct vault *v, const char *key, const struct vault_actor *who)
{
	struct vault_audit_ev ev = {
	    "token.revoked", vault_actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};
	unsigned char hash[CRYPTO_HASH_LEN];
	size_t len = strlen(key);
	int by_hash;
	int64_t n;
	enum vault_err err;

	/* What the original's management server sends is the SHA-256 of the
	 * whole token in hex (64 characters); our ids are 32. */
	by_hash = len == 2 * CRYPTO_HASH_LEN && enc_hex_decode(key, len, hash) == 0;
	pthread_rwlock_rdlock(&v->rw);
	err = vault_token_revoke_tx(v, vault_keys_live(v), by_hash ? NULL : key,
				    by_hash ? hash : NULL, NULL, &ev, &n);
	pthread_rwlock_unlock(&v->rw);
	return err;
}

enum vault_err vault_token_revoke_user(struct vault *v, const char *user_id,
				       const struct vault_actor *who, long long *count)
{
	struct vault_audit_ev ev = {
	    "tokens.revoked.user", vault_actor_user(who), who->ip, NULL, 0, user_id, NULL, 1, NULL};
	int64_t n = 0;
	enum vault_err err;

	pthread_rwlock_rdlock(&v->rw);
	err = vault_token_revoke_tx(v, vault_keys_live(v), NULL, NULL, user_id, &ev, &n);
	pthread_rwlock_unlock(&v->rw);
	if (err == VAULT_OK)
		*count = n;
	return err;
}
