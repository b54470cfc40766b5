/* metrics_test.c: the exposition's series move with what is recorded,
 * histograms are cumulative with the right edges, no update is lost when
 * threads record at once, labels are route patterns only, and the process
 * figures (descriptors, memory, CPU) follow reality. */
#include "test_common.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "crypto.h"
#include "metrics.h"
#include "procstat.h"
#include "routes.h"

static unsigned route_index(const char *method, const char *pattern)
{
	for (unsigned i = 0; routes[i].method != NULL; i++)
		if (strcmp(routes[i].method, method) == 0 &&
		    strcmp(routes[i].pattern, pattern) == 0)
			return i;
	fail_msg("no route %s %s", method, pattern);
	return 0;
}

static char *render(void)
{
	struct metrics_gauges g = {
	    .secrets = 3, .tokens = -1, .rss_bytes = -1, .open_fds = 7, .max_fds = -1};
	size_t len = 0;
	char *t = metrics_render(&g, &len);

	assert_non_null(t);
	assert_int_equal(strlen(t), len);
	assert_true(len > 0 && t[len - 1] == '\n');
	return t;
}

/* The value of one series (name with labels, exactly), or -1 if absent. */
static double value(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p != NULL && *p;
	     p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

static void test_route_table_fits(void **state)
{
	unsigned n = 0;

	(void)state;
	while (routes[n].method != NULL)
		n++;
	assert_true(n < METRICS_UNMATCHED);
}

static void test_requests_by_route_and_class(void **state)
{
	const char *ok = "groupvault_http_requests_total{method=\"GET\",route=\"/secrets/:key\","
			 "code=\"2xx\"}";
	const char *nf = "groupvault_http_requests_total{method=\"GET\",route=\"/secrets/:key\","
			 "code=\"4xx\"}";
	const char *un = "groupvault_http_requests_total{method=\"\",route=\"unmatched\","
			 "code=\"4xx\"}";
	unsigned r = route_index("GET", "/secrets/:key");
	char *before = render(), *after;
	double ok0 = value(before, ok), nf0 = value(before, nf), un0 = value(before, un);

	(void)state;
	metrics_request(r, 200, 1000);
	metrics_request(r, 200, 1000);
	metrics_request(r, 404, 1000);
	metrics_request(METRICS_UNMATCHED, 404, 1000);
	metrics_request(9999, 405, 1000); /* out of range: counted as unmatched */
	metrics_request(r, 0, 1000);	  /* no status: timed, not classed */
	after = render();
	assert_true(value(after, ok) == (ok0 < 0 ? 0 : ok0) + 2);
	assert_true(value(after, nf) == (nf0 < 0 ? 0 : nf0) + 1);
	assert_true(value(after, un) == (un0 < 0 ? 0 : un0) + 2);
	crypto_wipe_free(before);
	crypto_wipe_free(after);
}

static void test_histogram_edges(void **state)
{
	const char *b1 = "groupvault_http_request_duration_seconds_bucket{method=\"GET\","
			 "route=\"/health\",le=\"0.001\"}";
	const char *b05 = "groupvault_http_request_duration_seconds_bucket{method=\"GET\","
			  "route=\"/health\",le=\"0.0005\"}";
	const char *inf = "groupvault_http_request_duration_seconds_bucket{method=\"GET\","
			  "route=\"/health\",le=\"+Inf\"}";
	const char *cnt = "groupvault_http_request_duration_seconds_count{method=\"GET\","
			  "route=\"/health\"}";
	const char *sum = "groupvault_http_request_duration_seconds_sum{method=\"GET\","
			  "route=\"/health\"}";
	unsigned r = route_index("GET", "/health");
	char *t;

	(void)state;
	metrics_request(r, 200, 500000);      /* exactly 0.5 ms: in le="0.0005" */
	metrics_request(r, 200, 1000000);     /* exactly 1 ms */
	metrics_request(r, 200, 20000000000); /* 20 s: only +Inf */
	t = render();
	assert_true(value(t, b05) == 1);
	assert_true(value(t, b1) == 2);
	assert_true(value(t, inf) == 3);
	assert_true(value(t, cnt) == 3);
	assert_true(value(t, sum) > 20.0014 && value(t, sum) < 20.0016);
	crypto_wipe_free(t);
}

static void test_commits_and_counters(void **state)
{
	char *before = render(), *after;
	double batches = value(before, "groupvault_commit_batch_writes_count"),
	       writes = value(before, "groupvault_commit_batch_writes_sum"),
	       fails = value(before, "groupvault_commit_failures_total"),
	       le4 = value(before, "groupvault_commit_batch_writes_bucket{le=\"4\"}"),
	       audit = value(before, "groupvault_audit_entries_total"),
	       wrong = value(before, "groupvault_unlocks_total{result=\"wrong_password\"}"),
	       rowhit = value(before, "groupvault_cache_hits_total{cache=\"row\"}"),
	       ckpt = value(before, "groupvault_checkpoints_total{by=\"fallback\"}");

	(void)state;
	metrics_commit(3, 2000000, 1);
	metrics_commit(5, 2000000, 1);
	metrics_commit(9, 2000000, 0); /* failed: not a batch written */
	metrics_add(METRICS_AUDIT_ENTRIES, 8);
	metrics_add(METRICS_UNLOCK_WRONG_PASSWORD, 1);
	metrics_add(METRICS_ROW_CACHE_HIT, 4);
	metrics_add(METRICS_CKPT_FALLBACK, 2);
	after = render();
	assert_true(value(after, "groupvault_commit_batch_writes_count") == batches + 2);
	assert_true(value(after, "groupvault_commit_batch_writes_sum") == writes + 8);
	assert_true(value(after, "groupvault_commit_batch_writes_bucket{le=\"4\"}") == le4 + 1);
	assert_true(value(after, "groupvault_commit_failures_total") == fails + 1);
	assert_true(value(after, "groupvault_audit_entries_total") == audit + 8);
	assert_true(value(after, "groupvault_unlocks_total{result=\"wrong_password\"}") ==
		    wrong + 1);
	assert_true(value(after, "groupvault_cache_hits_total{cache=\"row\"}") == rowhit + 4);
	assert_true(value(after, "groupvault_checkpoints_total{by=\"fallback\"}") == ckpt + 2);
	crypto_wipe_free(before);
	crypto_wipe_free(after);
}

#define THREADS 8
#define PER_THREAD 20000

static void *hammer(void *arg)
{
	unsigned r = *(unsigned *)arg;

	for (int i = 0; i < PER_THREAD; i++) {
		metrics_add(METRICS_TOKEN_CACHE_MISS, 1);
		metrics_request(r, 200, 10);
	}
	return NULL;
}

static void test_no_update_lost(void **state)
{
	const char *c = "groupvault_cache_misses_total{cache=\"token\"}";
	char *before = render(), *after, series[256];
	double miss0 = value(before, c), req0;
	pthread_t t[THREADS];
	unsigned r = route_index("GET", "/status");

	(void)state;
	snprintf(series, sizeof(series),
		 "groupvault_http_requests_total{method=\"%s\",route=\"%s\",code=\"2xx\"}",
		 routes[r].method, routes[r].pattern);
	req0 = value(before, series);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &r), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	after = render();
	assert_true(value(after, c) == miss0 + THREADS * PER_THREAD);
	assert_true(value(after, series) == (req0 < 0 ? 0 : req0) + THREADS * PER_THREAD);
	crypto_wipe_free(before);
	crypto_wipe_free(after);
}

