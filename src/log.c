/* log.c: timestamped single-line logging to stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int log_quiet;

void log_set_quiet(int quiet) { log_quiet = quiet; }

static void log_emit(const char *level, const char *fmt, va_list ap)
{
	char when[32], line[1024];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(line, sizeof(line), fmt, ap);
	/* One fprintf call so concurrent lines do not interleave. */
	fprintf(stderr, "%s.%03ldZ %s %s\n", when, ts.tv_nsec / 1000000, level, line);
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
