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

static void test_error_map(void **state)
{
	json_t *b;

	(void)state;
	assert_int_equal(api_status(API_LOCKED), 423);
	assert_int_equal(api_status(API_BAD_PASSWORD), 401);
	assert_int_equal(api_status(API_AUDIT_FAILED), 503);
	for (int e = 1; e < API_ERR_COUNT; e++) {
		assert_true(api_status((enum api_err)e) >= 400);
		assert_non_null(api_error_text((enum api_err)e));
	}
	b = api_error_body(API_LOCKED, NULL);
	assert_string_equal(json_string_value(json_object_get(b, "error")), "Vault is locked");
	assert_string_equal(json_string_value(json_object_get(b, "code")), "VAULT_LOCKED");
	json_decref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_matching),
	    cmocka_unit_test(test_error_map),
	};
	return cmocka_run_group_tests_name("routes", tests, NULL, NULL);
}
