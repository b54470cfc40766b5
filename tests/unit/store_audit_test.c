/* store_audit_test.c: the keyed audit chain: the hash it computes (covering
 * seq and secret_id), listing and the cursor, edits recomputed without the
 * key caught by the MACs, tail truncation caught by the head record, entries
 * written "locked" sealed later, old (hv 1) entries sealed after an upgrade,
 * and a rolled-back append leaving no gap (the cached head follows the
 * savepoint). */
#include <stdio.h>
#include <stdlib.h>

#include "store_tmp.h"

#include "crypto.h"
#include "store.h"

/* The test's MAC function: HMAC under a fixed key while "unlocked". */
static int unlocked = 1;
static const unsigned char test_key[32] = "0123456789abcdef0123456789abcde";

static int test_mac(void *ctx, const struct store_mac_msg *m, int n)
{
	(void)ctx;
	if (!unlocked)
		return -1;
	for (int i = 0; i < n; i++)
		if (crypto_hmac_sha256(test_key, sizeof(test_key), m[i].msg, m[i].len, m[i].out) !=
		    0)
			return -1;
	return 0;
}

static struct store *open_keyed(struct store_tmp *t)
{
	struct store *st = store_open(t->dir);

	assert_non_null(st);
	store_audit_set_mac(st, test_mac, NULL);
	unlocked = 1;
	return st;
}

static void append(struct store *st, const char *e, const unsigned char *id, int keep)
{
	struct store_tx *tx = store_tx_begin(st, 1);

	assert_non_null(tx);
	assert_int_equal(store_audit_append(tx, e, strlen(e), id), 0);
	if (keep)
		assert_int_equal(store_tx_commit(tx), 0);
	else
		store_tx_rollback(tx);
}

static void seal(struct store *st)
{
	struct store_tx *tx = store_tx_begin(st, 1);

	assert_non_null(tx);
	assert_int_equal(store_audit_seal(tx), 0);
	assert_int_equal(store_tx_commit(tx), 0);
}

/* Returns store_audit_verify's result, with what it found in *c. */
static int verify(struct store *st, struct store_audit_check *c)
{
	struct store_tx *tx = store_tx_begin(st, 0);
	int rc;

	assert_non_null(tx);
	rc = store_audit_verify(tx, c);
	store_tx_rollback(tx);
	return rc;
}

