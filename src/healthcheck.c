/* healthcheck.c: `groupvaultd --healthcheck`, the container image's health
 * probe: one GET /health to the local daemon on $PORT, exit status 0 or 1.
 * It reads only PORT, BIND_ADDRESS and (HTTPS) TLS_CERT_FILE, never a token
 * or a key, and opens no data. */
#include "healthcheck.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tls.h"

#define HEALTHCHECK_TIMEOUT_S 3

/* Where the probe connects: BIND_ADDRESS when it names one IPv4 or IPv6
 * address, loopback when it is a wildcard or unset. */
static void healthcheck_addr(unsigned port, struct sockaddr_storage *ss, socklen_t *sslen)
{
	const char *bind = getenv("BIND_ADDRESS");
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (bind != NULL && inet_pton(AF_INET6, bind, &in6->sin6_addr) == 1) {
		if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
			in6->sin6_addr = in6addr_loopback;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*in6);
		return;
	}
	if (bind == NULL || *bind == '\0' || inet_pton(AF_INET, bind, &in4->sin_addr) != 1 ||
	    in4->sin_addr.s_addr == htonl(INADDR_ANY))
		in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	in4->sin_family = AF_INET;
	in4->sin_port = htons((uint16_t)port);
	*sslen = sizeof(*in4);
}

int healthcheck_run(void)
{
	static const char req[] = "GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n";
	const char *p = getenv("PORT");
	struct timeval tv = {HEALTHCHECK_TIMEOUT_S, 0};
	struct sockaddr_storage ss;
	socklen_t sslen;
	char buf[64];
	size_t got = 0;
	unsigned long port = 18790;
	char *end;
	const char *cert = getenv("TLS_CERT_FILE");
	int fd, ok, https = cert != NULL && *cert != '\0';

	if (p != NULL && *p != '\0') {
		port = strtoul(p, &end, 10);
		if (*end != '\0' || port == 0 || port > 65535) {
			fprintf(stderr, "groupvaultd: --healthcheck: PORT must be 1 to 65535\n");
			return 1;
		}
	}
	healthcheck_addr((unsigned)port, &ss, &sslen);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, sslen) != 0 ||
	    (!https &&
	     send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(req) - 1))) {
		fprintf(stderr, "groupvaultd: --healthcheck: no answer on port %lu\n", port);
		close(fd);
		return 1;
	}
	/* With TLS_CERT_FILE the daemon speaks only HTTPS. */
	if (https) {
		long n = tls_probe(fd, req, sizeof(req) - 1, buf, sizeof(buf),
				   HEALTHCHECK_TIMEOUT_S * 1000);
		got = n > 0 ? (size_t)n : 0;
	}
	while (!https && got < sizeof(buf) - 1) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	/* "HTTP/1.x 200 ": the status line is all the probe needs. */
	ok = got >= 13 && strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 8, " 200 ", 5) == 0;
	if (!ok)
		fprintf(stderr, "groupvaultd: --healthcheck: /health did not answer 200\n");
	return ok ? 0 : 1;
}
