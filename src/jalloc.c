/* jalloc.c: jansson's allocator hook and a wipe-on-free serialiser (see
 * jalloc.h). Never logs JSON content. */
#include "jalloc.h"

#include "crypto.h"
#include "log.h"

void jalloc_init(void) { json_set_alloc_funcs(crypto_wipe_malloc, crypto_wipe_free); }

int jalloc_ready(void)
{
	json_malloc_t m = NULL;
	json_free_t f = NULL;

	json_get_alloc_funcs(&m, &f);
	return m == crypto_wipe_malloc && f == crypto_wipe_free;
}

char *jalloc_dump(const json_t *j, size_t *len)
{
	size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
	char *buf;

	if (n == 0) {
		log_err("%s: cannot serialise", __func__);
		return NULL;
	}
	buf = crypto_wipe_malloc(n + 1);
	if (buf == NULL) {
		log_err("%s: out of memory", __func__);
		return NULL;
	}
	if (json_dumpb(j, buf, n, JSON_COMPACT) != n) {
		log_err("%s: cannot serialise", __func__);
		crypto_wipe_free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}
