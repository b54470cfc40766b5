/* conn.c: the connection table (see conn.h). One mutex guards every slot;
 * the reaper and eviction call shutdown(2) only while holding it, and the
 * owner frees a slot under it before closing the descriptor, so a number the
 * kernel has handed to a newer connection is never touched. Never closes a
 * descriptor and never logs client data. */
#include "conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "util.h"

/* How often the reaper looks: deadlines are kept to within this. */
#define CONN_REAP_MS 100

enum conn_phase { CONN_FREE, CONN_HEAD, CONN_BODY, CONN_BUSY };

struct conn_slot {
	int fd;
	enum conn_phase phase;
	int ended;	     /* shut down, waiting for the owner to close */
	int64_t since;	     /* start of the current wait: eviction order */
	int64_t deadline;    /* monotonic ms; 0 for none */
	unsigned char ip[8]; /* IPv4 address, or an IPv6 /64 */
	unsigned char iplen;
	struct conn_slot *next_free;
};

struct conn_table {
	pthread_mutex_t mu;
	pthread_cond_t wake;
	pthread_t reaper;
	int stop;
	struct conn_limits lim;
	struct conn_slot *slots, *free;
	unsigned live; /* open and not yet shut down */
	struct conn_stats st;
};

static void conn_end(struct conn_table *t, struct conn_slot *s)
{
	/* shutdown, not close: the owner still holds the descriptor and will
	 * see end-of-file; it closes it after conn_close. */
	shutdown(s->fd, SHUT_RDWR);
	s->ended = 1;
	s->deadline = 0;
	t->live--;
}

static void *conn_reap(void *arg)
{
	struct conn_table *t = arg;

	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		struct timespec ts;
		int64_t now = util_mono_ms();

		for (unsigned i = 0; i < t->lim.slots; i++) {
			struct conn_slot *s = &t->slots[i];
			if (s->phase != CONN_FREE && !s->ended && s->deadline != 0 &&
			    s->deadline <= now) {
				conn_end(t, s);
				t->st.reaped++;
			}
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += CONN_REAP_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&t->wake, &t->mu, &ts);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

struct conn_table *conn_table_new(const struct conn_limits *lim)
{
	struct conn_table *t = calloc(1, sizeof(*t));

	if (t == NULL || lim->slots == 0 ||
	    (t->slots = calloc(lim->slots, sizeof(*t->slots))) == NULL) {
		log_err("%s: out of memory", __func__);
		free(t);
		return NULL;
	}
	t->lim = *lim;
	for (unsigned i = lim->slots; i-- > 0;) {
		t->slots[i].next_free = t->free;
		t->free = &t->slots[i];
	}
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->wake, NULL);
	errno = pthread_create(&t->reaper, NULL, conn_reap, t);
	if (errno != 0) {
		log_err("%s: cannot start the reaper thread", __func__);
		pthread_mutex_destroy(&t->mu);
		pthread_cond_destroy(&t->wake);
		free(t->slots);
		free(t);
		return NULL;
	}
	return t;
}

void conn_table_free(struct conn_table *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->reaper, NULL);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->wake);
	free(t->slots);
	free(t);
}

/* The address key: IPv4 as is, IPv6 by its /64 (one host usually holds a
 * whole /64, so per-address limits on single IPv6 addresses mean little). */
static void conn_addr_key(struct conn_slot *s, const void *addr, size_t addrlen)
{
	const struct sockaddr *sa = addr;

	s->iplen = 0;
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET && addrlen >= sizeof(struct sockaddr_in)) {
		memcpy(s->ip, &((const struct sockaddr_in *)addr)->sin_addr, 4);
		s->iplen = 4;
	} else if (sa->sa_family == AF_INET6 && addrlen >= sizeof(struct sockaddr_in6)) {
		memcpy(s->ip, &((const struct sockaddr_in6 *)addr)->sin6_addr, 8);
		s->iplen = 8;
	}
}

static int conn_same_addr(const struct conn_slot *a, const struct conn_slot *b)
{
	return a->iplen == b->iplen && memcmp(a->ip, b->ip, a->iplen) == 0;
}

/* The first of the busy connections (same address as self, if by_addr)
 * whose client has already hung up: its request (say a read parked until
 * its audit entry commits) has nobody to answer, but libmicrohttpd only
 * notices once the answer is written. Polled CONN_POLL_BATCH at a time,
 * only when a cap is reached. */
#define CONN_POLL_BATCH 64

static struct conn_slot *conn_find_gone(struct conn_table *t, const struct conn_slot *self,
					int by_addr)
{
	struct pollfd p[CONN_POLL_BATCH];
	struct conn_slot *who[CONN_POLL_BATCH];
	unsigned i = 0;

	while (i < t->lim.slots) {
		int n = 0;
		for (; i < t->lim.slots && n < CONN_POLL_BATCH; i++) {
			struct conn_slot *s = &t->slots[i];
			if (s == self || s->phase != CONN_BUSY || s->ended ||
			    (by_addr && !conn_same_addr(s, self)))
				continue;
			p[n].fd = s->fd;
			p[n].events = POLLRDHUP;
			p[n].revents = 0;
			who[n++] = s;
		}
		if (n > 0 && poll(p, (nfds_t)n, 0) > 0)
			for (int j = 0; j < n; j++)
				if (p[j].revents & (POLLRDHUP | POLLHUP | POLLERR))
					return who[j];
	}
	return NULL;
}

