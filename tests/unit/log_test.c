/* log_test.c: LOG_FORMAT=json writes one parseable object per line with
 * time, level, msg and the thread's request id, escaping what a client
 * could have put in a message; request lines carry route, status and
 * duration; text lines stay text; QUIET drops info but not errors. */
#include "test_common.h"

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "reqid.h"

/* Runs fn with stderr sent to a temporary file; returns what was written
 * (caller frees). */
static char *capture(void (*fn)(void))
{
	char path[] = "/tmp/gv-log-test-XXXXXX", *out;
	int fd = mkstemp(path), saved = dup(2);
	long n;
	FILE *f;

	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	fflush(stderr);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = lseek(fd, 0, SEEK_END);
	out = calloc(1, (size_t)n + 1);
	assert_non_null(out);
	f = fdopen(fd, "r");
	rewind(f);
	assert_int_equal(fread(out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return out;
}

static void emit_json(void)
{
	log_set_json(1);
	log_set_quiet(0);
	reqid_set("req-7");
	log_warn("bad \"thing\" \x01\r\n%s", "caf\xc3\xa9 \xff");
	log_request("GET", "/secrets/:key", 404, 1.5);
	reqid_set(NULL);
	log_info("outside");
	log_set_quiet(1);
	log_info("dropped");
	log_err("kept");
	log_set_quiet(0);
	log_set_json(0);
}

static json_t *line(const char *text, int i)
{
	const char *p = text;
	json_error_t e;

	for (int k = 0; k < i; k++) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	return json_loadb(p, strcspn(p, "\n"), 0, &e);
}

static void test_json_lines(void **state)
{
	char *out = capture(emit_json);
	json_t *a = line(out, 0), *b = line(out, 1), *c = line(out, 2), *d = line(out, 3);
	int lines = 0;

	(void)state;
	for (const char *p = out; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 4); /* the info under QUIET is gone */
	assert_non_null(a);
	assert_string_equal(json_string_value(json_object_get(a, "level")), "warn");
	assert_string_equal(json_string_value(json_object_get(a, "requestId")), "req-7");
	assert_true(strncmp(json_string_value(json_object_get(a, "msg")), "bad \"thing\" \x01\r\n",
			    15) == 0);
	assert_non_null(strstr(json_string_value(json_object_get(a, "msg")), "caf\xc3\xa9"));
	assert_int_equal(strlen(json_string_value(json_object_get(a, "time"))), 24);
	assert_non_null(b);
	assert_string_equal(json_string_value(json_object_get(b, "msg")), "request");
	assert_string_equal(json_string_value(json_object_get(b, "route")), "/secrets/:key");
	assert_string_equal(json_string_value(json_object_get(b, "method")), "GET");
	assert_int_equal(json_integer_value(json_object_get(b, "status")), 404);
	assert_true(json_real_value(json_object_get(b, "durationMs")) == 1.5);
	assert_string_equal(json_string_value(json_object_get(b, "requestId")), "req-7");
	assert_non_null(c);
	assert_null(json_object_get(c, "requestId"));
	assert_non_null(d);
	assert_string_equal(json_string_value(json_object_get(d, "level")), "error");
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
	free(out);
}

static void emit_text(void)
{
	reqid_set("req-8");
	log_warn("two\nlines");
	log_request("POST", "/unlock", 200, 2.25);
	reqid_set(NULL);
}

static void test_text_lines(void **state)
{
	char *out = capture(emit_text);

	(void)state;
	assert_non_null(strstr(out, " warn two\\x0alines\n"));
	assert_non_null(strstr(out, " info request POST /unlock 200 2.250ms id=req-8\n"));
	assert_null(strchr(out, '{'));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_lines),
	    cmocka_unit_test(test_text_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
