/* cmd_token.c: token issue, list, revoke, revoke-user. An issued token is
 * printed once to stdout (for $(...)) and kept nowhere; a token given to
 * revoke is hashed here and only its SHA-256 is sent. */
#include "cmd.h"

#include "crypto.h"
#include "out.h"
#include "util.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cmd_issued_human(const json_t *j)
{
	const char *tok = json_string_value(json_object_get(j, "token"));
	const char *id = json_string_value(json_object_get(j, "id"));
	char when[32], d[32];

	fputs(tok ? tok : "", stdout);
	fputc('\n', stdout);
	out_time(cmd_int(j, "expiresAt"), when, sizeof(when));
	out_duration(cmd_int(j, "expiresIn"), d, sizeof(d));
	fputs("groupvault: token ", stderr);
	out_put(id ? id : "?", stderr);
	fprintf(stderr, " expires %s (in %s)\n", when, d);
}

int cmd_token_issue(struct cli *c, const struct args *a)
{
	const char *secrets = args_get(a, "secrets"), *perm = args_get(a, "perm");
	const char *ttl = args_get(a, "ttl");
	struct wire_resp r;
	json_t *body, *list;
	int64_t secs;
	int rc;

	if ((body = json_pack("{s:s}", "userId", args_get(a, "user"))) == NULL) {
		cli_err("--user must be UTF-8 text");
		return CLI_EUSAGE;
	}
	if (secrets != NULL) {
		if ((list = args_list(secrets)) == NULL)
			goto bad;
		json_object_set_new(body, "allowedSecrets", list);
	}
	if (perm != NULL) {
		if ((list = args_list(perm)) == NULL)
			goto bad;
		json_object_set_new(body, "permissions", list);
	}
	if (ttl != NULL) {
		if (args_duration(ttl, &secs) != 0) {
			cli_err("--ttl takes a duration like 90s, 15m, 1h or 30d");
			json_decref(body);
			return CLI_EUSAGE;
		}
		json_object_set_new(body, "ttlSeconds", json_integer(secs));
	}
	rc = wire_request(c, "POST", "/tokens", body, CLI_AUTH_MGMT, &r);
	json_decref(body);
	return rc != CLI_OK ? rc : cmd_print(c, &r, cmd_issued_human);
bad:
	cli_err("--secrets and --perm take comma lists without empty items (a,b,c)");
	json_decref(body);
	return CLI_EUSAGE;
}

/* One row of the token table. */
static void cmd_token_row(struct out_table *t, const json_t *k, int64_t now)
{
	char issued[32], expires[32];
	char *perms = out_text(json_object_get(k, "permissions"));
	char *scope = out_text(json_object_get(k, "allowedSecrets"));
	const char *state = "live";
	int64_t exp = cmd_int(k, "expiresAt");

	out_time(cmd_int(k, "issuedAt"), issued, sizeof(issued));
	out_time(exp, expires, sizeof(expires));
	if (json_object_get(k, "integrity") != NULL)
		state = "integrity failed";
	else if (json_object_get(k, "revokedAt") != NULL)
		state = "revoked";
	else if (exp <= now)
		state = "expired";
	{
		const char *row[7] = {json_string_value(json_object_get(k, "id")),
				      json_string_value(json_object_get(k, "userId")),
				      perms ? perms : "(locked)",
				      scope ? scope : "(locked)",
				      issued,
				      expires,
				      state};

		out_table_add(t, row);
	}
	crypto_wipe_free(perms);
	crypto_wipe_free(scope);
}

/* "/tokens?limit=..&userId=..&includeRevoked=true&cursor=.." into a new string. */
static char *cmd_token_path(const struct args *a, long long limit, long long cursor)
{
	const char *user = args_get(a, "user");
	char *esc = user ? wire_escape(user) : NULL, *path;
	size_t n = 128 + (esc ? strlen(esc) : 0);

	if ((user != NULL && esc == NULL) || (path = malloc(n)) == NULL) {
		wire_free_escaped(esc);
		return NULL;
	}
	snprintf(path, n, "/tokens?limit=%lld%s%s%s", limit, esc ? "&userId=" : "", esc ? esc : "",
		 args_has(a, "all") ? "&includeRevoked=true" : "");
	if (cursor >= 0)
		snprintf(path + strlen(path), n - strlen(path), "&cursor=%lld", cursor);
	wire_free_escaped(esc);
	return path;
}

