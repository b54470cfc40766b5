/* cli_args_test.c: the CLI's grammar: option forms, durations, lists,
 * integers, tokens from @files, and stdin reads into wiped buffers. */
#include "test_common.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "args.h"
#include "crypto.h"
#include "jalloc.h"
#include "secin.h"

static const struct optspec t_opts[] = {
    {"user", "U", "", 1, 0},
    {"meta", "K=V", "", 0, 1},
    {"all", NULL, "", 0, 0},
    {NULL, NULL, NULL, 0, 0},
};

static int setup(void **state)
{
	(void)state;
	jalloc_init();
	return 0;
}

static void test_parse_forms(void **state)
{
	const struct optspec *const specs[] = {t_opts, NULL};
	char *argv[] = {"get",	 "--user=ann", "--meta", "a=1",	  "-",
			"--all", "--meta=b=2", "--",	 "--user"};
	struct args a;
	int i = 0;

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_int_equal(args_parse(&a, 9, argv, specs, 0, NULL), 0);
	assert_int_equal(a.npos, 3);
	assert_string_equal(a.pos[0], "get");
	assert_string_equal(a.pos[1], "-");
	assert_string_equal(a.pos[2], "--user"); /* after "--", a positional */
	assert_string_equal(args_get(&a, "user"), "ann");
	assert_true(args_has(&a, "all"));
	assert_null(args_get(&a, "all"));
	assert_false(args_has(&a, "nope"));
	assert_string_equal(args_next(&a, "meta", &i), "a=1");
	assert_string_equal(args_next(&a, "meta", &i), "b=2");
	assert_null(args_next(&a, "meta", &i));
	assert_int_equal(a.help, 0);
}

static void test_parse_errors(void **state)
{
	const struct optspec *const specs[] = {t_opts, NULL};
	char *unknown[] = {"--colour"}, *noval[] = {"--user"}, *flagval[] = {"--all=1"},
	     *shortopt[] = {"-u"}, *help[] = {"x", "-h"}, *stop[] = {"--all", "cmd", "--user"};
	struct args a;
	int used = -1;

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_int_equal(args_parse(&a, 1, unknown, specs, 0, NULL), -1);
	assert_int_equal(args_parse(&a, 1, noval, specs, 0, NULL), -1);
	assert_int_equal(args_parse(&a, 1, flagval, specs, 0, NULL), -1);
	assert_int_equal(args_parse(&a, 1, shortopt, specs, 0, NULL), -1);
	memset(&a, 0, sizeof(a));
	assert_int_equal(args_parse(&a, 2, help, specs, 0, NULL), 0);
	assert_int_equal(a.help, 1);
	memset(&a, 0, sizeof(a));
	assert_int_equal(args_parse(&a, 3, stop, specs, 1, &used), 0);
	assert_int_equal(used, 1); /* stopped at "cmd" */
	assert_int_equal(a.npos, 0);
}

static void test_durations(void **state)
{
	int64_t s = 0;

	(void)state;
	assert_int_equal(args_duration("90s", &s), 0);
	assert_int_equal(s, 90);
	assert_int_equal(args_duration("90", &s), 0);
	assert_int_equal(s, 90);
	assert_int_equal(args_duration("15m", &s), 0);
	assert_int_equal(s, 900);
	assert_int_equal(args_duration("1h", &s), 0);
	assert_int_equal(s, 3600);
	assert_int_equal(args_duration("30d", &s), 0);
	assert_int_equal(s, 2592000);
	assert_int_equal(args_duration("1h30m", &s), 0);
	assert_int_equal(s, 5400);
	assert_int_equal(args_duration("2w", &s), 0);
	assert_int_equal(s, 1209600);
	assert_int_equal(args_duration("", &s), -1);
	assert_int_equal(args_duration("h", &s), -1);
	assert_int_equal(args_duration("5x", &s), -1);
	assert_int_equal(args_duration("-5s", &s), -1);
	assert_int_equal(args_duration("0s", &s), -1);
	assert_int_equal(args_duration("1 h", &s), -1);
	assert_int_equal(args_duration("99999999999999999999d", &s), -1);
	assert_int_equal(args_duration("3651d", &s), -1);
}

