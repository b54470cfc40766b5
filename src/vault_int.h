/* vault_int.h: what the vault_*.c files share and nothing outside them may
 * include: struct vault, the session keys, audit events, the row-cache
 * helpers and the format helpers. Callers use vault.h. */
#ifndef GV_VAULT_INT_H
#define GV_VAULT_INT_H

#include <pthread.h>
#include <stdint.h>

#include "config.h"
#include "crypto.h"
#include "limit.h"
#include "store.h"
#include "vault.h"

#define VAULT_ROOT_AAD "groupvault/root/v1"
#define VAULT_TOKEN_AAD "groupvault/token/v1"
#define VAULT_AUDIT_AAD "groupvault/audit-name/v1"
#define VAULT_FORMAT "groupvault"
#define VAULT_FORMAT_VERSION 2
#define VAULT_V1_FORMAT "ocmt-group-vault"
#define VAULT_RL_SLOTS 4096
#define VAULT_TOKEN_CACHE 1024
#define VAULT_ROW_CACHE 256
#define VAULT_SEAL_SLOTS 64
/* base64 of a sealed name, NUL included */
#define VAULT_SEALED_B64 (4 * ((LIMIT_NAME_MAX + CRYPTO_SEAL_OVERHEAD + 2) / 3) + 1)
/* a wrapped root key as stored */
#define VAULT_WRAPPED_LEN (CRYPTO_KEY_LEN + CRYPTO_SEAL_OVERHEAD)

/* The key hierarchy of an open session (secure heap):
 * password -Argon2id-> kek -unwrap-> root -HMAC-> data, index, audit, mac
 * (the audit chain), registry (the token registry rows' MACs, vault_registry.c),
 * manifest (the secrets table's manifest, vault_manifest.c). */
struct vault_keys {
	unsigned char kek[CRYPTO_KEY_LEN];
	unsigned char root[CRYPTO_KEY_LEN];
	unsigned char data[CRYPTO_KEY_LEN];
	unsigned char index[CRYPTO_KEY_LEN];
	unsigned char audit[CRYPTO_KEY_LEN];
	unsigned char mac[CRYPTO_KEY_LEN]; /* seals the audit chain */
	unsigned char registry[CRYPTO_KEY_LEN];
	unsigned char manifest[CRYPTO_KEY_LEN];
	/* The three HMAC keys of every audited read, made ready once per
	 * session (crypto_mac_key): as secret as the keys, in the same locked
	 * block, wiped with it. */
	struct crypto_mac_key index_mk, mac_mk, registry_mk;
	int by_shares; /* kek is not a password's (opened by shares): no ocmt-v1 export */
};

struct vault_seal {
	unsigned char id[CRYPTO_HASH_LEN];
	char b64[VAULT_SEALED_B64];
	int used;
};

struct vault {
	const struct config *cfg;
	struct store *st;
	pthread_rwlock_t rw; /* guards keys, expires, initialized */
	struct vault_keys *keys;
	int64_t expires; /* monotonic ms */
	int initialized;
	pthread_mutex_t kdf_mu;	      /* one Argon2id derivation at a time */
	unsigned char *sign_key;      /* CRYPTO_HASH_LEN bytes, secure heap */
	struct regcache *tokens;      /* registry cache for token checks */
	struct token_cache *verified; /* tokens whose MAC and shape passed */
	struct rowcache *rows;	      /* sealed rows recently read (vault_row.c) */
	pthread_t timer;
	pthread_mutex_t tmu;
	pthread_cond_t tcv;
	int stopping;
	pthread_mutex_t seal_mu;
	struct vault_seal seals[VAULT_SEAL_SLOTS]; /* sealed names (vault_audit.c) */
	/* The keys whose mac key seals the audit chain, read by the store's
	 * committer through vault_audit_mac; only mac_mu guards it, never rw
	 * (the committer must not wait for rw). */
	pthread_mutex_t mac_mu;
	const struct vault_keys *mac_keys;
	struct vault_deny *deny; /* coalesced denials (vault_deny.c) */
	struct audit_sink *sink; /* AUDIT_SINK, or NULL */

	/* the unlock queue and its limits (vault_unlock.c) */
	struct vault_unlockq *unlockq;
	/* bad AUTH_TOKENs per address (vault_authfail.c) */
	struct ratelimit *auth_rl;
	/* shares received toward a threshold unlock (vault_threshold.c) */
	struct vault_shares *shares;
};

