/* audit_sink.h: an optional copy of every committed audit entry, pushed to
 * a file (JSON lines, fsync'd) or to syslog. The store's audit table stays
 * the record; a sink never decides whether a request succeeds. */
#ifndef GV_AUDIT_SINK_H
#define GV_AUDIT_SINK_H

#include <stddef.h>
#include <stdint.h>

struct audit_sink;

/* spec: a file path, or "syslog:<facility>" (user, daemon, auth, authpriv,
 * local0..local7). NULL on a bad spec or an unopenable file (logged). */
struct audit_sink *audit_sink_open(const char *spec);
/* NULL is a no-op. */
void audit_sink_close(struct audit_sink *s);
/* A store_sink_fn: writes entry seq as one line; entry NULL means "make
 * what was written durable" (fsync). 0 or -1. */
int audit_sink_push(void *ctx, int64_t seq, const char *entry, size_t len);

#endif
