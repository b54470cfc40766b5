/* vault_row.c: secret rows through the row cache, and the one place its
 * coherence rule is applied. A write forgets its row before its batch
 * commits and again once it has, before the write is answered; a reader
 * takes the cache's generation before reading the store, so a row read
 * before a forget is never cached after it (rowcache.h). Only vault.c
 * creates and frees the cache; nothing else reads or changes it. */
#include "vault_int.h"

#include <stdlib.h>

#include "metrics.h"
#include "rowcache.h"

int vault_row_read(struct vault *v, const unsigned char id[CRYPTO_HASH_LEN], int64_t *version,
		   unsigned char **rec, size_t *len)
{
	struct store_tx *tx;
	uint64_t gen;
	int found;

	if (rowcache_get(v->rows, id, version, rec, len)) {
		metrics_add(METRICS_ROW_CACHE_HIT, 1);
		return 0;
	}
	metrics_add(METRICS_ROW_CACHE_MISS, 1);
	gen = rowcache_gen(v->rows);
	if ((tx = store_tx_begin(v->st, 0)) == NULL)
		return -1;
	found = store_secret_get(tx, id, version, rec, len);
	store_tx_rollback(tx);
	if (found == 0)
		rowcache_put(v->rows, gen, id, *version, *rec, *len);
	return found;
}

/* On the committer, inside the batch: before the commit. */
static int vault_row_job(struct store_tx *tx, void *arg)
{
	struct vault_row_write *w = arg;

	rowcache_forget(w->v->rows, w->id);
	return w->job(tx, w->arg);
}

/* On the committer, once the batch committed (or failed): after the
 * commit, before the write is answered. */
static void vault_row_done(void *arg, int rc)
{
	struct vault_row_write *w = arg;

	rowcache_forget(w->v->rows, w->id);
	w->done(w->ctx, rc);
}

int vault_row_write(struct vault *v, struct vault_row_write *w)
{
	struct store_tx *tx;
	int rc;

	w->v = v;
	if (w->done != NULL)
		return store_write_async(v->st, vault_row_job, w, vault_row_done, w);
	if ((tx = store_tx_begin(v->st, 1)) == NULL)
		return -1;
	rc = vault_row_job(tx, w);
	if (rc != 0)
		store_tx_rollback(tx);
	else if (store_tx_commit(tx) != 0)
		rc = -1;
	rowcache_forget(v->rows, w->id);
	return rc;
}

void vault_row_clear(struct vault *v) { rowcache_clear(v->rows); }
