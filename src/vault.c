/* vault.c: sessions, the key hierarchy and every audited operation.
 *
 * password -Argon2id-> KEK -unwrap-> root key -HMAC-> data, index, audit keys.
 * Keys exist only in the secure heap while a session is open; lock, expiry
 * and exit wipe them. A value leaves this file only after the transaction
 * holding its audit entry has committed (audit before reveal). */
#include "vault.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "enc.h"
#include "jtext.h"
#include "log.h"
#include "ratelimit.h"
#include "record.h"
#include "regcache.h"
#include "rowcache.h"
#include "store.h"
#include "util.h"

#define VAULT_ROOT_AAD "groupvault/root/v1"
#define VAULT_TOKEN_AAD "groupvault/token/v1"
#define VAULT_AUDIT_AAD "groupvault/audit-name/v1"
#define VAULT_FORMAT "groupvault"
#define VAULT_FORMAT_VERSION 2
#define VAULT_V1_FORMAT "ocmt-group-vault"
#define VAULT_RL_SLOTS 4096
#define VAULT_TOKEN_CACHE 1024
#define VAULT_ROW_CACHE 256
#define VAULT_NAME_MAX 255
#define VAULT_SEAL_SLOTS 64
/* base64 of a sealed name, NUL included */
#define VAULT_SEALED_B64 (4 * ((VAULT_NAME_MAX + CRYPTO_SEAL_OVERHEAD + 2) / 3) + 1)

struct vault_keys {
	unsigned char kek[CRYPTO_KEY_LEN];
	unsigned char root[CRYPTO_KEY_LEN];
	unsigned char data[CRYPTO_KEY_LEN];
	unsigned char index[CRYPTO_KEY_LEN];
	unsigned char audit[CRYPTO_KEY_LEN];
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
	pthread_mutex_t kdf_mu;	 /* one Argon2id derivation at a time */
	unsigned char *sign_key; /* CRYPTO_HASH_LEN bytes, secure heap */
	struct ratelimit *unlock_rl;
	struct regcache *tokens;      /* registry cache for token checks */
	struct token_cache *verified; /* tokens whose MAC and shape passed */
	struct rowcache *rows;	      /* sealed rows recently read */
	pthread_t timer;
	pthread_mutex_t tmu;
	pthread_cond_t tcv;
	int stopping;
	pthread_mutex_t seal_mu;
	struct vault_seal seals[VAULT_SEAL_SLOTS]; /* sealed names (vault_sealed_name) */
};

static const char *actor_user(const struct vault_actor *who)
{
	return who != NULL && who->user_id != NULL ? who->user_id : "system";
}

/* ---- keys and sessions ---- */

static int vault_derive(struct vault_keys *k)
{
	return crypto_hmac_sha256(k->root, CRYPTO_KEY_LEN, "groupvault data key", 19, k->data) ||
	       crypto_hmac_sha256(k->root, CRYPTO_KEY_LEN, "groupvault index key", 20, k->index) ||
	       crypto_hmac_sha256(k->root, CRYPTO_KEY_LEN, "groupvault audit key", 20, k->audit);
}

/* Caller holds rw for writing. */
static void vault_wipe_locked(struct vault *v)
{
	crypto_secure_free(v->keys, sizeof(*v->keys));
	v->keys = NULL;
	v->expires = 0;
	if (v->rows != NULL)
		rowcache_clear(v->rows);
	/* sealed names belong to the session's audit key */
	pthread_mutex_lock(&v->seal_mu);
	memset(v->seals, 0, sizeof(v->seals));
	pthread_mutex_unlock(&v->seal_mu);
}

/* Caller holds rw (read or write). Returns the keys if the session is live. */
static struct vault_keys *vault_keys_live(struct vault *v)
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

/* SIGNING_KEY, or a random one kept in DATA_DIR/signing.key; either way the
 * HMAC key is SHA-256 of the text, as the original derives it. */
static int vault_load_signing_key(struct vault *v)
{
	char path[2048], text[65] = {0};
	unsigned char raw[32];
	int fd, rc = -1;
	ssize_t n;

	v->sign_key = crypto_secure_alloc(CRYPTO_HASH_LEN);
	if (v->sign_key == NULL)
		return -1;
	if (v->cfg->signing_key[0] != '\0')
		return crypto_sha256(v->cfg->signing_key, strlen(v->cfg->signing_key), v->sign_key);
	snprintf(path, sizeof(path), "%s/signing.key", v->cfg->data_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, text, 64);
		close(fd);
		if (n != 64 || enc_hex_decode(text, 64, raw) != 0) {
			log_err("%s: %s is malformed", __func__, path);
			goto done;
		}
	} else {
		if (crypto_random(raw, sizeof(raw)) != 0)
			goto done;
		enc_hex_encode(raw, sizeof(raw), text);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, text, 64) != 64 || fsync(fd) != 0) {
			log_err("%s: cannot write %s: %s", __func__, path, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto done;
		}
		close(fd);
		log_info("generated a signing key in %s", path);
	}
	rc = crypto_sha256(text, 64, v->sign_key);
done:
	crypto_wipe(text, sizeof(text));
	crypto_wipe(raw, sizeof(raw));
	return rc;
}

struct vault *vault_new(const struct config *cfg)
{
	struct store_tx *tx;
	struct vault *v = calloc(1, sizeof(*v));
	unsigned char *val = NULL;
	size_t len;
	int r1, r2;

	if (v == NULL)
		return NULL;
	v->cfg = cfg;
	pthread_rwlock_init(&v->rw, NULL);
	pthread_mutex_init(&v->kdf_mu, NULL);
	pthread_mutex_init(&v->tmu, NULL);
	pthread_cond_init(&v->tcv, NULL);
	pthread_mutex_init(&v->seal_mu, NULL);
	v->st = store_open(cfg->data_dir);
	if (v->st == NULL)
		goto fail;
	if (vault_load_signing_key(v) != 0)
		goto fail;
	v->unlock_rl = ratelimit_new(VAULT_RL_SLOTS, cfg->unlock_max_failures, cfg->unlock_window);
	v->tokens = regcache_new(VAULT_TOKEN_CACHE);
	v->verified = token_cache_new(VAULT_TOKEN_CACHE);
	v->rows = rowcache_new(VAULT_ROW_CACHE);
	if (v->unlock_rl == NULL || v->tokens == NULL || v->verified == NULL || v->rows == NULL)
		goto fail;
	if ((tx = store_tx_begin(v->st, 0)) == NULL)
		goto fail;
	r1 = store_meta_get(tx, "root", &val, &len);
	free(val);
	val = NULL;
	r2 = store_meta_get(tx, "legacy", &val, &len);
	free(val);
	store_tx_rollback(tx);
	if (r1 < 0 || r2 < 0)
		goto fail;
	v->initialized = r1 == 0 || r2 == 0;
	if (pthread_create(&v->timer, NULL, vault_timer_main, v) != 0)
		goto fail;
	return v;
fail:
	store_close(v->st);
	ratelimit_free(v->unlock_rl);
	regcache_free(v->tokens);
	token_cache_free(v->verified);
	rowcache_free(v->rows);
	crypto_secure_free(v->sign_key, CRYPTO_HASH_LEN);
	free(v);
	return NULL;
}

