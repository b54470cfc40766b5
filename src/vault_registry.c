/* vault_registry.c: the token registry's integrity. Each row carries a MAC
 * under the registry key (derived from the root key, so only while
 * unlocked) over everything that makes a token usable, as live or as
 * revoked; a row that fails is refused, logged and audited. It also lists
 * the registry. It must never accept a row it could not check. */
#include "vault_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "token.h"
#include "util.h"

#define VAULT_REG_LABEL "groupvault registry row v1"

static size_t vault_reg_put(unsigned char *b, size_t n, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		b[n + i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
	return n + bytes;
}

int vault_registry_mac(const struct vault_keys *k, const struct store_token *t, int revoked,
		       unsigned char mac[CRYPTO_HASH_LEN])
{
	unsigned char head[sizeof(VAULT_REG_LABEL) + 1 + 2 * 4 + LIMIT_TOKEN_ID_MAX +
			   LIMIT_NAME_MAX + 3 * 8 + 2 * CRYPTO_HASH_LEN];
	size_t n = sizeof(VAULT_REG_LABEL), idlen = strlen(t->id), ulen = strlen(t->user_id);

	if (idlen > LIMIT_TOKEN_ID_MAX || ulen > LIMIT_NAME_MAX)
		return -1;
	/* Every variable field is length-prefixed, so no two rows share an input. */
	memcpy(head, VAULT_REG_LABEL, sizeof(VAULT_REG_LABEL));
	head[n++] = revoked ? 'R' : 'L';
	n = vault_reg_put(head, n, idlen, 4);
	memcpy(head + n, t->id, idlen);
	n = vault_reg_put(head, n + idlen, ulen, 4);
	memcpy(head + n, t->user_id, ulen);
	n = vault_reg_put(head, n + ulen, (uint64_t)t->issued_at, 8);
	n = vault_reg_put(head, n, (uint64_t)t->expires_at, 8);
	memcpy(head + n, t->digest, CRYPTO_HASH_LEN);
	memcpy(head + n + CRYPTO_HASH_LEN, t->token_hash, CRYPTO_HASH_LEN);
	n = vault_reg_put(head, n + 2 * CRYPTO_HASH_LEN, t->scope_len, 8);
	return crypto_mac_sha256(&k->registry_mk, head, n, t->scope, t->scope_len, mac);
}

enum vault_reg vault_registry_judge(const struct vault_keys *k, const struct store_token_row *r,
				    const char **why)
{
	struct store_token t = {r->id,	      r->user_id, r->issued_at,	 r->expires_at, r->scope,
				r->scope_len, r->digest,  r->token_hash, NULL};
	unsigned char m[CRYPTO_HASH_LEN];

	if (!r->has_mac || !r->has_hash) {
		/* Rows from before the registry had MACs were revoked by the
		 * upgrade; an unrevoked row without a MAC was not written by us. */
		*why = "row has no MAC";
		return r->revoked ? VAULT_REG_REVOKED : VAULT_REG_TAMPERED;
	}
	if (vault_registry_mac(k, &t, 0, m) == 0 && crypto_equal(m, r->mac, sizeof(m))) {
		/* Only a revocation sets pending, and it sets revoked_at too. */
		*why = "pending revocation cleared";
		if (r->pending && !r->revoked)
			return VAULT_REG_TAMPERED;
		return r->revoked ? VAULT_REG_REVOKED : VAULT_REG_VALID;
	}
	if (vault_registry_mac(k, &t, 1, m) == 0 && crypto_equal(m, r->mac, sizeof(m))) {
		*why = "revocation cleared";
		return r->revoked ? VAULT_REG_REVOKED : VAULT_REG_TAMPERED;
	}
	*why = "MAC does not match";
	return VAULT_REG_TAMPERED;
}

void vault_registry_report(struct vault *v, struct store_tx *tx, const struct vault_keys *k,
			   const struct store_token_row *r, const char *why)
{
	struct vault_audit_ev ev = {"token.registry_tampered",
				    NULL,
				    NULL,
				    NULL,
				    0,
				    r->user_id,
				    "Token registry row failed its integrity check",
				    0,
				    NULL};

	/* The id is hex or 32-64 characters of the attacker's choosing; the log
	 * line escapes nothing, so only a checked id is printed. */
	log_err("token registry: row %s failed its integrity check (%s); token refused",
		strspn(r->id, "0123456789abcdef") == strlen(r->id) ? r->id : "(non-hex id)", why);
	if (tx != NULL ? vault_audit_append(v, tx, k, &ev) != 0 : vault_audit_one(v, k, &ev) != 0)
		log_warn("%s: could not audit the tampered row", __func__);
}

/* Collected pending rows: their new MACs, written after the walk. */
struct vault_reg_seal {
	struct vault *v;
	struct store_tx *tx;
	const struct vault_keys *k;
	size_t n, cap;
	struct {
		char id[LIMIT_TOKEN_ID_MAX + 1];
		unsigned char mac[CRYPTO_HASH_LEN];
	} * rows;
};

static int vault_registry_seal_row(void *arg, const struct store_token_row *r)
{
	struct vault_reg_seal *c = arg;
	struct store_token t = {r->id,	      r->user_id, r->issued_at,	 r->expires_at, r->scope,
				r->scope_len, r->digest,  r->token_hash, NULL};
	const char *why = NULL;

	if (vault_registry_judge(c->k, r, &why) != VAULT_REG_REVOKED || !r->has_mac) {
		/* Stays pending and refused; reported at every unlock. */
		if (r->has_mac || !r->revoked)
			vault_registry_report(c->v, c->tx, c->k, r, why);
		return 0;
	}
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;
		void *p = realloc(c->rows, ncap * sizeof(*c->rows));
		if (p == NULL)
			return -1;
		c->rows = p;
		c->cap = ncap;
	}
	memcpy(c->rows[c->n].id, r->id, sizeof(r->id));
	if (vault_registry_mac(c->k, &t, 1, c->rows[c->n].mac) != 0)
		return -1;
	c->n++;
	return 0;
}

