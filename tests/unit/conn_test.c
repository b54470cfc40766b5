/* conn_test.c: the connection table over socketpairs. Deadlines end a
 * connection by shutdown (the peer reads end-of-file), the caps evict the
 * longest-waiting idle connection, busy ones are never touched, and a
 * closed slot's descriptor is never shut down again. */
#include "test_common.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"

/* 1 if the peer of s sees end-of-file within ms. */
static int peer_closed(int peer, int ms)
{
	struct pollfd p = {peer, POLLIN, 0};
	char c;

	if (poll(&p, 1, ms) != 1)
		return 0;
	return recv(peer, &c, 1, MSG_DONTWAIT) == 0;
}

static void pair(int sv[2]) { assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0); }

static struct sockaddr_in addr(unsigned char last)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(0x7f000000u | last);
	return a;
}

static void test_head_deadline(void **state)
{
	struct conn_limits lim = {8, 8, 300, 1000, 16};
	struct conn_table *t = conn_table_new(&lim);
	struct sockaddr_in a = addr(1);
	struct conn_stats st;
	int s1[2], s2[2];
	struct conn_slot *c1, *c2;

	(void)state;
	pair(s1);
	pair(s2);
	c1 = conn_open(t, s1[0], &a, sizeof(a));
	c2 = conn_open(t, s2[0], &a, sizeof(a));
	assert_non_null(c1);
	assert_non_null(c2);
	conn_head_done(t, c2, 0, 0); /* busy: no deadline */
	assert_false(peer_closed(s1[1], 100));
	assert_true(peer_closed(s1[1], 2000));
	assert_false(peer_closed(s2[1], 300));
	conn_table_stats(t, &st);
	assert_int_equal(st.reaped, 1);
	assert_int_equal(st.open, 1);
	conn_close(t, c1);
	conn_close(t, c2);
	conn_table_free(t);
	for (int i = 0; i < 2; i++) {
		close(s1[i]);
		close(s2[i]);
	}
}

static void test_body_deadline_scales(void **state)
{
	/* 200 ms for the head, then 1000 bytes/s: a 1000-byte body gets 1.2 s. */
	struct conn_limits lim = {8, 8, 200, 1000, 16};
	struct conn_table *t = conn_table_new(&lim);
	struct sockaddr_in a = addr(1);
	int s[2];
	struct conn_slot *c;

	(void)state;
	pair(s);
	c = conn_open(t, s[0], &a, sizeof(a));
	conn_head_done(t, c, 1000, 4096);
	assert_false(peer_closed(s[1], 700));
	assert_true(peer_closed(s[1], 3000));
	conn_close(t, c);
	conn_table_free(t);
	close(s[0]);
	close(s[1]);
}

static void test_evicts_oldest_idle(void **state)
{
	/* Per-address cap 2: a third connection from one address ends the
	 * oldest one that is not busy; another address is untouched. */
	struct conn_limits lim = {100, 2, 60000, 1000, 16};
	struct conn_table *t = conn_table_new(&lim);
	struct sockaddr_in a = addr(1), b = addr(2);
	int s[4][2];
	struct conn_slot *c[4];
	struct conn_stats st;

	(void)state;
	for (int i = 0; i < 4; i++)
		pair(s[i]);
	c[0] = conn_open(t, s[0][0], &a, sizeof(a));
	conn_head_done(t, c[0], 0, 0); /* busy */
	usleep(2000);
	c[1] = conn_open(t, s[1][0], &a, sizeof(a));
	usleep(2000);
	c[3] = conn_open(t, s[3][0], &b, sizeof(b));
	c[2] = conn_open(t, s[2][0], &a, sizeof(a));
	assert_true(peer_closed(s[1][1], 1000));
	assert_false(peer_closed(s[0][1], 100));
	assert_false(peer_closed(s[2][1], 100));
	assert_false(peer_closed(s[3][1], 100));
	conn_table_stats(t, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.open, 3);
	for (int i = 0; i < 4; i++)
		conn_close(t, c[i]);
	conn_table_free(t);
	for (int i = 0; i < 4; i++) {
		close(s[i][0]);
		close(s[i][1]);
	}
}

