/* listen.c: the listening socket (see listen.h). Plain SO_REUSEADDR (restart
 * over TIME_WAIT); no SO_REUSEPORT, so another process cannot bind the same
 * port and share our connections. It never accepts a connection itself. */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

static int listen_addr(const struct config *cfg, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, cfg->bind_address, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons(cfg->port);
		return 0;
	}
	if (inet_pton(AF_INET6, cfg->bind_address, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons(cfg->port);
		return 0;
	}
	log_err("http: BIND_ADDRESS %s is not an IP address", cfg->bind_address);
	return -1;
}

int listen_open(const struct config *cfg, int *ipv6)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd;

	if (listen_addr(cfg, &ss) != 0)
		return -1;
	*ipv6 = ss.ss_family == AF_INET6;
	len = *ipv6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (*ipv6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
	    bind(fd, (const struct sockaddr *)&ss, len) != 0 || listen(fd, SOMAXCONN) != 0) {
		log_err("http: cannot listen on %s:%u: %s", cfg->bind_address, cfg->port,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}
