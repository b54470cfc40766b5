/* clientaddr.c: picks the client's address out of X-Forwarded-For by
 * counting trusted hops from the right. It must never take an entry the
 * client could have written (anything left of the trusted hops), and
 * never return text that is not an IP address. */
#include "clientaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

/* Checks and canonicalises one entry (s, n bytes, trimmed). */
static int clientaddr_parse(const char *s, size_t n, char *out, size_t outlen)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char addr[sizeof(struct in6_addr)];

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1)
		return inet_ntop(AF_INET, addr, out, (socklen_t)outlen) != NULL ? 0 : -1;
	if (inet_pton(AF_INET6, buf, addr) == 1)
		return inet_ntop(AF_INET6, addr, out, (socklen_t)outlen) != NULL ? 0 : -1;
	return -1;
}

int clientaddr_from_xff(const char *const *vals, size_t nvals, unsigned hops, char *out,
			size_t outlen)
{
	unsigned seen = 0;

	if (hops == 0)
		return -1;
	/* Right to left over the lines, and over the entries of each line. */
	for (size_t i = nvals; i-- > 0;) {
		const char *v = vals[i];
		size_t end = strlen(v);

		for (;;) {
			size_t start = end, a, b;
			while (start > 0 && v[start - 1] != ',')
				start--;
			a = start;
			b = end;
			while (a < b && (v[a] == ' ' || v[a] == '\t'))
				a++;
			while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
				b--;
			if (++seen == hops)
				return clientaddr_parse(v + a, b - a, out, outlen);
			if (start == 0)
				break;
			end = start - 1;
		}
	}
	return -1;
}
