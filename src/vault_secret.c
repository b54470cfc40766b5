/* vault_secret.c: the operations on secrets: get and put (prepared here,
 * answered through vault_defer.c once durable), delete and list. Each
 * checks the session and the token's scope first and audits a denial; a
 * value is never logged and leaves only through the defer protocol. */
#include "vault_int.h"

#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "log.h"
#include "record.h"
#include "token.h"
#include "util.h"

/* Records a denial (or a name not found), coalesced per token
 * (vault_deny.c); the caller answers whether or not that audit write
 * succeeded (nothing is revealed). */
static void vault_secret_deny(struct vault *v, const struct vault_keys *k, const char *action,
			      const struct cap *cap, const char *name, size_t len, const char *ip,
			      const char *error)
{
	struct vault_audit_ev ev = {action, cap->user_id, ip, name, len, NULL, error, 0, NULL};

	if (vault_deny_audit(v, k, &ev, cap->id) != VAULT_OK)
		log_warn("%s: could not audit %s", __func__, action);
}

/* The checks every secret operation starts with. On VAULT_OK the session's
 * keys are in *k, the name's blind index in id, and the caller holds v->rw
 * for reading; otherwise the denial has been audited and nothing is held. */
static enum vault_err vault_secret_begin(struct vault *v, const struct cap *cap, const char *name,
					 size_t len, const char *ip, unsigned perm,
					 const char *denied, struct vault_keys **k,
					 unsigned char id[CRYPTO_HASH_LEN])
{
	enum vault_err err;

	pthread_rwlock_rdlock(&v->rw);
	*k = vault_keys_live(v);
	if (*k == NULL) {
		pthread_rwlock_unlock(&v->rw);
		vault_secret_deny(v, NULL, denied, cap, NULL, 0, ip, "Vault is locked");
		return VAULT_LOCKED;
	}
	/* The registry row's MAC, judged under the keys this operation uses. */
	if ((err = vault_token_recheck(v, *k, cap)) != VAULT_OK) {
		pthread_rwlock_unlock(&v->rw);
		return err;
	}
	if (!token_allows(cap, name, len, perm)) {
		vault_secret_deny(v, *k, denied, cap, name, len, ip, "Access denied");
		pthread_rwlock_unlock(&v->rw);
		return VAULT_ACCESS_DENIED;
	}
	if (vault_blind_index(*k, name, len, id) != 0) {
		pthread_rwlock_unlock(&v->rw);
		return VAULT_INTERNAL;
	}
	return VAULT_OK;
}

enum vault_err vault_secret_get(struct vault *v, const struct cap *cap, const char *name,
				size_t len, const char *ip, struct vault_defer **out)
{
	struct vault_audit_ev ev = {"secret.read", cap->user_id, ip, name, len,
				    NULL,	   NULL,	 1,  NULL};
	unsigned char id[CRYPTO_HASH_LEN], *rec = NULL;
	struct vault_defer *rv = NULL;
	struct vault_keys *k;
	int64_t version = 0;
	size_t rlen = 0;
	enum vault_err err;
	int found;

	err = vault_secret_begin(v, cap, name, len, ip, TOKEN_PERM_READ, "secret.read.denied", &k,
				 id);
	if (err != VAULT_OK)
		return err;
	found = vault_row_read(v, id, &version, &rec, &rlen);
	if (found > 0) /* probes of absent names are audited too */
		vault_secret_deny(v, k, "secret.read", cap, name, len, ip, "Secret not found");
	if (found != 0) {
		err = found > 0 ? VAULT_NOT_FOUND : VAULT_STORE_FAILED;
		goto done;
	}
	rv = calloc(1, sizeof(*rv));
	if (rv == NULL) {
		err = VAULT_INTERNAL;
		goto done;
	}
	rv->v = v;
	rv->answer = record_answer(k->data, id, version, rec, rlen, name, len, &rv->answer_len);
	if (rv->answer == NULL) {
		log_err("%s: a stored record failed its integrity check", __func__);
		err = VAULT_CORRUPT;
		goto done;
	}
	/* Audit before reveal: the caller sends the answer only after this entry
	 * commits (vault_defer_submit / vault_defer_wait). */
	ev.name_id = id; /* computed above; no second HMAC on the hot path */
	rv->entry = vault_audit_text(v, k, &ev, rv->row.id, &rv->has_id);
	if (rv->entry == NULL) {
		err = VAULT_INTERNAL;
		goto done;
	}
	*out = rv;
	rv = NULL;
	err = VAULT_OK;
done:
	pthread_rwlock_unlock(&v->rw);
	vault_defer_free(rv);
	free(rec);
	return err;
}

