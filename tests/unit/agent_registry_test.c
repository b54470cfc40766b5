/* agent_registry_test.c: the agent's registry keeps rows across reopen,
 * refuses a second row for a group, port or name, and updates in place. */
#include <stdlib.h>
#include <unistd.h>

#include "test_common.h"

#include "agent/registry.h"

static struct reg_vault row(const char *gid, unsigned port, const char *name)
{
	struct reg_vault v;

	memset(&v, 0, sizeof(v));
	snprintf(v.group_id, sizeof(v.group_id), "%s", gid);
	snprintf(v.name, sizeof(v.name), "%s", name);
	snprintf(v.backend, sizeof(v.backend), "process");
	snprintf(v.backend_id, sizeof(v.backend_id), "id-%s", gid);
	snprintf(v.auth_token, sizeof(v.auth_token), "token-of-%s-0123456789", gid);
	v.port = port;
	v.state = REG_RUNNING;
	v.created_at = 1700000000000LL;
	return v;
}

static int count(const struct reg_vault *v, void *arg)
{
	(void)v;
	(*(int *)arg)++;
	return 0;
}

static void test_rows_persist_and_are_unique(void **state)
{
	char dir[] = "/tmp/gv-reg-XXXXXX", path[64], err[256];
	struct registry *r;
	struct reg_vault a = row("g1", 18800, "n1"), b = row("g2", 18801, "n2"), got;
	int n = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/agent.db", dir);
	r = registry_open(path, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(registry_insert(r, &a), 0);
	assert_int_equal(registry_insert(r, &b), 0);
	struct reg_vault dup_group = row("g1", 18802, "n3"), dup_port = row("g3", 18800, "n3"),
			 dup_name = row("g3", 18802, "n1");
	assert_int_equal(registry_insert(r, &dup_group), -1);
	assert_int_equal(registry_insert(r, &dup_port), -1);
	assert_int_equal(registry_insert(r, &dup_name), -1);
	assert_int_equal(registry_port_held(r, 18800), 1);
	assert_int_equal(registry_port_held(r, 18802), 0);
	assert_int_equal(registry_name_held(r, "n2"), 1);
	assert_int_equal(registry_name_held(r, "n9"), 0);
	b.state = REG_STOPPED;
	snprintf(b.backend_id, sizeof(b.backend_id), "new-id");
	assert_int_equal(registry_update(r, &b), 0);
	registry_close(r);

	r = registry_open(path, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(registry_get(r, "g2", &got), 0);
	assert_int_equal(got.state, REG_STOPPED);
	assert_string_equal(got.backend_id, "new-id");
	assert_string_equal(got.auth_token, "token-of-g2-0123456789");
	assert_int_equal(got.port, 18801);
	assert_int_equal(got.created_at, 1700000000000LL);
	assert_int_equal(registry_get(r, "nope", &got), 1);
	assert_int_equal(registry_each(r, count, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(registry_delete(r, "g1"), 0);
	assert_int_equal(registry_port_held(r, 18800), 0);
	assert_int_equal(registry_get(r, "g1", &got), 1);
	struct reg_vault missing = row("absent", 18803, "n4");
	assert_int_equal(registry_update(r, &missing), -1); /* no such row */
	registry_close(r);
	assert_int_equal(access(path, F_OK), 0);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(reg_state_name(REG_PROVISIONING), "provisioning");
	assert_string_equal(reg_state_name(REG_RUNNING), "running");
	assert_string_equal(reg_state_name(REG_STOPPED), "stopped");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rows_persist_and_are_unique),
	    cmocka_unit_test(test_state_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
