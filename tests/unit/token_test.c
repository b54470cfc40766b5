/* token_test.c: signing, verification against forgery and tampering, and
 * scope patterns. */
#include <stdio.h>
#include <stdlib.h>

#include "test_common.h"

#include "crypto.h"
#include "jalloc.h"
#include "enc.h"
#include "token.h"

static const unsigned char key[32] = "0123456789abcdef0123456789abcde";
static const unsigned char other[32] = "fedcba9876543210fedcba987654321";

static json_t *payload(const char *scope, const char *perm)
{
	return json_pack("{s:s,s:s,s:s,s:[s],s:[s],s:I}", "id", "00112233445566778899aabbccddeeff",
			 "groupId", "g1", "userId", "u1", "allowedSecrets", scope, "permissions",
			 perm, "expiresAt", (json_int_t)1900000000000);
}

static void test_sign_verify(void **state)
{
	json_t *p = payload("*", "read");
	char *tok = token_sign(key, 32, p);
	struct cap *c;

	(void)state;
	assert_non_null(tok);
	c = token_verify(key, 32, tok, strlen(tok));
	assert_non_null(c);
	assert_string_equal(c->id, "00112233445566778899aabbccddeeff");
	assert_string_equal(c->group_id, "g1");
	assert_string_equal(c->user_id, "u1");
	assert_int_equal(c->perms, TOKEN_PERM_READ);
	assert_int_equal(c->expires_at, 1900000000000LL);
	token_cap_free(c);
	/* Another key, truncation, an extra byte, a flipped character. */
	assert_null(token_verify(other, 32, tok, strlen(tok)));
	assert_null(token_verify(key, 32, tok, strlen(tok) - 1));
	for (size_t i = 0; i < strlen(tok); i++) {
		char saved = tok[i];
		tok[i] = saved == 'A' ? 'B' : 'A';
		assert_null(token_verify(key, 32, tok, strlen(tok)));
		tok[i] = saved;
	}
	free(tok);
	json_decref(p);
}

static void test_escalation_needs_resign(void **state)
{
	json_t *p = payload("api-key", "read");
	char *tok = token_sign(key, 32, p), *dot, forged[2048], b64[2048];
	const char *esc = "{\"id\":\"00112233445566778899aabbccddeeff\",\"groupId\":\"g1\","
			  "\"userId\":\"u1\",\"allowedSecrets\":[\"*\"],\"permissions\":[\"read\","
			  "\"write\",\"delete\"],\"expiresAt\":1900000000000}";

	(void)state;
	/* Same signature, widened payload: rejected. */
	dot = strchr(tok, '.');
	enc_b64_encode((const unsigned char *)esc, strlen(esc), b64, 1);
	snprintf(forged, sizeof(forged), "%s%s", b64, dot);
	assert_null(token_verify(key, 32, forged, strlen(forged)));
	free(tok);
	json_decref(p);
}