int vault_registry_seal(struct vault *v, struct store_tx *tx, const struct vault_keys *k)
{
	struct vault_reg_seal c = {v, tx, k, 0, 0, NULL};
	int rc = store_token_each_pending(tx, vault_registry_seal_row, &c);

	for (size_t i = 0; rc == 0 && i < c.n; i++)
		rc = store_token_seal(tx, c.rows[i].id, c.rows[i].mac);
	free(c.rows);
	if (rc != 0)
		log_err("%s: could not seal pending revocations", __func__);
	return rc == 0 ? 0 : -1;
}

struct vault_reg_list {
	const struct vault_keys *k; /* NULL: locked */
	json_t *tokens;
	int64_t last;
	int n;
};

/* Adds the opened scope's fields to e; -1 if it does not open. */
static int vault_registry_scope(const struct vault_keys *k, const struct store_token_row *r,
				json_t *e)
{
	size_t len = r->scope_len > CRYPTO_SEAL_OVERHEAD ? r->scope_len - CRYPTO_SEAL_OVERHEAD : 0;
	char *text = len > 0 ? crypto_wipe_malloc(len) : NULL;
	json_t *sj = NULL;
	int rc = -1;

	if (text == NULL || crypto_open(k->data, VAULT_TOKEN_AAD, sizeof(VAULT_TOKEN_AAD) - 1,
					r->scope, r->scope_len, (unsigned char *)text) != 0)
		goto done;
	sj = json_loadb(text, len, 0, NULL);
	if (!json_is_array(json_object_get(sj, "allowedSecrets")) ||
	    !json_is_array(json_object_get(sj, "permissions")))
		goto done;
	json_object_set(e, "allowedSecrets", json_object_get(sj, "allowedSecrets"));
	json_object_set(e, "permissions", json_object_get(sj, "permissions"));
	if (json_is_string(json_object_get(sj, "issuedBy")))
		json_object_set(e, "issuedBy", json_object_get(sj, "issuedBy"));
	rc = 0;
done:
	json_decref(sj);
	crypto_wipe_free(text);
	return rc;
}

static int vault_registry_list_row(void *arg, const struct store_token_row *r)
{
	struct vault_reg_list *c = arg;
	const char *why = NULL;
	json_t *e = json_pack("{s:s,s:s,s:I,s:I}", "id", r->id, "userId", r->user_id, "issuedAt",
			      (json_int_t)r->issued_at, "expiresAt", (json_int_t)r->expires_at);

	if (e == NULL)
		return -1;
	if (r->revoked) {
		json_object_set_new(e, "revokedAt", json_integer(r->revoked_at));
		if (r->revoked_by[0] != '\0')
			json_object_set_new(e, "revokedBy", json_string(r->revoked_by));
	}
	/* A row that fails its check is shown flagged, never with its scope. */
	if (c->k != NULL && (vault_registry_judge(c->k, r, &why) == VAULT_REG_TAMPERED ||
			     vault_registry_scope(c->k, r, e) != 0))
		json_object_set_new(e, "integrity", json_string("failed"));
	json_array_append_new(c->tokens, e);
	c->last = r->seq;
	c->n++;
	return 0;
}

enum vault_err vault_token_list(struct vault *v, const char *user, int include_revoked,
				long long after, int limit, json_t **out)
{
	struct vault_reg_list c = {NULL, json_array(), 0, 0};
	struct store_tx *tx;
	enum vault_err err = VAULT_STORE_FAILED;
	int r;

	if (c.tokens == NULL)
		return VAULT_INTERNAL;
	pthread_rwlock_rdlock(&v->rw);
	c.k = vault_keys_live(v);
	if ((tx = store_tx_begin(v->st, 0)) != NULL) {
		r = store_token_list(tx, user, include_revoked, util_now_ms(), after, limit,
				     vault_registry_list_row, &c);
		store_tx_rollback(tx);
		err = r == 0 ? VAULT_OK : r > 0 ? VAULT_INTERNAL : VAULT_STORE_FAILED;
	}
	if (err == VAULT_OK) {
		/* A full page may have more after it. */
		*out = json_pack("{s:O,s:o,s:b}", "tokens", c.tokens, "next",
				 c.n == limit ? json_integer(c.last) : json_null(), "locked",
				 c.k == NULL);
		err = *out != NULL ? VAULT_OK : VAULT_INTERNAL;
	}
	pthread_rwlock_unlock(&v->rw);
	json_decref(c.tokens);
	return err;
}
