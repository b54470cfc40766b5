/* routes.h: the whole API as one table (method, pattern, handler, auth,
 * body limit). The HTTP layer matches and checks; handlers only do work. */
#ifndef GV_ROUTES_H
#define GV_ROUTES_H

#include <stddef.h>
#include <stdio.h>

#include "api.h"

struct vault;
struct config;

typedef void (*route_fn)(struct vault *v, const struct config *cfg, const struct api_req *req,
			 struct api_resp *resp);

#define ROUTE_BODY_MAX ((size_t)-1)
/* POST /import: up to IMPORT_MAX_BODY_BYTES (a whole vault's export). */
#define ROUTE_BODY_IMPORT ((size_t)-2)

struct route {
	const char *method;
	const char *pattern; /* segments; ":name" matches one segment */
	route_fn handler;
	enum api_auth auth;
	/* Largest body accepted, in bytes (0: none); a JSON object, optional.
	 * ROUTE_BODY_MAX: up to MAX_BODY_BYTES; ROUTE_BODY_IMPORT: up to
	 * IMPORT_MAX_BODY_BYTES. Checked on the head. */
	size_t body;
	const char *summary;
};

extern const struct route routes[];

/* Finds the route for method+path segments. Returns the route, or NULL with
 * *path_known set when the path exists under another method (405). The
 * parameter segment, if any, is returned through *param_idx (or -1). */
const struct route *routes_match(const char *method, char **segs, size_t nsegs, int *path_known,
				 int *param_idx);

/* Splits an absolute path (modified in place) into at most max segments,
 * percent-decoding each. Returns 0; -1 for a path no route can match (empty
 * segment, trailing slash, too many segments); -2 for a bad escape or an
 * encoded NUL. */
int routes_split(char *path, char **segs, size_t *lens, size_t max, size_t *nsegs);

/* Prints the route table (groupvaultd --routes). */
void routes_print(FILE *out);

#endif
