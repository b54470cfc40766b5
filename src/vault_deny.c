/* vault_deny.c: bounds what denied and not-found requests cost the audit
 * log. The first per (token, action, error) in a window is written at once;
 * repeats are only counted, then written as one entry with their count. It
 * must never drop a count: every one is written at window end, lock or exit. */
#include "vault_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reqid.h"
#include "util.h"

#define VAULT_DENY_SLOTS 256

/* One (token, action, error) and its open window. */
struct vault_deny_slot {
	char *tok, *action, *error, *user, *ip; /* NULL: slot unused */
	int64_t start;				/* monotonic ms */
	int64_t pending;			/* repeats not yet written */
};

struct vault_deny {
	pthread_mutex_t mu;
	struct vault_deny_slot s[VAULT_DENY_SLOTS];
};

struct vault_deny *vault_deny_new(void)
{
	struct vault_deny *d = calloc(1, sizeof(*d));

	if (d != NULL)
		pthread_mutex_init(&d->mu, NULL);
	return d;
}

static void vault_deny_clear(struct vault_deny_slot *s)
{
	free(s->tok);
	free(s->action);
	free(s->error);
	free(s->user);
	free(s->ip);
	memset(s, 0, sizeof(*s));
}

void vault_deny_free(struct vault_deny *d)
{
	if (d == NULL)
		return;
	for (int i = 0; i < VAULT_DENY_SLOTS; i++)
		vault_deny_clear(&d->s[i]);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

static const char *vault_deny_or(const char *s) { return s != NULL ? s : ""; }

static unsigned vault_deny_slot_of(const char *tok, const char *action, const char *error)
{
	unsigned h = 2166136261u; /* FNV-1a: spreading, not secrecy */
	const char *parts[3] = {tok, action, error};

	for (int i = 0; i < 3; i++) {
		for (const char *p = parts[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 16777619u;
		h = (h ^ 0xff) * 16777619u;
	}
	return h % VAULT_DENY_SLOTS;
}

/* Appends one entry in its own durable transaction. 0 or -1. */
static int vault_deny_append(struct vault *v, const char *text, const unsigned char *id)
{
	struct store_tx *tx;

	if (text == NULL || (tx = store_tx_begin(v->st, 1)) == NULL)
		return -1;
	if (store_audit_append(tx, text, strlen(text), id) != 0) {
		store_tx_rollback(tx);
		return -1;
	}
	return store_tx_commit(tx);
}

/* Writes a slot's counted repeats as one entry (no name: repeats may have
 * named different secrets; no requestId: they were many requests, and the
 * one running now, if any, is not among them). */
static void vault_deny_write(struct vault *v, const struct vault_deny_slot *s)
{
	struct vault_audit_ev ev = {s->action, s->user, s->ip, NULL, 0, NULL, s->error, 0, NULL};
	unsigned char id[CRYPTO_HASH_LEN];
	int has_id;
	char rid[REQID_MAX + 1];
	const char *cur = reqid_get();
	char *text;

	snprintf(rid, sizeof(rid), "%s", cur != NULL ? cur : "");
	reqid_set(NULL);
	text = vault_audit_text_n(v, NULL, &ev, s->pending, id, &has_id);
	reqid_set(rid);

	if (vault_deny_append(v, text, NULL) != 0)
		log_warn("%s: could not audit %lld coalesced %s", __func__, (long long)s->pending,
			 s->action);
	free(text);
}

/* Moves slot s into out (the caller writes and clears it) and empties s. */
static void vault_deny_take(struct vault_deny_slot *s, struct vault_deny_slot *out)
{
	*out = *s;
	memset(s, 0, sizeof(*s));
}

static int vault_deny_fill(struct vault_deny_slot *s, const struct vault_audit_ev *ev,
			   const char *tok, int64_t now)
{
	s->tok = strdup(tok);
	s->action = strdup(ev->action);
	s->error = strdup(vault_deny_or(ev->error));
	s->user = strdup(vault_deny_or(ev->user));
	s->ip = strdup(vault_deny_or(ev->ip));
	s->start = now;
	s->pending = 0;
	if (s->tok && s->action && s->error && s->user && s->ip)
		return 0;
	vault_deny_clear(s);
	return -1;
}

enum vault_err vault_deny_audit(struct vault *v, const struct vault_keys *k,
				const struct vault_audit_ev *ev, const char *tok_id)
{
	struct vault_deny *d = v->deny;
	struct vault_deny_slot old = {0}, *s;
	int64_t now = util_mono_ms(), window = (int64_t)v->cfg->audit_coalesce * 1000;
	unsigned char id[CRYPTO_HASH_LEN];
	enum vault_err err;
	int has_id;
	char *text;

	if (window == 0 || tok_id == NULL)
		return vault_audit_one(v, k, ev);
	pthread_mutex_lock(&d->mu);
	s = &d->s[vault_deny_slot_of(tok_id, ev->action, vault_deny_or(ev->error))];
	if (s->tok != NULL && now - s->start < window && strcmp(s->tok, tok_id) == 0 &&
	    strcmp(s->action, ev->action) == 0 && strcmp(s->error, vault_deny_or(ev->error)) == 0) {
		s->pending++;
		pthread_mutex_unlock(&d->mu);
		return VAULT_OK;
	}
	/* A new window (or another key in the slot): write what the old one
	 * counted, then this one, at once. */
	vault_deny_take(s, &old);
	vault_deny_fill(s, ev, tok_id, now); /* on failure: not coalesced, still written */
	pthread_mutex_unlock(&d->mu);
	if (old.pending > 0)
		vault_deny_write(v, &old);
	vault_deny_clear(&old);
	text = vault_audit_text_n(v, k, ev, 1, id, &has_id);
	err = vault_deny_append(v, text, has_id ? id : NULL) == 0 ? VAULT_OK : VAULT_AUDIT_FAILED;
	free(text);
	return err;
}

void vault_deny_flush(struct vault *v, int all)
{
	struct vault_deny *d = v->deny;
	int64_t now = util_mono_ms(), window = (int64_t)v->cfg->audit_coalesce * 1000;

	for (int i = 0; i < VAULT_DENY_SLOTS; i++) {
		struct vault_deny_slot out = {0};

		pthread_mutex_lock(&d->mu);
		if (d->s[i].tok != NULL && (all || now - d->s[i].start >= window))
			vault_deny_take(&d->s[i], &out);
		pthread_mutex_unlock(&d->mu);
		if (out.pending > 0)
			vault_deny_write(v, &out);
		vault_deny_clear(&out);
	}
}
