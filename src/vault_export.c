/* vault_export.c: export and import. Our own format carries the wrapped
 * root key and every sealed record verbatim, so an export holds nothing in
 * the clear; the original's ocmt-v1 format is in vault_ocmt.c. Import is
 * all or nothing, into an uninitialized vault only. */
#include "vault_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "util.h"

json_t *vault_meta_json(struct store_tx *tx, const char *name)
{
	unsigned char *val = NULL;
	size_t len;
	json_t *o = NULL;

	if (store_meta_get(tx, name, &val, &len) == 0)
		o = json_loadb((const char *)val, len, 0, NULL);
	free(val);
	return o;
}

json_t *vault_meta_string(struct store_tx *tx, const char *name)
{
	unsigned char *val = NULL;
	size_t len;
	json_t *o = NULL;

	if (store_meta_get(tx, name, &val, &len) == 0)
		o = json_stringn((const char *)val, len);
	free(val);
	return o;
}

int vault_b64_field(json_t *o, const char *k, unsigned char *buf, size_t want)
{
	json_t *s = json_object_get(o, k);
	size_t n = 0;

	if (!json_is_string(s) || json_string_length(s) != enc_b64_len(want, 0) - 1)
		return -1;
	return enc_b64_decode(json_string_value(s), json_string_length(s), buf, &n, 0) == 0 &&
		       n == want
		   ? 0
		   : -1;
}

/* ---- export ---- */

json_t *vault_export_record(const unsigned char *id, int64_t version, const unsigned char *rec,
			    size_t len)
{
	char hex[2 * CRYPTO_HASH_LEN + 1], *b64 = malloc(enc_b64_len(len, 0));
	json_t *o;

	if (b64 == NULL)
		return NULL;
	enc_hex_encode(id, CRYPTO_HASH_LEN, hex);
	enc_b64_encode(rec, len, b64, 0);
	o = json_pack("{s:s,s:I,s:s}", "id", hex, "version", (json_int_t)version, "sealed", b64);
	free(b64);
	return o;
}

static int vault_export_row(void *arg, const unsigned char *id, int64_t version,
			    const unsigned char *rec, size_t len)
{
	json_t *o = vault_export_record(id, version, rec, len);

	return o != NULL && json_array_append_new(arg, o) == 0 ? 0 : -1;
}

/* Our own format: the wrapped root key(s) with the policy and every sealed
 * record, verbatim. kdf and rootKey are left out when the policy has no
 * password; threshold (the stored policy) when it has none. */
enum vault_err vault_export_native(struct store_tx *tx, int rows, json_t **out)
{
	unsigned char *wrapped = NULL;
	size_t wlen = 0;
	json_t *kdf, *records = json_array(), *created, *thr, *root = NULL;
	char now[32], *b64 = NULL;

	util_iso8601(util_now_ms(), now, sizeof(now));
	kdf = vault_meta_json(tx, "kdf");
	thr = vault_meta_json(tx, "threshold");
	created = vault_meta_string(tx, "created");
	if ((kdf == NULL && thr == NULL) ||
	    (kdf != NULL && store_meta_get(tx, "root", &wrapped, &wlen) != 0) ||
	    (rows && store_secret_each(tx, vault_export_row, records) != 0)) {
		json_decref(kdf);
		json_decref(thr);
		json_decref(created);
		json_decref(records);
		free(wrapped);
		return VAULT_STORE_FAILED;
	}
	if (wrapped != NULL && (b64 = malloc(enc_b64_len(wlen, 0))) != NULL) {
		enc_b64_encode(wrapped, wlen, b64, 0);
		root = json_pack("{s:s,s:s}", "algorithm", "aes-256-gcm", "sealed", b64);
	}
	*out =
	    json_pack("{s:{s:i,s:s,s:o*,s:s,s:o*,s:o*,s:o*,s:o}}", "vault", "version",
		      VAULT_FORMAT_VERSION, "format", VAULT_FORMAT, "created", created, "exported",
		      now, "kdf", kdf, "rootKey", root, "threshold", thr, "records", records);
	free(b64);
	free(wrapped);
	return *out ? VAULT_OK : VAULT_INTERNAL;
}

