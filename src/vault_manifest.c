/* vault_manifest.c: the keyed manifest of the secrets table, which catches a
 * row restored from an older copy of vault.db (an old value served again, a
 * deleted secret back). It reads only ids and versions, never a record, and
 * must never accept rows that disagree with it without saying so.
 *
 * The manifest is S = sum mod 2^256 of HMAC(manifest key, id | version) over
 * every row, and the row count N, stored in meta "manifest" as S | N | tag,
 * tag = HMAC(manifest key, "groupvault manifest" | S | N). A sum can be
 * updated in place (subtract the old element, add the new one), so a write
 * costs three HMACs and one meta row in its own transaction; the unlock
 * recomputes S and N over all rows and compares. Without the key nobody can
 * compute an element, so no row set other than the one the manifest
 * describes can be made to match it. */
#include "vault_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

#define VAULT_MANIFEST_META "manifest"
#define VAULT_MANIFEST_TAG "groupvault manifest"
#define VAULT_MANIFEST_LEN (CRYPTO_HASH_LEN + 8 + CRYPTO_HASH_LEN)

int vault_manifest_elem(const unsigned char *key, const unsigned char id[CRYPTO_HASH_LEN],
			int64_t version, unsigned char out[CRYPTO_HASH_LEN])
{
	unsigned char msg[CRYPTO_HASH_LEN + 8];
	uint64_t u = (uint64_t)version;

	memcpy(msg, id, CRYPTO_HASH_LEN);
	for (int i = 0; i < 8; i++)
		msg[CRYPTO_HASH_LEN + i] = (unsigned char)(u >> (56 - 8 * i));
	return crypto_hmac_sha256(key, CRYPTO_KEY_LEN, msg, sizeof(msg), out);
}

void vault_manifest_add(struct vault_manifest *m, const unsigned char e[CRYPTO_HASH_LEN], int sub)
{
	unsigned carry = 0;

	/* big-endian, mod 2^256: s - e is s + (~e + 1) */
	carry = sub ? 1 : 0;
	for (int i = CRYPTO_HASH_LEN - 1; i >= 0; i--) {
		unsigned b = sub ? (unsigned char)~e[i] : e[i];
		unsigned t = m->sum[i] + b + carry;
		m->sum[i] = (unsigned char)t;
		carry = t >> 8;
	}
	m->count += sub ? -1 : 1;
}

int vault_manifest_tag(const unsigned char *key, const struct vault_manifest *m,
		       unsigned char tag[CRYPTO_HASH_LEN])
{
	unsigned char msg[sizeof(VAULT_MANIFEST_TAG) - 1 + CRYPTO_HASH_LEN + 8];
	size_t n = sizeof(VAULT_MANIFEST_TAG) - 1;
	uint64_t u = (uint64_t)m->count;

	memcpy(msg, VAULT_MANIFEST_TAG, n);
	memcpy(msg + n, m->sum, CRYPTO_HASH_LEN);
	for (int i = 0; i < 8; i++)
		msg[n + CRYPTO_HASH_LEN + i] = (unsigned char)(u >> (56 - 8 * i));
	return crypto_hmac_sha256(key, CRYPTO_KEY_LEN, msg, sizeof(msg), tag);
}

/* Reads the stored manifest: 0 read and its tag holds, 1 absent, 2 present
 * but malformed or its tag fails, -1 store error. */
static int vault_manifest_load(struct store_tx *tx, const unsigned char *key,
			       struct vault_manifest *m)
{
	unsigned char *val = NULL, tag[CRYPTO_HASH_LEN];
	size_t len = 0;
	uint64_t u = 0;
	int r = store_meta_get(tx, VAULT_MANIFEST_META, &val, &len);

	if (r != 0)
		return r;
	r = 2;
	if (len == VAULT_MANIFEST_LEN) {
		memcpy(m->sum, val, CRYPTO_HASH_LEN);
		for (int i = 0; i < 8; i++)
			u = u << 8 | val[CRYPTO_HASH_LEN + i];
		m->count = (int64_t)u;
		if (vault_manifest_tag(key, m, tag) == 0 &&
		    crypto_equal(tag, val + CRYPTO_HASH_LEN + 8, CRYPTO_HASH_LEN))
			r = 0;
	}
	free(val);
	return r;
}

