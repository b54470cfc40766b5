/* log.c: timestamped single-line logging to stderr, as text or JSON lines.
 * Control bytes in a text line (a client's \r or terminal escape that
 * reached an argument) are written as \xNN, and JSON strings are escaped,
 * so every line stays one line and inert. A line made inside a request
 * carries that request's id (reqid.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jtext.h"
#include "reqid.h"

#define LOG_LINE 1024

static int log_quiet, log_json;

void log_set_quiet(int quiet) { log_quiet = quiet; }
void log_set_json(int json) { log_json = json; }

static void log_when(char *out, size_t len)
{
	char when[32];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%03dZ", when, (int)(ts.tv_nsec / 1000000) % 1000);
}

static void log_text(const char *level, const char *line)
{
	static const char hex[] = "0123456789abcdef";
	char when[64], safe[LOG_LINE];
	size_t o = 0;

	log_when(when, sizeof(when));
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
	fprintf(stderr, "%s %s %s\n", when, level, safe);
}

/* {"time","level","msg"[,"requestId"]} then extra (already JSON, starting
 * with ',' or empty), in one write. */
static void log_json_line(const char *level, const char *msg, const char *extra)
{
	char when[64], out[JTEXT_STR_MAX(LOG_LINE) + JTEXT_STR_MAX(REQID_MAX) + 512];
	const char *rid = reqid_get();
	struct jtext t;

	log_when(when, sizeof(when));
	jtext_init(&t, out, sizeof(out));
	jtext_raw(&t, "{\"time\":", 8);
	jtext_str(&t, when, strlen(when));
	jtext_raw(&t, ",\"level\":", 9);
	jtext_str(&t, level, strlen(level));
	jtext_raw(&t, ",\"msg\":", 7);
	jtext_str(&t, msg, strnlen(msg, LOG_LINE));
	if (rid != NULL) {
		jtext_raw(&t, ",\"requestId\":", 13);
		jtext_str(&t, rid, strlen(rid));
	}
	jtext_raw(&t, extra, strlen(extra));
	jtext_raw(&t, "}\n", 2);
	if (jtext_end(&t) == 0)
		fputs(out, stderr);
}

static void log_emit(const char *level, const char *fmt, va_list ap)
{
	char line[LOG_LINE];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_json)
		log_json_line(level, line, "");
	else
		log_text(level, line);
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

void log_request(const char *method, const char *route, int status, double ms)
{
	const char *rid = reqid_get();
	char extra[512];
	struct jtext t;

	if (log_quiet)
		return;
	if (!log_json) {
		log_info("request %s %s %d %.3fms id=%s", method, route, status, ms,
			 rid != NULL ? rid : "-");
		return;
	}
	jtext_init(&t, extra, sizeof(extra));
	jtext_raw(&t, ",\"method\":", 10);
	jtext_str(&t, method, strnlen(method, 16));
	jtext_raw(&t, ",\"route\":", 9);
	jtext_str(&t, route, strnlen(route, 64));
	if (jtext_end(&t) != 0)
		return;
	snprintf(extra + t.len, sizeof(extra) - t.len, ",\"status\":%d,\"durationMs\":%.3f", status,
		 ms);
	log_json_line("info", "request", extra);
}
