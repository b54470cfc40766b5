/* crypto.c: OpenSSL libcrypto 3 and libargon2 behind one narrow interface.
 * Every function wipes its stack copies of keys and plaintext before it
 * returns; none logs anything secret. */
#include "crypto.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "limit.h"
#include "log.h"

/* Algorithms fetched once: an implicit fetch on every call costs a
 * provider lookup under a lock, on the hot path of every request. */
static pthread_once_t crypto_fetch_once = PTHREAD_ONCE_INIT;
static EVP_MAC *crypto_hmac;
static EVP_CIPHER *crypto_gcm;
static EVP_MD *crypto_sha;
/* HMAC-SHA256 with no key: each call copies it, because naming the digest
 * in EVP_MAC_init would fetch SHA-256 again every time. It holds no secret. */
static EVP_MAC_CTX *crypto_hmac_sha;

static void crypto_fetch(void)
{
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
	    OSSL_PARAM_construct_end(),
	};

	crypto_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	crypto_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	crypto_sha = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (crypto_hmac != NULL && (crypto_hmac_sha = EVP_MAC_CTX_new(crypto_hmac)) != NULL &&
	    EVP_MAC_CTX_set_params(crypto_hmac_sha, params) != 1) {
		EVP_MAC_CTX_free(crypto_hmac_sha);
		crypto_hmac_sha = NULL;
	}
}

static int crypto_fetched(void)
{
	pthread_once(&crypto_fetch_once, crypto_fetch);
	return crypto_hmac_sha != NULL && crypto_gcm != NULL && crypto_sha != NULL;
}

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
	unsigned int outlen = 0;

	if (!crypto_fetched() || EVP_Digest(data, len, out, &outlen, crypto_sha, NULL) != 1)
		return -1;
	return 0;
}

int crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
		       unsigned char out[CRYPTO_HASH_LEN])
{
	return crypto_hmac_sha256_2(key, keylen, data, len, NULL, 0, out);
}

int crypto_hmac_sha256_2(const void *key, size_t keylen, const void *a, size_t alen, const void *b,
			 size_t blen, unsigned char out[CRYPTO_HASH_LEN])
{
	EVP_MAC_CTX *ctx = NULL;
	size_t outlen = 0;
	int rc = -1;

	if (!crypto_fetched())
		goto done;
	ctx = EVP_MAC_CTX_dup(crypto_hmac_sha);
	if (ctx == NULL || EVP_MAC_init(ctx, key, keylen, NULL) != 1)
		goto done;
	if (alen > 0 && EVP_MAC_update(ctx, a, alen) != 1)
		goto done;
	if (blen > 0 && EVP_MAC_update(ctx, b, blen) != 1)
		goto done;
	if (EVP_MAC_final(ctx, out, &outlen, CRYPTO_HASH_LEN) != 1 || outlen != CRYPTO_HASH_LEN)
		goto done;
	rc = 0;
done:
	EVP_MAC_CTX_free(ctx);
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
