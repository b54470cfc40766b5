/* record.h: a secret's sealed record. The plaintext is the JSON object
 * {key, value, metadata, updatedAt, updatedBy}; it is sealed under the data
 * key with AAD binding it to its row (blind index and version), so a record
 * copied to another row or version does not open. */
#ifndef GV_RECORD_H
#define GV_RECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define RECORD_ID_LEN 32

/* Seals rec into a malloc'd blob of *outlen bytes; NULL on failure. */
unsigned char *record_seal(const unsigned char *data_key, const unsigned char *id, int64_t version,
			   const json_t *rec, size_t *outlen);
/* Opens a blob; NULL if the tag fails or the content is not a record.
 * The returned tree is the caller's (json_decref). */
json_t *record_open(const unsigned char *data_key, const unsigned char *id, int64_t version,
		    const unsigned char *blob, size_t len);

#endif