static void test_ints_and_lists(void **state)
{
	int64_t v = 0;
	json_t *l;

	(void)state;
	assert_int_equal(args_int("1000", 1, 1000, &v), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(args_int("1001", 1, 1000, &v), -1);
	assert_int_equal(args_int("0", 1, 1000, &v), -1);
	assert_int_equal(args_int("", 1, 1000, &v), -1);
	assert_int_equal(args_int("1e3", 1, 1000, &v), -1);
	assert_int_equal(args_int("99999999999999999999", 0, INT64_MAX, &v), -1);
	l = args_list("read,write,prod.*");
	assert_non_null(l);
	assert_int_equal(json_array_size(l), 3);
	assert_string_equal(json_string_value(json_array_get(l, 2)), "prod.*");
	json_decref(l);
	assert_null(args_list("a,,b"));
	assert_null(args_list(",a"));
	assert_null(args_list("a,"));
	assert_null(args_list(""));
}

static void test_secret_text(void **state)
{
	char path[] = "/tmp/gv-cli-args-XXXXXX", at[64], *t;
	const char *why = NULL;
	int fd;

	(void)state;
	t = args_secret_text("abc.def", 16, &why);
	assert_non_null(t);
	assert_string_equal(t, "abc.def");
	crypto_wipe_free(t);
	assert_null(args_secret_text("0123456789abcdefX", 16, &why));
	assert_null(args_secret_text("a\tb", 16, &why));
	assert_null(args_secret_text("@/nonexistent/x", 16, &why));
	assert_non_null(strstr(why, "cannot open"));

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "tok.sig\r\n \n", 11), 11);
	close(fd);
	snprintf(at, sizeof(at), "@%s", path);
	t = args_secret_text(at, 16, &why);
	assert_non_null(t);
	assert_string_equal(t, "tok.sig"); /* trailing white space dropped */
	crypto_wipe_free(t);
	assert_null(args_secret_text(at, 8, &why)); /* longer than the bound */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "a\nb", 3), 3);
	close(fd);
	assert_null(args_secret_text(at, 16, &why)); /* a line break inside */
	fd = open(path, O_WRONLY | O_TRUNC);
	close(fd);
	assert_null(args_secret_text(at, 16, &why)); /* empty */
	unlink(path);
}

/* secin_fd: the whole input, one trailing line end dropped only when asked,
 * and a bound that fails instead of truncating. */
static void test_secin_fd(void **state)
{
	struct secin s = {NULL, 0};
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "pw\r\n", 4), 4);
	close(p[1]);
	assert_int_equal(secin_fd(p[0], 100, 1, &s), 0);
	close(p[0]);
	assert_int_equal(s.len, 2);
	assert_string_equal(s.buf, "pw");
	secin_free(&s);
	assert_null(s.buf);

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "a\nb\n\n", 5), 5);
	close(p[1]);
	assert_int_equal(secin_fd(p[0], 100, 0, &s), 0);
	close(p[0]);
	assert_int_equal(s.len, 5);
	assert_memory_equal(s.buf, "a\nb\n\n", 5);
	secin_free(&s);

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "0123456789", 10), 10);
	close(p[1]);
	assert_int_equal(secin_fd(p[0], 9, 0, &s), -1);
	close(p[0]);
	assert_null(s.buf);

	assert_int_equal(pipe(p), 0);
	close(p[1]);
	assert_int_equal(secin_fd(p[0], 9, 1, &s), 0); /* empty input */
	close(p[0]);
	assert_int_equal(s.len, 0);
	assert_string_equal(s.buf, "");
	secin_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_forms), cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_durations),	cmocka_unit_test(test_ints_and_lists),
	    cmocka_unit_test(test_secret_text), cmocka_unit_test(test_secin_fd),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
