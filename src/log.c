/* log.c: timestamped single-line logging to stderr. Control bytes in a
 * line (a client's \r or terminal escape that reached an argument) are
 * written as \xNN, so every line stays one line and inert. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int log_quiet;

void log_set_quiet(int quiet) { log_quiet = quiet; }

static void log_emit(const char *level, const char *fmt, va_list ap)
{
	static const char hex[] = "0123456789abcdef";
	char when[32], line[1024], safe[1024];
	struct timespec ts;
	struct tm tm;
	size_t o = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(line, sizeof(line), fmt, ap);
	for (const unsigned char *p = (const unsigned char *)line; *p && o + 5 < sizeof(safe);
	     p++) {
		if (*p >= 0x20 && *p != 0x7f) {
			safe[o++] = (char)*p;
			continue;
		}
		safe[o++] = '\\';
		safe[o++] = 'x';
		safe[o++] = hex[*p >> 4];
		safe[o++] = hex[*p & 15];
	}
	safe[o] = '\0';
	/* One fprintf call so concurrent lines do not interleave. */
	fprintf(stderr, "%s.%03ldZ %s %s\n", when, ts.tv_nsec / 1000000, level, safe);
}

void log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("error", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("warn", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	log_emit("info", fmt, ap);
	va_end(ap);
}