static void test_total_cap_and_refusal(void **state)
{
	/* Total cap 2 with both busy: the newcomer itself is refused. */
	struct conn_limits lim = {2, 2, 60000, 1000, 3};
	struct conn_table *t = conn_table_new(&lim);
	struct sockaddr_in a = addr(1), b = addr(2), d = addr(3);
	int s[4][2];
	struct conn_slot *c[4];
	struct conn_stats st;

	(void)state;
	for (int i = 0; i < 4; i++)
		pair(s[i]);
	c[0] = conn_open(t, s[0][0], &a, sizeof(a));
	c[1] = conn_open(t, s[1][0], &b, sizeof(b));
	conn_busy(t, c[0]);
	conn_busy(t, c[1]);
	c[2] = conn_open(t, s[2][0], &d, sizeof(d));
	assert_non_null(c[2]);
	assert_true(peer_closed(s[2][1], 1000));
	/* The table (3 slots) is full: NULL, and the descriptor is shut down. */
	c[3] = conn_open(t, s[3][0], &d, sizeof(d));
	assert_null(c[3]);
	assert_true(peer_closed(s[3][1], 1000));
	conn_table_stats(t, &st);
	assert_int_equal(st.refused, 2);
	assert_false(peer_closed(s[0][1], 100));
	/* Once a busy one is done with its request it may be evicted. */
	conn_request_done(t, c[0]);
	conn_close(t, c[2]);
	c[2] = conn_open(t, s[2][0], &d, sizeof(d));
	assert_true(peer_closed(s[0][1], 1000));
	for (int i = 0; i < 3; i++)
		conn_close(t, c[i]);
	conn_table_free(t);
	for (int i = 0; i < 4; i++) {
		close(s[i][0]);
		close(s[i][1]);
	}
}

static void test_busy_with_client_gone_evicted(void **state)
{
	/* Per-address cap 2, both busy: a newcomer is refused while both
	 * clients wait, but once one of them has hung up (its request still
	 * parked), that one makes room instead. */
	struct conn_limits lim = {8, 2, 60000, 1000, 8};
	struct conn_table *t = conn_table_new(&lim);
	struct sockaddr_in a = addr(1);
	int s[4][2];
	struct conn_slot *c[4];
	struct conn_stats st;

	(void)state;
	for (int i = 0; i < 4; i++)
		pair(s[i]);
	c[0] = conn_open(t, s[0][0], &a, sizeof(a));
	c[1] = conn_open(t, s[1][0], &a, sizeof(a));
	conn_busy(t, c[0]);
	conn_busy(t, c[1]);
	c[2] = conn_open(t, s[2][0], &a, sizeof(a));
	assert_true(peer_closed(s[2][1], 1000));
	conn_close(t, c[2]);
	close(s[1][1]); /* c[1]'s client leaves */
	s[1][1] = -1;
	c[3] = conn_open(t, s[3][0], &a, sizeof(a));
	assert_false(peer_closed(s[3][1], 200));
	assert_false(peer_closed(s[0][1], 100));
	conn_table_stats(t, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.open, 2);
	conn_close(t, c[0]);
	conn_close(t, c[1]);
	conn_close(t, c[3]);
	conn_table_free(t);
	for (int i = 0; i < 4; i++) {
		close(s[i][0]);
		if (s[i][1] >= 0)
			close(s[i][1]);
	}
}

static void test_closed_slot_not_touched(void **state)
{
	/* After conn_close the number may be reused: the reaper must not
	 * shut the new holder down. */
	struct conn_limits lim = {8, 8, 100, 1000, 4};
	struct conn_table *t = conn_table_new(&lim);
	struct sockaddr_in a = addr(1);
	int s[2];
	struct conn_slot *c;

	(void)state;
	pair(s);
	c = conn_open(t, s[0], &a, sizeof(a));
	conn_close(t, c);
	assert_false(peer_closed(s[1], 600));
	conn_table_free(t);
	close(s[0]);
	close(s[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_head_deadline),
	    cmocka_unit_test(test_body_deadline_scales),
	    cmocka_unit_test(test_evicts_oldest_idle),
	    cmocka_unit_test(test_total_cap_and_refusal),
	    cmocka_unit_test(test_busy_with_client_gone_evicted),
	    cmocka_unit_test(test_closed_slot_not_touched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
