/* http.c: libmicrohttpd glue. The only file that includes microhttpd.h.
 * Decides every request on its head (framing, route, auth, size) before
 * reading a body byte; every response body is JSON, marked no-store, and
 * wiped after sending (but a streamed export's, which holds only sealed
 * records); no request data is logged. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "clientaddr.h"
#include "config.h"
#include "conn.h"
#include "crypto.h"
#include "jalloc.h"
#include "limit.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "redact.h"
#include "reqid.h"
#include "routes.h"
#include "tls.h"
#include "token.h"
#include "util.h"
#include "vault.h"

struct http {
	struct MHD_Daemon *d;
	const struct config *cfg;
	struct vault *v;
	struct conn_table *conns;
	/* Parked requests, from suspend until libmicrohttpd reports the
	 * request complete (its answer sent, or the client gone): http_stop
	 * waits for these, so an answer queued on resume is not cut off. */
	_Atomic unsigned suspended;
	_Atomic long long last_request; /* util_mono_ms() */
	_Atomic int stopping;		/* http_stop began: no new requests */
	int fd;				/* listening socket until http_serve hands it over */
	int ipv6;
};

enum { DEFER_NONE, DEFER_WAITING, DEFER_OK, DEFER_FAILED };

/* Per-socket state (libmicrohttpd's socket context), from accept to close. */
struct http_sock {
	struct conn_slot *slot; /* NULL if the table was full */
	size_t uri_len;		/* the request target as sent, query included */
	/* The current request: its id (X-Request-Id), start and status sent. */
	uint64_t start_ns;
	int status;
	char rid[REQID_MAX + 1];
};

/* Per-request state, created when the head is complete. Everything that
 * held a name (path, decoded segments, body) is wiped when it goes. */
struct http_conn {
	const struct route *rt;
	char *path; /* wipe-on-free copy of the target, split into segments */
	size_t path_cap;
	const char *param; /* into path */
	size_t param_len;
	struct cap *cap;
	char ip[LIMIT_ADDR_TEXT];
	char *body; /* wipe-on-free buffer */
	size_t len, cap_bytes, limit;
	int too_large;
	/* A secret read or write parked until its commit is durable. */
	struct vault_defer *defer;
	struct MHD_Connection *conn;
	struct http *h;
	_Atomic int defer_state;
	int parked; /* counted in h->suspended until the completion callback */
};

/* Bodies are wiped on free: they may carry a secret value. */
static void http_body_free(void *p) { crypto_wipe_free(p); }

static struct http_sock *http_sock_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

static ssize_t http_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct api_stream *s = cls;
	long n = s->read(s->ctx, buf, max);

	(void)pos;
	return n > 0 ? (ssize_t)n : n == 0 ? MHD_CONTENT_READER_END_OF_STREAM
				       : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void http_stream_free(void *cls)
{
	struct api_stream *s = cls;

	s->free(s->ctx);
	free(s);
}

/* resp's stream as a chunked response (taking it), or NULL with resp made
 * a 500. */
static struct MHD_Response *http_stream_response(struct api_resp *resp)
{
	struct api_stream *s = resp->stream;
	struct MHD_Response *r;

	resp->stream = NULL;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, LIMIT_STREAM_BLOCK,
					      http_stream_read, s, http_stream_free);
	if (r == NULL) {
		http_stream_free(s);
		api_fail(resp, API_INTERNAL, NULL);
	}
	return r;
}

/* Queues resp. close_after: the request body was not (fully) read, or the
 * framing was bad, so the connection must not carry another request. */
static enum MHD_Result http_send(struct MHD_Connection *c, struct api_resp *resp, int close_after)
{
	static char oom[] = "{\"error\":\"Internal error\"}";
	struct http_sock *hs = http_sock_of(c);
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *text = NULL;
	size_t len = 0;

