/* agent_docker_test.c: the docker backend's JSON (create body, inspect,
 * errors, image user) and log demultiplexing; with GV_DOCKER_SOCKET set, also
 * the backend against a live engine (test_agent_docker.py runs it so). */
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_common.h"

#include "agent/backend.h"
#include "agent/config.h"
#include "agent/docker_json.h"
#include "agent/vault_env.h"
#include "crypto.h"
#include "healthcheck.h"

static const struct backend_spec spec = {
    .group_id = "g-1",
    .slug = "acme",
    .name = "ocmt-group-vault-acme",
    .port = 18811,
    .auth_token = "tok-0123456789abcdef",
    .data_dir = "/srv/agent data/g:1",
    .memory_mb = 256,
};

static json_t *parse(const char *s, size_t len)
{
	json_t *j = json_loadb(s, len, 0, NULL);

	assert_non_null(j);
	return j;
}

static const char *str_at(json_t *j, const char *a, const char *b)
{
	json_t *o = json_object_get(j, a);

	return json_string_value(b != NULL ? json_object_get(o, b) : o);
}

/* 1 if an Env entry starts with prefix. */
static int env_has(json_t *env, const char *prefix)
{
	for (size_t i = 0; i < json_array_size(env); i++)
		if (strncmp(json_string_value(json_array_get(env, i)), prefix, strlen(prefix)) == 0)
			return 1;
	return 0;
}

static void test_create_body(void **state)
{
	size_t len = 0;
	char **vars, *body;
	json_t *j, *host, *env, *mount, *ul;

	(void)state;
	setenv("VAULT_ENV_KDF_ITERATIONS", "1", 1);
	vars = vault_env_build(&spec, NULL, NULL);
	unsetenv("VAULT_ENV_KDF_ITERATIONS");
	assert_non_null(vars);
	body = docker_json_create(&spec, "groupvault:local", vars, &len);
	vault_env_free(vars);
	assert_non_null(body);
	j = parse(body, len);
	assert_string_equal(str_at(j, "Image", NULL), "groupvault:local");
	env = json_object_get(j, "Env");
	assert_true(env_has(env, "PORT=18811"));
	assert_true(env_has(env, "GROUP_ID=g-1"));
	assert_true(env_has(env, "AUTH_TOKEN=tok-0123456789abcdef"));
	assert_true(env_has(env, "KDF_ITERATIONS=1"));
	/* The image sets these; the vault keeps its own signing key. */
	assert_false(env_has(env, "DATA_DIR="));
	assert_false(env_has(env, "BIND_ADDRESS="));
	assert_false(env_has(env, "SIGNING_KEY="));
	assert_string_equal(str_at(j, "Labels", "ocmt.type"), "group-vault");
	assert_string_equal(str_at(j, "Labels", "ocmt.groupId"), "g-1");
	assert_string_equal(str_at(j, "Labels", "ocmt.groupSlug"), "acme");
	assert_string_equal(str_at(j, "Labels", "groupvault.port"), "18811");
	host = json_object_get(j, "HostConfig");
	mount = json_array_get(json_object_get(host, "Mounts"), 0);
	/* The path with a space and a ':' stays one Source. */
	assert_string_equal(str_at(mount, "Source", NULL), "/srv/agent data/g:1");
	assert_string_equal(str_at(mount, "Target", NULL), "/app/data");
	assert_string_equal(str_at(mount, "Type", NULL), "bind");
	assert_int_equal(json_integer_value(json_object_get(host, "Memory")), 256LL << 20);
	assert_int_equal(json_integer_value(json_object_get(host, "MemorySwap")), 256LL << 20);
	assert_string_equal(str_at(host, "RestartPolicy", "Name"), "unless-stopped");
	assert_string_equal(str_at(host, "NetworkMode", NULL), "host");
	ul = json_object_get(host, "Ulimits");
	assert_int_equal(json_array_size(ul), 2);
	assert_string_equal(str_at(json_array_get(ul, 0), "Name", NULL), "nofile");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(ul, 0), "Hard")),
			 DOCKER_NOFILE);
	assert_string_equal(str_at(json_array_get(ul, 1), "Name", NULL), "nproc");
	assert_true(json_integer_value(json_object_get(host, "PidsLimit")) > 0);
	json_decref(j);
	crypto_wipe_free(body);
}

#define ID(lit) docker_json_id(lit, sizeof(lit) - 1, id, sizeof(id))
#define USER(lit) docker_json_image_user(lit, sizeof(lit) - 1, &uid, &gid)

