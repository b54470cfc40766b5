/* record.c: sealing and opening secret records (format in record.h).
 * Plaintext only ever sits in wipe-on-free buffers. */
#include "record.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"

#define RECORD_AAD_LABEL "groupvault/secret/v1"
#define RECORD_AAD_LEN (sizeof(RECORD_AAD_LABEL) - 1 + RECORD_ID_LEN + 8)
#define RECORD_FORMAT2 0x02
#define RECORD_LOAD_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

static void record_aad(unsigned char aad[RECORD_AAD_LEN], const unsigned char *id, int64_t version)
{
	memcpy(aad, RECORD_AAD_LABEL, sizeof(RECORD_AAD_LABEL) - 1);
	memcpy(aad + sizeof(RECORD_AAD_LABEL) - 1, id, RECORD_ID_LEN);
	for (int i = 0; i < 8; i++)
		aad[RECORD_AAD_LEN - 1 - i] = (unsigned char)((uint64_t)version >> (8 * i));
}

/* The answer part of rec: {key, value, metadata}. New reference or NULL. */
static json_t *record_answer_tree(const json_t *rec)
{
	json_t *key = json_object_get(rec, "key"), *value = json_object_get(rec, "value");
	json_t *md = json_object_get(rec, "metadata");

	if (!json_is_string(key) || !json_is_string(value))
		return NULL;
	return json_pack("{s:O,s:O,s:o}", "key", key, "value", value, "metadata",
			 json_is_object(md) ? json_incref(md) : json_object());
}

/* Dumps o into a new wipe-on-free buffer at offset `at` (bytes before it
 * are left for the caller); *len gets the text's length. */
