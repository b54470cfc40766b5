/* store_audit.c: the audit log as a hash chain with keyed seals (store.h
 * says what is hashed and MACed), the chain head cached for the writer, and
 * the keyed head record. It stores the entries it is given and must never
 * be handed a secret name or value, nor hold the MAC key. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"

#define STORE_HEAD_KEY "audit_head"
#define STORE_HEAD_LEN (8 + 2 * CRYPTO_HASH_LEN) /* seq | hash | tag */
#define STORE_SEAL_BATCH 256			 /* rows sealed per read */
/* 'E' | seq | flag | secret_id | hash */
#define STORE_MAC_MSG_MAX (1 + 8 + 1 + STORE_ID_LEN + CRYPTO_HASH_LEN)

/* The head is cached across batches; a writer's savepoint marks it so that
 * rolling the savepoint back also rolls the cache back. wmu held. */
void store_audit_mark(struct store *st) { st->saved = st->head; }
void store_audit_undo(struct store *st) { st->head = st->saved; }
/* After a failed commit the cache may be ahead of the table. */
void store_audit_forget(struct store *st) { st->head.valid = 0; }

void store_audit_set_mac(struct store *st, store_mac_fn fn, void *ctx)
{
	st->mac = fn;
	st->mac_ctx = ctx;
}

void store_audit_set_sink(struct store *st, store_sink_fn fn, void *ctx)
{
	st->sink = fn;
	st->sink_ctx = ctx;
	st->sunk = st->head.valid ? st->head.seq : -1;
}

/* Entries after st->sunk, through the committed head. wmu held. */
void store_audit_push(struct store *st)
{
	sqlite3_stmt *s;
	int rc, bad = 0;

	if (st->sink == NULL || st->sunk < 0 || !st->head.valid || st->head.seq <= st->sunk)
		return;
	s = store_q(st->w, Q_AUDIT_AFTER);
	sqlite3_bind_int64(s, 1, st->sunk);
	sqlite3_bind_int(s, 2, -1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *e = (const char *)sqlite3_column_text(s, 1);
		if (st->sink(st->sink_ctx, sqlite3_column_int64(s, 0), e ? e : "",
			     (size_t)sqlite3_column_bytes(s, 1)) != 0)
			bad = 1;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE || st->sink(st->sink_ctx, 0, NULL, 0) != 0)
		bad = 1;
	if (bad && !st->sink_failing)
		log_err(
		    "store: audit sink write failed; entries stay in the log (GET /audit?after=)");
	else if (!bad && st->sink_failing)
		log_info("store: audit sink writes again");
	st->sink_failing = bad;
	st->sunk = st->head.seq;
}

static void store_be64(unsigned char *p, int64_t v)
{
	for (int i = 7; i >= 0; i--, v = (int64_t)((uint64_t)v >> 8))
		p[i] = (unsigned char)(v & 0xff);
}

/* The message an entry's MAC covers; returns its length. */
static size_t store_entry_msg(unsigned char *m, int64_t seq, const unsigned char *id,
			      const unsigned char hash[CRYPTO_HASH_LEN])
{
	size_t n = 0;

	m[n++] = 'E';
	store_be64(m + n, seq);
	n += 8;
	m[n++] = id != NULL;
	if (id != NULL) {
		memcpy(m + n, id, STORE_ID_LEN);
		n += STORE_ID_LEN;
	}
	memcpy(m + n, hash, CRYPTO_HASH_LEN);
	return n + CRYPTO_HASH_LEN;
}

static void store_head_msg(unsigned char m[1 + 8 + CRYPTO_HASH_LEN], int64_t seq,
			   const unsigned char hash[CRYPTO_HASH_LEN])
{
	m[0] = 'H';
	store_be64(m + 1, seq);
	memcpy(m + 9, hash, CRYPTO_HASH_LEN);
}

/* hv 1 (before schema v3): SHA-256(prev | entry). hv 2: SHA-256(prev | seq |
 * flag | secret_id | entry), so seq and secret_id are covered as well. */
