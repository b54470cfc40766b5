/* limit_test.c: the relations that must hold between the bounds in
 * limit.h, the route table and the settings table. Changing one number in
 * limit.h without the others it depends on fails here. */
#include "test_common.h"

#include <arpa/inet.h>
#include <stdlib.h>

#include "config.h"
#include "limit.h"
#include "routes.h"
#include "token.h"

/* The request head with the longest token, longest target and the other
 * headers fits in half of libmicrohttpd's per-connection pool (the other
 * half holds the parsed header table and the response head). */
static void test_token_fits_head(void **state)
{
	size_t line = strlen("DELETE ") + LIMIT_PATH_MAX + strlen(" HTTP/1.1\r\n");
	size_t tok = strlen("x-capability-token: ") + LIMIT_TOKEN_MAX + 2;

	(void)state;
	assert_true(line + tok + LIMIT_HEAD_OTHER + 2 <= LIMIT_CONN_MEMORY / 2);
	/* Above 32 KiB libmicrohttpd maps the pool (unmapped at close). */
	assert_true(LIMIT_CONN_MEMORY > 32 * 1024);
}

/* With the defaults, the largest value can be stored: its body fits. */
static void test_body_holds_value(void **state)
{
	(void)state;
	assert_true(LIMIT_BODY_DEFAULT >= LIMIT_VALUE_DEFAULT + LIMIT_BODY_OVERHEAD);
	assert_true(LIMIT_BODY_MIN <= LIMIT_BODY_DEFAULT && LIMIT_BODY_DEFAULT <= LIMIT_BODY_MAX);
	assert_true(LIMIT_VALUE_DEFAULT <= LIMIT_VALUE_MAX);
}

/* Every route cap is either "up to MAX_BODY_BYTES" or a number between
 * the table-mistake floor and the default MAX_BODY_BYTES (which then never
 * clips it); bodyless routes are reads. */
static void test_route_caps(void **state)
{
	(void)state;
	for (const struct route *r = routes; r->method != NULL; r++) {
		if (r->body == 0) {
			assert_string_equal(r->method, "GET");
			continue;
		}
		if (r->body == ROUTE_BODY_MAX)
			continue;
		if (r->body == ROUTE_BODY_IMPORT) { /* only the import takes a whole vault */
			assert_string_equal(r->pattern, "/import");
			continue;
		}
		assert_true(r->body >= LIMIT_ROUTE_BODY_MIN);
		assert_true(r->body <= LIMIT_BODY_DEFAULT);
	}
}

static const struct route *route(const char *method, const char *pattern)
{
	for (const struct route *r = routes; r->method != NULL; r++)
		if (strcmp(r->method, method) == 0 && strcmp(r->pattern, pattern) == 0)
			return r;
	fail_msg("no route %s %s", method, pattern);
	return NULL;
}

/* Each capped route takes its largest valid body: a password and a userId
 * each escaped as \u00XX (6 bytes a byte); a token request naming every
 * allowedSecrets entry at its longest, with every permission entry. */
static void test_route_caps_hold_bodies(void **state)
{
	size_t pw = 6 * (LIMIT_PASSWORD_MAX + LIMIT_NAME_MAX) + 64;
	size_t tok = LIMIT_ALLOWED_MAX * (LIMIT_NAME_MAX + 3) +
		     LIMIT_PERMS_MAX * (strlen("\"delete\"") + 1) + 6 * LIMIT_NAME_MAX + 256;

	(void)state;
	assert_true(route("POST", "/init")->body >= pw);
	assert_true(route("POST", "/unlock")->body >= pw);
	assert_true(route("POST", "/tokens")->body >= tok);
	/* and a request whose token would pass LIMIT_TOKEN_MAX gets its own
	 * error, not a 413 (base64 grows the payload by 4/3). */
	assert_true(route("POST", "/tokens")->body > LIMIT_TOKEN_MAX * 3 / 4);
	assert_true(route("DELETE", "/tokens/user/:userId")->body >= 6 * LIMIT_NAME_MAX + 64);
	assert_true(route("DELETE", "/secrets/:key")->body >= 6 * LIMIT_NAME_MAX + 64);
}

