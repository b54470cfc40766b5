/* reqid.c: request ids (see reqid.h). A client's id is used only when it is
 * short and of a plain alphabet, so it can go into logs, headers and audit
 * entries as is; it must never widen that alphabet. */
#include "reqid.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"

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

/* A bijection of 64-bit words (splitmix64's finaliser): distinct inputs
 * give distinct, well spread outputs. */
static uint64_t reqid_mix(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* A generated id is this thread's random key (drawn once) mixed with its
 * own counter: unique within the thread, unpredictable enough to correlate
 * by (ids are not secrets), and without a trip to the CSPRNG per request. */
static _Thread_local uint64_t reqid_key, reqid_ctr;
static _Thread_local int reqid_keyed;

int reqid_take(const char *sent, char out[REQID_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	static _Atomic unsigned long long fallback;
	size_t n = sent != NULL ? strnlen(sent, REQID_MAX + 1) : 0;
	uint64_t id;

	if (reqid_valid(sent, n)) {
		memcpy(out, sent, n);
		out[n] = '\0';
		return 0;
	}
	if (!reqid_keyed) {
		if (crypto_random(&reqid_key, sizeof(reqid_key)) != 0) { /* logged there */
			snprintf(out, REQID_MAX + 1, "%016llx", ++fallback);
			return -1;
		}
		reqid_keyed = 1;
	}
	id = reqid_mix(reqid_mix(reqid_key) ^ ++reqid_ctr);
	for (int i = 0; i < REQID_GEN_LEN; i++)
		out[i] = hex[(id >> (60 - 4 * i)) & 15];
	out[REQID_GEN_LEN] = '\0';
	return 0;
}

void reqid_set(const char *id)
{
	size_t n = id != NULL ? strnlen(id, REQID_MAX) : 0;

	memcpy(reqid_cur, id != NULL ? id : "", n);
	reqid_cur[n] = '\0';
}

const char *reqid_get(void) { return reqid_cur[0] != '\0' ? reqid_cur : NULL; }
