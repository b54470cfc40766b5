/* fuzz_body.c: JSON request bodies through the real handlers and vault
 * (store in a temporary directory). Input: [route][param length][param]
 * [body]. Invariants: every answer is a JSON object with a known status;
 * errors carry an "error" string; an acknowledged secret write reads back
 * with the same value. */
#include <assert.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "crypto.h"
#include "jalloc.h"
#include "routes.h"
#include "token.h"
#include "util.h"
#include "vault.h"

#include "fuzz_vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct vault *v;
static struct cap *cap;
static const struct route *body_routes[16];
static size_t nroutes;
static const struct route *get_route;


static void teardown(void) { token_cap_free(cap); }

static void setup(void)
{
	json_t *out = NULL, *allowed, *perms;
	struct vault_actor who = {NULL, "127.0.0.1"};
	const char *tok;

	v = fuzz_vault_open(&who);
	atexit(teardown); /* runs before fuzz_vault_close */
	allowed = json_pack("[s]", "*");
	perms = json_pack("[s,s,s]", "read", "write", "delete");
	assert(vault_token_issue(v, "fuzzer", allowed, perms, 86400, &who, &out) == VAULT_OK);
	tok = json_string_value(json_object_get(out, "token"));
	assert(vault_token_check(v, tok, strlen(tok), &cap) == VAULT_OK);
	json_decref(out);
	json_decref(allowed);
	json_decref(perms);
	for (const struct route *r = routes; r->method != NULL; r++) {
		if (r->body && strcmp(r->pattern, "/lock") != 0)
			body_routes[nroutes++] = r;
		if (strcmp(r->method, "GET") == 0 && strcmp(r->pattern, "/secrets/:key") == 0)
			get_route = r;
	}
}

static void check_resp(const struct api_resp *resp)
{
	static const int ok[] = {200, 400, 401, 403, 404, 413, 423, 429};
	int known = 0;

	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++)
		known |= resp->status == ok[i];
	assert(known);
	assert(json_is_object(resp->body));
	if (resp->status >= 400)
		assert(json_is_string(json_object_get(resp->body, "error")));
}

/* The text the HTTP layer would send, parsed back (it must be JSON). */
static json_t *take_answer(struct vault_defer *d)
{
	size_t len = 0;
	char *text = vault_defer_take(d, &len);
	json_t *o;

	assert(text != NULL && strlen(text) == len);
	o = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
	assert(json_is_object(o));
	crypto_wipe_free(text);
	return o;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct route *r;
	struct api_req req;
	struct api_resp resp = {.status = 200};
	char param[256];
	size_t plen;

	if (v == NULL)
		setup();
	if (size < 2)
		return 0;
	r = body_routes[data[0] % nroutes];
	plen = data[1];
	if ((size_t)plen + 2 > size)
		return 0;
	memcpy(param, data + 2, plen);
	param[plen] = '\0';
	memset(&req, 0, sizeof(req));
	req.method = r->method;
	req.ip = "127.0.0.1";
	req.cap = cap;
	if (strchr(r->pattern, ':') != NULL) {
		if (strlen(param) != plen ||
		    (strstr(r->pattern, ":key") ? !util_valid_name(param, plen) : plen == 0))
			return 0; /* the dispatcher answers these before any handler */
		req.param = param;
		req.param_len = plen;
	}
	req.body = json_loadb((const char *)data + 2 + plen, size - 2 - plen,
			      JSON_REJECT_DUPLICATES, NULL);
	if (req.body != NULL && !json_is_object(req.body)) {
		json_decref(req.body);
		return 0;
	}
	r->handler(v, &fuzz_cfg, &req, &resp);
	if (resp.defer != NULL) { /* perform it and wait, and answer as the HTTP layer would */
		enum vault_err e = vault_defer_wait(resp.defer);
		if (e == VAULT_OK)
			resp.body = take_answer(resp.defer);
		else
			api_fail(&resp, api_vault_err(e), NULL);
		vault_defer_free(resp.defer);
		resp.defer = NULL;
	}
	check_resp(&resp);
	if (resp.status == 200 && strcmp(r->pattern, "/secrets/:key") == 0 &&
	    strcmp(r->method, "POST") == 0) {
		struct api_resp got = {.status = 200};
		struct api_req g = req;
		g.method = "GET";
		g.body = NULL;
		get_route->handler(v, &fuzz_cfg, &g, &got);
		assert(got.status == 200 && got.defer != NULL);
		assert(vault_defer_wait(got.defer) == VAULT_OK);
		got.body = take_answer(got.defer);
		vault_defer_free(got.defer);
		assert(json_equal(json_object_get(got.body, "value"),
				  json_object_get(req.body, "value")));
		json_decref(got.body);
	}
	json_decref(resp.body);
	json_decref(req.body);
	return 0;
}
