/* record.h: a secret's sealed record. It is sealed under the data key with
 * AAD binding it to its row (blind index and version), so a record copied to
 * another row or version does not open.
 *
 * The plaintext holds the JSON object {key, value, metadata, updatedAt,
 * updatedBy}. Records written now (format 2) store it as two texts,
 * 0x02 answer '\n' rest, where answer is exactly what a read returns
 * ({"key","value","metadata"}) so a read decrypts and answers without
 * parsing; format 1 (the whole object as one JSON text) still opens. */
#ifndef GV_RECORD_H
#define GV_RECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define RECORD_ID_LEN 32

/* Seals rec (which needs string members key and value) into a malloc'd blob
 * of *outlen bytes; NULL on failure. */
unsigned char *record_seal(const unsigned char *data_key, const unsigned char *id, int64_t version,
			   json_t *rec, size_t *outlen);
/* Opens a blob; NULL if the tag fails or the content is not a record.
 * The returned tree is the caller's (json_decref). */
json_t *record_open(const unsigned char *data_key, const unsigned char *id, int64_t version,
		    const unsigned char *blob, size_t len);
/* Opens a blob and returns the answer to a read of it, the JSON text
 * {"key","value","metadata"} (metadata {} when absent), in a wipe-on-free
 * buffer (crypto_wipe_free) of *outlen bytes plus a NUL. NULL if the blob
 * does not open, is not a record, or its key is not name. */
char *record_answer(const unsigned char *data_key, const unsigned char *id, int64_t version,
		    const unsigned char *blob, size_t len, const char *name, size_t namelen,
		    size_t *outlen);

#endif
