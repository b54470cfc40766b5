/* docker_http.c: libcurl over the engine's unix socket (see docker_http.h).
 * Each call uses its own easy handle, so threads may call at once; no call
 * waits longer than its timeout; bodies and answers are never logged. */
#include "docker_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "log.h"

#define DOCKER_CONNECT_MS 2000L

int docker_http_init(void)
{
	if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK) {
		log_err("%s: curl_global_init failed", __func__);
		return -1;
	}
	return 0;
}

void docker_http_done(void) { curl_global_cleanup(); }

/* Grows the answer geometrically in wipe-on-free blocks (the old block is
 * wiped when it is replaced). */
static size_t docker_http_write(char *data, size_t size, size_t n, void *arg)
{
	struct docker_answer *a = arg;
	size_t add = size * n, cap = a->cap ? a->cap : 4096;
	char *grown;

	if (add > DOCKER_ANSWER_MAX - a->len)
		return 0; /* too large: curl stops with CURLE_WRITE_ERROR */
	if (a->len + add + 1 > a->cap) {
		while (cap < a->len + add + 1)
			cap *= 2;
		grown = crypto_wipe_malloc(cap);
		if (grown == NULL)
			return 0;
		if (a->len > 0)
			memcpy(grown, a->body, a->len);
		crypto_wipe_free(a->body);
		a->body = grown;
		a->cap = cap;
	}
	memcpy(a->body + a->len, data, add);
	a->len += add;
	a->body[a->len] = '\0';
	return add;
}

void docker_answer_free(struct docker_answer *a)
{
	crypto_wipe_free(a->body);
	a->body = NULL;
	a->len = 0;
	a->cap = 0;
	a->status = 0;
}

int docker_http_call(const char *socket, const char *method, const char *path, const char *body,
		     size_t bodylen, long timeout_ms, struct docker_answer *a, char *err,
		     size_t errlen)
{
	char url[512], cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;

	memset(a, 0, sizeof(*a));
	if (c == NULL ||
	    snprintf(url, sizeof(url), "http://localhost%s", path) >= (int)sizeof(url)) {
		snprintf(err, errlen, "cannot prepare the call to the engine");
		curl_easy_cleanup(c);
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, DOCKER_CONNECT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, docker_http_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	if (body != NULL) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodylen);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		/* curl names "localhost port 80" for a socket it could not reach. */
		snprintf(err, errlen, "engine at %s: %s", socket,
			 rc == CURLE_COULDNT_CONNECT ? "cannot connect (is it running?)"
			 : cerr[0] != '\0'	     ? cerr
						     : curl_easy_strerror(rc));
		docker_answer_free(a);
		return -1;
	}
	return 0;
}
