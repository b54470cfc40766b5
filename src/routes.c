/* routes.c: the route table, its matching, and the handlers of tokens,
 * audit, export/import and secrets (life cycle and unlock handlers are in
 * routes_unlock.c). Handlers receive a checked request (authenticated, body
 * parsed) and fill a response; they validate field shapes, call the vault
 * and answer its errors through api_vault_err. They never log secret
 * material. */
#include "routes.h"
#include "routes_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "enc.h"
#include "limit.h"
#include "token.h"
#include "util.h"
#include "vault.h"

static int pct_decode(char *s, size_t *outlen);

static void h_health(struct vault *v, const struct config *cfg, const struct api_req *req,
		     struct api_resp *resp)
{
	(void)req;
	api_reply(resp, 200,
		  json_pack("{s:s,s:s,s:b,s:b}", "status", "ok", "groupId", cfg->group_id,
			    "vaultInitialized", vault_is_initialized(v), "vaultUnlocked",
			    vault_session_left(v) > 0));
}

/* Optional string field: NULL when absent; *bad set when present but not a
 * NUL-free string of 1..max bytes. */
const char *routes_opt_str(const struct api_req *req, const char *key, size_t max, int *bad,
			   const char **why)
{
	json_t *v = req->body ? json_object_get(req->body, key) : NULL;

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		*bad = 1;
		*why = key;
		return NULL;
	}
	return json_string_value(v);
}

void routes_answer(struct api_resp *resp, enum vault_err err, json_t *out)
{
	if (err != VAULT_OK)
		api_fail(resp, api_vault_err(err), NULL);
	else
		api_reply(resp, 200, out);
}

void routes_fail_field(struct api_resp *resp, const char *field, const char *msg)
{
	char details[128];

	snprintf(details, sizeof(details), "%s: %s", field, msg);
	api_fail(resp, API_BAD_BODY, details);
}

static void h_lock(struct vault *v, const struct config *cfg, const struct api_req *req,
		   struct api_resp *resp)
{
	const char *why = NULL;
	int bad = 0;
	struct vault_actor who = {routes_opt_str(req, "userId", LIMIT_NAME_MAX, &bad, &why),
				  req->ip};
	enum vault_err err;

	(void)cfg;
	if (bad) {
		routes_fail_field(resp, why, "Must be a non-empty string");
		return;
	}
	err = vault_lock(v, &who);
	if (err != VAULT_OK)
		api_fail(resp, api_vault_err(err), NULL);
	else
		api_reply(resp, 200, json_pack("{s:b}", "success", 1));
}

static void h_extend(struct vault *v, const struct config *cfg, const struct api_req *req,
		     struct api_resp *resp)
{
	unsigned left = 0;
	enum vault_err err = vault_extend(v, &left);

	(void)cfg;
	(void)req;
	if (err != VAULT_OK)
		api_fail(resp, api_vault_err(err), NULL);
	else
		api_reply(resp, 200,
			  json_pack("{s:b,s:I}", "success", 1, "expiresIn", (json_int_t)left));
}

static void h_status(struct vault *v, const struct config *cfg, const struct api_req *req,
		     struct api_resp *resp)
{
	unsigned left = vault_session_left(v);

	(void)cfg;
	(void)req;
	api_reply(resp, 200,
		  json_pack("{s:b,s:b,s:I,s:o*}", "initialized", vault_is_initialized(v),
			    "unlocked", left > 0, "expiresIn", (json_int_t)left, "policy",
			    vault_is_initialized(v) ? vault_policy_json(v) : NULL));
}

/* allowedSecrets (default ["*"]): 1 to 256 entries, each any string of
 * 1-255 bytes, as the original accepts. "*" and entries ending in '*' are
 * prefixes (the original matched them as exact text, i.e. nothing); an
 * entry no secret name can equal matches nothing. Returns a new reference,
 * or NULL with resp filled. */