/* A longest name, percent-encoded, fits the target of the longest route,
 * and the routes fit the segment budget. */
static void test_path_bounds(void **state)
{
	(void)state;
	assert_true(strlen("/audit/secret/") + 3 * LIMIT_NAME_MAX + strlen("?limit=1000") <
		    LIMIT_PATH_MAX);
	for (const struct route *r = routes; r->method != NULL; r++) {
		size_t segs = 0;
		for (const char *p = r->pattern; *p != '\0'; p++)
			segs += *p == '/';
		assert_true(segs <= LIMIT_PATH_SEGS);
	}
}

/* Every admitted unlock holds a copy of its password in the secure heap,
 * which rounds each block up to a power of two: at the queue's ceiling they
 * take at most half of it, leaving the rest to keys. */
static void test_secure_heap_holds_queue(void **state)
{
	size_t block = 1;

	(void)state;
	while (block < LIMIT_PASSWORD_MAX + 1)
		block <<= 1;
	assert_int_equal(LIMIT_SECURE_HEAP & (LIMIT_SECURE_HEAP - 1), 0);
	assert_true((size_t)LIMIT_UNLOCK_QUEUE_MAX * block <= LIMIT_SECURE_HEAP / 2);
}

static unsigned long table_default(const char *name)
{
	for (const struct config_var *c = config_vars; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return strtoul(c->def, NULL, 10);
	fail_msg("no setting %s", name);
	return 0;
}

/* The settings table's defaults are the ones here and sit in their ranges. */
static void test_setting_defaults(void **state)
{
	(void)state;
	assert_int_equal(table_default("MAX_BODY_BYTES"), LIMIT_BODY_DEFAULT);
	assert_int_equal(table_default("MAX_VALUE_BYTES"), LIMIT_VALUE_DEFAULT);
	assert_true(table_default("UNLOCK_QUEUE") <= LIMIT_UNLOCK_QUEUE_MAX);
	assert_true(table_default("TOKEN_MIN_TTL_SECONDS") <= LIMIT_TTL_DEFAULT);
	assert_true(LIMIT_TTL_DEFAULT <= LIMIT_TTL_MAX);
	assert_true(LIMIT_PAGE_DEFAULT <= LIMIT_PAGE_MAX);
	assert_true(LIMIT_PAGE_SECRET_DEFAULT <= LIMIT_PAGE_MAX);
	assert_true(LIMIT_PAGE_LIST_DEFAULT <= LIMIT_PAGE_MAX);
	assert_int_equal(table_default("IMPORT_MAX_BODY_BYTES"), LIMIT_IMPORT_DEFAULT);
	assert_true(LIMIT_IMPORT_DEFAULT >= LIMIT_BODY_DEFAULT &&
		    LIMIT_IMPORT_DEFAULT <= LIMIT_IMPORT_MAX);
}

/* Texts that carry a name: a group id the settings accept fits a token's
 * groupId, and an address fits its buffer. */
static void test_text_sizes(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(sizeof(c.group_id), LIMIT_NAME_MAX + 1);
	assert_true(LIMIT_ADDR_TEXT >= INET6_ADDRSTRLEN);
	assert_true(LIMIT_TOKEN_ID_MAX >= TOKEN_ID_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token_fits_head),  cmocka_unit_test(test_body_holds_value),
	    cmocka_unit_test(test_route_caps),	     cmocka_unit_test(test_route_caps_hold_bodies),
	    cmocka_unit_test(test_path_bounds),	     cmocka_unit_test(test_secure_heap_holds_queue),
	    cmocka_unit_test(test_setting_defaults), cmocka_unit_test(test_text_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
