/* store.h: the durable store, SQLite 3 in WAL mode with synchronous=FULL.
 * It stores only opaque sealed blobs, blind indexes and non-secret
 * bookkeeping; it never sees a key, a name or a value in the clear.
 * Every call except open/close runs inside store_tx_begin/commit. */
#ifndef GV_STORE_H
#define GV_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "limit.h"

#define STORE_ID_LEN 32
#define STORE_SCHEMA_VERSION 5

struct store;
struct store_tx; /* a transaction on one connection */

/* Opens (creating if needed) DIR/vault.db. Returns NULL with a log line. */
struct store *store_open(const char *dir);
void store_close(struct store *st);
/* After a quiet spell: closes all idle read connections but one and frees
 * the page caches of the rest (memory a burst grew). Safe at any time. */
void store_trim(struct store *st);

/* Read transactions (write=0) run on a pool of connections, in parallel.
 * Write transactions run one at a time on the writer connection, each in a
 * savepoint of a shared transaction: group commit. store_tx_commit returns
 * 0 only once that shared transaction is durable (one fsync for the whole
 * batch); a rolled-back writer leaves the others' work intact. NULL from
 * begin: the store is unusable (logged). */
struct store_tx *store_tx_begin(struct store *st, int write);
/* A read transaction on a connection of its own, outside the readers'
 * pool, for a snapshot held as long as a client takes to read it (a
 * streamed export), so a slow client never holds a pooled reader. Ended
 * (and its connection closed) by store_tx_commit or store_tx_rollback. */
struct store_tx *store_tx_begin_own(struct store *st);
int store_tx_commit(struct store_tx *tx);
void store_tx_rollback(struct store_tx *tx);

/* Lookups return 0 found, 1 absent, -1 error. Returned buffers are malloc'd;
 * the caller frees them. */
int store_meta_get(struct store_tx *tx, const char *name, unsigned char **val, size_t *len);
int store_meta_put(struct store_tx *tx, const char *name, const void *val, size_t len);
int store_meta_del(struct store_tx *tx, const char *name);

int store_secret_get(struct store_tx *tx, const unsigned char id[STORE_ID_LEN], int64_t *version,
		     unsigned char **rec, size_t *len);
int store_secret_put(struct store_tx *tx, const unsigned char id[STORE_ID_LEN], int64_t version,
		     const void *rec, size_t len);
/* 0 deleted (its version in *version unless NULL), 1 absent, -1 error. */
int store_secret_del(struct store_tx *tx, const unsigned char id[STORE_ID_LEN], int64_t *version);
typedef int (*store_secret_fn)(void *ctx, const unsigned char id[STORE_ID_LEN], int64_t version,
			       const unsigned char *rec, size_t len);
/* Calls fn for every row; stops early (returning fn's value) if fn is non-zero. */
int store_secret_each(struct store_tx *tx, store_secret_fn fn, void *ctx);
/* The same over the rows whose id sorts after `after` (memcmp order;
 * NULL: from the first), in id order: a cursor that stays exact while
 * rows are written, since a row's id never changes. */
int store_secret_from(struct store_tx *tx, const unsigned char *after, store_secret_fn fn,
		      void *ctx);
int64_t store_secret_count(struct store_tx *tx);
/* Calls fn with every row's id and version (no record is read); stops
 * early as store_secret_each does. */
typedef int (*store_version_fn)(void *ctx, const unsigned char id[STORE_ID_LEN], int64_t version);
int store_secret_versions(struct store_tx *tx, store_version_fn fn, void *ctx);

/* The token registry (store_token.c). A row as written at issue. */
struct store_token {
	const char *id;
	const char *user_id;
	int64_t issued_at;  /* ms */
	int64_t expires_at; /* ms */
	const void *scope;  /* sealed */
	size_t scope_len;
	const unsigned char *digest;	 /* SHA-256 of the token's payload part */
	const unsigned char *token_hash; /* SHA-256 of the whole token */
	const unsigned char *mac;	 /* the row's MAC (vault_registry.c) */
};
/* A row as read back. has_* say whether the optional columns were set. */
struct store_token_row {
	int64_t seq; /* a cursor for listing (rowid) */
	char id[LIMIT_TOKEN_ID_MAX + 1];
	char user_id[LIMIT_NAME_MAX + 1];
	char revoked_by[LIMIT_NAME_MAX + 1];
	int64_t issued_at, expires_at, revoked_at;
	int revoked, pending, has_hash, has_mac;
	const unsigned char *scope; /* valid only during the call that hands it out */
	size_t scope_len;
	unsigned char digest[32], token_hash[32], mac[32];
};
typedef int (*store_token_fn)(void *ctx, const struct store_token_row *r);

int store_token_put(struct store_tx *tx, const struct store_token *t);
/* By id, or by token hash when id is NULL: 0 found (fn called once with the
 * row, its value put in *fnrc), 1 absent, -1 error. */
int store_token_get(struct store_tx *tx, const char *id, const unsigned char *hash,
		    store_token_fn fn, void *ctx, int *fnrc);