static void test_bad_shapes(void **state)
{
	static const char *bad[] = {
	    "{}",
	    "[]",
	    "{\"id\":\"x\",\"groupId\":\"g\",\"userId\":\"u\",\"allowedSecrets\":[\"*\"],"
	    "\"permissions\":[\"root\"],\"expiresAt\":1}",
	    "{\"id\":\"x\",\"groupId\":\"g\",\"userId\":\"u\",\"allowedSecrets\":[1],"
	    "\"permissions\":[\"read\"],\"expiresAt\":1}",
	    "{\"id\":\"x\",\"groupId\":\"g\",\"userId\":\"u\",\"allowedSecrets\":[\"*\"],"
	    "\"permissions\":[\"read\"],\"expiresAt\":\"1\"}",
	    "{\"id\":\"x\",\"id\":\"y\",\"groupId\":\"g\",\"userId\":\"u\",\"allowedSecrets\":[],"
	    "\"permissions\":[],\"expiresAt\":1}",
	};
	char tok[1024];
	unsigned char mac[32];

	(void)state;
	/* Correctly signed but malformed payloads are still refused. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		size_t n;
		enc_b64_encode((const unsigned char *)bad[i], strlen(bad[i]), tok, 1);
		n = strlen(tok);
		crypto_hmac_sha256(key, 32, tok, n, mac);
		tok[n] = '.';
		enc_b64_encode(mac, 32, tok + n + 1, 1);
		assert_null(token_verify(key, 32, tok, strlen(tok)));
	}
	assert_null(token_verify(key, 32, "", 0));
	assert_null(token_verify(key, 32, "abc", 3));
	assert_null(token_verify(key, 32, ".", 1));
}

static void test_scope(void **state)
{
	json_t *p = json_pack("{s:s,s:s,s:s,s:[s,s],s:[s,s],s:I}", "id", "i", "groupId", "g",
			      "userId", "u", "allowedSecrets", "db-password", "prod.*",
			      "permissions", "read", "delete", "expiresAt", (json_int_t)1);
	char *tok = token_sign(key, 32, p);
	struct cap *c = token_verify(key, 32, tok, strlen(tok));

	(void)state;
	assert_non_null(c);
	assert_true(token_allows(c, "db-password", 11, TOKEN_PERM_READ));
	assert_false(token_allows(c, "db-passwor", 10, TOKEN_PERM_READ));
	assert_false(token_allows(c, "db-password2", 12, TOKEN_PERM_READ));
	assert_true(token_allows(c, "prod.api", 8, TOKEN_PERM_READ));
	assert_true(token_allows(c, "prod.", 5, TOKEN_PERM_DELETE));
	assert_false(token_allows(c, "prod", 4, TOKEN_PERM_READ));
	assert_false(token_allows(c, "staging.api", 11, TOKEN_PERM_READ));
	assert_false(token_allows(c, "prod.api", 8, TOKEN_PERM_WRITE));
	token_cap_free(c);
	free(tok);
	json_decref(p);
}

/* "admin" verifies (as the original issues it) and grants nothing; scope
 * entries no name can equal match nothing; a '*' suffix stays a prefix. */
static void test_admin_and_odd_scopes(void **state)
{
	json_t *p = json_pack("{s:s,s:s,s:s,s:[s,s,s,s],s:[s],s:I}", "id", "i", "groupId", "g",
			      "userId", "u", "allowedSecrets", "db/pass", "*a", "a b", "x/*",
			      "permissions", "admin", "expiresAt", (json_int_t)1);
	char *tok = token_sign(key, 32, p);
	struct cap *c = token_verify(key, 32, tok, strlen(tok));

	(void)state;
	assert_int_equal(token_perm("admin"), TOKEN_PERM_ADMIN);
	assert_int_equal(token_perm("root"), 0);
	assert_non_null(c);
	assert_int_equal(c->perms, TOKEN_PERM_ADMIN);
	assert_false(token_allows(c, "a", 1, TOKEN_PERM_ADMIN));
	assert_false(token_in_scope(c, "db", 2));
	assert_false(token_in_scope(c, "pass", 4));
	assert_false(token_in_scope(c, "a", 1));
	assert_false(token_in_scope(c, "x.y", 3));
	/* The exact texts themselves, were they valid names, would match. */
	assert_true(token_in_scope(c, "*a", 2));
	assert_true(token_in_scope(c, "x/y", 3));
	token_cap_free(c);
	free(tok);
	json_decref(p);
}

static void test_verify_cache(void **state)
{
	struct token_cache *tc = token_cache_new(1); /* every token collides */
	json_t *p1 = payload("a", "read"), *p2 = payload("b", "write");
	char *t1 = token_sign(key, 32, p1), *t2 = token_sign(key, 32, p2);
	struct cap *a, *b, *c;

	(void)state;
	a = token_verify_cached(tc, key, 32, t1, strlen(t1));
	b = token_verify_cached(tc, key, 32, t1, strlen(t1));
	assert_non_null(a);
	assert_ptr_equal(a, b); /* the second use is a hit */
	/* A tampered copy of a cached token is a different cache key: it is
	 * verified afresh and refused. */
	t1[strlen(t1) - 2] ^= 1;
	assert_null(token_verify_cached(tc, key, 32, t1, strlen(t1)));
	t1[strlen(t1) - 2] ^= 1;
	c = token_verify_cached(tc, key, 32, t2, strlen(t2)); /* evicts t1 */
	assert_non_null(c);
	assert_int_equal(c->perms, TOKEN_PERM_WRITE);
	assert_string_equal(a->allowed ? json_string_value(json_array_get(a->allowed, 0)) : "",
			    "a");
	token_cap_free(a); /* still valid after eviction until released */
	token_cap_free(b);
	token_cap_free(c);
	token_cache_free(tc);
	free(t1);
	free(t2);
	json_decref(p1);
	json_decref(p2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_verify),	 cmocka_unit_test(test_escalation_needs_resign),
	    cmocka_unit_test(test_bad_shapes),	 cmocka_unit_test(test_scope),
	    cmocka_unit_test(test_verify_cache), cmocka_unit_test(test_admin_and_odd_scopes),
	};

	jalloc_init();
	return cmocka_run_group_tests_name("token", tests, NULL, NULL);
}
