/* docker_http.h: one HTTP call to the Docker Engine API over its unix
 * socket (libcurl). It knows no endpoint and parses no JSON; answers are
 * kept in wipe-on-free buffers (an inspect answer holds AUTH_TOKEN). */
#ifndef GV_AGENT_DOCKER_HTTP_H
#define GV_AGENT_DOCKER_HTTP_H

#include <stddef.h>

/* Every API path starts with this version (Docker 20.10+, podman 4). */
#define DOCKER_API "/v1.41"
/* Largest answer kept (logs are asked for by tail, inspect is a few KiB). */
#define DOCKER_ANSWER_MAX (4u << 20)

struct docker_answer {
	long status; /* HTTP status */
	char *body;  /* NUL-terminated, wipe-on-free; NULL when empty */
	size_t len;
	size_t cap; /* allocated, for the growth */
};

/* Once, before any thread calls docker_http_call. 0 or -1 (logged). */
int docker_http_init(void);
/* Pairs with each docker_http_init, after the last call. */
void docker_http_done(void);

/* method path (with DOCKER_API prefix and query) on the engine at socket,
 * with an optional JSON body, within timeout_ms. 0 when an answer came
 * (any status; a->body then is the caller's to docker_answer_free), -1 on
 * a transport failure with one line in err. */
int docker_http_call(const char *socket, const char *method, const char *path, const char *body,
		     size_t bodylen, long timeout_ms, struct docker_answer *a, char *err,
		     size_t errlen);

/* Wipes and frees a->body; a may be reused. */
void docker_answer_free(struct docker_answer *a);

#endif
