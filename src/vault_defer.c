/* vault_defer.c: the parked-request protocol. A secret read or write is
 * prepared by vault_secret.c, handed to the store's committer here, and its
 * answer released only once the commit is durable (audit before reveal; a
 * write is acknowledged only when durable). It never reveals an answer
 * whose commit failed. */
#include "vault_int.h"

#include <stdlib.h>
#include <string.h>

#include "record.h"

void vault_defer_free(struct vault_defer *r)
{
	if (r == NULL)
		return;
	vault_unlock_release(r->unlock);
	crypto_wipe_free(r->answer);
	json_decref(r->rec);
	free(r->entry);
	free(r->entry_updated);
	crypto_secure_free(r->data_key, CRYPTO_KEY_LEN);
	crypto_secure_free(r->man_key, CRYPTO_KEY_LEN);
	free(r);
}

char *vault_defer_take(struct vault_defer *r, size_t *len)
{
	static const char put_new[] = "{\"success\":true,\"created\":true}";
	static const char put_old[] = "{\"success\":true,\"created\":false}";
	char *a = r->answer;

	if (r->unlock != NULL)
		return vault_unlock_answer(r->unlock, len);
	if (r->is_put) {
		const char *t = r->created ? put_new : put_old;
		*len = strlen(t);
		if ((a = crypto_wipe_malloc(*len + 1)) != NULL)
			memcpy(a, t, *len + 1);
		return a;
	}
	*len = r->answer_len;
	r->answer = NULL;
	return a;
}

enum vault_err vault_defer_failure(const struct vault_defer *r)
{
	if (r->unlock != NULL)
		return vault_unlock_failure(r->unlock);
	return r->is_put ? VAULT_STORE_FAILED : VAULT_AUDIT_FAILED;
}

/* Runs on the committer thread inside the batch: bump the version, seal
 * the record for it (the AAD binds the version), write it, the manifest
 * and its entry. */
static int vault_defer_put_job(struct store_tx *tx, void *arg)
{
	struct vault_defer *d = arg;
	const unsigned char *id = d->row.id;
	unsigned char *old = NULL, *rec;
	int64_t version = 0, next;
	size_t olen = 0, rlen = 0;
	const char *entry;
	int found, rc;

	found = store_secret_get(tx, id, &version, &old, &olen);
	free(old);
	if (found < 0)
		return -1;
	d->created = found == 1;
	next = version + 1;
	rec = record_seal(d->data_key, id, next, d->rec, &rlen);
	if (rec == NULL)
		return -1;
	rc = store_secret_put(tx, id, next, rec, rlen);
	free(rec);
	if (rc == 0)
		rc = vault_manifest_update(tx, d->man_key, id, d->created ? NULL : &version, &next);
	entry = d->created ? d->entry : d->entry_updated;
	if (rc != 0 || store_audit_append(tx, entry, strlen(entry), d->has_id ? id : NULL) != 0)
		return -1;
	return 0;
}

int vault_defer_submit(struct vault_defer *r, void (*done)(void *ctx, int rc), void *ctx)
{
	if (r->unlock != NULL)
		return vault_unlock_submit(r->unlock, done, ctx);
	if (r->is_put) {
		r->row.job = vault_defer_put_job;
		r->row.arg = r;
		r->row.done = done;
		r->row.ctx = ctx;
		return vault_row_write(r->v, &r->row);
	}
	return store_audit_async(r->v->st, r->entry, strlen(r->entry), r->has_id ? r->row.id : NULL,
				 done, ctx);
}

struct vault_defer_waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, rc;
};

static void vault_defer_woken(void *ctx, int rc)
{
	struct vault_defer_waiter *w = ctx;

	pthread_mutex_lock(&w->mu);
	w->done = 1;
	w->rc = rc;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

enum vault_err vault_defer_wait(struct vault_defer *r)
{
	struct vault_defer_waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

	if (vault_defer_submit(r, vault_defer_woken, &w) != 0)
		return vault_defer_failure(r);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	return w.rc == 0 ? VAULT_OK : vault_defer_failure(r);
}