static json_t *token_allowed(const struct api_req *req, struct api_resp *resp)
{
	json_t *allowed = json_object_get(req->body, "allowedSecrets"), *e;
	size_t i;

	if (allowed == NULL || json_is_null(allowed))
		return json_pack("[s]", "*");
	if (!json_is_array(allowed) || json_array_size(allowed) == 0 ||
	    json_array_size(allowed) > LIMIT_ALLOWED_MAX) {
		routes_fail_field(
		    resp, "allowedSecrets",
		    "Must be an array of 1 to " LIMIT_STR(LIMIT_ALLOWED_MAX) " patterns");
		return NULL;
	}
	json_array_foreach(allowed, i, e)
	{
		size_t n = json_string_length(e);
		if (!json_is_string(e) || n == 0 || n > LIMIT_NAME_MAX) {
			routes_fail_field(
			    resp, "allowedSecrets",
			    "Each entry must be a string of 1-" LIMIT_STR(LIMIT_NAME_MAX) " bytes");
			return NULL;
		}
	}
	return json_incref(allowed);
}

/* permissions (default ["read"]): read, write, delete, and "admin" (accepted
 * as the original does; it grants nothing more). At most 16 entries.
 * Returns a new reference, or NULL with resp filled. */
static json_t *token_perms(const struct api_req *req, struct api_resp *resp)
{
	json_t *perms = json_object_get(req->body, "permissions"), *e;
	size_t i;

	if (perms == NULL || json_is_null(perms))
		return json_pack("[s]", "read");
	if (!json_is_array(perms) || json_array_size(perms) > LIMIT_PERMS_MAX) {
		routes_fail_field(resp, "permissions",
				  "Must be an array of read, write, delete, admin");
		return NULL;
	}
	json_array_foreach(perms, i, e)
	{
		if (!json_is_string(e) || token_perm(json_string_value(e)) == 0) {
			routes_fail_field(resp, "permissions",
					  "Each entry must be read, write, delete or admin");
			return NULL;
		}
	}
	return json_incref(perms);
}

static void h_token_issue(struct vault *v, const struct config *cfg, const struct api_req *req,
			  struct api_resp *resp)
{
	json_t *ttl = json_object_get(req->body, "ttlSeconds"), *allowed, *perms, *out = NULL;
	const char *why = "userId";
	int bad = 0;
	const char *user = routes_opt_str(req, "userId", LIMIT_NAME_MAX, &bad, &why);
	struct vault_actor who = {NULL, req->ip};
	long long ttl_s = LIMIT_TTL_DEFAULT;
	enum vault_err err;

	if (bad || user == NULL) {
		routes_fail_field(resp, "userId", "Required non-empty string");
		return;
	}
	/* The audit log writes "system" for the daemon's own actions. */
	if (strcmp(user, "system") == 0) {
		routes_fail_field(resp, "userId", "\"system\" is reserved");
		return;
	}
	if ((allowed = token_allowed(req, resp)) == NULL)
		return;
	if ((perms = token_perms(req, resp)) == NULL) {
		json_decref(allowed);
		return;
	}
	if (ttl != NULL && !json_is_null(ttl)) {
		if (!json_is_integer(ttl) || json_integer_value(ttl) < cfg->token_min_ttl ||
		    json_integer_value(ttl) > LIMIT_TTL_MAX) {
			char details[96];

			json_decref(allowed);
			json_decref(perms);
			snprintf(
			    details, sizeof(details),
			    "ttlSeconds: must be an integer from %u to " LIMIT_STR(LIMIT_TTL_MAX),
			    cfg->token_min_ttl);
			api_fail(resp, API_BAD_TTL, details);
			return;
		}
		ttl_s = json_integer_value(ttl);
	}
	err = vault_token_issue(v, user, allowed, perms, ttl_s, &who, &out);
	json_decref(allowed);
	json_decref(perms);
	if (err != VAULT_OK) {
		api_fail(resp, api_vault_err(err),
			 err == VAULT_TOKEN_SIZE
			     ? "allowedSecrets: the token would exceed " LIMIT_STR(
				   LIMIT_TOKEN_MAX) " bytes; name fewer secrets"
			     : NULL);
		if (err == VAULT_TOKEN_LIMIT)
			resp->retry_after = 3600;
		return;
	}
	api_reply(resp, 200, out);
}

static int parse_limit(const char *s, int def, int *out)
{
	char *end;
	long n;

	if (s == NULL) {
		*out = def;
		return 0;
	}
	n = strtol(s, &end, 10);
	if (end == s || *end != '\0' || n < 1 || n > LIMIT_PAGE_MAX)
		return -1;
	*out = (int)n;
	return 0;
}