	if (resp->stream != NULL && (r = http_stream_response(resp)) != NULL)
		goto headers;
	if (resp->text != NULL) {
		text = resp->text;
		len = resp->text_len;
		resp->text = NULL;
	} else {
		if (resp->body == NULL)
			api_fail(resp, API_INTERNAL, NULL);
		/* An explicitly wipe-on-free buffer, whatever jansson's hook. */
		if (resp->body != NULL)
			text = jalloc_dump(resp->body, &len);
	}
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
headers:
	MHD_add_response_header(r, "Content-Type",
				resp->content_type ? resp->content_type
						   : "application/json; charset=utf-8");
	if (hs != NULL && hs->rid[0] != '\0')
		MHD_add_response_header(r, "X-Request-Id", hs->rid);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (close_after)
		MHD_add_response_header(r, "Connection", "close");
	if (resp->retry_after > 0) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%u", resp->retry_after);
		MHD_add_response_header(r, "Retry-After", ra);
	}
	ret = MHD_queue_response(c, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	if (hs != NULL && ret == MHD_YES)
		hs->status = resp->status;
	return ret;
}

/* An error with Retry-After (seconds; 0: none). */
static enum MHD_Result http_error_retry(struct MHD_Connection *c, enum api_err e,
					const char *details, unsigned retry, int close_after)
{
	struct api_resp resp = {.status = 0};
	enum MHD_Result r;

	api_fail(&resp, e, details);
	resp.retry_after = retry;
	r = http_send(c, &resp, close_after);
	json_decref(resp.body);
	return r;
}

static enum MHD_Result http_error(struct MHD_Connection *c, enum api_err e, const char *details,
				  int close_after)
{
	return http_error_retry(c, e, details, 0, close_after);
}

/* Keeps the path as sent; segments are decoded one by one below so that an
 * encoded '/' or NUL cannot change the route. */
static size_t http_no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

/* Runs once the request line is in: notes the target's length as sent, so
 * that bytes hidden behind a NUL show up in the head's size. */
static void *http_uri_seen(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_sock *hs = http_sock_of(c);

	(void)cls;
	if (hs != NULL)
		hs->uri_len = strlen(uri);
	return NULL;
}

/* Collects the X-Forwarded-For lines in the order received (the last
 * CLIENTADDR_MAX_LINES of them). */
struct http_xff {
	const char *v[CLIENTADDR_MAX_LINES];
	size_t n;
};

static enum MHD_Result http_collect_xff(void *cls, enum MHD_ValueKind kind, const char *key,
					const char *value)
{
	struct http_xff *x = cls;

	(void)kind;
	if (value == NULL || strcasecmp(key, "x-forwarded-for") != 0)
		return MHD_YES;
	if (x->n == CLIENTADDR_MAX_LINES) {
		memmove(x->v, x->v + 1, (x->n - 1) * sizeof(x->v[0]));
		x->n--;
	}
	x->v[x->n++] = value;
	return MHD_YES;
}

/* The socket's peer, or with TRUST_PROXY=N the Nth X-Forwarded-For hop
 * from the right: the address the outermost trusted proxy saw. The hops
 * left of it are the client's own words and are never used; a hop that is
 * missing or not an IP address falls back to the socket's peer. */
