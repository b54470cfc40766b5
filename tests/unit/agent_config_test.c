/* agent_config_test.c: the agent's defaults, required token and bounds. */
#include <stdlib.h>

#include "test_common.h"

#include "agent/config.h"

static void clean(void)
{
	static const char *const vars[] = {
	    "AGENT_PORT", "AGENT_BIND_ADDRESS", "AGENT_DATA_DIR", "AGENT_BACKEND", "VAULT_PORT_RANGE",
	    "DOCKER_HOST", "VAULT_IMAGE", "VAULT_MEMORY_MB", "VAULT_HEALTH_TIMEOUT_SECONDS", NULL};

	for (int i = 0; vars[i] != NULL; i++)
		unsetenv(vars[i]);
	setenv("AGENT_AUTH_TOKEN", "agent-token-0123456789", 1);
	setenv("VAULT_BIN", "/bin/true", 1);
}

static void test_defaults(void **state)
{
	struct agent_config c;
	char err[256];

	(void)state;
	clean();
	assert_int_equal(agent_config_load(&c, err, sizeof(err)), 0);
	assert_int_equal(c.port, 18780);
	assert_string_equal(c.bind_address, "127.0.0.1");
	assert_int_equal(c.backend, AGENT_BACKEND_PROCESS);
	assert_int_equal(c.port_lo, 18800);
	assert_int_equal(c.port_hi, 19799);
	assert_string_equal(c.docker_host, "/var/run/docker.sock");
	assert_string_equal(c.vault_image, "groupvault:local");
	assert_int_equal(c.memory_mb, 256);
	assert_string_equal(c.vault_bin, "/bin/true");
	assert_true(c.data_dir[0] == '/');
	assert_non_null(strstr(c.data_dir, "/agent-data"));
	assert_null(strstr(c.data_dir, "/./"));
}

static void expect_refused(const char *name, const char *value, const char *needle)
{
	struct agent_config c;
	char err[256];

	clean();
	setenv(name, value, 1);
	assert_int_equal(agent_config_load(&c, err, sizeof(err)), -1);
	if (strstr(err, needle) == NULL)
		fail_msg("%s=%s: \"%s\" lacks \"%s\"", name, value, err, needle);
	unsetenv(name);
}

static void test_bounds(void **state)
{
	(void)state;
	expect_refused("AGENT_AUTH_TOKEN", "fifteen-chars!!", "AGENT_AUTH_TOKEN");
	expect_refused("AGENT_PORT", "0", "AGENT_PORT");
	expect_refused("AGENT_PORT", "18800", "outside VAULT_PORT_RANGE");
	expect_refused("AGENT_PORT", "+5", "AGENT_PORT");
	expect_refused("AGENT_BACKEND", "kubernetes", "AGENT_BACKEND");
	expect_refused("VAULT_PORT_RANGE", "100", "VAULT_PORT_RANGE");
	expect_refused("VAULT_PORT_RANGE", "200-100", "VAULT_PORT_RANGE");
	expect_refused("VAULT_PORT_RANGE", "1-70000", "VAULT_PORT_RANGE");
	expect_refused("DOCKER_HOST", "tcp://127.0.0.1:2375", "DOCKER_HOST");
	expect_refused("VAULT_MEMORY_MB", "31", "VAULT_MEMORY_MB");
	expect_refused("VAULT_HEALTH_TIMEOUT_SECONDS", "0", "VAULT_HEALTH_TIMEOUT_SECONDS");
	expect_refused("VAULT_BIN", "/nonexistent", "VAULT_BIN");
	expect_refused("VAULT_ENV_PORT", "1", "VAULT_ENV_PORT");
	clean();
	unsetenv("AGENT_AUTH_TOKEN");
	struct agent_config c;
	char err[256];
	assert_int_equal(agent_config_load(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "AGENT_AUTH_TOKEN is required"));
}

static void test_docker_needs_no_vault_bin(void **state)
{
	struct agent_config c;
	char err[256];

	(void)state;
	clean();
	setenv("AGENT_BACKEND", "docker", 1);
	setenv("VAULT_BIN", "/nonexistent", 1);
	setenv("DOCKER_HOST", "unix:///run/podman/podman.sock", 1);
	setenv("VAULT_MEMORY_MB", "0", 1);
	assert_int_equal(agent_config_load(&c, err, sizeof(err)), 0);
	assert_int_equal(c.backend, AGENT_BACKEND_DOCKER);
	assert_string_equal(c.docker_host, "/run/podman/podman.sock");
	assert_int_equal(c.memory_mb, 0);
	unsetenv("AGENT_BACKEND");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_docker_needs_no_vault_bin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