static int store_chain(int hv, const unsigned char prev[CRYPTO_HASH_LEN], int64_t seq,
		       const unsigned char *id, const char *entry, size_t len,
		       unsigned char out[CRYPTO_HASH_LEN])
{
	size_t pre = CRYPTO_HASH_LEN + (hv == 2 ? 9 + (id ? STORE_ID_LEN : 0) : 0), n;
	unsigned char *buf;
	int rc;

	if (hv != 1 && hv != 2)
		return -1;
	if ((buf = malloc(pre + len)) == NULL)
		return -1;
	memcpy(buf, prev, CRYPTO_HASH_LEN);
	n = CRYPTO_HASH_LEN;
	if (hv == 2) {
		store_be64(buf + n, seq);
		n += 8;
		buf[n++] = id != NULL;
		if (id != NULL) {
			memcpy(buf + n, id, STORE_ID_LEN);
			n += STORE_ID_LEN;
		}
	}
	memcpy(buf + n, entry, len);
	rc = crypto_sha256(buf, pre + len, out);
	free(buf);
	return rc;
}

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
	h->dirty = 0;
	if (tx->st->sunk < 0)
		tx->st->sunk = h->seq; /* push only what is written from now on */
	if (!tx->st->counted_set) {
		tx->st->counted = h->seq;
		tx->st->counted_set = 1;
	}
	return 0;
}

int store_audit_append(struct store_tx *tx, const char *entry, size_t len,
		       const unsigned char *secret_id)
{
	struct store *st = tx->st;
	struct store_chain_head *h = &st->head;
	unsigned char hash[CRYPTO_HASH_LEN], mac[CRYPTO_HASH_LEN], tag[CRYPTO_HASH_LEN];
	unsigned char em[STORE_MAC_MSG_MAX], hm[1 + 8 + CRYPTO_HASH_LEN];
	struct store_mac_msg m[2] = {{em, 0, mac}, {hm, sizeof(hm), tag}};
	int sealed = 0;
	sqlite3_stmt *s;

	if (store_audit_head(tx) != 0 ||
	    store_chain(2, h->hash, h->seq + 1, secret_id, entry, len, hash) != 0)
		return -1;
	if (st->mac != NULL) {
		m[0].len = store_entry_msg(em, h->seq + 1, secret_id, hash);
		store_head_msg(hm, h->seq + 1, hash);
		sealed = st->mac(st->mac_ctx, m, 2) == 0; /* -1: locked, unsealed */
	}
	s = store_q(tx, Q_AUDIT_PUT);
	sqlite3_bind_int64(s, 1, h->seq + 1);
	sqlite3_bind_text64(s, 2, entry, len, SQLITE_STATIC, SQLITE_UTF8);
	if (secret_id != NULL)
		sqlite3_bind_blob(s, 3, secret_id, STORE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, hash, CRYPTO_HASH_LEN, SQLITE_STATIC);
	if (sealed)
		sqlite3_bind_blob(s, 5, mac, CRYPTO_HASH_LEN, SQLITE_STATIC);
	if (store_step_done(tx, s) != 0) {
		h->valid = 0;
		return -1;
	}
	h->seq++;
	memcpy(h->hash, hash, CRYPTO_HASH_LEN);
	if (sealed) {
		h->dirty = 1;
		h->tag_seq = h->seq;
		memcpy(h->tag_hash, hash, CRYPTO_HASH_LEN);
		memcpy(h->tag, tag, CRYPTO_HASH_LEN);
	}
	return 0;
}

int store_audit_flush(struct store *st)
{
	struct store_chain_head *h = &st->head;
	unsigned char rec[STORE_HEAD_LEN];

	if (!h->valid || !h->dirty)
		return 0;
	store_be64(rec, h->tag_seq);
	memcpy(rec + 8, h->tag_hash, CRYPTO_HASH_LEN);
	memcpy(rec + 8 + CRYPTO_HASH_LEN, h->tag, CRYPTO_HASH_LEN);
	if (store_meta_put(st->w, STORE_HEAD_KEY, rec, sizeof(rec)) != 0)
		return -1;
	h->dirty = 0;
	return 0;
}

