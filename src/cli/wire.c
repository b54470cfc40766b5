/* wire.c: the CLI's HTTP client over libcurl: one request, its answer in a
 * wipe-on-free buffer, and the exit code and one-line message for a refusal
 * (the server's JSON "error", never a body or a header). It follows no
 * redirect and speaks only http and https. */
#include "wire.h"

#include "crypto.h"
#include "jalloc.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct wire_buf {
	char *buf;
	size_t len, cap;
	int over;	  /* the answer passed WIRE_MAX_ANSWER */
	long retry_after; /* Retry-After: seconds, or 0 */
};

/* libcurl's own heap, wiped on free: it copies the token's header line and
 * the request body (a password, a value) into buffers of its own. */
#define WIRE_HDR 16 /* keeps malloc's alignment */

static void *wire_malloc(size_t n)
{
	unsigned char *p;

	if (n > SIZE_MAX - WIRE_HDR || (p = malloc(n + WIRE_HDR)) == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + WIRE_HDR;
}

static void wire_free(void *ptr)
{
	unsigned char *p = ptr;
	size_t n;

	if (p == NULL)
		return;
	p -= WIRE_HDR;
	memcpy(&n, p, sizeof(n));
	crypto_wipe(p, n + WIRE_HDR);
	free(p);
}

static void *wire_realloc(void *ptr, size_t n)
{
	size_t old;
	void *np;

	if (ptr == NULL)
		return wire_malloc(n);
	memcpy(&old, (unsigned char *)ptr - WIRE_HDR, sizeof(old));
	if ((np = wire_malloc(n)) == NULL)
		return NULL;
	memcpy(np, ptr, old < n ? old : n);
	wire_free(ptr);
	return np;
}

static char *wire_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = wire_malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

static void *wire_calloc(size_t count, size_t size)
{
	void *p;

	if (size != 0 && count > SIZE_MAX / size)
		return NULL;
	if ((p = wire_malloc(count * size)) != NULL)
		memset(p, 0, count * size);
	return p;
}

int wire_init(void)
{
	if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, wire_malloc, wire_free, wire_realloc,
				 wire_strdup, wire_calloc) != CURLE_OK) {
		cli_err("cannot initialise libcurl");
		return -1;
	}
	return 0;
}

void wire_cleanup(void) { curl_global_cleanup(); }

static size_t wire_take(char *data, size_t size, size_t n, void *arg)
{
	struct wire_buf *b = arg;
	size_t add = size * n;

	if (add > WIRE_MAX_ANSWER - b->len) {
		b->over = 1;
		return 0;
	}
	if (b->len + add + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 8192;
		char *nb;

		while (ncap < b->len + add + 1)
			ncap *= 2;
		if ((nb = crypto_wipe_malloc(ncap)) == NULL)
			return 0;
		if (b->buf != NULL)
			memcpy(nb, b->buf, b->len);
		crypto_wipe_free(b->buf);
		b->buf = nb;
		b->cap = ncap;
	}
	memcpy(b->buf + b->len, data, add);
	b->len += add;
	b->buf[b->len] = '\0';
	return add;
}

/* Keeps only Retry-After (delta seconds), for the 429 message. */
static size_t wire_header(char *data, size_t size, size_t n, void *arg)
{
	static const char name[] = "retry-after:";
	struct wire_buf *b = arg;
	size_t len = size * n;
	long v = 0;

	if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		for (size_t i = sizeof(name) - 1; i < len && v < 1000000; i++) {
			if (data[i] >= '0' && data[i] <= '9')
				v = v * 10 + (data[i] - '0');
			else if (data[i] != ' ' && data[i] != '\t')
				break;
		}
		b->retry_after = v;
	}
	return len;
}

int wire_exit_code(long status, const json_t *json)
{
	const char *err = json_string_value(json_object_get(json, "error"));

	if (status >= 200 && status < 300)
		return CLI_OK;
	switch (status) {
	case 423:
		return CLI_ELOCKED;
	case 401:
	case 403:
		return CLI_EDENIED;
	case 404:
		return err != NULL && strcmp(err, "Not found") == 0 ? CLI_ESERVER : CLI_ENOTFOUND;
	default:
		return CLI_ESERVER;
	}
}

char *wire_escape(const char *s) { return curl_easy_escape(NULL, s, 0); }

void wire_free_escaped(char *s) { curl_free(s); }

void wire_resp_free(struct wire_resp *r)
{
	json_decref(r->json);
	crypto_wipe_free(r->body);
	memset(r, 0, sizeof(*r));
}

int wire_print_raw(const struct wire_resp *r)
{
	if (fwrite(r->body, 1, r->len, stdout) != r->len || fputc('\n', stdout) == EOF) {
		cli_err("cannot write the answer");
		return CLI_ESERVER;
	}
	return CLI_OK;
}