enum vault_err vault_secret_put(struct vault *v, const struct cap *cap, const char *name,
				size_t len, json_t *value, json_t *metadata, const char *ip,
				struct vault_defer **out)
{
	struct vault_audit_ev ev = {
	    "secret.created", cap->user_id, ip, name, len, NULL, NULL, 1, NULL};
	unsigned char id[CRYPTO_HASH_LEN];
	struct vault_defer *d;
	struct vault_keys *k;
	char ts[32];
	int has_id2;
	enum vault_err err;

	err = vault_secret_begin(v, cap, name, len, ip, TOKEN_PERM_WRITE, "secret.write.denied", &k,
				 id);
	if (err != VAULT_OK)
		return err;
	err = VAULT_INTERNAL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		goto done;
	d->v = v;
	d->is_put = 1;
	d->data_key = crypto_secure_alloc(CRYPTO_KEY_LEN);
	d->man_key = crypto_secure_alloc(CRYPTO_KEY_LEN);
	if (d->data_key == NULL || d->man_key == NULL)
		goto done;
	memcpy(d->data_key, k->data, CRYPTO_KEY_LEN);
	memcpy(d->man_key, k->manifest, CRYPTO_KEY_LEN);
	util_iso8601(util_now_ms(), ts, sizeof(ts));
	d->rec = json_pack("{s:s%,s:O,s:o,s:s,s:s}", "key", name, len, "value", value, "metadata",
			   metadata ? json_incref(metadata) : json_object(), "updatedAt", ts,
			   "updatedBy", cap->user_id);
	/* Both entries are ready; the committer picks one once it knows. The
	 * blind index is computed once, for the row and both entries. */
	memcpy(d->row.id, id, CRYPTO_HASH_LEN);
	ev.name_id = d->row.id;
	d->entry = vault_audit_text(v, k, &ev, d->row.id, &d->has_id);
	ev.action = "secret.updated";
	d->entry_updated = vault_audit_text(v, k, &ev, d->row.id, &has_id2);
	if (d->rec == NULL || d->entry == NULL || d->entry_updated == NULL || !d->has_id)
		goto done;
	*out = d;
	d = NULL;
	err = VAULT_OK;
done:
	pthread_rwlock_unlock(&v->rw);
	vault_defer_free(d);
	return err;
}

struct vault_secret_del {
	struct vault *v;
	const struct vault_keys *k;
	const struct vault_audit_ev *ev;
	const unsigned char *id;
};

/* The row, the manifest and the entry, in one write transaction
 * (vault_row_write). */
static int vault_secret_del_job(struct store_tx *tx, void *arg)
{
	struct vault_secret_del *d = arg;
	int64_t version = 0;
	int r = store_secret_del(tx, d->id, &version);

	if (r != 0)
		return r;
	if (vault_manifest_update(tx, d->k->manifest, d->id, &version, NULL) != 0)
		return -1;
	return vault_audit_append(d->v, tx, d->k, d->ev) != 0 ? -1 : 0;
}

enum vault_err vault_secret_delete(struct vault *v, const struct cap *cap, const char *name,
				   size_t len, const char *ip)
{
	struct vault_audit_ev ev = {
	    "secret.deleted", cap->user_id, ip, name, len, NULL, NULL, 1, NULL};
	struct vault_secret_del del = {v, NULL, &ev, NULL};
	struct vault_row_write w = {.job = vault_secret_del_job, .arg = &del};
	struct vault_keys *k;
	enum vault_err err;
	int r;

	err = vault_secret_begin(v, cap, name, len, ip, TOKEN_PERM_DELETE, "secret.delete.denied",
				 &k, w.id);
	if (err != VAULT_OK)
		return err;
	del.k = k;
	del.id = w.id;
	ev.name_id = w.id;
	r = vault_row_write(v, &w);
	if (r > 0)
		vault_secret_deny(v, k, "secret.deleted", cap, name, len, ip, "Secret not found");
	pthread_rwlock_unlock(&v->rw);
	return r == 0 ? VAULT_OK : r > 0 ? VAULT_NOT_FOUND : VAULT_STORE_FAILED;
}

