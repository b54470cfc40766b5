/* vault_threshold.c: threshold unlock. The root key is also wrapped under
 * a random share key split k of n among named holders (shamir.c, share.c);
 * this file makes and reads that policy, collects submitted shares until k
 * have arrived (in the secure heap, for UNLOCK_SHARES_WINDOW_SECONDS at
 * most) and opens the session through vault.c's unlock commit. It never
 * stores, logs or audits a share, and never counts a share that failed its
 * check, belongs to another holder or set, or came twice. */
#include "vault_int.h"

#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "log.h"
#include "shamir.h"
#include "share.h"
#include "util.h"

#define VAULT_SHARES_AAD "groupvault/root/shares/v1"

/* The shares received so far (v->shares). */
struct vault_shares {
	pthread_mutex_t mu;
	unsigned char *y; /* secure heap: SHAMIR_MAX_SHARES * SHARE_Y_LEN */
	uint8_t xs[SHAMIR_MAX_SHARES];
	char *users[SHAMIR_MAX_SHARES]; /* who sent each, in order */
	unsigned received;
	unsigned char set[SHARE_SET_LEN]; /* the set they belong to */
	int64_t started;		  /* monotonic ms of the first; 0: none pending */
};

struct vault_shares *vault_shares_new(void)
{
	struct vault_shares *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->y = crypto_secure_alloc(SHAMIR_MAX_SHARES * SHARE_Y_LEN);
	if (s->y == NULL) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	return s;
}

/* Caller holds s->mu. */
static void vault_shares_clear(struct vault_shares *s)
{
	crypto_wipe(s->y, SHAMIR_MAX_SHARES * SHARE_Y_LEN);
	for (unsigned i = 0; i < s->received; i++) {
		free(s->users[i]);
		s->users[i] = NULL;
	}
	s->received = 0;
	s->started = 0;
}