static void http_client_ip(struct http *h, struct MHD_Connection *c, char *ip, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(ip, len, "unknown");
	if (h->cfg->trust_proxy > 0) {
		struct http_xff x = {.n = 0};
		MHD_get_connection_values(c, MHD_HEADER_KIND, http_collect_xff, &x);
		if (clientaddr_from_xff(x.v, x.n, h->cfg->trust_proxy, ip, len) == 0)
			return;
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
	ret = http_send(c, &resp, 0);
	json_decref(resp.body);
	return ret;
}

/* Parks the connection (no thread waits) until the committer has made the
 * audit entry durable; it then resumes us. Counted before http_stop's flag
 * is read (both sequentially consistent): either http_stop sees the count
 * and waits, or we see the flag and, as suspending then could outlive the
 * daemon, wait here and answer on this thread. */
static enum MHD_Result http_park(struct http *h, struct http_conn *hc, struct MHD_Connection *c,
				 struct vault_defer *d)
{
	hc->defer = d;
	hc->conn = c;
	hc->h = h;
	hc->parked = 1;
	h->suspended++;
	if (h->stopping) {
		hc->defer_state = vault_defer_wait(d) == VAULT_OK ? DEFER_OK : DEFER_FAILED;
		return http_finish_deferred(hc, c);
	}
	hc->defer_state = DEFER_WAITING;
	MHD_suspend_connection(c);
	if (vault_defer_submit(d, http_deferred_done, hc) != 0)
		http_deferred_done(hc, -1);
	return MHD_YES;
}

/* The head's framing, from libmicrohttpd's parsed view of it. */
struct http_frame {
	size_t canon;	     /* head size if sent as METHOD SP target SP version CRLF,
				"name: value" CRLF each, CRLF */
	unsigned empty;	     /* headers with an empty value ("name:" is fine too) */
	unsigned n_cl, n_te; /* Content-Length / Transfer-Encoding headers */
	unsigned n_creds;    /* x-auth-token / x-capability-token headers */
	const char *cl, *te;
};

static enum MHD_Result http_frame_header(void *cls, enum MHD_ValueKind kind, const char *key,
					 size_t key_size, const char *value, size_t value_size)
{
	struct http_frame *f = cls;

	(void)kind;
	f->canon += key_size + 2 + value_size + 2;
	if (value_size == 0)
		f->empty++;
	if (strcasecmp(key, "content-length") == 0) {
		f->n_cl++;
		f->cl = value;
	} else if (strcasecmp(key, "transfer-encoding") == 0) {
		f->n_te++;
		f->te = value;
	} else if (strcasecmp(key, "x-auth-token") == 0 ||
		   strcasecmp(key, "x-capability-token") == 0) {
		f->n_creds++;
	}
	return MHD_YES;
}

/* Checks the framing of the head. Returns NULL, or why it is refused. On
 * success *body is the declared body length, or SIZE_MAX for chunked.
 *
 * libmicrohttpd 0.9.75 hands out header values and the target as C strings
 * cut at the first NUL (the _n lengths are cut too) and accepts bare LF line
 * ends, with no option to refuse either. What it does report exactly is the
 * head's size in bytes: a head whose size differs from the one its parsed
 * parts add up to (CRLF line ends, one space after each colon) hid bytes
 * behind a NUL, used bare LF, or padded whitespace, and is refused. */
static const char *http_frame_check(struct http *h, struct MHD_Connection *c, const char *method,
				    const char *version, size_t *body)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	struct http_sock *hs = http_sock_of(c);
	struct http_frame f = {0};
	char *end;

	MHD_get_connection_values_n(c, MHD_HEADER_KIND, http_frame_header, &f);
	if (h->cfg->strict_http) {
		size_t line = strlen(method) + 1 + (hs ? hs->uri_len : 0) + 1 + strlen(version) + 2;
		size_t size = ci != NULL ? ci->header_size : 0;
		f.canon += line + 2;
		if (hs == NULL || ci == NULL || size > f.canon || size + f.empty < f.canon)
			return "malformed request head (CRLF line ends, one space after each "
			       "colon, no NUL bytes)";
	}
	if (f.n_creds > 1)
		return "credential header sent more than once";
	if (f.n_cl > 1 || f.n_te > 1)
		return "Content-Length or Transfer-Encoding sent more than once";
	if (f.n_te == 1) {
		if (f.n_cl > 0)
			return "both Content-Length and Transfer-Encoding";
		if (strcasecmp(f.te, "chunked") != 0)
			return "unsupported Transfer-Encoding";
		*body = SIZE_MAX;
		return NULL;
	}
	*body = 0;
	if (f.n_cl == 1) {
		unsigned long long n;
		errno = 0;
		n = strtoull(f.cl, &end, 10);
		if (f.cl[0] < '0' || f.cl[0] > '9' || *end != '\0' || errno != 0 ||
		    n > SIZE_MAX - 1)
			return "invalid Content-Length";
		*body = (size_t)n;
	}
	return NULL;
}

/* Splits and matches the target into hc (path, route, parameter).
 * API_OK or the error to send. */
