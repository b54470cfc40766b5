/* audit_sink_test.c: the file sink writes one JSON line per entry with its
 * seq first (an empty or non-object entry still gives a valid line), the
 * file is private, and bad specs are refused. */
#include "test_common.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_sink.h"

static void test_file_lines(void **state)
{
	char dir[] = "/tmp/gv-sink-test-XXXXXX", path[64], buf[512];
	struct audit_sink *s;
	struct stat sb;
	size_t n;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	s = audit_sink_open(path);
	assert_non_null(s);
	assert_int_equal(audit_sink_push(s, 7, "{\"action\":\"a\"}", 14), 0);
	assert_int_equal(audit_sink_push(s, 8, "{}", 2), 0);
	assert_int_equal(audit_sink_push(s, 9, "not json", 8), 0);
	assert_int_equal(audit_sink_push(s, 0, NULL, 0), 0); /* fsync */
	audit_sink_close(s);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf, "{\"seq\":7,\"action\":\"a\"}\n"
				 "{\"seq\":8}\n"
				 "{\"seq\":9,\"corrupt\":true}\n");
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 077, 0);
	unlink(path);
	rmdir(dir);
}

static void test_bad_specs(void **state)
{
	(void)state;
	assert_null(audit_sink_open("syslog:nope"));
	assert_null(audit_sink_open("/nonexistent-dir-gv/x.jsonl"));
	audit_sink_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file_lines),
	    cmocka_unit_test(test_bad_specs),
	};

	return cmocka_run_group_tests_name("audit_sink", tests, NULL, NULL);
}