/* GET /tokens: the registry, a page at a time. */
static void h_token_list(struct vault *v, const struct config *cfg, const struct api_req *req,
			 struct api_resp *resp)
{
	const char *rev = req->query_include_revoked, *user = req->query_user;
	char ubuf[3 * LIMIT_NAME_MAX + 1];
	long long after = 0;
	json_t *out = NULL;
	int limit;
	enum vault_err err;

	(void)cfg;
	if (parse_limit(req->query_limit, LIMIT_PAGE_DEFAULT, &limit) != 0) {
		api_fail(resp, API_BAD_LIMIT, NULL);
		return;
	}
	if (rev != NULL && strcmp(rev, "true") != 0 && strcmp(rev, "false") != 0) {
		api_fail(resp, API_BAD_BODY, "includeRevoked: must be true or false");
		return;
	}
	if (user != NULL) { /* the HTTP layer leaves query values encoded */
		size_t n = strlen(user);
		if (n < sizeof(ubuf))
			memcpy(ubuf, user, n + 1);
		if (n == 0 || n >= sizeof(ubuf) || pct_decode(ubuf, &n) != 0 || n == 0 ||
		    n > LIMIT_NAME_MAX) {
			api_fail(resp, API_BAD_BODY,
				 "userId: must be 1-" LIMIT_STR(LIMIT_NAME_MAX) " bytes");
			return;
		}
		user = ubuf;
	}
	if (req->query_cursor != NULL) {
		char *end;
		errno = 0;
		after = strtoll(req->query_cursor, &end, 10);
		if (errno != 0 || end == req->query_cursor || *end != '\0' || after < 0) {
			api_fail(resp, API_BAD_BODY, "cursor: must be a previous answer's next");
			return;
		}
	}
	err =
	    vault_token_list(v, user, rev != NULL && strcmp(rev, "true") == 0, after, limit, &out);
	routes_answer(resp, err, out);
}

static int revoke_fields(const struct api_req *req, struct api_resp *resp, const char **by)
{
	const char *why = NULL;
	int bad = 0;

	*by = routes_opt_str(req, "revokedBy", LIMIT_NAME_MAX, &bad, &why);
	routes_opt_str(req, "reason", 500, &bad, &why);
	if (bad) {
		routes_fail_field(resp, why, "Must be a non-empty string");
		return -1;
	}
	return 0;
}

static void h_token_revoke(struct vault *v, const struct config *cfg, const struct api_req *req,
			   struct api_resp *resp)
{
	struct vault_actor who = {NULL, req->ip};
	enum vault_err err;

	(void)cfg;
	if (revoke_fields(req, resp, &who.user_id) != 0)
		return;
	err = vault_token_revoke(v, req->param, &who);
	if (err != VAULT_OK)
		api_fail(resp, api_vault_err(err), NULL);
	else
		api_reply(resp, 200, json_pack("{s:b}", "success", 1));
}

static void h_token_revoke_user(struct vault *v, const struct config *cfg,
				const struct api_req *req, struct api_resp *resp)
{
	struct vault_actor who = {NULL, req->ip};
	long long n = 0;
	enum vault_err err;

	(void)cfg;
	if (revoke_fields(req, resp, &who.user_id) != 0)
		return;
	err = vault_token_revoke_user(v, req->param, &who, &n);
	if (err != VAULT_OK)
		api_fail(resp, api_vault_err(err), NULL);
	else
		api_reply(resp, 200,
			  json_pack("{s:b,s:I}", "success", 1, "revokedCount", (json_int_t)n));
}

/* ?after=<seq>: a non-negative integer; absent: -1 (newest first). */
static int parse_after(const char *s, long long *out)
{
	char *end;
	long long n;

	*out = -1;
	if (s == NULL)
		return 0;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = n;
	return 0;
}

static void h_audit(struct vault *v, const struct config *cfg, const struct api_req *req,
		    struct api_resp *resp)
{
	json_t *out = NULL;
	enum vault_err err;
	long long after;
	int limit;

