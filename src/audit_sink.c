/* audit_sink.c: pushes committed audit entries to a file (one JSON object
 * per line, with its seq, fsync'd per batch) or to syslog. It gets entries
 * exactly as stored (names sealed) and must never see anything else. */
#include "audit_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

struct audit_sink {
	int fd;	      /* -1: syslog */
	int facility; /* for syslog */
};

static const struct {
	const char *name;
	int facility;
} audit_sink_facilities[] = {
    {"user", LOG_USER},		{"daemon", LOG_DAEMON}, {"auth", LOG_AUTH},
    {"authpriv", LOG_AUTHPRIV}, {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
    {"local2", LOG_LOCAL2},	{"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
    {"local5", LOG_LOCAL5},	{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

struct audit_sink *audit_sink_open(const char *spec)
{
	struct audit_sink *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->fd = -1;
	if (strncmp(spec, "syslog:", 7) == 0) {
		for (size_t i = 0;
		     i < sizeof(audit_sink_facilities) / sizeof(*audit_sink_facilities); i++)
			if (strcmp(spec + 7, audit_sink_facilities[i].name) == 0) {
				s->facility = audit_sink_facilities[i].facility;
				openlog("groupvaultd-audit", LOG_NDELAY, s->facility);
				return s;
			}
		log_err("%s: AUDIT_SINK: unknown syslog facility", __func__);
		free(s);
		return NULL;
	}
	s->fd = open(spec, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->fd < 0) {
		log_err("%s: AUDIT_SINK: cannot open the file: %s", __func__, strerror(errno));
		free(s);
		return NULL;
	}
	return s;
}

void audit_sink_close(struct audit_sink *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	else
		closelog();
	free(s);
}

static int audit_sink_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int audit_sink_push(void *ctx, int64_t seq, const char *entry, size_t len)
{
	struct audit_sink *s = ctx;
	char head[40], *line;
	int hl, rc;

	if (entry == NULL)
		return s->fd >= 0 ? fsync(s->fd) : 0;
	/* {"seq":N, then the stored object's members (it is ours: "{...}"). */
	if (len < 2 || entry[0] != '{' || entry[len - 1] != '}') {
		entry = "{\"corrupt\":true}";
		len = strlen(entry);
	}
	hl = snprintf(head, sizeof(head), "{\"seq\":%lld%s", (long long)seq, len > 2 ? "," : "");
	if ((line = malloc((size_t)hl + len + 1)) == NULL)
		return -1;
	memcpy(line, head, (size_t)hl);
	memcpy(line + hl, entry + 1, len - 1);
	line[(size_t)hl + len - 1] = '\n';
	line[(size_t)hl + len] = '\0';
	if (s->fd >= 0) {
		rc = audit_sink_write_all(s->fd, line, (size_t)hl + len);
	} else {
		line[(size_t)hl + len - 1] = '\0';
		syslog(LOG_INFO | s->facility, "%s", line);
		rc = 0;
	}
	free(line);
	return rc;
}