static char *record_dump(const json_t *o, size_t at, size_t extra, size_t *len)
{
	size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT);
	char *buf;

	if (n == 0 || (buf = crypto_wipe_malloc(at + n + extra + 1)) == NULL)
		return NULL;
	if (json_dumpb(o, buf + at, n, JSON_COMPACT) != n) {
		crypto_wipe_free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

unsigned char *record_seal(const unsigned char *data_key, const unsigned char *id, int64_t version,
			   json_t *rec, size_t *outlen)
{
	unsigned char aad[RECORD_AAD_LEN], *out = NULL;
	json_t *ans = record_answer_tree(rec), *rest = json_object(), *val;
	char *text = NULL, *tail = NULL;
	size_t alen = 0, rlen = 0, len;
	const char *k;

	if (ans == NULL || rest == NULL)
		goto done;
	json_object_foreach(rec, k, val) if (strcmp(k, "key") != 0 && strcmp(k, "value") != 0 &&
					     strcmp(k, "metadata") != 0 &&
					     json_object_set(rest, k, val) != 0) goto done;
	/* 0x02 answer '\n' rest: compact JSON never holds a raw newline */
	if ((tail = record_dump(rest, 0, 0, &rlen)) == NULL ||
	    (text = record_dump(ans, 1, 1 + rlen, &alen)) == NULL)
		goto done;
	text[0] = RECORD_FORMAT2;
	text[1 + alen] = '\n';
	memcpy(text + 2 + alen, tail, rlen);
	len = 2 + alen + rlen;
	record_aad(aad, id, version);
	out = malloc(len + CRYPTO_SEAL_OVERHEAD);
	if (out != NULL && crypto_seal(data_key, aad, sizeof(aad), text, len, out) != 0) {
		free(out);
		out = NULL;
	}
	*outlen = len + CRYPTO_SEAL_OVERHEAD;
done:
	crypto_wipe_free(text);
	crypto_wipe_free(tail);
	json_decref(ans);
	json_decref(rest);
	return out;
}

/* Decrypts into a wipe-on-free buffer with a NUL after the plaintext. */
static char *record_decrypt(const unsigned char *data_key, const unsigned char *id, int64_t version,
			    const unsigned char *blob, size_t len, size_t *ptlen)
{
	unsigned char aad[RECORD_AAD_LEN];
	char *pt;

	if (len < CRYPTO_SEAL_OVERHEAD)
		return NULL;
	record_aad(aad, id, version);
	if ((pt = crypto_wipe_malloc(len)) == NULL)
		return NULL;
	if (crypto_open(data_key, aad, sizeof(aad), blob, len, (unsigned char *)pt) != 0) {
		crypto_wipe_free(pt);
		return NULL;
	}
	*ptlen = len - CRYPTO_SEAL_OVERHEAD;
	pt[*ptlen] = '\0';
	return pt;
}

/* Parses a plaintext of either format into the whole record. */
static json_t *record_parse(const char *pt, size_t len)
{
	json_t *o = NULL, *rest;
	const char *nl;

	if (len > 0 && pt[0] == RECORD_FORMAT2) {
		if ((nl = memchr(pt + 1, '\n', len - 1)) == NULL)
			return NULL;
		o = json_loadb(pt + 1, (size_t)(nl - pt - 1), RECORD_LOAD_FLAGS, NULL);
		rest = json_loadb(nl + 1, len - (size_t)(nl + 1 - pt), RECORD_LOAD_FLAGS, NULL);
		if (!json_is_object(o) || !json_is_object(rest) ||
		    json_object_update_missing(o, rest) != 0) {
			json_decref(o);
			o = NULL;
		}
		json_decref(rest);
	} else {
		o = json_loadb(pt, len, RECORD_LOAD_FLAGS, NULL);
	}
	if (!json_is_object(o) || !json_is_string(json_object_get(o, "key")) ||
	    !json_is_string(json_object_get(o, "value"))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *record_open(const unsigned char *data_key, const unsigned char *id, int64_t version,
		    const unsigned char *blob, size_t len)
{
	size_t ptlen;
	char *pt = record_decrypt(data_key, id, version, blob, len, &ptlen);
	json_t *o;

	if (pt == NULL)
		return NULL;
	o = record_parse(pt, ptlen);
	crypto_wipe_free(pt);
	return o;
}

char *record_answer(const unsigned char *data_key, const unsigned char *id, int64_t version,
		    const unsigned char *blob, size_t len, const char *name, size_t namelen,
		    size_t *outlen)
{
	static const char pre[] = "{\"key\":\"";
	size_t ptlen, n;
	char *pt = record_decrypt(data_key, id, version, blob, len, &ptlen), *nl, *out = NULL;
	json_t *o, *ans;

	if (pt == NULL)
		return NULL;
	/* Format 2 whose key needs no escaping (every name a client can ask
	 * for): the answer is the first text, as sealed. */
	if (ptlen > 0 && pt[0] == RECORD_FORMAT2 &&
	    (nl = memchr(pt + 1, '\n', ptlen - 1)) != NULL) {
		n = (size_t)(nl - pt - 1);
		if (n > sizeof(pre) + namelen && memcmp(pt + 1, pre, sizeof(pre) - 1) == 0 &&
		    memcmp(pt + sizeof(pre), name, namelen) == 0 &&
		    memcmp(pt + sizeof(pre) + namelen, "\",", 2) == 0 &&
		    memchr(name, '"', namelen) == NULL && memchr(name, '\\', namelen) == NULL) {
			memmove(pt, pt + 1, n);
			pt[n] = '\0';
			*outlen = n;
			return pt;
		}
	}
	/* Format 1, or a key that only a full parse can compare. */
	o = record_parse(pt, ptlen);
	crypto_wipe_free(pt);
	if (o == NULL)
		return NULL;
	if (json_string_length(json_object_get(o, "key")) == namelen &&
	    memcmp(json_string_value(json_object_get(o, "key")), name, namelen) == 0 &&
	    (ans = record_answer_tree(o)) != NULL) {
		out = record_dump(ans, 0, 0, outlen);
		if (out != NULL)
			out[*outlen] = '\0';
		json_decref(ans);
	}
	json_decref(o);
	return out;
}
