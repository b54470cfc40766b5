/* fuzz_path.c: the request path splitter/decoder and the route matcher.
 * Invariants: segments are NUL-free with the reported lengths, never more
 * than the cap; a match always has the asked method and a valid param. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *methods[] = {"GET", "POST", "DELETE", "PUT"};
	char *path, *segs[8];
	size_t lens[8], n = 0;
	const struct route *r;
	int known, param, rc;

	if (size == 0 || size > 4096)
		return 0;
	path = malloc(size + 1);
	memcpy(path, data + 1, size - 1);
	path[size - 1] = '\0';
	if (strlen(path) != size - 1) { /* the HTTP layer never sees embedded NULs */
		free(path);
		return 0;
	}
	rc = routes_split(path, segs, lens, 8, &n);
	assert(rc == 0 || rc == -1 || rc == -2);
	if (rc == 0) {
		assert(n <= 8);
		for (size_t i = 0; i < n; i++) {
			assert(strlen(segs[i]) == lens[i]);
			assert(lens[i] > 0 || segs[i][0] == '\0');
		}
		r = routes_match(methods[data[0] % 4], segs, n, &known, &param);
		if (r != NULL) {
			assert(strcmp(r->method, methods[data[0] % 4]) == 0);
			assert(known);
			assert(param == -1 || (param >= 0 && (size_t)param < n));
			assert((param >= 0) == (strchr(r->pattern, ':') != NULL));
		}
	}
	free(path);
	return 0;
}
