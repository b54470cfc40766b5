/* fuzz_agent.c: the agent's outside input through request.c, exactly as
 * api.c parses it. Input: [which][rest]; which%3: 0 route (method '\n' url),
 * 1 provision body, 2 ?tail=. Invariants: a per-group route carries a valid
 * group id that appears in the url; an accepted provision holds a valid
 * group id, a 16-256 byte NUL-free token and a short slug; a refused one
 * names its error; tail is 0 or 1..10000 and agrees with the digits. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/request.h"
#include "jalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void route(const char *s)
{
	char method[16] = "GET", gid[REG_ID_MAX + 1];
	const char *nl = strchr(s, '\n'), *url = s;
	enum agent_route r;

	if (nl != NULL && (size_t)(nl - s) < sizeof(method)) {
		memcpy(method, s, (size_t)(nl - s));
		method[nl - s] = '\0';
		url = nl + 1;
	}
	r = agent_route_of(method, url, gid);
	switch (r) {
	case AR_STATUS:
	case AR_REMOVE:
	case AR_STOP:
	case AR_START:
	case AR_RESTART:
	case AR_LOGS:
		assert(agent_valid_group_id(gid));
		assert(strncmp(url, "/api/group-vaults/", 18) == 0);
		assert(strncmp(url + 18, gid, strlen(gid)) == 0);
		break;
	case AR_HEALTH:
		assert(strcmp(url, "/health") == 0);
		break;
	case AR_PROVISION:
		assert(strcmp(method, "POST") == 0);
		break;
	default:
		break;
	}
}

static void provision(const char *s, size_t n)
{
	struct provision_req req;
	const char *error = NULL, *details = NULL;

	if (agent_provision_parse(s, n, &req, &error, &details) == 0) {
		size_t t = strlen(req.auth_token);

		assert(agent_valid_group_id(req.group_id));
		assert(t >= AGENT_TOKEN_MIN && t <= AGENT_TOKEN_MAX);
		assert(strlen(req.slug) <= REG_SLUG_MAX);
	} else {
		assert(error != NULL && error[0] != '\0');
	}
}

static void tail(const char *s)
{
	unsigned t = agent_tail_parse(s);
	size_t n = strlen(s);

	assert(t <= 10000);
	if (n > 0 && n <= 5 && strspn(s, "0123456789") == n) {
		unsigned long v = strtoul(s, NULL, 10);

		assert(t == (v >= 1 && v <= 10000 ? v : 0));
	} else if (n == 0 || strspn(s, "0123456789") != n) {
		assert(t == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size == 0 || size > 65536)
		return 0;
	jalloc_init();
	s = malloc(size);
	if (s == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		route(s);
		break;
	case 1:
		provision(s, size - 1);
		break;
	default:
		tail(s);
		break;
	}
	free(s);
	return 0;
}