/* The head record: 0 read (or absent: *seq 0), -1 error, 1 malformed. */
static int store_head_read(struct store_tx *tx, int64_t *seq, unsigned char hash[CRYPTO_HASH_LEN],
			   unsigned char tag[CRYPTO_HASH_LEN])
{
	unsigned char *v = NULL;
	size_t len = 0;
	int r = store_meta_get(tx, STORE_HEAD_KEY, &v, &len);

	*seq = 0;
	if (r != 0) {
		free(v);
		return r < 0 ? -1 : 0;
	}
	if (len != STORE_HEAD_LEN) {
		free(v);
		return 1;
	}
	*seq = 0;
	for (int i = 0; i < 8; i++)
		*seq = (int64_t)(((uint64_t)*seq << 8) | v[i]);
	memcpy(hash, v + 8, CRYPTO_HASH_LEN);
	memcpy(tag, v + 8 + CRYPTO_HASH_LEN, CRYPTO_HASH_LEN);
	free(v);
	return *seq < 0 ? 1 : 0;
}

/* One stored row as the chain walkers see it. */
struct store_row {
	int64_t seq;
	const char *entry;
	size_t len;
	const unsigned char *id; /* NULL: none */
	const unsigned char *hash;
	int hv;
	const unsigned char *mac; /* NULL: unsealed */
};

/* Reads the current row of a Q_AUDIT_FROM statement; -1 if malformed. */
static int store_row_get(sqlite3_stmt *s, struct store_row *r)
{
	r->seq = sqlite3_column_int64(s, 0);
	r->entry = (const char *)sqlite3_column_text(s, 1);
	r->len = (size_t)sqlite3_column_bytes(s, 1);
	r->id = sqlite3_column_blob(s, 2);
	if (r->id != NULL && sqlite3_column_bytes(s, 2) != STORE_ID_LEN)
		return -1;
	r->hash = sqlite3_column_blob(s, 3);
	r->hv = sqlite3_column_int(s, 4);
	r->mac = sqlite3_column_blob(s, 5);
	if (r->mac != NULL && sqlite3_column_bytes(s, 5) != CRYPTO_HASH_LEN)
		return -1;
	if (r->entry == NULL || r->hash == NULL || sqlite3_column_bytes(s, 3) != CRYPTO_HASH_LEN)
		return -1;
	return 0;
}

/* Does the row follow prev (seq expect) with the hash it stores? */
static int store_row_chains(const struct store_row *r, int64_t expect,
			    const unsigned char prev[CRYPTO_HASH_LEN],
			    unsigned char out[CRYPTO_HASH_LEN])
{
	return r->seq == expect &&
	       store_chain(r->hv, prev, r->seq, r->id, r->entry, r->len, out) == 0 &&
	       crypto_equal(out, r->hash, CRYPTO_HASH_LEN);
}

struct store_seal_run {
	int64_t seqs[STORE_SEAL_BATCH];
	unsigned char macs[STORE_SEAL_BATCH][CRYPTO_HASH_LEN];
	int n;
	int64_t last; /* last row that chains */
	unsigned char prev[CRYPTO_HASH_LEN];
	int broken, more;
};

/* Reads up to STORE_SEAL_BATCH rows after r->last and MACs the unsealed
 * ones that still chain. 0 or -1. */
static int store_seal_read(struct store_tx *tx, struct store_seal_run *r)
{
	sqlite3_stmt *s = store_q(tx, Q_AUDIT_FROM);
	unsigned char em[STORE_MAC_MSG_MAX], h[CRYPTO_HASH_LEN];
	struct store_mac_msg m = {em, 0, NULL};
	struct store_row row;
	int rc, rows = 0;

	r->n = 0;
	sqlite3_bind_int64(s, 1, r->last);
	sqlite3_bind_int(s, 2, STORE_SEAL_BATCH);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		rows++;
		if (store_row_get(s, &row) != 0 ||
		    !store_row_chains(&row, r->last + 1, r->prev, h)) {
			r->broken = 1;
			break;
		}
		if (row.mac == NULL) {
			m.len = store_entry_msg(em, row.seq, row.id, h);
			m.out = r->macs[r->n];
			if (tx->st->mac(tx->st->mac_ctx, &m, 1) != 0) {
				sqlite3_reset(s);
				return -1;
			}
			r->seqs[r->n++] = row.seq;
		}
		r->last = row.seq;
		memcpy(r->prev, h, CRYPTO_HASH_LEN);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		return -1;
	}
	r->more = !r->broken && rows == STORE_SEAL_BATCH;
	return 0;
}