static enum api_err http_route(struct http_conn *hc, const char *url, const char *method,
			       const char **why)
{
	char *segs[LIMIT_PATH_SEGS];
	size_t nsegs = 0, plen = strlen(url), seglen[LIMIT_PATH_SEGS];
	int known = 0, pidx = -1;

	if (plen == 0 || plen >= LIMIT_PATH_MAX || url[0] != '/')
		return API_NO_ROUTE;
	hc->path = crypto_wipe_malloc(plen + 1);
	if (hc->path == NULL)
		return API_INTERNAL;
	hc->path_cap = plen + 1;
	memcpy(hc->path, url, plen + 1);
	switch (routes_split(hc->path, segs, seglen, LIMIT_PATH_SEGS, &nsegs)) {
	case 0:
		break;
	case -2:
		*why = "malformed percent-encoding";
		return API_BAD_NAME;
	default:
		return API_NO_ROUTE;
	}
	hc->rt = routes_match(method, segs, nsegs, &known, &pidx);
	if (hc->rt == NULL)
		return known ? API_METHOD : API_NO_ROUTE;
	if (pidx >= 0) {
		hc->param = segs[pidx];
		hc->param_len = seglen[pidx];
		if (strstr(hc->rt->pattern, ":key") != NULL
			? !util_valid_name(hc->param, hc->param_len)
			: hc->param_len > LIMIT_NAME_MAX) {
			*why = "key: must be 1-" LIMIT_STR(
			    LIMIT_NAME_MAX) " letters, numbers, '_', '.', '-'";
			return API_BAD_NAME;
		}
	}
	return API_OK;
}

/* Authenticates on the head. The management token: an address past its
 * failure budget is refused (API_AUTH_LIMIT, *retry set) before its token
 * is even compared (a good token from it waits too, else the 429/200
 * difference would still answer guesses); each failure is counted and
 * audited, coalesced per address and window. */
static enum api_err http_auth(struct http *h, struct MHD_Connection *c, struct http_conn *hc,
			      unsigned *retry)
{
	enum api_auth auth = hc->rt->auth;
	const char *t;

	if (auth == API_AUTH_METRICS)
		auth = h->cfg->metrics_public ? API_AUTH_NONE : API_AUTH_MGMT;
	if (auth == API_AUTH_MGMT) {
		*retry = vault_auth_blocked(h->v, hc->ip);
		if (*retry > 0)
			return API_AUTH_LIMIT;
		t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-auth-token");
		if (t == NULL || !crypto_equal_str(t, strlen(t), h->cfg->auth_token,
						   strlen(h->cfg->auth_token))) {
			vault_auth_failed(h->v, hc->ip);
			return API_UNAUTHORIZED;
		}
	} else if (auth == API_AUTH_CAP) {
		t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-capability-token");
		if (t == NULL || t[0] == '\0')
			return API_TOKEN_REQUIRED;
		return api_vault_err(vault_token_check(h->v, t, strlen(t), &hc->cap));
	}
	return API_OK;
}

/* Everything decided on the head alone, before any body byte is read:
 * framing, route (404/405), parameter, authentication, declared size. A
 * refusal of a request that declared a body closes the connection. */