/* ---- vault.c: session and keys ---- */

/* "system" when no user acts. */
const char *vault_actor_user(const struct vault_actor *who);
/* Caller holds v->rw (read or write). The keys if the session is live. */
struct vault_keys *vault_keys_live(struct vault *v);
/* Derives the data, index, audit and registry keys from k->root. 0 or -1. */
int vault_keys_derive(struct vault_keys *k);
/* A name's blind index under the index key. 0, or -1 (logged): the caller
 * must fail, never go on with the unset id. */
int vault_blind_index(const struct vault_keys *k, const char *name, size_t len,
		      unsigned char id[CRYPTO_HASH_LEN]);
/* Runs Argon2id into out (CRYPTO_KEY_LEN) unless another derivation runs. */
enum vault_err vault_kdf_run(struct vault *v, const struct crypto_kdf *kdf,
			     const unsigned char *salt, const char *pw, size_t pwlen,
			     unsigned char *out);
/* The stored "kdf" object for kdf and salt; a new reference or NULL. */
json_t *vault_kdf_json(const struct crypto_kdf *kdf, const unsigned char *salt);
/* Reads and bounds-checks a kdf object. 0, -1 if malformed, -2 if
 * well-formed but outside the accepted bounds. */
int vault_kdf_parse(json_t *o, struct crypto_kdf *kdf, unsigned char *salt);
/* The vault's stored kdf parameters. 0 or -1. */
int vault_kdf_load(struct store_tx *tx, struct crypto_kdf *kdf, unsigned char *salt);

/* The unlock itself (on the unlock queue's thread): derives the KEK,
 * waiting for an init's derivation if one runs, opens the root key (or
 * migrates an ocmt-v1 vault), audits the outcome and opens the session.
 * No rate limit here: the queue applies them (vault_unlock.c). */
enum vault_err vault_unlock_run(struct vault *v, const char *pw, size_t pwlen,
				const struct vault_actor *who, long long *secret_count);
/* Whether the store holds an ocmt-v1 document waiting to be migrated. */
int vault_unlock_pending_legacy(struct vault *v);

/* Opens the session with root (opened from the threshold policy whose set
 * id is set; refused as VAULT_BAD_SHARES if a rekey replaced it since),
 * running the same commit as a password unlock: registry sealing, the
 * manifest check, audit sealing and the vault.unlocked entry. */
enum vault_err vault_unlock_opened(struct vault *v, const unsigned char *root,
				   const unsigned char *set, const struct vault_actor *who,
				   long long *secret_count);

/* ---- vault_unlock.c: the unlock queue ---- */

/* The unlock limits, for share unlocks: seconds until who may try again
 * (0: now), and a failed attempt spent from who's and the vault's budgets. */
unsigned vault_unlock_blocked(struct vault *v, const struct vault_actor *who);
void vault_unlock_failed(struct vault *v, const struct vault_actor *who);

struct vault_unlock_job;
/* Sets up v->unlockq and starts its thread. 0 or -1 (v->unlockq may be
 * set: vault_unlockq_stop frees it). */
int vault_unlockq_start(struct vault *v);
/* Answers every queued unlock, stops the thread, frees v->unlockq. */
void vault_unlockq_stop(struct vault *v);
/* Queues an admitted job for the thread (vault_defer_submit). 0, or -1 if
 * it cannot be queued (done is then not called). */
int vault_unlock_submit(struct vault_unlock_job *j, void (*done)(void *ctx, int rc), void *ctx);
/* Frees a job whose done has run or that was never queued. */
void vault_unlock_release(struct vault_unlock_job *j);
/* A successful unlock's answer (wipe-on-free text), or NULL. */
char *vault_unlock_answer(const struct vault_unlock_job *j, size_t *len);
/* What a failed unlock answers. */
enum vault_err vault_unlock_failure(const struct vault_unlock_job *j);

/* ---- vault_threshold.c: threshold unlock ---- */

