/* fuzz_clientaddr.c: X-Forwarded-For hop selection. Input: [hops][lines
 * separated by '\n']. Invariants: an answer is a canonical IPv4/IPv6 text
 * that fits the buffer and is exactly the hops-th comma entry from the
 * right (trimmed) of the header lines; otherwise the caller keeps the
 * socket address, and that happens only when that entry is missing or is
 * not an address. Never reads or writes outside the given buffers. */
#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clientaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SOCKET_ADDR "192.0.2.1"

/* An independent model: all entries left to right, then count from the
 * right. Returns the entry's text (trimmed) in buf, or -1 when missing. */
static int model_entry(char *const *vals, size_t nvals, unsigned hops, char *buf, size_t buflen)
{
	size_t total = 0, want;

	for (size_t i = 0; i < nvals; i++) {
		total++;
		for (const char *p = vals[i]; *p; p++)
			total += *p == ',';
	}
	if (hops == 0 || hops > total)
		return -1;
	want = total - hops; /* index from the left */
	for (size_t i = 0; i < nvals; i++) {
		const char *p = vals[i];
		for (;;) {
			const char *e = strchr(p, ',');
			size_t n = e ? (size_t)(e - p) : strlen(p);
			if (want-- == 0) {
				while (n > 0 && (*p == ' ' || *p == '\t'))
					p++, n--;
				while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
					n--;
				if (n >= buflen)
					n = buflen - 1; /* too long to be an address anyway */
				memcpy(buf, p, n);
				buf[n] = '\0';
				return 0;
			}
			if (e == NULL)
				break;
			p = e + 1;
		}
	}
	abort(); /* unreachable: want < total */
}

/* The canonical text of s as an address, or -1. */
static int canon(const char *s, char *out, size_t outlen)
{
	unsigned char a[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, s, a) == 1)
		return inet_ntop(AF_INET, a, out, (socklen_t)outlen) ? 0 : -1;
	if (inet_pton(AF_INET6, s, a) == 1)
		return inet_ntop(AF_INET6, a, out, (socklen_t)outlen) ? 0 : -1;
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *vals[CLIENTADDR_MAX_LINES], *copy, *out, entry[256], want[INET6_ADDRSTRLEN];
	size_t nvals = 0, outlen;
	unsigned hops;
	int rc, mrc;

	if (size < 1 || size > 8192)
		return 0;
	/* Low 5 bits: hops 0..31 (config allows 0..16); top bits: a short
	 * output buffer now and then, sized exactly so ASan sees overruns. */
	hops = data[0] & 31;
	outlen = (data[0] & 0xc0) == 0xc0 ? 1 + (size % INET6_ADDRSTRLEN) : INET6_ADDRSTRLEN;
	copy = malloc(size);
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	/* Header lines as MHD hands them over: NUL-terminated, so the first
	 * NUL ends the input; at most the last CLIENTADDR_MAX_LINES kept. */
	for (char *p = copy;;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		if (nvals == CLIENTADDR_MAX_LINES) {
			memmove(vals, vals + 1, (nvals - 1) * sizeof(*vals));
			nvals--;
		}
		vals[nvals++] = p;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	out = malloc(outlen);
	memcpy(out, SOCKET_ADDR, outlen < sizeof(SOCKET_ADDR) ? outlen : sizeof(SOCKET_ADDR));
	rc = clientaddr_from_xff((const char *const *)vals, nvals, hops, out, outlen);
	mrc = model_entry(vals, nvals, hops, entry, sizeof(entry));
	if (mrc == 0)
		mrc = canon(entry, want, sizeof(want));
	if (mrc == 0 && strlen(want) >= outlen)
		mrc = -1; /* does not fit: the caller keeps the socket address */
	assert(rc == 0 || rc == -1);
	assert(rc == mrc);
	if (rc == 0) {
		char again[INET6_ADDRSTRLEN];
		assert(memchr(out, '\0', outlen) != NULL);
		assert(strcmp(out, want) == 0);
		/* Canonical: parsing and printing it again gives the same text. */
		assert(canon(out, again, sizeof(again)) == 0 && strcmp(again, out) == 0);
		/* The address was in the header: its entry text is in one line. */
		{
			int found = 0;
			for (size_t i = 0; i < nvals; i++)
				found |= strstr(vals[i], entry) != NULL;
			assert(found);
		}
	}
	free(out);
	free(copy);
	return 0;
}
