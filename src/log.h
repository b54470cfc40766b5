/* log.h: one-line logs to stderr. Callers never pass secret values,
 * passwords or tokens here. */
#ifndef GV_LOG_H
#define GV_LOG_H

void log_set_quiet(int quiet);
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