static void test_gauges_and_format(void **state)
{
	char *t;

	(void)state;
	metrics_conn(1);
	metrics_conn(1);
	metrics_conn(-1);
	t = render();
	assert_true(value(t, "groupvault_http_open_connections") == 1);
	assert_true(value(t, "groupvault_secrets") == 3);
	assert_true(value(t, "process_open_fds") == 7);
	/* Unknown figures are left out, not shown as -1. */
	assert_true(value(t, "groupvault_tokens") == -1);
	assert_null(strstr(t, "process_resident_memory_bytes"));
	/* Every family has HELP and TYPE; every label value is a fixed word
	 * or a route pattern. */
	assert_non_null(strstr(t, "# TYPE groupvault_http_requests_total counter\n"));
	assert_non_null(strstr(t, "# TYPE groupvault_commit_fsync_duration_seconds histogram\n"));
	for (const char *p = strstr(t, "route=\""); p != NULL; p = strstr(p + 1, "route=\"")) {
		const char *q = p + 7;
		size_t n = strcspn(q, "\"");
		int known = n == 9 && strncmp(q, "unmatched", 9) == 0;
		for (unsigned i = 0; !known && routes[i].method != NULL; i++)
			known =
			    strlen(routes[i].pattern) == n && strncmp(q, routes[i].pattern, n) == 0;
		assert_true(known);
	}
	metrics_conn(-1);
	crypto_wipe_free(t);
}

static void test_process_figures(void **state)
{
	long long fds = procstat_open_fds(), rss = procstat_rss_bytes();
	double cpu = procstat_cpu_seconds();
	volatile unsigned long x = 0;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	assert_true(fds > 0);
	assert_int_equal(procstat_open_fds(), fds + 1);
	close(fd);
	assert_int_equal(procstat_open_fds(), fds);
	assert_true(rss > 1 << 20);
	assert_true(procstat_max_fds() >= fds);
	for (unsigned long i = 0; i < 50000000; i++)
		x += i;
	assert_true(procstat_cpu_seconds() > cpu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route_table_fits),
	    cmocka_unit_test(test_requests_by_route_and_class),
	    cmocka_unit_test(test_histogram_edges),
	    cmocka_unit_test(test_commits_and_counters),
	    cmocka_unit_test(test_no_update_lost),
	    cmocka_unit_test(test_gauges_and_format),
	    cmocka_unit_test(test_process_figures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
