/* conn.h: the connection table. Every open connection has a phase and an
 * absolute deadline; a reaper thread ends those past it, and at the caps the
 * longest-waiting connection without a request in progress makes room for a
 * new one (failing that, one whose client has hung up). It knows sockets and clocks, nothing of HTTP, and never closes a
 * file descriptor (only shutdown(2), under the lock its owner's close takes). */
#ifndef GV_CONN_H
#define GV_CONN_H

#include <stddef.h>
#include <stdint.h>

struct conn_limits {
	unsigned max_total;  /* soft cap: beyond it the oldest waiting one goes */
	unsigned max_per_ip; /* the same, per client address (IPv6: per /64) */
	unsigned head_ms;    /* to deliver a complete request head */
	unsigned body_rate;  /* bytes per second a body must at least arrive at */
	unsigned slots;	     /* hard cap: size of the table */
};

struct conn_stats {
	unsigned long long evicted; /* made room for a newer connection */
	unsigned long long reaped;  /* missed a deadline */
	unsigned long long refused; /* no room and nothing to evict */
	unsigned open;
};

struct conn_table;
struct conn_slot;

/* Starts the reaper. NULL with a log line on failure. */
struct conn_table *conn_table_new(const struct conn_limits *lim);
/* Stops the reaper and frees the table; every slot must be closed first
 * (the owner's close path); conn_table_free(NULL) is a no-op. */
void conn_table_free(struct conn_table *t);

/* A new connection on fd from addr (a sockaddr, may be NULL). Its head
 * must be complete within head_ms. Makes room at the caps. Returns its
 * slot, or NULL when the table is full of busy connections: the caller's
 * connection has then been shut down. */
struct conn_slot *conn_open(struct conn_table *t, int fd, const void *addr, size_t addrlen);
/* The head has arrived. body_len: declared body size, 0 for none, or
 * SIZE_MAX for one of unknown size up to body_cap bytes. */
void conn_head_done(struct conn_table *t, struct conn_slot *s, size_t body_len, size_t body_cap);
/* The request is being served (body read, handler running, parked): no
 * deadline, and evicted only once its client has hung up (end of its
 * stream: a client that shut down only its sending side counts as gone,
 * as nginx takes it for an aborted request) and a cap leaves no other. */
void conn_busy(struct conn_table *t, struct conn_slot *s);
/* The response went out: the next head is due within head_ms. */
void conn_request_done(struct conn_table *t, struct conn_slot *s);
/* The owner is about to close the descriptor; s is freed. Must be called
 * before close(2) so a reused descriptor number is never shut down. */
void conn_close(struct conn_table *t, struct conn_slot *s);

void conn_table_stats(struct conn_table *t, struct conn_stats *out);

#endif