	(void)cfg;
	if (parse_limit(req->query_limit,
			req->param ? LIMIT_PAGE_SECRET_DEFAULT : LIMIT_PAGE_DEFAULT, &limit) != 0) {
		api_fail(resp, API_BAD_LIMIT, NULL);
		return;
	}
	/* The cursor walks the whole log; a secret's log is newest first only. */
	if (parse_after(req->param ? NULL : req->query_after, &after) != 0) {
		api_fail(resp, API_BAD_CURSOR, NULL);
		return;
	}
	err = vault_audit_list(v, req->param, req->param_len, after, limit, &out);
	routes_answer(resp, err, out);
}

static void h_audit_verify(struct vault *v, const struct config *cfg, const struct api_req *req,
			   struct api_resp *resp)
{
	json_t *out = NULL;
	enum vault_err err = vault_audit_verify(v, &out);

	(void)cfg;
	(void)req;
	routes_answer(resp, err, out);
}

static long routes_stream_read(void *ctx, char *buf, size_t max)
{
	return vault_stream_read(ctx, buf, max);
}

static void routes_stream_free(void *ctx) { vault_stream_free(ctx); }

/* Our own format leaves as it is read (vault_stream.c), so a big vault's
 * export costs no more memory than a small one's. */
static void routes_export_stream(struct vault *v, const struct vault_actor *who,
				 struct api_resp *resp)
{
	struct api_stream *s = malloc(sizeof(*s));
	struct vault_stream *vs = NULL;
	enum vault_err err;

	if (s == NULL) {
		api_fail(resp, API_INTERNAL, NULL);
		return;
	}
	if ((err = vault_stream_open(v, who, &vs)) != VAULT_OK) {
		free(s);
		routes_answer(resp, err, NULL);
		return;
	}
	s->read = routes_stream_read;
	s->free = routes_stream_free;
	s->ctx = vs;
	resp->status = 200;
	resp->stream = s;
}

static void h_export(struct vault *v, const struct config *cfg, const struct api_req *req,
		     struct api_resp *resp)
{
	struct vault_actor who = {NULL, req->ip};
	json_t *out = NULL;
	int legacy = 0;
	enum vault_err err;

	(void)cfg;
	if (req->query_format != NULL) {
		if (strcmp(req->query_format, "ocmt-v1") == 0) {
			legacy = 1;
		} else if (strcmp(req->query_format, "groupvault") != 0) {
			api_fail(resp, API_BAD_BODY, "format: must be groupvault or ocmt-v1");
			return;
		}
	}
	if (!legacy) {
		routes_export_stream(v, &who, resp);
		return;
	}
	err = vault_export(v, legacy, &who, &out);
	routes_answer(resp, err, out);
}

static void h_import(struct vault *v, const struct config *cfg, const struct api_req *req,
		     struct api_resp *resp)
{
	struct vault_actor who = {NULL, req->ip};
	const char *why = NULL;
	enum vault_err err;

	(void)cfg;
	if (vault_is_initialized(v)) {
		api_fail(resp, API_ALREADY_INIT, NULL);
		return;
	}
	err = vault_import(v, json_object_get(req->body, "vault"), &who, &why);
	if (err != VAULT_OK)
		api_fail(resp, api_vault_err(err),
			 err == VAULT_BAD_IMPORT || err == VAULT_BAD_KDF ? why : NULL);
	else
		api_reply(resp, 200,
			  json_pack("{s:b,s:s}", "success", 1, "message", "Vault imported"));
}

static void h_secret_get(struct vault *v, const struct config *cfg, const struct api_req *req,
			 struct api_resp *resp)
{
	struct vault_defer *out = NULL;
	enum vault_err err;

	(void)cfg;
	err = vault_secret_get(v, req->cap, req->param, req->param_len, req->ip, &out);
	if (err != VAULT_OK) {
		api_fail(resp, api_vault_err(err), NULL);
		return;
	}
	resp->status = 200;
	resp->defer = out;
}

static void h_secret_put(struct vault *v, const struct config *cfg, const struct api_req *req,
			 struct api_resp *resp)
{
	json_t *value = json_object_get(req->body, "value");
	json_t *md = json_object_get(req->body, "metadata");
	struct vault_defer *out = NULL;
	enum vault_err err;

