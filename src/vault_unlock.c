/* vault_unlock.c: the unlock queue and its limits. An unlock is admitted on
 * the HTTP worker (every refusal is decided there, so it carries a
 * Retry-After), then run one at a time on the queue's own thread, which
 * answers through the deferred-request protocol (vault_defer.c). It never
 * runs a guess the limits refuse at its turn, and never answers 200 to a
 * password it has not itself derived and checked. */
#include "vault_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "reqid.h"
#include "util.h"

/* Before any unlock has been timed: a 64 MiB, 3-pass derivation on a slow
 * machine. */
#define VAULT_UNLOCK_EST_MS 2000
/* "address:userId" and its NUL. */
#define VAULT_UNLOCK_KEY_MAX (LIMIT_ADDR_TEXT + 1 + LIMIT_NAME_MAX + 1)

enum { JOB_PREPARED, JOB_QUEUED, JOB_FINISHED };

struct vault_unlock_job {
	struct vault_unlock_job *next;
	struct vault *v;
	char *pw; /* secure heap, pwlen + 1 bytes; wiped once run */
	size_t pwlen;
	char *user; /* NULL: none sent */
	char ip[64];
	char key[VAULT_UNLOCK_KEY_MAX]; /* the per-client limit's key */
	int64_t admitted;		/* monotonic ms */
	int state;			/* under the queue's mutex */
	int orphan;			/* freed by its owner while queued: the thread frees it */
	void (*done)(void *ctx, int rc);
	void *ctx;
	enum vault_err err;
	long long count;
	char why[256]; /* what a refused migration named */
	char rid[REQID_MAX + 1]; /* the request's id, for its audit entries */
};

struct vault_unlockq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct vault_unlock_job *head, *tail;
	unsigned admitted; /* prepared and not yet finished */
	int stopping;	   /* answer queued jobs without running them */
	int quit;	   /* the thread leaves once the queue is empty */
	int started;
	pthread_t thread;
	int64_t est_ms; /* how long one unlock takes (moving average) */
	struct ratelimit *per_client, *total;
};

/* The limits' key: the address, and the userId when one was sent (an
 * address cannot hold '\n', so the two kinds never meet). */
static void vault_unlock_key(const struct vault_actor *who, char *key, size_t len)
{
	if (who->user_id != NULL)
		snprintf(key, len, "%s\n%s", who->ip, who->user_id);
	else
		snprintf(key, len, "%s", who->ip);
}

static void vault_unlock_job_free(struct vault_unlock_job *j)
{
	if (j == NULL)
		return;
	if (j->pw != NULL)
		crypto_secure_free(j->pw, j->pwlen + 1);
	free(j->user);
	free(j);
}

/* The seconds until the limits let key try again; 0 if they do now. */
static unsigned vault_unlock_limited(struct vault_unlockq *q, const char *key, int64_t now)
{
	unsigned a = ratelimit_blocked(q->per_client, key, now);
	unsigned b = ratelimit_blocked(q->total, "*", now);

	return a > b ? a : b;
}

unsigned vault_unlock_blocked(struct vault *v, const struct vault_actor *who)
{
	char key[VAULT_UNLOCK_KEY_MAX];

	vault_unlock_key(who, key, sizeof(key));
	return vault_unlock_limited(v->unlockq, key, util_mono_ms());
}

void vault_unlock_failed(struct vault *v, const struct vault_actor *who)
{
	char key[VAULT_UNLOCK_KEY_MAX];
	int64_t now = util_mono_ms();

	vault_unlock_key(who, key, sizeof(key));
	ratelimit_fail(v->unlockq->per_client, key, now);
	ratelimit_fail(v->unlockq->total, "*", now);
}

/* Records a finished attempt: a wrong password spends the client's and the
 * vault's budgets; a success clears only its own (address, userId) key,
 * never a whole address (other admins and other guessers share it). */
static void vault_unlock_settle(struct vault_unlockq *q, const struct vault_unlock_job *j)
{
	int64_t now = util_mono_ms();

	if (j->err == VAULT_BAD_PASSWORD) {
		ratelimit_fail(q->per_client, j->key, now);
		ratelimit_fail(q->total, "*", now);
	} else if (j->err == VAULT_OK && j->user != NULL) {
		ratelimit_clear(q->per_client, j->key);
	}
}

/* Counts an unlock's outcome for GET /metrics. */
static void vault_unlock_count(enum vault_err e)
{
	metrics_add(e == VAULT_OK		? METRICS_UNLOCK_OK
		    : e == VAULT_BAD_PASSWORD	? METRICS_UNLOCK_WRONG_PASSWORD
		    : e == VAULT_UNLOCK_LIMIT	? METRICS_UNLOCK_RATE_LIMITED
		    : e == VAULT_KDF_BUSY	? METRICS_UNLOCK_BUSY
						: METRICS_UNLOCK_FAILED,
		    1);
}

/* Runs one job on the queue's thread and answers it; j may be freed by the
 * waiting side as soon as done is called. */
