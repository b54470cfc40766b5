/* http.c: libmicrohttpd glue. The only file that includes microhttpd.h.
 * Every response body is JSON, marked no-store, and wiped after sending;
 * no request data is logged. */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "crypto.h"
#include "log.h"
#include "routes.h"
#include "token.h"
#include "util.h"
#include "vault.h"

#define HTTP_MAX_SEGS 8
#define HTTP_MAX_PATH 2048

struct http {
	struct MHD_Daemon *d;
	const struct config *cfg;
	struct vault *v;
	_Atomic unsigned suspended;	/* connections waiting for an audit commit */
	_Atomic long long last_request; /* util_mono_ms() */
};

enum { DEFER_NONE, DEFER_WAITING, DEFER_OK, DEFER_FAILED };

/* Per-connection request state, created on the first callback. */
struct http_conn {
	char *body; /* wipe-on-free buffer */
	size_t len, cap;
	int too_large;
	/* A secret read or write parked until its commit is durable. */
	struct vault_defer *defer;
	struct MHD_Connection *conn;
	struct http *h;
	_Atomic int defer_state;
};

/* Bodies are wiped on free: they may carry a secret value. The length lives
 * in a header in front of the bytes handed to libmicrohttpd. */
static void http_body_free(void *p) { crypto_wipe_free(p); }

static enum MHD_Result http_send(struct MHD_Connection *c, struct api_resp *resp)
{
	static char oom[] = "{\"error\":\"Internal error\"}";
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *text = NULL;

	size_t len = 0;

	if (resp->text != NULL) {
		text = resp->text;
		len = resp->text_len;
		resp->text = NULL;
	} else {
		if (resp->body == NULL)
			api_fail(resp, API_INTERNAL, NULL);
		if (resp->body != NULL && (text = json_dumps(resp->body, JSON_COMPACT)) != NULL)
			len = strlen(text);
	}
	/* Both kinds of text are wipe-on-free buffers (json_dumps allocates
	 * through crypto_wipe_malloc, see main.c), so the answer is wiped when
	 * libmicrohttpd frees it. */
	if (text != NULL) {
		r = MHD_create_response_from_buffer_with_free_callback(len, text, http_body_free);
	} else {
		resp->status = 500;
		r = MHD_create_response_from_buffer(strlen(oom), oom, MHD_RESPMEM_PERSISTENT);
	}
	if (r == NULL) {
		crypto_wipe_free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json; charset=utf-8");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (resp->retry_after > 0) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%u", resp->retry_after);
		MHD_add_response_header(r, "Retry-After", ra);
	}
	ret = MHD_queue_response(c, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result http_error(struct MHD_Connection *c, enum api_err e, const char *details)
{
	struct api_resp resp = {.status = 0};
	enum MHD_Result r;

	api_fail(&resp, e, details);
	r = http_send(c, &resp);
	json_decref(resp.body);
	return r;
}

/* Keeps the path as sent; segments are decoded one by one below so that an
 * encoded '/' or NUL cannot change the route. */
static size_t http_no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

/* Counts credential headers: a request carrying one twice is ambiguous
 * (which one did a proxy check?) and is refused. */
static enum MHD_Result http_count_creds(void *cls, enum MHD_ValueKind kind, const char *key,
					const char *value)
{
	unsigned *n = cls;

	(void)kind;
	(void)value;
	if (strcasecmp(key, "x-auth-token") == 0 || strcasecmp(key, "x-capability-token") == 0)
		(*n)++;
	return MHD_YES;
}

static void http_client_ip(struct http *h, struct MHD_Connection *c, char *ip, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(ip, len, "unknown");
	if (h->cfg->trust_proxy) {
		const char *xff =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-forwarded-for");
		if (xff != NULL) {
			size_t n = strcspn(xff, ", ");
			if (n > 0 && n < len) {
				memcpy(ip, xff, n);
				ip[n] = '\0';
				return;
			}
		}
	}
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, ip,
			  (socklen_t)len);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, ip,
			  (socklen_t)len);
}

/* Runs on the store's committer thread once the audit entry of a parked
 * read has committed (rc 0) or failed. */
static void http_deferred_done(void *ctx, int rc)
{
	struct http_conn *hc = ctx;

	hc->defer_state = rc == 0 ? DEFER_OK : DEFER_FAILED;
	MHD_resume_connection(hc->conn);
}

/* The second half of a deferred request: a read's value leaves only if its
 * audit entry is durable, a write is acknowledged only once it is durable;
 * otherwise 503 and the prepared answer is wiped. */
