/* routes_unlock.c: the handlers of the vault's life cycle and key policy:
 * init (password and/or threshold), rekey, unlock by password (queued) or
 * by shares, share progress and cancel. Like every handler they validate
 * field shapes and call the vault; they never log a password or a share. */
#include "routes_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "limit.h"
#include "util.h"
#include "vault.h"

/* A new password (init, rekey): 0, or -1 with resp filled. */
static int check_password(json_t *pw, struct api_resp *resp)
{
	if (util_utf8_chars(json_string_value(pw), json_string_length(pw)) <
	    LIMIT_PASSWORD_MIN_CHARS) {
		routes_fail_field(resp, "password",
				  "Vault password must be at least " LIMIT_STR(
				      LIMIT_PASSWORD_MIN_CHARS) " characters");
		return -1;
	}
	if (json_string_length(pw) > LIMIT_PASSWORD_MAX) {
		routes_fail_field(resp, "password",
				  "Must be at most " LIMIT_STR(LIMIT_PASSWORD_MAX) " bytes");
		return -1;
	}
	return 0;
}

/* "threshold": {required: k, holders: [userId, ...]} with 2 <= k <= n <= 16
 * and distinct holders: 0 absent, 1 parsed into t, -1 with resp filled. */
static int parse_threshold(const struct api_req *req, struct vault_threshold_req *t,
			   struct api_resp *resp)
{
	json_t *o = json_object_get(req->body, "threshold"), *k, *hs, *h;
	size_t i;

	if (o == NULL || json_is_null(o))
		return 0;
	k = json_object_get(o, "required");
	hs = json_object_get(o, "holders");
	if (!json_is_object(o) || !json_is_array(hs) || json_array_size(hs) < 2 ||
	    json_array_size(hs) > 16) {
		routes_fail_field(resp, "threshold.holders", "Must be an array of 2 to 16 userIds");
		return -1;
	}
	t->n = (unsigned)json_array_size(hs);
	json_array_foreach(hs, i, h)
	{
		int dup = 0;

		for (size_t j = 0; json_is_string(h) && j < i; j++)
			dup |= strcmp(t->holders[j], json_string_value(h)) == 0;
		if (!json_is_string(h) || json_string_length(h) == 0 ||
		    json_string_length(h) > LIMIT_NAME_MAX ||
		    strlen(json_string_value(h)) != json_string_length(h) || dup) {
			routes_fail_field(
			    resp, "threshold.holders",
			    "Each must be a distinct non-empty string of at most " LIMIT_STR(
				LIMIT_NAME_MAX) " bytes");
			return -1;
		}
		t->holders[i] = json_string_value(h);
	}
	if (!json_is_integer(k) || json_integer_value(k) < 2 ||
	    json_integer_value(k) > (json_int_t)t->n) {
		routes_fail_field(resp, "threshold.required",
				  "Must be an integer from 2 to the number of holders");
		return -1;
	}
	t->k = (unsigned)json_integer_value(k);
	return 1;
}

/* The new policy of an init or rekey: *pw NULL when none; -1 with resp
 * filled when the body names neither or a malformed one. */
static int parse_policy(const struct api_req *req, json_t **pw, struct vault_threshold_req *t,
			int *has_t, struct api_resp *resp)
{
	*pw = json_object_get(req->body, "password");
	if (*pw != NULL && json_is_null(*pw))
		*pw = NULL;
	if ((*has_t = parse_threshold(req, t, resp)) < 0)
		return -1;
	if (*pw == NULL && !*has_t) {
		routes_fail_field(resp, "password", "Required (or a threshold)");
		return -1;
	}
	if (*pw != NULL && !json_is_string(*pw)) {
		routes_fail_field(resp, "password", "Must be a string");
		return -1;
	}
	return 0;
}

void h_init(struct vault *v, const struct config *cfg, const struct api_req *req,
	    struct api_resp *resp)
{
	struct vault_actor who = {NULL, req->ip};
	struct vault_threshold_req t = {0, 0, {NULL}};
	json_t *pw, *shares = NULL, *out;
	enum vault_err err;
	int has_t;

	(void)cfg;
	if (parse_policy(req, &pw, &t, &has_t, resp) != 0)
		return;
	if (vault_is_initialized(v)) {
		api_fail(resp, API_ALREADY_INIT, NULL);
		return;
	}
	if (pw != NULL && check_password(pw, resp) != 0)
		return;
	err = vault_init_policy(v, pw ? json_string_value(pw) : NULL,
				pw ? json_string_length(pw) : 0, has_t ? &t : NULL, &who, &shares);
	if (err != VAULT_OK) {
		api_fail(resp, api_vault_err(err), NULL);
		return;
	}
	out = json_pack("{s:b,s:s}", "success", 1, "message", "Org vault initialized");
	if (out != NULL && shares != NULL)
		json_object_set(out, "shares", shares);
	json_decref(shares);
	api_reply(resp, 200, out);
}