static enum MHD_Result http_head(struct http *h, struct MHD_Connection *c, struct http_conn *hc,
				 const char *url, const char *method, const char *version)
{
	struct http_sock *hs = http_sock_of(c);
	const char *why = NULL;
	size_t body = 0;
	unsigned retry = 0;
	enum api_err e;

	atomic_store_explicit(&h->last_request, util_mono_ms(), memory_order_relaxed);
	if (hs != NULL) {
		hs->start_ns = metrics_now_ns();
		hs->status = 0;
		reqid_take(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-request-id"), hs->rid);
		reqid_set(hs->rid);
	}
	why = http_frame_check(h, c, method, version, &body);
	if (why != NULL)
		return http_error(c, API_BAD_HEADER, why, 1);
	http_client_ip(h, c, hc->ip, sizeof(hc->ip));
	e = http_route(hc, url, method, &why);
	if (e == API_OK)
		e = http_auth(h, c, hc, &retry);
	if (e != API_OK)
		return http_error_retry(c, e, why, retry, body > 0);
	hc->limit = hc->rt->body == ROUTE_BODY_IMPORT ? h->cfg->max_import_body
		    : hc->rt->body < h->cfg->max_body ? hc->rt->body
						      : h->cfg->max_body;
	if (body != SIZE_MAX && body > hc->limit)
		return http_error(c, API_BODY_TOO_LARGE, NULL, 1);
	if (hs != NULL && hs->slot != NULL)
		conn_head_done(h->conns, hs->slot, body, hc->limit);
	return MHD_YES;
}

/* Appends a body chunk, up to the route's cap; beyond it the rest is
 * discarded and the request gets 413. 0, or -1 out of memory. */
static int http_take_body(struct http_conn *hc, const char *data, size_t n)
{
	if (!hc->too_large && n > hc->limit - hc->len) {
		hc->too_large = 1;
		crypto_wipe_free(hc->body);
		hc->body = NULL;
		hc->len = hc->cap_bytes = 0;
	}
	if (hc->too_large)
		return 0;
	if (hc->len + n > hc->cap_bytes) {
		size_t ncap = hc->cap_bytes ? hc->cap_bytes : 1024;
		char *nb;
		while (ncap < hc->len + n)
			ncap *= 2;
		if (ncap > hc->limit)
			ncap = hc->limit;
		nb = crypto_wipe_malloc(ncap);
		if (nb == NULL)
			return -1;
		if (hc->len > 0)
			memcpy(nb, hc->body, hc->len);
		crypto_wipe_free(hc->body);
		hc->body = nb;
		hc->cap_bytes = ncap;
	}
	memcpy(hc->body + hc->len, data, n);
	hc->len += n;
	return 0;
}

/* The whole request is in: parse the body and run the handler. */
static enum MHD_Result http_run(struct http *h, struct MHD_Connection *c, struct http_conn *hc,
				const char *method)
{
	struct api_req req;
	struct api_resp resp = {.status = 200};
	json_error_t jerr;
	enum MHD_Result ret;

	if (hc->too_large)
		return http_error(c, API_BODY_TOO_LARGE, NULL, 0);
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.param = hc->param;
	req.param_len = hc->param_len;
	req.ip = hc->ip;
	req.cap = hc->cap;
	if (hc->len > 0) {
		req.body = json_loadb(hc->body, hc->len, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(req.body)) {
			json_decref(req.body);
			ret = http_error(c, API_BAD_BODY,
					 req.body ? "body must be a JSON object" : jerr.text, 0);
			crypto_wipe(&jerr, sizeof(jerr));
			return ret;
		}
	}
	req.query_limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	req.query_format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
	req.query_after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
	req.query_user = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "userId");
	req.query_include_revoked =
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "includeRevoked");
	req.query_cursor = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "cursor");

	hc->rt->handler(h->v, h->cfg, &req, &resp);
	json_decref(req.body);
	if (resp.defer != NULL)
		return http_park(h, hc, c, resp.defer);
	ret = http_send(c, &resp, 0);
	json_decref(resp.body);
	return ret;
}

