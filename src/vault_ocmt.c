/* vault_ocmt.c: the original's "ocmt-group-vault" v1 format: checking an
 * imported document, migrating it to native records at its first unlock,
 * and exporting in it (readable by the original with the same password).
 * Plaintext exists only in wipe-on-free buffers here, never on disk. */
#include "vault_int.h"

#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "log.h"
#include "record.h"
#include "util.h"

/* The original's fixed Argon2id parameters. */
#define VAULT_OCMT_MEMORY 65536
#define VAULT_OCMT_ITERATIONS 3
#define VAULT_OCMT_PARALLELISM 4

int vault_ocmt_check(json_t *doc, struct crypto_kdf *kdf, unsigned char *salt, const char **why)
{
	json_t *enc = json_object_get(doc, "encryption"), *ct = json_object_get(doc, "ciphertext");
	unsigned char tmp[CRYPTO_TAG_LEN + 3];
	int r;

	if (!json_is_integer(json_object_get(doc, "version")) ||
	    json_integer_value(json_object_get(doc, "version")) != 1) {
		*why = "unsupported version";
		return -1;
	}
	r = vault_kdf_parse(json_object_get(doc, "kdf"), kdf, salt);
	if (r != 0) {
		*why = r == -2 ? "kdf parameters out of bounds" : "kdf is malformed";
		return r;
	}
	if (!json_is_object(enc) || !json_is_string(json_object_get(enc, "algorithm")) ||
	    strcmp(json_string_value(json_object_get(enc, "algorithm")), "aes-256-gcm") != 0 ||
	    vault_b64_field(enc, "nonce", tmp, CRYPTO_NONCE_LEN) != 0 ||
	    vault_b64_field(enc, "tag", tmp, CRYPTO_TAG_LEN) != 0) {
		*why = "encryption is malformed";
		return -1;
	}
	if (!json_is_string(ct) || json_string_length(ct) % 4 != 0) {
		*why = "ciphertext is malformed";
		return -1;
	}
	return 0;
}

/* Decrypts a stored ocmt-v1 document under kek into its "secrets" object
 * (a new reference; the plaintext buffer is wiped). */
static enum vault_err vault_ocmt_open(const unsigned char *kek, const char *legacy,
				      size_t legacylen, json_t **secrets)
{
	json_t *doc = json_loadb(legacy, legacylen, 0, NULL), *enc, *plain = NULL;
	unsigned char nonce[CRYPTO_NONCE_LEN + 3], tag[CRYPTO_TAG_LEN + 3], *ct = NULL, *pt = NULL;
	size_t nlen = 0, tlen = 0, ctlen = 0;
	const char *ctb64;
	enum vault_err err = VAULT_CORRUPT;

	enc = json_object_get(doc, "encryption");
	ctb64 = json_string_value(json_object_get(doc, "ciphertext"));
	if (!json_is_object(enc) || ctb64 == NULL)
		goto done;
	ctlen = strlen(ctb64);
	ct = malloc(ctlen / 4 * 3 + 3);
	pt = crypto_wipe_malloc(ctlen / 4 * 3 + 3);
	if (ct == NULL || pt == NULL ||
	    enc_b64_decode(json_string_value(json_object_get(enc, "nonce")),
			   json_string_length(json_object_get(enc, "nonce")), nonce, &nlen,
			   0) != 0 ||
	    enc_b64_decode(json_string_value(json_object_get(enc, "tag")),
			   json_string_length(json_object_get(enc, "tag")), tag, &tlen, 0) != 0 ||
	    enc_b64_decode(ctb64, ctlen, ct, &ctlen, 0) != 0 || nlen != CRYPTO_NONCE_LEN ||
	    tlen != CRYPTO_TAG_LEN)
		goto done;
	if (crypto_gcm_decrypt(kek, nonce, NULL, 0, ct, ctlen, tag, pt) != 0) {
		err = VAULT_BAD_PASSWORD;
		goto done;
	}
	plain = json_loadb((const char *)pt, ctlen, JSON_ALLOW_NUL, NULL);
	*secrets = json_object_get(plain, "secrets");
	if (*secrets == NULL)
		*secrets = json_object();
	else
		json_incref(*secrets);
	if (!json_is_object(*secrets)) {
		json_decref(*secrets);
		*secrets = NULL;
		goto done;
	}
	err = VAULT_OK;
done:
	json_decref(plain);
	json_decref(doc);
	free(ct);
	crypto_wipe_free(pt);
	return err;
}

/* Seals one of the original's secrets as a native record, version 1. */
static enum vault_err vault_ocmt_put(struct store_tx *tx, const struct vault_keys *k,
				     const char *name, json_t *val)
{
	unsigned char id[CRYPTO_HASH_LEN], *rec;
	json_t *md = json_object_get(val, "metadata"), *r;
	json_t *at = json_object_get(val, "updatedAt"), *by = json_object_get(val, "updatedBy");
	size_t rlen;
	int rc;

	if (vault_blind_index(k, name, strlen(name), id) != 0)
		return VAULT_INTERNAL;
	r = json_pack("{s:s,s:O,s:o,s:O,s:O}", "key", name, "value", json_object_get(val, "value"),
		      "metadata", json_is_object(md) ? json_incref(md) : json_object(), "updatedAt",
		      at ? at : json_null(), "updatedBy", by ? by : json_null());
	rec = r ? record_seal(k->data, id, 1, r, &rlen) : NULL;
	json_decref(r);
	rc = rec != NULL ? store_secret_put(tx, id, 1, rec, rlen) : -1;
	free(rec);
	return rc == 0 ? VAULT_OK : VAULT_STORE_FAILED;
}