static void test_id(void **state)
{
	char id[16];

	(void)state;
	assert_int_equal(ID("{\"Id\":\"abc123\",\"Warnings\":[]}"), 0);
	assert_string_equal(id, "abc123");
	assert_int_equal(ID("{\"Warnings\":[]}"), -1);
	assert_int_equal(ID("{\"Id\":\"0123456789abcdef\"}"), -1); /* longer than id */
	assert_int_equal(ID("not json"), -1);
}

static void test_time(void **state)
{
	(void)state;
	assert_int_equal(docker_time_ms("1970-01-02T00:00:01Z"), 86401000LL);
	assert_int_equal(docker_time_ms("2026-11-28T22:19:43.199123456Z"), 1795904383199LL);
	assert_int_equal(docker_time_ms("2026-11-28T23:19:43.5+01:00"), 1795904383500LL);
	assert_int_equal(docker_time_ms("0001-01-01T00:00:00Z"), 0);
	assert_int_equal(docker_time_ms("yesterday"), 0);
	assert_int_equal(docker_time_ms("2026-11-28T22:19:43 trailing"), 0);
	assert_int_equal(docker_time_ms(NULL), 0);
}

static void test_status(void **state)
{
	static const char running[] =
	    "{\"Id\":\"x\",\"RestartCount\":3,\"State\":{\"Status\":\"running\",\"Running\":true,"
	    "\"ExitCode\":0,\"Error\":\"\",\"StartedAt\":\"1970-01-01T00:00:02.5Z\"}}";
	static const char exited[] = "{\"State\":{\"Status\":\"exited\",\"Running\":false,"
				     "\"ExitCode\":139,\"StartedAt\":\"0001-01-01T00:00:00Z\"}}";
	static const char failed[] = "{\"State\":{\"Status\":\"created\",\"Running\":false,"
				     "\"Error\":\"runc create failed\"}}";
	struct backend_status st;

	(void)state;
	assert_int_equal(docker_json_status(running, sizeof(running) - 1, &st), 0);
	assert_int_equal(st.state, BACKEND_RUNNING);
	assert_int_equal(st.started_at_ms, 2500);
	assert_int_equal(st.restarts, 3);
	assert_string_equal(st.detail, "running");
	assert_int_equal(docker_json_status(exited, sizeof(exited) - 1, &st), 0);
	assert_int_equal(st.state, BACKEND_STOPPED);
	assert_int_equal(st.started_at_ms, 0);
	assert_string_equal(st.detail, "exited with status 139");
	assert_int_equal(docker_json_status(failed, sizeof(failed) - 1, &st), 0);
	assert_int_equal(st.state, BACKEND_STOPPED);
	assert_string_equal(st.detail, "created: runc create failed");
	assert_int_equal(docker_json_status("{\"State\":{}}", 12, &st), -1);
	assert_int_equal(docker_json_status("[]", 2, &st), -1);
}

static void test_message(void **state)
{
	static const char m[] = "{\"cause\":\"x\",\"message\":\"no such container\\n\\u001b[1m\","
				"\"response\":404}";
	char err[64];

	(void)state;
	docker_json_message(m, sizeof(m) - 1, 404, err, sizeof(err));
	assert_string_equal(err, "no such container[1m");
	docker_json_message("<html>", 6, 502, err, sizeof(err));
	assert_string_equal(err, "the engine answered HTTP 502");
	docker_json_message(NULL, 0, 500, err, sizeof(err));
	assert_string_equal(err, "the engine answered HTTP 500");
	docker_json_message(m, sizeof(m) - 1, 404, err, 6);
	assert_string_equal(err, "no su");
}

static void test_image_user(void **state)
{
	long uid = -1, gid = -1;

	(void)state;
	assert_int_equal(USER("{\"Config\":{\"User\":\"10001:10002\"}}"), 0);
	assert_int_equal(uid, 10001);
	assert_int_equal(gid, 10002);
	assert_int_equal(USER("{\"Config\":{\"User\":\"77\"}}"), 0);
	assert_int_equal(uid, 77);
	assert_int_equal(gid, 77);
	assert_int_equal(USER("{\"Config\":{\"User\":\"\"}}"), 1);
	assert_int_equal(USER("{\"Config\":{\"User\":\"0\"}}"), 1);
	assert_int_equal(USER("{\"Config\":{\"User\":\"vault\"}}"), 1);
	assert_int_equal(USER("{\"Config\":{\"User\":\"5x\"}}"), 1);
	assert_int_equal(USER("{}"), 1);
	assert_int_equal(USER("nope"), -1);
}

