/* agent_vault_env_test.c: a vault's environment holds exactly the agent's
 * settings plus VAULT_ENV_ pass-throughs; names the agent sets are refused. */
#include <stdlib.h>

#include "test_common.h"

#include "agent/vault_env.h"

static const char *find(char **env, const char *key)
{
	size_t n = strlen(key);

	for (char **e = env; *e != NULL; e++)
		if (strncmp(*e, key, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static void test_build(void **state)
{
	struct backend_spec s = {.group_id = "g1", .port = 18805, .auth_token = "tok-0123456789abcdef",
				 .data_dir = "/x/data"};
	char **env;

	(void)state;
	setenv("VAULT_ENV_SESSION_TTL_SECONDS", "60", 1);
	setenv("AUTH_TOKEN", "the-agent-s-own-environment", 1);
	env = vault_env_build(&s, "127.0.0.1", "/x/data");
	assert_non_null(env);
	assert_string_equal(find(env, "PORT"), "18805");
	assert_string_equal(find(env, "GROUP_ID"), "g1");
	assert_string_equal(find(env, "AUTH_TOKEN"), "tok-0123456789abcdef");
	assert_string_equal(find(env, "DATA_DIR"), "/x/data");
	assert_string_equal(find(env, "BIND_ADDRESS"), "127.0.0.1");
	assert_string_equal(find(env, "SESSION_TTL_SECONDS"), "60");
	assert_null(find(env, "SIGNING_KEY"));
	assert_null(find(env, "VAULT_ENV_SESSION_TTL_SECONDS"));
	vault_env_free(env);
	env = vault_env_build(&s, NULL, NULL); /* the image sets these */
	assert_non_null(env);
	assert_null(find(env, "DATA_DIR"));
	assert_null(find(env, "BIND_ADDRESS"));
	vault_env_free(env);
	setenv("VAULT_ENV_AUTH_TOKEN", "sneaky", 1);
	assert_null(vault_env_build(&s, NULL, NULL));
	unsetenv("VAULT_ENV_AUTH_TOKEN");
	unsetenv("VAULT_ENV_SESSION_TTL_SECONDS");
	unsetenv("AUTH_TOKEN");
}

static void test_allowed(void **state)
{
	(void)state;
	assert_true(vault_env_allowed("THREADS", 7));
	assert_true(vault_env_allowed("KDF_MEMORY_KIB", 14));
	assert_false(vault_env_allowed("", 0));
	assert_false(vault_env_allowed("PORT", 4));
	assert_false(vault_env_allowed("SIGNING_KEY", 11));
	assert_false(vault_env_allowed("GROUP_ID", 8));
	assert_false(vault_env_allowed("lower", 5));
	assert_false(vault_env_allowed("LD_PRELOAD", 10)); /* not a vault setting: a loader hook */
	assert_false(vault_env_allowed("A-B", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_build),
	    cmocka_unit_test(test_allowed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
