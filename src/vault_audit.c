/* vault_audit.c: building audit entries and appending them to the store's
 * keyed hash chain, the MAC function that seals it, and reading the log
 * back (list, cursor, verify). Entries hold no secret: a secret's name
 * appears only sealed under the audit key. */
#include "vault_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "jtext.h"
#include "log.h"
#include "reqid.h"
#include "util.h"

/* The store's MAC function: HMAC-SHA256 under the mac key, while a
 * session's keys are set. Takes only mac_mu (the committer calls it). */
static int vault_audit_mac(void *ctx, const struct store_mac_msg *m, int n)
{
	struct vault *v = ctx;
	int rc = 0;

	pthread_mutex_lock(&v->mac_mu);
	if (v->mac_keys == NULL)
		rc = -1;
	for (int i = 0; i < n && rc == 0; i++)
		rc = crypto_mac_sha256(&v->mac_keys->mac_mk, m[i].msg, m[i].len, NULL, 0,
				       m[i].out);
	pthread_mutex_unlock(&v->mac_mu);
	return rc;
}

void vault_audit_init(struct vault *v) { store_audit_set_mac(v->st, vault_audit_mac, v); }

void vault_audit_use_keys(struct vault *v, const struct vault_keys *k)
{
	pthread_mutex_lock(&v->mac_mu);
	v->mac_keys = k;
	pthread_mutex_unlock(&v->mac_mu);
}

void vault_audit_forget(struct vault *v)
{
	pthread_mutex_lock(&v->seal_mu);
	memset(v->seals, 0, sizeof(v->seals));
	pthread_mutex_unlock(&v->seal_mu);
}

/* A name sealed under the audit key, kept for the session: sealing costs
 * an AES key schedule per entry, and the cached ciphertext reveals nothing
 * the entry's blind index does not already (equal names). Caller holds rw. */
static int vault_audit_seal_name(struct vault *v, const struct vault_keys *k, const char *name,
				 size_t len, const unsigned char id[CRYPTO_HASH_LEN],
				 char out[VAULT_SEALED_B64])
{
	struct vault_seal *s = &v->seals[id[0] % VAULT_SEAL_SLOTS];
	unsigned char sealed[LIMIT_NAME_MAX + CRYPTO_SEAL_OVERHEAD];
	int hit;

	if (len > LIMIT_NAME_MAX)
		return -1;
	pthread_mutex_lock(&v->seal_mu);
	hit = s->used && memcmp(s->id, id, CRYPTO_HASH_LEN) == 0;
	if (hit)
		memcpy(out, s->b64, sizeof(s->b64));
	pthread_mutex_unlock(&v->seal_mu);
	if (hit)
		return 0;
	if (crypto_seal(k->audit, VAULT_AUDIT_AAD, sizeof(VAULT_AUDIT_AAD) - 1, name, len,
			sealed) != 0)
		return -1;
	enc_b64_encode(sealed, len + CRYPTO_SEAL_OVERHEAD, out, 0);
	pthread_mutex_lock(&v->seal_mu);
	memcpy(s->id, id, CRYPTO_HASH_LEN);
	memcpy(s->b64, out, sizeof(s->b64));
	s->used = 1;
	pthread_mutex_unlock(&v->seal_mu);
	return 0;
}

static void vault_audit_field(struct jtext *t, const char *key, const char *val)
{
	jtext_raw(t, ",\"", 2);
	jtext_raw(t, key, strlen(key));
	jtext_raw(t, "\":", 2);
	jtext_str(t, val, strlen(val));
}

/* The entry has a fixed shape, so it is written directly rather than
 * through a JSON tree: this runs for every read. */
