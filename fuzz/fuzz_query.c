/* fuzz_query.c: query-string values of the list routes (GET /tokens
 * ?limit ?includeRevoked ?userId ?cursor, GET /audit ?limit ?after) through
 * the real handlers and vault. Input: [flags][values separated by '\n'].
 * Invariants: a strictly well-formed request is answered 200, a surely
 * malformed one 400 with an error; a page never exceeds its limit, holds
 * only the asked user's and (unless asked) unrevoked tokens, and an audit
 * page after a cursor holds only later entries in ascending order. */
#include <assert.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "jalloc.h"
#include "routes.h"
#include "vault.h"

#include "fuzz_vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct vault *v;
static const struct route *r_tokens, *r_audit, *r_audit_secret;
static size_t n_live, n_all; /* tokens unrevoked / all, counted at setup */
static const char *users[] = {"alice", "bob", "a/b", "alice"};

static size_t count_tokens(int include_revoked)
{
	json_t *out = NULL;
	size_t n;

	assert(vault_token_list(v, NULL, include_revoked, 0, 1000, &out) == VAULT_OK);
	n = json_array_size(json_object_get(out, "tokens"));
	json_decref(out);
	return n;
}

static void setup(void)
{
	struct vault_actor who = {NULL, "127.0.0.1"};

	v = fuzz_vault_open(&who);
	for (size_t i = 0; i < sizeof(users) / sizeof(*users); i++) {
		json_t *allowed = json_pack("[s]", "*"), *perms = json_pack("[s]", "read"), *out;
		assert(vault_token_issue(v, users[i], allowed, perms, 86400, &who, &out) ==
		       VAULT_OK);
		if (i == 0) /* one revoked token */
			assert(vault_token_revoke(v, json_string_value(json_object_get(out, "id")),
						  &who) == VAULT_OK);
		json_decref(out);
		json_decref(allowed);
		json_decref(perms);
	}
	n_live = count_tokens(0);
	n_all = count_tokens(1);
	assert(n_all == sizeof(users) / sizeof(*users) && n_live == n_all - 1);
	for (const struct route *r = routes; r->method != NULL; r++) {
		if (strcmp(r->method, "GET") != 0)
			continue;
		if (strcmp(r->pattern, "/tokens") == 0)
			r_tokens = r;
		else if (strcmp(r->pattern, "/audit") == 0)
			r_audit = r;
		else if (strcmp(r->pattern, "/audit/secret/:key") == 0)
			r_audit_secret = r;
	}
	assert(r_tokens && r_audit && r_audit_secret);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setup();
	return 0;
}

/* All digits, 1..18 of them (fits a long long). */
static int strict_num(const char *s)
{
	size_t n = strspn(s, "0123456789");
	return n > 0 && n <= 18 && s[n] == '\0';
}

/* Surely not a number strtol could take whole: empty, or a byte that no
 * number (with sign or leading space) can contain. */
static int surely_not_num(const char *s)
{
	return s[0] == '\0' || strspn(s, " \t\n\v\f\r+-0123456789") != strlen(s) ||
	       strpbrk(s, "0123456789") == NULL;
}

static int strict_limit(const char *s)
{
	return s == NULL || (strict_num(s) && strlen(s) <= 4 && atoi(s) >= 1 && atoi(s) <= 1000);
}

/* A userId that needs no decoding, 1..255 bytes. */
static int strict_user(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= 255 && strchr(s, '%') == NULL;
}

/* A userId the handler must refuse: empty or a '%' not followed by two hex
 * digits, or an escape of NUL. */
static int surely_bad_user(const char *s)
{
	if (s[0] == '\0')
		return 1;
	for (const char *p = strchr(s, '%'); p != NULL; p = strchr(p + 1, '%')) {
		if (!strchr("0123456789abcdefABCDEF", p[1]) || p[1] == '\0' ||
		    !strchr("0123456789abcdefABCDEF", p[2]) || p[2] == '\0')
			return 1;
		if (p[1] == '0' && p[2] == '0')
			return 1;
	}
	return 0;
}

/* The decoded form of a userId (for comparing with answers). */
static void decode_user(const char *s, char *out, size_t outlen)
{
	size_t w = 0;
	for (const char *p = s; *p && w + 1 < outlen; p++) {
		if (*p == '%' && p[1] && p[2]) {
			char hex[3] = {p[1], p[2], '\0'};
			out[w++] = (char)strtol(hex, NULL, 16);
			p += 2;
		} else {
			out[w++] = *p;
		}
	}
	out[w] = '\0';
}