static void test_is_ours(void **state)
{
	static const char ours[] = "{\"Config\":{\"Labels\":{\"ocmt.groupId\":\"g-1\","
				   "\"groupvault.port\":\"18811\"}}}";
	static const char seed[] = "{\"Config\":{\"Labels\":{\"ocmt.groupId\":\"g-1\"}}}";

	(void)state;
	assert_int_equal(docker_json_is_ours(ours, sizeof(ours) - 1, "g-1"), 1);
	assert_int_equal(docker_json_is_ours(ours, sizeof(ours) - 1, "g-2"), 0);
	assert_int_equal(docker_json_is_ours(seed, sizeof(seed) - 1, "g-1"), 0);
	assert_int_equal(docker_json_is_ours("{}", 2, "g-1"), 0);
}

static void test_name_taken(void **state)
{
	static const char podman[] = "{\"cause\":\"that name is already in use\","
				     "\"message\":\"container create: ...\",\"response\":500}";
	static const char other[] = "{\"cause\":\"no such image\",\"response\":500}";

	(void)state;
	assert_int_equal(docker_json_name_taken("{\"message\":\"Conflict.\"}", 23, 409), 1);
	assert_int_equal(docker_json_name_taken(podman, sizeof(podman) - 1, 500), 1);
	assert_int_equal(docker_json_name_taken(other, sizeof(other) - 1, 500), 0);
	assert_int_equal(docker_json_name_taken(podman, sizeof(podman) - 1, 404), 0);
	assert_int_equal(docker_json_name_taken(NULL, 0, 500), 0);
}

static void test_demux(void **state)
{
	static const char framed[] = "\x01\0\0\0\0\0\0\x06hello\n"
				     "\x02\0\0\0\0\0\0\x04oops"
				     "\x01\0\0\0\0\0\0\x09"
				     "cut";
	char *out;
	size_t len;

	(void)state;
	assert_int_equal(docker_logs_demux(framed, sizeof(framed) - 1, &out, &len), 0);
	assert_int_equal(len, 13);
	assert_string_equal(out, "hello\noopscut");
	free(out);
	assert_int_equal(docker_logs_demux("plain tty\n", 10, &out, &len), 0);
	assert_string_equal(out, "plain tty\n");
	free(out);
	assert_int_equal(docker_logs_demux("", 0, &out, &len), 0);
	assert_int_equal(len, 0);
	free(out);
	/* A header cut short yields nothing, not a read past the end. */
	assert_int_equal(docker_logs_demux("\x01\0\0\0\0\0\0\xff", 8, &out, &len), 0);
	assert_int_equal(len, 0);
	free(out);
}

/* ---- against a live engine (GV_DOCKER_SOCKET, GV_DOCKER_PORT) ---- */

static char live_dir[] = "/tmp/gv-docker-test-XXXXXX";
static int live_made; /* mkdtemp made live_dir */