static void vault_unlock_job_run(struct vault *v, struct vault_unlock_job *j, int stopping)
{
	struct vault_unlockq *q = v->unlockq;
	struct vault_actor who = {j->user, j->ip};
	int64_t start = util_mono_ms();
	void (*done)(void *, int) = j->done;
	void *ctx = j->ctx;
	int rc, orphan;

	if (stopping || start - j->admitted > (int64_t)v->cfg->unlock_queue_wait * 1000) {
		j->err = VAULT_KDF_BUSY;
	} else if (vault_unlock_limited(q, j->key, start) > 0) {
		/* the ones ahead spent the budget while this one waited */
		j->err = VAULT_UNLOCK_LIMIT;
	} else {
		reqid_set(j->rid);
		j->err = vault_unlock_run(v, j->pw, j->pwlen, &who, &j->count);
		reqid_set(NULL);
		if (j->err == VAULT_BAD_LEGACY)
			snprintf(j->why, sizeof(j->why), "%s", vault_migrate_why());
		vault_unlock_settle(q, j);
		pthread_mutex_lock(&q->mu);
		q->est_ms = (3 * q->est_ms + (util_mono_ms() - start)) / 4;
		pthread_mutex_unlock(&q->mu);
	}
	crypto_secure_free(j->pw, j->pwlen + 1);
	j->pw = NULL;
	vault_unlock_count(j->err);
	rc = j->err == VAULT_OK ? 0 : -1;
	pthread_mutex_lock(&q->mu);
	j->state = JOB_FINISHED;
	q->admitted--;
	orphan = j->orphan;
	pthread_mutex_unlock(&q->mu);
	if (orphan) /* nobody waits for the answer any more */
		vault_unlock_job_free(j);
	else
		done(ctx, rc);
}

static void *vault_unlockq_main(void *arg)
{
	struct vault *v = arg;
	struct vault_unlockq *q = v->unlockq;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct vault_unlock_job *j;
		int stopping;

		while (q->head == NULL && !q->quit)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->head == NULL)
			break;
		j = q->head;
		q->head = j->next;
		if (q->head == NULL)
			q->tail = NULL;
		stopping = q->stopping;
		pthread_mutex_unlock(&q->mu);
		vault_unlock_job_run(v, j, stopping);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int vault_unlockq_start(struct vault *v)
{
	struct vault_unlockq *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return -1;
	v->unlockq = q;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->est_ms = VAULT_UNLOCK_EST_MS;
	q->per_client =
	    ratelimit_new(VAULT_RL_SLOTS, v->cfg->unlock_max_failures, v->cfg->unlock_window);
	q->total = ratelimit_new(1, v->cfg->unlock_max_failures_total, v->cfg->unlock_window);
	if (q->per_client == NULL || q->total == NULL)
		return -1;
	if (pthread_create(&q->thread, NULL, vault_unlockq_main, v) != 0) {
		log_err("%s: cannot start the unlock thread", __func__);
		return -1;
	}
	q->started = 1;
	return 0;
}

void vault_quiesce(struct vault *v)
{
	struct vault_unlockq *q = v->unlockq;

	pthread_mutex_lock(&q->mu);
	q->stopping = 1;
	pthread_mutex_unlock(&q->mu);
}

void vault_unlockq_stop(struct vault *v)
{
	struct vault_unlockq *q = v->unlockq;

	if (q == NULL)
		return;
	if (q->started) {
		pthread_mutex_lock(&q->mu);
		q->stopping = 1;
		q->quit = 1;
		pthread_cond_signal(&q->cv);
		pthread_mutex_unlock(&q->mu);
		pthread_join(q->thread, NULL);
	}
	ratelimit_free(q->per_client);
	ratelimit_free(q->total);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
	v->unlockq = NULL;
}

/* Takes an admission slot for j, or says why not: a full queue, or a turn
 * that would come later than UNLOCK_QUEUE_WAIT_SECONDS. */
static enum vault_err vault_unlock_admit(struct vault *v, struct vault_unlock_job *j,
					 unsigned *retry_after)
{
	struct vault_unlockq *q = v->unlockq;
	int64_t limit = (int64_t)v->cfg->unlock_queue_wait * 1000, wait;
	enum vault_err err = VAULT_OK;

	pthread_mutex_lock(&q->mu);
	wait = (int64_t)q->admitted * q->est_ms; /* until this one's turn */
	if (q->stopping || q->admitted >= v->cfg->unlock_queue) {
		err = VAULT_KDF_BUSY;
		*retry_after = (unsigned)((q->est_ms + 999) / 1000);
	} else if (wait > limit) {
		err = VAULT_KDF_BUSY;
		*retry_after = (unsigned)((wait - limit + 999) / 1000);
	} else {
		q->admitted++;
		j->admitted = util_mono_ms();
		j->state = JOB_PREPARED;
	}
	pthread_mutex_unlock(&q->mu);
	if (err != VAULT_OK && *retry_after == 0)
		*retry_after = 1;
	return err;
}

