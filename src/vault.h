/* vault.h: the vault's state machine and every operation on secrets, tokens
 * and the audit log. It holds the keys (in the secure heap, only while a
 * session is open) and decides what is allowed; it never sees HTTP, and
 * answers in its own error kinds (vault_err.h). */
#ifndef GV_VAULT_H
#define GV_VAULT_H

#include <jansson.h>
#include <stddef.h>

#include "vault_err.h"

struct vault;
struct config;
struct cap; /* a verified capability token (token.h) */

/* Who is acting, for the audit log. */
struct vault_actor {
	const char *user_id; /* NULL: "system" */
	const char *ip;
};

/* Opens the store in cfg->data_dir, loads or creates the signing key and
 * starts the session timer. cfg must outlive the vault. NULL (with a log
 * line) on failure. */
struct vault *vault_new(const struct config *cfg);
/* Locks (wiping keys), stops the timer, closes the store. NULL is a no-op. */
void vault_free(struct vault *v);

/* Gives back memory a burst of requests grew (see store_trim). */
void vault_trim(struct vault *v);
int vault_is_initialized(struct vault *v);
/* Seconds left in the session, or 0 when locked. */
unsigned vault_session_left(struct vault *v);

enum vault_err vault_init(struct vault *v, const char *pw, size_t pwlen,
			  const struct vault_actor *who);

/* A threshold policy: any k of the n holders' shares unlock
 * (2 <= k <= n <= 16, distinct non-empty holders, checked by the caller). */
struct vault_threshold_req {
	unsigned k, n;
	const char *holders[16];
};
/* Creates the vault under a password (pw NULL: none) and/or a threshold
 * (t NULL: none); at least one. With t, *shares is [{userId, share}] (a new
 * reference, wipe-on-free; shown once, never stored). */
enum vault_err vault_init_policy(struct vault *v, const char *pw, size_t pwlen,
				 const struct vault_threshold_req *t, const struct vault_actor *who,
				 json_t **shares);
/* Re-wraps the open session's root key under a new policy (the password
 * and/or threshold given; what is not given is removed) in one durable
 * transaction; no record is touched. Old passwords and shares stop
 * working; pending shares are wiped. VAULT_LOCKED without a session. */
enum vault_err vault_rekey(struct vault *v, const char *pw, size_t pwlen,
			   const struct vault_threshold_req *t, const struct vault_actor *who,
			   json_t **shares);
/* Threshold unlock (vault_threshold.c). who->user_id is the holder. While
 * short of k: VAULT_OK, *unlocked 0, *out the progress. At the k-th:
 * VAULT_OK, *unlocked 1, *out the unlock answer; VAULT_BAD_SHARES if the
 * shares do not open the root key. VAULT_BAD_SHARE (*why set, static) for a
 * share refused without counting. *out is a new reference. */
enum vault_err vault_share_submit(struct vault *v, const char *text, size_t len,
				  const struct vault_actor *who, json_t **out, int *unlocked,
				  unsigned *retry_after, const char **why);
/* {unlocked, received, required, holders, expiresIn}; no share material. */
enum vault_err vault_shares_progress(struct vault *v, json_t **out);
/* Wipes the pending shares; *cancelled is how many there were. */
enum vault_err vault_shares_cancel(struct vault *v, const struct vault_actor *who,
				   long long *cancelled);
/* {password: bool, threshold: {required, holders} | null}; new reference. */
json_t *vault_policy_json(struct vault *v);
struct vault_defer;
/* Admits an unlock on the calling thread: every refusal is decided here
 * (VAULT_UNLOCK_LIMIT when the client's or the vault's failure budget is
 * spent, VAULT_KDF_BUSY when the queue is full or the turn would come too
 * late; both set *retry_after in seconds). On VAULT_OK *out (caller frees:
 * vault_defer_free) is submitted like a read: the unlock queue's thread
 * derives the key and opens the session, then done runs; its failure
 * (vault_defer_failure) is VAULT_BAD_PASSWORD for a wrong password. *wait
 * is set when the caller should run it with vault_unlock_wait instead: an
 * ocmt-v1 migration, whose refusal names what failed (vault_migrate_why). */
enum vault_err vault_unlock_prepare(struct vault *v, const char *pw, size_t pwlen,
				    const struct vault_actor *who, unsigned *retry_after, int *wait,
				    struct vault_defer **out);
/* Submits a prepared unlock and waits on this thread; *secret_count on
 * VAULT_OK, vault_migrate_why() set on VAULT_BAD_LEGACY. */
enum vault_err vault_unlock_wait(struct vault_defer *d, long long *secret_count);
/* Refuses new unlocks and answers queued ones without running them (at
 * shutdown, before the HTTP layer waits for parked requests). */
void vault_quiesce(struct vault *v);
/* vault_unlock_prepare then vault_unlock_wait. *retry_after is set
 * (seconds) with VAULT_UNLOCK_LIMIT and VAULT_KDF_BUSY. */
enum vault_err vault_unlock(struct vault *v, const char *pw, size_t pwlen,
			    const struct vault_actor *who, long long *secret_count,
			    unsigned *retry_after);
/* After VAULT_BAD_LEGACY on this thread: which entry or field of the
 * imported ocmt-v1 vault could not migrate (thread-local text). */
const char *vault_migrate_why(void);
enum vault_err vault_lock(struct vault *v, const struct vault_actor *who);
enum vault_err vault_extend(struct vault *v, unsigned *expires_in);

/* Failed management-token attempts (vault_authfail.c). The seconds an
 * address must wait before its next attempt (0: it may try now); a refusal
 * is audited, coalesced per address and window. */
unsigned vault_auth_blocked(struct vault *v, const char *ip);
/* Counts a wrong or missing x-auth-token from ip and audits it (coalesced:
 * one auth.failed entry per address and window, with a count). */
