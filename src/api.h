/* api.h: what a handler sees (a request) and fills (a response), the one
 * table of error kinds with their HTTP status and client-facing text, and
 * the map from the vault's error kinds to them. No libmicrohttpd type
 * appears here, and no vault type beyond an opaque pointer. */
#ifndef GV_API_H
#define GV_API_H

#include <jansson.h>
#include <stddef.h>

#include "vault_err.h"

enum api_err {
	API_OK = 0,
	API_BAD_BODY,
	API_ALREADY_INIT,
	API_WEAK_PASSWORD,
	API_NOT_INIT,
	API_BAD_PASSWORD,
	API_UNAUTHORIZED,
	API_TOKEN_REQUIRED,
	API_TOKEN_INVALID,
	API_WRONG_GROUP,
	API_ACCESS_DENIED,
	API_NOT_FOUND,
	API_NO_ROUTE,
	API_METHOD,
	API_LOCKED,
	API_UNLOCK_LIMIT,
	API_TOKEN_LIMIT,
	API_KDF_BUSY,
	API_BODY_TOO_LARGE,
	API_VALUE_TOO_LARGE,
	API_BAD_TTL,
	API_BAD_NAME,
	API_BAD_LIMIT,
	API_BAD_IMPORT,
	API_BAD_HEADER,
	API_BAD_KDF,
	API_CORRUPT,
	API_INTERNAL,
	API_AUDIT_FAILED,
	API_STORE_FAILED,
	API_BAD_CURSOR,
	API_TOKEN_NOT_FOUND,
	API_TOKEN_TOO_LARGE,
	API_MIGRATE_REFUSED,
	API_AUTH_LIMIT,
	API_BAD_SHARE,
	API_BAD_SHARES,
	API_NO_THRESHOLD,
	API_PASSWORD_OFF,
	API_ERR_COUNT
};

/* HTTP status for an error kind. */
int api_status(enum api_err e);
/* Builds the JSON error body {error, code?, details?}; details may be NULL.
 * Returns a new reference. */
json_t *api_error_body(enum api_err e, const char *details);
/* The client-facing text of an error kind. */
const char *api_error_text(enum api_err e);
/* The error kind that answers a vault error (VAULT_OK -> API_OK). */
enum api_err api_vault_err(enum vault_err e);

/* API_AUTH_METRICS: management, or none when METRICS_PUBLIC=1. */
enum api_auth { API_AUTH_NONE, API_AUTH_MGMT, API_AUTH_CAP, API_AUTH_METRICS };

struct cap; /* a verified capability token (token.h) */

struct api_req {
	const char *method;
	const char *param; /* decoded path parameter, NUL-free, or NULL */
	size_t param_len;
	json_t *body;	       /* parsed JSON object, or NULL when none was sent */
	const char *ip;	       /* client address as text */
	const struct cap *cap; /* set for API_AUTH_CAP routes */
	const char *query_limit;
	const char *query_format;
	const char *query_after; /* GET /audit?after= */
	const char *query_user;		   /* GET /tokens ?userId= */
	const char *query_include_revoked; /* GET /tokens ?includeRevoked= */
	const char *query_cursor;	   /* GET /tokens ?cursor= */
};

struct vault_defer; /* opaque here; the HTTP layer drives it (vault.h) */

/* A long answer produced piece by piece (a 200, JSON, sent chunked). */
struct api_stream {
	/* Up to max bytes into buf: the count, 0 at the end, -1 on a fault
	 * (the connection is then cut, so no client takes a truncated answer
	 * for a whole one). */
	long (*read)(void *ctx, char *buf, size_t max);
	void (*free)(void *ctx);
	void *ctx;
};

struct api_resp {
	int status;
	json_t *body;	      /* owned; serialised and wiped after sending */
	unsigned retry_after; /* seconds; 0 for none */
	/* Set instead of body for a secret read or write (owned): the answer
	 * goes out only once its commit is durable (the HTTP layer waits
	 * without blocking a thread). */
	struct vault_defer *defer;
	/* Set instead of body for an answer already written as text (owned,
	 * wipe-on-free: crypto_wipe_free): by the HTTP layer, or by a handler
	 * whose answer is not JSON (then with content_type). */
	char *text;
	size_t text_len;
	const char *content_type; /* NULL: JSON */
	/* Set instead of body for an answer too big to build (owned, malloc'd;
	 * the HTTP layer calls its free, also when it cannot send it). */
	struct api_stream *stream;
};

/* Fills resp with an error; details may be NULL. */
void api_fail(struct api_resp *resp, enum api_err e, const char *details);
/* Fills resp with status and body (steals the reference). */
void api_reply(struct api_resp *resp, int status, json_t *body);

#endif