static char *vault_audit_write(struct vault *v, const struct vault_audit_ev *ev, int64_t count,
			       const char *sealed)
{
	const char *user = ev->user ? ev->user : "system", *ip = ev->ip ? ev->ip : "";
	/* The request being served on this thread (X-Request-Id), if any. */
	const char *rid = reqid_get();
	char ts[32], *text;
	struct jtext t;
	size_t cap;

	cap = 232 + VAULT_SEALED_B64 + JTEXT_STR_MAX(strlen(v->cfg->group_id)) +
	      JTEXT_STR_MAX(strlen(ev->action)) + JTEXT_STR_MAX(strlen(user)) +
	      JTEXT_STR_MAX(strlen(ip)) +
	      (ev->target_user ? JTEXT_STR_MAX(strlen(ev->target_user)) + 20 : 0) +
	      (ev->error ? JTEXT_STR_MAX(strlen(ev->error)) + 12 : 0) +
	      (rid ? JTEXT_STR_MAX(strlen(rid)) + 16 : 0);
	if ((text = malloc(cap)) == NULL)
		return NULL;
	util_iso8601(util_now_ms(), ts, sizeof(ts));
	jtext_init(&t, text, cap);
	jtext_raw(&t, "{\"timestamp\":", 13);
	jtext_str(&t, ts, strlen(ts));
	vault_audit_field(&t, "groupId", v->cfg->group_id);
	vault_audit_field(&t, "action", ev->action);
	vault_audit_field(&t, "userId", user);
	vault_audit_field(&t, "ipAddress", ip);
	if (ev->success)
		jtext_raw(&t, ",\"success\":true", 15);
	else
		jtext_raw(&t, ",\"success\":false", 16);
	if (ev->target_user != NULL)
		vault_audit_field(&t, "targetUserId", ev->target_user);
	if (ev->error != NULL)
		vault_audit_field(&t, "error", ev->error);
	if (count > 0) {
		char n[32];
		int l = snprintf(n, sizeof(n), ",\"count\":%lld", (long long)count);
		jtext_raw(&t, n, (size_t)l);
	}
	if (sealed != NULL) { /* base64: nothing to escape */
		jtext_raw(&t, ",\"secretKeySealed\":\"", 20);
		jtext_raw(&t, sealed, strlen(sealed));
		jtext_raw(&t, "\"", 1);
	}
	if (rid != NULL)
		vault_audit_field(&t, "requestId", rid);
	jtext_raw(&t, "}", 1);
	if (jtext_end(&t) != 0) {
		log_err("%s: entry larger than its bound", __func__);
		free(text);
		return NULL;
	}
	return text;
}

char *vault_audit_text_n(struct vault *v, const struct vault_keys *k,
			 const struct vault_audit_ev *ev, int64_t count,
			 unsigned char id[CRYPTO_HASH_LEN], int *has_id)
{
	char sealed[VAULT_SEALED_B64];

	*has_id = 0;
	if (ev->name == NULL || k == NULL)
		return vault_audit_write(v, ev, count, NULL);
	if (ev->name_id == NULL && vault_blind_index(k, ev->name, ev->namelen, id) != 0)
		return NULL;
	if (ev->name_id != NULL && ev->name_id != id)
		memcpy(id, ev->name_id, CRYPTO_HASH_LEN);
	if (vault_audit_seal_name(v, k, ev->name, ev->namelen, id, sealed) != 0)
		return NULL;
	*has_id = 1;
	return vault_audit_write(v, ev, count, sealed);
}

char *vault_audit_text(struct vault *v, const struct vault_keys *k, const struct vault_audit_ev *ev,
		       unsigned char id[CRYPTO_HASH_LEN], int *has_id)
{
	return vault_audit_text_n(v, k, ev, 0, id, has_id);
}

int vault_audit_append(struct vault *v, struct store_tx *tx, const struct vault_keys *k,
		       const struct vault_audit_ev *ev)
{
	unsigned char id[CRYPTO_HASH_LEN];
	int has_id, rc;
	char *text = vault_audit_text(v, k, ev, id, &has_id);

	if (text == NULL)
		return -1;
	rc = store_audit_append(tx, text, strlen(text), has_id ? id : NULL);
	free(text);
	return rc;
}

enum vault_err vault_audit_one(struct vault *v, const struct vault_keys *k,
			       const struct vault_audit_ev *ev)
{
	struct store_tx *tx;

	if ((tx = store_tx_begin(v->st, 1)) == NULL)
		return VAULT_AUDIT_FAILED;
	if (vault_audit_append(v, tx, k, ev) != 0) {
		store_tx_rollback(tx);
		return VAULT_AUDIT_FAILED;
	}
	return store_tx_commit(tx) == 0 ? VAULT_OK : VAULT_AUDIT_FAILED;
}

struct vault_audit_list_ctx {
	json_t *logs;
	const struct vault_keys *k;
	int64_t last; /* seq of the last row listed */
};

/* One stored entry as listed: its sealed name opened when the session's
 * audit key can, and never shown sealed. */
