/* api.c: the agent's HTTP layer: bounded bodies, x-auth-token checked in
 * constant time, routing to fleet.c, and a JSON error for every refusal.
 * It answers what fleet.c returns and never echoes a token. */
#include "api.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "jalloc.h"
#include "log.h"

#define BODY_MAX 16384
#define PREFIX "/api/group-vaults"
#define TAIL_DEFAULT 100
#define TAIL_MAX 10000

struct agent_api {
	struct MHD_Daemon *d;
	struct fleet *f;
	char token[AGENT_TOKEN_MAX + 1];
	size_t token_len;
};

struct req {
	char *body;
	size_t len;
	int too_big;
};

static enum MHD_Result send_text(struct MHD_Connection *c, int status, char *text, size_t len,
				 const char *type)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	rc = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *c, int status, json_t *j)
{
	size_t len = 0;
	char *s = jalloc_dump(j, &len);
	enum MHD_Result rc;

	json_decref(j);
	if (s == NULL)
		return MHD_NO;
	rc = send_text(c, status, s, len, "application/json; charset=utf-8");
	crypto_wipe_free(s);
	return rc;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *msg)
{
	return send_json(c, status, json_pack("{s:s}", "error", msg));
}

static int authorised(struct agent_api *a, struct MHD_Connection *c)
{
	const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-auth-token");

	return t != NULL && crypto_equal_str(t, strlen(t), a->token, a->token_len);
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

static enum MHD_Result provision(struct agent_api *a, struct MHD_Connection *c,
				 const struct req *r)
{
	json_error_t jerr;
	json_t *body = r->len > 0 ? json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &jerr)
				  : json_object();
	const char *gid, *slug, *tok;
	int bad = 0, status = 200;
	json_t *out;

	if (body == NULL || !json_is_object(body)) {
		json_decref(body);
		return send_error(c, 400, "Invalid JSON body");
	}
	gid = member(body, "groupId", &bad);
	tok = member(body, "authToken", &bad);
	/* The management server sends orgSlug where the original agent read groupSlug. */
	slug = member(body, "groupSlug", &bad);
	if (slug == NULL)
		slug = member(body, "orgSlug", &bad);
	if (gid == NULL || gid[0] == '\0')
		out = (status = 400, json_pack("{s:s}", "error", "groupId required"));
	else if (tok == NULL || tok[0] == '\0')
		out = (status = 400, json_pack("{s:s}", "error", "authToken required"));
	else if (bad)
		out = (status = 400, json_pack("{s:s}", "error", "groupId, groupSlug, orgSlug and "
								"authToken must be strings"));
	else if (!fleet_valid_group_id(gid))
		out = (status = 400, json_pack("{s:s, s:s}", "error", "Invalid groupId", "details",
					       "1 to 64 of A-Z a-z 0-9 _ . -, not starting with '.'"));
	else if (strlen(tok) < 16 || strlen(tok) > AGENT_TOKEN_MAX)
		out = (status = 400, json_pack("{s:s}", "error",
					       "authToken must be 16 to 256 characters"));
	else if (slug != NULL && strlen(slug) > REG_SLUG_MAX)
		out = (status = 400, json_pack("{s:s}", "error", "groupSlug is too long"));
	else
		out = fleet_provision(a->f, gid, slug != NULL ? slug : "", tok, &status);
	json_decref(body);
	return send_json(c, status, out);
}

static unsigned tail_of(struct MHD_Connection *c, int *bad)
{
	const char *t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tail");
	char *end;
	unsigned long n;

	if (t == NULL)
		return TAIL_DEFAULT;
	n = strtoul(t, &end, 10);
	if (*t < '0' || *t > '9' || *end != '\0' || n == 0 || n > TAIL_MAX)
		*bad = 1;
	return (unsigned)n;
}

/* /api/group-vaults/<id>[/<verb>] */
static enum MHD_Result group_route(struct agent_api *a, struct MHD_Connection *c,
				   const char *method, const char *rest)
{
	char gid[REG_ID_MAX + 2];
	const char *slash = strchr(rest, '/'), *verb = slash != NULL ? slash + 1 : "";
	size_t n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	int status = 200, bad = 0, get = strcmp(method, "GET") == 0,
	    post = strcmp(method, "POST") == 0;
	json_t *out = NULL;

	if (n == 0 || n > REG_ID_MAX || strchr(verb, '/') != NULL)
		return send_error(c, 404, "Not found");
	memcpy(gid, rest, n);
	gid[n] = '\0';
	if (!fleet_valid_group_id(gid))
		return send_error(c, 400, "Invalid groupId");
	if (verb[0] == '\0' && get)
		out = fleet_status(a->f, gid, &status);
	else if (verb[0] == '\0' && strcmp(method, "DELETE") == 0)
		out = fleet_remove(a->f, gid, &status);
	else if (strcmp(verb, "status") == 0 && get)
		out = fleet_status(a->f, gid, &status);
	else if (strcmp(verb, "restart") == 0 && post)
		out = fleet_restart(a->f, gid, &status);
	else if (strcmp(verb, "stop") == 0 && post)
		out = fleet_stop(a->f, gid, &status);
	else if (strcmp(verb, "start") == 0 && post)
		out = fleet_start(a->f, gid, &status);
	else if (strcmp(verb, "logs") == 0 && get) {
		unsigned tail = tail_of(c, &bad);

		if (bad)
			return send_error(c, 400, "tail must be an integer from 1 to 10000");
		out = fleet_logs(a->f, gid, tail, &status);
	} else if (verb[0] == '\0' || strcmp(verb, "status") == 0 || strcmp(verb, "restart") == 0 ||
		   strcmp(verb, "stop") == 0 || strcmp(verb, "start") == 0 ||
		   strcmp(verb, "logs") == 0)
		return send_error(c, 405, "Method not allowed");
	else
		return send_error(c, 404, "Not found");
	return send_json(c, status, out);
}

