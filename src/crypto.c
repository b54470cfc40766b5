/* crypto.c: OpenSSL libcrypto 3 and libargon2 behind one narrow interface.
 * Every function wipes its stack copies of keys and plaintext before it
 * returns; none logs anything secret. */
#include "crypto.h"

/* SHA-256 and HMAC-SHA256 use OpenSSL's low-level SHA256_* calls, which 3.0
 * marks deprecated: they are the only way to keep a hash state in memory we
 * own. An HMAC key made ready (its hash states after the pads) is as secret
 * as the key, so it must live in locked memory beside the key; EVP's
 * contexts would put it in OpenSSL's ordinary heap. They also spare the
 * EVP context allocation and parameter handling on every call, which was
 * most of the cost of an audited read's three HMACs. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "limit.h"
#include "log.h"

/* The cipher fetched once: an implicit fetch on every call costs a
 * provider lookup under a lock, on the hot path of every request. */
static pthread_once_t crypto_fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *crypto_gcm;

static void crypto_fetch(void) { crypto_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL); }

static int crypto_fetched(void)
{
	pthread_once(&crypto_fetch_once, crypto_fetch);
	return crypto_gcm != NULL;
}

/* A prepared key is two hash states; the header promises room for them. */
_Static_assert(2 * sizeof(SHA256_CTX) <= CRYPTO_MAC_KEY_STATE, "CRYPTO_MAC_KEY_STATE too small");

int crypto_init(void)
{
	struct rlimit nocore = {0, 0};

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_warn("%s: prctl(PR_SET_DUMPABLE) failed", __func__);
	if (setrlimit(RLIMIT_CORE, &nocore) != 0)
		log_warn("%s: setrlimit(RLIMIT_CORE) failed", __func__);
	if (CRYPTO_secure_malloc_initialized())
		return 0;
	/* Only what is used: no error strings (no library text reaches a client
	 * or the log) and no legacy name tables, about 0.3 MiB less resident.
	 * The system's openssl.cnf still loads. */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
				OPENSSL_INIT_NO_ADD_ALL_DIGESTS,
			    NULL);
	if (CRYPTO_secure_malloc_init(LIMIT_SECURE_HEAP, 32) == 0) {
		log_err("%s: cannot create the secure heap", __func__);
		return -1;
	}
	return 0;
}

void crypto_init_tls_client(void)
{
	OPENSSL_init_crypto(OPENSSL_INIT_ADD_ALL_CIPHERS | OPENSSL_INIT_ADD_ALL_DIGESTS, NULL);
}

void *crypto_secure_alloc(size_t len) { return OPENSSL_secure_zalloc(len); }

void crypto_secure_free(void *p, size_t len)
{
	if (p != NULL)
		OPENSSL_secure_clear_free(p, len);
}

void crypto_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

#define CRYPTO_SCRUB_BYTES (64 * 1024)

__attribute__((noinline)) void crypto_scrub_stack(void)
{
	unsigned char area[CRYPTO_SCRUB_BYTES];

	OPENSSL_cleanse(area, sizeof(area));
}

/* Each block carries its size in a header so that free can wipe it. */
#define WIPE_HDR 16

void *crypto_wipe_malloc(size_t len)
{
	unsigned char *p;

	if (len > SIZE_MAX - WIPE_HDR)
		return NULL;
	p = malloc(len + WIPE_HDR);
	if (p == NULL)
		return NULL;
	memcpy(p, &len, sizeof(len));
	return p + WIPE_HDR;
}

void crypto_wipe_free(void *ptr)
{
	unsigned char *p;
	size_t len;

	if (ptr == NULL)
		return;
	p = (unsigned char *)ptr - WIPE_HDR;
	memcpy(&len, p, sizeof(len));
	OPENSSL_cleanse(p, len + WIPE_HDR);
	free(p);
}

int crypto_random(void *buf, size_t len)
{
	if (len > INT32_MAX || RAND_bytes(buf, (int)len) != 1) {
		log_err("%s: RAND_bytes failed", __func__);
		return -1;
	}
	return 0;
}

int crypto_equal(const void *a, const void *b, size_t len) { return CRYPTO_memcmp(a, b, len) == 0; }

int crypto_equal_str(const void *a, size_t alen, const void *b, size_t blen)
{
	unsigned char ha[CRYPTO_HASH_LEN], hb[CRYPTO_HASH_LEN];
	int eq;

	if (crypto_sha256(a, alen, ha) != 0 || crypto_sha256(b, blen, hb) != 0)
		return 0;
	eq = CRYPTO_memcmp(ha, hb, sizeof(ha)) == 0 && alen == blen;
	OPENSSL_cleanse(ha, sizeof(ha));
	OPENSSL_cleanse(hb, sizeof(hb));
	return eq;
}

int crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_HASH_LEN])
{
	SHA256_CTX c;
	int ok = SHA256_Init(&c) == 1 && SHA256_Update(&c, data, len) == 1 && SHA256_Final(out, &c) == 1;

	OPENSSL_cleanse(&c, sizeof(c));
	return ok ? 0 : -1;
}

/* The states are copied in and out of mk->state with memcpy (it is bytes,
 * not a SHA256_CTX), and every stack copy is wiped. */
int crypto_mac_key_set(struct crypto_mac_key *mk, const void *key, size_t keylen)
{
	SHA256_CTX c[2];
	unsigned char k[SHA256_CBLOCK], pad[SHA256_CBLOCK];
	int ok = 1;

	memset(k, 0, sizeof(k));
	if (keylen > sizeof(k))
		ok = crypto_sha256(key, keylen, k) == 0; /* RFC 2104: long keys are hashed */
	else if (keylen > 0)
		memcpy(k, key, keylen);
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	ok = ok && SHA256_Init(&c[0]) == 1 && SHA256_Update(&c[0], pad, sizeof(pad)) == 1;
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	ok = ok && SHA256_Init(&c[1]) == 1 && SHA256_Update(&c[1], pad, sizeof(pad)) == 1;
	if (ok)
		memcpy(mk->state, c, sizeof(c));
	else
		OPENSSL_cleanse(mk, sizeof(*mk));
	OPENSSL_cleanse(c, sizeof(c));
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
	return ok ? 0 : -1;
}

void crypto_mac_key_wipe(struct crypto_mac_key *mk) { OPENSSL_cleanse(mk, sizeof(*mk)); }

int crypto_mac_sha256(const struct crypto_mac_key *mk, const void *a, size_t alen, const void *b,
		      size_t blen, unsigned char out[CRYPTO_HASH_LEN])
{
	SHA256_CTX c;
	unsigned char inner[CRYPTO_HASH_LEN];
	int ok;

	memcpy(&c, mk->state, sizeof(c));
	ok = (alen == 0 || SHA256_Update(&c, a, alen) == 1) &&
	     (blen == 0 || SHA256_Update(&c, b, blen) == 1) && SHA256_Final(inner, &c) == 1;
	memcpy(&c, mk->state + sizeof(c), sizeof(c));
	ok = ok && SHA256_Update(&c, inner, sizeof(inner)) == 1 && SHA256_Final(out, &c) == 1;
	OPENSSL_cleanse(&c, sizeof(c));
	OPENSSL_cleanse(inner, sizeof(inner));
	return ok ? 0 : -1;
}

int crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
		       unsigned char out[CRYPTO_HASH_LEN])
{
	return crypto_hmac_sha256_2(key, keylen, data, len, NULL, 0, out);
}

int crypto_hmac_sha256_2(const void *key, size_t keylen, const void *a, size_t alen, const void *b,
			 size_t blen, unsigned char out[CRYPTO_HASH_LEN])
{
	struct crypto_mac_key mk;
	int rc = crypto_mac_key_set(&mk, key, keylen);

	if (rc == 0)
		rc = crypto_mac_sha256(&mk, a, alen, b, blen, out);
	OPENSSL_cleanse(&mk, sizeof(mk));
	return rc;
}

int crypto_gcm_encrypt(const unsigned char key[CRYPTO_KEY_LEN],
		       const unsigned char nonce[CRYPTO_NONCE_LEN], const void *aad, size_t aadlen,
		       const void *pt, size_t len, unsigned char *ct,
		       unsigned char tag[CRYPTO_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx;
	int outl = 0, rc = -1;

	if (len > INT32_MAX || aadlen > INT32_MAX)
		return -1;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return -1;
	if (!crypto_fetched() || EVP_EncryptInit_ex(ctx, crypto_gcm, NULL, key, nonce) != 1)
		goto done;
	if (aadlen > 0 && EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aadlen) != 1)
		goto done;
	if (len > 0 && EVP_EncryptUpdate(ctx, ct, &outl, pt, (int)len) != 1)
		goto done;
	if (EVP_EncryptFinal_ex(ctx, ct + outl, &outl) != 1)
		goto done;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN, tag) != 1)
		goto done;
	rc = 0;
done:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int crypto_gcm_decrypt(const unsigned char key[CRYPTO_KEY_LEN],
		       const unsigned char nonce[CRYPTO_NONCE_LEN], const void *aad, size_t aadlen,
		       const void *ct, size_t len, const unsigned char tag[CRYPTO_TAG_LEN],
		       unsigned char *pt)
{
	EVP_CIPHER_CTX *ctx;
	unsigned char tagcopy[CRYPTO_TAG_LEN];
	int outl = 0, rc = -1;

	if (len > INT32_MAX || aadlen > INT32_MAX)
		return -1;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return -1;
	memcpy(tagcopy, tag, sizeof(tagcopy));
	if (!crypto_fetched() || EVP_DecryptInit_ex(ctx, crypto_gcm, NULL, key, nonce) != 1)
		goto done;
	if (aadlen > 0 && EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)aadlen) != 1)
		goto done;
	if (len > 0 && EVP_DecryptUpdate(ctx, pt, &outl, ct, (int)len) != 1)
		goto done;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN, tagcopy) != 1)
		goto done;
	if (EVP_DecryptFinal_ex(ctx, pt + outl, &outl) != 1)
		goto done;
	rc = 0;
done:
	if (rc != 0 && len > 0)
		OPENSSL_cleanse(pt, len);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int crypto_seal(const unsigned char key[CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
		const void *pt, size_t len, unsigned char *out)
{
	if (crypto_random(out, CRYPTO_NONCE_LEN) != 0)
		return -1;
	return crypto_gcm_encrypt(key, out, aad, aadlen, pt, len, out + CRYPTO_NONCE_LEN,
				  out + CRYPTO_NONCE_LEN + len);
}

int crypto_open(const unsigned char key[CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
		const unsigned char *in, size_t inlen, unsigned char *out)
{
	size_t len;

	if (inlen < CRYPTO_SEAL_OVERHEAD)
		return -1;
	len = inlen - CRYPTO_SEAL_OVERHEAD;
	return crypto_gcm_decrypt(key, in, aad, aadlen, in + CRYPTO_NONCE_LEN, len,
				  in + CRYPTO_NONCE_LEN + len, out);
}

int crypto_kdf_valid(const struct crypto_kdf *kdf)
{
	return kdf->memory_kib >= CRYPTO_KDF_MIN_MEMORY &&
	       kdf->memory_kib <= CRYPTO_KDF_MAX_MEMORY && kdf->iterations >= CRYPTO_KDF_MIN_ITER &&
	       kdf->iterations <= CRYPTO_KDF_MAX_ITER && kdf->parallelism >= CRYPTO_KDF_MIN_LANES &&
	       kdf->parallelism <= CRYPTO_KDF_MAX_LANES && kdf->memory_kib >= 8 * kdf->parallelism;
}

int crypto_argon2id_raw(const struct crypto_kdf *kdf, const void *pw, size_t pwlen,
			const unsigned char *salt, size_t saltlen, const void *secret,
			size_t secretlen, const void *ad, size_t adlen, unsigned char *out,
			size_t outlen)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint32_t threads = kdf->parallelism;
	argon2_context ctx;
	int rc;

	if (pwlen > UINT32_MAX || saltlen > UINT32_MAX || outlen > UINT32_MAX ||
	    secretlen > UINT32_MAX || adlen > UINT32_MAX)
		return -1;
	if (cpus > 0 && (uint32_t)cpus < threads)
		threads = (uint32_t)cpus;
	memset(&ctx, 0, sizeof(ctx));
	ctx.out = out;
	ctx.outlen = (uint32_t)outlen;
	ctx.pwd = (uint8_t *)(uintptr_t)pw;
	ctx.pwdlen = (uint32_t)pwlen;
	ctx.salt = (uint8_t *)(uintptr_t)salt;
	ctx.saltlen = (uint32_t)saltlen;
	ctx.secret = (uint8_t *)(uintptr_t)secret;
	ctx.secretlen = (uint32_t)secretlen;
	ctx.ad = (uint8_t *)(uintptr_t)ad;
	ctx.adlen = (uint32_t)adlen;
	ctx.t_cost = kdf->iterations;
	ctx.m_cost = kdf->memory_kib;
	ctx.lanes = kdf->parallelism;
	ctx.threads = threads;
	ctx.version = ARGON2_VERSION_13;
	ctx.flags = ARGON2_DEFAULT_FLAGS;
	rc = argon2_ctx(&ctx, Argon2_id);
	if (rc != ARGON2_OK) {
		log_err("%s: %s", __func__, argon2_error_message(rc));
		OPENSSL_cleanse(out, outlen);
		return -1;
	}
	return 0;
}

int crypto_argon2id(const struct crypto_kdf *kdf, const void *pw, size_t pwlen,
		    const unsigned char *salt, size_t saltlen, unsigned char *out, size_t outlen)
{
	if (!crypto_kdf_valid(kdf)) {
		log_err("%s: parameters out of bounds", __func__);
		return -1;
	}
	return crypto_argon2id_raw(kdf, pw, pwlen, salt, saltlen, NULL, 0, NULL, 0, out, outlen);
}
