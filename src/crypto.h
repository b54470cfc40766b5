/* crypto.h: the only doorway to OpenSSL and libargon2. AES-256-GCM, HMAC,
 * SHA-256, Argon2id, the CSPRNG, constant-time compare and locked key memory.
 * Nothing here logs a key, a password or a plaintext. */
#ifndef GV_CRYPTO_H
#define GV_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN 32
#define CRYPTO_NONCE_LEN 12
#define CRYPTO_TAG_LEN 16
#define CRYPTO_SEAL_OVERHEAD (CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
#define CRYPTO_HASH_LEN 32

/* Argon2id bounds accepted for stored vault parameters. */
#define CRYPTO_KDF_MIN_MEMORY 1024u   /* KiB */
#define CRYPTO_KDF_MAX_MEMORY 262144u /* KiB: 256 MiB */
#define CRYPTO_KDF_MIN_ITER 1u
#define CRYPTO_KDF_MAX_ITER 16u
#define CRYPTO_KDF_MIN_LANES 1u
#define CRYPTO_KDF_MAX_LANES 16u
#define CRYPTO_KDF_SALT_LEN 16

struct crypto_kdf {
	uint32_t memory_kib;
	uint32_t iterations;
	uint32_t parallelism;
};

/* Process hardening and the secure heap: non-dumpable, no core files.
 * Call once at start. Returns 0, or -1 if the secure heap is unavailable. */
int crypto_init(void);
/* For a process that verifies TLS certificates through OpenSSL (the CLI's
 * libcurl): keeps the digest and cipher tables that crypto_init leaves out
 * (without them every certificate's signature digest counts as too weak).
 * Call before crypto_init. */
void crypto_init_tls_client(void);

/* Locked, zeroed memory from the secure heap; crypto_secure_free wipes it.
 * crypto_secure_free(NULL, n) is a no-op. */
void *crypto_secure_alloc(size_t len);
void crypto_secure_free(void *p, size_t len);

/* A malloc/free pair that wipes every block on free (for JSON trees that may
 * hold plaintext). */
void *crypto_wipe_malloc(size_t len);
void crypto_wipe_free(void *p);

/* Wipe memory the compiler may not elide. */
void crypto_wipe(void *p, size_t len);

/* Overwrites the stack below the caller, where library routines (Argon2,
 * key unwrapping) leave copies of keys in dead frames. Call after them. */
void crypto_scrub_stack(void);

int crypto_random(void *buf, size_t len);

/* Constant time in the length of the inputs. crypto_equal_str also hides
 * whether the lengths differ (both sides are hashed first). */
int crypto_equal(const void *a, const void *b, size_t len);
int crypto_equal_str(const void *a, size_t alen, const void *b, size_t blen);

int crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_HASH_LEN]);
int crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
		       unsigned char out[CRYPTO_HASH_LEN]);
/* HMAC over two parts (e.g. a label and a name) without concatenating. */
int crypto_hmac_sha256_2(const void *key, size_t keylen, const void *a, size_t alen, const void *b,
			 size_t blen, unsigned char out[CRYPTO_HASH_LEN]);

/* An HMAC-SHA256 key made ready once (RFC 2104's inner and outer hash
 * states after the pads), so each MAC under it hashes only the message.
 * It is as secret as the key: keep it only where the key may be (locked
 * memory, e.g. inside struct vault_keys) and wipe it with the key. */
#define CRYPTO_MAC_KEY_STATE 224
struct crypto_mac_key {
	_Alignas(16) unsigned char state[CRYPTO_MAC_KEY_STATE];
};
/* 0, or -1 (mk wiped). */
int crypto_mac_key_set(struct crypto_mac_key *mk, const void *key, size_t keylen);
void crypto_mac_key_wipe(struct crypto_mac_key *mk);
/* HMAC-SHA256 of a ‖ b under a prepared key; equal to crypto_hmac_sha256_2. */
int crypto_mac_sha256(const struct crypto_mac_key *mk, const void *a, size_t alen, const void *b,
		      size_t blen, unsigned char out[CRYPTO_HASH_LEN]);

/* AES-256-GCM with an explicit nonce and a detached tag. */
int crypto_gcm_encrypt(const unsigned char key[CRYPTO_KEY_LEN],
		       const unsigned char nonce[CRYPTO_NONCE_LEN], const void *aad, size_t aadlen,
		       const void *pt, size_t len, unsigned char *ct,
		       unsigned char tag[CRYPTO_TAG_LEN]);
/* Returns 0 when the tag verifies; -1 otherwise (out is then wiped). */
int crypto_gcm_decrypt(const unsigned char key[CRYPTO_KEY_LEN],
		       const unsigned char nonce[CRYPTO_NONCE_LEN], const void *aad, size_t aadlen,
		       const void *ct, size_t len, const unsigned char tag[CRYPTO_TAG_LEN],
		       unsigned char *pt);

/* Sealed box: out = nonce(12) | ciphertext(len) | tag(16), fresh random
 * nonce. out must hold len + CRYPTO_SEAL_OVERHEAD bytes. */
int crypto_seal(const unsigned char key[CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
		const void *pt, size_t len, unsigned char *out);
/* Opens a sealed box of inlen bytes into out (inlen - overhead bytes).
 * Returns 0, or -1 on a short box or a failed tag. */
int crypto_open(const unsigned char key[CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
		const unsigned char *in, size_t inlen, unsigned char *out);

/* Non-zero when the parameters are within the accepted bounds. */
int crypto_kdf_valid(const struct crypto_kdf *kdf);
/* Argon2id v1.3. Threads = min(lanes, online CPUs). Returns 0 or -1. */
int crypto_argon2id(const struct crypto_kdf *kdf, const void *pw, size_t pwlen,
		    const unsigned char *salt, size_t saltlen, unsigned char *out, size_t outlen);

/* The same without the bounds check, with Argon2's optional secret and
 * associated data (for known-answer tests). */
int crypto_argon2id_raw(const struct crypto_kdf *kdf, const void *pw, size_t pwlen,
			const unsigned char *salt, size_t saltlen, const void *secret,
			size_t secretlen, const void *ad, size_t adlen, unsigned char *out,
			size_t outlen);

#endif
