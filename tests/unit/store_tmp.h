/* store_tmp.h: a fresh temp directory per store test (cmocka setup and
 * teardown), removed even when the test fails; and small SQL helpers that
 * reach behind the store's back. Only for tests/unit/store*_test.c. */
#ifndef GV_STORE_TMP_H
#define GV_STORE_TMP_H

#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"

struct store_tmp {
	char dir[64];
	char db[96]; /* dir/vault.db */
};

static inline int store_tmp_setup(void **state)
{
	struct store_tmp *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/gv-store-test-XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	snprintf(t->db, sizeof(t->db), "%s/vault.db", t->dir);
	*state = t;
	return 0;
}

static inline int store_tmp_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline int store_tmp_teardown(void **state)
{
	struct store_tmp *t = *state;
	int rc = nftw(t->dir, store_tmp_rm, 16, FTW_DEPTH | FTW_PHYS);

	free(t);
	return rc == 0 ? 0 : -1;
}

#define store_tmp_test(f) cmocka_unit_test_setup_teardown(f, store_tmp_setup, store_tmp_teardown)

/* Runs SQL on the database file directly, as an attacker or an old build
 * would. */
static inline void store_tmp_sql(const char *db, const char *sql)
{
	sqlite3 *h;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

/* The single integer a query returns. */
static inline int64_t store_tmp_int(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *q;
	int64_t v;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
	return v;
}

/* Parked jobs' answers (store_done_fn): how many came, how many were 0. */
struct answers {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n, ok, failed;
};

static inline void answered(void *ctx, int rc)
{
	struct answers *a = ctx;

	pthread_mutex_lock(&a->mu);
	a->n++;
	if (rc == 0)
		a->ok++;
	else
		a->failed++;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

static inline void wait_answers(struct answers *a, int n)
{
	pthread_mutex_lock(&a->mu);
	while (a->n < n)
		pthread_cond_wait(&a->cv, &a->mu);
	pthread_mutex_unlock(&a->mu);
}

#endif
