/* config_test.c: defaults, required variables and bounds. */
#include <stdlib.h>

#include "test_common.h"

#include "config.h"

static void set_required(void)
{
	setenv("GROUP_ID", "g1", 1);
	setenv("AUTH_TOKEN", "0123456789abcdef0123", 1);
	unsetenv("PORT");
	unsetenv("SIGNING_KEY");
	unsetenv("SESSION_TTL_SECONDS");
}

static void test_defaults(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	set_required();
	assert_int_equal(config_load(&c, err, sizeof(err)), 0);
	assert_int_equal(c.port, 18790);
	assert_int_equal(c.session_ttl, 1800);
	assert_int_equal(c.max_body, LIMIT_BODY_DEFAULT);
	assert_string_equal(c.bind_address, "127.0.0.1");
	assert_string_equal(c.data_dir, "./data");
	assert_string_equal(c.signing_key, "");
	assert_int_equal(c.kdf_memory, 65536);
}

static void test_required_and_bounds(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	set_required();
	unsetenv("GROUP_ID");
	assert_int_equal(config_load(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "GROUP_ID is required");
	set_required();
	unsetenv("AUTH_TOKEN");
	assert_int_equal(config_load(&c, err, sizeof(err)), -1);
	assert_string_equal(err, "AUTH_TOKEN is required");
	set_required();
	setenv("PORT", "70000", 1);
	assert_int_equal(config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "PORT"));
	setenv("PORT", "12x", 1);
	assert_int_equal(config_load(&c, err, sizeof(err)), -1);
	setenv("PORT", "-1", 1);
	assert_int_equal(config_load(&c, err, sizeof(err)), -1);
	set_required();
	setenv("SIGNING_KEY", "short", 1);
	assert_int_equal(config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "SIGNING_KEY"));
	set_required();
	setenv("AUTH_TOKEN", "short", 1);
	assert_int_equal(config_load(&c, err, sizeof(err)), -1);
	set_required();
	setenv("SESSION_TTL_SECONDS", "2", 1);
	assert_int_equal(config_load(&c, err, sizeof(err)), 0);
	assert_int_equal(c.session_ttl, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_required_and_bounds),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
