/* fuzz_migrate.c: an imported ocmt-v1 vault's migration at first unlock,
 * without a KDF run: arbitrary stored documents (the "meta" fields) and
 * arbitrary decrypted plaintexts, through the real code into a real store
 * (temporary directory). Input: [stored document] NUL [plaintext], or just
 * [plaintext] (wrapped in a well-formed document). When the document's
 * fields parse, the plaintext is encrypted under a fixed KEK with its nonce.
 * Invariant: either every secret migrates (each reads back as it was, the
 * document is gone) or nothing changes (no record, the document kept), and
 * which one matches an independent check of the plaintext. */
#include <assert.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "jalloc.h"
#include "enc.h"
#include "record.h"
#include "store.h"
#include "vault_int.h"

#define FUZZ_MAX_VALUE 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *st;
static struct vault_keys keys;
static char dir[] = "/tmp/gv-fuzz-migrate-XXXXXX";

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	store_close(st);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	jalloc_init();
	if (mkdtemp(dir) == NULL)
		abort();
	st = store_open(dir);
	assert(st != NULL);
	memset(keys.kek, 0x4b, sizeof(keys.kek));
	atexit(teardown);
}

static int fuzz_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-",
			    s[i]) ||
		    s[i] == '\0')
			return 0;
	return 1;
}

static int fuzz_str_or_none(json_t *o, const char *k)
{
	json_t *s = json_object_get(o, k);

	return s == NULL || json_is_null(s) || json_is_string(s);
}

/* The migration rules, written again independently: the secrets object if
 * every entry may migrate, else NULL. */
