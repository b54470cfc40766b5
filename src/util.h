/* util.h: clocks, timestamps and the secret-name rule. */
#ifndef GV_UTIL_H
#define GV_UTIL_H

#include <stddef.h>
#include <stdint.h>

int64_t util_now_ms(void);  /* wall clock, ms since the epoch */
int64_t util_mono_ms(void); /* monotonic ms, for sessions and rate limits */
/* ISO-8601 UTC with milliseconds ("2026-11-28T10:37:59.126Z"); buf >= 32. */
void util_iso8601(int64_t ms, char *buf, size_t len);
/* ^[A-Za-z0-9_.-]{1,255}$ */
int util_valid_name(const char *s, size_t len);
/* Number of UTF-8 code points (invalid bytes count one each). */
size_t util_utf8_chars(const char *s, size_t len);

#endif
