/* vault_stream.c: GET /export of our own format as a stream, so a vault of
 * any size leaves in bounded memory: the document's head is built whole,
 * its records are read a chunk at a time from one read snapshot, on a
 * connection of its own (a slow client holds no pooled reader). The
 * export's audit entry is durable before any byte is handed out. Nothing
 * here holds plaintext: records stay sealed, as stored. */
#include "vault_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Records read per refill: ~300 bytes each as text. */
#define VAULT_STREAM_ROWS 256
/* The end of a head whose "records" (its last member) is empty. */
#define VAULT_STREAM_TAIL "]}}"

struct vault_stream {
	struct store_tx *tx; /* the read snapshot; NULL once every row is out */
	char *buf;	     /* text not handed out yet: buf[off..len) */
	size_t off, len, cap;
	unsigned char last[CRYPTO_HASH_LEN]; /* id of the last row read */
	size_t rows;			     /* rows read so far */
	size_t chunk;			     /* rows read by this refill */
};

/* Room for n more bytes in buf. */
static int vault_stream_room(struct vault_stream *s, size_t n)
{
	size_t cap = s->cap ? s->cap : 4096;
	char *b;

	if (s->len + n <= s->cap)
		return 0;
	while (cap < s->len + n)
		cap *= 2;
	if ((b = realloc(s->buf, cap)) == NULL) {
		log_err("%s: out of memory", __func__);
		return -1;
	}
	s->buf = b;
	s->cap = cap;
	return 0;
}

static int vault_stream_put(struct vault_stream *s, const char *p, size_t n)
{
	if (vault_stream_room(s, n) != 0)
		return -1;
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

/* Appends j compact, as the whole-document export writes it. */
static int vault_stream_put_json(struct vault_stream *s, const json_t *j)
{
	size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);

	if (n == 0 || vault_stream_room(s, n) != 0 ||
	    json_dumpb(j, s->buf + s->len, n, JSON_COMPACT) != n)
		return -1;
	s->len += n;
	return 0;
}

static int vault_stream_row(void *arg, const unsigned char *id, int64_t version,
			    const unsigned char *rec, size_t len)
{
	struct vault_stream *s = arg;
	json_t *o = vault_export_record(id, version, rec, len);
	int rc = o == NULL || (s->rows > 0 && vault_stream_put(s, ",", 1) != 0) ||
			 vault_stream_put_json(s, o) != 0
		     ? -1
		     : 0;

	json_decref(o);
	if (rc != 0)
		return -1;
	memcpy(s->last, id, CRYPTO_HASH_LEN);
	s->rows++;
	return ++s->chunk == VAULT_STREAM_ROWS ? 2 : 0;
}

/* The next chunk of rows (and, after the last, the tail) into buf. */
static int vault_stream_fill(struct vault_stream *s)
{
	int r;

	s->off = s->len = 0;
	s->chunk = 0;
	r = store_secret_from(s->tx, s->rows > 0 ? s->last : NULL, vault_stream_row, s);
	if (r == 2)
		return 0;
	if (r == 0 && vault_stream_put(s, VAULT_STREAM_TAIL, strlen(VAULT_STREAM_TAIL)) == 0) {
		store_tx_rollback(s->tx);
		s->tx = NULL;
		return 0;
	}
	log_err("%s: the export stopped after %zu records", __func__, s->rows);
	return -1;
}

long vault_stream_read(struct vault_stream *s, char *out, size_t max)
{
	size_t n;

	while (s->off == s->len) {
		if (s->tx == NULL)
			return 0;
		if (vault_stream_fill(s) != 0)
			return -1;
	}
	n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(out, s->buf + s->off, n);
	s->off += n;
	return (long)n;
}

void vault_stream_free(struct vault_stream *s)
{
	if (s == NULL)
		return;
	if (s->tx != NULL)
		store_tx_rollback(s->tx);
	free(s->buf);
	free(s);
}

/* The head, read in s->tx under v->rw: an imported ocmt-v1 document not
 * yet unlocked goes out whole, as it came; our own format without its rows
 * (*rows set), which follow from the same snapshot. */
static enum vault_err vault_stream_head(struct vault_stream *s, json_t **doc, int *rows)
{
	json_t *pending = vault_meta_json(s->tx, "legacy");

	*rows = pending == NULL;
	if (pending != NULL)
		return (*doc = json_pack("{s:o}", "vault", pending)) ? VAULT_OK : VAULT_INTERNAL;
	return vault_export_native(s->tx, 0, doc);
}

enum vault_err vault_stream_open(struct vault *v, const struct vault_actor *who,
				 struct vault_stream **out)
{
	struct vault_audit_ev ev = {
	    "vault.exported", vault_actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};
	struct vault_stream *s;
	json_t *doc = NULL;
	enum vault_err err;
	int rows = 0;

	if (!vault_is_initialized(v))
		return VAULT_NOT_INIT;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return VAULT_INTERNAL;
	pthread_rwlock_rdlock(&v->rw);
	if ((s->tx = store_tx_begin_own(v->st)) == NULL)
		err = VAULT_STORE_FAILED;
	else if ((err = vault_stream_head(s, &doc, &rows)) == VAULT_OK)
		err = vault_audit_one(v, vault_keys_live(v), &ev); /* before any byte */
	pthread_rwlock_unlock(&v->rw);
	if (err == VAULT_OK && vault_stream_put_json(s, doc) != 0)
		err = VAULT_INTERNAL;
	if (err == VAULT_OK && rows) {
		/* "records":[] ends the head: the rows go between its brackets */
		size_t t = strlen(VAULT_STREAM_TAIL);
		if (s->len < t + 1 || memcmp(s->buf + s->len - t - 1, "[" VAULT_STREAM_TAIL, t + 1))
			err = VAULT_INTERNAL;
		s->len -= t;
	} else if (err == VAULT_OK) {
		store_tx_rollback(s->tx);
		s->tx = NULL;
	}
	json_decref(doc);
	if (err != VAULT_OK) {
		vault_stream_free(s);
		return err;
	}
	*out = s;
	return VAULT_OK;
}