/* The document to export, read in the caller's write transaction. */
static enum vault_err vault_export_doc(struct store_tx *tx, const struct vault_keys *k, int legacy,
				       json_t **out)
{
	/* An imported ocmt-v1 vault not yet unlocked exports as it came in. */
	json_t *pending = vault_meta_json(tx, "legacy");
	enum vault_err err;

	if (pending != NULL && !legacy)
		return (*out = json_pack("{s:o}", "vault", pending)) ? VAULT_OK : VAULT_INTERNAL;
	if (pending != NULL) {
		json_decref(pending);
		return VAULT_LOCKED;
	}
	if (!legacy)
		return vault_export_native(tx, 1, out);
	if (k->by_shares) /* ocmt-v1 is sealed under the password's key */
		return VAULT_PASSWORD_OFF;
	err = vault_ocmt_export(tx, k, out);
	crypto_scrub_stack();
	return err;
}

enum vault_err vault_export(struct vault *v, int legacy, const struct vault_actor *who,
			    json_t **out)
{
	struct store_tx *tx;
	struct vault_audit_ev ev = {
	    "vault.exported", vault_actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};
	struct vault_keys *k;
	enum vault_err err;

	if (!vault_is_initialized(v))
		return VAULT_NOT_INIT;
	pthread_rwlock_rdlock(&v->rw);
	k = vault_keys_live(v);
	if (legacy && k == NULL) {
		pthread_rwlock_unlock(&v->rw);
		return VAULT_LOCKED;
	}
	if ((tx = store_tx_begin(v->st, 1)) == NULL) {
		pthread_rwlock_unlock(&v->rw);
		return VAULT_STORE_FAILED;
	}
	err = vault_export_doc(tx, k, legacy, out);
	if (err == VAULT_OK && vault_audit_append(v, tx, k, &ev) != 0)
		err = VAULT_AUDIT_FAILED;
	if (err == VAULT_OK && store_tx_commit(tx) != 0)
		err = VAULT_AUDIT_FAILED;
	else if (err != VAULT_OK)
		store_tx_rollback(tx);
	pthread_rwlock_unlock(&v->rw);
	if (err == VAULT_AUDIT_FAILED) { /* nothing leaves without its entry */
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

/* ---- import ---- */

/* Record versions an import accepts: a write adds one to the version, and
 * a JSON number above 2^53 - 1 does not survive every reader. */
#define VAULT_IMPORT_VERSION_MAX (((json_int_t)1 << 53) - 1)

/* Checks records[i]; its id goes to id. 0, or -1 with *why set. */
static int vault_import_record_ok(json_t *r, size_t i, unsigned char *id, const char **why)
{
	json_t *hex = json_object_get(r, "id"), *ver = json_object_get(r, "version");
	json_t *s = json_object_get(r, "sealed");
	unsigned char *blob;
	size_t n = 0;
	int ok;

	if (!json_is_string(hex) || json_string_length(hex) != 2 * CRYPTO_HASH_LEN ||
	    enc_hex_decode(json_string_value(hex), 2 * CRYPTO_HASH_LEN, id) != 0) {
		*why = vault_whyf("records[%zu]: id must be %d hex digits", i, 2 * CRYPTO_HASH_LEN);
		return -1;
	}
	if (!json_is_integer(ver) || json_integer_value(ver) < 1 ||
	    json_integer_value(ver) > VAULT_IMPORT_VERSION_MAX) {
		*why = vault_whyf("records[%zu]: version must be an integer from 1 to 2^53-1", i);
		return -1;
	}
	blob = json_is_string(s) ? malloc(json_string_length(s) / 4 * 3 + 3) : NULL;
	ok = blob != NULL &&
	     enc_b64_decode(json_string_value(s), json_string_length(s), blob, &n, 0) == 0 &&
	     n >= CRYPTO_SEAL_OVERHEAD;
	free(blob);
	if (!ok)
		*why = vault_whyf("records[%zu]: sealed must be a sealed record in base64", i);
	return ok ? 0 : -1;
}

static int vault_import_id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, CRYPTO_HASH_LEN);
}

/* Every record well formed, and no id twice (one would silently replace
 * the other). 0, or -1 with *why set. */