	if (!json_is_string(value) || json_string_length(value) == 0) {
		routes_fail_field(resp, "value", "Value is required");
		return;
	}
	if (json_string_length(value) > cfg->max_value) {
		api_fail(resp, API_VALUE_TOO_LARGE, NULL);
		return;
	}
	if (md != NULL && json_is_null(md))
		md = NULL;
	if (md != NULL && !json_is_object(md)) {
		routes_fail_field(resp, "metadata", "Must be an object");
		return;
	}
	err = vault_secret_put(v, req->cap, req->param, req->param_len, value, md, req->ip, &out);
	if (err != VAULT_OK) {
		api_fail(resp, api_vault_err(err), NULL);
		return;
	}
	resp->status = 200;
	resp->defer = out;
}

static void h_secret_delete(struct vault *v, const struct config *cfg, const struct api_req *req,
			    struct api_resp *resp)
{
	enum vault_err err;

	(void)cfg;
	err = vault_secret_delete(v, req->cap, req->param, req->param_len, req->ip);
	if (err != VAULT_OK)
		api_fail(resp, api_vault_err(err), NULL);
	else
		api_reply(resp, 200, json_pack("{s:b}", "success", 1));
}

static void h_secret_list(struct vault *v, const struct config *cfg, const struct api_req *req,
			  struct api_resp *resp)
{
	unsigned char after[VAULT_ID_LEN];
	const char *a = req->query_after;
	json_t *out = NULL;
	int limit;
	enum vault_err err;

	(void)cfg;
	if (parse_limit(req->query_limit, LIMIT_PAGE_LIST_DEFAULT, &limit) != 0) {
		api_fail(resp, API_BAD_LIMIT, NULL);
		return;
	}
	if (a != NULL && (strlen(a) != 2 * VAULT_ID_LEN || enc_hex_decode(a, strlen(a), after) != 0)) {
		api_fail(resp, API_BAD_BODY, "after: must be a previous answer's next");
		return;
	}
	err = vault_secret_list(v, req->cap, req->ip, a ? after : NULL, (size_t)limit, &out);
	routes_answer(resp, err, out);
}

const struct route routes[] = {
    {"GET", "/health", h_health, API_AUTH_NONE, 0, "liveness and vault state"},
    {"POST", "/init", h_init, API_AUTH_MGMT, LIMIT_ROUTE_BODY_PASSWORD,
     "create the vault with a password and/or a threshold"},
    {"POST", "/import", h_import, API_AUTH_MGMT, ROUTE_BODY_IMPORT,
     "import a groupvault or ocmt-v1 export"},
    {"GET", "/export", h_export, API_AUTH_MGMT, 0, "export (?format=ocmt-v1 when unlocked)"},
    {"POST", "/unlock", h_unlock, API_AUTH_MGMT, LIMIT_ROUTE_BODY_PASSWORD,
     "derive the key and open a session"},
    {"POST", "/lock", h_lock, API_AUTH_MGMT, LIMIT_ROUTE_BODY_PASSWORD,
     "end the session, wipe keys"},
    {"POST", "/extend", h_extend, API_AUTH_MGMT, LIMIT_ROUTE_BODY_SMALL,
     "restart the session clock"},
    {"POST", "/unlock/share", h_unlock_share, API_AUTH_MGMT, LIMIT_ROUTE_BODY_SMALL,
     "submit one holder's share (202 until k, then 200 unlocked)"},
    {"GET", "/unlock/shares", h_shares_get, API_AUTH_MGMT, 0, "threshold unlock progress"},
    {"DELETE", "/unlock/shares", h_shares_cancel, API_AUTH_MGMT, LIMIT_ROUTE_BODY_SMALL,
     "wipe the shares received so far"},
    {"POST", "/rekey", h_rekey, API_AUTH_MGMT, LIMIT_ROUTE_BODY_PASSWORD,
     "re-wrap the root key under a new password and/or threshold"},
    {"GET", "/status", h_status, API_AUTH_MGMT, 0, "initialized, unlocked, expiresIn, policy"},
    {"POST", "/tokens", h_token_issue, API_AUTH_MGMT, LIMIT_ROUTE_BODY_TOKEN,
     "issue a capability token"},
    {"GET", "/tokens", h_token_list, API_AUTH_MGMT, 0,
     "list tokens (?userId, ?includeRevoked, ?limit, ?cursor)"},
    {"DELETE", "/tokens/user/:userId", h_token_revoke_user, API_AUTH_MGMT, LIMIT_ROUTE_BODY_SMALL,
     "revoke every token of a user"},
    {"DELETE", "/tokens/:id", h_token_revoke, API_AUTH_MGMT, LIMIT_ROUTE_BODY_PASSWORD,
     "revoke one token by id or SHA-256 hex"},
    {"GET", "/audit", h_audit, API_AUTH_MGMT, 0,
     "audit log, newest first (?limit=1..1000); ?after=<seq>: oldest first from there"},
    {"GET", "/audit/verify", h_audit_verify, API_AUTH_MGMT, 0, "check the audit hash chain"},
    {"GET", "/audit/secret/:key", h_audit, API_AUTH_MGMT, 0, "audit log of one secret"},
    {"GET", "/secrets", h_secret_list, API_AUTH_CAP, 0,
     "list names in the token's scope (?limit=1..1000, default 1000; ?after=<next>)"},
    {"GET", "/secrets/:key", h_secret_get, API_AUTH_CAP, 0, "read a secret (audited first)"},
    {"POST", "/secrets/:key", h_secret_put, API_AUTH_CAP, ROUTE_BODY_MAX,
     "create or update a secret"},
    {"DELETE", "/secrets/:key", h_secret_delete, API_AUTH_CAP, LIMIT_ROUTE_BODY_SMALL,
     "delete a secret"},
    {"GET", "/metrics", h_metrics, API_AUTH_METRICS, 0,
     "Prometheus text: requests, audit, commits, unlocks, caches, process"},
    {NULL, NULL, NULL, API_AUTH_NONE, 0, NULL},
};

