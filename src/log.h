/* log.h: one-line logs to stderr, as text or (LOG_FORMAT=json) one JSON
 * object per line. Callers never pass secret values, passwords, tokens or
 * request paths (they hold secret names) here. */
#ifndef GV_LOG_H
#define GV_LOG_H

void log_set_quiet(int quiet);
/* 1: JSON lines {time, level, msg, requestId?}; 0: text (the default). */
void log_set_json(int json);
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One answered request (info): the route's pattern (never the path), the
 * status, the duration, and the calling thread's request id (reqid_set). */
void log_request(const char *method, const char *route, int status, double ms);

#endif
