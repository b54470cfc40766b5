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
#include "request.h"

#define BODY_MAX 16384

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

static enum MHD_Result provision(struct agent_api *a, struct MHD_Connection *c,
				 const struct req *r)
{
	struct provision_req *p = crypto_wipe_malloc(sizeof(*p));
	const char *error, *details;
	int status = 400;
	json_t *out;

	if (p == NULL)
		return send_error(c, 500, "Out of memory");
	if (agent_provision_parse(r->body, r->len, p, &error, &details) != 0) {
		out = json_pack("{s:s}", "error", error);
		if (details != NULL)
			json_object_set_new(out, "details", json_string(details));
	} else {
		out = fleet_provision(a->f, p->group_id, p->slug, p->auth_token, &status);
	}
	crypto_wipe(p, sizeof(*p));
	crypto_wipe_free(p);
	return send_json(c, status, out);
}

static enum MHD_Result metrics(struct agent_api *a, struct MHD_Connection *c)
{
	char *m = fleet_metrics(a->f);
	enum MHD_Result rc;

	if (m == NULL)
		return send_error(c, 500, "Cannot read the registry");
	rc = send_text(c, 200, m, strlen(m), "text/plain; version=0.0.4; charset=utf-8");
	free(m);
	return rc;
}

static enum MHD_Result route(struct agent_api *a, struct MHD_Connection *c, const char *url,
			     const char *method, const struct req *r)
{
	char gid[REG_ID_MAX + 1];
	enum agent_route which = agent_route_of(method, url, gid);
	int status = 200;
	json_t *out;

	if (which == AR_HEALTH)
		return send_json(c, 200, json_pack("{s:s}", "status", "ok"));
	if (!authorised(a, c))
		return send_error(c, 401, "Unauthorized");
	if (r->too_big)
		return send_error(c, 413, "Request body too large");
	switch (which) {
	case AR_METRICS:
		return metrics(a, c);
	case AR_PROVISION:
		return provision(a, c, r);
	case AR_LIST:
		out = fleet_list(a->f, &status);
		break;
	case AR_STATUS:
		out = fleet_status(a->f, gid, &status);
		break;
	case AR_REMOVE:
		out = fleet_remove(a->f, gid, &status);
		break;
	case AR_STOP:
		out = fleet_stop(a->f, gid, &status);
		break;
	case AR_START:
		out = fleet_start(a->f, gid, &status);
		break;
	case AR_RESTART:
		out = fleet_restart(a->f, gid, &status);
		break;
	case AR_LOGS: {
		unsigned tail = agent_tail_parse(
		    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tail"));

		if (tail == 0)
			return send_error(c, 400, "tail must be an integer from 1 to 10000");
		out = fleet_logs(a->f, gid, tail, &status);
		break;
	}
	case AR_BAD_METHOD:
		return send_error(c, 405, "Method not allowed");
	case AR_BAD_GROUP:
		return send_error(c, 400, "Invalid groupId");
	case AR_HEALTH:
	case AR_NOT_FOUND:
	default:
		return send_error(c, 404, "Not found");
	}
	return send_json(c, status, out);
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