int cmd_token_list(struct cli *c, const struct args *a)
{
	static const char *const head[7] = {"ID",     "USER",	 "PERMISSIONS", "SECRETS",
					    "ISSUED", "EXPIRES", "STATE"};
	int64_t limit = 1000, cursor = -1;
	struct out_table *t = NULL;
	struct wire_resp r;
	int rc = CLI_OK;

	if ((args_has(a, "limit") && args_int(args_get(a, "limit"), 1, 1000, &limit) != 0) ||
	    (args_has(a, "cursor") &&
	     args_int(args_get(a, "cursor"), 0, INT64_MAX, &cursor) != 0)) {
		cli_err("--limit takes 1..1000, --cursor a previous page's next");
		return CLI_EUSAGE;
	}
	if (!c->json && (t = out_table_new(7, head)) == NULL)
		return CLI_ESERVER;
	for (;;) {
		char *path = cmd_token_path(a, limit, cursor);
		const json_t *k, *next;
		size_t i;

		if (path == NULL) {
			rc = CLI_ESERVER;
			break;
		}
		rc = wire_request(c, "GET", path, NULL, CLI_AUTH_MGMT, &r);
		free(path);
		if (rc != CLI_OK || c->json) {
			rc = rc != CLI_OK ? rc : cmd_print(c, &r, NULL);
			break;
		}
		json_array_foreach(json_object_get(r.json, "tokens"), i, k)
		    cmd_token_row(t, k, util_now_ms());
		next = json_object_get(r.json, "next");
		cursor = json_is_integer(next) ? json_integer_value(next) : -1;
		wire_resp_free(&r);
		if (cursor < 0 || args_has(a, "limit"))
			break;
	}
	if (rc == CLI_OK && t != NULL) {
		out_table_print(t, stdout);
		if (cursor >= 0)
			fprintf(stderr, "groupvault: more tokens: --cursor %lld\n",
				(long long)cursor);
	}
	out_table_free(t);
	return rc;
}

/* {revokedBy?, reason?} */
static json_t *cmd_revoke_body(const struct args *a)
{
	json_t *body = json_object();

	if (args_has(a, "by"))
		json_object_set_new(body, "revokedBy", json_string(args_get(a, "by")));
	if (args_has(a, "reason"))
		json_object_set_new(body, "reason", json_string(args_get(a, "reason")));
	return body;
}

/* A token's id, or for a token's text (it has a '.') its SHA-256 hex, which
 * the server also revokes by: the text itself is never sent. */
static int cmd_revoke_id(const char *arg, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char h[CRYPTO_HASH_LEN];
	const char *why = NULL;
	char *text = args_secret_text(arg, CLI_TOKEN_MAX, &why);
	size_t n;

	if (text == NULL) {
		cli_err("token: %s", why);
		return -1;
	}
	n = strlen(text);
	if (strchr(text, '.') != NULL) {
		crypto_sha256(text, n, h);
		for (size_t i = 0; i < CRYPTO_HASH_LEN; i++) {
			out[2 * i] = hex[h[i] >> 4];
			out[2 * i + 1] = hex[h[i] & 15];
		}
		out[2 * CRYPTO_HASH_LEN] = '\0';
	} else if (n < len)
		memcpy(out, text, n + 1);
	crypto_wipe_free(text);
	if (n >= len && out[0] == '\0') {
		cli_err("token: not an id");
		return -1;
	}
	return 0;
}

static void cmd_revoked_human(const json_t *j)
{
	if (json_object_get(j, "revokedCount") != NULL)
		printf("revoked %lld tokens\n", cmd_int(j, "revokedCount"));
	else
		puts("revoked");
}

/* DELETE prefix + escaped arg with the revoke body. */
static int cmd_revoke(struct cli *c, const struct args *a, const char *prefix, const char *arg)
{
	char *esc = wire_escape(arg), *path = NULL;
	struct wire_resp r;
	json_t *body = NULL;
	int rc = CLI_ESERVER;

	if (esc == NULL || (path = malloc(strlen(prefix) + strlen(esc) + 1)) == NULL)
		goto done;
	strcpy(path, prefix);
	strcat(path, esc);
	body = cmd_revoke_body(a);
	if ((rc = wire_request(c, "DELETE", path, body, CLI_AUTH_MGMT, &r)) == CLI_OK)
		rc = cmd_print(c, &r, cmd_revoked_human);
done:
	json_decref(body);
	free(path);
	wire_free_escaped(esc);
	return rc;
}

int cmd_token_revoke(struct cli *c, const struct args *a)
{
	char id[2 * CRYPTO_HASH_LEN + 256] = "";

	if (cmd_revoke_id(a->pos[0], id, sizeof(id)) != 0)
		return CLI_EUSAGE;
	return cmd_revoke(c, a, "/tokens/", id);
}

int cmd_token_revoke_user(struct cli *c, const struct args *a)
{
	return cmd_revoke(c, a, "/tokens/user/", a->pos[0]);
}