static int vault_audit_row(void *arg, int64_t seq, const char *entry, size_t len)
{
	struct vault_audit_list_ctx *c = arg;
	json_t *e = json_loadb(entry, len, 0, NULL), *sealed;

	c->last = seq;
	if (!json_is_object(e)) {
		/* Shown in place, so one bad row does not hide the others. */
		json_decref(e);
		return json_array_append_new(
		    c->logs, json_pack("{s:I,s:b}", "seq", (json_int_t)seq, "corrupt", 1));
	}
	json_object_set_new(e, "seq", json_integer(seq));
	sealed = json_object_get(e, "secretKeySealed");
	if (json_is_string(sealed) && c->k != NULL) {
		const char *b = json_string_value(sealed);
		size_t blen = json_string_length(sealed), rawlen = 0;
		unsigned char *raw = malloc(blen / 4 * 3 + 3);

		if (raw != NULL && enc_b64_decode(b, blen, raw, &rawlen, 0) == 0 &&
		    rawlen >= CRYPTO_SEAL_OVERHEAD &&
		    crypto_open(c->k->audit, VAULT_AUDIT_AAD, sizeof(VAULT_AUDIT_AAD) - 1, raw,
				rawlen, raw) == 0)
			json_object_set_new(
			    e, "secretKey",
			    json_stringn((const char *)raw, rawlen - CRYPTO_SEAL_OVERHEAD));
		free(raw);
	}
	json_object_del(e, "secretKeySealed");
	json_array_append_new(c->logs, e);
	return 0;
}

enum vault_err vault_audit_list(struct vault *v, const char *name, size_t len, int64_t after,
				int limit, json_t **out)
{
	struct store_tx *tx;
	struct vault_audit_list_ctx c = {json_array(), NULL, after};
	unsigned char id[CRYPTO_HASH_LEN];
	enum vault_err err = VAULT_OK;

	pthread_rwlock_rdlock(&v->rw);
	c.k = vault_keys_live(v);
	if (name != NULL) {
		/* Entries are found by blind index, which needs the index key. */
		if (c.k == NULL) {
			err = VAULT_LOCKED;
			goto done;
		}
		if (vault_blind_index(c.k, name, len, id) != 0) {
			err = VAULT_INTERNAL;
			goto done;
		}
	}
	if ((tx = store_tx_begin(v->st, 0)) == NULL) {
		err = VAULT_STORE_FAILED;
		goto done;
	}
	if (store_audit_list(tx, name ? id : NULL, after, limit, vault_audit_row, &c) != 0)
		err = VAULT_STORE_FAILED;
	store_tx_rollback(tx);
done:
	pthread_rwlock_unlock(&v->rw);
	if (err != VAULT_OK) {
		json_decref(c.logs);
		return err;
	}
	*out = json_pack("{s:o}", "logs", c.logs);
	/* The cursor: where the next page starts (this one's last seq, or the
	 * same cursor when nothing newer exists yet). */
	if (after >= 0)
		json_object_set_new(*out, "next", json_integer(c.last));
	return VAULT_OK;
}

enum vault_err vault_audit_verify(struct vault *v, json_t **out)
{
	struct store_audit_check c;
	struct store_tx *tx;
	char hex[2 * CRYPTO_HASH_LEN + 1];
	int r;

	if ((tx = store_tx_begin(v->st, 0)) == NULL)
		return VAULT_STORE_FAILED;
	r = store_audit_verify(tx, &c);
	store_tx_rollback(tx);
	if (r < 0)
		return VAULT_STORE_FAILED;
	enc_hex_encode(c.head, sizeof(c.head), hex);
	/* head (hash) and headSeq are what an operator records elsewhere: only
	 * such a record shows the whole file rolled back. */
	*out = json_pack("{s:b,s:I,s:s,s:I,s:I,s:b}", "valid", r == 0, "entries",
			 (json_int_t)c.entries, "head", hex, "headSeq", (json_int_t)c.head_seq,
			 "sealedThrough", (json_int_t)c.sealed_through, "macsChecked", c.keyed);
	if (r == 1) {
		json_object_set_new(*out, "firstBadSeq", json_integer(c.bad_seq));
		json_object_set_new(*out, "problem", json_string(c.problem));
	}
	return VAULT_OK;
}