int vault_list_row(void *arg, const unsigned char *id, int64_t version, const unsigned char *rec,
		   size_t len)
{
	struct vault_list_ctx *c = arg;
	json_t *r = record_open(c->data_key, id, version, rec, len), *md;
	const char *name;

	if (r == NULL) {
		log_err("%s: a stored record failed its integrity check", __func__);
		return 1;
	}
	name = json_string_value(json_object_get(r, "key"));
	md = json_object_get(r, "metadata");
	if (!json_is_object(md))
		md = json_object();
	else
		json_incref(md);
	if (c->v1) {
		json_object_set_new(c->out, name,
				    json_pack("{s:O,s:o,s:O,s:O}", "value",
					      json_object_get(r, "value"), "metadata", md,
					      "updatedAt", json_object_get(r, "updatedAt"),
					      "updatedBy", json_object_get(r, "updatedBy")));
	} else if (c->cap == NULL || token_in_scope(c->cap, name, strlen(name))) {
		if (c->limit > 0 && c->count == c->limit) {
			json_decref(md);
			json_decref(r);
			return 2;
		}
		json_array_append_new(c->out, json_pack("{s:s,s:o}", "key", name, "metadata", md));
		c->count++;
		memcpy(c->last, id, CRYPTO_HASH_LEN);
	} else {
		json_decref(md);
	}
	json_decref(r);
	return 0;
}

/* The checks a listing starts with, under v->rw for reading; on VAULT_OK
 * the session's data key is copied into dk (secure heap, CRYPTO_KEY_LEN). */
static enum vault_err vault_secret_list_begin(struct vault *v, const struct cap *cap,
					      const char *ip, unsigned char *dk)
{
	struct vault_keys *k;
	enum vault_err err = VAULT_OK;

	pthread_rwlock_rdlock(&v->rw);
	k = vault_keys_live(v);
	if (k == NULL) {
		pthread_rwlock_unlock(&v->rw);
		vault_secret_deny(v, NULL, "secrets.list.denied", cap, NULL, 0, ip,
				  "Vault is locked");
		return VAULT_LOCKED;
	}
	if ((err = vault_token_recheck(v, k, cap)) == VAULT_OK && !(cap->perms & TOKEN_PERM_READ)) {
		vault_secret_deny(v, k, "secrets.list.denied", cap, NULL, 0, ip, "Access denied");
		err = VAULT_ACCESS_DENIED;
	}
	if (err == VAULT_OK)
		memcpy(dk, k->data, CRYPTO_KEY_LEN);
	pthread_rwlock_unlock(&v->rw);
	return err;
}

/* The rows are read in one read transaction (a snapshot on a reader
 * connection, which never holds up the writer) and decrypted under a copy
 * of the data key, holding no vault lock: writes, reads, lock and unlock go
 * on meanwhile. The listing is audited, and answered, only if the session
 * is still open once it is built. */
enum vault_err vault_secret_list(struct vault *v, const struct cap *cap, const char *ip,
				 const unsigned char *after, size_t limit, json_t **out)
{
	struct vault_audit_ev ev = {
	    "secrets.listed", cap->user_id, ip, NULL, 0, NULL, NULL, 1, NULL};
	/* Only the data key: listings may run on every worker at once, and
	 * the locked heap is small. */
	unsigned char *dk = crypto_secure_alloc(CRYPTO_KEY_LEN);
	struct vault_list_ctx c = {dk, cap, NULL, 0, limit, 0, {0}};
	char next[2 * CRYPTO_HASH_LEN + 1];
	struct store_tx *tx;
	enum vault_err err;
	int r;

	if (dk == NULL)
		return VAULT_INTERNAL;
	if ((err = vault_secret_list_begin(v, cap, ip, dk)) != VAULT_OK)
		goto done;
	c.out = json_array();
	if (c.out == NULL || (tx = store_tx_begin(v->st, 0)) == NULL) {
		err = VAULT_STORE_FAILED;
		goto done;
	}
	r = store_secret_from(tx, after, vault_list_row, &c);
	store_tx_rollback(tx);
	if (r == 2) /* a full page, and more in scope after it */
		enc_hex_encode(c.last, CRYPTO_HASH_LEN, next);
	else if (r != 0) {
		err = r > 0 ? VAULT_CORRUPT : VAULT_STORE_FAILED;
		goto done;
	}
	pthread_rwlock_rdlock(&v->rw);
	if (vault_keys_live(v) == NULL)
		err = VAULT_LOCKED;
	else
		err = vault_audit_one(v, vault_keys_live(v), &ev);
	pthread_rwlock_unlock(&v->rw);
	if (err == VAULT_OK)
		*out = json_pack("{s:O,s:s*}", "keys", c.out, "next", r == 2 ? next : NULL);
done:
	crypto_secure_free(dk, CRYPTO_KEY_LEN);
	json_decref(c.out);
	return err;
}
