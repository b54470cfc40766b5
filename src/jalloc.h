/* jalloc.h: the one place that makes every jansson allocation wipe-on-free.
 * JSON trees hold plaintext (parsed bodies, secret values, exports), so any
 * program that builds or parses secret JSON calls jalloc_init() first; the
 * HTTP server refuses to start without it. It does no JSON work itself. */
#ifndef GV_JALLOC_H
#define GV_JALLOC_H

#include <jansson.h>
#include <stddef.h>

/* Routes jansson's malloc/free through crypto_wipe_malloc/crypto_wipe_free.
 * Call once, before any json_t exists (a block allocated before would be
 * freed by the wrong function). */
void jalloc_init(void);
/* 1 if jalloc_init has run (checked through json_get_alloc_funcs, so a
 * later json_set_alloc_funcs by anyone else is noticed). */
int jalloc_ready(void);
/* Serialises j (compact) into a new wipe-on-free buffer, NUL-terminated;
 * *len gets its length without the NUL. Caller frees with
 * crypto_wipe_free. NULL on failure (logged). Does not depend on the hook. */
char *jalloc_dump(const json_t *j, size_t *len);

#endif