static int vault_import_records_ok(json_t *recs, const char **why)
{
	size_t i, n = json_array_size(recs);
	unsigned char *ids = malloc(n ? n * CRYPTO_HASH_LEN : 1);
	json_t *r;
	int rc = 0;

	if (ids == NULL) {
		*why = "out of memory";
		return -1;
	}
	json_array_foreach(recs, i, r)
	{
		if ((rc = vault_import_record_ok(r, i, ids + i * CRYPTO_HASH_LEN, why)) != 0)
			break;
	}
	if (rc == 0 && n > 1) {
		qsort(ids, n, CRYPTO_HASH_LEN, vault_import_id_cmp);
		for (i = 1; i < n && rc == 0; i++) {
			if (memcmp(ids + (i - 1) * CRYPTO_HASH_LEN, ids + i * CRYPTO_HASH_LEN,
				   CRYPTO_HASH_LEN) == 0) {
				*why = "records: the same id appears twice";
				rc = -1;
			}
		}
	}
	free(ids);
	return rc;
}

static int vault_import_check_native(json_t *doc, struct crypto_kdf *kdf, unsigned char *salt,
				     unsigned char *wrapped, const char **why)
{
	json_t *root = json_object_get(doc, "rootKey"), *recs = json_object_get(doc, "records");
	json_t *thr = json_object_get(doc, "threshold");
	int rc;

	if (!json_is_integer(json_object_get(doc, "version")) ||
	    json_integer_value(json_object_get(doc, "version")) != VAULT_FORMAT_VERSION) {
		*why = "unsupported version";
		return -1;
	}
	if (thr != NULL && vault_policy_check(thr) != 0) {
		*why = "threshold is malformed";
		return -1;
	}
	/* a threshold-only vault has no password's kdf and wrapping */
	if (thr != NULL && json_object_get(doc, "kdf") == NULL && root == NULL)
		goto records;
	rc = vault_kdf_parse(json_object_get(doc, "kdf"), kdf, salt);
	if (rc != 0) {
		*why = rc == -2 ? "kdf parameters out of bounds" : "kdf is malformed";
		return rc;
	}
	if (!json_is_object(root) ||
	    vault_b64_field(root, "sealed", wrapped, VAULT_WRAPPED_LEN) != 0) {
		*why = "rootKey is malformed";
		return -1;
	}
records:
	if (!json_is_array(recs)) {
		*why = "records is malformed";
		return -1;
	}
	return vault_import_records_ok(recs, why);
}