static int vault_manifest_store(struct store_tx *tx, const unsigned char *key,
				const struct vault_manifest *m)
{
	unsigned char val[VAULT_MANIFEST_LEN];
	uint64_t u = (uint64_t)m->count;

	memcpy(val, m->sum, CRYPTO_HASH_LEN);
	for (int i = 0; i < 8; i++)
		val[CRYPTO_HASH_LEN + i] = (unsigned char)(u >> (56 - 8 * i));
	if (vault_manifest_tag(key, m, val + CRYPTO_HASH_LEN + 8) != 0)
		return -1;
	return store_meta_put(tx, VAULT_MANIFEST_META, val, sizeof(val));
}

int vault_manifest_update(struct store_tx *tx, const unsigned char *key,
			  const unsigned char id[CRYPTO_HASH_LEN], const int64_t *old_version,
			  const int64_t *new_version)
{
	struct vault_manifest m;
	unsigned char e[CRYPTO_HASH_LEN];
	int r = vault_manifest_load(tx, key, &m);

	/* Absent: built at the next unlock. Failing: left as it is, so the
	 * next unlock reports it (a write never re-tags what it cannot trust). */
	if (r != 0) {
		if (r == 2)
			log_err("%s: the stored manifest fails its check", __func__);
		return r < 0 ? -1 : 0;
	}
	if (old_version != NULL) {
		if (vault_manifest_elem(key, id, *old_version, e) != 0)
			return -1;
		vault_manifest_add(&m, e, 1);
	}
	if (new_version != NULL) {
		if (vault_manifest_elem(key, id, *new_version, e) != 0)
			return -1;
		vault_manifest_add(&m, e, 0);
	}
	return vault_manifest_store(tx, key, &m);
}

struct vault_manifest_walk {
	const unsigned char *key;
	struct vault_manifest m;
};

static int vault_manifest_row(void *ctx, const unsigned char id[STORE_ID_LEN], int64_t version)
{
	struct vault_manifest_walk *w = ctx;
	unsigned char e[CRYPTO_HASH_LEN];

	if (vault_manifest_elem(w->key, id, version, e) != 0)
		return -1;
	vault_manifest_add(&w->m, e, 0);
	return 0;
}

/* A (re)built manifest is logged and audited: deleting the manifest row
 * makes the rows as they are the reference, and that must leave a trace. */
static enum vault_err vault_manifest_create(struct vault *v, struct store_tx *tx,
					    const struct vault_keys *k,
					    const struct vault_manifest *m)
{
	struct vault_audit_ev ev = {
	    "vault.manifest_created", "system", NULL, NULL, 0, NULL, NULL, 1, NULL};

	if (vault_manifest_store(tx, k->manifest, m) != 0)
		return VAULT_STORE_FAILED;
	if (m->count == 0)
		return VAULT_OK; /* a new vault: nothing to vouch for */
	log_warn("secrets manifest built over %lld existing rows (first unlock after an "
		 "upgrade or import, or the manifest row was removed)",
		 (long long)m->count);
	return vault_audit_append(v, tx, k, &ev) == 0 ? VAULT_OK : VAULT_AUDIT_FAILED;
}

enum vault_err vault_manifest_unlock(struct vault *v, struct store_tx *tx,
				     const struct vault_keys *k)
{
	struct vault_manifest_walk w = {k->manifest, {{0}, 0}};
	struct vault_manifest stored;
	int r;

	if (store_secret_versions(tx, vault_manifest_row, &w) != 0)
		return VAULT_STORE_FAILED;
	r = vault_manifest_load(tx, k->manifest, &stored);
	if (r < 0)
		return VAULT_STORE_FAILED;
	if (r == 1)
		return vault_manifest_create(v, tx, k, &w.m);
	if (r == 2) {
		log_err("integrity: the secrets manifest fails its check; unlock refused");
		return VAULT_CORRUPT;
	}
	if (stored.count != w.m.count || !crypto_equal(stored.sum, w.m.sum, CRYPTO_HASH_LEN)) {
		log_err("integrity: the secrets table does not match its manifest (%lld rows, "
			"%lld expected): a row was restored, removed or added outside the "
			"daemon; unlock refused",
			(long long)w.m.count, (long long)stored.count);
		return VAULT_CORRUPT;
	}
	return VAULT_OK;
}