enum vault_err vault_ocmt_migrate(struct store_tx *tx, struct vault_keys *k, const char *legacy,
				  size_t legacylen, long long *count)
{
	unsigned char wrapped[VAULT_WRAPPED_LEN];
	json_t *secrets = NULL, *val;
	const char *name;
	enum vault_err err;

	err = vault_ocmt_open(k->kek, legacy, legacylen, &secrets);
	if (err != VAULT_OK)
		return err;
	if (crypto_random(k->root, CRYPTO_KEY_LEN) != 0 || vault_keys_derive(k) != 0 ||
	    crypto_seal(k->kek, VAULT_ROOT_AAD, sizeof(VAULT_ROOT_AAD) - 1, k->root, CRYPTO_KEY_LEN,
			wrapped) != 0) {
		err = VAULT_INTERNAL;
		goto done;
	}
	*count = 0;
	json_object_foreach(secrets, name, val)
	{
		if (!util_valid_name(name, strlen(name)) ||
		    !json_is_string(json_object_get(val, "value"))) {
			log_warn("%s: skipped a secret with an invalid name or value", __func__);
			continue;
		}
		if ((err = vault_ocmt_put(tx, k, name, val)) != VAULT_OK)
			goto done;
		(*count)++;
	}
	if (store_meta_put(tx, "root", wrapped, sizeof(wrapped)) != 0 ||
	    store_meta_del(tx, "legacy") != 0)
		err = VAULT_STORE_FAILED;
done:
	json_decref(secrets);
	return err;
}

/* The ocmt-v1 envelope around ciphertext ct (len bytes) and its nonce, tag
 * and salt; a new reference or NULL. */
static json_t *vault_ocmt_envelope(const unsigned char *ct, size_t len, const unsigned char *nonce,
				   const unsigned char *tag, const unsigned char *salt,
				   const char *now)
{
	char *ctb64 = malloc(enc_b64_len(len, 0)), nb[32], tb[32], sb[32];
	json_t *o;

	if (ctb64 == NULL)
		return NULL;
	enc_b64_encode(ct, len, ctb64, 0);
	enc_b64_encode(nonce, CRYPTO_NONCE_LEN, nb, 0);
	enc_b64_encode(tag, CRYPTO_TAG_LEN, tb, 0);
	enc_b64_encode(salt, CRYPTO_KDF_SALT_LEN, sb, 0);
	o = json_pack("{s:{s:i,s:s,s:s,s:s,s:{s:s,s:i,s:i,s:i,s:i,s:s},s:{s:s,s:s,s:s},s:s}}",
		      "vault", "version", 1, "format", VAULT_V1_FORMAT, "created", now, "updated",
		      now, "kdf", "algorithm", "argon2id", "version", 19, "memory",
		      VAULT_OCMT_MEMORY, "iterations", VAULT_OCMT_ITERATIONS, "parallelism",
		      VAULT_OCMT_PARALLELISM, "salt", sb, "encryption", "algorithm", "aes-256-gcm",
		      "nonce", nb, "tag", tb, "ciphertext", ctb64);
	free(ctb64);
	return o;
}

enum vault_err vault_ocmt_export(struct store_tx *tx, const struct vault_keys *k, json_t **out)
{
	struct vault_list_ctx c = {k, NULL, json_object(), 1};
	struct crypto_kdf kdf;
	unsigned char salt[CRYPTO_KDF_SALT_LEN], nonce[CRYPTO_NONCE_LEN], tag[CRYPTO_TAG_LEN];
	unsigned char *ct = NULL;
	char *pt = NULL, now[32];
	json_t *plain = NULL, *created;
	enum vault_err err = VAULT_INTERNAL;
	size_t len;
	int r;

	if (vault_kdf_load(tx, &kdf, salt) != 0) {
		json_decref(c.out);
		return VAULT_CORRUPT;
	}
	if (kdf.memory_kib != VAULT_OCMT_MEMORY || kdf.iterations != VAULT_OCMT_ITERATIONS ||
	    kdf.parallelism != VAULT_OCMT_PARALLELISM) {
		json_decref(c.out);
		return VAULT_BAD_KDF;
	}
	r = store_secret_each(tx, vault_list_row, &c);
	if (r != 0) {
		json_decref(c.out);
		return r > 0 ? VAULT_CORRUPT : VAULT_STORE_FAILED;
	}
	created = vault_meta_string(tx, "created");
	util_iso8601(util_now_ms(), now, sizeof(now));
	plain = json_pack("{s:o,s:{s:i,s:o}}", "secrets", c.out, "metadata", "version", 1,
			  "createdAt", created ? created : json_string(now));
	pt = plain ? json_dumps(plain, JSON_COMPACT) : NULL;
	if (pt == NULL)
		goto done;
	len = strlen(pt);
	ct = malloc(len ? len : 1);
	if (ct == NULL || crypto_random(nonce, sizeof(nonce)) != 0 ||
	    crypto_gcm_encrypt(k->kek, nonce, NULL, 0, pt, len, ct, tag) != 0)
		goto done;
	*out = vault_ocmt_envelope(ct, len, nonce, tag, salt, now);
	err = *out ? VAULT_OK : VAULT_INTERNAL;
done:
	crypto_wipe_free(pt);
	free(ct);
	json_decref(plain);
	return err;
}