static enum MHD_Result http_finish_deferred(struct http_conn *hc, struct MHD_Connection *c)
{
	struct api_resp resp = {.status = 200};
	enum MHD_Result ret;

	if (hc->defer_state == DEFER_OK)
		resp.text = vault_defer_take(hc->defer, &resp.text_len);
	else
		api_fail(&resp, api_vault_err(vault_defer_failure(hc->defer)), NULL);
	vault_defer_free(hc->defer);
	hc->defer = NULL;
	hc->h->suspended--;
	ret = http_send(c, &resp);
	json_decref(resp.body);
	return ret;
}

static enum MHD_Result http_dispatch(struct http *h, struct MHD_Connection *c, const char *url,
				     const char *method, struct http_conn *hc)
{
	char path[HTTP_MAX_PATH], ip[64], *segs[HTTP_MAX_SEGS];
	size_t nsegs = 0, plen = strlen(url), seglen[HTTP_MAX_SEGS];
	const struct route *rt;
	struct api_req req;
	struct api_resp resp = {.status = 200};
	struct cap *cap = NULL;
	json_error_t jerr;
	enum MHD_Result ret;
	int known = 0, pidx = -1;

	if (hc->too_large)
		return http_error(c, API_BODY_TOO_LARGE, NULL);
	if (plen == 0 || plen >= sizeof(path) || url[0] != '/')
		return http_error(c, API_NO_ROUTE, NULL);
	memcpy(path, url, plen + 1);
	switch (routes_split(path, segs, seglen, HTTP_MAX_SEGS, &nsegs)) {
	case 0:
		break;
	case -2:
		return http_error(c, API_BAD_NAME, "malformed percent-encoding");
	default:
		return http_error(c, API_NO_ROUTE, NULL);
	}
	rt = routes_match(method, segs, nsegs, &known, &pidx);
	if (rt == NULL)
		return http_error(c, known ? API_METHOD : API_NO_ROUTE, NULL);

	memset(&req, 0, sizeof(req));
	req.method = method;
	if (pidx >= 0) {
		req.param = segs[pidx];
		req.param_len = seglen[pidx];
		if (strstr(rt->pattern, ":key") != NULL ? !util_valid_name(req.param, req.param_len)
							: req.param_len > 255)
			return http_error(c, API_BAD_NAME,
					  "key: must be 1-255 letters, numbers, '_', '.', '-'");
	}
	if (rt->auth != API_AUTH_NONE) {
		unsigned creds = 0;
		MHD_get_connection_values(c, MHD_HEADER_KIND, http_count_creds, &creds);
		if (creds > 1)
			return http_error(c, API_BAD_HEADER,
					  "credential header sent more than once");
	}
	http_client_ip(h, c, ip, sizeof(ip));
	req.ip = ip;

	if (rt->auth == API_AUTH_MGMT) {
		const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-auth-token");
		if (t == NULL ||
		    !crypto_equal_str(t, strlen(t), h->cfg->auth_token, strlen(h->cfg->auth_token)))
			return http_error(c, API_UNAUTHORIZED, NULL);
	} else if (rt->auth == API_AUTH_CAP) {
		const char *t =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-capability-token");
		enum vault_err e;
		if (t == NULL || t[0] == '\0')
			return http_error(c, API_TOKEN_REQUIRED, NULL);
		e = vault_token_check(h->v, t, strlen(t), &cap);
		if (e != VAULT_OK)
			return http_error(c, api_vault_err(e), NULL);
		req.cap = cap;
	}

	if (rt->body && hc->len > 0) {
		req.body = json_loadb(hc->body, hc->len, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(req.body)) {
			json_decref(req.body);
			token_cap_free(cap);
			return http_error(c, API_BAD_BODY,
					  req.body ? "body must be a JSON object" : jerr.text);
		}
	}
	req.query_limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	req.query_format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
	req.query_after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
	req.query_user = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "userId");
	req.query_include_revoked =
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "includeRevoked");
	req.query_cursor = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "cursor");

	rt->handler(h->v, h->cfg, &req, &resp);
	if (resp.defer != NULL) {
		/* Park the connection (no thread waits) until the committer has
		 * made the audit entry durable; it then resumes us. */
		hc->defer = resp.defer;
		hc->conn = c;
		hc->h = h;
		hc->defer_state = DEFER_WAITING;
		h->suspended++;
		MHD_suspend_connection(c);
		if (vault_defer_submit(hc->defer, http_deferred_done, hc) != 0)
			http_deferred_done(hc, -1);
		json_decref(req.body);
		token_cap_free(cap);
		return MHD_YES;
	}
	ret = http_send(c, &resp);
	json_decref(resp.body);
	json_decref(req.body);
	token_cap_free(cap);
	return ret;
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *c, const char *url,
				   const char *method, const char *version, const char *upload_data,
				   size_t *upload_size, void **con_cls)
{
	struct http *h = cls;
	struct http_conn *hc = *con_cls;

	(void)version;
	if (hc != NULL && hc->defer != NULL) {
		if (hc->defer_state == DEFER_WAITING)
			return MHD_YES;
		return http_finish_deferred(hc, c);
	}
	if (hc == NULL) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "content-length");
		atomic_store_explicit(&h->last_request, util_mono_ms(), memory_order_relaxed);
		hc = calloc(1, sizeof(*hc));
		if (hc == NULL)
			return MHD_NO;
		*con_cls = hc;
		/* Refuse an oversized body before reading it. */
		if (cl != NULL && strtoull(cl, NULL, 10) > h->cfg->max_body)
			return http_error(c, API_BODY_TOO_LARGE, NULL);
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!hc->too_large && hc->len + *upload_size > h->cfg->max_body) {
			hc->too_large = 1;
			crypto_wipe_free(hc->body);
			hc->body = NULL;
			hc->len = hc->cap = 0;
		}
		if (!hc->too_large) {
			if (hc->len + *upload_size > hc->cap) {
				size_t ncap = hc->cap ? hc->cap : 1024;
				char *nb;
				while (ncap < hc->len + *upload_size)
					ncap *= 2;
				if (ncap > h->cfg->max_body)
					ncap = h->cfg->max_body;
				nb = crypto_wipe_malloc(ncap);
				if (nb == NULL)
					return MHD_NO;
				if (hc->len > 0)
					memcpy(nb, hc->body, hc->len);
				crypto_wipe_free(hc->body);
				hc->body = nb;
				hc->cap = ncap;
			}
			memcpy(hc->body + hc->len, upload_data, *upload_size);
			hc->len += *upload_size;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	return http_dispatch(h, c, url, method, hc);
}