static json_t *fuzz_expect(const uint8_t *pt, size_t len, json_t **plain)
{
	json_t *secrets, *val, *md;
	const char *name;
	size_t nlen;

	*plain = json_loadb((const char *)pt, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	secrets = json_object_get(*plain, "secrets");
	if (!json_is_object(*plain) || !json_is_object(secrets))
		return NULL;
	json_object_keylen_foreach(secrets, name, nlen, val)
	{
		md = json_object_get(val, "metadata");
		if (!fuzz_name_ok(name, nlen) || !json_is_object(val) ||
		    !json_is_string(json_object_get(val, "value")) ||
		    json_string_length(json_object_get(val, "value")) > FUZZ_MAX_VALUE ||
		    (md != NULL && !json_is_null(md) && !json_is_object(md)) ||
		    !fuzz_str_or_none(val, "updatedAt") || !fuzz_str_or_none(val, "updatedBy"))
			return NULL;
	}
	return secrets;
}

/* The stored document: the input's (its ciphertext and tag replaced when
 * its fields parse), or a well-formed one (crypto_wipe_free). */
static char *fuzz_document(const uint8_t *doc, size_t dlen, const uint8_t *pt, size_t len,
			   int *parsed)
{
	json_t *d = doc ? json_loadb((const char *)doc, dlen, 0, NULL) : json_object();
	struct vault_ocmt_env e;
	const char *why = NULL;
	unsigned char *ct = malloc(len + 1), tag[CRYPTO_TAG_LEN];
	char *b64 = malloc(enc_b64_len(len, 0)), tb[32], *text = NULL;

	assert(ct != NULL && b64 != NULL);
	if (d != NULL && doc == NULL)
		json_object_set_new(d, "encryption",
				    json_pack("{s:s,s:s,s:s}", "algorithm", "aes-256-gcm", "nonce",
					      "AAAAAAAAAAAAAAAA", "tag",
					      "AAAAAAAAAAAAAAAAAAAAAA=="));
	json_object_set_new(d, "ciphertext", json_string("AAAA"));
	*parsed = d != NULL && vault_ocmt_env_parse(d, &e, &why) == 0;
	if (*parsed) {
		assert(e.ct != NULL && e.ctlen == 3);
		assert(crypto_gcm_encrypt(keys.kek, e.nonce, NULL, 0, pt, len, ct, tag) == 0);
		vault_ocmt_env_clear(&e);
		enc_b64_encode(ct, len, b64, 0);
		enc_b64_encode(tag, sizeof(tag), tb, 0);
		json_object_set_new(d, "ciphertext", json_string(b64));
		json_object_set_new(json_object_get(d, "encryption"), "tag", json_string(tb));
	} else if (d != NULL) {
		assert(why != NULL && *why != '\0');
	}
	text = d != NULL ? json_dumps(d, JSON_COMPACT) : NULL;
	if (text == NULL && (text = crypto_wipe_malloc(dlen + 1)) != NULL) {
		memcpy(text, doc, dlen); /* not JSON: stored as it came */
		text[dlen] = '\0';
	}
	json_decref(d);
	free(ct);
	free(b64);
	return text;
}

/* After a migration that answered VAULT_OK: every expected secret reads
 * back with its value, nothing more, and the document is gone. */
static void fuzz_check_migrated(struct store_tx *tx, json_t *secrets, long long count)
{
	unsigned char id[CRYPTO_HASH_LEN], *rec, *val;
	const char *name;
	size_t nlen, rlen, vlen;
	int64_t version;
	json_t *v, *r;

	assert(count == (long long)json_object_size(secrets));
	assert(store_secret_count(tx) == count);
	assert(store_meta_get(tx, "legacy", &val, &vlen) == 1);
	assert(store_meta_get(tx, "root", &val, &vlen) == 0);
	free(val);
	json_object_keylen_foreach(secrets, name, nlen, v)
	{
		assert(vault_blind_index(&keys, name, nlen, id) == 0);
		assert(store_secret_get(tx, id, &version, &rec, &rlen) == 0 && version == 1);
		r = record_open(keys.data, id, 1, rec, rlen);
		assert(r != NULL);
		assert(json_string_length(json_object_get(r, "key")) == nlen &&
		       memcmp(json_string_value(json_object_get(r, "key")), name, nlen) == 0);
		assert(json_equal(json_object_get(r, "value"), json_object_get(v, "value")));
		json_decref(r);
		free(rec);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const uint8_t *nul = memchr(data, 0, size), *pt = nul ? nul + 1 : data;
	size_t len = nul ? size - (size_t)(pt - data) : size, vlen;
	json_t *plain = NULL, *expect;
	struct store_tx *tx;
	unsigned char *val = NULL;
	const char *why = NULL;
	long long count = -1;
	char *doc;
	int parsed;
	enum vault_err e;

	if (!ready) {
		setup();
		ready = 1;
	}
	expect = fuzz_expect(pt, len, &plain);
	doc = fuzz_document(nul ? data : NULL, nul ? (size_t)(nul - data) : 0, pt, len, &parsed);
	assert(doc != NULL);
	tx = store_tx_begin(st, 1);
	assert(tx != NULL && store_secret_count(tx) == 0);
	assert(store_meta_put(tx, "legacy", doc, strlen(doc)) == 0);
	e = vault_ocmt_migrate(tx, &keys, doc, strlen(doc), FUZZ_MAX_VALUE, &count, &why);
	if (e == VAULT_OK) {
		assert(parsed && len > 0 && expect != NULL);
		fuzz_check_migrated(tx, expect, count);
	} else {
		/* refused: named, and nothing written or deleted */
		assert(e == VAULT_BAD_LEGACY && why != NULL && *why != '\0');
		assert(strcmp(vault_migrate_why(), why) == 0);
		assert(!parsed || len == 0 || expect == NULL);
		assert(store_secret_count(tx) == 0);
		assert(store_meta_get(tx, "legacy", &val, &vlen) == 0 && vlen == strlen(doc) &&
		       memcmp(val, doc, vlen) == 0);
		free(val);
		assert(store_meta_get(tx, "root", &val, &vlen) == 1);
	}
	store_tx_rollback(tx);
	crypto_wipe_free(doc);
	json_decref(plain);
	return 0;
}
