/* api.c: the single map from internal error kinds (the API's own and the
 * vault's) to HTTP answers. The "error" and "code" a client sees are only
 * these strings; "details" is whatever the caller passes (field messages,
 * an import's reason, and for a body that is not JSON the parser's message
 * about the client's own bytes). */
#include "api.h"

#include "limit.h"

static const struct {
	int status;
	const char *text;
	const char *code;
} api_errors[API_ERR_COUNT] = {
    [API_OK] = {200, "ok", NULL},
    [API_BAD_BODY] = {400, "Invalid request body", NULL},
    [API_ALREADY_INIT] = {400, "Vault already initialized", NULL},
    [API_WEAK_PASSWORD] = {400, "Password must be at least 16 characters", NULL},
    [API_NOT_INIT] = {400, "Vault not initialized", NULL},
    [API_BAD_PASSWORD] = {401, "Invalid password", NULL},
    [API_UNAUTHORIZED] = {401, "Unauthorized", NULL},
    [API_TOKEN_REQUIRED] = {401, "Capability token required", NULL},
    [API_TOKEN_INVALID] = {401, "Invalid or expired capability token", NULL},
    [API_WRONG_GROUP] = {403, "Token not valid for this org", NULL},
    [API_ACCESS_DENIED] = {403, "Access denied for this secret", NULL},
    [API_NOT_FOUND] = {404, "Secret not found", NULL},
    [API_NO_ROUTE] = {404, "Not found", NULL},
    [API_METHOD] = {405, "Method not allowed", NULL},
    [API_LOCKED] = {423, "Vault is locked", "VAULT_LOCKED"},
    [API_UNLOCK_LIMIT] = {429, "Too many unlock attempts", "RATE_LIMITED"},
    [API_TOKEN_LIMIT] = {429, "Token issue rate limit exceeded", "RATE_LIMITED"},
    [API_KDF_BUSY] = {429, "Another unlock is in progress", "KDF_BUSY"},
    [API_BODY_TOO_LARGE] = {413, "Request body too large", NULL},
    [API_VALUE_TOO_LARGE] = {413, "Secret value too large", NULL},
    [API_BAD_TTL] = {400, "Invalid request body", NULL},
    [API_BAD_NAME] = {400, "Invalid URL parameters", NULL},
    [API_BAD_LIMIT] = {400, "limit must be an integer from 1 to " LIMIT_STR(LIMIT_PAGE_MAX), NULL},
    [API_BAD_IMPORT] = {400, "Invalid vault format", NULL},
    [API_BAD_HEADER] = {400, "Invalid request headers", NULL},
    [API_BAD_KDF] = {400, "Unsupported key derivation parameters", NULL},
    [API_CORRUPT] = {500, "Stored data failed its integrity check", "INTEGRITY"},
    [API_INTERNAL] = {500, "Internal error", NULL},
    [API_AUDIT_FAILED] = {503, "Audit log unavailable", "AUDIT_UNAVAILABLE"},
    [API_STORE_FAILED] = {503, "Storage unavailable", "STORE_UNAVAILABLE"},
    [API_BAD_CURSOR] = {400, "after must be a sequence number (0 or more)", NULL},
    [API_TOKEN_NOT_FOUND] = {404, "Token not found", NULL},
    [API_TOKEN_TOO_LARGE] = {400, "Token would be too large", "TOKEN_TOO_LARGE"},
    [API_MIGRATE_REFUSED] = {422, "Imported vault cannot be migrated", "MIGRATION_REFUSED"},
    [API_AUTH_LIMIT] = {429, "Too many failed authentication attempts", "RATE_LIMITED"},
    [API_BAD_SHARE] = {400, "Invalid share", "INVALID_SHARE"},
    [API_BAD_SHARES] = {401, "Shares do not unlock the vault", "SHARES_FAILED"},
    [API_NO_THRESHOLD] = {400, "Vault has no threshold policy", "NO_THRESHOLD"},
    [API_PASSWORD_OFF] = {400, "Vault policy requires threshold shares, not a password",
			  "THRESHOLD_REQUIRED"},
};

int api_status(enum api_err e) { return e < API_ERR_COUNT ? api_errors[e].status : 500; }

const char *api_error_text(enum api_err e)
{
	return e < API_ERR_COUNT ? api_errors[e].text : "Internal error";
}

/* Every vault outcome the API can answer; VAULT_INTERNAL and anything
 * unlisted answer 500. */
static const enum api_err api_from_vault[VAULT_ERR_COUNT] = {
    [VAULT_OK] = API_OK,
    [VAULT_ALREADY_INIT] = API_ALREADY_INIT,
    [VAULT_NOT_INIT] = API_NOT_INIT,
    [VAULT_BAD_PASSWORD] = API_BAD_PASSWORD,
    [VAULT_TOKEN_INVALID] = API_TOKEN_INVALID,
    [VAULT_WRONG_GROUP] = API_WRONG_GROUP,
    [VAULT_ACCESS_DENIED] = API_ACCESS_DENIED,
    [VAULT_NOT_FOUND] = API_NOT_FOUND,
    [VAULT_LOCKED] = API_LOCKED,
    [VAULT_UNLOCK_LIMIT] = API_UNLOCK_LIMIT,
    [VAULT_TOKEN_LIMIT] = API_TOKEN_LIMIT,
    [VAULT_KDF_BUSY] = API_KDF_BUSY,
    [VAULT_BAD_IMPORT] = API_BAD_IMPORT,
    [VAULT_BAD_KDF] = API_BAD_KDF,
    [VAULT_CORRUPT] = API_CORRUPT,
    [VAULT_INTERNAL] = API_INTERNAL,
    [VAULT_AUDIT_FAILED] = API_AUDIT_FAILED,
    [VAULT_STORE_FAILED] = API_STORE_FAILED,
    [VAULT_NO_TOKEN] = API_TOKEN_NOT_FOUND,
    [VAULT_TOKEN_SIZE] = API_TOKEN_TOO_LARGE,
    [VAULT_BAD_LEGACY] = API_MIGRATE_REFUSED,
    [VAULT_BAD_SHARE] = API_BAD_SHARE,
    [VAULT_BAD_SHARES] = API_BAD_SHARES,
    [VAULT_NO_THRESHOLD] = API_NO_THRESHOLD,
    [VAULT_PASSWORD_OFF] = API_PASSWORD_OFF,
};

enum api_err api_vault_err(enum vault_err e)
{
	if (e == VAULT_OK)
		return API_OK;
	if (e >= VAULT_ERR_COUNT || api_from_vault[e] == API_OK)
		return API_INTERNAL;
	return api_from_vault[e];
}

json_t *api_error_body(enum api_err e, const char *details)
{
	json_t *b = json_pack("{s:s}", "error", api_error_text(e));

	if (b == NULL)
		return NULL;
	if (e < API_ERR_COUNT && api_errors[e].code != NULL)
		json_object_set_new(b, "code", json_string(api_errors[e].code));
	if (details != NULL)
		json_object_set_new(b, "details", json_string(details));
	return b;
}

void api_fail(struct api_resp *resp, enum api_err e, const char *details)
{
	json_decref(resp->body);
	resp->status = api_status(e);
	resp->body = api_error_body(e, details);
}

void api_reply(struct api_resp *resp, int status, json_t *body)
{
	json_decref(resp->body);
	resp->status = status;
	resp->body = body;
}
