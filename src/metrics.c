/* metrics.c: counters and histograms for GET /metrics (see metrics.h). A
 * thread adds to its own shard with relaxed atomics, so recording costs no
 * lock and no shared cache line; a scrape sums the shards. It must never
 * put request data (paths, names, ids) into a label. */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "log.h"
#include "routes.h"

#define METRICS_SHARDS 16
#define METRICS_CLASSES 5 /* 1xx .. 5xx */

/* Bucket bounds in ns (request and COMMIT durations) and in writes. */
static const uint64_t metrics_dur_le[] = {500000,     1000000,	  2500000,    5000000,	  10000000,
					  25000000,   50000000,	  100000000,  250000000,  500000000,
					  1000000000, 2500000000, 5000000000, 10000000000};
static const uint64_t metrics_fsync_le[] = {100000,    250000,	  500000,    1000000,  2500000,
					    5000000,   10000000,  25000000,  50000000, 100000000,
					    250000000, 500000000, 1000000000};
static const uint64_t metrics_batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};

#define NDUR (sizeof(metrics_dur_le) / sizeof(metrics_dur_le[0]))
#define NFSYNC (sizeof(metrics_fsync_le) / sizeof(metrics_fsync_le[0]))
#define NBATCH (sizeof(metrics_batch_le) / sizeof(metrics_batch_le[0]))

/* Per bucket counts (not cumulative; +Inf last), their sum and count. */
struct metrics_hist_dur {
	_Atomic uint64_t b[NDUR + 1], sum;
};

struct metrics_shard {
	_Atomic uint64_t counter[METRICS_COUNTERS];
	_Atomic uint64_t req[METRICS_ROUTES][METRICS_CLASSES];
	struct metrics_hist_dur dur[METRICS_ROUTES];
	_Atomic uint64_t fsync[NFSYNC + 1], fsync_sum;
	_Atomic uint64_t batch[NBATCH + 1], batch_sum;
	_Atomic long long conns;
} __attribute__((aligned(64)));

static struct metrics_shard metrics_shards[METRICS_SHARDS];
static _Atomic unsigned metrics_next_shard;
static _Thread_local struct metrics_shard *metrics_mine;

static struct metrics_shard *metrics_shard(void)
{
	if (metrics_mine == NULL)
		metrics_mine = &metrics_shards[atomic_fetch_add_explicit(&metrics_next_shard, 1,
									 memory_order_relaxed) %
					       METRICS_SHARDS];
	return metrics_mine;
}

static void metrics_inc(_Atomic uint64_t *p, uint64_t n)
{
	atomic_fetch_add_explicit(p, n, memory_order_relaxed);
}