void vault_free(struct vault *v)
{
	if (v == NULL)
		return;
	pthread_mutex_lock(&v->tmu);
	v->stopping = 1;
	pthread_cond_signal(&v->tcv);
	pthread_mutex_unlock(&v->tmu);
	pthread_join(v->timer, NULL);
	pthread_rwlock_wrlock(&v->rw);
	vault_wipe_locked(v);
	pthread_rwlock_unlock(&v->rw);
	store_close(v->st);
	ratelimit_free(v->unlock_rl);
	regcache_free(v->tokens);
	token_cache_free(v->verified);
	rowcache_free(v->rows);
	crypto_secure_free(v->sign_key, CRYPTO_HASH_LEN);
	free(v);
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

/* ---- audit ---- */

struct audit_ev {
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

/* A name sealed under the audit key, kept for the session: sealing costs
 * an AES key schedule per entry, and the cached ciphertext reveals nothing
 * the entry's blind index does not already (equal names). Caller holds rw. */
static int vault_sealed_name(struct vault *v, const struct vault_keys *k, const char *name,
			     size_t len, const unsigned char id[CRYPTO_HASH_LEN],
			     char out[VAULT_SEALED_B64])
{
	struct vault_seal *s = &v->seals[id[0] % VAULT_SEAL_SLOTS];
	unsigned char sealed[VAULT_NAME_MAX + CRYPTO_SEAL_OVERHEAD];
	int hit;

	if (len > VAULT_NAME_MAX)
		return -1;
	pthread_mutex_lock(&v->seal_mu);
	hit = s->used && memcmp(s->id, id, CRYPTO_HASH_LEN) == 0;
	if (hit)
		memcpy(out, s->b64, sizeof(s->b64));
	pthread_mutex_unlock(&v->seal_mu);
	if (hit)
		return 0;
	if (crypto_seal(k->audit, VAULT_AUDIT_AAD, sizeof(VAULT_AUDIT_AAD) - 1, name, len,
			sealed) != 0)
		return -1;
	enc_b64_encode(sealed, len + CRYPTO_SEAL_OVERHEAD, out, 0);
	pthread_mutex_lock(&v->seal_mu);
	memcpy(s->id, id, CRYPTO_HASH_LEN);
	memcpy(s->b64, out, sizeof(s->b64));
	s->used = 1;
	pthread_mutex_unlock(&v->seal_mu);
	return 0;
}

static void vault_jtext_field(struct jtext *t, const char *key, const char *val)
{
	jtext_raw(t, ",\"", 2);
	jtext_raw(t, key, strlen(key));
	jtext_raw(t, "\":", 2);
	jtext_str(t, val, strlen(val));
}

/* Builds an audit entry's text (free with free(); it holds no secret).
 * Names are sealed under the audit key and their blind index goes to *id;
 * with no key (vault locked) the name is left out entirely. The entry has a
 * fixed shape, so it is written directly rather than through a JSON tree:
 * this runs for every read. */
static char *vault_audit_text(struct vault *v, const struct vault_keys *k,
			      const struct audit_ev *ev, unsigned char id[CRYPTO_HASH_LEN],
			      int *has_id)
{
	const char *user = ev->user ? ev->user : "system", *ip = ev->ip ? ev->ip : "";
	char ts[32], sealed[VAULT_SEALED_B64], *text;
	struct jtext t;
	size_t cap;

	*has_id = 0;
	sealed[0] = '\0';
	if (ev->name != NULL && k != NULL) {
		if (ev->name_id == NULL &&
		    crypto_hmac_sha256(k->index, CRYPTO_KEY_LEN, ev->name, ev->namelen, id) != 0)
			return NULL;
		if (ev->name_id != NULL && ev->name_id != id)
			memcpy(id, ev->name_id, CRYPTO_HASH_LEN);
		if (vault_sealed_name(v, k, ev->name, ev->namelen, id, sealed) != 0)
			return NULL;
		*has_id = 1;
	}
	cap = 200 + sizeof(sealed) + JTEXT_STR_MAX(strlen(v->cfg->group_id)) +
	      JTEXT_STR_MAX(strlen(ev->action)) + JTEXT_STR_MAX(strlen(user)) +
	      JTEXT_STR_MAX(strlen(ip)) +
	      (ev->target_user ? JTEXT_STR_MAX(strlen(ev->target_user)) + 20 : 0) +
	      (ev->error ? JTEXT_STR_MAX(strlen(ev->error)) + 12 : 0);
	if ((text = malloc(cap)) == NULL)
		return NULL;
	util_iso8601(util_now_ms(), ts, sizeof(ts));
	jtext_init(&t, text, cap);
	jtext_raw(&t, "{\"timestamp\":", 13);
	jtext_str(&t, ts, strlen(ts));
	vault_jtext_field(&t, "groupId", v->cfg->group_id);
	vault_jtext_field(&t, "action", ev->action);
	vault_jtext_field(&t, "userId", user);
	vault_jtext_field(&t, "ipAddress", ip);
	if (ev->success)
		jtext_raw(&t, ",\"success\":true", 15);
	else
		jtext_raw(&t, ",\"success\":false", 16);
	if (ev->target_user != NULL)
		vault_jtext_field(&t, "targetUserId", ev->target_user);
	if (ev->error != NULL)
		vault_jtext_field(&t, "error", ev->error);
	if (*has_id) { /* base64: nothing to escape */
		jtext_raw(&t, ",\"secretKeySealed\":\"", 20);
		jtext_raw(&t, sealed, strlen(sealed));
		jtext_raw(&t, "\"", 1);
	}
	jtext_raw(&t, "}", 1);
	if (jtext_end(&t) != 0) {
		log_err("%s: entry larger than its bound", __func__);
		free(text);
		return NULL;
	}
	return text;
}

/* Appends inside the caller's write transaction. */
static int vault_audit_append(struct vault *v, struct store_tx *tx, const struct vault_keys *k,
			      const struct audit_ev *ev)
{
	unsigned char id[CRYPTO_HASH_LEN];
	int has_id, rc;
	char *text = vault_audit_text(v, k, ev, id, &has_id);

	if (text == NULL)
		return -1;
	rc = store_audit_append(tx, text, strlen(text), has_id ? id : NULL);
	free(text);
	return rc;
}

/* A stand-alone audited event in its own durable transaction. */
static enum api_err vault_audit_one(struct vault *v, const struct vault_keys *k,
				    const struct audit_ev *ev)
{
	struct store_tx *tx;
	if ((tx = store_tx_begin(v->st, 1)) == NULL)
		return API_AUDIT_FAILED;
	if (vault_audit_append(v, tx, k, ev) != 0) {
		store_tx_rollback(tx);
		return API_AUDIT_FAILED;
	}
	return store_tx_commit(tx) == 0 ? API_OK : API_AUDIT_FAILED;
}

struct audit_list_ctx {
	json_t *logs;
	const struct vault_keys *k;
};

static int vault_audit_row(void *arg, int64_t seq, const char *entry, size_t len)
{
	struct audit_list_ctx *c = arg;
	json_t *e = json_loadb(entry, len, 0, NULL), *sealed;

	(void)seq;
	if (!json_is_object(e)) {
		json_decref(e);
		return -1;
	}
	sealed = json_object_get(e, "secretKeySealed");
	if (json_is_string(sealed) && c->k != NULL) {
		const char *b = json_string_value(sealed);
		size_t blen = json_string_length(sealed), rawlen = 0;
		unsigned char *raw = malloc(blen / 4 * 3 + 3);

		if (raw != NULL && enc_b64_decode(b, blen, raw, &rawlen, 0) == 0 &&
		    rawlen >= CRYPTO_SEAL_OVERHEAD &&
		    crypto_open(c->k->audit, VAULT_AUDIT_AAD, sizeof(VAULT_AUDIT_AAD) - 1, raw,
				rawlen, raw) == 0)
			json_object_set_new(
			    e, "secretKey",
			    json_stringn((const char *)raw, rawlen - CRYPTO_SEAL_OVERHEAD));
		free(raw);
	}
	json_object_del(e, "secretKeySealed");
	json_array_append_new(c->logs, e);
	return 0;
}

enum api_err vault_audit_list(struct vault *v, const char *name, size_t len, int limit,
			      json_t **out)
{
	struct store_tx *tx;
	struct audit_list_ctx c = {json_array(), NULL};
	unsigned char id[CRYPTO_HASH_LEN];
	enum api_err err = API_OK;

	pthread_rwlock_rdlock(&v->rw);
	c.k = vault_keys_live(v);
	if (name != NULL) {
		/* Entries are found by blind index, which needs the index key. */
		if (c.k == NULL) {
			err = API_LOCKED;
			goto done;
		}
		crypto_hmac_sha256(c.k->index, CRYPTO_KEY_LEN, name, len, id);
	}
	if ((tx = store_tx_begin(v->st, 0)) == NULL) {
		err = API_STORE_FAILED;
		goto done;
	}
	if (store_audit_list(tx, name ? id : NULL, limit, vault_audit_row, &c) != 0)
		err = API_STORE_FAILED;
	store_tx_rollback(tx);
done:
	pthread_rwlock_unlock(&v->rw);
	if (err != API_OK) {
		json_decref(c.logs);
		return err;
	}
	*out = json_pack("{s:o}", "logs", c.logs);
	return API_OK;
}

enum api_err vault_audit_verify(struct vault *v, json_t **out)
{
	struct store_tx *tx;
	unsigned char head[CRYPTO_HASH_LEN];
	char hex[2 * CRYPTO_HASH_LEN + 1];
	int64_t n = 0, bad = 0;
	int r;

	if ((tx = store_tx_begin(v->st, 0)) == NULL)
		return API_STORE_FAILED;
	r = store_audit_verify(tx, &n, &bad, head);
	store_tx_rollback(tx);
	if (r < 0)
		return API_STORE_FAILED;
	enc_hex_encode(head, sizeof(head), hex);
	*out = json_pack("{s:b,s:I,s:s}", "valid", r == 0, "entries", (json_int_t)n, "head", hex);
	if (r == 1)
		json_object_set_new(*out, "firstBadSeq", json_integer(bad));
	return API_OK;
}

/* ---- init, unlock, lock ---- */

static json_t *vault_kdf_json(const struct crypto_kdf *kdf, const unsigned char *salt)
{
	char s[64];

	enc_b64_encode(salt, CRYPTO_KDF_SALT_LEN, s, 0);
	return json_pack("{s:s,s:i,s:i,s:i,s:i,s:s}", "algorithm", "argon2id", "version", 19,
			 "memory", (int)kdf->memory_kib, "iterations", (int)kdf->iterations,
			 "parallelism", (int)kdf->parallelism, "salt", s);
}

/* Reads and bounds-checks a kdf object. Returns 0, or -1 if malformed, or
 * -2 if well-formed but outside the accepted bounds. */
static int vault_kdf_parse(json_t *o, struct crypto_kdf *kdf, unsigned char *salt)
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

static int vault_meta_kdf(struct store_tx *tx, struct crypto_kdf *kdf, unsigned char *salt)
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

/* Runs Argon2id unless another derivation is already running. */
static enum api_err vault_kdf_run(struct vault *v, const struct crypto_kdf *kdf,
				  const unsigned char *salt, const char *pw, size_t pwlen,
				  unsigned char *out)
{
	int rc;

	if (pthread_mutex_trylock(&v->kdf_mu) != 0)
		return API_KDF_BUSY;
	rc = crypto_argon2id(kdf, pw, pwlen, salt, CRYPTO_KDF_SALT_LEN, out, CRYPTO_KEY_LEN);
	pthread_mutex_unlock(&v->kdf_mu);
	crypto_scrub_stack();
	return rc == 0 ? API_OK : API_INTERNAL;
}

enum api_err vault_init(struct vault *v, const char *pw, size_t pwlen,
			const struct vault_actor *who)
{
	struct store_tx *tx;
	struct crypto_kdf kdf = {v->cfg->kdf_memory, v->cfg->kdf_iterations,
				 v->cfg->kdf_parallelism};
	unsigned char salt[CRYPTO_KDF_SALT_LEN], wrapped[CRYPTO_KEY_LEN + CRYPTO_SEAL_OVERHEAD];
	struct vault_keys *k = crypto_secure_alloc(sizeof(*k));
	struct audit_ev ev = {
	    "vault.initialized", actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};
	char ts[32], *kdftext = NULL;
	json_t *kj = NULL;
	enum api_err err;

	if (k == NULL)
		return API_INTERNAL;
	if (vault_is_initialized(v)) {
		err = API_ALREADY_INIT;
		goto done;
	}
	if (crypto_random(salt, sizeof(salt)) != 0 || crypto_random(k->root, CRYPTO_KEY_LEN) != 0) {
		err = API_INTERNAL;
		goto done;
	}
	err = vault_kdf_run(v, &kdf, salt, pw, pwlen, k->kek);
	if (err != API_OK)
		goto done;
	kj = vault_kdf_json(&kdf, salt);
	kdftext = kj ? json_dumps(kj, JSON_COMPACT) : NULL;
	if (kdftext == NULL || crypto_seal(k->kek, VAULT_ROOT_AAD, sizeof(VAULT_ROOT_AAD) - 1,
					   k->root, CRYPTO_KEY_LEN, wrapped) != 0) {
		err = API_INTERNAL;
		goto done;
	}
	util_iso8601(util_now_ms(), ts, sizeof(ts));
	pthread_rwlock_wrlock(&v->rw);
	if (v->initialized) {
		err = API_ALREADY_INIT;
	} else if ((tx = store_tx_begin(v->st, 1)) == NULL) {
		err = API_STORE_FAILED;
	} else if (store_meta_put(tx, "kdf", kdftext, strlen(kdftext)) != 0 ||
		   store_meta_put(tx, "root", wrapped, sizeof(wrapped)) != 0 ||
		   store_meta_put(tx, "created", ts, strlen(ts)) != 0 ||
		   vault_audit_append(v, tx, NULL, &ev) != 0) {
		store_tx_rollback(tx);
		err = API_STORE_FAILED;
	} else if (store_tx_commit(tx) != 0) {
		err = API_STORE_FAILED;
	} else {
		v->initialized = 1;
		err = API_OK;
	}
	pthread_rwlock_unlock(&v->rw);
done:
	crypto_wipe_free(kdftext);
	json_decref(kj);
	crypto_secure_free(k, sizeof(*k));
	crypto_scrub_stack();
	return err;
}

/* Turns an ocmt-v1 vault into native records, all in the caller's write
 * transaction. kek is the Argon2id output that decrypts it. */
static enum api_err vault_migrate_v1(struct store_tx *tx, struct vault_keys *k, const char *legacy,
				     size_t legacylen, long long *count)
{
	json_t *doc = json_loadb(legacy, legacylen, 0, NULL), *enc, *secrets, *val, *plain = NULL;
	unsigned char nonce[CRYPTO_NONCE_LEN + 3], tag[CRYPTO_TAG_LEN + 3], *ct = NULL, *pt = NULL;
	unsigned char wrapped[CRYPTO_KEY_LEN + CRYPTO_SEAL_OVERHEAD];
	size_t nlen = 0, tlen = 0, ctlen = 0;
	const char *name, *ctb64;
	enum api_err err = API_CORRUPT;

	enc = json_object_get(doc, "encryption");
	ctb64 = json_string_value(json_object_get(doc, "ciphertext"));
	if (!json_is_object(enc) || ctb64 == NULL)
		goto done;
	ctlen = strlen(ctb64);
	ct = malloc(ctlen / 4 * 3 + 3);
	pt = crypto_wipe_malloc(ctlen / 4 * 3 + 3);
	if (ct == NULL || pt == NULL ||
	    enc_b64_decode(json_string_value(json_object_get(enc, "nonce")),
			   json_string_length(json_object_get(enc, "nonce")), nonce, &nlen,
			   0) != 0 ||
	    enc_b64_decode(json_string_value(json_object_get(enc, "tag")),
			   json_string_length(json_object_get(enc, "tag")), tag, &tlen, 0) != 0 ||
	    enc_b64_decode(ctb64, ctlen, ct, &ctlen, 0) != 0 || nlen != CRYPTO_NONCE_LEN ||
	    tlen != CRYPTO_TAG_LEN)
		goto done;
	if (crypto_gcm_decrypt(k->kek, nonce, NULL, 0, ct, ctlen, tag, pt) != 0) {
		err = API_BAD_PASSWORD;
		goto done;
	}
	plain = json_loadb((const char *)pt, ctlen, JSON_ALLOW_NUL, NULL);
	secrets = json_object_get(plain, "secrets");
	if (secrets == NULL)
		secrets = json_object();
	else
		json_incref(secrets);
	if (!json_is_object(secrets)) {
		json_decref(secrets);
		goto done;
	}
	if (crypto_random(k->root, CRYPTO_KEY_LEN) != 0 || vault_derive(k) != 0 ||
	    crypto_seal(k->kek, VAULT_ROOT_AAD, sizeof(VAULT_ROOT_AAD) - 1, k->root, CRYPTO_KEY_LEN,
			wrapped) != 0) {
		json_decref(secrets);
		err = API_INTERNAL;
		goto done;
	}
	*count = 0;
	json_object_foreach(secrets, name, val)
	{
		unsigned char id[CRYPTO_HASH_LEN], *rec;
		json_t *md = json_object_get(val, "metadata"), *r;
		size_t rlen;

		if (!util_valid_name(name, strlen(name)) ||
		    !json_is_string(json_object_get(val, "value"))) {
			log_warn("%s: skipped a secret with an invalid name or value", __func__);
			continue;
		}
		r = json_pack("{s:s,s:O,s:o,s:O,s:O}", "key", name, "value",
			      json_object_get(val, "value"), "metadata",
			      json_is_object(md) ? json_incref(md) : json_object(), "updatedAt",
			      json_object_get(val, "updatedAt") ? json_object_get(val, "updatedAt")
								: json_null(),
			      "updatedBy",
			      json_object_get(val, "updatedBy") ? json_object_get(val, "updatedBy")
								: json_null());
		crypto_hmac_sha256(k->index, CRYPTO_KEY_LEN, name, strlen(name), id);
		rec = r ? record_seal(k->data, id, 1, r, &rlen) : NULL;
		json_decref(r);
		if (rec == NULL || store_secret_put(tx, id, 1, rec, rlen) != 0) {
			free(rec);
			json_decref(secrets);
			err = API_STORE_FAILED;
			goto done;
		}
		free(rec);
		(*count)++;
	}
	json_decref(secrets);
	if (store_meta_put(tx, "root", wrapped, sizeof(wrapped)) != 0 ||
	    store_meta_del(tx, "legacy") != 0) {
		err = API_STORE_FAILED;
		goto done;
	}
	err = API_OK;
done:
	json_decref(plain);
	json_decref(doc);
	free(ct);
	crypto_wipe_free(pt);
	return err;
}

enum api_err vault_unlock(struct vault *v, const char *pw, size_t pwlen,
			  const struct vault_actor *who, long long *secret_count,
			  unsigned *retry_after)
{
	struct store_tx *tx;
	struct crypto_kdf kdf;
	unsigned char salt[CRYPTO_KDF_SALT_LEN], *wrapped = NULL, *legacy = NULL;
	size_t wlen = 0, llen = 0;
	struct vault_keys *k = NULL;
	struct audit_ev ev = {
	    "vault.unlocked", actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};
	enum api_err err;
	int rl, rw, r;

	if (!vault_is_initialized(v))
		return API_NOT_INIT;
	*retry_after = ratelimit_blocked(v->unlock_rl, who->ip, util_mono_ms());
	if (*retry_after > 0)
		return API_UNLOCK_LIMIT;
	if ((tx = store_tx_begin(v->st, 0)) == NULL)
		return API_STORE_FAILED;
	r = vault_meta_kdf(tx, &kdf, salt);
	rw = store_meta_get(tx, "root", &wrapped, &wlen);
	rl = store_meta_get(tx, "legacy", &legacy, &llen);
	store_tx_rollback(tx);
	if (r != 0 || rw < 0 || rl < 0 || (rw != 0 && rl != 0)) {
		err = API_CORRUPT;
		goto done;
	}
	k = crypto_secure_alloc(sizeof(*k));
	if (k == NULL) {
		err = API_INTERNAL;
		goto done;
	}
	err = vault_kdf_run(v, &kdf, salt, pw, pwlen, k->kek);
	if (err != API_OK)
		goto done;
	pthread_rwlock_wrlock(&v->rw);
	if ((tx = store_tx_begin(v->st, 1)) == NULL) {
		err = API_STORE_FAILED;
	} else {
		if (rw == 0) {
			if (wlen != CRYPTO_KEY_LEN + CRYPTO_SEAL_OVERHEAD ||
			    crypto_open(k->kek, VAULT_ROOT_AAD, sizeof(VAULT_ROOT_AAD) - 1, wrapped,
					wlen, k->root) != 0)
				err = API_BAD_PASSWORD;
			else if (vault_derive(k) != 0)
				err = API_INTERNAL;
		} else {
			err = vault_migrate_v1(tx, k, (const char *)legacy, llen, secret_count);
		}
		if (err == API_OK) {
			*secret_count = store_secret_count(tx);
			if (*secret_count < 0 || vault_audit_append(v, tx, k, &ev) != 0) {
				err = API_AUDIT_FAILED;
				store_tx_rollback(tx);
			} else if (store_tx_commit(tx) != 0) {
				err = API_AUDIT_FAILED;
			} else {
				vault_wipe_locked(v);
				v->keys = k;
				k = NULL;
				v->expires = util_mono_ms() + (int64_t)v->cfg->session_ttl * 1000;
			}
		} else {
			store_tx_rollback(tx);
		}
	}
	pthread_rwlock_unlock(&v->rw);
	if (err == API_BAD_PASSWORD) {
		struct audit_ev fail = {"vault.unlock_failed",
					actor_user(who),
					who->ip,
					NULL,
					0,
					NULL,
					"Invalid password",
					0,
					NULL};
		ratelimit_fail(v->unlock_rl, who->ip, util_mono_ms());
		vault_audit_one(v, NULL, &fail);
	} else if (err == API_OK) {
		ratelimit_clear(v->unlock_rl, who->ip);
		pthread_mutex_lock(&v->tmu);
		pthread_cond_signal(&v->tcv);
		pthread_mutex_unlock(&v->tmu);
	}
done:
	crypto_secure_free(k, sizeof(*k));
	free(wrapped);
	free(legacy);
	crypto_scrub_stack();
	return err;
}

enum api_err vault_lock(struct vault *v, const struct vault_actor *who)
{
	struct audit_ev ev = {
	    "vault.locked", actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};

	pthread_rwlock_wrlock(&v->rw);
	vault_wipe_locked(v);
	pthread_rwlock_unlock(&v->rw);
	return vault_audit_one(v, NULL, &ev);
}

enum api_err vault_extend(struct vault *v, unsigned *expires_in)
{
	enum api_err err = API_LOCKED;

	pthread_rwlock_wrlock(&v->rw);
	if (vault_keys_live(v) != NULL) {
		v->expires = util_mono_ms() + (int64_t)v->cfg->session_ttl * 1000;
		*expires_in = v->cfg->session_ttl;
		err = API_OK;
	}
	pthread_rwlock_unlock(&v->rw);
	return err;
}

/* ---- capability tokens ---- */

enum api_err vault_token_issue(struct vault *v, const char *user_id, json_t *allowed, json_t *perms,
			       long long ttl_s, const struct vault_actor *who, json_t **out)
{
	struct store_tx *tx;
	struct audit_ev ev = {"token.issued", user_id, who->ip, NULL, 0, NULL, NULL, 1, NULL};
	unsigned char rnd[16], *sealed = NULL;
	char id[TOKEN_ID_LEN + 1], *tok = NULL, *scope = NULL;
	int64_t now = util_now_ms(), expires = now + ttl_s * 1000, issued;
	struct vault_keys *k;
	json_t *payload = NULL, *sj = NULL;
	size_t slen = 0;
	enum api_err err = API_INTERNAL;

	if (crypto_random(rnd, sizeof(rnd)) != 0)
		return API_INTERNAL;
	enc_hex_encode(rnd, sizeof(rnd), id);
	pthread_rwlock_rdlock(&v->rw);
	k = vault_keys_live(v);
	if (k == NULL) {
		err = API_LOCKED;
		goto done;
	}
	payload = json_pack("{s:s,s:s,s:s,s:O,s:O,s:I}", "id", id, "groupId", v->cfg->group_id,
			    "userId", user_id, "allowedSecrets", allowed, "permissions", perms,
			    "expiresAt", (json_int_t)expires);
	sj = json_pack("{s:O,s:O,s:s}", "allowedSecrets", allowed, "permissions", perms, "issuedBy",
		       actor_user(who));
	tok = payload ? token_sign(v->sign_key, CRYPTO_HASH_LEN, payload) : NULL;
	scope = sj ? json_dumps(sj, JSON_COMPACT) : NULL;
	if (tok == NULL || scope == NULL)
		goto done;
	slen = strlen(scope) + CRYPTO_SEAL_OVERHEAD;
	sealed = malloc(slen);
	if (sealed == NULL || crypto_seal(k->data, VAULT_TOKEN_AAD, sizeof(VAULT_TOKEN_AAD) - 1,
					  scope, strlen(scope), sealed) != 0)
		goto done;
	if ((tx = store_tx_begin(v->st, 1)) == NULL) {
		err = API_STORE_FAILED;
		goto done;
	}
	issued = store_token_count_since(tx, user_id, now - 3600 * 1000);
	if (issued < 0) {
		store_tx_rollback(tx);
		err = API_STORE_FAILED;
		goto done;
	}
	if (issued >= (int64_t)v->cfg->token_issue_per_hour) {
		store_tx_rollback(tx);
		err = API_TOKEN_LIMIT;
		goto done;
	}
	{
		unsigned char digest[CRYPTO_HASH_LEN];
		struct store_token t = {id, user_id, now, expires, sealed, slen, digest};
		crypto_sha256(tok, strcspn(tok, "."), digest);
		if (store_token_put(tx, &t) != 0 || store_token_purge(tx, now) < 0 ||
		    vault_audit_append(v, tx, k, &ev) != 0) {
			store_tx_rollback(tx);
			err = API_STORE_FAILED;
			goto done;
		}
	}
	if (store_tx_commit(tx) != 0) {
		err = API_STORE_FAILED;
		goto done;
	}
	*out = json_pack("{s:s,s:I,s:s,s:I}", "token", tok, "expiresIn", (json_int_t)ttl_s, "id",
			 id, "expiresAt", (json_int_t)expires);
	err = *out ? API_OK : API_INTERNAL;
done:
	pthread_rwlock_unlock(&v->rw);
	free(sealed);
	crypto_wipe_free(scope);
	free(tok);
	json_decref(sj);
	json_decref(payload);
	return err;
}

enum api_err vault_token_check(struct vault *v, const char *tok, size_t len, struct cap **cap)
{
	struct store_tx *tx;
	struct cap *c = token_verify_cached(v->verified, v->sign_key, CRYPTO_HASH_LEN, tok, len);
	unsigned char stored[CRYPTO_HASH_LEN];
	int64_t expires = 0;
	int revoked = 0, r;

	if (c == NULL)
		return API_TOKEN_INVALID;
	if (c->expires_at < util_now_ms()) {
		token_cap_free(c);
		return API_TOKEN_INVALID;
	}
	if (strcmp(c->group_id, v->cfg->group_id) != 0) {
		token_cap_free(c);
		return API_WRONG_GROUP;
	}
	/* The registry row must be for exactly these payload bytes. */
	if (!regcache_get(v->tokens, c->id, stored, &expires)) {
		uint64_t gen = regcache_gen(v->tokens);

		if ((tx = store_tx_begin(v->st, 0)) == NULL) {
			token_cap_free(c);
			return API_STORE_FAILED;
		}
		r = store_token_get(tx, c->id, &revoked, &expires, stored);
		store_tx_rollback(tx);
		if (r != 0 || revoked) {
			token_cap_free(c);
			return r < 0 ? API_STORE_FAILED : API_TOKEN_INVALID;
		}
		regcache_put(v->tokens, gen, c->id, stored, expires);
	}
	if (expires != c->expires_at || !crypto_equal(stored, c->digest, CRYPTO_HASH_LEN)) {
		token_cap_free(c);
		return API_TOKEN_INVALID;
	}
	*cap = c;
	return API_OK;
}

enum api_err vault_token_revoke(struct vault *v, const char *id, const struct vault_actor *who)
{
	struct store_tx *tx;
	struct audit_ev ev = {
	    "token.revoked", actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};
	int64_t n;
	int r;

	if ((tx = store_tx_begin(v->st, 1)) == NULL)
		return API_STORE_FAILED;
	regcache_clear(v->tokens);
	n = store_token_revoke(tx, id, util_now_ms());
	if (n < 0 || vault_audit_append(v, tx, NULL, &ev) != 0) {
		store_tx_rollback(tx);
		return API_STORE_FAILED;
	}
	r = store_tx_commit(tx);
	regcache_clear(v->tokens);
	return r == 0 ? API_OK : API_STORE_FAILED;
}

enum api_err vault_token_revoke_user(struct vault *v, const char *user_id,
				     const struct vault_actor *who, long long *count)
{
	struct store_tx *tx;
	struct audit_ev ev = {
	    "tokens.revoked.user", actor_user(who), who->ip, NULL, 0, user_id, NULL, 1, NULL};
	int64_t n;
	int r;

	if ((tx = store_tx_begin(v->st, 1)) == NULL)
		return API_STORE_FAILED;
	regcache_clear(v->tokens);
	n = store_token_revoke_user(tx, user_id, util_now_ms());
	if (n < 0 || vault_audit_append(v, tx, NULL, &ev) != 0) {
		store_tx_rollback(tx);
		return API_STORE_FAILED;
	}
	r = store_tx_commit(tx);
	regcache_clear(v->tokens);
	if (r != 0)
		return API_STORE_FAILED;
	*count = n;
	return API_OK;
}

/* ---- secrets ---- */

/* Records a denial in its own transaction; the caller answers the denial
 * whether or not that audit write succeeded (nothing is revealed). */
static void vault_deny(struct vault *v, const struct vault_keys *k, const char *action,
		       const struct cap *cap, const char *name, size_t len, const char *ip,
		       const char *error)
{
	struct audit_ev ev = {action, cap->user_id, ip, name, len, NULL, error, 0, NULL};

	if (vault_audit_one(v, k, &ev) != API_OK)
		log_warn("%s: could not audit %s", __func__, action);
}

/* The checks every secret operation starts with. On API_OK the session's
 * keys are in *k and the caller holds v->rw for reading; otherwise the
 * denial has been audited and nothing is held. */
static enum api_err vault_secret_begin(struct vault *v, const struct cap *cap, const char *name,
				       size_t len, const char *ip, unsigned perm,
				       const char *denied, struct vault_keys **k)
{
	pthread_rwlock_rdlock(&v->rw);
	*k = vault_keys_live(v);
	if (*k == NULL) {
		pthread_rwlock_unlock(&v->rw);
		vault_deny(v, NULL, denied, cap, NULL, 0, ip, "Vault is locked");
		return API_LOCKED;
	}
	if (!token_allows(cap, name, len, perm)) {
		vault_deny(v, *k, denied, cap, name, len, ip, "Access denied");
		pthread_rwlock_unlock(&v->rw);
		return API_ACCESS_DENIED;
	}
	return API_OK;
}

/* Work whose answer waits for a commit: a read (its audit entry) or a
 * write (the record and its audit entry, written by the committer). */
struct vault_defer {
	struct vault *v;
	char *answer; /* a read's answer (wipe-on-free), held back until the entry is durable */
	size_t answer_len;
	char *entry; /* a read's entry; a write's "created" entry */
	unsigned char id[CRYPTO_HASH_LEN];
	int has_id;
	/* a write */
	int is_put;
	unsigned char *data_key; /* a copy in the secure heap */
	json_t *rec;
	char *entry_updated;
	int created;
	void (*done)(void *ctx, int rc); /* the submitter's, called by vault_put_done */
	void *done_ctx;
};

void vault_defer_free(struct vault_defer *r)
{
	if (r == NULL)
		return;
	crypto_wipe_free(r->answer);
	json_decref(r->rec);
	free(r->entry);
	free(r->entry_updated);
	crypto_secure_free(r->data_key, CRYPTO_KEY_LEN);
	free(r);
}

char *vault_defer_take(struct vault_defer *r, size_t *len)
{
	static const char put_new[] = "{\"success\":true,\"created\":true}";
	static const char put_old[] = "{\"success\":true,\"created\":false}";
	char *a = r->answer;

	if (r->is_put) {
		const char *t = r->created ? put_new : put_old;
		*len = strlen(t);
		if ((a = crypto_wipe_malloc(*len + 1)) != NULL)
			memcpy(a, t, *len + 1);
		return a;
	}
	*len = r->answer_len;
	r->answer = NULL;
	return a;
}

/* Runs on the committer thread inside the batch: bump the version, seal
 * the record for it (the AAD binds the version), write it and its entry. */
static int vault_put_job(struct store_tx *tx, void *arg)
{
	struct vault_defer *d = arg;
	unsigned char *old = NULL, *rec;
	int64_t version = 0;
	size_t olen = 0, rlen = 0;
	const char *entry;
	int found, rc;

	/* Forgotten before the commit and again after it (vault_put_done), so
	 * no read started after the acknowledgement finds the old row cached. */
	rowcache_forget(d->v->rows, d->id);
	found = store_secret_get(tx, d->id, &version, &old, &olen);
	free(old);
	if (found < 0)
		return -1;
	d->created = found == 1;
	rec = record_seal(d->data_key, d->id, version + 1, d->rec, &rlen);
	if (rec == NULL)
		return -1;
	rc = store_secret_put(tx, d->id, version + 1, rec, rlen);
	free(rec);
	entry = d->created ? d->entry : d->entry_updated;
	if (rc != 0 || store_audit_append(tx, entry, strlen(entry), d->has_id ? d->id : NULL) != 0)
		return -1;
	return 0;
}

enum api_err vault_defer_failure(const struct vault_defer *r)
{
	return r->is_put ? API_STORE_FAILED : API_AUDIT_FAILED;
}

/* Runs on the committer after the batch holding a write committed (or
 * failed), before the write is answered. */
static void vault_put_done(void *arg, int rc)
{
	struct vault_defer *d = arg;

	rowcache_forget(d->v->rows, d->id);
	d->done(d->done_ctx, rc);
}

int vault_defer_submit(struct vault_defer *r, void (*done)(void *ctx, int rc), void *ctx)
{
	if (r->is_put) {
		r->done = done;
		r->done_ctx = ctx;
		return store_write_async(r->v->st, vault_put_job, r, vault_put_done, r);
	}
	return store_audit_async(r->v->st, r->entry, strlen(r->entry), r->has_id ? r->id : NULL,
				 done, ctx);
}

struct reveal_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, rc;
};

static void vault_defer_woken(void *ctx, int rc)
{
	struct reveal_wait *w = ctx;

	pthread_mutex_lock(&w->mu);
	w->done = 1;
	w->rc = rc;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

enum api_err vault_defer_wait(struct vault_defer *r)
{
	struct reveal_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

	if (vault_defer_submit(r, vault_defer_woken, &w) != 0)
		return vault_defer_failure(r);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	return w.rc == 0 ? API_OK : vault_defer_failure(r);
}

enum api_err vault_secret_get(struct vault *v, const struct cap *cap, const char *name, size_t len,
			      const char *ip, struct vault_defer **out)
{
	struct store_tx *tx;
	struct audit_ev ev = {"secret.read", cap->user_id, ip, name, len, NULL, NULL, 1, NULL};
	unsigned char id[CRYPTO_HASH_LEN], *rec = NULL;
	struct vault_defer *rv = NULL;
	struct vault_keys *k;
	int64_t version = 0;
	size_t rlen = 0;
	enum api_err err;
	int found;

	err = vault_secret_begin(v, cap, name, len, ip, TOKEN_PERM_READ, "secret.read.denied", &k);
	if (err != API_OK)
		return err;
	crypto_hmac_sha256(k->index, CRYPTO_KEY_LEN, name, len, id);
	found = rowcache_get(v->rows, id, &version, &rec, &rlen) ? 0 : 1;
	if (found != 0) {
		uint64_t gen = rowcache_gen(v->rows);

		if ((tx = store_tx_begin(v->st, 0)) == NULL) {
			err = API_STORE_FAILED;
			goto done;
		}
		found = store_secret_get(tx, id, &version, &rec, &rlen);
		store_tx_rollback(tx);
		if (found == 0)
			rowcache_put(v->rows, gen, id, version, rec, rlen);
	}
	if (found != 0) {
		err = found > 0 ? API_NOT_FOUND : API_STORE_FAILED;
		goto done;
	}
	rv = calloc(1, sizeof(*rv));
	if (rv == NULL) {
		err = API_INTERNAL;
		goto done;
	}
	rv->v = v;
	rv->answer = record_answer(k->data, id, version, rec, rlen, name, len, &rv->answer_len);
	if (rv->answer == NULL) {
		log_err("%s: a stored record failed its integrity check", __func__);
		err = API_CORRUPT;
		goto done;
	}
	/* Audit before reveal: the caller sends the answer only after this entry
	 * commits (vault_defer_submit / vault_defer_wait). */
	ev.name_id = id; /* computed above; no second HMAC on the hot path */
	rv->entry = vault_audit_text(v, k, &ev, rv->id, &rv->has_id);
	if (rv->entry == NULL) {
		err = API_INTERNAL;
		goto done;
	}
	*out = rv;
	rv = NULL;
	err = API_OK;
done:
	pthread_rwlock_unlock(&v->rw);
	vault_defer_free(rv);
	free(rec);
	return err;
}

enum api_err vault_secret_put(struct vault *v, const struct cap *cap, const char *name, size_t len,
			      json_t *value, json_t *metadata, const char *ip,
			      struct vault_defer **out)
{
	struct audit_ev ev = {"secret.created", cap->user_id, ip, name, len, NULL, NULL, 1, NULL};
	struct vault_defer *d;
	struct vault_keys *k;
	char ts[32];
	int has_id2;
	enum api_err err;

	err =
	    vault_secret_begin(v, cap, name, len, ip, TOKEN_PERM_WRITE, "secret.write.denied", &k);
	if (err != API_OK)
		return err;
	err = API_INTERNAL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		goto done;
	d->v = v;
	d->is_put = 1;
	d->data_key = crypto_secure_alloc(CRYPTO_KEY_LEN);
	if (d->data_key == NULL)
		goto done;
	memcpy(d->data_key, k->data, CRYPTO_KEY_LEN);
	util_iso8601(util_now_ms(), ts, sizeof(ts));
	d->rec = json_pack("{s:s%,s:O,s:o,s:s,s:s}", "key", name, len, "value", value, "metadata",
			   metadata ? json_incref(metadata) : json_object(), "updatedAt", ts,
			   "updatedBy", cap->user_id);
	/* Both entries are ready; the committer picks one once it knows. The
	 * blind index is computed once, for the row and both entries. */
	crypto_hmac_sha256(k->index, CRYPTO_KEY_LEN, name, len, d->id);
	ev.name_id = d->id;
	d->entry = vault_audit_text(v, k, &ev, d->id, &d->has_id);
	ev.action = "secret.updated";
	d->entry_updated = vault_audit_text(v, k, &ev, d->id, &has_id2);
	if (d->rec == NULL || d->entry == NULL || d->entry_updated == NULL || !d->has_id)
		goto done;
	*out = d;
	d = NULL;
	err = API_OK;
done:
	pthread_rwlock_unlock(&v->rw);
	vault_defer_free(d);
	return err;
}

enum api_err vault_secret_delete(struct vault *v, const struct cap *cap, const char *name,
				 size_t len, const char *ip)
{
	struct store_tx *tx;
	struct audit_ev ev = {"secret.deleted", cap->user_id, ip, name, len, NULL, NULL, 1, NULL};
	unsigned char id[CRYPTO_HASH_LEN];
	struct vault_keys *k;
	enum api_err err;
	int r;

	err = vault_secret_begin(v, cap, name, len, ip, TOKEN_PERM_DELETE, "secret.delete.denied",
				 &k);
	if (err != API_OK)
		return err;
	crypto_hmac_sha256(k->index, CRYPTO_KEY_LEN, name, len, id);
	rowcache_forget(v->rows, id); /* and again once committed, below */
	if ((tx = store_tx_begin(v->st, 1)) == NULL) {
		err = API_STORE_FAILED;
		goto done;
	}
	r = store_secret_del(tx, id);
	if (r != 0) {
		store_tx_rollback(tx);
		err = r > 0 ? API_NOT_FOUND : API_STORE_FAILED;
		goto done;
	}
	if (vault_audit_append(v, tx, k, &ev) != 0) {
		store_tx_rollback(tx);
		err = API_STORE_FAILED;
		goto done;
	}
	err = store_tx_commit(tx) == 0 ? API_OK : API_STORE_FAILED;
	rowcache_forget(v->rows, id);
done:
	pthread_rwlock_unlock(&v->rw);
	return err;
}

struct list_ctx {
	const struct vault_keys *k;
	const struct cap *cap; /* NULL: everything (export) */
	json_t *out;	       /* keys array, or secrets object for ocmt-v1 */
	int v1;
};

static int vault_list_row(void *arg, const unsigned char *id, int64_t version,
			  const unsigned char *rec, size_t len)
{
	struct list_ctx *c = arg;
	json_t *r = record_open(c->k->data, id, version, rec, len), *md;
	const char *name;

	if (r == NULL) {
		log_err("%s: a stored record failed its integrity check", __func__);
		return 1;
	}
	name = json_string_value(json_object_get(r, "key"));
	md = json_object_get(r, "metadata");
	if (!json_is_object(md))
		md = json_object();
	else
		json_incref(md);
	if (c->v1) {
		json_object_set_new(c->out, name,
				    json_pack("{s:O,s:o,s:O,s:O}", "value",
					      json_object_get(r, "value"), "metadata", md,
					      "updatedAt", json_object_get(r, "updatedAt"),
					      "updatedBy", json_object_get(r, "updatedBy")));
	} else if (c->cap == NULL || token_in_scope(c->cap, name, strlen(name))) {
		json_array_append_new(c->out, json_pack("{s:s,s:o}", "key", name, "metadata", md));
	} else {
		json_decref(md);
	}
	json_decref(r);
	return 0;
}

enum api_err vault_secret_list(struct vault *v, const struct cap *cap, const char *ip, json_t **out)
{
	struct store_tx *tx;
	struct audit_ev ev = {"secrets.listed", cap->user_id, ip, NULL, 0, NULL, NULL, 1, NULL};
	struct list_ctx c = {NULL, cap, NULL, 0};
	enum api_err err;
	int r;

	pthread_rwlock_rdlock(&v->rw);
	c.k = vault_keys_live(v);
	if (c.k == NULL) {
		pthread_rwlock_unlock(&v->rw);
		vault_deny(v, NULL, "secrets.list.denied", cap, NULL, 0, ip, "Vault is locked");
		return API_LOCKED;
	}
	if (!(cap->perms & TOKEN_PERM_READ)) {
		vault_deny(v, c.k, "secrets.list.denied", cap, NULL, 0, ip, "Access denied");
		pthread_rwlock_unlock(&v->rw);
		return API_ACCESS_DENIED;
	}
	c.out = json_array();
	if ((tx = store_tx_begin(v->st, 1)) == NULL) {
		err = API_AUDIT_FAILED;
		goto done;
	}
	r = store_secret_each(tx, vault_list_row, &c);
	if (r != 0) {
		store_tx_rollback(tx);
		err = r > 0 ? API_CORRUPT : API_STORE_FAILED;
		goto done;
	}
	if (vault_audit_append(v, tx, c.k, &ev) != 0) {
		store_tx_rollback(tx);
		err = API_AUDIT_FAILED;
		goto done;
	}
	err = store_tx_commit(tx) == 0 ? API_OK : API_AUDIT_FAILED;
done:
	pthread_rwlock_unlock(&v->rw);
	if (err == API_OK)
		*out = json_pack("{s:O}", "keys", c.out);
	json_decref(c.out);
	return err;
}

/* ---- export / import ---- */

static int vault_export_row(void *arg, const unsigned char *id, int64_t version,
			    const unsigned char *rec, size_t len)
{
	json_t *records = arg;
	char hex[2 * CRYPTO_HASH_LEN + 1], *b64 = malloc(enc_b64_len(len, 0));

	if (b64 == NULL)
		return -1;
	enc_hex_encode(id, CRYPTO_HASH_LEN, hex);
	enc_b64_encode(rec, len, b64, 0);
	json_array_append_new(records, json_pack("{s:s,s:I,s:s}", "id", hex, "version",
						 (json_int_t)version, "sealed", b64));
	free(b64);
	return 0;
}

static json_t *vault_meta_json(struct store_tx *tx, const char *name)
{
	unsigned char *val = NULL;
	size_t len;
	json_t *o = NULL;

	if (store_meta_get(tx, name, &val, &len) == 0)
		o = json_loadb((const char *)val, len, 0, NULL);
	free(val);
	return o;
}

static json_t *vault_meta_string(struct store_tx *tx, const char *name)
{
	unsigned char *val = NULL;
	size_t len;
	json_t *o = NULL;

	if (store_meta_get(tx, name, &val, &len) == 0)
		o = json_stringn((const char *)val, len);
	free(val);
	return o;
}

/* Our own format: the wrapped root key and every sealed record, verbatim. */
static enum api_err vault_export_native(struct store_tx *tx, json_t **out)
{
	unsigned char *wrapped = NULL;
	size_t wlen = 0;
	json_t *kdf, *records = json_array(), *created;
	char now[32], *b64;

	util_iso8601(util_now_ms(), now, sizeof(now));
	kdf = vault_meta_json(tx, "kdf");
	created = vault_meta_string(tx, "created");
	if (kdf == NULL || store_meta_get(tx, "root", &wrapped, &wlen) != 0 ||
	    store_secret_each(tx, vault_export_row, records) != 0) {
		json_decref(kdf);
		json_decref(created);
		json_decref(records);
		free(wrapped);
		return API_STORE_FAILED;
	}
	b64 = malloc(enc_b64_len(wlen, 0));
	if (b64 != NULL)
		enc_b64_encode(wrapped, wlen, b64, 0);
	*out = json_pack("{s:{s:i,s:s,s:o*,s:s,s:o,s:{s:s,s:s},s:o}}", "vault", "version",
			 VAULT_FORMAT_VERSION, "format", VAULT_FORMAT, "created", created,
			 "exported", now, "kdf", kdf, "rootKey", "algorithm", "aes-256-gcm",
			 "sealed", b64 ? b64 : "", "records", records);
	free(b64);
	free(wrapped);
	return *out ? API_OK : API_INTERNAL;
}

/* The original's format, readable by the original with the same password. */
static enum api_err vault_export_v1(struct store_tx *tx, const struct vault_keys *k, json_t **out)
{
	struct list_ctx c = {k, NULL, json_object(), 1};
	struct crypto_kdf kdf;
	unsigned char salt[CRYPTO_KDF_SALT_LEN], nonce[CRYPTO_NONCE_LEN], tag[CRYPTO_TAG_LEN];
	unsigned char *ct = NULL;
	char *pt = NULL, *ctb64 = NULL, nb[32], tb[32], sb[32], now[32];
	json_t *plain = NULL, *created;
	enum api_err err = API_INTERNAL;
	size_t len;
	int r;

	if (vault_meta_kdf(tx, &kdf, salt) != 0) {
		json_decref(c.out);
		return API_CORRUPT;
	}
	if (kdf.memory_kib != 65536 || kdf.iterations != 3 || kdf.parallelism != 4) {
		json_decref(c.out);
		return API_BAD_KDF;
	}
	r = store_secret_each(tx, vault_list_row, &c);
	if (r != 0) {
		json_decref(c.out);
		return r > 0 ? API_CORRUPT : API_STORE_FAILED;
	}
	created = vault_meta_string(tx, "created");
	util_iso8601(util_now_ms(), now, sizeof(now));
	plain = json_pack("{s:o,s:{s:i,s:o}}", "secrets", c.out, "metadata", "version", 1,
			  "createdAt", created ? created : json_string(now));
	pt = plain ? json_dumps(plain, JSON_COMPACT) : NULL;
	if (pt == NULL)
		goto done;
	len = strlen(pt);
	ct = malloc(len ? len : 1);
	ctb64 = malloc(enc_b64_len(len, 0));
	if (ct == NULL || ctb64 == NULL || crypto_random(nonce, sizeof(nonce)) != 0 ||
	    crypto_gcm_encrypt(k->kek, nonce, NULL, 0, pt, len, ct, tag) != 0)
		goto done;
	enc_b64_encode(ct, len, ctb64, 0);
	enc_b64_encode(nonce, sizeof(nonce), nb, 0);
	enc_b64_encode(tag, sizeof(tag), tb, 0);
	enc_b64_encode(salt, sizeof(salt), sb, 0);
	*out = json_pack("{s:{s:i,s:s,s:s,s:s,s:{s:s,s:i,s:i,s:i,s:i,s:s},s:{s:s,s:s,s:s},s:s}}",
			 "vault", "version", 1, "format", VAULT_V1_FORMAT, "created", now,
			 "updated", now, "kdf", "algorithm", "argon2id", "version", 19, "memory",
			 65536, "iterations", 3, "parallelism", 4, "salt", sb, "encryption",
			 "algorithm", "aes-256-gcm", "nonce", nb, "tag", tb, "ciphertext", ctb64);
	err = *out ? API_OK : API_INTERNAL;
done:
	crypto_wipe_free(pt);
	free(ct);
	free(ctb64);
	json_decref(plain);
	return err;
}

enum api_err vault_export(struct vault *v, int legacy, const struct vault_actor *who, json_t **out)
{
	struct store_tx *tx;
	struct audit_ev ev = {
	    "vault.exported", actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};
	struct vault_keys *k;
	json_t *pending;
	enum api_err err;

	if (!vault_is_initialized(v))
		return API_NOT_INIT;
	pthread_rwlock_rdlock(&v->rw);
	k = vault_keys_live(v);
	if (legacy && k == NULL) {
		pthread_rwlock_unlock(&v->rw);
		return API_LOCKED;
	}
	if ((tx = store_tx_begin(v->st, 1)) == NULL) {
		pthread_rwlock_unlock(&v->rw);
		return API_STORE_FAILED;
	}
	/* An imported ocmt-v1 vault not yet unlocked exports as it came in. */
	pending = vault_meta_json(tx, "legacy");
	if (pending != NULL && !legacy)
		err = (*out = json_pack("{s:o}", "vault", pending)) ? API_OK : API_INTERNAL;
	else if (pending != NULL)
		err = (json_decref(pending), API_LOCKED);
	else
		err = legacy ? vault_export_v1(tx, k, out) : vault_export_native(tx, out);
	if (legacy)
		crypto_scrub_stack();
	if (err == API_OK && vault_audit_append(v, tx, k, &ev) != 0)
		err = API_AUDIT_FAILED;
	if (err == API_OK && store_tx_commit(tx) != 0)
		err = API_AUDIT_FAILED;
	else if (err != API_OK)
		store_tx_rollback(tx);
	pthread_rwlock_unlock(&v->rw);
	if (err != API_OK && err != API_AUDIT_FAILED)
		return err;
	if (err == API_AUDIT_FAILED) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

static int vault_b64_field(json_t *o, const char *k, unsigned char *buf, size_t want)
{
	json_t *s = json_object_get(o, k);
	size_t n = 0;

	if (!json_is_string(s) || json_string_length(s) != enc_b64_len(want, 0) - 1)
		return -1;
	return enc_b64_decode(json_string_value(s), json_string_length(s), buf, &n, 0) == 0 &&
		       n == want
		   ? 0
		   : -1;
}

/* Checks an ocmt-v1 document's shape; the ciphertext is checked at unlock. */
static int vault_check_v1(json_t *doc, struct crypto_kdf *kdf, unsigned char *salt,
			  const char **why)
{
	json_t *enc = json_object_get(doc, "encryption"), *ct = json_object_get(doc, "ciphertext");
	unsigned char tmp[CRYPTO_TAG_LEN + 3];
	int r;

	if (!json_is_integer(json_object_get(doc, "version")) ||
	    json_integer_value(json_object_get(doc, "version")) != 1) {
		*why = "unsupported version";
		return -1;
	}
	r = vault_kdf_parse(json_object_get(doc, "kdf"), kdf, salt);
	if (r != 0) {
		*why = r == -2 ? "kdf parameters out of bounds" : "kdf is malformed";
		return r;
	}
	if (!json_is_object(enc) || !json_is_string(json_object_get(enc, "algorithm")) ||
	    strcmp(json_string_value(json_object_get(enc, "algorithm")), "aes-256-gcm") != 0 ||
	    vault_b64_field(enc, "nonce", tmp, CRYPTO_NONCE_LEN) != 0 ||
	    vault_b64_field(enc, "tag", tmp, CRYPTO_TAG_LEN) != 0) {
		*why = "encryption is malformed";
		return -1;
	}
	if (!json_is_string(ct) || json_string_length(ct) % 4 != 0) {
		*why = "ciphertext is malformed";
		return -1;
	}
	return 0;
}

static int vault_check_native(json_t *doc, struct crypto_kdf *kdf, unsigned char *salt,
			      unsigned char *wrapped, const char **why)
{
	json_t *root = json_object_get(doc, "rootKey"), *recs = json_object_get(doc, "records");
	json_t *r;
	size_t i;
	int rc;

	if (!json_is_integer(json_object_get(doc, "version")) ||
	    json_integer_value(json_object_get(doc, "version")) != VAULT_FORMAT_VERSION) {
		*why = "unsupported version";
		return -1;
	}
	rc = vault_kdf_parse(json_object_get(doc, "kdf"), kdf, salt);
	if (rc != 0) {
		*why = rc == -2 ? "kdf parameters out of bounds" : "kdf is malformed";
		return rc;
	}
	if (!json_is_object(root) ||
	    vault_b64_field(root, "sealed", wrapped, CRYPTO_KEY_LEN + CRYPTO_SEAL_OVERHEAD) != 0) {
		*why = "rootKey is malformed";
		return -1;
	}
	if (!json_is_array(recs)) {
		*why = "records is malformed";
		return -1;
	}
	json_array_foreach(recs, i, r)
	{
		json_t *id = json_object_get(r, "id"), *ver = json_object_get(r, "version");
		json_t *s = json_object_get(r, "sealed");
		unsigned char idbuf[CRYPTO_HASH_LEN], *blob;
		size_t n = 0;
		int ok;

		if (!json_is_string(id) || json_string_length(id) != 2 * CRYPTO_HASH_LEN ||
		    enc_hex_decode(json_string_value(id), 2 * CRYPTO_HASH_LEN, idbuf) != 0 ||
		    !json_is_integer(ver) || json_integer_value(ver) < 1 || !json_is_string(s)) {
			*why = "a record is malformed";
			return -1;
		}
		blob = malloc(json_string_length(s) / 4 * 3 + 3);
		ok =
		    blob != NULL &&
		    enc_b64_decode(json_string_value(s), json_string_length(s), blob, &n, 0) == 0 &&
		    n >= CRYPTO_SEAL_OVERHEAD;
		free(blob);
		if (!ok) {
			*why = "a record is malformed";
			return -1;
		}
	}
	return 0;
}

static int vault_import_records(struct store_tx *tx, json_t *recs)
{
	json_t *r;
	size_t i;

	json_array_foreach(recs, i, r)
	{
		const char *hex = json_string_value(json_object_get(r, "id"));
		const char *s = json_string_value(json_object_get(r, "sealed"));
		size_t slen = strlen(s), n = 0;
		unsigned char id[CRYPTO_HASH_LEN], *blob = malloc(slen / 4 * 3 + 3);
		int rc = -1;

		if (blob != NULL && enc_hex_decode(hex, 2 * CRYPTO_HASH_LEN, id) == 0 &&
		    enc_b64_decode(s, slen, blob, &n, 0) == 0 && n >= CRYPTO_SEAL_OVERHEAD)
			rc = store_secret_put(
			    tx, id, json_integer_value(json_object_get(r, "version")), blob, n);
		free(blob);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* Checks an export document of either format without touching the store. */
static enum api_err vault_import_parse(json_t *doc, int *v1, struct crypto_kdf *kdf,
				       unsigned char *salt, unsigned char *wrapped,
				       const char **why)
{
	const char *format = json_string_value(json_object_get(doc, "format"));
	int rc;

	*why = "vault must be an object";
	if (!json_is_object(doc))
		return API_BAD_IMPORT;
	*why = "unknown format";
	if (format == NULL)
		return API_BAD_IMPORT;
	*v1 = strcmp(format, VAULT_V1_FORMAT) == 0;
	if (!*v1 && strcmp(format, VAULT_FORMAT) != 0)
		return API_BAD_IMPORT;
	rc = *v1 ? vault_check_v1(doc, kdf, salt, why)
		 : vault_check_native(doc, kdf, salt, wrapped, why);
	if (rc != 0)
		return rc == -2 ? API_BAD_KDF : API_BAD_IMPORT;
	return API_OK;
}

enum api_err vault_import_check(json_t *doc, const char **why)
{
	struct crypto_kdf kdf;
	unsigned char salt[CRYPTO_KDF_SALT_LEN], wrapped[CRYPTO_KEY_LEN + CRYPTO_SEAL_OVERHEAD];
	int v1;

	return vault_import_parse(doc, &v1, &kdf, salt, wrapped, why);
}

enum api_err vault_import(struct vault *v, json_t *doc, const struct vault_actor *who,
			  const char **why)
{
	struct store_tx *tx;
	struct audit_ev ev = {
	    "vault.imported", actor_user(who), who->ip, NULL, 0, NULL, NULL, 1, NULL};
	struct crypto_kdf kdf;
	unsigned char salt[CRYPTO_KDF_SALT_LEN], wrapped[CRYPTO_KEY_LEN + CRYPTO_SEAL_OVERHEAD];
	json_t *kj = NULL, *created;
	char *kdftext = NULL, *legacy = NULL, ts[32];
	int v1 = 0;
	enum api_err err;

	err = vault_import_parse(doc, &v1, &kdf, salt, wrapped, why);
	if (err != API_OK)
		return err;
	kj = vault_kdf_json(&kdf, salt);
	kdftext = kj ? json_dumps(kj, JSON_COMPACT) : NULL;
	legacy = v1 ? json_dumps(doc, JSON_COMPACT) : NULL;
	created = json_object_get(doc, "created");
	if (json_is_string(created) && json_string_length(created) < sizeof(ts))
		snprintf(ts, sizeof(ts), "%s", json_string_value(created));
	else
		util_iso8601(util_now_ms(), ts, sizeof(ts));
	if (kdftext == NULL || (v1 && legacy == NULL)) {
		err = API_INTERNAL;
		goto done;
	}
	pthread_rwlock_wrlock(&v->rw);
	if (v->initialized) {
		err = API_ALREADY_INIT;
	} else if ((tx = store_tx_begin(v->st, 1)) == NULL) {
		err = API_STORE_FAILED;
	} else {
		/* All or nothing: one transaction holds every row. */
		if (store_meta_put(tx, "kdf", kdftext, strlen(kdftext)) != 0 ||
		    store_meta_put(tx, "created", ts, strlen(ts)) != 0 ||
		    (v1 && store_meta_put(tx, "legacy", legacy, strlen(legacy)) != 0) ||
		    (!v1 && store_meta_put(tx, "root", wrapped, sizeof(wrapped)) != 0) ||
		    (!v1 && vault_import_records(tx, json_object_get(doc, "records")) != 0) ||
		    vault_audit_append(v, tx, NULL, &ev) != 0) {
			store_tx_rollback(tx);
			err = API_STORE_FAILED;
		} else if (store_tx_commit(tx) != 0) {
			err = API_STORE_FAILED;
		} else {
			v->initialized = 1;
			err = API_OK;
		}
		rowcache_clear(v->rows); /* rows were replaced wholesale */
	}
	pthread_rwlock_unlock(&v->rw);
done:
	crypto_wipe_free(kdftext);
	crypto_wipe_free(legacy);
	json_decref(kj);
	return err;
}
