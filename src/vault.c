/* vault.c: the vault's lifecycle, session and key hierarchy: new/free,
 * init, unlock, lock, extend and the session timer.
 *
 * password -Argon2id-> KEK -unwrap-> root key -HMAC-> data, index, audit,
 * registry keys; or k of n shares -combine-> share key -unwrap-> root key
 * (vault_threshold.c), opened through the same commit. Rekey re-wraps the
 * root key; nothing else changes.
 * Keys exist only in the secure heap while a session is open; lock, expiry
 * and exit wipe them. The operations on secrets, tokens, the audit log and
 * the export formats live in the other vault_*.c files (vault_int.h). */
#include "vault_int.h"

#include <stdlib.h>
#include <string.h>

#include "audit_sink.h"
#include "enc.h"
#include "log.h"
#include "ratelimit.h"
#include "regcache.h"
#include "rowcache.h"
#include "token.h"
#include "util.h"

const char *vault_actor_user(const struct vault_actor *who)
{
	return who != NULL && who->user_id != NULL ? who->user_id : "system";
}

/* ---- keys and sessions ---- */

int vault_keys_derive(struct vault_keys *k)
{
	return crypto_hmac_sha256(k->root, CRYPTO_KEY_LEN, "groupvault data key", 19, k->data) ||
	       crypto_hmac_sha256(k->root, CRYPTO_KEY_LEN, "groupvault index key", 20, k->index) ||
	       crypto_hmac_sha256(k->root, CRYPTO_KEY_LEN, "groupvault audit key", 20, k->audit) ||
	       crypto_hmac_sha256(k->root, CRYPTO_KEY_LEN, "groupvault audit mac key", 24, k->mac) ||
	       crypto_hmac_sha256(k->root, CRYPTO_KEY_LEN, "groupvault registry key", 23,
				  k->registry) ||
	       crypto_hmac_sha256(k->root, CRYPTO_KEY_LEN, "groupvault manifest key", 23,
				  k->manifest) ||
	       crypto_mac_key_set(&k->index_mk, k->index, CRYPTO_KEY_LEN) ||
	       crypto_mac_key_set(&k->mac_mk, k->mac, CRYPTO_KEY_LEN) ||
	       crypto_mac_key_set(&k->registry_mk, k->registry, CRYPTO_KEY_LEN);
}

int vault_blind_index(const struct vault_keys *k, const char *name, size_t len,
		      unsigned char id[CRYPTO_HASH_LEN])
{
	if (crypto_mac_sha256(&k->index_mk, name, len, NULL, 0, id) != 0) {
		log_err("%s: HMAC failed", __func__);
		return -1;
	}
	return 0;
}

/* Caller holds rw for writing. */
static void vault_wipe_locked(struct vault *v)
{
	if (v->mac_keys == v->keys)
		vault_audit_use_keys(v, NULL);
	crypto_secure_free(v->keys, sizeof(*v->keys));
	v->keys = NULL;
	v->expires = 0;
	if (v->rows != NULL)
		vault_row_clear(v);
	vault_audit_forget(v); /* sealed names belong to the session's audit key */
}

struct vault_keys *vault_keys_live(struct vault *v)
{
	if (v->keys == NULL || util_mono_ms() >= v->expires)
		return NULL;
	return v->keys;
}

