/* http_test.c: the server refuses to start unless jansson allocates through
 * the wipe-on-free hook (jalloc_init), and starts and stops cleanly once it
 * does. */
#include "test_common.h"

#include <stdlib.h>

#include "config.h"
#include "http.h"
#include "jalloc.h"

static void *plain_malloc(size_t n) { return malloc(n); }
static void plain_free(void *p) { free(p); }

static void config_for_test(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->bind_address, sizeof(cfg->bind_address), "127.0.0.1");
	cfg->port = 0; /* any free port */
	cfg->max_body = 1 << 20;
	cfg->max_connections = 16;
	cfg->max_connections_per_ip = 8;
	cfg->connection_timeout = 5;
	cfg->header_timeout = 5;
	cfg->body_min_rate = 1024;
	cfg->threads = 2;
}

static void test_refuses_without_jalloc(void **state)
{
	struct config cfg;

	(void)state;
	config_for_test(&cfg);
	json_set_alloc_funcs(plain_malloc, plain_free);
	assert_null(http_start(&cfg, NULL));
}

static void test_starts_with_jalloc(void **state)
{
	struct config cfg;
	struct http *h;

	(void)state;
	config_for_test(&cfg);
	jalloc_init();
	h = http_start(&cfg, NULL);
	assert_non_null(h);
	http_stop(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refuses_without_jalloc),
	    cmocka_unit_test(test_starts_with_jalloc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
