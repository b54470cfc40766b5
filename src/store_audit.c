/* store_audit.c: the audit log as a hash chain, hash = SHA-256(previous
 * hash | entry), with the chain head cached for the writer. It stores the
 * entries it is given and must never be handed a secret name or value. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"

/* The head is cached across batches; a writer's savepoint marks it so that
 * rolling the savepoint back also rolls the cache back. wmu held. */
void store_audit_mark(struct store *st) { st->saved = st->head; }
void store_audit_undo(struct store *st) { st->head = st->saved; }
/* After a failed commit the cache may be ahead of the table. */
void store_audit_forget(struct store *st) { st->head.valid = 0; }

static int store_audit_head(struct store_tx *tx)
{
	struct store_chain_head *h = &tx->st->head;
	sqlite3_stmt *s;
	int rc;

	if (h->valid)
		return 0;
	s = store_q(tx, Q_AUDIT_HEAD);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 1) != CRYPTO_HASH_LEN) {
			sqlite3_reset(s);
			log_err("store: audit head hash malformed");
			return -1;
		}
		h->seq = sqlite3_column_int64(s, 0);
		memcpy(h->hash, sqlite3_column_blob(s, 1), CRYPTO_HASH_LEN);
	} else if (rc == SQLITE_DONE) {
		h->seq = 0;
		memset(h->hash, 0, CRYPTO_HASH_LEN);
	} else {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	h->valid = 1;
	return 0;
}

static int store_chain(const unsigned char prev[CRYPTO_HASH_LEN], const char *entry, size_t len,
		       unsigned char out[CRYPTO_HASH_LEN])
{
	unsigned char *buf = malloc(CRYPTO_HASH_LEN + len);
	int rc;

	if (buf == NULL)
		return -1;
	memcpy(buf, prev, CRYPTO_HASH_LEN);
	memcpy(buf + CRYPTO_HASH_LEN, entry, len);
	rc = crypto_sha256(buf, CRYPTO_HASH_LEN + len, out);
	free(buf);
	return rc;
}

int store_audit_append(struct store_tx *tx, const char *entry, size_t len,
		       const unsigned char *secret_id)
{
	struct store_chain_head *h = &tx->st->head;
	unsigned char hash[CRYPTO_HASH_LEN];
	sqlite3_stmt *s;

	if (store_audit_head(tx) != 0 || store_chain(h->hash, entry, len, hash) != 0)
		return -1;
	s = store_q(tx, Q_AUDIT_PUT);
	sqlite3_bind_int64(s, 1, h->seq + 1);
	sqlite3_bind_text64(s, 2, entry, len, SQLITE_STATIC, SQLITE_UTF8);
	if (secret_id != NULL)
		sqlite3_bind_blob(s, 3, secret_id, STORE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, hash, CRYPTO_HASH_LEN, SQLITE_STATIC);
	if (store_step_done(tx, s) != 0) {
		h->valid = 0;
		return -1;
	}
	h->seq++;
	memcpy(h->hash, hash, CRYPTO_HASH_LEN);
	return 0;
}

int store_audit_list(struct store_tx *tx, const unsigned char *secret_id, int limit,
		     store_audit_fn fn, void *ctx)
{
	sqlite3_stmt *s;
	int rc;

	if (secret_id != NULL) {
		s = store_q(tx, Q_AUDIT_LIST_SECRET);
		sqlite3_bind_blob(s, 1, secret_id, STORE_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_int(s, 2, limit);
	} else {
		s = store_q(tx, Q_AUDIT_LIST);
		sqlite3_bind_int(s, 1, limit);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *e = (const char *)sqlite3_column_text(s, 1);
		int r = fn(ctx, sqlite3_column_int64(s, 0), e ? e : "",
			   (size_t)sqlite3_column_bytes(s, 1));
		if (r != 0) {
			sqlite3_reset(s);
			return r;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		return -1;
	}
	return 0;
}

int store_audit_verify(struct store_tx *tx, int64_t *entries, int64_t *bad_seq,
		       unsigned char head[32])
{
	sqlite3_stmt *s = store_q(tx, Q_AUDIT_ALL);
	unsigned char prev[CRYPTO_HASH_LEN] = {0}, h[CRYPTO_HASH_LEN];
	int64_t expect = 1, n = 0;
	int rc, broken = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(s, 0);
		const char *e = (const char *)sqlite3_column_text(s, 1);
		size_t len = (size_t)sqlite3_column_bytes(s, 1);
		const void *stored = sqlite3_column_blob(s, 2);

		if (seq != expect || e == NULL || store_chain(prev, e, len, h) != 0 ||
		    sqlite3_column_bytes(s, 2) != CRYPTO_HASH_LEN ||
		    !crypto_equal(h, stored, CRYPTO_HASH_LEN)) {
			*bad_seq = seq;
			broken = 1;
			break;
		}
		memcpy(prev, h, sizeof(prev));
		expect++;
		n++;
	}
	sqlite3_reset(s);
	if (!broken && rc != SQLITE_DONE) {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		return -1;
	}
	*entries = n;
	memcpy(head, prev, CRYPTO_HASH_LEN);
	return broken;
}