void h_rekey(struct vault *v, const struct config *cfg, const struct api_req *req,
	     struct api_resp *resp)
{
	const char *why = NULL;
	int bad = 0, has_t;
	struct vault_actor who = {routes_opt_str(req, "userId", LIMIT_NAME_MAX, &bad, &why),
				  req->ip};
	struct vault_threshold_req t = {0, 0, {NULL}};
	json_t *pw, *shares = NULL, *out;
	enum vault_err err;

	(void)cfg;
	if (bad) {
		routes_fail_field(resp, why, "Must be a non-empty string");
		return;
	}
	if (parse_policy(req, &pw, &t, &has_t, resp) != 0 ||
	    (pw != NULL && check_password(pw, resp) != 0))
		return;
	err = vault_rekey(v, pw ? json_string_value(pw) : NULL, pw ? json_string_length(pw) : 0,
			  has_t ? &t : NULL, &who, &shares);
	if (err != VAULT_OK) {
		api_fail(resp, api_vault_err(err), NULL);
		return;
	}
	out = json_pack("{s:b,s:o}", "success", 1, "policy", vault_policy_json(v));
	if (out != NULL && shares != NULL)
		json_object_set(out, "shares", shares);
	json_decref(shares);
	api_reply(resp, 200, out);
}

void h_unlock_share(struct vault *v, const struct config *cfg, const struct api_req *req,
		    struct api_resp *resp)
{
	const char *why = NULL;
	int bad = 0, unlocked = 0;
	struct vault_actor who = {routes_opt_str(req, "userId", LIMIT_NAME_MAX, &bad, &why),
				  req->ip};
	json_t *share = json_object_get(req->body, "share"), *out = NULL;
	unsigned retry = 0;
	enum vault_err err;

	(void)cfg;
	if (bad || who.user_id == NULL) {
		routes_fail_field(resp, "userId", "Required: the holder's userId");
		return;
	}
	if (!json_is_string(share) || json_string_length(share) == 0 ||
	    json_string_length(share) > 1024) {
		routes_fail_field(resp, "share", "Required: the holder's share");
		return;
	}
	err = vault_share_submit(v, json_string_value(share), json_string_length(share), &who, &out,
				 &unlocked, &retry, &why);
	if (err != VAULT_OK) {
		api_fail(resp, api_vault_err(err), why);
		resp->retry_after = retry;
		return;
	}
	api_reply(resp, unlocked ? 200 : 202, out);
}

void h_shares_get(struct vault *v, const struct config *cfg, const struct api_req *req,
		  struct api_resp *resp)
{
	json_t *out = NULL;
	enum vault_err err = vault_shares_progress(v, &out);

	(void)cfg;
	(void)req;
	routes_answer(resp, err, out);
}

void h_shares_cancel(struct vault *v, const struct config *cfg, const struct api_req *req,
		     struct api_resp *resp)
{
	const char *why = NULL;
	int bad = 0;
	struct vault_actor who = {routes_opt_str(req, "userId", LIMIT_NAME_MAX, &bad, &why),
				  req->ip};
	long long n = 0;
	enum vault_err err;

	(void)cfg;
	if (bad) {
		routes_fail_field(resp, why, "Must be a non-empty string");
		return;
	}
	err = vault_shares_cancel(v, &who, &n);
	if (err != VAULT_OK)
		api_fail(resp, api_vault_err(err), NULL);
	else
		api_reply(resp, 200,
			  json_pack("{s:b,s:I}", "success", 1, "cancelled", (json_int_t)n));
}

void h_unlock(struct vault *v, const struct config *cfg, const struct api_req *req,
	      struct api_resp *resp)
{
	json_t *pw = json_object_get(req->body, "password");
	const char *why = NULL;
	int bad = 0;
	struct vault_actor who = {routes_opt_str(req, "userId", LIMIT_NAME_MAX, &bad, &why),
				  req->ip};
	long long count = 0;
	unsigned retry = 0;
	struct vault_defer *d = NULL;
	enum vault_err err;
	int wait = 0;

	if (bad) {
		routes_fail_field(resp, why, "Must be a non-empty string");
		return;
	}
	if (!json_is_string(pw) || json_string_length(pw) == 0) {
		routes_fail_field(resp, "password", "Password is required");
		return;
	}
	if (json_string_length(pw) > LIMIT_PASSWORD_MAX) {
		routes_fail_field(resp, "password",
				  "Must be at most " LIMIT_STR(LIMIT_PASSWORD_MAX) " bytes");
		return;
	}
	err = vault_unlock_prepare(v, json_string_value(pw), json_string_length(pw), &who, &retry,
				   &wait, &d);
	if (err == VAULT_OK && !wait) {
		/* Parked until the unlock queue's thread has run it: no worker
		 * waits for the derivation. */
		resp->defer = d;
		return;
	}
	if (err == VAULT_OK)
		err = vault_unlock_wait(d, &count);
	vault_defer_free(d);
	if (err != VAULT_OK) {
		api_fail(resp, api_vault_err(err),
			 err == VAULT_BAD_LEGACY ? vault_migrate_why() : NULL);
		resp->retry_after = retry;
		return;
	}
	api_reply(resp, 200,
		  json_pack("{s:b,s:I,s:I}", "success", 1, "expiresIn",
			    (json_int_t)cfg->session_ttl, "secretCount", (json_int_t)count));
}