static enum MHD_Result route(struct agent_api *a, struct MHD_Connection *c, const char *url,
			     const char *method, const struct req *r)
{
	int status = 200;

	if (strcmp(url, "/health") == 0) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return send_error(c, 405, "Method not allowed");
		return send_json(c, 200, json_pack("{s:s}", "status", "ok"));
	}
	if (!authorised(a, c))
		return send_error(c, 401, "Unauthorized");
	if (r->too_big)
		return send_error(c, 413, "Request body too large");
	if (strcmp(url, "/metrics") == 0) {
		char *m = strcmp(method, "GET") == 0 ? fleet_metrics(a->f) : NULL;
		enum MHD_Result rc;

		if (strcmp(method, "GET") != 0)
			return send_error(c, 405, "Method not allowed");
		if (m == NULL)
			return send_error(c, 500, "Cannot read the registry");
		rc = send_text(c, 200, m, strlen(m), "text/plain; version=0.0.4; charset=utf-8");
		free(m);
		return rc;
	}
	if (strcmp(url, PREFIX) == 0 || strcmp(url, PREFIX "/") == 0) {
		if (strcmp(method, "GET") != 0)
			return send_error(c, 405, "Method not allowed");
		json_t *out = fleet_list(a->f, &status);

		return send_json(c, status, out);
	}
	if (strcmp(url, PREFIX "/provision") == 0) {
		if (strcmp(method, "POST") != 0)
			return send_error(c, 405, "Method not allowed");
		return provision(a, c, r);
	}
	if (strncmp(url, PREFIX "/", sizeof(PREFIX)) == 0)
		return group_route(a, c, method, url + sizeof(PREFIX));
	return send_error(c, 404, "Not found");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *size, void **state)
{
	struct agent_api *a = cls;
	struct req *r = *state;

	(void)version;
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		*state = r;
		return MHD_YES;
	}
	if (*size > 0) {
		if (!r->too_big && r->len + *size <= BODY_MAX) {
			if (r->body == NULL && (r->body = crypto_wipe_malloc(BODY_MAX)) == NULL)
				return MHD_NO;
			memcpy(r->body + r->len, data, *size);
			r->len += *size;
		} else {
			r->too_big = 1;
		}
		*size = 0;
		return MHD_YES;
	}
	return route(a, c, url, method, r);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
		      enum MHD_RequestTerminationCode why)
{
	struct req *r = *state;

	(void)cls;
	(void)c;
	(void)why;
	if (r == NULL)
		return;
	if (r->body != NULL) {
		crypto_wipe(r->body, BODY_MAX);
		crypto_wipe_free(r->body);
	}
	free(r);
	*state = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_warn("http: %s", line);
}

struct agent_api *agent_api_start(const struct agent_config *cfg, struct fleet *f, char *err,
				  size_t errlen)
{
	struct agent_api *a = calloc(1, sizeof(*a));
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};

	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (inet_pton(AF_INET, cfg->bind_address, &sin.sin_addr) != 1) {
		snprintf(err, errlen, "AGENT_BIND_ADDRESS %s is not an IPv4 address",
			 cfg->bind_address);
		free(a);
		return NULL;
	}
	a->f = f;
	a->token_len = strlen(cfg->auth_token);
	memcpy(a->token, cfg->auth_token, a->token_len + 1);
	a->d = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
	    (uint16_t)cfg->port, NULL, NULL, handle, a, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
	    NULL, MHD_OPTION_SOCK_ADDR, &sin,
	    MHD_OPTION_CONNECTION_LIMIT, 256u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 64u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)32768, MHD_OPTION_NOTIFY_COMPLETED, completed, a, MHD_OPTION_END);
	if (a->d == NULL) {
		snprintf(err, errlen, "cannot listen on %s:%u", cfg->bind_address, cfg->port);
		crypto_wipe(a->token, sizeof(a->token));
		free(a);
		return NULL;
	}
	return a;
}

void agent_api_stop(struct agent_api *a)
{
	if (a == NULL)
		return;
	MHD_stop_daemon(a->d);
	crypto_wipe(a->token, sizeof(a->token));
	free(a);
}