/* One line for an answer that is not a success. */
static int wire_refused(const struct wire_resp *r, const char *method, const char *path)
{
	int code = wire_exit_code(r->status, r->json);
	const char *err = json_string_value(json_object_get(r->json, "error"));
	const char *details = json_string_value(json_object_get(r->json, "details"));
	int plen = (int)strcspn(path, "?");

	if (r->status == 405 || (r->status == 404 && code == CLI_ESERVER))
		cli_err("the server has no route %s %.*s: it may be an older groupvaultd", method,
			plen, path);
	else if (err != NULL && r->retry_after > 0)
		cli_err("%s (retry in %lds)", err, r->retry_after);
	else if (err != NULL && details != NULL)
		cli_err("%s: %s", err, details);
	else if (err != NULL)
		cli_err("%s", err);
	else
		cli_err("the server answered HTTP %ld without a JSON error", r->status);
	return code;
}

/* Everything about the handle but the method and body. */
static struct curl_slist *wire_setup(CURL *h, struct cli *c, const char *url, const char *tok,
				     enum cli_auth auth, struct wire_buf *b)
{
	struct curl_slist *hdrs = NULL, *t;
	char *line = NULL;
	size_t n;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	/* An unlock may wait its turn (25 s) and then derive its key. */
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "groupvault");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, wire_take);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, wire_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, b);
	if (c->cacert != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (hdrs != NULL && (t = curl_slist_append(hdrs, "Expect:")) != NULL)
		hdrs = t;
	if (hdrs != NULL && auth != CLI_AUTH_NONE) {
		const char *name = auth == CLI_AUTH_MGMT ? "x-auth-token" : "x-capability-token";

		n = strlen(name) + 2 + strlen(tok) + 1;
		if ((line = crypto_wipe_malloc(n)) == NULL ||
		    snprintf(line, n, "%s: %s", name, tok) < 0 ||
		    (t = curl_slist_append(hdrs, line)) == NULL) {
			curl_slist_free_all(hdrs);
			hdrs = NULL;
		} else
			hdrs = t;
		crypto_wipe_free(line);
	}
	return hdrs;
}

static int wire_answer(struct wire_resp *r, struct wire_buf *b, const char *method,
		       const char *path)
{
	r->body = b->buf;
	r->len = b->len;
	r->retry_after = b->retry_after;
	b->buf = NULL;
	if (r->body == NULL && (r->body = crypto_wipe_malloc(1)) != NULL)
		r->body[0] = '\0';
	if (r->body == NULL) {
		cli_err("out of memory");
		return CLI_ESERVER;
	}
	r->json = json_loadb(r->body, r->len, 0, NULL);
	if (r->status < 200 || r->status >= 300) {
		int code = wire_refused(r, method, path);

		wire_resp_free(r);
		return code;
	}
	if (!json_is_object(r->json)) {
		cli_err("the server's answer to %s is not a JSON object", method);
		wire_resp_free(r);
		return CLI_ESERVER;
	}
	return CLI_OK;
}

int wire_request(struct cli *c, const char *method, const char *path, const json_t *body,
		 enum cli_auth auth, struct wire_resp *r)
{
	struct wire_buf b = {NULL, 0, 0, 0, 0};
	struct curl_slist *hdrs = NULL, *t;
	const char *tok = NULL;
	char *url = NULL, *text = NULL;
	size_t alen, tlen = 0;
	CURL *h = NULL;
	CURLcode cr;
	int code = CLI_ESERVER;

	memset(r, 0, sizeof(*r));
	if (auth != CLI_AUTH_NONE && (tok = cli_token(c, auth)) == NULL)
		return CLI_EUSAGE;
	alen = strlen(c->addr);
	while (alen > 0 && c->addr[alen - 1] == '/')
		alen--;
	if ((url = malloc(alen + strlen(path) + 1)) == NULL || (h = curl_easy_init()) == NULL) {
		cli_err("out of memory");
		goto done;
	}
	memcpy(url, c->addr, alen);
	strcpy(url + alen, path);
	if ((hdrs = wire_setup(h, c, url, tok, auth, &b)) == NULL) {
		cli_err("out of memory");
		goto done;
	}
	if (body != NULL) {
		if ((text = jalloc_dump(body, &tlen)) == NULL ||
		    (t = curl_slist_append(hdrs, "Content-Type: application/json")) == NULL) {
			cli_err("cannot encode the request");
			goto done;
		}
		hdrs = t;
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)tlen);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if ((cr = curl_easy_perform(h)) != CURLE_OK) {
		if (b.over)
			cli_err("the server's answer is larger than %u MiB", WIRE_MAX_ANSWER >> 20);
		else {
			cli_err("cannot connect to %.*s: %s", (int)alen, c->addr,
				curl_easy_strerror(cr));
			code = CLI_ECONNECT;
		}
		goto done;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	code = wire_answer(r, &b, method, path);
done:
	crypto_wipe_free(b.buf);
	crypto_wipe_free(text);
	curl_slist_free_all(hdrs);
	if (h != NULL)
		curl_easy_cleanup(h);
	free(url);
	return code;
}
