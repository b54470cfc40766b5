/* clientaddr.h: which X-Forwarded-For hop is the client when the daemon
 * sits behind trusted proxies. Pure text work; no sockets, no HTTP types. */
#ifndef GV_CLIENTADDR_H
#define GV_CLIENTADDR_H

#include <stddef.h>

/* The most X-Forwarded-For header lines considered (the last ones). */
#define CLIENTADDR_MAX_LINES 16

/* vals: the X-Forwarded-For header values in the order received. With hops
 * trusted proxies in front, the client is the hops-th entry from the right
 * (the one the outermost trusted proxy appended); everything left of it
 * was written by the client and is ignored. Writes that entry in canonical
 * form to out and returns 0; -1 when there are fewer entries than hops or
 * that entry is not an IPv4/IPv6 address (the caller then uses the socket
 * address). */
int clientaddr_from_xff(const char *const *vals, size_t nvals, unsigned hops, char *out,
			size_t outlen);

#endif