enum vault_err vault_unlock_prepare(struct vault *v, const char *pw, size_t pwlen,
				    const struct vault_actor *who, unsigned *retry_after, int *wait,
				    struct vault_defer **out)
{
	struct vault_unlock_job *j;
	struct vault_defer *d;
	char key[VAULT_UNLOCK_KEY_MAX];
	enum vault_err err;

	*out = NULL;
	*retry_after = 0;
	*wait = 0;
	if (!vault_is_initialized(v))
		return VAULT_NOT_INIT;
	vault_unlock_key(who, key, sizeof(key));
	*retry_after = vault_unlock_limited(v->unlockq, key, util_mono_ms());
	if (*retry_after > 0) {
		vault_unlock_count(VAULT_UNLOCK_LIMIT);
		return VAULT_UNLOCK_LIMIT;
	}
	j = calloc(1, sizeof(*j));
	d = calloc(1, sizeof(*d));
	if (j == NULL || d == NULL || (j->pw = crypto_secure_alloc(pwlen + 1)) == NULL ||
	    (who->user_id != NULL && (j->user = strdup(who->user_id)) == NULL)) {
		vault_unlock_job_free(j);
		free(d);
		return VAULT_INTERNAL;
	}
	memcpy(j->pw, pw, pwlen);
	j->pw[pwlen] = '\0';
	j->pwlen = pwlen;
	j->v = v;
	j->err = VAULT_KDF_BUSY; /* the answer if it never runs */
	j->state = JOB_FINISHED; /* not admitted: nothing to give back */
	snprintf(j->ip, sizeof(j->ip), "%s", who->ip);
	memcpy(j->key, key, sizeof(key));
	snprintf(j->rid, sizeof(j->rid), "%s", reqid_get() != NULL ? reqid_get() : "");
	err = vault_unlock_admit(v, j, retry_after);
	if (err != VAULT_OK) {
		vault_unlock_count(err);
		vault_unlock_job_free(j);
		free(d);
		return err;
	}
	d->v = v;
	d->unlock = j;
	*wait = vault_unlock_pending_legacy(v);
	*out = d;
	return VAULT_OK;
}

int vault_unlock_submit(struct vault_unlock_job *j, void (*done)(void *ctx, int rc), void *ctx)
{
	struct vault_unlockq *q = j->v->unlockq;
	int rc = -1;

	pthread_mutex_lock(&q->mu);
	if (j->state == JOB_PREPARED && !q->quit) {
		j->done = done;
		j->ctx = ctx;
		j->state = JOB_QUEUED;
		if (q->tail != NULL)
			q->tail->next = j;
		else
			q->head = j;
		q->tail = j;
		pthread_cond_signal(&q->cv);
		rc = 0;
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void vault_unlock_release(struct vault_unlock_job *j)
{
	struct vault_unlockq *q;

	if (j == NULL)
		return;
	q = j->v->unlockq;
	/* Admitted but never submitted (or its submit failed): give the slot
	 * back. Still queued (its connection went away before the answer,
	 * e.g. at a forced stop): the thread frees it and calls no done. */
	pthread_mutex_lock(&q->mu);
	if (j->state == JOB_QUEUED) {
		j->orphan = 1;
		pthread_mutex_unlock(&q->mu);
		return;
	}
	if (j->state == JOB_PREPARED) {
		j->state = JOB_FINISHED;
		q->admitted--;
	}
	pthread_mutex_unlock(&q->mu);
	vault_unlock_job_free(j);
}

char *vault_unlock_answer(const struct vault_unlock_job *j, size_t *len)
{
	char text[128], *a;
	int n =
	    snprintf(text, sizeof(text), "{\"success\":true,\"expiresIn\":%u,\"secretCount\":%lld}",
		     j->v->cfg->session_ttl, j->count);

	if (n < 0 || (size_t)n >= sizeof(text) || (a = crypto_wipe_malloc((size_t)n + 1)) == NULL)
		return NULL;
	memcpy(a, text, (size_t)n + 1);
	*len = (size_t)n;
	return a;
}

enum vault_err vault_unlock_failure(const struct vault_unlock_job *j)
{
	return j->err != VAULT_OK ? j->err : VAULT_INTERNAL;
}

enum vault_err vault_unlock_wait(struct vault_defer *d, long long *secret_count)
{
	enum vault_err err = vault_defer_wait(d);

	if (err == VAULT_OK)
		*secret_count = d->unlock->count;
	else if (err == VAULT_BAD_LEGACY)
		vault_whyf("%s", d->unlock->why); /* this thread's vault_migrate_why() */
	return err;
}

enum vault_err vault_unlock(struct vault *v, const char *pw, size_t pwlen,
			    const struct vault_actor *who, long long *secret_count,
			    unsigned *retry_after)
{
	struct vault_defer *d = NULL;
	enum vault_err err;
	int wait;

	err = vault_unlock_prepare(v, pw, pwlen, who, retry_after, &wait, &d);
	if (err == VAULT_OK)
		err = vault_unlock_wait(d, secret_count);
	vault_defer_free(d);
	return err;
}