static void check_tokens(const struct api_req *q, const json_t *body, int strict, int bad)
{
	const json_t *toks = json_object_get(body, "tokens"), *e, *next;
	long limit = q->query_limit ? strtol(q->query_limit, NULL, 10) : 100;
	int revoked = q->query_include_revoked && strcmp(q->query_include_revoked, "true") == 0;
	char user[1024];
	size_t i;

	assert(!bad);
	assert(json_is_array(toks) && json_array_size(toks) <= (size_t)limit);
	if (q->query_user)
		decode_user(q->query_user, user, sizeof(user));
	json_array_foreach(toks, i, e) {
		assert(json_is_string(json_object_get(e, "id")));
		assert(revoked || json_object_get(e, "revokedAt") == NULL);
		assert(json_object_get(e, "integrity") == NULL);
		if (q->query_user)
			assert(strcmp(json_string_value(json_object_get(e, "userId")), user) == 0);
	}
	next = json_object_get(body, "next");
	assert(json_is_null(next) || json_is_integer(next));
	/* From the start, unfiltered: the page is exactly min(limit, count). */
	if (strict && q->query_user == NULL &&
	    (q->query_cursor == NULL || strtoll(q->query_cursor, NULL, 10) == 0)) {
		size_t all = revoked ? n_all : n_live;
		assert(json_array_size(toks) == ((size_t)limit < all ? (size_t)limit : all));
	}
}

static void check_audit(const struct api_req *q, const json_t *body)
{
	const json_t *logs = json_object_get(body, "logs"), *e;
	long limit = q->query_limit ? strtol(q->query_limit, NULL, 10) : q->param ? 50 : 100;
	int cursor = q->param == NULL && q->query_after != NULL;
	long long after = cursor ? strtoll(q->query_after, NULL, 10) : -1, prev = -1;
	size_t i;

	assert(json_is_array(logs) && json_array_size(logs) <= (size_t)limit);
	json_array_foreach(logs, i, e) {
		long long seq = json_integer_value(json_object_get(e, "seq"));
		assert(json_is_integer(json_object_get(e, "seq")) && seq > 0);
		if (cursor)
			assert(seq > after && seq > prev); /* later entries, ascending */
		else
			assert(prev < 0 || seq < prev); /* newest first */
		prev = seq;
	}
	assert(cursor == (json_object_get(body, "next") != NULL));
}

/* Splits data into up to five '\n'-separated values, present per flags. */
static void fill(struct api_req *q, unsigned flags, char *text, char **vals)
{
	const char **slots[] = {&q->query_limit, &q->query_include_revoked, &q->query_user,
				&q->query_cursor, &q->query_after};
	static char empty[1];
	char *p = text;

	for (size_t i = 0; i < 5; i++) {
		char *nl = p ? strchr(p, '\n') : NULL;
		vals[i] = p ? p : empty;
		if (nl)
			*nl = '\0';
		p = nl ? nl + 1 : NULL;
		if (flags & (1u << i))
			*slots[i] = vals[i];
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_req q;
	struct api_resp resp = {.status = 200};
	const struct route *r;
	char *text, *vals[5];
	int strict, bad;

	if (v == NULL)
		setup();
	if (size < 1 || size > 4096)
		return 0;
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0'; /* MHD hands over C strings: a NUL ends them */
	memset(&q, 0, sizeof(q));
	q.method = "GET";
	q.ip = "127.0.0.1";
	fill(&q, data[0] >> 2, text, vals);
	r = (data[0] & 3) == 0 ? r_tokens : (data[0] & 3) == 1 ? r_audit : r_audit_secret;
	if (r == r_audit_secret) {
		q.param = "a";
		q.param_len = 1;
	}
	r->handler(v, &fuzz_cfg, &q, &resp);
	assert(resp.defer == NULL && json_is_object(resp.body));
	assert(resp.status == 200 || resp.status == 400);
	if (resp.status == 400)
		assert(json_is_string(json_object_get(resp.body, "error")));
	bad = q.query_limit && surely_not_num(q.query_limit);
	strict = strict_limit(q.query_limit);
	if (r == r_tokens) {
		const char *rev = q.query_include_revoked;
		int rev_ok = rev == NULL || strcmp(rev, "true") == 0 || strcmp(rev, "false") == 0;
		bad |= !rev_ok || (q.query_user && surely_bad_user(q.query_user)) ||
		       (q.query_cursor && surely_not_num(q.query_cursor));
		strict &= rev_ok && (!q.query_user || strict_user(q.query_user)) &&
			  (!q.query_cursor || strict_num(q.query_cursor));
		if (resp.status == 200)
			check_tokens(&q, resp.body, strict, bad);
	} else {
		/* ?after is read on /audit only, and must be digits alone. */
		int cur = r == r_audit && q.query_after != NULL;
		bad |= cur && strspn(q.query_after, "0123456789") != strlen(q.query_after);
		bad |= cur && q.query_after[0] == '\0';
		strict &= !cur || strict_num(q.query_after);
		if (resp.status == 200)
			check_audit(&q, resp.body);
	}
	assert(!(strict && bad));
	if (strict)
		assert(resp.status == 200);
	if (bad)
		assert(resp.status == 400);
	json_decref(resp.body);
	free(text);
	return 0;
}