static int live_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The test's data dir goes, also when an assertion ended the test early
 * (its containers live in the caller's private engine store). */
static int live_teardown(void **state)
{
	(void)state;
	/* Not "no X left in the name": mkdtemp's random letters may hold an X. */
	if (live_made)
		nftw(live_dir, live_rm, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void live_config(struct agent_config *cfg, const char *image)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->docker_host, sizeof(cfg->docker_host), "%s", getenv("GV_DOCKER_SOCKET"));
	snprintf(cfg->vault_image, sizeof(cfg->vault_image), "%s", image);
	snprintf(cfg->vault_bind_address, sizeof(cfg->vault_bind_address), "127.0.0.1");
}

/* Polls the vault's /health (via the image's own probe) for up to 30 s. */
static int live_healthy(unsigned port)
{
	char p[16];

	snprintf(p, sizeof(p), "%u", port);
	setenv("PORT", p, 1);
	unsetenv("BIND_ADDRESS");
	for (int i = 0; i < 300; i++) {
		if (healthcheck_run() == 0)
			return 1;
		usleep(100000);
	}
	return 0;
}

static void live_wait_state(struct backend *b, const char *id, enum backend_state want)
{
	struct backend_status st;

	for (int i = 0; i < 300; i++) {
		assert_int_equal(b->ops->status(b, id, &st), 0);
		if (st.state == want)
			return;
		usleep(100000);
	}
	fail_msg("state %d, wanted %d (%s)", st.state, want, st.detail);
}

static void test_live_lifecycle(void **state)
{
	struct agent_config cfg;
	struct backend_spec s = spec;
	struct backend_status st;
	char data[64], db[96], id[128], id2[128], err[256];
	struct backend *b;
	struct stat sb;
	char *logs;
	size_t len;

	(void)state;
	live_config(&cfg,
		    getenv("GV_DOCKER_IMAGE") ? getenv("GV_DOCKER_IMAGE") : "groupvault:local");
	assert_non_null(mkdtemp(live_dir));
	live_made = 1;
	snprintf(data, sizeof(data), "%s/data", live_dir);
	snprintf(db, sizeof(db), "%s/vault.db", data);
	s.data_dir = data;
	s.name = "gv-unit-live";
	s.port = (unsigned)atoi(getenv("GV_DOCKER_PORT"));
	b = backend_docker_new(&cfg, err, sizeof(err));
	assert_non_null(b);
	assert_string_equal(b->ops->name, "docker");
	assert_int_equal(b->ops->create(b, &s, id, sizeof(id), err, sizeof(err)), 0);
	assert_true(live_healthy(s.port));
	assert_int_equal(stat(db, &sb), 0); /* the data is in the mounted dir */
	assert_int_equal(sb.st_uid, 10001);
	live_wait_state(b, id, BACKEND_RUNNING);
	assert_int_equal(b->ops->status(b, id, &st), 0);
	assert_true(st.started_at_ms > 0);
	assert_int_equal(b->ops->logs(b, id, 50, &logs, &len), 0);
	assert_non_null(strstr(logs, "listening on 127.0.0.1")); /* VAULT_BIND_ADDRESS */
	assert_null(strstr(logs, s.auth_token));
	free(logs);
	assert_int_equal(b->ops->stop(b, id, err, sizeof(err)), 0);
	live_wait_state(b, id, BACKEND_STOPPED);
	assert_int_equal(b->ops->start(b, id, &s, err, sizeof(err)), 0);
	assert_true(live_healthy(s.port));
	/* A leftover of the same name and group (an agent that died before
	 * recording it) is replaced, not a conflict. */
	assert_int_equal(b->ops->create(b, &s, id2, sizeof(id2), err, sizeof(err)), 0);
	assert_string_not_equal(id, id2);
	live_wait_state(b, id, BACKEND_MISSING);
	assert_true(live_healthy(s.port));
	assert_int_equal(b->ops->remove(b, id2, err, sizeof(err)), 0);
	live_wait_state(b, id2, BACKEND_MISSING);
	assert_int_equal(b->ops->remove(b, id2, err, sizeof(err)), 0); /* gone is fine */
	assert_int_equal(stat(db, &sb), 0);			       /* the data stays */
	assert_int_equal(b->ops->start(b, id2, &s, err, sizeof(err)), -1);
	assert_true(strlen(err) > 0);
	assert_int_equal(b->ops->start(b, "../x", &s, err, sizeof(err)), -1);
	b->ops->destroy(b);
	/* A missing image is one clear line. */
	live_config(&cfg, "groupvault:no-such-tag");
	b = backend_docker_new(&cfg, err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(b->ops->create(b, &s, id, sizeof(id), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "image groupvault:no-such-tag not found"));
	b->ops->destroy(b);
}

static void test_live_no_engine(void **state)
{
	struct agent_config cfg;
	char err[256] = "";

	(void)state;
	live_config(&cfg, "groupvault:local");
	snprintf(cfg.docker_host, sizeof(cfg.docker_host), "/nonexistent/docker.sock");
	assert_null(backend_docker_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/docker.sock"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_body), cmocka_unit_test(test_id),
	    cmocka_unit_test(test_time),	cmocka_unit_test(test_status),
	    cmocka_unit_test(test_message),	cmocka_unit_test(test_image_user),
	    cmocka_unit_test(test_is_ours),	cmocka_unit_test(test_name_taken),
	    cmocka_unit_test(test_demux),	cmocka_unit_test(test_live_no_engine),
	};
	const struct CMUnitTest live[] = {
	    cmocka_unit_test_teardown(test_live_lifecycle, live_teardown),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	/* The live group runs only where a test has started an engine. */
	if (getenv("GV_DOCKER_SOCKET") != NULL && getenv("GV_DOCKER_PORT") != NULL)
		failed += cmocka_run_group_tests(live, NULL, NULL);
	return failed;
}