/* Marks unrevoked rows revoked (pending: awaiting the revoked MAC). Return
 * the number of rows changed, or -1. */
int64_t store_token_revoke(struct store_tx *tx, const char *id, int64_t at, const char *by);
int64_t store_token_revoke_user(struct store_tx *tx, const char *user_id, int64_t at,
				const char *by);
/* Sets a row's MAC and clears its pending flag. 0 or -1. */
int store_token_seal(struct store_tx *tx, const char *id, const unsigned char mac[32]);
/* Calls fn for every pending row; -1 on a store error, else 0 or the
 * non-zero value of fn that stopped the walk (also for store_token_list). */
int store_token_each_pending(struct store_tx *tx, store_token_fn fn, void *ctx);
/* Rows after cursor `after` (0: from the start) in issue order, at most
 * limit, of one user (NULL: all); revoked and expired (at now) ones only
 * with include_revoked. */
int store_token_list(struct store_tx *tx, const char *user_id, int include_revoked, int64_t now,
		     int64_t after, int limit, store_token_fn fn, void *ctx);
int64_t store_token_count_since(struct store_tx *tx, const char *user_id, int64_t since);
int64_t store_token_purge(struct store_tx *tx, int64_t now);

/* The audit log is a hash chain with keyed seals. Each entry's chain hash
 * is SHA-256(prev hash | seq | secret_id | entry); while a MAC function is
 * set and answers, each entry also gets mac = MAC('E' | seq | secret_id |
 * hash), and each batch that sealed entries writes a keyed head record
 * MAC('H' | seq | hash) of the last sealed entry to meta ("audit_head"), so
 * cutting sealed entries off the tail is caught. The MAC function belongs to
 * the caller (the store never holds the key); it must not block on the
 * store. */
struct store_mac_msg {
	const void *msg;
	size_t len;
	unsigned char *out; /* 32 bytes */
};
/* MACs n messages under one key (all or none): 0, or -1 when locked. */
typedef int (*store_mac_fn)(void *ctx, const struct store_mac_msg *m, int n);
void store_audit_set_mac(struct store *st, store_mac_fn fn, void *ctx);
/* After each batch commits, and before anyone in it is answered, every
 * entry it added is passed to fn (in seq order), then fn(ctx, 0, NULL, 0)
 * to make them durable. A failing sink is logged, never fatal: the table
 * is the record (and GET /audit?after= fills any gap). */
typedef int (*store_sink_fn)(void *ctx, int64_t seq, const char *entry, size_t len);
void store_audit_set_sink(struct store *st, store_sink_fn fn, void *ctx);
/* Appends one entry (sealed if the MAC function answers). */
int store_audit_append(struct store_tx *tx, const char *entry, size_t len,
		       const unsigned char *secret_id);
/* In a write transaction: seals every unsealed entry after the last
 * sealed one whose chain still holds (an entry that breaks the chain and
 * those after it stay unsealed, for verify to report). 0, or -1 on a store
 * or MAC failure. */
int store_audit_seal(struct store_tx *tx);
typedef int (*store_audit_fn)(void *ctx, int64_t seq, const char *entry, size_t len);
/* Queues an entry for the committer thread, which appends it in the next
 * batch and, once that batch is durable (or has failed), calls
 * done(ctx, 0 or -1) from its own thread. The entry is copied. Returns -1
 * (without calling done) if it cannot be queued. */
typedef void (*store_done_fn)(void *ctx, int rc);
int store_audit_async(struct store *st, const char *entry, size_t len,
		      const unsigned char *secret_id, store_done_fn done, void *ctx);
/* Queues fn(tx, arg) for the committer thread, which runs it in its own
 * savepoint of the next batch (non-zero undoes it alone) and then calls
 * done(ctx, rc) as above. Returns -1 (without calling done) if not queued. */
typedef int (*store_job_fn)(struct store_tx *tx, void *arg);
int store_write_async(struct store *st, store_job_fn fn, void *arg, store_done_fn done, void *ctx);

/* after < 0: newest first (secret_id NULL lists all). after >= 0: every
 * entry with seq > after, oldest first (secret_id ignored). */
int store_audit_list(struct store_tx *tx, const unsigned char *secret_id, int64_t after, int limit,
		     store_audit_fn fn, void *ctx);

/* What store_audit_verify found. problem names the first failure:
 * "sequence", "hash", "mac", "unsealed", "truncated", "head". */
struct store_audit_check {
	int64_t entries;
	int64_t head_seq;	/* last entry */
	unsigned char head[32]; /* its chain hash (zeros for an empty log) */
	int64_t sealed_through; /* from the head record (checked if keyed) */
	int keyed;		/* MACs were checked */
	int64_t bad_seq;	/* first failing seq, when broken */
	const char *problem;	/* static text, when broken */
};
/* Walks the chain from the start, checking MACs if the MAC function
 * answers: 0 valid, 1 broken, -1 error. */
int store_audit_verify(struct store_tx *tx, struct store_audit_check *c);

#endif