static uint64_t metrics_load(_Atomic uint64_t *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

static size_t metrics_bucket(const uint64_t *le, size_t n, uint64_t v)
{
	size_t i = 0;

	while (i < n && v > le[i])
		i++;
	return i;
}

uint64_t metrics_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void metrics_add(enum metrics_counter c, uint64_t n)
{
	if ((unsigned)c < METRICS_COUNTERS)
		metrics_inc(&metrics_shard()->counter[c], n);
}

void metrics_request(unsigned route, int status, uint64_t ns)
{
	struct metrics_shard *s = metrics_shard();

	if (route >= METRICS_ROUTES)
		route = METRICS_UNMATCHED;
	if (status >= 100 && status < 600)
		metrics_inc(&s->req[route][status / 100 - 1], 1);
	metrics_inc(&s->dur[route].b[metrics_bucket(metrics_dur_le, NDUR, ns)], 1);
	metrics_inc(&s->dur[route].sum, ns);
}

void metrics_commit(unsigned writes, uint64_t ns, int ok)
{
	struct metrics_shard *s = metrics_shard();

	if (!ok) {
		metrics_inc(&s->counter[METRICS_COMMIT_FAILED], 1);
		return;
	}
	metrics_inc(&s->fsync[metrics_bucket(metrics_fsync_le, NFSYNC, ns)], 1);
	metrics_inc(&s->fsync_sum, ns);
	metrics_inc(&s->batch[metrics_bucket(metrics_batch_le, NBATCH, writes)], 1);
	metrics_inc(&s->batch_sum, writes);
}

void metrics_conn(int delta)
{
	atomic_fetch_add_explicit(&metrics_shard()->conns, delta, memory_order_relaxed);
}

/* The text being rendered; out of memory once, it stays failed. */
struct metrics_text {
	char *buf;
	size_t len, cap;
	int failed;
};

static void metrics_printf(struct metrics_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void metrics_printf(struct metrics_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->failed = 1;
		return;
	}
	if ((size_t)n >= t->cap - t->len) {
		size_t ncap = t->cap * 2 + (size_t)n;
		char *nb = crypto_wipe_malloc(ncap);
		if (nb == NULL) {
			t->failed = 1;
			return;
		}
		memcpy(nb, t->buf, t->len);
		crypto_wipe_free(t->buf);
		t->buf = nb;
		t->cap = ncap;
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
	}
	t->len += (size_t)n;
}

static void metrics_head(struct metrics_text *t, const char *name, const char *type,
			 const char *help)
{
	metrics_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t metrics_sum(size_t offset)
{
	uint64_t n = 0;

	for (size_t i = 0; i < METRICS_SHARDS; i++)
		n += metrics_load((_Atomic uint64_t *)((char *)&metrics_shards[i] + offset));
	return n;
}

#define METRICS_SUM(field) metrics_sum(offsetof(struct metrics_shard, field))

/* A histogram's lines: cumulative buckets, sum (scaled), count. labels
 * is "" or `k="v",...` without braces. */
static void metrics_hist(struct metrics_text *t, const char *name, const char *labels,
			 const uint64_t *le, size_t n, const uint64_t *counts, uint64_t sum,
			 double scale)
{
	const char *sep = labels[0] ? "," : "", *open = labels[0] ? "{" : "",
		   *close = labels[0] ? "}" : "";
	uint64_t cum = 0;

	for (size_t i = 0; i <= n; i++) {
		cum += counts[i];
		if (i < n)
			metrics_printf(t, "%s_bucket{%s%sle=\"%.9g\"} %llu\n", name, labels, sep,
				       (double)le[i] * scale, (unsigned long long)cum);
		else
			metrics_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
				       (unsigned long long)cum);
	}
	metrics_printf(t, "%s_sum%s%s%s %.9g\n", name, open, labels, close, (double)sum * scale);
	metrics_printf(t, "%s_count%s%s%s %llu\n", name, open, labels, close,
		       (unsigned long long)cum);
}

/* The route's labels: method and pattern from the table (fixed text, no
 * quote or backslash in any of them), or "unmatched". */
static void metrics_route_labels(unsigned r, unsigned nroutes, char *out, size_t len)
{
	if (r < nroutes)
		snprintf(out, len, "method=\"%s\",route=\"%s\"", routes[r].method,
			 routes[r].pattern);
	else
		snprintf(out, len, "method=\"\",route=\"unmatched\"");
}

static void metrics_render_requests(struct metrics_text *t, unsigned nroutes)
{
	char labels[160];

	metrics_head(t, "groupvault_http_requests_total", "counter",
		     "HTTP requests answered, by route pattern and status class.");
	for (unsigned r = 0; r < METRICS_ROUTES; r++) {
		if (r >= nroutes && r != METRICS_UNMATCHED)
			continue;
		metrics_route_labels(r, nroutes, labels, sizeof(labels));
		for (unsigned c = 0; c < METRICS_CLASSES; c++) {
			uint64_t n = METRICS_SUM(req[r][c]);
			if (n > 0)
				metrics_printf(
				    t, "groupvault_http_requests_total{%s,code=\"%uxx\"} %llu\n",
				    labels, c + 1, (unsigned long long)n);
		}
	}
	metrics_head(t, "groupvault_http_request_duration_seconds", "histogram",
		     "Time from a request's head to its completion, by route pattern.");
	for (unsigned r = 0; r < METRICS_ROUTES; r++) {
		uint64_t b[NDUR + 1], any = 0;
		if (r >= nroutes && r != METRICS_UNMATCHED)
			continue;
		for (size_t i = 0; i <= NDUR; i++)
			any += b[i] = METRICS_SUM(dur[r].b[i]);
		if (any == 0)
			continue;
		metrics_route_labels(r, nroutes, labels, sizeof(labels));
		metrics_hist(t, "groupvault_http_request_duration_seconds", labels, metrics_dur_le,
			     NDUR, b, METRICS_SUM(dur[r].sum), 1e-9);
	}
}

static void metrics_render_store(struct metrics_text *t)
{
	uint64_t f[NFSYNC + 1], b[NBATCH + 1];

	for (size_t i = 0; i <= NFSYNC; i++)
		f[i] = METRICS_SUM(fsync[i]);
	for (size_t i = 0; i <= NBATCH; i++)
		b[i] = METRICS_SUM(batch[i]);
	metrics_head(t, "groupvault_audit_entries_total", "counter",
		     "Audit entries committed to the log.");
	metrics_printf(t, "groupvault_audit_entries_total %llu\n",
		       (unsigned long long)METRICS_SUM(counter[METRICS_AUDIT_ENTRIES]));
	metrics_head(t, "groupvault_commit_failures_total", "counter",
		     "Batches whose COMMIT failed (every request in them got 503).");
	metrics_printf(t, "groupvault_commit_failures_total %llu\n",
		       (unsigned long long)METRICS_SUM(counter[METRICS_COMMIT_FAILED]));
	metrics_head(t, "groupvault_checkpoints_total", "counter",
		     "WAL checkpoints: by the checkpointer, by the writer for the short rest, "
		     "by the writer past the WAL's hard bound.");
	metrics_printf(t,
		       "groupvault_checkpoints_total{by=\"checkpointer\"} %llu\n"
		       "groupvault_checkpoints_total{by=\"rest\"} %llu\n"
		       "groupvault_checkpoints_total{by=\"fallback\"} %llu\n",
		       (unsigned long long)METRICS_SUM(counter[METRICS_CKPT_CHECKPOINTER]),
		       (unsigned long long)METRICS_SUM(counter[METRICS_CKPT_REST]),
		       (unsigned long long)METRICS_SUM(counter[METRICS_CKPT_FALLBACK]));
	metrics_head(t, "groupvault_commit_batch_writes", "histogram",
		     "Writes and audit entries per committed batch (one fsync each).");
	metrics_hist(t, "groupvault_commit_batch_writes", "", metrics_batch_le, NBATCH, b,
		     METRICS_SUM(batch_sum), 1);
	metrics_head(t, "groupvault_commit_fsync_duration_seconds", "histogram",
		     "Time of each batch's COMMIT, its WAL fsync included.");
	metrics_hist(t, "groupvault_commit_fsync_duration_seconds", "", metrics_fsync_le, NFSYNC, f,
		     METRICS_SUM(fsync_sum), 1e-9);
}

static void metrics_render_counters(struct metrics_text *t)
{
	static const struct {
		const char *family, *label;
		enum metrics_counter c;
	} rows[] = {
	    {"groupvault_unlocks_total", "result=\"ok\"", METRICS_UNLOCK_OK},
	    {"groupvault_unlocks_total", "result=\"wrong_password\"",
	     METRICS_UNLOCK_WRONG_PASSWORD},
	    {"groupvault_unlocks_total", "result=\"rate_limited\"", METRICS_UNLOCK_RATE_LIMITED},
	    {"groupvault_unlocks_total", "result=\"busy\"", METRICS_UNLOCK_BUSY},
	    {"groupvault_unlocks_total", "result=\"failed\"", METRICS_UNLOCK_FAILED},
	    {"groupvault_cache_hits_total", "cache=\"token\"", METRICS_TOKEN_CACHE_HIT},
	    {"groupvault_cache_hits_total", "cache=\"registry\"", METRICS_REGISTRY_CACHE_HIT},
	    {"groupvault_cache_hits_total", "cache=\"row\"", METRICS_ROW_CACHE_HIT},
	    {"groupvault_cache_misses_total", "cache=\"token\"", METRICS_TOKEN_CACHE_MISS},
	    {"groupvault_cache_misses_total", "cache=\"registry\"", METRICS_REGISTRY_CACHE_MISS},
	    {"groupvault_cache_misses_total", "cache=\"row\"", METRICS_ROW_CACHE_MISS},
	};
	static const char *help[] = {
	    "Password unlocks by outcome (busy: queue full or turn too far off).",
	    "Cache hits: verified tokens, the token registry, sealed secret rows.",
	    "Cache misses: verified tokens, the token registry, sealed secret rows."};
	const char *prev = "";
	unsigned h = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (strcmp(prev, rows[i].family) != 0)
			metrics_head(t, rows[i].family, "counter", help[h++]);
		prev = rows[i].family;
		metrics_printf(t, "%s{%s} %llu\n", rows[i].family, rows[i].label,
			       (unsigned long long)METRICS_SUM(counter[rows[i].c]));
	}
}