static enum MHD_Result http_access_one(void *cls, struct MHD_Connection *c, const char *url,
				       const char *method, const char *version,
				       const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct http *h = cls;
	struct http_conn *hc = *con_cls;

	if (hc != NULL && hc->defer != NULL) {
		if (hc->defer_state == DEFER_WAITING)
			return MHD_YES;
		return http_finish_deferred(hc, c);
	}
	if (hc == NULL) {
		if (h->stopping)
			return MHD_NO; /* shutting down: close, as a closed listener would */
		hc = calloc(1, sizeof(*hc));
		if (hc == NULL)
			return MHD_NO;
		*con_cls = hc;
		return http_head(h, c, hc, url, method, version);
	}
	if (*upload_size > 0) {
		if (http_take_body(hc, upload_data, *upload_size) != 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	{
		struct http_sock *hs = http_sock_of(c);
		if (hs != NULL && hs->slot != NULL)
			conn_busy(h->conns, hs->slot);
	}
	return http_run(h, c, hc, method);
}

/* Runs every step of a request with its id as the thread's current one
 * (audit entries and log lines made meanwhile carry it). */
static enum MHD_Result http_access(void *cls, struct MHD_Connection *c, const char *url,
				   const char *method, const char *version, const char *upload_data,
				   size_t *upload_size, void **con_cls)
{
	struct http_sock *hs = http_sock_of(c);
	enum MHD_Result r;

	reqid_set(hs != NULL && *con_cls != NULL ? hs->rid : NULL);
	r = http_access_one(cls, c, url, method, version, upload_data, upload_size, con_cls);
	reqid_set(NULL);
	return r;
}

/* A request answered: counted by route pattern and status class, and
 * logged with LOG_REQUESTS=1 (the pattern, never the path). */
static void http_account(struct http *h, struct http_sock *hs, const struct route *rt)
{
	uint64_t ns;

	if (hs == NULL || hs->start_ns == 0 || hs->status == 0)
		return;
	ns = metrics_now_ns() - hs->start_ns;
	metrics_request(rt != NULL ? (unsigned)(rt - routes) : METRICS_UNMATCHED, hs->status, ns);
	if (h->cfg->log_requests) {
		reqid_set(hs->rid);
		log_request(rt != NULL ? rt->method : "-", rt != NULL ? rt->pattern : "unmatched",
			    hs->status, (double)ns / 1e6);
		reqid_set(NULL);
	}
	hs->start_ns = 0;
}

static void http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	struct http *h = cls;
	struct http_conn *hc = *con_cls;
	struct http_sock *hs = http_sock_of(c);

	(void)toe;
	if (hs != NULL && hs->slot != NULL)
		conn_request_done(h->conns, hs->slot);
	if (hc == NULL)
		return;
	http_account(h, hs, hc->rt);
	if (hc->defer != NULL) /* the client left while its read was parked */
		vault_defer_free(hc->defer);
	if (hc->parked) /* its answer is sent, or the client is gone */
		h->suspended--;
	token_cap_free(hc->cap);
	crypto_wipe_free(hc->body);
	if (hc->path != NULL)
		crypto_wipe(hc->path, hc->path_cap);
	crypto_wipe_free(hc->path);
	crypto_wipe(hc, sizeof(*hc));
	free(hc);
	*con_cls = NULL;
}

/* Accept and close of a socket: the connection table's view of it. On
 * close, the slot is freed before libmicrohttpd closes the descriptor
 * (checked: 0.9.75 notifies CLOSED first, on the same thread). */
static void http_sock_event(void *cls, struct MHD_Connection *c, void **socket_context,
			    enum MHD_ConnectionNotificationCode toe)
{
	struct http *h = cls;
	struct http_sock *hs = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ad =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		const struct sockaddr *sa = ad != NULL ? ad->client_addr : NULL;
		size_t salen = sizeof(struct sockaddr_in);

		if (sa != NULL && sa->sa_family == AF_INET6)
			salen = sizeof(struct sockaddr_in6);
		hs = calloc(1, sizeof(*hs));
		*socket_context = hs;
		if (hs != NULL)
			metrics_conn(1);
		if (hs == NULL || fd == NULL) {
			/* No way to track it: it does not stay. */
			if (fd != NULL)
				shutdown(fd->connect_fd, SHUT_RDWR);
			return;
		}
		hs->slot = conn_open(h->conns, fd->connect_fd, sa, salen);
		return;
	}
	if (hs != NULL && hs->slot != NULL)
		conn_close(h->conns, hs->slot);
	if (hs != NULL)
		metrics_conn(-1);
	free(hs);
	*socket_context = NULL;
}

/* libmicrohttpd's messages quote request targets (secret names) and header
 * text: only the message with every string argument redacted is logged. */
static void http_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	redact_vformat(line, sizeof(line), fmt, ap);
	log_warn("http: %s", line);
}

static int http_check_routes(void)
{
	for (const struct route *r = routes; r->method != NULL; r++)
		if (r->body != 0 && r->body < LIMIT_ROUTE_BODY_MIN) {
			log_err("http: route %s %s: body cap %zu is below %u bytes", r->method,
				r->pattern, r->body, LIMIT_ROUTE_BODY_MIN);
			return -1;
		}
	return 0;
}

unsigned http_fd_budget(const struct config *cfg)
{
	/* Soft caps evict; the hard cap leaves room for the connections being
	 * shut down while new ones arrive. */
	return cfg->max_connections * 2 + 64;
}