/* A stored threshold policy (k == 0: none). */
struct vault_policy {
	unsigned k, n;
	json_t *holders; /* n userIds (a reference) */
	unsigned char set[8];
	unsigned char wrapped[VAULT_WRAPPED_LEN];
};
struct vault_shares;
struct vault_shares *vault_shares_new(void);
void vault_shares_free(struct vault_shares *s);
/* Wipes progress whose window has passed (the session timer calls it). */
void vault_shares_tick(struct vault *v);
/* Wipes all progress (rekey). */
void vault_shares_wipe(struct vault *v);
/* Reads the stored policy into p (vault_policy_clear frees it). */
enum vault_err vault_policy_read(struct store_tx *tx, struct vault_policy *p);
void vault_policy_clear(struct vault_policy *p);
/* Whether o is a well-formed stored policy (an import's "threshold"). 0 or -1. */
int vault_policy_check(json_t *o);
/* Whether the stored policy's set id is set. */
int vault_policy_current(struct store_tx *tx, const unsigned char *set);
/* Opens p's wrapped root key with a combined share key. 0 or -1. */
int vault_policy_open(const struct vault_policy *p, const unsigned char *key, unsigned char *root);
/* A new share set for t: a random share key wrapping root, *text the
 * policy to store (crypto_wipe_free) and *shares [{userId, share}] (a new
 * reference, shown once). 0 or -1. */
int vault_threshold_make(const struct vault_threshold_req *t, const unsigned char *root,
			 char **text, json_t **shares);

/* ---- vault_signkey.c ---- */

/* Sets v->sign_key (secure heap) from cfg->signing_key or DATA_DIR/signing.key
 * (created when missing). 0 or -1 (logged). */
int vault_signkey_load(struct vault *v);

/* ---- vault_registry.c: the token registry's integrity ---- */

/* What a registry row says once its MAC is checked. */
enum vault_reg { VAULT_REG_VALID, VAULT_REG_REVOKED, VAULT_REG_TAMPERED };
/* A row's MAC under the registry key, as live (revoked 0) or revoked. */
int vault_registry_mac(const struct vault_keys *k, const struct store_token *t, int revoked,
		       unsigned char mac[CRYPTO_HASH_LEN]);
/* Judges a row read back; *why (static) says what failed when tampered. */
enum vault_reg vault_registry_judge(const struct vault_keys *k, const struct store_token_row *r,
				    const char **why);
/* Logs and audits a row that failed its check (tx NULL: its own
 * transaction). The token stays refused whatever this returns. */
void vault_registry_report(struct vault *v, struct store_tx *tx, const struct vault_keys *k,
			   const struct store_token_row *r, const char *why);
/* Re-MACs every pending revocation as revoked, in the caller's write
 * transaction (unlock, and each revocation while unlocked). 0 or -1. */
int vault_registry_seal(struct vault *v, struct store_tx *tx, const struct vault_keys *k);
/* Re-checks, under v->rw with the session's keys, that cap's registry row
 * is valid: secret operations call it so that a token checked while the
 * vault was locked is judged by its MAC before any secret is touched. */
enum vault_err vault_token_recheck(struct vault *v, const struct vault_keys *k,
				   const struct cap *cap);

/* ---- vault_audit.c ---- */

struct vault_audit_ev {
	const char *action;
	const char *user;
	const char *ip;
	const char *name; /* secret name or NULL */
	size_t namelen;
	const char *target_user;
	const char *error;
	int success;
	const unsigned char *name_id; /* the name's blind index if known, else NULL */
};

/* An entry's text (caller frees with free(); it holds no secret). With k,
 * a name is sealed under the audit key and its blind index written to id
 * (*has_id set); without (locked) the name is left out. NULL on failure. */
char *vault_audit_text(struct vault *v, const struct vault_keys *k, const struct vault_audit_ev *ev,
		       unsigned char id[CRYPTO_HASH_LEN], int *has_id);
/* Appends inside the caller's write transaction. 0 or -1. */
int vault_audit_append(struct vault *v, struct store_tx *tx, const struct vault_keys *k,
		       const struct vault_audit_ev *ev);
/* A stand-alone audited event in its own durable transaction. */
enum vault_err vault_audit_one(struct vault *v, const struct vault_keys *k,
			       const struct vault_audit_ev *ev);
/* Forgets the session's sealed names (their audit key is gone). */
void vault_audit_forget(struct vault *v);
/* Registers vault_audit_mac as the store's MAC function. */
void vault_audit_init(struct vault *v);
/* Makes k (or NULL: none) the keys that seal the audit chain. */
void vault_audit_use_keys(struct vault *v, const struct vault_keys *k);
/* vault_audit_text with a "count" field (count > 0). */
char *vault_audit_text_n(struct vault *v, const struct vault_keys *k,
			 const struct vault_audit_ev *ev, int64_t count,
			 unsigned char id[CRYPTO_HASH_LEN], int *has_id);