static void metrics_gauge(struct metrics_text *t, const char *name, const char *help, double v)
{
	metrics_head(t, name, "gauge", help);
	metrics_printf(t, "%s %.17g\n", name, v);
}

static void metrics_render_gauges(struct metrics_text *t, const struct metrics_gauges *g)
{
	long long conns = 0;

	for (size_t i = 0; i < METRICS_SHARDS; i++)
		conns += atomic_load_explicit(&metrics_shards[i].conns, memory_order_relaxed);
	metrics_gauge(t, "groupvault_vault_initialized", "1 once the vault is initialized.",
		      g->initialized);
	metrics_gauge(t, "groupvault_vault_unlocked", "1 while a session is open.", g->unlocked);
	metrics_gauge(t, "groupvault_session_remaining_seconds",
		      "Seconds until the open session expires (0 when locked).", g->session_left);
	if (g->secrets >= 0)
		metrics_gauge(t, "groupvault_secrets", "Secrets stored.", (double)g->secrets);
	if (g->tokens >= 0)
		metrics_gauge(t, "groupvault_tokens",
			      "Capability tokens neither revoked nor expired.", (double)g->tokens);
	if (g->audit_unindexed >= 0)
		metrics_gauge(t, "groupvault_audit_unindexed",
			      "Audit entries not yet in the per-secret index.",
			      (double)g->audit_unindexed);
	metrics_gauge(t, "groupvault_http_open_connections", "Client connections open.",
		      (double)conns);
	metrics_head(t, "process_cpu_seconds_total", "counter", "User and system CPU time spent.");
	metrics_printf(t, "process_cpu_seconds_total %.6f\n", g->cpu_seconds);
	if (g->rss_bytes >= 0)
		metrics_gauge(t, "process_resident_memory_bytes", "Resident memory size.",
			      (double)g->rss_bytes);
	if (g->open_fds >= 0)
		metrics_gauge(t, "process_open_fds", "Open file descriptors.", (double)g->open_fds);
	if (g->max_fds >= 0)
		metrics_gauge(t, "process_max_fds", "The file descriptor limit.",
			      (double)g->max_fds);
}

char *metrics_render(const struct metrics_gauges *g, size_t *len)
{
	struct metrics_text t = {crypto_wipe_malloc(16384), 0, 16384, 0};
	unsigned nroutes = 0;

	if (t.buf == NULL)
		return NULL;
	while (routes[nroutes].method != NULL)
		nroutes++;
	if (nroutes > METRICS_UNMATCHED) {
		log_err("%s: %u routes, only %d slots", __func__, nroutes, METRICS_UNMATCHED);
		nroutes = METRICS_UNMATCHED;
	}
	metrics_render_requests(&t, nroutes);
	metrics_render_store(&t);
	metrics_render_counters(&t);
	metrics_render_gauges(&t, g);
	if (t.failed) {
		log_err("%s: out of memory", __func__);
		crypto_wipe_free(t.buf);
		return NULL;
	}
	*len = t.len;
	return t.buf;
}