/* The row seq's stored hash, into hash. 0, or -1. */
static int store_row_hash(struct store_tx *tx, int64_t seq, unsigned char hash[CRYPTO_HASH_LEN])
{
	sqlite3_stmt *s = store_q(tx, Q_AUDIT_FROM);
	int ok;

	sqlite3_bind_int64(s, 1, seq - 1);
	sqlite3_bind_int(s, 2, 1);
	ok = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) == seq &&
	     sqlite3_column_bytes(s, 3) == CRYPTO_HASH_LEN;
	if (ok)
		memcpy(hash, sqlite3_column_blob(s, 3), CRYPTO_HASH_LEN);
	sqlite3_reset(s);
	return ok ? 0 : -1;
}

int store_audit_seal(struct store_tx *tx)
{
	struct store *st = tx->st;
	struct store_chain_head *h = &st->head;
	struct store_seal_run *r;
	unsigned char hm[1 + 8 + CRYPTO_HASH_LEN], hh[CRYPTO_HASH_LEN], tag[CRYPTO_HASH_LEN];
	struct store_mac_msg m = {hm, sizeof(hm), tag};
	int rc = -1, any = 0;

	if (st->mac == NULL || store_audit_head(tx) != 0 || (r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	if (store_head_read(tx, &r->last, hh, tag) != 0 ||
	    (r->last > 0 && store_row_hash(tx, r->last, r->prev) != 0)) {
		/* A damaged head: seal nothing old; verify reports it. */
		log_warn(
		    "store: audit head record does not match the log; old entries left unsealed");
		free(r);
		return 0;
	}
	do {
		if (store_seal_read(tx, r) != 0)
			goto done;
		for (int i = 0; i < r->n; i++) {
			sqlite3_stmt *s = store_q(tx, Q_AUDIT_SEAL);
			sqlite3_bind_int64(s, 1, r->seqs[i]);
			sqlite3_bind_blob(s, 2, r->macs[i], CRYPTO_HASH_LEN, SQLITE_STATIC);
			if (store_step_done(tx, s) != 0)
				goto done;
			any = 1;
		}
	} while (r->more);
	if (r->broken)
		log_warn(
		    "store: the audit chain breaks after seq %lld; later entries left unsealed",
		    (long long)r->last);
	if (any) {
		store_head_msg(hm, r->last, r->prev);
		if (st->mac(st->mac_ctx, &m, 1) != 0)
			goto done;
		h->dirty = 1;
		h->tag_seq = r->last;
		memcpy(h->tag_hash, r->prev, CRYPTO_HASH_LEN);
		memcpy(h->tag, tag, CRYPTO_HASH_LEN);
	}
	rc = 0;
done:
	free(r);
	return rc;
}

int store_audit_list(struct store_tx *tx, const unsigned char *secret_id, int64_t after, int limit,
		     store_audit_fn fn, void *ctx)
{
	sqlite3_stmt *s;
	int rc;

	if (after >= 0) {
		s = store_q(tx, Q_AUDIT_AFTER);
		sqlite3_bind_int64(s, 1, after);
		sqlite3_bind_int(s, 2, limit);
	} else if (secret_id != NULL) {
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

/* Checks one row's place in the chain (and its MAC, when keyed); sets
 * c->problem on the first failure. */
static void store_verify_row(struct store_tx *tx, struct store_audit_check *c,
			     const struct store_row *row, unsigned char prev[CRYPTO_HASH_LEN])
{
	unsigned char h[CRYPTO_HASH_LEN], em[STORE_MAC_MSG_MAX], mac[CRYPTO_HASH_LEN];
	struct store_mac_msg m = {em, 0, mac};

	if (row->seq != c->entries + 1)
		c->problem = "sequence";
	else if (!store_row_chains(row, c->entries + 1, prev, h))
		c->problem = "hash";
	else if (c->keyed && row->mac == NULL && row->seq <= c->sealed_through)
		c->problem = "unsealed";
	else if (c->keyed && row->mac != NULL) {
		m.len = store_entry_msg(em, row->seq, row->id, h);
		if (tx->st->mac(tx->st->mac_ctx, &m, 1) != 0)
			c->keyed = 0; /* locked meanwhile: report as unkeyed */
		else if (!crypto_equal(mac, row->mac, CRYPTO_HASH_LEN))
			c->problem = "mac";
		else if (row->seq > c->sealed_through)
			c->problem = "head"; /* sealed past the head record: it was replaced */
	}
	if (c->problem != NULL) {
		c->bad_seq = row->seq;
		return;
	}
	memcpy(prev, h, CRYPTO_HASH_LEN);
	c->entries++;
}

/* After the walk: the head record must name an entry that is there, with
 * the hash it has, under a valid tag (when keyed). */
static void store_verify_head(struct store_tx *tx, struct store_audit_check *c,
			      const unsigned char at_head[CRYPTO_HASH_LEN],
			      const unsigned char hh[CRYPTO_HASH_LEN],
			      const unsigned char tag[CRYPTO_HASH_LEN])
{
	unsigned char hm[1 + 8 + CRYPTO_HASH_LEN], t[CRYPTO_HASH_LEN];
	struct store_mac_msg m = {hm, sizeof(hm), t};

	if (c->problem != NULL || c->sealed_through == 0)
		return;
	if (c->entries < c->sealed_through) {
		c->problem = "truncated";
		c->bad_seq = c->entries + 1;
		return;
	}
	store_head_msg(hm, c->sealed_through, hh);
	if (!crypto_equal(at_head, hh, CRYPTO_HASH_LEN) ||
	    (c->keyed && (tx->st->mac(tx->st->mac_ctx, &m, 1) != 0 ||
			  !crypto_equal(t, tag, CRYPTO_HASH_LEN)))) {
		c->problem = "head";
		c->bad_seq = c->sealed_through;
	}
}

int store_audit_verify(struct store_tx *tx, struct store_audit_check *c)
{
	unsigned char prev[CRYPTO_HASH_LEN] = {0}, at_head[CRYPTO_HASH_LEN] = {0};
	unsigned char hh[CRYPTO_HASH_LEN], tag[CRYPTO_HASH_LEN], none[1] = {0};
	struct store_mac_msg probe = {none, 0, tag};
	sqlite3_stmt *s;
	struct store_row row;
	int rc = SQLITE_DONE, hr;

	memset(c, 0, sizeof(*c));
	/* Keyed if the MAC function answers now. */
	c->keyed = tx->st->mac != NULL && tx->st->mac(tx->st->mac_ctx, &probe, 1) == 0;
	if ((hr = store_head_read(tx, &c->sealed_through, hh, tag)) < 0)
		return -1;
	if (hr > 0) {
		c->problem = "head";
		c->sealed_through = 0;
	}
	s = store_q(tx, Q_AUDIT_FROM);
	sqlite3_bind_int64(s, 1, 0);
	sqlite3_bind_int(s, 2, -1);
	while (c->problem == NULL && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (store_row_get(s, &row) != 0) {
			c->problem = "hash";
			c->bad_seq = sqlite3_column_int64(s, 0);
			break;
		}
		store_verify_row(tx, c, &row, prev);
		if (c->problem == NULL && row.seq == c->sealed_through)
			memcpy(at_head, prev, CRYPTO_HASH_LEN);
	}
	sqlite3_reset(s);
	if (c->problem == NULL && rc != SQLITE_DONE) {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		return -1;
	}
	store_verify_head(tx, c, at_head, hh, tag);
	c->head_seq = c->entries;
	memcpy(c->head, prev, CRYPTO_HASH_LEN);
	return c->problem != NULL;
}