/* ---- vault_deny.c: coalesced denials and probes ---- */

/* Records a denied or not-found request by token tok_id. The first per
 * (token, action, error) in a window of cfg->audit_coalesce seconds is
 * written at once (count 1); repeats are counted and written as one entry
 * with their count when the window closes, at lock or at exit. */
enum vault_err vault_deny_audit(struct vault *v, const struct vault_keys *k,
				const struct vault_audit_ev *ev, const char *tok_id);
/* Writes the counts of closed windows (all of them if all). */
void vault_deny_flush(struct vault *v, int all);
struct vault_deny *vault_deny_new(void);
void vault_deny_free(struct vault_deny *d);

/* ---- vault_row.c: the row cache's coherence rule ---- */

/* A change to one secret row, run inside a write transaction: 0 done, >0 or
 * <0 undo (the value is returned to the caller / passed to done as-is). */
struct vault_row_write {
	unsigned char id[CRYPTO_HASH_LEN];
	store_job_fn job;
	void *arg;
	store_done_fn done; /* NULL: synchronous */
	void *ctx;
	struct vault *v; /* set by vault_row_write */
};
/* A row by blind index, from the cache or the store: 0 found (*rec malloc'd,
 * caller frees), 1 absent, -1 store error. */
int vault_row_read(struct vault *v, const unsigned char id[CRYPTO_HASH_LEN], int64_t *version,
		   unsigned char **rec, size_t *len);
/* Runs w->job on row w->id. With w->done NULL, in its own write transaction
 * on this thread: returns the job's non-zero value, -1 if the store failed,
 * 0 once durable. Otherwise queued for the committer (store_write_async):
 * -1 if not queued, and w->done(w->ctx, rc) runs after the batch. */
int vault_row_write(struct vault *v, struct vault_row_write *w);
/* Forgets every row (lock, import). */
void vault_row_clear(struct vault *v);

/* ---- vault_defer.c / vault_secret.c ---- */

/* Work whose answer waits for a commit: a read (its audit entry) or a
 * write (the record and its audit entry, written by the committer). */
struct vault_defer {
	struct vault *v;
	char *answer; /* a read's answer (wipe-on-free), held back until the entry is durable */
	size_t answer_len;
	char *entry; /* a read's entry; a write's "created" entry */
	int has_id;
	/* a write */
	int is_put;
	struct vault_row_write row; /* row.id is the blind index, for reads too */
	unsigned char *data_key;    /* a copy in the secure heap */
	unsigned char *man_key;	    /* the manifest key, likewise */
	json_t *rec;
	char *entry_updated;
	int created;
	struct vault_unlock_job *unlock; /* an unlock: run on the unlock queue */
};

/* Decrypts every row for a listing or the ocmt-v1 export. */
struct vault_list_ctx {
	const unsigned char *data_key; /* locked memory: the session's, or a copy of it */
	const struct cap *cap; /* NULL: everything (export) */
	json_t *out;	       /* keys array, or secrets object for ocmt-v1 */
	int v1;
	size_t limit; /* a page: at most this many keys (0: no bound) */
	size_t count; /* keys in out */
	unsigned char last[CRYPTO_HASH_LEN]; /* id of the last key in out */
};
/* store_secret_fn over a vault_list_ctx; 1 on a record that fails its
 * integrity check, 2 on a key in scope beyond a full page (stop: more). */
int vault_list_row(void *arg, const unsigned char *id, int64_t version, const unsigned char *rec,
		   size_t len);

/* ---- vault_manifest.c: the secrets table's keyed manifest ---- */

struct vault_manifest {
	unsigned char sum[CRYPTO_HASH_LEN]; /* big-endian, mod 2^256 */
	int64_t count;
};
/* HMAC(key, id | version as 8 bytes big-endian): one row's element. 0 or -1. */
int vault_manifest_elem(const unsigned char *key, const unsigned char id[CRYPTO_HASH_LEN],
			int64_t version, unsigned char out[CRYPTO_HASH_LEN]);
