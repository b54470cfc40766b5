/* redact.h: formats a printf-style message from a library whose string
 * arguments may carry client data (libmicrohttpd prints request URLs, i.e.
 * secret names). Every %s and %c argument is replaced by a marker; numbers
 * are kept. It never prints a string argument. */
#ifndef GV_REDACT_H
#define GV_REDACT_H

#include <stdarg.h>
#include <stddef.h>

#define REDACT_MARK "[redacted]"

/* Writes the message into out (always NUL-terminated, truncated to outlen),
 * one line: control bytes of fmt itself become spaces and a trailing
 * newline is dropped. Returns the length written. */
size_t redact_vformat(char *out, size_t outlen, const char *fmt, va_list ap);

#endif
