/* record.c: sealing and opening secret records. Plaintext only ever sits
 * in wipe-on-free buffers. */
#include "record.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"

#define RECORD_AAD_LABEL "groupvault/secret/v1"
#define RECORD_AAD_LEN (sizeof(RECORD_AAD_LABEL) - 1 + RECORD_ID_LEN + 8)

static void record_aad(unsigned char aad[RECORD_AAD_LEN], const unsigned char *id, int64_t version)
{
	memcpy(aad, RECORD_AAD_LABEL, sizeof(RECORD_AAD_LABEL) - 1);
	memcpy(aad + sizeof(RECORD_AAD_LABEL) - 1, id, RECORD_ID_LEN);
	for (int i = 0; i < 8; i++)
		aad[RECORD_AAD_LEN - 1 - i] = (unsigned char)((uint64_t)version >> (8 * i));
}

unsigned char *record_seal(const unsigned char *data_key, const unsigned char *id, int64_t version,
			   const json_t *rec, size_t *outlen)
{
	unsigned char aad[RECORD_AAD_LEN], *out;
	char *text = json_dumps(rec, JSON_COMPACT);
	size_t len;

	if (text == NULL)
		return NULL;
	record_aad(aad, id, version);
	len = strlen(text);
	out = malloc(len + CRYPTO_SEAL_OVERHEAD);
	if (out != NULL && crypto_seal(data_key, aad, sizeof(aad), text, len, out) != 0) {
		free(out);
		out = NULL;
	}
	*outlen = len + CRYPTO_SEAL_OVERHEAD;
	crypto_wipe_free(text);
	return out;
}

json_t *record_open(const unsigned char *data_key, const unsigned char *id, int64_t version,
		    const unsigned char *blob, size_t len)
{
	unsigned char aad[RECORD_AAD_LEN], *pt;
	json_t *o = NULL;

	if (len < CRYPTO_SEAL_OVERHEAD)
		return NULL;
	record_aad(aad, id, version);
	pt = crypto_wipe_malloc(len);
	if (pt == NULL)
		return NULL;
	if (crypto_open(data_key, aad, sizeof(aad), blob, len, pt) == 0) {
		o = json_loadb((const char *)pt, len - CRYPTO_SEAL_OVERHEAD,
			       JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
		if (!json_is_object(o) || !json_is_string(json_object_get(o, "key")) ||
		    !json_is_string(json_object_get(o, "value"))) {
			json_decref(o);
			o = NULL;
		}
	}
	crypto_wipe_free(pt);
	return o;
}