/* Compares pattern segments with path segments; returns the index of the
 * parameter segment through *param (or -1). */
static int route_path_match(const char *pattern, char **segs, size_t nsegs, int *param)
{
	const char *p = pattern + 1;
	size_t i = 0;

	*param = -1;
	while (*p != '\0') {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (i >= nsegs)
			return 0;
		if (p[0] == ':')
			*param = (int)i;
		else if (strlen(segs[i]) != len || memcmp(segs[i], p, len) != 0)
			return 0;
		i++;
		p += len;
		if (*p == '/')
			p++;
	}
	return i == nsegs;
}

const struct route *routes_match(const char *method, char **segs, size_t nsegs, int *path_known,
				 int *param_idx)
{
	*path_known = 0;
	for (const struct route *r = routes; r->method != NULL; r++) {
		int param;
		if (!route_path_match(r->pattern, segs, nsegs, &param))
			continue;
		/* A literal route (/audit/verify) wins over a parameter one. */
		*path_known = 1;
		if (strcmp(r->method, method) == 0) {
			*param_idx = param;
			return r;
		}
	}
	return NULL;
}

/* Decodes %XX in place; -1 on a bad escape or a decoded NUL. */
static int pct_decode(char *s, size_t *outlen)
{
	char *w = s;

	for (char *r = s; *r != '\0'; r++) {
		if (*r == '%') {
			int hi = enc_hex_value(r[1]), lo = hi >= 0 ? enc_hex_value(r[2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			*w++ = (char)(hi << 4 | lo);
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	*outlen = (size_t)(w - s);
	return 0;
}

int routes_split(char *path, char **segs, size_t *lens, size_t max, size_t *nsegs)
{
	char *p = path + 1;

	*nsegs = 0;
	if (path[0] != '/')
		return -1;
	/* Split on '/' before decoding, so an encoded '/' stays inside its
	 * segment; refuse empty segments (// or a trailing slash). */
	if (*p != '\0') {
		for (;;) {
			char *slash = strchr(p, '/');
			if (*nsegs == max || p[0] == '\0' || p == slash)
				return -1;
			segs[(*nsegs)++] = p;
			if (slash == NULL)
				break;
			*slash = '\0';
			p = slash + 1;
		}
	}
	for (size_t i = 0; i < *nsegs; i++)
		if (pct_decode(segs[i], &lens[i]) != 0)
			return -2;
	return 0;
}

void routes_print(FILE *out)
{
	static const char *auth[] = {"public", "management", "capability", "mgmt|public"};

	for (const struct route *r = routes; r->method != NULL; r++)
		fprintf(out, "%-7s %-22s %-11s %s\n", r->method, r->pattern, auth[r->auth],
			r->summary);
}