/* Ends the longest-waiting live connection other than self that has no
 * request in progress (same address only, if by_addr); failing that, a busy
 * one whose client has gone (right after a client drops a pool of
 * connections with requests in flight, those still count). 0, or -1 if
 * none. */
static int conn_evict(struct conn_table *t, const struct conn_slot *self, int by_addr)
{
	struct conn_slot *victim = NULL;

	for (unsigned i = 0; i < t->lim.slots; i++) {
		struct conn_slot *s = &t->slots[i];
		if (s == self || s->phase == CONN_FREE || s->phase == CONN_BUSY || s->ended)
			continue;
		if (by_addr && !conn_same_addr(s, self))
			continue;
		if (victim == NULL || s->since < victim->since)
			victim = s;
	}
	if (victim == NULL)
		victim = conn_find_gone(t, self, by_addr);
	if (victim == NULL)
		return -1;
	conn_end(t, victim);
	t->st.evicted++;
	return 0;
}

static unsigned conn_addr_count(struct conn_table *t, const struct conn_slot *self)
{
	unsigned n = 0;

	for (unsigned i = 0; i < t->lim.slots; i++) {
		const struct conn_slot *s = &t->slots[i];
		if (s->phase != CONN_FREE && !s->ended && conn_same_addr(s, self))
			n++;
	}
	return n;
}

struct conn_slot *conn_open(struct conn_table *t, int fd, const void *addr, size_t addrlen)
{
	struct conn_slot *s;
	int64_t now = util_mono_ms();
	int ok = 1;

	pthread_mutex_lock(&t->mu);
	s = t->free;
	if (s == NULL) {
		t->st.refused++;
		pthread_mutex_unlock(&t->mu);
		shutdown(fd, SHUT_RDWR);
		return NULL;
	}
	t->free = s->next_free;
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->phase = CONN_HEAD;
	s->since = now;
	s->deadline = now + t->lim.head_ms;
	conn_addr_key(s, addr, addrlen);
	t->live++;
	if (s->iplen > 0 && conn_addr_count(t, s) > t->lim.max_per_ip)
		ok = conn_evict(t, s, 1) == 0;
	if (ok && t->live > t->lim.max_total)
		ok = conn_evict(t, s, 0) == 0;
	if (!ok) {
		/* Every other connection is serving a request: this one waits
		 * for nothing, so it is the one to go. */
		conn_end(t, s);
		t->st.refused++;
	}
	pthread_mutex_unlock(&t->mu);
	return s;
}

void conn_head_done(struct conn_table *t, struct conn_slot *s, size_t body_len, size_t body_cap)
{
	int64_t now = util_mono_ms();
	size_t n = body_len == SIZE_MAX ? body_cap : body_len;
	int64_t allow = (int64_t)t->lim.head_ms + (int64_t)(n / t->lim.body_rate) * 1000 +
			(int64_t)(n % t->lim.body_rate) * 1000 / t->lim.body_rate;

	pthread_mutex_lock(&t->mu);
	if (s->phase != CONN_FREE && !s->ended) {
		s->phase = body_len == 0 ? CONN_BUSY : CONN_BODY;
		s->deadline = body_len == 0 ? 0 : now + allow;
	}
	pthread_mutex_unlock(&t->mu);
}

void conn_busy(struct conn_table *t, struct conn_slot *s)
{
	pthread_mutex_lock(&t->mu);
	if (s->phase != CONN_FREE && !s->ended) {
		s->phase = CONN_BUSY;
		s->deadline = 0;
	}
	pthread_mutex_unlock(&t->mu);
}

void conn_request_done(struct conn_table *t, struct conn_slot *s)
{
	int64_t now = util_mono_ms();

	pthread_mutex_lock(&t->mu);
	if (s->phase != CONN_FREE && !s->ended) {
		s->phase = CONN_HEAD;
		s->since = now;
		s->deadline = now + t->lim.head_ms;
	}
	pthread_mutex_unlock(&t->mu);
}

void conn_close(struct conn_table *t, struct conn_slot *s)
{
	pthread_mutex_lock(&t->mu);
	if (!s->ended)
		t->live--;
	s->phase = CONN_FREE;
	s->ended = 0;
	s->next_free = t->free;
	t->free = s;
	pthread_mutex_unlock(&t->mu);
}

void conn_table_stats(struct conn_table *t, struct conn_stats *out)
{
	pthread_mutex_lock(&t->mu);
	*out = t->st;
	out->open = t->live;
	pthread_mutex_unlock(&t->mu);
}