static void *vault_timer_main(void *arg)
{
	struct vault *v = arg;

	pthread_mutex_lock(&v->tmu);
	while (!v->stopping) {
		struct timespec ts;
		int64_t wait_ms = 1000;

		pthread_mutex_unlock(&v->tmu);
		vault_deny_flush(v, 0);
		vault_shares_tick(v);
		pthread_mutex_lock(&v->tmu);
		if (v->stopping)
			break;
		pthread_rwlock_rdlock(&v->rw);
		if (v->keys != NULL) {
			wait_ms = v->expires - util_mono_ms();
			if (wait_ms > 1000)
				wait_ms = 1000;
		}
		pthread_rwlock_unlock(&v->rw);
		if (wait_ms <= 0) {
			pthread_rwlock_wrlock(&v->rw);
			if (v->keys != NULL && util_mono_ms() >= v->expires) {
				vault_wipe_locked(v);
				log_info("session expired; keys wiped");
			}
			pthread_rwlock_unlock(&v->rw);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait_ms / 1000;
		ts.tv_nsec += (wait_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&v->tcv, &v->tmu, &ts);
	}
	pthread_mutex_unlock(&v->tmu);
	return NULL;
}

/* Frees what vault_new may have set up; the timer is not running. */
static void vault_release(struct vault *v)
{
	vault_unlockq_stop(v);
	store_close(v->st);
	ratelimit_free(v->auth_rl);
	regcache_free(v->tokens);
	token_cache_free(v->verified);
	rowcache_free(v->rows);
	vault_deny_free(v->deny);
	audit_sink_close(v->sink); /* after store_close: its last batch is pushed */
	crypto_secure_free(v->sign_key, CRYPTO_HASH_LEN);
	vault_shares_free(v->shares);
	free(v);
}

/* Whether the store holds a vault (native or a pending ocmt-v1 import). */
static int vault_load_initialized(struct vault *v)
{
	struct store_tx *tx = store_tx_begin(v->st, 0);
	unsigned char *val = NULL;
	size_t len;
	int r1, r2, r3;

	if (tx == NULL)
		return -1;
	r1 = store_meta_get(tx, "root", &val, &len);
	free(val);
	val = NULL;
	r2 = store_meta_get(tx, "legacy", &val, &len);
	free(val);
	val = NULL;
	r3 = store_meta_get(tx, "threshold", &val, &len);
	free(val);
	store_tx_rollback(tx);
	if (r1 < 0 || r2 < 0 || r3 < 0)
		return -1;
	v->initialized = r1 == 0 || r2 == 0 || r3 == 0;
	return 0;
}

struct vault *vault_new(const struct config *cfg)
{
	struct vault *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	v->cfg = cfg;
	pthread_rwlock_init(&v->rw, NULL);
	pthread_mutex_init(&v->kdf_mu, NULL);
	pthread_mutex_init(&v->tmu, NULL);
	pthread_cond_init(&v->tcv, NULL);
	pthread_mutex_init(&v->seal_mu, NULL);
	pthread_mutex_init(&v->mac_mu, NULL);
	v->st = store_open(cfg->data_dir);
	if (v->st == NULL || vault_signkey_load(v) != 0 || (v->deny = vault_deny_new()) == NULL)
		goto fail;
	vault_audit_init(v);
	if (cfg->audit_sink[0] != '\0') {
		if ((v->sink = audit_sink_open(cfg->audit_sink)) == NULL)
			goto fail;
		store_audit_set_sink(v->st, audit_sink_push, v->sink);
	}
	v->auth_rl =
	    ratelimit_new(VAULT_RL_SLOTS, cfg->mgmt_auth_max_failures, cfg->mgmt_auth_window);
	v->tokens = regcache_new(VAULT_TOKEN_CACHE);
	v->verified = token_cache_new(VAULT_TOKEN_CACHE);
	v->rows = rowcache_new(VAULT_ROW_CACHE);
	v->shares = vault_shares_new();
	if (v->auth_rl == NULL || v->tokens == NULL || v->verified == NULL || v->rows == NULL ||
	    v->shares == NULL)
		goto fail;
	if (vault_load_initialized(v) != 0 || vault_unlockq_start(v) != 0)
		goto fail;
	if (pthread_create(&v->timer, NULL, vault_timer_main, v) != 0)
		goto fail;
	return v;
fail:
	vault_release(v);
	return NULL;
}

void vault_free(struct vault *v)
{
	if (v == NULL)
		return;
	vault_unlockq_stop(v); /* answers queued unlocks; none runs after this */
	pthread_mutex_lock(&v->tmu);
	v->stopping = 1;
	pthread_cond_signal(&v->tcv);
	pthread_mutex_unlock(&v->tmu);
	pthread_join(v->timer, NULL);
	vault_deny_flush(v, 1);
	pthread_rwlock_wrlock(&v->rw);
	vault_wipe_locked(v);
	pthread_rwlock_unlock(&v->rw);
	vault_release(v);
}

void vault_trim(struct vault *v) { store_trim(v->st); }

int vault_is_initialized(struct vault *v)
{
	int r;

	pthread_rwlock_rdlock(&v->rw);
	r = v->initialized;
	pthread_rwlock_unlock(&v->rw);
	return r;
}

unsigned vault_session_left(struct vault *v)
{
	unsigned left = 0;

	pthread_rwlock_rdlock(&v->rw);
	if (vault_keys_live(v) != NULL)
		left = (unsigned)((v->expires - util_mono_ms() + 999) / 1000);
	pthread_rwlock_unlock(&v->rw);
	return left;
}

/* ---- the KDF ---- */

json_t *vault_kdf_json(const struct crypto_kdf *kdf, const unsigned char *salt)
{
	char s[64];

	enc_b64_encode(salt, CRYPTO_KDF_SALT_LEN, s, 0);
	return json_pack("{s:s,s:i,s:i,s:i,s:i,s:s}", "algorithm", "argon2id", "version", 19,
			 "memory", (int)kdf->memory_kib, "iterations", (int)kdf->iterations,
			 "parallelism", (int)kdf->parallelism, "salt", s);
}

int vault_kdf_parse(json_t *o, struct crypto_kdf *kdf, unsigned char *salt)
{
	json_t *alg = json_object_get(o, "algorithm"), *ver = json_object_get(o, "version");
	json_t *m = json_object_get(o, "memory"), *t = json_object_get(o, "iterations");
	json_t *p = json_object_get(o, "parallelism"), *s = json_object_get(o, "salt");
	size_t saltlen = 0;
	unsigned char buf[CRYPTO_KDF_SALT_LEN + 3];

	if (!json_is_object(o) || !json_is_string(alg) ||
	    strcmp(json_string_value(alg), "argon2id") != 0 || !json_is_integer(m) ||
	    !json_is_integer(t) || !json_is_integer(p) || !json_is_string(s) ||
	    json_string_length(s) != 24 ||
	    enc_b64_decode(json_string_value(s), 24, buf, &saltlen, 0) != 0 ||
	    saltlen != CRYPTO_KDF_SALT_LEN)
		return -1;
	if (ver != NULL && (!json_is_integer(ver) || json_integer_value(ver) != 19))
		return -2;
	if (json_integer_value(m) < 0 || json_integer_value(m) > UINT32_MAX ||
	    json_integer_value(t) < 0 || json_integer_value(t) > UINT32_MAX ||
	    json_integer_value(p) < 0 || json_integer_value(p) > UINT32_MAX)
		return -2;
	kdf->memory_kib = (uint32_t)json_integer_value(m);
	kdf->iterations = (uint32_t)json_integer_value(t);
	kdf->parallelism = (uint32_t)json_integer_value(p);
	memcpy(salt, buf, CRYPTO_KDF_SALT_LEN);
	return crypto_kdf_valid(kdf) ? 0 : -2;
}

int vault_kdf_load(struct store_tx *tx, struct crypto_kdf *kdf, unsigned char *salt)
{
	unsigned char *val = NULL;
	size_t len;
	json_t *o;
	int rc;

	if (store_meta_get(tx, "kdf", &val, &len) != 0)
		return -1;
	o = json_loadb((const char *)val, len, 0, NULL);
	free(val);
	rc = vault_kdf_parse(o, kdf, salt);
	json_decref(o);
	return rc == 0 ? 0 : -1;
}

enum vault_err vault_kdf_run(struct vault *v, const struct crypto_kdf *kdf,
			     const unsigned char *salt, const char *pw, size_t pwlen,
			     unsigned char *out)
{
	int rc;

	if (pthread_mutex_trylock(&v->kdf_mu) != 0)
		return VAULT_KDF_BUSY;
	rc = crypto_argon2id(kdf, pw, pwlen, salt, CRYPTO_KDF_SALT_LEN, out, CRYPTO_KEY_LEN);
	pthread_mutex_unlock(&v->kdf_mu);
	crypto_scrub_stack();
	return rc == 0 ? VAULT_OK : VAULT_INTERNAL;
}

/* The unlock queue's thread waits its turn behind an init instead of
 * failing: it is the only unlock running, so the wait is one derivation. */
static enum vault_err vault_kdf_wait(struct vault *v, const struct crypto_kdf *kdf,
				     const unsigned char *salt, const char *pw, size_t pwlen,
				     unsigned char *out)
{
	int rc;

	pthread_mutex_lock(&v->kdf_mu);
	rc = crypto_argon2id(kdf, pw, pwlen, salt, CRYPTO_KDF_SALT_LEN, out, CRYPTO_KEY_LEN);
	pthread_mutex_unlock(&v->kdf_mu);
	crypto_scrub_stack();
	return rc == 0 ? VAULT_OK : VAULT_INTERNAL;
}

/* ---- init, unlock, lock ---- */

/* Writes a new vault's kdf and wrapped root (password; NULL: none), its
 * threshold policy (thr; NULL: none) and creation time with its audit
 * entry, unless another init or an import won the race. */
static enum vault_err vault_init_commit(struct vault *v, const char *kdftext,
					const unsigned char *wrapped, const char *thr,
					const struct vault_audit_ev *ev)
{
	struct store_tx *tx;
	enum vault_err err;
	char ts[32];

	util_iso8601(util_now_ms(), ts, sizeof(ts));
	pthread_rwlock_wrlock(&v->rw);
	if (v->initialized) {
		err = VAULT_ALREADY_INIT;
	} else if ((tx = store_tx_begin(v->st, 1)) == NULL) {
		err = VAULT_STORE_FAILED;
	} else if ((kdftext != NULL &&
		    (store_meta_put(tx, "kdf", kdftext, strlen(kdftext)) != 0 ||
		     store_meta_put(tx, "root", wrapped, VAULT_WRAPPED_LEN) != 0)) ||
		   (thr != NULL && store_meta_put(tx, "threshold", thr, strlen(thr)) != 0) ||
		   store_meta_put(tx, "created", ts, strlen(ts)) != 0 ||
		   vault_audit_append(v, tx, NULL, ev) != 0) {
		store_tx_rollback(tx);
		err = VAULT_STORE_FAILED;
	} else if (store_tx_commit(tx) != 0) {
		err = VAULT_STORE_FAILED;
	} else {
		v->initialized = 1;
		err = VAULT_OK;
	}
	pthread_rwlock_unlock(&v->rw);
	return err;
}

/* The password's KEK (into k->kek) and its stored kdf text (*kdftext,
 * malloc'd) and wrapping of k->root. */
static enum vault_err vault_wrap_password(struct vault *v, struct vault_keys *k, const char *pw,
					  size_t pwlen, char **kdftext,
					  unsigned char wrapped[VAULT_WRAPPED_LEN])
{
	struct crypto_kdf kdf = {v->cfg->kdf_memory, v->cfg->kdf_iterations,
				 v->cfg->kdf_parallelism};
	unsigned char salt[CRYPTO_KDF_SALT_LEN];
	json_t *kj;
	enum vault_err err;

	*kdftext = NULL;
	if (crypto_random(salt, sizeof(salt)) != 0)
		return VAULT_INTERNAL;
	err = vault_kdf_run(v, &kdf, salt, pw, pwlen, k->kek);
	if (err != VAULT_OK)
		return err;
	kj = vault_kdf_json(&kdf, salt);
	*kdftext = kj ? json_dumps(kj, JSON_COMPACT) : NULL;
	json_decref(kj);
	if (*kdftext == NULL || crypto_seal(k->kek, VAULT_ROOT_AAD, sizeof(VAULT_ROOT_AAD) - 1,
					    k->root, CRYPTO_KEY_LEN, wrapped) != 0)
		return VAULT_INTERNAL;
	return VAULT_OK;
}

enum vault_err vault_init_policy(struct vault *v, const char *pw, size_t pwlen,
				 const struct vault_threshold_req *t, const struct vault_actor *who,
				 json_t **shares)
{
	unsigned char wrapped[VAULT_WRAPPED_LEN];
	struct vault_keys *k = crypto_secure_alloc(sizeof(*k));
	struct vault_audit_ev ev = {
	    "vault.initialized", vault_actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};
	char *kdftext = NULL, *thr = NULL;
	enum vault_err err = VAULT_OK;

	*shares = NULL;
	if (k == NULL || (pw == NULL && t == NULL)) {
		crypto_secure_free(k, sizeof(*k));
		return VAULT_INTERNAL;
	}
	if (vault_is_initialized(v)) {
		err = VAULT_ALREADY_INIT;
		goto done;
	}
	if (crypto_random(k->root, CRYPTO_KEY_LEN) != 0) {
		err = VAULT_INTERNAL;
		goto done;
	}
	if (pw != NULL)
		err = vault_wrap_password(v, k, pw, pwlen, &kdftext, wrapped);
	if (err == VAULT_OK && t != NULL && vault_threshold_make(t, k->root, &thr, shares) != 0)
		err = VAULT_INTERNAL;
	if (err == VAULT_OK)
		err = vault_init_commit(v, kdftext, wrapped, thr, &ev);
done:
	if (err != VAULT_OK) {
		json_decref(*shares);
		*shares = NULL;
	}
	crypto_wipe_free(kdftext);
	crypto_wipe_free(thr);
	crypto_secure_free(k, sizeof(*k));
	crypto_scrub_stack();
	return err;
}

enum vault_err vault_init(struct vault *v, const char *pw, size_t pwlen,
			  const struct vault_actor *who)
{
	json_t *none = NULL;

	return vault_init_policy(v, pw, pwlen, NULL, who, &none);
}

/* What unlock reads before deriving: the kdf, and the wrapped root key or
 * a pending ocmt-v1 document (exactly one of them; rw/rl 0 when present). */
struct vault_unlock_meta {
	struct crypto_kdf kdf;
	unsigned char salt[CRYPTO_KDF_SALT_LEN];
	unsigned char *wrapped, *legacy;
	size_t wlen, llen;
	int rw, rl;
	/* set when the stored kdf is weaker than configured: the root key is
	 * re-wrapped under nkek (secure heap), derived with nkdf and nsalt */
	struct crypto_kdf nkdf;
	unsigned char nsalt[CRYPTO_KDF_SALT_LEN], *nkek;
	/* set when k->root was opened from the threshold policy with this set id */
	const unsigned char *set;
};

/* Derives a KEK with the configured parameters when the stored ones are
 * weaker (an import keeps its document's); best effort: without it the
 * unlock goes on and the next one tries again. */
static void vault_unlock_upgrade(struct vault *v, struct vault_unlock_meta *m, const char *pw,
				 size_t pwlen)
{
	m->nkdf = (struct crypto_kdf){v->cfg->kdf_memory, v->cfg->kdf_iterations,
				      v->cfg->kdf_parallelism};
	if (m->kdf.memory_kib >= m->nkdf.memory_kib && m->kdf.iterations >= m->nkdf.iterations)
		return;
	m->nkek = crypto_secure_alloc(CRYPTO_KEY_LEN);
	if (m->nkek == NULL || crypto_random(m->nsalt, sizeof(m->nsalt)) != 0 ||
	    vault_kdf_wait(v, &m->nkdf, m->nsalt, pw, pwlen, m->nkek) != VAULT_OK) {
		log_warn("%s: kdf not re-derived this time", __func__);
		crypto_secure_free(m->nkek, CRYPTO_KEY_LEN);
		m->nkek = NULL;
	}
}

/* In the unlock transaction, with k->root open: stores the root key wrapped
 * under m->nkek and the new kdf, and makes nkek the session's KEK. */
static enum vault_err vault_unlock_rewrap(struct store_tx *tx, struct vault_keys *k,
					  const struct vault_unlock_meta *m)
{
	unsigned char wrapped[VAULT_WRAPPED_LEN];
	json_t *kj = vault_kdf_json(&m->nkdf, m->nsalt);
	char *text = kj ? json_dumps(kj, JSON_COMPACT) : NULL;
	enum vault_err err = VAULT_INTERNAL;

	if (text != NULL && crypto_seal(m->nkek, VAULT_ROOT_AAD, sizeof(VAULT_ROOT_AAD) - 1,
					k->root, CRYPTO_KEY_LEN, wrapped) == 0) {
		err = store_meta_put(tx, "kdf", text, strlen(text)) != 0 ||
			      store_meta_put(tx, "root", wrapped, sizeof(wrapped)) != 0
			  ? VAULT_STORE_FAILED
			  : VAULT_OK;
		if (err == VAULT_OK)
			memcpy(k->kek, m->nkek, CRYPTO_KEY_LEN);
	}
	crypto_wipe_free(text);
	json_decref(kj);
	return err;
}

static enum vault_err vault_unlock_read(struct vault *v, struct vault_unlock_meta *m)
{
	struct store_tx *tx = store_tx_begin(v->st, 0);
	int r;

	if (tx == NULL)
		return VAULT_STORE_FAILED;
	m->rw = store_meta_get(tx, "root", &m->wrapped, &m->wlen);
	m->rl = store_meta_get(tx, "legacy", &m->legacy, &m->llen);
	r = m->rw > 0 && m->rl > 0 ? 1 : vault_kdf_load(tx, &m->kdf, m->salt);
	store_tx_rollback(tx);
	if (r > 0) /* a threshold-only policy */
		return VAULT_PASSWORD_OFF;
	if (r != 0 || m->rw < 0 || m->rl < 0 || (m->rw != 0 && m->rl != 0))
		return VAULT_CORRUPT;
	return VAULT_OK;
}

/* Whether the wrapped root key read before the derivation is still the
 * stored one (a rekey may have replaced or removed it meanwhile). */
static int vault_root_current(struct store_tx *tx, const struct vault_unlock_meta *m)
{
	unsigned char *cur = NULL;
	size_t len = 0;
	int same = store_meta_get(tx, "root", &cur, &len) == 0 && len == m->wlen &&
		   crypto_equal(cur, m->wrapped, len);

	free(cur);
	return same;
}

/* With k->kek derived: opens the root key (or migrates an ocmt-v1 vault),
 * audits the unlock and, once that is durable, opens the session with k
 * (then owned by v: *kp is cleared). */
static enum vault_err vault_unlock_commit(struct vault *v, const struct vault_unlock_meta *m,
					  struct vault_keys **kp, const struct vault_audit_ev *ev,
					  long long *secret_count)
{
	struct vault_keys *k = *kp;
	struct store_tx *tx;
	const char *why = NULL;
	enum vault_err err = VAULT_OK;

	pthread_rwlock_wrlock(&v->rw);
	if ((tx = store_tx_begin(v->st, 1)) == NULL) {
		pthread_rwlock_unlock(&v->rw);
		return VAULT_STORE_FAILED;
	}
	if (m->rw != 0)
		err = vault_ocmt_migrate(tx, k, (const char *)m->legacy, m->llen, v->cfg->max_value,
					 secret_count, &why);
	else if (m->set != NULL)
		err = vault_policy_current(tx, m->set) ? VAULT_OK : VAULT_BAD_SHARES;
	else if (m->wlen != VAULT_WRAPPED_LEN || !vault_root_current(tx, m) ||
		 crypto_open(k->kek, VAULT_ROOT_AAD, sizeof(VAULT_ROOT_AAD) - 1, m->wrapped,
			     m->wlen, k->root) != 0)
		err = VAULT_BAD_PASSWORD;
	if (err == VAULT_OK && m->rw == 0 && vault_keys_derive(k) != 0)
		err = VAULT_INTERNAL;
	/* Revocations made while locked get their revoked MAC now. */
	if (err == VAULT_OK && vault_registry_seal(v, tx, k) != 0)
		err = VAULT_STORE_FAILED;
	/* Rows restored from an older copy refuse the unlock (vault_manifest.c). */
	if (err == VAULT_OK)
		err = vault_manifest_unlock(v, tx, k);
	if (err == VAULT_OK && m->nkek != NULL)
		err = vault_unlock_rewrap(tx, k, m);
	if (err == VAULT_OK) {
		/* The new keys seal what was written while locked (and, after an
		 * upgrade, every older entry), then the unlock's own entry. */
		vault_audit_use_keys(v, k);
		*secret_count = store_secret_count(tx);
		if (*secret_count < 0 || store_audit_seal(tx) != 0 ||
		    vault_audit_append(v, tx, k, ev) != 0) {
			err = VAULT_AUDIT_FAILED;
			store_tx_rollback(tx);
			vault_audit_use_keys(v, v->keys);
		} else if (store_tx_commit(tx) != 0) {
			err = VAULT_AUDIT_FAILED;
			vault_audit_use_keys(v, v->keys);
		} else {
			vault_wipe_locked(v);
			v->keys = k;
			*kp = NULL;
			v->expires = util_mono_ms() + (int64_t)v->cfg->session_ttl * 1000;
		}
	} else {
		store_tx_rollback(tx);
	}
	pthread_rwlock_unlock(&v->rw);
	return err;
}

enum vault_err vault_unlock_run(struct vault *v, const char *pw, size_t pwlen,
				const struct vault_actor *who, long long *secret_count)
{
	struct vault_unlock_meta m = {.wrapped = NULL};
	struct vault_keys *k = NULL;
	struct vault_audit_ev ev = {
	    "vault.unlocked", vault_actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};
	enum vault_err err;

	if (!vault_is_initialized(v))
		return VAULT_NOT_INIT;
	err = vault_unlock_read(v, &m);
	if (err != VAULT_OK)
		goto done;
	k = crypto_secure_alloc(sizeof(*k));
	if (k == NULL) {
		err = VAULT_INTERNAL;
		goto done;
	}
	err = vault_kdf_wait(v, &m.kdf, m.salt, pw, pwlen, k->kek);
	if (err != VAULT_OK)
		goto done;
	vault_unlock_upgrade(v, &m, pw, pwlen);
	err = vault_unlock_commit(v, &m, &k, &ev, secret_count);
	if (err == VAULT_BAD_PASSWORD || err == VAULT_BAD_LEGACY || err == VAULT_CORRUPT) {
		const char *what = err == VAULT_BAD_LEGACY ? "Migration refused"
				   : err == VAULT_CORRUPT  ? "Integrity check failed"
							   : "Invalid password";
		struct vault_audit_ev fail = {
		    "vault.unlock_failed", ev.user, who->ip, NULL, 0, NULL, what, 0, NULL};
		vault_audit_one(v, NULL, &fail);
	} else if (err == VAULT_OK) {
		pthread_mutex_lock(&v->tmu);
		pthread_cond_signal(&v->tcv);
		pthread_mutex_unlock(&v->tmu);
	}
done:
	crypto_secure_free(k, sizeof(*k));
	crypto_secure_free(m.nkek, CRYPTO_KEY_LEN);
	free(m.wrapped);
	free(m.legacy);
	crypto_scrub_stack();
	return err;
}

enum vault_err vault_unlock_opened(struct vault *v, const unsigned char *root,
				   const unsigned char *set, const struct vault_actor *who,
				   long long *secret_count)
{
	struct vault_unlock_meta m = {.set = set};
	struct vault_keys *k = crypto_secure_alloc(sizeof(*k));
	struct vault_audit_ev ev = {
	    "vault.unlocked", vault_actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};
	enum vault_err err;

	if (k == NULL)
		return VAULT_INTERNAL;
	memcpy(k->root, root, CRYPTO_KEY_LEN);
	k->by_shares = 1;
	err = vault_unlock_commit(v, &m, &k, &ev, secret_count);
	if (err == VAULT_OK) {
		pthread_mutex_lock(&v->tmu);
		pthread_cond_signal(&v->tcv);
		pthread_mutex_unlock(&v->tmu);
	}
	crypto_secure_free(k, sizeof(*k));
	return err;
}

int vault_unlock_pending_legacy(struct vault *v)
{
	struct store_tx *tx = store_tx_begin(v->st, 0);
	unsigned char *val = NULL;
	size_t len;
	int r;

	if (tx == NULL)
		return 0;
	r = store_meta_get(tx, "legacy", &val, &len);
	free(val);
	store_tx_rollback(tx);
	return r == 0;
}

enum vault_err vault_lock(struct vault *v, const struct vault_actor *who)
{
	struct vault_audit_ev ev = {
	    "vault.locked", vault_actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};

	vault_deny_flush(v, 1);
	pthread_rwlock_wrlock(&v->rw);
	vault_wipe_locked(v);
	pthread_rwlock_unlock(&v->rw);
	return vault_audit_one(v, NULL, &ev);
}

enum vault_err vault_extend(struct vault *v, unsigned *expires_in)
{
	enum vault_err err = VAULT_LOCKED;

	pthread_rwlock_wrlock(&v->rw);
	if (vault_keys_live(v) != NULL) {
		v->expires = util_mono_ms() + (int64_t)v->cfg->session_ttl * 1000;
		*expires_in = v->cfg->session_ttl;
		err = VAULT_OK;
	}
	pthread_rwlock_unlock(&v->rw);
	return err;
}

/* ---- rekey ---- */

/* A rekey's new wrappings, made before the write lock is taken. */
struct vault_rekey_new {
	char *kdftext; /* NULL: no password */
	unsigned char wrapped[VAULT_WRAPPED_LEN];
	char *thr;	       /* NULL: no threshold */
	struct vault_keys *nk; /* secure heap: root (copied) and the new kek */
};

/* Replaces the stored wrappings in one transaction, if the session that
 * gave the root key is still open. */
static enum vault_err vault_rekey_commit(struct vault *v, const struct vault_rekey_new *n,
					 const struct vault_audit_ev *ev)
{
	struct vault_keys *k;
	struct store_tx *tx = NULL;
	enum vault_err err = VAULT_OK;
	int bad;

	pthread_rwlock_wrlock(&v->rw);
	k = vault_keys_live(v);
	if (k == NULL || !crypto_equal(k->root, n->nk->root, CRYPTO_KEY_LEN))
		err = VAULT_LOCKED;
	else if ((tx = store_tx_begin(v->st, 1)) == NULL)
		err = VAULT_STORE_FAILED;
	if (err != VAULT_OK)
		goto out;
	if (n->kdftext != NULL)
		bad = store_meta_put(tx, "kdf", n->kdftext, strlen(n->kdftext)) != 0 ||
		      store_meta_put(tx, "root", n->wrapped, VAULT_WRAPPED_LEN) != 0;
	else
		bad = store_meta_del(tx, "kdf") != 0 || store_meta_del(tx, "root") != 0;
	bad = bad || (n->thr != NULL ? store_meta_put(tx, "threshold", n->thr, strlen(n->thr))
				     : store_meta_del(tx, "threshold")) != 0;
	if (bad || vault_audit_append(v, tx, k, ev) != 0) {
		store_tx_rollback(tx);
		err = VAULT_STORE_FAILED;
	} else if (store_tx_commit(tx) != 0) {
		err = VAULT_STORE_FAILED;
	} else {
		/* the session's kek is now the new password's, or none */
		memcpy(k->kek, n->nk->kek, CRYPTO_KEY_LEN);
		k->by_shares = n->kdftext == NULL;
	}
out:
	pthread_rwlock_unlock(&v->rw);
	return err;
}

enum vault_err vault_rekey(struct vault *v, const char *pw, size_t pwlen,
			   const struct vault_threshold_req *t, const struct vault_actor *who,
			   json_t **shares)
{
	struct vault_rekey_new n = {.kdftext = NULL};
	struct vault_audit_ev ev = {
	    "vault.rekeyed", vault_actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};
	struct vault_keys *k;
	enum vault_err err = VAULT_OK;

	*shares = NULL;
	if (pw == NULL && t == NULL)
		return VAULT_INTERNAL;
	if ((n.nk = crypto_secure_alloc(sizeof(*n.nk))) == NULL)
		return VAULT_INTERNAL;
	pthread_rwlock_rdlock(&v->rw);
	k = vault_keys_live(v);
	if (k != NULL)
		memcpy(n.nk->root, k->root, CRYPTO_KEY_LEN);
	pthread_rwlock_unlock(&v->rw);
	if (k == NULL)
		err = VAULT_LOCKED;
	if (err == VAULT_OK && pw != NULL)
		err = vault_wrap_password(v, n.nk, pw, pwlen, &n.kdftext, n.wrapped);
	if (err == VAULT_OK && t != NULL &&
	    vault_threshold_make(t, n.nk->root, &n.thr, shares) != 0)
		err = VAULT_INTERNAL;
	if (err == VAULT_OK)
		err = vault_rekey_commit(v, &n, &ev);
	if (err == VAULT_OK) {
		vault_shares_wipe(v); /* shares of the old set can never count */
	} else {
		json_decref(*shares);
		*shares = NULL;
	}
	crypto_wipe_free(n.kdftext);
	crypto_wipe_free(n.thr);
	crypto_secure_free(n.nk, sizeof(*n.nk));
	crypto_scrub_stack();
	return err;
}