static void http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	struct http_conn *hc = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (hc == NULL)
		return;
	if (hc->defer != NULL) { /* the client left while its read was parked */
		vault_defer_free(hc->defer);
		hc->h->suspended--;
	}
	crypto_wipe_free(hc->body);
	free(hc);
	*con_cls = NULL;
}

static void http_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_warn("http: %s", line);
}

struct http *http_start(const struct config *cfg, struct vault *v)
{
	struct http *h = calloc(1, sizeof(*h));
	struct sockaddr_storage ss;
	unsigned threads = cfg->threads;
	unsigned flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (h == NULL)
		return NULL;
	h->cfg = cfg;
	h->v = v;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, cfg->bind_address, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(cfg->port);
	} else if (inet_pton(AF_INET6, cfg->bind_address,
			     &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(cfg->port);
		flags |= MHD_USE_IPv6;
	} else {
		log_err("http: BIND_ADDRESS %s is not an IP address", cfg->bind_address);
		free(h);
		return NULL;
	}
	if (threads == 0)
		threads = cpus > 0 ? (unsigned)cpus : 1;
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
		flags |= MHD_USE_EPOLL;
	h->d = MHD_start_daemon(
	    flags, cfg->port, NULL, NULL, http_access, h, MHD_OPTION_EXTERNAL_LOGGER, http_log,
	    NULL, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
	    cfg->connection_timeout, MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL,
	    MHD_OPTION_UNESCAPE_CALLBACK, http_no_unescape, NULL,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
	if (h->d == NULL) {
		log_err("http: cannot listen on %s:%u", cfg->bind_address, cfg->port);
		free(h);
		return NULL;
	}
	return h;
}

long long http_last_request(struct http *h)
{
	return atomic_load_explicit(&h->last_request, memory_order_relaxed);
}

void http_stop(struct http *h)
{
	if (h == NULL)
		return;
	/* Stop accepting, then let parked requests finish (the committer resumes
	 * them) before the daemon goes away. */
	MHD_quiesce_daemon(h->d);
	for (int i = 0; i < 5000 && h->suspended > 0; i++)
		usleep(1000);
	MHD_stop_daemon(h->d);
	free(h);
}
