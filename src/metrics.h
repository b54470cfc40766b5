/* metrics.h: the daemon's counters and histograms for GET /metrics, kept
 * per thread (sharded relaxed atomics, no lock on any request path) and
 * summed only when scraped. Labels are route patterns, status classes and
 * fixed words: never a secret name, a user id or anything a client sent. */
#ifndef GV_METRICS_H
#define GV_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Route slots: routes[] index, and one more for requests that matched no
 * route (metrics_test checks the table fits). */
#define METRICS_ROUTES 48
#define METRICS_UNMATCHED (METRICS_ROUTES - 1)

enum metrics_counter {
	METRICS_AUDIT_ENTRIES, /* committed audit entries */
	METRICS_COMMIT_FAILED, /* batches whose COMMIT failed */
	METRICS_UNLOCK_OK,
	METRICS_UNLOCK_WRONG_PASSWORD,
	METRICS_UNLOCK_RATE_LIMITED,
	METRICS_UNLOCK_BUSY,	 /* KDF_BUSY: queue full or turn too far off */
	METRICS_UNLOCK_FAILED,	 /* any other refusal (integrity, migration, store) */
	METRICS_TOKEN_CACHE_HIT, /* verified-token cache */
	METRICS_TOKEN_CACHE_MISS,
	METRICS_REGISTRY_CACHE_HIT, /* token registry cache */
	METRICS_REGISTRY_CACHE_MISS,
	METRICS_ROW_CACHE_HIT, /* sealed secret rows */
	METRICS_ROW_CACHE_MISS,
	METRICS_CKPT_CHECKPOINTER, /* WAL checkpoints: by the checkpointer thread */
	METRICS_CKPT_REST,	   /* by the writer, the short rest */
	METRICS_CKPT_FALLBACK,	   /* by the writer, past the WAL's hard bound */
	METRICS_COUNTERS
};

/* What a scrape reads outside these counters (filled by the caller). */
struct metrics_gauges {
	int initialized, unlocked;
	unsigned session_left;			/* seconds */
	long long secrets;			/* rows; -1 unknown */
	long long tokens;			/* live registry rows; -1 unknown */
	long long audit_unindexed;		/* audit tail; -1 unknown */
	double cpu_seconds;			/* user + system */
	long long rss_bytes, open_fds, max_fds; /* -1 unknown */
};

void metrics_add(enum metrics_counter c, uint64_t n);
/* One answered request: route is its routes[] index (or METRICS_UNMATCHED),
 * status the HTTP status sent, ns the time from head to completion. */
void metrics_request(unsigned route, int status, uint64_t ns);
/* One batch committed (ok) or failed: writes in it, COMMIT time in ns. */
void metrics_commit(unsigned writes, uint64_t ns, int ok);
/* A connection accepted (+1) or closed (-1). */
void metrics_conn(int delta);
/* Monotonic nanoseconds, the clock durations are measured on. */
uint64_t metrics_now_ns(void);

/* The exposition (text format 0.0.4) of everything above. Returns a
 * buffer from crypto_wipe_malloc (the caller frees it with
 * crypto_wipe_free) with *len set, or NULL out of memory. */
char *metrics_render(const struct metrics_gauges *g, size_t *len);

#endif
