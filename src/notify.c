/* notify.c: tells systemd (Type=notify) when the daemon is ready, reloading
 * or stopping, by a datagram to the AF_UNIX socket named in $NOTIFY_SOCKET
 * (a path, or "@name" in the abstract namespace). It never blocks on the
 * manager and never sends anything but the fixed state lines. */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_len;

int notify_open(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t n;

	if (path == NULL || path[0] == '\0')
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(notify_addr.sun_path)) {
		log_err("%s: NOTIFY_SOCKET must be an absolute path or @name, at most %zu bytes",
			__func__, sizeof(notify_addr.sun_path) - 1);
		return -1;
	}
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, n);
	/* "@name" is the abstract namespace: a leading NUL, no terminator. */
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0';
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (notify_fd < 0) {
		log_err("%s: socket: %s", __func__, strerror(errno));
		return -1;
	}
	return 0;
}

int notify_send(const char *state)
{
	ssize_t n;

	if (notify_fd < 0)
		return 0;
	n = sendto(notify_fd, state, strlen(state), MSG_NOSIGNAL,
		   (const struct sockaddr *)&notify_addr, notify_len);
	if (n < 0 || (size_t)n != strlen(state)) {
		log_warn("%s: %s: %s", __func__, state, n < 0 ? strerror(errno) : "short send");
		return -1;
	}
	return 0;
}

void notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}
