/* vault_ocmt.c: the original's "ocmt-group-vault" v1 format: checking an
 * imported document, migrating it to native records at its first unlock
 * (every secret or none: nothing is written unless all of them pass), and
 * exporting in it. Plaintext exists only in wipe-on-free buffers here, never
 * on disk; no field is copied into a fixed buffer before its length is known. */
#include "vault_int.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
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

/* What the last refused import or migration on this thread was refused for
 * (errno-like: the API layer reads it right after the call). */
static _Thread_local char vault_why_buf[256];

const char *vault_whyf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vault_why_buf, sizeof(vault_why_buf), fmt, ap);
	va_end(ap);
	return vault_why_buf;
}

const char *vault_migrate_why(void) { return vault_why_buf; }

void vault_ocmt_env_clear(struct vault_ocmt_env *e)
{
	free(e->ct);
	e->ct = NULL;
	e->ctlen = 0;
}

int vault_ocmt_env_parse(json_t *doc, struct vault_ocmt_env *e, const char **why)
{
	json_t *enc = json_object_get(doc, "encryption"), *ct = json_object_get(doc, "ciphertext");
	const char *alg = json_string_value(json_object_get(enc, "algorithm"));
	size_t len;

	e->ct = NULL;
	e->ctlen = 0;
	if (!json_is_object(enc) || alg == NULL || strcmp(alg, "aes-256-gcm") != 0) {
		*why = "encryption.algorithm must be \"aes-256-gcm\"";
		return -1;
	}
	/* vault_b64_field checks the text's length before decoding a byte */
	if (vault_b64_field(enc, "nonce", e->nonce, CRYPTO_NONCE_LEN) != 0) {
		*why = "encryption.nonce must be 12 bytes in base64";
		return -1;
	}
	if (vault_b64_field(enc, "tag", e->tag, CRYPTO_TAG_LEN) != 0) {
		*why = "encryption.tag must be 16 bytes in base64";
		return -1;
	}
	len = json_string_length(ct);
	if (!json_is_string(ct) || len == 0 || len % 4 != 0 ||
	    (e->ct = malloc(len / 4 * 3 + 3)) == NULL ||
	    enc_b64_decode(json_string_value(ct), len, e->ct, &e->ctlen, 0) != 0 || e->ctlen == 0) {
		vault_ocmt_env_clear(e);
		*why = "ciphertext must be non-empty base64";
		return -1;
	}
	return 0;
}

int vault_ocmt_check(json_t *doc, struct crypto_kdf *kdf, unsigned char *salt, const char **why)
{
	struct vault_ocmt_env e;
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
	if (vault_ocmt_env_parse(doc, &e, why) != 0)
		return -1;
	vault_ocmt_env_clear(&e);
	return 0;
}

/* An optional member that must be a string when present. */
static int vault_ocmt_opt_string(json_t *o, const char *k)
{
	json_t *s = json_object_get(o, k);

	return s == NULL || json_is_null(s) || json_is_string(s);
}

/* Checks one entry of "secrets"; i counts from 1 of n. */
static int vault_ocmt_entry_ok(const char *name, size_t len, json_t *val, size_t i, size_t n,
			       size_t max_value, const char **why)
{
	json_t *value = json_object_get(val, "value"), *md = json_object_get(val, "metadata");

	if (!util_valid_name(name, len)) {
		*why = vault_whyf("secret %zu of %zu: name must match ^[A-Za-z0-9_.-]{1," LIMIT_STR(
				      LIMIT_NAME_MAX) "}$",
				  i, n);
		return 0;
	}
	if (!json_is_object(val))
		*why = vault_whyf("secret %zu of %zu (\"%s\"): must be an object", i, n, name);
	else if (!json_is_string(value))
		*why = vault_whyf("secret %zu of %zu (\"%s\"): value must be a string", i, n, name);
	else if (json_string_length(value) > max_value)
		*why = vault_whyf("secret %zu of %zu (\"%s\"): value is larger than %zu bytes", i,
				  n, name, max_value);
	else if (md != NULL && !json_is_null(md) && !json_is_object(md))
		*why = vault_whyf("secret %zu of %zu (\"%s\"): metadata must be an object", i, n,
				  name);
	else if (!vault_ocmt_opt_string(val, "updatedAt") ||
		 !vault_ocmt_opt_string(val, "updatedBy"))
		*why = vault_whyf("secret %zu of %zu (\"%s\"): updatedAt and updatedBy must be "
				  "strings",
				  i, n, name);
	else
		return 1;
	return 0;
}

