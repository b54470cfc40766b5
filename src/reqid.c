/* reqid.c: request ids (see reqid.h). A client's id is used only when it is
 * short and of a plain alphabet, so it can go into logs, headers and audit
 * entries as is; it must never widen that alphabet. */
#include "reqid.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"

_Static_assert(REQID_GEN_LEN / 2 <= CRYPTO_HASH_LEN, "a generated id is cut from one HMAC");

static _Thread_local char reqid_cur[REQID_MAX + 1];

int reqid_valid(const char *s, size_t n)
{
	if (s == NULL || n == 0 || n > REQID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* A generated id is HMAC-SHA256(thread key, counter), cut to 64 bits: each
 * thread draws its key once, so a request costs two SHA-256 blocks instead of
 * a trip to the CSPRNG (and a getpid(2)), and ids neither repeat nor reveal
 * how many requests came before (ids are not secrets; the key is only theirs). */
static _Thread_local struct crypto_mac_key reqid_key;
static _Thread_local uint64_t reqid_ctr;
static _Thread_local int reqid_keyed;

int reqid_take(const char *sent, char out[REQID_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	static _Atomic unsigned long long fallbacks;
	size_t n = sent != NULL ? strnlen(sent, REQID_MAX + 1) : 0;
	unsigned char mac[CRYPTO_HASH_LEN];
	uint64_t ctr;

	if (reqid_valid(sent, n)) {
		memcpy(out, sent, n);
		out[n] = '\0';
		return 0;
	}
	if (!reqid_keyed) {
		unsigned char k[CRYPTO_KEY_LEN];
		int rc = crypto_random(k, sizeof(k)) == 0 ? crypto_mac_key_set(&reqid_key, k, sizeof(k))
							  : -1;
		crypto_wipe(k, sizeof(k));
		if (rc != 0) /* logged there */
			goto fallback;
		reqid_keyed = 1;
	}
	ctr = ++reqid_ctr;
	if (crypto_mac_sha256(&reqid_key, &ctr, sizeof(ctr), NULL, 0, mac) != 0)
		goto fallback;
	for (int i = 0; i < REQID_GEN_LEN / 2; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[REQID_GEN_LEN] = '\0';
	return 0;
fallback:
	snprintf(out, REQID_MAX + 1, "%016llx", ++fallbacks);
	return -1;
}

void reqid_set(const char *id)
{
	size_t n = id != NULL ? strnlen(id, REQID_MAX) : 0;

	memcpy(reqid_cur, id != NULL ? id : "", n);
	reqid_cur[n] = '\0';
}

const char *reqid_get(void) { return reqid_cur[0] != '\0' ? reqid_cur : NULL; }