void vault_shares_free(struct vault_shares *s)
{
	if (s == NULL)
		return;
	vault_shares_clear(s);
	crypto_secure_free(s->y, SHAMIR_MAX_SHARES * SHARE_Y_LEN);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- the stored policy ---- */

void vault_policy_clear(struct vault_policy *p)
{
	json_decref(p->holders);
	memset(p, 0, sizeof(*p));
}

/* The additional data binding a wrapped root key to its policy: the label
 * and a hash of the set id, k and the holders in order. */
static int vault_policy_aad(const unsigned char *set, unsigned k, json_t *holders,
			    unsigned char *aad)
{
	char hex[2 * SHARE_SET_LEN + 1], *text;
	json_t *a;
	int rc;

	enc_hex_encode(set, SHARE_SET_LEN, hex);
	a = json_pack("[s,s,i,O]", SHARE_TAG, hex, (int)k, holders);
	text = a != NULL ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	memcpy(aad, VAULT_SHARES_AAD, sizeof(VAULT_SHARES_AAD) - 1);
	rc = text == NULL ? -1
			  : crypto_sha256(text, strlen(text), aad + sizeof(VAULT_SHARES_AAD) - 1);
	crypto_wipe_free(text); /* jansson's allocator (jalloc.c) */
	return rc;
}
#define VAULT_POLICY_AAD_LEN (sizeof(VAULT_SHARES_AAD) - 1 + CRYPTO_HASH_LEN)

static int vault_policy_parse(json_t *o, struct vault_policy *p)
{
	json_t *req = json_object_get(o, "required"), *hs = json_object_get(o, "holders");
	json_t *set = json_object_get(o, "set"), *fmt = json_object_get(o, "format"), *h;
	size_t i;

	if (!json_is_integer(req) || !json_is_array(hs) || json_array_size(hs) < 2 ||
	    json_array_size(hs) > SHAMIR_MAX_SHARES || !json_is_string(set) ||
	    json_string_length(set) != 2 * SHARE_SET_LEN || !json_is_string(fmt) ||
	    strcmp(json_string_value(fmt), SHARE_TAG) != 0 ||
	    enc_hex_decode(json_string_value(set), 2 * SHARE_SET_LEN, p->set) != 0 ||
	    vault_b64_field(o, "root", p->wrapped, VAULT_WRAPPED_LEN) != 0)
		return -1;
	json_array_foreach(hs, i, h)
	{
		if (!json_is_string(h))
			return -1;
	}
	p->holders = json_incref(hs);
	p->n = (unsigned)json_array_size(hs);
	if (json_integer_value(req) < 2 || json_integer_value(req) > (json_int_t)p->n)
		return -1;
	p->k = (unsigned)json_integer_value(req);
	return 0;
}

int vault_policy_check(json_t *o)
{
	struct vault_policy p;
	int rc;

	memset(&p, 0, sizeof(p));
	rc = json_is_object(o) ? vault_policy_parse(o, &p) : -1;
	vault_policy_clear(&p);
	return rc;
}

enum vault_err vault_policy_read(struct store_tx *tx, struct vault_policy *p)
{
	unsigned char *val = NULL;
	size_t len;
	json_t *o;
	int r;

	memset(p, 0, sizeof(*p));
	r = store_meta_get(tx, "threshold", &val, &len);
	if (r < 0)
		return VAULT_STORE_FAILED;
	if (r > 0)
		return VAULT_OK; /* no threshold: p->k == 0 */
	o = json_loadb((const char *)val, len, 0, NULL);
	free(val);
	r = vault_policy_parse(o, p);
	json_decref(o);
	if (r != 0) {
		log_err("%s: stored threshold policy is malformed", __func__);
		vault_policy_clear(p);
		return VAULT_CORRUPT;
	}
	return VAULT_OK;
}

/* The stored text of a new policy for t wrapping root under key
 * (crypto_wipe_free). */
static char *vault_policy_text(const struct vault_threshold_req *t,
			       const unsigned char set[SHARE_SET_LEN], const unsigned char *key,
			       const unsigned char *root)
{
	unsigned char aad[VAULT_POLICY_AAD_LEN], wrapped[VAULT_WRAPPED_LEN];
	char hex[2 * SHARE_SET_LEN + 1], b64[2 * VAULT_WRAPPED_LEN], *text = NULL;
	json_t *o, *hs = json_array();

	for (unsigned i = 0; i < t->n; i++)
		json_array_append_new(hs, json_string(t->holders[i]));
	if (vault_policy_aad(set, t->k, hs, aad) != 0 ||
	    crypto_seal(key, aad, sizeof(aad), root, CRYPTO_KEY_LEN, wrapped) != 0) {
		json_decref(hs);
		return NULL;
	}
	enc_hex_encode(set, SHARE_SET_LEN, hex);
	enc_b64_encode(wrapped, sizeof(wrapped), b64, 0);
	o = json_pack("{s:i,s:o,s:s,s:s,s:s}", "required", (int)t->k, "holders", hs, "format",
		      SHARE_TAG, "set", hex, "root", b64);
	if (o != NULL)
		text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* Splits key into t->n shares as [{userId, share}] (a new reference). */
static json_t *vault_policy_shares(const struct vault_threshold_req *t,
				   const unsigned char set[SHARE_SET_LEN], const unsigned char *key)
{
	unsigned char *ys = crypto_secure_alloc(SHAMIR_MAX_SHARES * SHARE_Y_LEN);
	json_t *out = json_array();
	struct share s;
	char text[SHARE_TEXT_LEN + 1];
	int ok =
	    ys != NULL && out != NULL && shamir_split(key, CRYPTO_KEY_LEN, t->k, t->n, ys) == 0;

	memcpy(s.set, set, SHARE_SET_LEN);
	for (unsigned i = 0; ok && i < t->n; i++) {
		s.index = i + 1;
		memcpy(s.y, ys + i * SHARE_Y_LEN, SHARE_Y_LEN);
		ok = share_format(&s, text) == 0 &&
		     json_array_append_new(
			 out, json_pack("{s:s,s:s}", "userId", t->holders[i], "share", text)) == 0;
	}
	crypto_wipe(&s, sizeof(s));
	crypto_wipe(text, sizeof(text));
	crypto_secure_free(ys, SHAMIR_MAX_SHARES * SHARE_Y_LEN);
	if (!ok) {
		json_decref(out);
		return NULL;
	}
	return out;
}

int vault_threshold_make(const struct vault_threshold_req *t, const unsigned char *root,
			 char **text, json_t **shares)
{
	unsigned char *key = crypto_secure_alloc(CRYPTO_KEY_LEN), set[SHARE_SET_LEN];
	int rc = -1;

	*text = NULL;
	*shares = NULL;
	if (key != NULL && crypto_random(key, CRYPTO_KEY_LEN) == 0 &&
	    crypto_random(set, sizeof(set)) == 0 &&
	    (*text = vault_policy_text(t, set, key, root)) != NULL &&
	    (*shares = vault_policy_shares(t, set, key)) != NULL)
		rc = 0;
	if (rc != 0) {
		log_err("%s: cannot make the share set", __func__);
		crypto_wipe_free(*text);
		*text = NULL;
	}
	crypto_secure_free(key, CRYPTO_KEY_LEN);
	crypto_scrub_stack();
	return rc;
}

/* Opens p's wrapped root key with key into root. 0 or -1. */
int vault_policy_open(const struct vault_policy *p, const unsigned char *key, unsigned char *root)
{
	unsigned char aad[VAULT_POLICY_AAD_LEN];

	if (vault_policy_aad(p->set, p->k, p->holders, aad) != 0)
		return -1;
	return crypto_open(key, aad, sizeof(aad), p->wrapped, VAULT_WRAPPED_LEN, root);
}

int vault_policy_current(struct store_tx *tx, const unsigned char *set)
{
	struct vault_policy p;
	int same;

	if (vault_policy_read(tx, &p) != VAULT_OK)
		return 0;
	same = p.k != 0 && memcmp(p.set, set, SHARE_SET_LEN) == 0;
	vault_policy_clear(&p);
	return same;
}

/* ---- collecting shares ---- */

/* The holders so far as "a,b,c" for the audit log (malloc'd) or NULL.
 * Caller holds s->mu. */
static char *vault_shares_who(const struct vault_shares *s)
{
	size_t len = 1;
	char *out;

	for (unsigned i = 0; i < s->received; i++)
		len += strlen(s->users[i]) + 1;
	if (s->received == 0 || (out = calloc(1, len)) == NULL)
		return NULL;
	for (unsigned i = 0; i < s->received; i++) {
		if (i > 0)
			strcat(out, ",");
		strcat(out, s->users[i]);
	}
	return out;
}

static void vault_shares_audit(struct vault *v, const char *action, const char *user,
			       const char *ip, const char *target, const char *error, int ok)
{
	struct vault_audit_ev ev = {action, user, ip, NULL, 0, target, error, ok, NULL};

	if (vault_audit_one(v, NULL, &ev) != VAULT_OK)
		log_err("%s: %s not audited", __func__, action);
}

/* Wipes progress older than the window; returns who had sent shares
 * (malloc'd, for the caller to audit) or NULL. Caller holds s->mu. */
static char *vault_shares_expire(struct vault *v, struct vault_shares *s, int64_t now)
{
	char *who;

	if (s->started == 0 || now - s->started < (int64_t)v->cfg->unlock_shares_window * 1000)
		return NULL;
	who = vault_shares_who(s);
	vault_shares_clear(s);
	return who != NULL ? who : strdup("?");
}

void vault_shares_tick(struct vault *v)
{
	char *expired;

	pthread_mutex_lock(&v->shares->mu);
	expired = vault_shares_expire(v, v->shares, util_mono_ms());
	pthread_mutex_unlock(&v->shares->mu);
	if (expired != NULL)
		vault_shares_audit(v, "unlock.shares_expired", "system", NULL, expired, NULL, 1);
	free(expired);
}

void vault_shares_wipe(struct vault *v)
{
	pthread_mutex_lock(&v->shares->mu);
	vault_shares_clear(v->shares);
	pthread_mutex_unlock(&v->shares->mu);
}

/* {unlocked:false, received, required, holders, expiresIn}. Caller holds s->mu. */
static json_t *vault_shares_progress_json(struct vault *v, const struct vault_shares *s, unsigned k,
					  int64_t now)
{
	json_t *hs = json_array();
	int64_t left = 0;

	for (unsigned i = 0; i < s->received; i++)
		json_array_append_new(hs, json_string(s->users[i]));
	if (s->started != 0)
		left = ((int64_t)v->cfg->unlock_shares_window * 1000 - (now - s->started) + 999) /
		       1000;
	return json_pack("{s:b,s:i,s:i,s:o,s:I}", "unlocked", 0, "received", (int)s->received,
			 "required", (int)k, "holders", hs, "expiresIn",
			 (json_int_t)(left > 0 ? left : 0));
}

/* Checks a parsed share against the policy: NULL if it may count, else why
 * not (static text). */
static const char *vault_share_judge(const struct vault_policy *p, const struct share *sh,
				     const char *user)
{
	if (memcmp(sh->set, p->set, SHARE_SET_LEN) != 0)
		return "not a share of this vault's current share set";
	if (sh->index > p->n ||
	    strcmp(json_string_value(json_array_get(p->holders, sh->index - 1)), user) != 0)
		return "not this holder's share";
	return NULL;
}

/* Adds a checked share; at the k-th, combines them into key (secure heap)
 * and wipes the progress. Returns 1 when key is set, 0 while short (with
 * *out the progress), -1 for a duplicate, -2 on failure. *expired: see vault_shares_expire. */
static int vault_shares_add(struct vault *v, const struct vault_policy *p, const struct share *sh,
			    const char *user, unsigned char *key, json_t **out, char **expired)
{
	struct vault_shares *s = v->shares;
	int64_t now = util_mono_ms();
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	*expired = vault_shares_expire(v, s, now);
	if (s->received > 0 && memcmp(s->set, p->set, SHARE_SET_LEN) != 0)
		vault_shares_clear(s); /* the policy changed under them */
	for (unsigned i = 0; i < s->received; i++)
		if (s->xs[i] == sh->index)
			rc = -1;
	if (rc == 0 && (s->users[s->received] = strdup(user)) == NULL)
		rc = -2;
	if (rc == 0) {
		memcpy(s->y + s->received * SHARE_Y_LEN, sh->y, SHARE_Y_LEN);
		s->xs[s->received++] = (uint8_t)sh->index;
		memcpy(s->set, p->set, SHARE_SET_LEN);
		if (s->started == 0)
			s->started = now;
		if (s->received < p->k) {
			*out = vault_shares_progress_json(v, s, p->k, now);
		} else {
			rc = shamir_combine(s->xs, s->y, s->received, SHARE_Y_LEN, key) == 0 ? 1
											     : -2;
			vault_shares_clear(s);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* With the k-th share combined into key: opens the root key and the
 * session, or wipes and refuses (401, audited, counted by the limits). */
static enum vault_err vault_shares_open(struct vault *v, const struct vault_policy *p,
					const unsigned char *key, const struct vault_actor *who,
					long long *count)
{
	unsigned char *root = crypto_secure_alloc(CRYPTO_KEY_LEN);
	enum vault_err err;

	if (root == NULL)
		return VAULT_INTERNAL;
	if (vault_policy_open(p, key, root) != 0) {
		vault_unlock_failed(v, who);
		vault_shares_audit(v, "vault.unlock_failed", who->user_id, who->ip, NULL,
				   "Shares do not open the root key", 0);
		err = VAULT_BAD_SHARES;
	} else {
		vault_shares_audit(v, "unlock.threshold_met", who->user_id, who->ip, NULL, NULL, 1);
		err = vault_unlock_opened(v, root, p->set, who, count);
	}
	crypto_secure_free(root, CRYPTO_KEY_LEN);
	crypto_scrub_stack();
	return err;
}

enum vault_err vault_share_submit(struct vault *v, const char *text, size_t len,
				  const struct vault_actor *who, json_t **out, int *unlocked,
				  unsigned *retry_after, const char **why)
{
	struct vault_policy p;
	struct share sh;
	struct store_tx *tx;
	unsigned char *key = NULL;
	char *expired = NULL;
	long long count = 0;
	enum vault_err err;
	int rc;

	*out = NULL;
	*unlocked = 0;
	*why = NULL;
	if (!vault_is_initialized(v))
		return VAULT_NOT_INIT;
	if ((*retry_after = vault_unlock_blocked(v, who)) > 0)
		return VAULT_UNLOCK_LIMIT;
	if ((tx = store_tx_begin(v->st, 0)) == NULL)
		return VAULT_STORE_FAILED;
	err = vault_policy_read(tx, &p);
	store_tx_rollback(tx);
	if (err != VAULT_OK)
		return err;
	if (p.k == 0)
		return VAULT_NO_THRESHOLD;
	if (share_parse(text, len, &sh) != 0)
		*why = "not a share, or mistyped (its check fails)";
	else
		*why = vault_share_judge(&p, &sh, who->user_id);
	if (*why == NULL && (key = crypto_secure_alloc(CRYPTO_KEY_LEN)) == NULL)
		err = VAULT_INTERNAL;
	if (*why == NULL && err == VAULT_OK) {
		rc = vault_shares_add(v, &p, &sh, who->user_id, key, out, &expired);
		if (rc == -1)
			*why = "this holder's share was already received";
		else if (rc < -1)
			err = VAULT_INTERNAL;
		else
			vault_shares_audit(v, "unlock.share_received", who->user_id, who->ip, NULL,
					   NULL, 1);
		if (rc == 1) {
			err = vault_shares_open(v, &p, key, who, &count);
			*unlocked = err == VAULT_OK;
		}
	}
	crypto_wipe(&sh, sizeof(sh));
	crypto_secure_free(key, CRYPTO_KEY_LEN);
	if (expired != NULL)
		vault_shares_audit(v, "unlock.shares_expired", "system", NULL, expired, NULL, 1);
	free(expired);
	if (*why != NULL) {
		vault_shares_audit(v, "unlock.share_rejected", who->user_id, who->ip, NULL, *why,
				   0);
		err = VAULT_BAD_SHARE;
	}
	if (*unlocked)
		*out = json_pack("{s:b,s:b,s:I,s:I}", "success", 1, "unlocked", 1, "expiresIn",
				 (json_int_t)v->cfg->session_ttl, "secretCount", (json_int_t)count);
	if (err == VAULT_OK && *out == NULL)
		err = VAULT_INTERNAL;
	vault_policy_clear(&p);
	return err;
}

enum vault_err vault_shares_progress(struct vault *v, json_t **out)
{
	struct vault_policy p;
	struct store_tx *tx;
	char *expired;
	enum vault_err err;

	*out = NULL;
	if (!vault_is_initialized(v))
		return VAULT_NOT_INIT;
	if ((tx = store_tx_begin(v->st, 0)) == NULL)
		return VAULT_STORE_FAILED;
	err = vault_policy_read(tx, &p);
	store_tx_rollback(tx);
	if (err != VAULT_OK)
		return err;
	if (p.k == 0)
		return VAULT_NO_THRESHOLD;
	pthread_mutex_lock(&v->shares->mu);
	expired = vault_shares_expire(v, v->shares, util_mono_ms());
	if (v->shares->received > 0 && memcmp(v->shares->set, p.set, SHARE_SET_LEN) != 0)
		vault_shares_clear(v->shares);
	*out = vault_shares_progress_json(v, v->shares, p.k, util_mono_ms());
	pthread_mutex_unlock(&v->shares->mu);
	if (expired != NULL)
		vault_shares_audit(v, "unlock.shares_expired", "system", NULL, expired, NULL, 1);
	free(expired);
	if (*out != NULL)
		json_object_set_new(*out, "unlocked", json_boolean(vault_session_left(v) > 0));
	vault_policy_clear(&p);
	return *out != NULL ? VAULT_OK : VAULT_INTERNAL;
}

enum vault_err vault_shares_cancel(struct vault *v, const struct vault_actor *who,
				   long long *cancelled)
{
	char *had;

	pthread_mutex_lock(&v->shares->mu);
	*cancelled = v->shares->received;
	had = vault_shares_who(v->shares);
	vault_shares_clear(v->shares);
	pthread_mutex_unlock(&v->shares->mu);
	if (had == NULL)
		return VAULT_OK;
	vault_shares_audit(v, "unlock.shares_cancelled", vault_actor_user(who), who->ip, had, NULL,
			   1);
	free(had);
	return VAULT_OK;
}

json_t *vault_policy_json(struct vault *v)
{
	struct store_tx *tx = store_tx_begin(v->st, 0);
	struct vault_policy p;
	unsigned char *val = NULL;
	size_t len;
	json_t *thr = json_null();
	int pw;

	if (tx == NULL)
		return NULL;
	pw = store_meta_get(tx, "root", &val, &len) == 0;
	free(val);
	val = NULL;
	pw = pw || store_meta_get(tx, "legacy", &val, &len) == 0;
	free(val);
	if (vault_policy_read(tx, &p) == VAULT_OK && p.k != 0) {
		thr = json_pack("{s:i,s:O}", "required", (int)p.k, "holders", p.holders);
	}
	vault_policy_clear(&p);
	store_tx_rollback(tx);
	return json_pack("{s:b,s:o*}", "password", pw, "threshold", thr);
}