json_t *vault_ocmt_plain_check(const char *pt, size_t len, size_t max_value, const char **why)
{
	json_t *plain = json_loadb(pt, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	json_t *secrets = json_object_get(plain, "secrets"), *val;
	const char *name;
	size_t nlen, i = 0, n;

	if (!json_is_object(plain)) {
		*why = "the decrypted document is not a JSON object (or repeats a name)";
		goto bad;
	}
	if (!json_is_object(secrets)) {
		*why = "the decrypted document has no \"secrets\" object";
		goto bad;
	}
	n = json_object_size(secrets);
	json_object_keylen_foreach(secrets, name, nlen, val)
	{
		if (!vault_ocmt_entry_ok(name, nlen, val, ++i, n, max_value, why))
			goto bad;
	}
	json_incref(secrets);
	json_decref(plain);
	return secrets;
bad:
	json_decref(plain);
	return NULL;
}

/* Seals one of the original's secrets (already checked) as a native record,
 * version 1. */
static enum vault_err vault_ocmt_put(struct store_tx *tx, const struct vault_keys *k,
				     const char *name, size_t len, json_t *val)
{
	unsigned char id[CRYPTO_HASH_LEN], *rec;
	json_t *md = json_object_get(val, "metadata"), *r;
	json_t *at = json_object_get(val, "updatedAt"), *by = json_object_get(val, "updatedBy");
	size_t rlen;
	int rc;

	if (vault_blind_index(k, name, len, id) != 0)
		return VAULT_INTERNAL;
	r = json_pack("{s:s%,s:O,s:o,s:O,s:O}", "key", name, len, "value",
		      json_object_get(val, "value"), "metadata",
		      json_is_object(md) ? json_incref(md) : json_object(), "updatedAt",
		      at ? at : json_null(), "updatedBy", by ? by : json_null());
	rec = r ? record_seal(k->data, id, 1, r, &rlen) : NULL;
	json_decref(r);
	if (rec == NULL)
		return VAULT_INTERNAL;
	rc = store_secret_put(tx, id, 1, rec, rlen);
	free(rec);
	return rc == 0 ? VAULT_OK : VAULT_STORE_FAILED;
}

enum vault_err vault_ocmt_plain_migrate(struct store_tx *tx, const struct vault_keys *k,
					const char *pt, size_t len, size_t max_value,
					long long *count, const char **why)
{
	json_t *secrets = vault_ocmt_plain_check(pt, len, max_value, why), *val;
	const char *name;
	size_t nlen;
	enum vault_err err = VAULT_OK;

	if (secrets == NULL)
		return VAULT_BAD_LEGACY;
	/* every entry passed: only now is anything written */
	*count = 0;
	json_object_keylen_foreach(secrets, name, nlen, val)
	{
		if ((err = vault_ocmt_put(tx, k, name, nlen, val)) != VAULT_OK)
			break;
		(*count)++;
	}
	json_decref(secrets);
	return err;
}

enum vault_err vault_ocmt_migrate(struct store_tx *tx, struct vault_keys *k, const char *legacy,
				  size_t legacylen, size_t max_value, long long *count,
				  const char **why)
{
	json_t *doc = json_loadb(legacy, legacylen, 0, NULL);
	unsigned char wrapped[VAULT_WRAPPED_LEN], *pt = NULL;
	struct vault_ocmt_env e = {.ct = NULL};
	enum vault_err err = VAULT_BAD_LEGACY;

	*why = "the stored document is not JSON";
	if (doc == NULL || vault_ocmt_env_parse(doc, &e, why) != 0)
		goto done;
	if ((pt = crypto_wipe_malloc(e.ctlen)) == NULL) {
		err = VAULT_INTERNAL;
		goto done;
	}
	if (crypto_gcm_decrypt(k->kek, e.nonce, NULL, 0, e.ct, e.ctlen, e.tag, pt) != 0) {
		err = VAULT_BAD_PASSWORD;
		goto done;
	}
	if (crypto_random(k->root, CRYPTO_KEY_LEN) != 0 || vault_keys_derive(k) != 0 ||
	    crypto_seal(k->kek, VAULT_ROOT_AAD, sizeof(VAULT_ROOT_AAD) - 1, k->root, CRYPTO_KEY_LEN,
			wrapped) != 0) {
		err = VAULT_INTERNAL;
		goto done;
	}
	err = vault_ocmt_plain_migrate(tx, k, (const char *)pt, e.ctlen, max_value, count, why);
	/* the original is deleted in the same transaction, after every secret */
	if (err == VAULT_OK && (store_meta_put(tx, "root", wrapped, sizeof(wrapped)) != 0 ||
				store_meta_del(tx, "legacy") != 0))
		err = VAULT_STORE_FAILED;
done:
	if (err == VAULT_BAD_LEGACY && *why != vault_why_buf)
		vault_whyf("%s", *why); /* for vault_migrate_why() */
	vault_ocmt_env_clear(&e);
	crypto_wipe_free(pt);
	json_decref(doc);
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
	struct vault_list_ctx c = {k->data, NULL, json_object(), 1, 0, 0, {0}};
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