/* Adds (sub 0) or removes (sub 1) one element and counts it. */
void vault_manifest_add(struct vault_manifest *m, const unsigned char e[CRYPTO_HASH_LEN], int sub);
/* The stored tag over m's sum and count. 0 or -1. */
int vault_manifest_tag(const unsigned char *key, const struct vault_manifest *m,
		       unsigned char tag[CRYPTO_HASH_LEN]);
/* In a write transaction that changed row id from *old_version to
 * *new_version (NULL: no row before / after): updates the stored manifest under key (the
 * manifest key). Leaves an absent or failing manifest alone (the next
 * unlock builds or reports it). 0, or -1 on a store or crypto failure. */
int vault_manifest_update(struct store_tx *tx, const unsigned char *key,
			  const unsigned char id[CRYPTO_HASH_LEN], const int64_t *old_version,
			  const int64_t *new_version);
/* In the unlock transaction with k derived: recomputes the manifest over
 * every row and compares it with the stored one. VAULT_OK (built if absent:
 * logged and audited when rows exist), VAULT_CORRUPT on a mismatch or a
 * failing tag (logged), or a store/audit failure. */
enum vault_err vault_manifest_unlock(struct vault *v, struct store_tx *tx,
				     const struct vault_keys *k);

/* ---- vault_export.c ---- */

/* A stored meta value parsed as JSON / as a string; new reference or NULL. */
json_t *vault_meta_json(struct store_tx *tx, const char *name);
json_t *vault_meta_string(struct store_tx *tx, const char *name);
/* A base64 field o[k] of exactly want decoded bytes into buf. 0 or -1. */
int vault_b64_field(json_t *o, const char *k, unsigned char *buf, size_t want);
/* Our own export document, read in tx; rows 0: with "records" (its last
 * member) left empty, for vault_stream.c to fill. New reference in *out. */
enum vault_err vault_export_native(struct store_tx *tx, int rows, json_t **out);
/* One record of it; a new reference or NULL. */
json_t *vault_export_record(const unsigned char *id, int64_t version, const unsigned char *rec,
			    size_t len);

/* ---- vault_ocmt.c: the original's ocmt-v1 format ---- */

/* Formats why a document was refused into this thread's buffer and returns
 * it (valid until the thread's next call). */
const char *vault_whyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A v1 document's encryption fields, each length checked before it was
 * decoded into its buffer. */
struct vault_ocmt_env {
	unsigned char nonce[CRYPTO_NONCE_LEN];
	unsigned char tag[CRYPTO_TAG_LEN];
	unsigned char *ct; /* malloc'd, ctlen > 0 bytes */
	size_t ctlen;
};
/* Parses doc's "encryption" and "ciphertext": 0, or -1 with *why set. */
int vault_ocmt_env_parse(json_t *doc, struct vault_ocmt_env *e, const char **why);
void vault_ocmt_env_clear(struct vault_ocmt_env *e);
/* Checks a decrypted v1 plaintext: its "secrets" object (a new reference)
 * if every entry can migrate, else NULL with *why naming the first that
 * cannot. No key and no store needed. */
json_t *vault_ocmt_plain_check(const char *pt, size_t len, size_t max_value, const char **why);
/* Checks a decrypted plaintext, then (only if every entry passed) writes
 * each as a native record under k in the caller's write transaction:
 * VAULT_OK with *count, VAULT_BAD_LEGACY with *why (nothing written), or a
 * store/internal error (the caller rolls back). */
enum vault_err vault_ocmt_plain_migrate(struct store_tx *tx, const struct vault_keys *k,
					const char *pt, size_t len, size_t max_value,
					long long *count, const char **why);
/* Turns a stored ocmt-v1 document into native records and a new wrapped
 * root key, then deletes it, in the caller's write transaction; k->kek opens
 * it. VAULT_BAD_LEGACY (*why set) when it cannot migrate whole; on any
 * error the caller rolls back and the document stays. */
enum vault_err vault_ocmt_migrate(struct store_tx *tx, struct vault_keys *k, const char *legacy,
				  size_t legacylen, size_t max_value, long long *count,
				  const char **why);
/* Exports every secret in the original's format, under k->kek. */
enum vault_err vault_ocmt_export(struct store_tx *tx, const struct vault_keys *k, json_t **out);
/* Checks an ocmt-v1 document's shape (0, -1 malformed, -2 kdf bounds). */
int vault_ocmt_check(json_t *doc, struct crypto_kdf *kdf, unsigned char *salt, const char **why);

#endif
