/* cli_cmds_test.c: the command table (lookup, checks, no option named
 * twice), the status-to-exit-code map, and the human output helpers. */
#include "test_common.h"

#include <stdlib.h>

#include "cli.h"
#include "cmds.h"
#include "crypto.h"
#include "jalloc.h"
#include "out.h"
#include "wire.h"

static int setup(void **state)
{
	(void)state;
	jalloc_init();
	return 0;
}

static void test_find(void **state)
{
	char *a1[] = {"token", "issue", "--user"}, *a2[] = {"audit", "--limit"},
	     *a3[] = {"audit", "verify"}, *a4[] = {"token"}, *a5[] = {"get", "token"},
	     *a6[] = {"tokens"};
	const struct cmd *c;
	int words = 0;

	(void)state;
	c = cmds_find(3, a1, &words);
	assert_non_null(c);
	assert_string_equal(c->name, "token issue");
	assert_int_equal(words, 2);
	c = cmds_find(2, a2, &words);
	assert_string_equal(c->name, "audit");
	assert_int_equal(words, 1);
	c = cmds_find(2, a3, &words);
	assert_string_equal(c->name, "audit verify");
	assert_int_equal(words, 2);
	assert_null(cmds_find(1, a4, &words));
	c = cmds_find(2, a5, &words);
	assert_string_equal(c->name, "get");
	assert_int_equal(words, 1);
	assert_null(cmds_find(1, a6, &words));
}

/* Every command is reachable by its own words, has a summary and a
 * handler, and names no option twice (its own or a global one). */
static void test_table(void **state)
{
	int n = 0;

	(void)state;
	for (const struct cmd *c = cmds_table; c->name != NULL; c++, n++) {
		char name[64], *argv[2];
		int words = 0;

		snprintf(name, sizeof(name), "%s", c->name);
		argv[0] = name;
		argv[1] = strchr(name, ' ');
		if (argv[1] != NULL)
			*argv[1]++ = '\0';
		assert_ptr_equal(cmds_find(argv[1] ? 2 : 1, argv, &words), c);
		assert_non_null(c->run);
		assert_true(strlen(c->summary) > 10);
		assert_true(c->min_pos <= c->max_pos && c->max_pos <= ARGS_MAX_POS);
		for (const struct optspec *o = c->opts; o->name != NULL; o++) {
			for (const struct optspec *p = o + 1; p->name != NULL; p++)
				assert_string_not_equal(o->name, p->name);
			for (const struct optspec *g = cmds_global; g->name != NULL; g++)
				assert_string_not_equal(o->name, g->name);
		}
	}
	assert_true(n >= 20);
}

static void test_check(void **state)
{
	char *w[] = {"token", "issue"};
	const struct cmd *issue;
	struct args a;
	int words;

	(void)state;
	issue = cmds_find(2, w, &words);
	memset(&a, 0, sizeof(a));
	assert_int_equal(cmds_check(issue, &a), -1); /* --user is required */
	a.opt[0].spec = &issue->opts[0];
	a.opt[0].val = "ann";
	a.nopt = 1;
	assert_int_equal(cmds_check(issue, &a), 0);
	a.pos[0] = "extra";
	a.npos = 1;
	assert_int_equal(cmds_check(issue, &a), -1);
}

static void test_exit_codes(void **state)
{
	json_t *route = json_pack("{s:s}", "error", "Not found");
	json_t *secret = json_pack("{s:s}", "error", "Secret not found");

	(void)state;
	assert_int_equal(wire_exit_code(200, NULL), CLI_OK);
	assert_int_equal(wire_exit_code(202, NULL), CLI_OK);
	assert_int_equal(wire_exit_code(400, NULL), CLI_ESERVER);
	assert_int_equal(wire_exit_code(401, NULL), CLI_EDENIED);
	assert_int_equal(wire_exit_code(403, NULL), CLI_EDENIED);
	assert_int_equal(wire_exit_code(404, secret), CLI_ENOTFOUND);
	assert_int_equal(wire_exit_code(404, NULL), CLI_ENOTFOUND);
	assert_int_equal(wire_exit_code(404, route), CLI_ESERVER); /* no such route */
	assert_int_equal(wire_exit_code(405, NULL), CLI_ESERVER);
	assert_int_equal(wire_exit_code(423, NULL), CLI_ELOCKED);
	assert_int_equal(wire_exit_code(429, NULL), CLI_ESERVER);
	assert_int_equal(wire_exit_code(500, NULL), CLI_ESERVER);
	json_decref(route);
	json_decref(secret);
}

static void test_durations_out(void **state)
{
	char b[32];

	(void)state;
	out_duration(0, b, sizeof(b));
	assert_string_equal(b, "0s");
	out_duration(59, b, sizeof(b));
	assert_string_equal(b, "59s");
	out_duration(1800, b, sizeof(b));
	assert_string_equal(b, "30m");
	out_duration(1799, b, sizeof(b));
	assert_string_equal(b, "29m 59s");
	out_duration(3600, b, sizeof(b));
	assert_string_equal(b, "1h");
	out_duration(7500, b, sizeof(b));
	assert_string_equal(b, "2h 5m");
	out_duration(2592000, b, sizeof(b));
	assert_string_equal(b, "30d");
	out_duration(90000, b, sizeof(b));
	assert_string_equal(b, "1d 1h");
	out_time(0, b, sizeof(b));
	assert_string_equal(b, "1970-01-01 00:00:00Z");
}

/* Columns line up and server text cannot drive the terminal. */
static void test_table_output(void **state)
{
	struct out_table *t = out_table_new(2, (const char *const[]){"NAME", "X"});
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(t);
	assert_int_equal(out_table_add(t, (const char *const[]){"long-name", "1"}), 0);
	assert_int_equal(out_table_add(t, (const char *const[]){"e\x1b[2J", NULL}), 0);
	out_table_print(t, f);
	fclose(f);
	assert_string_equal(buf, "NAME       X\nlong-name  1\ne?[2J      \n");
	free(buf);
	out_table_free(t);
	out_table_free(NULL);
}

static void test_text(void **state)
{
	json_t *v = json_pack("[sss]", "read", "write", "delete");
	json_t *o = json_pack("{s:i}", "n", 1);
	char *s;

	(void)state;
	s = out_text(v);
	assert_string_equal(s, "read,write,delete");
	crypto_wipe_free(s);
	s = out_text(o);
	assert_string_equal(s, "{\"n\":1}");
	crypto_wipe_free(s);
	assert_null(out_text(NULL));
	json_decref(v);
	json_decref(o);
}

/* The completion names every command's words and options. */
static void test_completion(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	cmds_completion_bash(f);
	fclose(f);
	assert_non_null(strstr(buf, "complete -F _groupvault groupvault"));
	for (const struct cmd *c = cmds_table; c->name != NULL; c++) {
		char pat[80];

		snprintf(pat, sizeof(pat), "\"%s \"*", c->name);
		assert_non_null(strstr(buf, pat));
		for (const struct optspec *o = c->opts; o->name != NULL; o++) {
			snprintf(pat, sizeof(pat), " --%s", o->name);
			assert_non_null(strstr(buf, pat));
		}
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find),	  cmocka_unit_test(test_table),
	    cmocka_unit_test(test_check),	  cmocka_unit_test(test_exit_codes),
	    cmocka_unit_test(test_durations_out), cmocka_unit_test(test_table_output),
	    cmocka_unit_test(test_text),	  cmocka_unit_test(test_completion),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
