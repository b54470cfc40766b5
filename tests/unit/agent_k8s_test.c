/* agent_k8s_test.c: a group's resource name is the id when it is already a
 * DNS label, else a cut-down id plus a hash of it (distinct, <= 52 chars,
 * never equal to a kept id); a bad input writes nothing; a good call writes
 * four JSON documents, and the token appears once, in the Secret. */
#include <stdlib.h>

#include "test_common.h"

#include "jalloc.h"
#include "k8s.h"

#define TOKEN "unit-test-token-0123456789abcdef"

static char err[160];

static void name_is(const char *id, const char *want)
{
	char got[K8S_NAME_MAX + 1];

	assert_int_equal(k8s_name(id, got, sizeof(got), err, sizeof(err)), 0);
	assert_string_equal(got, want);
}

static void test_name_kept_or_hashed(void **state)
{
	(void)state;
	name_is("team-42", "groupvault-team-42");
	/* sha256("Group_1.x") starts 98cc4950dd */
	name_is("Group_1.x", "groupvault-group-1-x-98cc4950dd");
	name_is("ABC", "groupvault-abc-b5d4045c3f");
	/* kept ids never end like a hashed name, so this one is hashed too */
	name_is("abc-0123456789", "groupvault-abc-0123456789-786bbc9d59");
	name_is("-", "groupvault-3973e022e9");
	/* 64 chars: cut to 41, then the hash: 52 in all */
	name_is("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		"groupvault-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-7ce100971f");
}

static void test_name_distinct_and_bounded(void **state)
{
	static const char *const ids[] = {"abc",  "ABC",  "Abc",  "a.bc", "a_bc",
					  "a-bc", "abc-", "abc_", "abc.", "abc--"};
	char names[10][K8S_NAME_MAX + 1];

	(void)state;
	for (size_t i = 0; i < 10; i++) {
		assert_int_equal(k8s_name(ids[i], names[i], sizeof(names[i]), err, sizeof(err)), 0);
		assert_true(strlen(names[i]) <= K8S_NAME_MAX);
		assert_true(strspn(names[i], "abcdefghijklmnopqrstuvwxyz0123456789-") ==
			    strlen(names[i]));
		assert_true(names[i][strlen(names[i]) - 1] != '-');
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
}

static void test_name_refuses(void **state)
{
	static const char *const bad[] = {
	    "",		".hidden",
	    "a b",	"a\"b",
	    "a\nb",	"a/b",
	    "\xc3\xbc", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
	char got[K8S_NAME_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(k8s_name(bad[i], got, sizeof(got), err, sizeof(err)), -1);
		assert_non_null(strstr(err, "group id"));
	}
	assert_int_equal(k8s_name(NULL, got, sizeof(got), err, sizeof(err)), -1);
	assert_int_equal(k8s_name("ok", got, K8S_NAME_MAX, err, sizeof(err)), -1);
}

static struct k8s_params good(void)
{
	struct k8s_params p = {
	    .group_id = "Team.One",
	    .namespace_name = "vaults",
	    .image = "registry.example/groupvault:1.0",
	    .memory_mb = 256,
	    .storage = "2Gi",
	    .port = K8S_VAULT_PORT,
	    .server_selector = "app=mgmt",
	    .agent_selector = "example.com/role=agent",
	    .auth_token = TOKEN,
	};
	return p;
}

/* Runs k8s_manifest_write into memory; returns the text (caller frees). */
static char *write_to_mem(const struct k8s_params *p, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*rc = k8s_manifest_write(f, p, err, sizeof(err));
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_bad_params_write_nothing(void **state)
{
	struct k8s_params p[12];
	int rc;

	(void)state;
	for (int i = 0; i < 12; i++)
		p[i] = good();
	p[0].auth_token = NULL; /* no token given: none is made up */
	p[1].auth_token = "short";
	p[2].auth_token = "has a space in the middle 0123";
	p[3].namespace_name = "Vaults";
	p[4].image = "img name";
	p[5].storage = "1Gb";
	p[6].storage = "0";
	p[7].memory_mb = 64;
	p[8].server_selector = "app";
	p[9].agent_selector = "app=bad value";
	p[10].group_id = "a\"b";
	p[11].port = 0;
	for (int i = 0; i < 12; i++) {
		char *out;

		err[0] = '\0';
		out = write_to_mem(&p[i], &rc);
		assert_int_equal(rc, -1);
		assert_string_equal(out, "");
		assert_true(strlen(err) > 0);
		free(out);
	}
}

static void test_four_documents(void **state)
{
	static const char *const kinds[] = {"Secret", "Service", "StatefulSet", "NetworkPolicy"};
	struct k8s_params p = good();
	char *out, *doc;
	int rc, n = 0;

	(void)state;
	out = write_to_mem(&p, &rc);
	assert_int_equal(rc, 0);
	/* the token once, and nowhere but the Secret (the first document) */
	doc = strstr(out, TOKEN);
	assert_non_null(doc);
	assert_null(strstr(doc + 1, TOKEN));
	assert_null(strstr(out, "SIGNING_KEY"));
	for (const char *s = out; (s = strstr(s, "---\n")) != NULL; n++) {
		const char *body = s + 4, *next = strstr(body, "\n---\n");
		size_t len = next != NULL ? (size_t)(next - body) + 1 : strlen(body);
		json_error_t jerr;
		json_t *j = json_loadb(body, len, 0, &jerr);

		assert_non_null(j);
		assert_true(n < 4);
		assert_string_equal(json_string_value(json_object_get(j, "kind")), kinds[n]);
		assert_string_equal(
		    json_string_value(json_object_get(json_object_get(j, "metadata"), "namespace")),
		    "vaults");
		assert_true((n == 0) == (memmem(body, len, TOKEN, strlen(TOKEN)) != NULL));
		json_decref(j);
		s = body;
	}
	assert_int_equal(n, 4);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_kept_or_hashed),
	    cmocka_unit_test(test_name_distinct_and_bounded),
	    cmocka_unit_test(test_name_refuses),
	    cmocka_unit_test(test_bad_params_write_nothing),
	    cmocka_unit_test(test_four_documents),
	};

	jalloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