void vault_auth_failed(struct vault *v, const char *ip);

/* Capability tokens (vault_token.c). *out is a new reference. */
enum vault_err vault_token_issue(struct vault *v, const char *user_id, json_t *allowed,
				 json_t *perms, long long ttl_s, const struct vault_actor *who,
				 json_t **out);
/* Full check: signature, expiry, group, registry and revocation.
 * *cap is owned by the caller (token_cap_free). */
enum vault_err vault_token_check(struct vault *v, const char *tok, size_t len, struct cap **cap);
/* key: a token id, or the lowercase hex SHA-256 of the whole token (what
 * the original's management server sends). VAULT_NO_TOKEN when it
 * names no token; revoking a revoked token again succeeds. Works locked. */
enum vault_err vault_token_revoke(struct vault *v, const char *key, const struct vault_actor *who);
enum vault_err vault_token_revoke_user(struct vault *v, const char *user_id,
				       const struct vault_actor *who, long long *count);
/* The registry in issue order: {tokens:[{id, userId, issuedAt, expiresAt,
 * revokedAt?, revokedBy?, allowedSecrets?, permissions?, issuedBy?,
 * integrity?}], next, locked}. Never a token string. While locked the
 * scopes stay sealed (left out) and rows are not MAC-checked. user NULL:
 * all users; without include_revoked only live (unrevoked, unexpired)
 * tokens; after: a previous answer's next (0: from the start). */
enum vault_err vault_token_list(struct vault *v, const char *user, int include_revoked,
				long long after, int limit, json_t **out);

/* Secrets (vault_secret.c); the cap has been checked by vault_token_check. */

/* A read or write whose answer is held back until its commit (vault_defer.c). */
struct vault_defer;
/* Prepares a read: on VAULT_OK *out (caller frees: vault_defer_free) holds
 * the answer and its audit entry. */
enum vault_err vault_secret_get(struct vault *v, const struct cap *cap, const char *name,
				size_t len, const char *ip, struct vault_defer **out);
/* Prepares a write; the committer performs it when submitted, and the
 * answer ({success, created}) is known once it is durable. */
enum vault_err vault_secret_put(struct vault *v, const struct cap *cap, const char *name,
				size_t len, json_t *value, json_t *metadata, const char *ip,
				struct vault_defer **out);
enum vault_err vault_secret_delete(struct vault *v, const struct cap *cap, const char *name,
				   size_t len, const char *ip);
/* One page of the names in the token's scope, in blind-index order: at
 * most limit keys whose id sorts after `after` (VAULT_ID_LEN bytes, or NULL
 * for the first page). *out is {keys, next?}: next (the hex id of the last
 * key) only when more keys in scope follow. */
#define VAULT_ID_LEN 32
enum vault_err vault_secret_list(struct vault *v, const struct cap *cap, const char *ip,
				 const unsigned char *after, size_t limit, json_t **out);

/* Hands the work to the store's committer; done(ctx, 0) runs (on the
 * committer thread) once it is durable, done(ctx, -1) if it failed.
 * Returns -1 if it could not be queued (done is then not called). */
int vault_defer_submit(struct vault_defer *r, void (*done)(void *ctx, int rc), void *ctx);
/* The same, waiting: VAULT_OK once durable, else vault_defer_failure(r). */
enum vault_err vault_defer_wait(struct vault_defer *r);
/* The error to answer when the commit failed (VAULT_AUDIT_FAILED for a read,
 * VAULT_STORE_FAILED for a write). */
enum vault_err vault_defer_failure(const struct vault_defer *r);
/* The answer's JSON text, *len bytes plus a NUL, in a wipe-on-free buffer
 * the caller owns (crypto_wipe_free); NULL if out of memory. Only after a
 * successful commit. */
char *vault_defer_take(struct vault_defer *r, size_t *len);
/* Wipes and frees a prepared request; NULL is a no-op. */
void vault_defer_free(struct vault_defer *r);

/* Audit (vault_audit.c). *out is a new reference. */
/* name NULL: the whole log. after < 0: newest first; after >= 0: entries
 * with seq > after, oldest first, with "next" (the cursor to pass next). */
enum vault_err vault_audit_list(struct vault *v, const char *name, size_t len, int64_t after,
				int limit, json_t **out);
enum vault_err vault_audit_verify(struct vault *v, json_t **out);

/* GET /export of our own format as a stream (vault_stream.c): the same
 * bytes as vault_export's document serialised compact, in bounded memory.
 * Audited (durably) by open, before any byte; the rows come from one read
 * snapshot taken then. read: up to max bytes into out, 0 at the end, -1 on
 * a fault. The caller frees the stream (vault_stream_free(NULL) is a no-op). */
struct vault_stream;
enum vault_err vault_stream_open(struct vault *v, const struct vault_actor *who,
				 struct vault_stream **out);
long vault_stream_read(struct vault_stream *s, char *out, size_t max);
void vault_stream_free(struct vault_stream *s);

/* Export (own format, or "ocmt-v1" when legacy is set) and import
 * (vault_export.c, vault_ocmt.c). *out is a new reference. */
enum vault_err vault_export(struct vault *v, int legacy, const struct vault_actor *who,
			    json_t **out);
/* *why (static text) is set with VAULT_BAD_IMPORT / VAULT_BAD_KDF. */
enum vault_err vault_import(struct vault *v, json_t *doc, const struct vault_actor *who,
			    const char **why);

/* Validates an export document (either format) without importing it:
 * VAULT_OK, or VAULT_BAD_IMPORT / VAULT_BAD_KDF with *why set. */
enum vault_err vault_import_check(json_t *doc, const char **why);

#endif
