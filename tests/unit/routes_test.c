/* routes_test.c: the route table's matching (404 vs 405, parameters,
 * literal before parameter) and the error map. */
#include "test_common.h"

#include "api.h"
#include "routes.h"

static const struct route *match(const char *method, const char *a, const char *b, const char *c,
				 int *known, int *param)
{
	char *segs[3] = {(char *)(uintptr_t)a, (char *)(uintptr_t)b, (char *)(uintptr_t)c};
	size_t n = c ? 3 : b ? 2 : a ? 1 : 0;

	return routes_match(method, segs, n, known, param);
}

static void test_matching(void **state)
{
	const struct route *r;
	int known, param;

	(void)state;
	r = match("GET", "health", NULL, NULL, &known, &param);
	assert_non_null(r);
	assert_string_equal(r->pattern, "/health");
	assert_int_equal(param, -1);
	r = match("POST", "health", NULL, NULL, &known, &param);
	assert_null(r);
	assert_true(known); /* 405 */
	r = match("GET", "nope", NULL, NULL, &known, &param);
	assert_null(r);
	assert_false(known); /* 404 */
	r = match("GET", "secrets", "api-key", NULL, &known, &param);
	assert_non_null(r);
	assert_string_equal(r->pattern, "/secrets/:key");
	assert_int_equal(param, 1);
	r = match("DELETE", "tokens", "user", "u1", &known, &param);
	assert_non_null(r);
	assert_string_equal(r->pattern, "/tokens/user/:userId");
	assert_int_equal(param, 2);
	r = match("DELETE", "tokens", "abc", NULL, &known, &param);
	assert_string_equal(r->pattern, "/tokens/:id");
	r = match("GET", "audit", "verify", NULL, &known, &param);
	assert_string_equal(r->pattern, "/audit/verify");
	r = match("GET", "audit", "secret", "k", &known, &param);
	assert_string_equal(r->pattern, "/audit/secret/:key");
	r = match("PUT", "secrets", "k", NULL, &known, &param);
	assert_null(r);
	assert_true(known);
}

/* Every error kind answers with a 4xx/5xx status, a non-empty text that is
 * exactly the body's "error", and an UPPER_CASE code when it has one. Kinds
 * that share a text (the original service's messages) must share status and
 * code too, or a client could not tell what a message means. */
static void test_error_map(void **state)
{
	json_t *b, *c;

	(void)state;
	assert_int_equal(api_status(API_LOCKED), 423);
	assert_int_equal(api_status(API_BAD_PASSWORD), 401);
	assert_int_equal(api_status(API_AUDIT_FAILED), 503);
	for (int e = 1; e < API_ERR_COUNT; e++) {
		const char *text = api_error_text((enum api_err)e);
		int status = api_status((enum api_err)e);
		const char *code;

		assert_true(status >= 400 && status <= 599);
		assert_non_null(text);
		assert_true(strlen(text) > 0);
		b = api_error_body((enum api_err)e, NULL);
		assert_non_null(b);
		assert_string_equal(json_string_value(json_object_get(b, "error")), text);
		assert_null(json_object_get(b, "details"));
		code = json_string_value(json_object_get(b, "code"));
		for (const char *p = code; p != NULL && *p != '\0'; p++)
			assert_true((*p >= 'A' && *p <= 'Z') || *p == '_');
		for (int f = 1; f < e; f++) {
			if (strcmp(text, api_error_text((enum api_err)f)) != 0)
				continue;
			assert_int_equal(status, api_status((enum api_err)f));
			c = api_error_body((enum api_err)f, NULL);
			assert_true(json_equal(json_object_get(b, "code"), json_object_get(c, "code")) ||
				    (code == NULL && json_object_get(c, "code") == NULL));
			json_decref(c);
		}
		json_decref(b);
	}
	/* Outside the table: a plain 500, never a NULL text. */
	assert_int_equal(api_status(API_ERR_COUNT), 500);
	assert_string_equal(api_error_text(API_ERR_COUNT), "Internal error");
	b = api_error_body(API_LOCKED, "why");
	assert_string_equal(json_string_value(json_object_get(b, "error")), "Vault is locked");
	assert_string_equal(json_string_value(json_object_get(b, "code")), "VAULT_LOCKED");
	assert_string_equal(json_string_value(json_object_get(b, "details")), "why");
	json_decref(b);
}

/* Each vault outcome has its own answer: a new vault error kind that nobody
 * mapped would fall back to a 500, and this test names it. */
static void test_vault_error_map(void **state)
{
	(void)state;
	assert_int_equal(api_vault_err(VAULT_OK), API_OK);
	for (int e = 1; e < VAULT_ERR_COUNT; e++) {
		enum api_err a = api_vault_err((enum vault_err)e);

		assert_true(api_status(a) >= 400 && api_status(a) <= 599);
		if (e != VAULT_INTERNAL)
			assert_int_not_equal(a, API_INTERNAL);
		for (int f = 1; f < e; f++)
			assert_int_not_equal(a, api_vault_err((enum vault_err)f));
	}
	assert_int_equal(api_vault_err(VAULT_ERR_COUNT), API_INTERNAL);
	assert_int_equal(api_status(api_vault_err(VAULT_LOCKED)), 423);
	assert_int_equal(api_status(api_vault_err(VAULT_NOT_FOUND)), 404);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_matching),
	    cmocka_unit_test(test_error_map),
	    cmocka_unit_test(test_vault_error_map),
	};
	return cmocka_run_group_tests_name("routes", tests, NULL, NULL);
}