struct http *http_listen(const struct config *cfg, struct vault *v)
{
	struct http *h;
	int ipv6 = 0;
	struct conn_limits lim = {cfg->max_connections, cfg->max_connections_per_ip,
				  cfg->header_timeout * 1000, cfg->body_min_rate,
				  http_fd_budget(cfg)};

	if (!jalloc_ready()) {
		log_err("http: jalloc_init() has not run: JSON would not be wiped on free");
		return NULL;
	}
	if (http_check_routes() != 0)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->cfg = cfg;
	h->v = v;
	h->conns = conn_table_new(&lim);
	if (h->conns == NULL || (h->fd = listen_open(cfg, &ipv6)) < 0) {
		conn_table_free(h->conns);
		free(h);
		return NULL;
	}
	h->ipv6 = ipv6;
	return h;
}

/* HTTPS, when tls.c holds a pair: the options (an MHD_OPTION_ARRAY, empty
 * without TLS) that make every handshake ask tls.c for the current pair,
 * so a reload needs no new daemon. -1 if this libmicrohttpd lacks TLS. */
static int http_tls_options(struct MHD_OptionItem opts[3], unsigned *flags)
{
	opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK2, 0,
					  (void *)tls_cert_callback()};
	opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
					  (void *)(uintptr_t)TLS_PRIORITIES};
	opts[2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	if (!tls_enabled()) {
		opts[0].option = MHD_OPTION_END;
		return 0;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		log_err("http: this libmicrohttpd was built without TLS");
		return -1;
	}
	*flags |= MHD_USE_TLS;
	return 0;
}

int http_serve(struct http *h)
{
	struct MHD_OptionItem tls[3];
	const struct config *cfg = h->cfg;
	unsigned threads = cfg->threads, hard = http_fd_budget(cfg);
	unsigned flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (threads == 0)
		threads = cpus > 0 ? (unsigned)cpus : 1;
	if (h->ipv6)
		flags |= MHD_USE_IPv6;
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
		flags |= MHD_USE_EPOLL;
	if (http_tls_options(tls, &flags) != 0)
		return -1;
	/* The logger goes first so that no option's message escapes it. The
	 * daemon takes the socket over (and closes it at stop). */
	h->d = MHD_start_daemon(
	    flags, cfg->port, NULL, NULL, http_access, h, MHD_OPTION_EXTERNAL_LOGGER, http_log,
	    NULL, MHD_OPTION_LISTEN_SOCKET, h->fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)LIMIT_CONN_MEMORY,
	    MHD_OPTION_CONNECTION_LIMIT, hard, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    cfg->max_connections_per_ip * 2 + 16, MHD_OPTION_CONNECTION_TIMEOUT,
	    cfg->connection_timeout, MHD_OPTION_NOTIFY_COMPLETED, http_completed, h,
	    MHD_OPTION_NOTIFY_CONNECTION, http_sock_event, h, MHD_OPTION_URI_LOG_CALLBACK,
	    http_uri_seen, h, MHD_OPTION_UNESCAPE_CALLBACK, http_no_unescape, NULL,
	    MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
	if (h->d == NULL) {
		log_err("http: cannot serve on %s:%u", cfg->bind_address, cfg->port);
		return -1;
	}
	h->fd = -1;
	return 0;
}

struct http *http_start(const struct config *cfg, struct vault *v)
{
	struct http *h = http_listen(cfg, v);

	if (h != NULL && http_serve(h) != 0) {
		http_stop(h);
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
	/* Refuse new requests, then let parked requests finish (the committer
	 * resumes them) and their answers go out (counted until libmicrohttpd's
	 * completion callback), at most 5 s, before the daemon goes away. Not
	 * MHD_quiesce_daemon:
	 * in 0.9.75's thread pool with epoll it races a worker that removes the
	 * listen socket from its epoll set itself (both call EPOLL_CTL_DEL, the
	 * loser panics: "Failed to remove listen FD from epoll set", abort). */
	h->stopping = 1;
	for (int i = 0; h->d != NULL && i < 5000 && h->suspended > 0; i++)
		usleep(1000);
	if (h->d != NULL)
		MHD_stop_daemon(h->d);
	else if (h->fd >= 0)
		close(h->fd);
	conn_table_free(h->conns);
	free(h);
}