static int vault_import_records(struct store_tx *tx, json_t *recs)
{
	json_t *r;
	size_t i;

	json_array_foreach(recs, i, r)
	{
		const char *hex = json_string_value(json_object_get(r, "id"));
		const char *s = json_string_value(json_object_get(r, "sealed"));
		size_t slen = strlen(s), n = 0;
		unsigned char id[CRYPTO_HASH_LEN], *blob = malloc(slen / 4 * 3 + 3);
		int rc = -1;

		if (blob != NULL && enc_hex_decode(hex, 2 * CRYPTO_HASH_LEN, id) == 0 &&
		    enc_b64_decode(s, slen, blob, &n, 0) == 0 && n >= CRYPTO_SEAL_OVERHEAD)
			rc = store_secret_put(
			    tx, id, json_integer_value(json_object_get(r, "version")), blob, n);
		free(blob);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* Checks an export document of either format without touching the store. */
static enum vault_err vault_import_parse(json_t *doc, int *v1, struct crypto_kdf *kdf,
					 unsigned char *salt, unsigned char *wrapped,
					 const char **why)
{
	const char *format = json_string_value(json_object_get(doc, "format"));
	int rc;

	*why = "vault must be an object";
	if (!json_is_object(doc))
		return VAULT_BAD_IMPORT;
	*why = "unknown format";
	if (format == NULL)
		return VAULT_BAD_IMPORT;
	*v1 = strcmp(format, VAULT_V1_FORMAT) == 0;
	if (!*v1 && strcmp(format, VAULT_FORMAT) != 0)
		return VAULT_BAD_IMPORT;
	rc = *v1 ? vault_ocmt_check(doc, kdf, salt, why)
		 : vault_import_check_native(doc, kdf, salt, wrapped, why);
	if (rc != 0)
		return rc == -2 ? VAULT_BAD_KDF : VAULT_BAD_IMPORT;
	return VAULT_OK;
}

enum vault_err vault_import_check(json_t *doc, const char **why)
{
	struct crypto_kdf kdf;
	unsigned char salt[CRYPTO_KDF_SALT_LEN], wrapped[VAULT_WRAPPED_LEN];
	int v1;

	return vault_import_parse(doc, &v1, &kdf, salt, wrapped, why);
}

/* What an import writes, prepared before taking the lock. */
struct vault_import_meta {
	char *kdftext, *legacy; /* legacy: the ocmt-v1 document, else NULL */
	char *thr;		/* the threshold policy, or NULL; kdftext NULL: no password */
	const unsigned char *wrapped;
	json_t *records; /* native only */
	char created[32];
};

/* All or nothing: one transaction holds every row. */
static enum vault_err vault_import_commit(struct vault *v, const struct vault_import_meta *m,
					  const struct vault_audit_ev *ev)
{
	const char *ts = m->created;
	struct store_tx *tx;
	enum vault_err err;

	pthread_rwlock_wrlock(&v->rw);
	if (v->initialized) {
		err = VAULT_ALREADY_INIT;
	} else if ((tx = store_tx_begin(v->st, 1)) == NULL) {
		err = VAULT_STORE_FAILED;
	} else {
		if ((m->kdftext != NULL &&
		     store_meta_put(tx, "kdf", m->kdftext, strlen(m->kdftext)) != 0) ||
		    (m->thr != NULL &&
		     store_meta_put(tx, "threshold", m->thr, strlen(m->thr)) != 0) ||
		    store_meta_put(tx, "created", ts, strlen(ts)) != 0 ||
		    (m->legacy &&
		     store_meta_put(tx, "legacy", m->legacy, strlen(m->legacy)) != 0) ||
		    (!m->legacy && m->kdftext != NULL &&
		     store_meta_put(tx, "root", m->wrapped, VAULT_WRAPPED_LEN) != 0) ||
		    (!m->legacy && vault_import_records(tx, m->records) != 0) ||
		    vault_audit_append(v, tx, NULL, ev) != 0) {
			store_tx_rollback(tx);
			err = VAULT_STORE_FAILED;
		} else if (store_tx_commit(tx) != 0) {
			err = VAULT_STORE_FAILED;
		} else {
			v->initialized = 1;
			err = VAULT_OK;
		}
		vault_row_clear(v); /* rows were replaced wholesale */
	}
	pthread_rwlock_unlock(&v->rw);
	return err;
}

enum vault_err vault_import(struct vault *v, json_t *doc, const struct vault_actor *who,
			    const char **why)
{
	struct vault_audit_ev ev = {
	    "vault.imported", vault_actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};
	struct crypto_kdf kdf;
	unsigned char salt[CRYPTO_KDF_SALT_LEN], wrapped[VAULT_WRAPPED_LEN];
	struct vault_import_meta m = {NULL, NULL, NULL, wrapped, NULL, {0}};
	json_t *kj = NULL, *created, *thr;
	int has_pw;
	int v1 = 0;
	enum vault_err err;

	err = vault_import_parse(doc, &v1, &kdf, salt, wrapped, why);
	if (err != VAULT_OK)
		return err;
	thr = v1 ? NULL : json_object_get(doc, "threshold");
	has_pw = v1 || json_object_get(doc, "kdf") != NULL;
	kj = has_pw ? vault_kdf_json(&kdf, salt) : NULL;
	m.kdftext = kj ? json_dumps(kj, JSON_COMPACT) : NULL;
	m.thr = thr ? json_dumps(thr, JSON_COMPACT) : NULL;
	m.legacy = v1 ? json_dumps(doc, JSON_COMPACT) : NULL;
	m.records = json_object_get(doc, "records");
	created = json_object_get(doc, "created");
	if (json_is_string(created) && json_string_length(created) < sizeof(m.created))
		snprintf(m.created, sizeof(m.created), "%s", json_string_value(created));
	else
		util_iso8601(util_now_ms(), m.created, sizeof(m.created));
	if ((has_pw && m.kdftext == NULL) || (thr && m.thr == NULL) || (v1 && m.legacy == NULL))
		err = VAULT_INTERNAL;
	else
		err = vault_import_commit(v, &m, &ev);
	crypto_wipe_free(m.kdftext);
	crypto_wipe_free(m.thr);
	crypto_wipe_free(m.legacy);
	json_decref(kj);
	return err;
}
