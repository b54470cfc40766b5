/* listen.h: the daemon's listening socket, made before the sandbox (which
 * refuses socket, bind and listen) and handed to libmicrohttpd. */
#ifndef GV_LISTEN_H
#define GV_LISTEN_H

struct config;

/* Binds BIND_ADDRESS:PORT and listens; sets *ipv6. The fd, or -1 (logged). */
int listen_open(const struct config *cfg, int *ipv6);

#endif