static void be64(unsigned char *p, int64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

/* hash = SHA-256(prev | seq | flag | secret_id | entry), from 32 zero bytes. */
static void chain_step(unsigned char h[32], int64_t seq, const unsigned char *id, const char *e)
{
	unsigned char buf[32 + 9 + 32 + 128];
	size_t len = strlen(e), n = 32;

	memcpy(buf, h, 32);
	be64(buf + n, seq);
	n += 8;
	buf[n++] = id != NULL;
	if (id != NULL) {
		memcpy(buf + n, id, 32);
		n += 32;
	}
	memcpy(buf + n, e, len);
	assert_int_equal(crypto_sha256(buf, n + len, h), 0);
}

static void hex(const unsigned char *b, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* What someone who can write the file but has no key does: replaces entry
 * seq and recomputes every chain hash from there, and the head record's
 * hash (entries have no id; last is the newest entry). */
static void forge(struct store_tmp *t, int64_t seq, const char *entry, int64_t last,
		  char entries[][32])
{
	unsigned char h[32] = {0};
	char sql[512], x[65];

	snprintf(entries[seq - 1], 32, "%s", entry);
	for (int64_t i = 1; i <= last; i++) {
		chain_step(h, i, NULL, entries[i - 1]);
		if (i < seq)
			continue;
		hex(h, x);
		snprintf(sql, sizeof(sql), "UPDATE audit SET entry='%s', hash=x'%s' WHERE seq=%lld",
			 entries[i - 1], x, (long long)i);
		store_tmp_sql(t->db, sql);
	}
	/* and the head record's (unkeyed) hash, which names the last one */
	snprintf(sql, sizeof(sql),
		 "UPDATE meta SET v = substr(v, 1, 8) || x'%s' || substr(v, 41) "
		 "WHERE k = 'audit_head'",
		 x);
	store_tmp_sql(t->db, sql);
}

static void test_chain_hash(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	unsigned char want[32] = {0}, id[32];
	struct store_audit_check c;

	assert_non_null(st);
	memset(id, 7, sizeof(id));
	assert_int_equal(verify(st, &c), 0);
	assert_int_equal(c.entries, 0);
	assert_memory_equal(c.head, want, 32);
	append(st, "{\"a\":1}", NULL, 1);
	append(st, "{\"b\":2}", id, 1);
	chain_step(want, 1, NULL, "{\"a\":1}");
	chain_step(want, 2, id, "{\"b\":2}");
	assert_int_equal(verify(st, &c), 0);
	assert_int_equal(c.entries, 2);
	assert_int_equal(c.head_seq, 2);
	assert_int_equal(c.keyed, 0); /* no MAC function: hashes only */
	assert_memory_equal(c.head, want, 32);
	store_close(st);
	/* secret_id is in the hash: changing it breaks the chain there. */
	store_tmp_sql(t->db, "UPDATE audit SET secret_id=zeroblob(32) WHERE seq=2");
	st = store_open(t->dir);
	assert_non_null(st);
	assert_int_equal(verify(st, &c), 1);
	assert_int_equal(c.bad_seq, 2);
	assert_string_equal(c.problem, "hash");
	store_close(st);
}

static int list_first(void *ctx, int64_t seq, const char *e, size_t len)
{
	(void)e;
	(void)len;
	if (*(int64_t *)ctx == 0)
		*(int64_t *)ctx = seq;
	return 0;
}

static int list_count(void *ctx, int64_t seq, const char *e, size_t len)
{
	(void)seq;
	(void)e;
	(void)len;
	(*(int *)ctx)++;
	return 0;
}

static void test_list_and_cursor(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = store_open(t->dir);
	unsigned char id[STORE_ID_LEN];
	struct store_tx *tx;
	int64_t first = 0;
	int count = 0;
	char e[64];

	assert_non_null(st);
	memset(id, 9, sizeof(id));
	for (int i = 0; i < 5; i++) {
		snprintf(e, sizeof(e), "{\"n\":%d}", i);
		append(st, e, i == 2 ? id : NULL, 1);
	}
	tx = store_tx_begin(st, 0);
	assert_non_null(tx);
	assert_int_equal(store_audit_list(tx, NULL, -1, 10, list_first, &first), 0);
	assert_int_equal(first, 5); /* newest first */
	first = 0;
	assert_int_equal(store_audit_list(tx, id, -1, 10, list_first, &first), 0);
	assert_int_equal(first, 3);
	assert_int_equal(store_audit_list(tx, NULL, -1, 3, list_count, &count), 0);
	assert_int_equal(count, 3); /* the limit holds */
	first = 0;
	assert_int_equal(store_audit_list(tx, NULL, 2, 10, list_first, &first), 0);
	assert_int_equal(first, 3); /* oldest first after the cursor */
	count = 0;
	assert_int_equal(store_audit_list(tx, NULL, 5, 10, list_count, &count), 0);
	assert_int_equal(count, 0);
	store_tx_rollback(tx);
	store_close(st);
}

/* Without the key, an edit with every hash recomputed verifies (hashes
 * alone prove nothing); with it, the entry's MAC fails. */
static void test_recomputed_edit_caught(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = open_keyed(t);
	char entries[5][32];
	struct store_audit_check c;

	for (int i = 0; i < 5; i++) {
		snprintf(entries[i], sizeof(entries[i]), "{\"n\":%d}", i);
		append(st, entries[i], NULL, 1);
	}
	assert_int_equal(verify(st, &c), 0);
	assert_int_equal(c.keyed, 1);
	assert_int_equal(c.sealed_through, 5);
	store_close(st);
	forge(t, 3, "{\"n\":99}", 5, entries);
	st = open_keyed(t);
	unlocked = 0;
	assert_int_equal(verify(st, &c), 0); /* locked: only the hashes, which hold */
	assert_int_equal(c.keyed, 0);
	unlocked = 1;
	assert_int_equal(verify(st, &c), 1);
	assert_int_equal(c.bad_seq, 3);
	assert_string_equal(c.problem, "mac");
	store_close(st);
}

/* Deleting the newest sealed entries leaves a chain that hashes fine; the
 * keyed head record still names the old last one. */
static void test_truncation_caught(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = open_keyed(t);
	struct store_audit_check c;

	for (int i = 0; i < 4; i++)
		append(st, "{\"x\":1}", NULL, 1);
	store_close(st);
	store_tmp_sql(t->db, "DELETE FROM audit WHERE seq >= 3");
	st = open_keyed(t);
	assert_int_equal(verify(st, &c), 1);
	assert_string_equal(c.problem, "truncated");
	assert_int_equal(c.bad_seq, 3);
	assert_int_equal(c.sealed_through, 4);
	store_close(st);
	/* Rewriting the head record without the key does not help. */
	store_tmp_sql(t->db, "UPDATE meta SET v = x'0000000000000002' || substr(v, 9) "
			     "WHERE k = 'audit_head'");
	st = open_keyed(t);
	assert_int_equal(verify(st, &c), 1);
	assert_string_equal(c.problem, "head");
	store_close(st);
}

/* Entries appended while locked are chained but unsealed; the seal pass
 * seals them, after which an edit is caught by MAC. */
static void test_locked_entries_sealed_later(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = open_keyed(t);
	char entries[4][32];
	struct store_audit_check c;

	snprintf(entries[0], 32, "{\"open\":1}");
	append(st, entries[0], NULL, 1);
	unlocked = 0;
	for (int i = 1; i < 4; i++) {
		snprintf(entries[i], 32, "{\"locked\":%d}", i);
		append(st, entries[i], NULL, 1);
	}
	assert_int_equal(store_tmp_int(t->db, "SELECT count(*) FROM audit WHERE mac IS NULL"), 3);
	unlocked = 1;
	assert_int_equal(verify(st, &c), 0);
	assert_int_equal(c.sealed_through, 1);
	seal(st);
	assert_int_equal(store_tmp_int(t->db, "SELECT count(*) FROM audit WHERE mac IS NULL"), 0);
	assert_int_equal(verify(st, &c), 0);
	assert_int_equal(c.sealed_through, 4);
	store_close(st);
	forge(t, 2, "{\"locked\":9}", 4, entries);
	st = open_keyed(t);
	assert_int_equal(verify(st, &c), 1);
	assert_int_equal(c.bad_seq, 2);
	assert_string_equal(c.problem, "mac");
	store_close(st);
}

/* A database from before v3: entries with the old hash (hv 1) and no
 * MACs. They verify as they are and are sealed by the seal pass. */
static void test_old_entries_sealed(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = open_keyed(t);
	unsigned char h[32] = {0}, buf[64];
	char sql[256], x[65];
	struct store_audit_check c;

	store_close(st);
	for (int i = 1; i <= 3; i++) {
		memcpy(buf, h, 32);
		memcpy(buf + 32, "{\"old\":1}", 9);
		assert_int_equal(crypto_sha256(buf, 41, h), 0);
		hex(h, x);
		snprintf(sql, sizeof(sql),
			 "INSERT INTO audit(seq, entry, hash) VALUES(%d, '{\"old\":1}', x'%s')", i,
			 x);
		store_tmp_sql(t->db, sql);
	}
	st = open_keyed(t);
	assert_int_equal(verify(st, &c), 0);
	assert_int_equal(c.sealed_through, 0);
	seal(st);
	append(st, "{\"new\":1}", NULL, 1);
	assert_int_equal(verify(st, &c), 0);
	assert_int_equal(c.entries, 4);
	assert_int_equal(c.sealed_through, 4);
	store_close(st);
	/* Deleting an old entry and renumbering is caught once sealed. */
	store_tmp_sql(t->db, "DELETE FROM audit WHERE seq = 1;"
			     "UPDATE audit SET seq = seq - 1");
	st = open_keyed(t);
	assert_int_equal(verify(st, &c), 1);
	store_close(st);
}

/* A rolled-back append restores the cached head: the next append takes the
 * same seq and chains from the same hash, so the chain has no gap. */
static void test_rolled_back_append_leaves_no_gap(void **state)
{
	struct store_tmp *t = *state;
	struct store *st = open_keyed(t);
	unsigned char want[32] = {0};
	struct store_audit_check c;

	append(st, "{\"k\":1}", NULL, 1);
	append(st, "{\"gone\":1}", NULL, 0);
	append(st, "{\"k\":2}", NULL, 1);
	assert_int_equal(verify(st, &c), 0);
	assert_int_equal(c.entries, 2);
	assert_int_equal(c.sealed_through, 2);
	chain_step(want, 1, NULL, "{\"k\":1}");
	chain_step(want, 2, NULL, "{\"k\":2}");
	assert_memory_equal(c.head, want, 32);
	store_close(st);
	/* A new store reads the head from the table and continues it. */
	st = open_keyed(t);
	append(st, "{\"k\":3}", NULL, 1);
	assert_int_equal(verify(st, &c), 0);
	assert_int_equal(c.entries, 3);
	assert_int_equal(c.sealed_through, 3);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    store_tmp_test(test_chain_hash),
	    store_tmp_test(test_list_and_cursor),
	    store_tmp_test(test_recomputed_edit_caught),
	    store_tmp_test(test_truncation_caught),
	    store_tmp_test(test_locked_entries_sealed_later),
	    store_tmp_test(test_old_entries_sealed),
	    store_tmp_test(test_rolled_back_append_leaves_no_gap),
	};

	return cmocka_run_group_tests_name("store_audit", tests, NULL, NULL);
}
