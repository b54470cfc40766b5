/* store_token_test.c: the token registry's rows: issue, lookup by id and by
 * token hash, revocation marked pending and sealed, listing with filters
 * and a cursor, the issue count and the purge. */
#include <stdlib.h>

#include "store_tmp.h"

#include "store.h"

static const unsigned char dg[32] = "0123456789abcdef0123456789abcde";
static const unsigned char h1[32] = "hash-of-token-one...............";
static const unsigned char h2[32] = "hash-of-token-two...............";
static const unsigned char mac[32] = "mac.............................";

/* Copies the row handed out, so a test can look at it after the call. */
static int keep_row(void *ctx, const struct store_token_row *r)
{
	struct store_token_row *out = ctx;

	*out = *r;
	out->scope = NULL;
	return 0;
}

struct ids {
	char s[256];
	int64_t last;
};

static int list_ids(void *ctx, const struct store_token_row *r)
{
	struct ids *c = ctx;

	strcat(c->s, r->id);
	strcat(c->s, " ");
	c->last = r->seq;
	return 0;
}

static void put3(struct store_tx *tx)
{
	struct store_token a = {"t1", "alice", 1000, 5000000, "s", 1, dg, h1, mac};
	struct store_token b = {"t2", "alice", 2000, 6000000, "s", 1, dg, h2, mac};
	struct store_token c = {"t3", "bob", 2000, 6000000, "s", 1, dg, NULL, mac};

	c.token_hash = (const unsigned char *)"hash-of-token-three.............";
	assert_int_equal(store_token_put(tx, &a), 0);
	assert_int_equal(store_token_put(tx, &b), 0);
	assert_int_equal(store_token_put(tx, &c), 0);
	assert_int_equal(store_token_put(tx, &c), -1); /* duplicate id */
	b.id = "t4";
	assert_int_equal(store_token_put(tx, &b), -1); /* duplicate token hash */
}

static void test_put_get_revoke_seal(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	struct store_token_row r;
	struct store_tx *tx;
	int fnrc;

	assert_non_null(st);
	tx = store_tx_begin(st, 1);
	assert_non_null(tx);
	put3(tx);
	assert_int_equal(store_token_count_since(tx, "alice", 1500), 1);
	/* By hash finds the same row as by id. */
	assert_int_equal(store_token_get(tx, NULL, h2, keep_row, &r, &fnrc), 0);
	assert_string_equal(r.id, "t2");
	assert_true(r.has_hash && r.has_mac && !r.revoked && !r.pending);
	assert_memory_equal(r.token_hash, h2, 32);
	assert_int_equal(store_token_get(tx, NULL, dg, keep_row, &r, &fnrc), 1);
	assert_int_equal(store_token_get(tx, "nope", NULL, keep_row, &r, &fnrc), 1);
	/* A revocation is pending until sealed; a second one changes nothing. */
	assert_int_equal(store_token_revoke(tx, "t1", 3000, "admin"), 1);
	assert_int_equal(store_token_revoke(tx, "t1", 3001, "other"), 0);
	assert_int_equal(store_token_revoke_user(tx, "alice", 3000, "hr"), 1);
	assert_int_equal(store_token_get(tx, "t1", NULL, keep_row, &r, &fnrc), 0);
	assert_true(r.revoked && r.pending);
	assert_int_equal(r.revoked_at, 3000);
	assert_string_equal(r.revoked_by, "admin");
	assert_int_equal(store_token_seal(tx, "t1", dg), 0);
	assert_int_equal(store_token_get(tx, "t1", NULL, keep_row, &r, &fnrc), 0);
	assert_true(r.revoked && !r.pending);
	assert_memory_equal(r.mac, dg, 32);
	/* Purge drops rows an hour past expiry. */
	assert_int_equal(store_token_purge(tx, 5000000 + 3600000 + 1), 1);
	assert_int_equal(store_token_get(tx, "t1", NULL, keep_row, &r, &fnrc), 1);
	assert_int_equal(store_tx_commit(tx), 0);
	store_close(st);
}

static int count_pending(void *ctx, const struct store_token_row *r)
{
	(void)r;
	(*(int *)ctx)++;
	return 0;
}

static void test_pending_and_list(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	struct store_tx *tx;
	struct ids c = {"", 0};
	int pending = 0;

	assert_non_null(st);
	tx = store_tx_begin(st, 1);
	assert_non_null(tx);
	put3(tx);
	assert_int_equal(store_token_revoke(tx, "t2", 3000, "admin"), 1);
	assert_int_equal(store_token_each_pending(tx, count_pending, &pending), 0);
	assert_int_equal(pending, 1);
	/* Live only (t1 expired at 5000000 is left out at now=5500000). */
	assert_int_equal(store_token_list(tx, NULL, 0, 5500000, 0, 10, list_ids, &c), 0);
	assert_string_equal(c.s, "t3 ");
	c.s[0] = '\0';
	assert_int_equal(store_token_list(tx, NULL, 1, 5500000, 0, 10, list_ids, &c), 0);
	assert_string_equal(c.s, "t1 t2 t3 ");
	c.s[0] = '\0';
	assert_int_equal(store_token_list(tx, "alice", 1, 0, 0, 10, list_ids, &c), 0);
	assert_string_equal(c.s, "t1 t2 ");
	/* Pages: two then the rest, from the cursor. */
	c.s[0] = '\0';
	assert_int_equal(store_token_list(tx, NULL, 1, 0, 0, 2, list_ids, &c), 0);
	assert_string_equal(c.s, "t1 t2 ");
	c.s[0] = '\0';
	assert_int_equal(store_token_list(tx, NULL, 1, 0, c.last, 2, list_ids, &c), 0);
	assert_string_equal(c.s, "t3 ");
	assert_int_equal(store_tx_commit(tx), 0);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    store_tmp_test(test_put_get_revoke_seal),
	    store_tmp_test(test_pending_and_list),
	};

	return cmocka_run_group_tests_name("store_token", tests, NULL, NULL);
}
