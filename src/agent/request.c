/* request.c: parses the agent's outside input (see request.h). Never
 * allocates beyond jansson's parse of a body capped by api.c, and never
 * keeps a token outside the caller's provision_req. */
#include "request.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "/api/group-vaults"
#define TAIL_DEFAULT 100
#define TAIL_MAX 10000

int agent_valid_group_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > REG_ID_MAX || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

static const struct {
	const char *verb, *method;
	enum agent_route route;
} verbs[] = {
    {"", "GET", AR_STATUS},          {"", "DELETE", AR_REMOVE},
    {"status", "GET", AR_STATUS},    {"stop", "POST", AR_STOP},
    {"start", "POST", AR_START},     {"restart", "POST", AR_RESTART},
    {"logs", "GET", AR_LOGS},
};

static enum agent_route group_route(const char *method, const char *rest,
				    char gid[REG_ID_MAX + 1])
{
	const char *slash = strchr(rest, '/'), *verb = slash != NULL ? slash + 1 : "";
	size_t n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	int known = 0;

	if (n == 0 || strchr(verb, '/') != NULL)
		return AR_NOT_FOUND;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verbs[i].verb, verb) != 0)
			continue;
		known = 1;
		if (strcmp(verbs[i].method, method) != 0)
			continue;
		if (n > REG_ID_MAX)
			return AR_BAD_GROUP;
		memcpy(gid, rest, n);
		gid[n] = '\0';
		return agent_valid_group_id(gid) ? verbs[i].route : AR_BAD_GROUP;
	}
	return known ? AR_BAD_METHOD : AR_NOT_FOUND;
}

enum agent_route agent_route_of(const char *method, const char *url, char gid[REG_ID_MAX + 1])
{
	int get = strcmp(method, "GET") == 0;

	gid[0] = '\0';
	if (strcmp(url, "/health") == 0)
		return get || strcmp(method, "HEAD") == 0 ? AR_HEALTH : AR_BAD_METHOD;
	if (strcmp(url, "/metrics") == 0)
		return get ? AR_METRICS : AR_BAD_METHOD;
	if (strcmp(url, PREFIX) == 0 || strcmp(url, PREFIX "/") == 0)
		return get ? AR_LIST : AR_BAD_METHOD;
	if (strcmp(url, PREFIX "/provision") == 0)
		return strcmp(method, "POST") == 0 ? AR_PROVISION : AR_BAD_METHOD;
	if (strncmp(url, PREFIX "/", sizeof(PREFIX)) == 0)
		return group_route(method, url + sizeof(PREFIX), gid);
	return AR_NOT_FOUND;
}

/* A JSON string member or NULL; *bad set when present but not a string. */
static const char *member(json_t *o, const char *k, int *bad)
{
	json_t *v = json_object_get(o, k);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

static int check(json_t *body, const char **error, const char **details)
{
	int bad = 0;
	const char *gid = member(body, "groupId", &bad), *tok = member(body, "authToken", &bad);
	/* The management server sends orgSlug where the original agent read groupSlug. */
	const char *slug = member(body, "groupSlug", &bad);

	if (slug == NULL)
		slug = member(body, "orgSlug", &bad);
	*details = NULL;
	if (gid == NULL || gid[0] == '\0')
		*error = "groupId required";
	else if (tok == NULL || tok[0] == '\0')
		*error = "authToken required";
	else if (bad)
		*error = "groupId, groupSlug, orgSlug and authToken must be strings";
	else if (!agent_valid_group_id(gid) ||
		 strlen(gid) != json_string_length(json_object_get(body, "groupId"))) {
		*error = "Invalid groupId";
		*details = "1 to 64 of A-Z a-z 0-9 _ . -, not starting with '.'";
	} else if (strlen(tok) < AGENT_TOKEN_MIN || strlen(tok) > AGENT_TOKEN_MAX)
		*error = "authToken must be 16 to 256 characters";
	else if (slug != NULL && strlen(slug) > REG_SLUG_MAX)
		*error = "groupSlug is too long";
	else if (memchr(tok, '\0', json_string_length(json_object_get(body, "authToken"))) !=
		 NULL)
		*error = "authToken must not contain NUL";
	else
		return 0;
	return -1;
}

int agent_provision_parse(const char *body, size_t len, struct provision_req *req,
			  const char **error, const char **details)
{
	json_error_t jerr;
	json_t *j = len > 0 ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : json_object();
	int rc = -1;

	memset(req, 0, sizeof(*req));
	*details = NULL;
	if (j == NULL || !json_is_object(j)) {
		*error = "Invalid JSON body";
	} else if (check(j, error, details) == 0) {
		json_t *slug = json_object_get(j, "groupSlug");

		if (!json_is_string(slug))
			slug = json_object_get(j, "orgSlug");
		strcpy(req->group_id, json_string_value(json_object_get(j, "groupId")));
		strcpy(req->auth_token, json_string_value(json_object_get(j, "authToken")));
		if (json_is_string(slug))
			strcpy(req->slug, json_string_value(slug));
		rc = 0;
	}
	json_decref(j);
	return rc;
}

unsigned agent_tail_parse(const char *s)
{
	unsigned long n = 0;

	if (s == NULL)
		return TAIL_DEFAULT;
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		n = n * 10 + (unsigned long)(*s - '0');
		if (n > TAIL_MAX)
			return 0;
	}
	return (unsigned)n;
}
