/* http.h: the libmicrohttpd server. It owns every check that precedes a
 * handler (route match, path parameters, auth, body size, JSON parse) and
 * turns each response into JSON on the wire. */
#ifndef GV_HTTP_H
#define GV_HTTP_H

struct config;
struct vault;
struct http;

/* Binds and listens, answering nothing yet: what the sandbox would refuse
 * happens here. NULL with a log line on failure (also when jalloc_init()
 * has not run). */
struct http *http_listen(const struct config *cfg, struct vault *v);
/* Starts answering on that socket (threads, event loop; no new socket):
 * 0, or -1 with a log line (then http_stop it). */
int http_serve(struct http *h);
/* http_listen then http_serve. */
struct http *http_start(const struct config *cfg, struct vault *v);
void http_stop(struct http *h);
/* Monotonic ms (util_mono_ms) when the last request arrived. */
long long http_last_request(struct http *h);
/* Connections libmicrohttpd may hold at once under cfg (the hard cap
 * behind MAX_CONNECTIONS): the descriptor budget main() provides for. */
unsigned http_fd_budget(const struct config *cfg);

#endif
