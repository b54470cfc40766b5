/* store_token.c: the token registry's rows: issue, lookup by id or token
 * hash, revocation (marked pending until the vault re-MACs it), listing.
 * It stores what the vault hands it and never judges a row's MAC. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"

int store_token_put(struct store_tx *tx, const struct store_token *t)
{
	sqlite3_stmt *s = store_q(tx, Q_TOKEN_PUT);

	sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, t->user_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, t->issued_at);
	sqlite3_bind_int64(s, 4, t->expires_at);
	sqlite3_bind_blob64(s, 5, t->scope, t->scope_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 6, t->digest, 32, SQLITE_STATIC);
	sqlite3_bind_blob(s, 7, t->token_hash, 32, SQLITE_STATIC);
	sqlite3_bind_blob(s, 8, t->mac, 32, SQLITE_STATIC);
	return store_step_done(tx, s);
}

/* A text column into buf (cap bytes, NUL included); -1 if it does not fit. */
static int store_token_text(sqlite3_stmt *s, int col, char *buf, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	int n = sqlite3_column_bytes(s, col);

	buf[0] = '\0';
	if (t == NULL)
		return 0;
	if (n < 0 || (size_t)n >= cap || memchr(t, '\0', (size_t)n) != NULL)
		return -1;
	memcpy(buf, t, (size_t)n + 1);
	return 0;
}

/* A 32-byte blob column into out; 1 if set, 0 if NULL or another size. */
static int store_token_blob32(sqlite3_stmt *s, int col, unsigned char out[32])
{
	memset(out, 0, 32);
	if (sqlite3_column_bytes(s, col) != 32)
		return 0;
	memcpy(out, sqlite3_column_blob(s, col), 32);
	return 1;
}

/* The current row of a STORE_TOKEN_COLS statement. A row whose text does
 * not fit the struct is malformed (-1); the MAC check catches the rest. */
static int store_token_row_read(sqlite3_stmt *s, struct store_token_row *r)
{
	memset(r, 0, sizeof(*r));
	r->seq = sqlite3_column_int64(s, 0);
	if (store_token_text(s, 1, r->id, sizeof(r->id)) != 0 ||
	    store_token_text(s, 2, r->user_id, sizeof(r->user_id)) != 0 ||
	    store_token_text(s, 6, r->revoked_by, sizeof(r->revoked_by)) != 0) {
		log_err("store: malformed token row");
		return -1;
	}
	r->issued_at = sqlite3_column_int64(s, 3);
	r->expires_at = sqlite3_column_int64(s, 4);
	r->revoked = sqlite3_column_type(s, 5) != SQLITE_NULL;
	r->revoked_at = sqlite3_column_int64(s, 5);
	r->pending = sqlite3_column_int(s, 7) != 0;
	r->scope = sqlite3_column_blob(s, 8);
	r->scope_len = (size_t)sqlite3_column_bytes(s, 8);
	store_token_blob32(s, 9, r->digest);
	r->has_hash = store_token_blob32(s, 10, r->token_hash);
	r->has_mac = store_token_blob32(s, 11, r->mac);
	return 0;
}

/* Steps s, calling fn for each row until fn returns non-zero (kept in
 * *fnrc); *rows counts the rows handed out. 0, or -1 on a store error. */
static int store_token_walk(struct store_tx *tx, sqlite3_stmt *s, store_token_fn fn, void *ctx,
			    int *rows, int *fnrc)
{
	struct store_token_row r;
	int rc;

	*fnrc = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (store_token_row_read(s, &r) != 0) {
			sqlite3_reset(s);
			return -1;
		}
		(*rows)++;
		*fnrc = fn(ctx, &r);
		if (*fnrc != 0) {
			sqlite3_reset(s);
			return 0;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		log_err("store: %s", sqlite3_errmsg(tx->db));
		return -1;
	}
	return 0;
}

int store_token_get(struct store_tx *tx, const char *id, const unsigned char *hash,
		    store_token_fn fn, void *ctx, int *fnrc)
{
	sqlite3_stmt *s = store_q(tx, id != NULL ? Q_TOKEN_GET : Q_TOKEN_GET_HASH);
	int rows = 0;

	if (id != NULL)
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	else
		sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
	if (store_token_walk(tx, s, fn, ctx, &rows, fnrc) != 0)
		return -1;
	return rows > 0 ? 0 : 1;
}

static int64_t store_token_changes(struct store_tx *tx, sqlite3_stmt *s)
{
	if (store_step_done(tx, s) != 0)
		return -1;
	return sqlite3_changes64(tx->db);
}

int64_t store_token_revoke(struct store_tx *tx, const char *id, int64_t at, const char *by)
{
	sqlite3_stmt *s = store_q(tx, Q_TOKEN_REVOKE);

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, at);
	sqlite3_bind_text(s, 3, by, -1, SQLITE_STATIC);
	return store_token_changes(tx, s);
}

int64_t store_token_revoke_user(struct store_tx *tx, const char *user_id, int64_t at,
				const char *by)
{
	sqlite3_stmt *s = store_q(tx, Q_TOKEN_REVOKE_USER);

	sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, at);
	sqlite3_bind_text(s, 3, by, -1, SQLITE_STATIC);
	return store_token_changes(tx, s);
}

int store_token_seal(struct store_tx *tx, const char *id, const unsigned char mac[32])
{
	sqlite3_stmt *s = store_q(tx, Q_TOKEN_SEAL);

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, mac, 32, SQLITE_STATIC);
	return store_step_done(tx, s);
}

int store_token_each_pending(struct store_tx *tx, store_token_fn fn, void *ctx)
{
	int rows = 0, fnrc;

	if (store_token_walk(tx, store_q(tx, Q_TOKEN_PENDING), fn, ctx, &rows, &fnrc) != 0)
		return -1;
	return fnrc;
}

int store_token_list(struct store_tx *tx, const char *user_id, int include_revoked, int64_t now,
		     int64_t after, int limit, store_token_fn fn, void *ctx)
{
	sqlite3_stmt *s = store_q(tx, Q_TOKEN_LIST);
	int rows = 0, fnrc;

	if (user_id != NULL)
		sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, include_revoked != 0);
	sqlite3_bind_int64(s, 3, after);
	sqlite3_bind_int(s, 4, limit);
	sqlite3_bind_int64(s, 5, now);
	if (store_token_walk(tx, s, fn, ctx, &rows, &fnrc) != 0)
		return -1;
	return fnrc;
}

int64_t store_token_count_since(struct store_tx *tx, const char *user_id, int64_t since)
{
	sqlite3_stmt *s = store_q(tx, Q_TOKEN_COUNT);

	sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, since);
	return store_scalar(tx, s);
}

int64_t store_token_purge(struct store_tx *tx, int64_t now)
{
	sqlite3_stmt *s = store_q(tx, Q_TOKEN_PURGE);

	sqlite3_bind_int64(s, 1, now);
	return store_token_changes(tx, s);
}
