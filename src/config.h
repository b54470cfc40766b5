/* config.h: every setting and limit in one place, read from the environment.
 * The README's table lists the same names and defaults. */
#ifndef GV_CONFIG_H
#define GV_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "limit.h"

struct config {
	char group_id[LIMIT_NAME_MAX + 1];
	char auth_token[1024];
	char signing_key[1024]; /* empty: generated and kept in the data dir */
	char data_dir[1024];
	char bind_address[64];
	uint16_t port;
	unsigned session_ttl; /* seconds */
	size_t max_body;      /* bytes */
	size_t max_import_body; /* bytes, POST /import only */
	size_t max_value;     /* bytes */
	unsigned max_connections;	 /* soft cap: the oldest waiting one is evicted */
	unsigned max_connections_per_ip; /* the same, per address */
	unsigned connection_timeout;	 /* seconds of silence */
	unsigned header_timeout;	 /* seconds to deliver a whole request head */
	unsigned body_min_rate;		 /* bytes/s: a body's deadline grows with its size */
	int strict_http;		 /* refuse heads that are not byte-exact CRLF form */
	unsigned threads;
	unsigned unlock_max_failures;
	unsigned unlock_window; /* seconds */
	unsigned token_issue_per_hour;
	unsigned token_min_ttl; /* seconds */
	unsigned kdf_memory;	/* KiB, for new vaults */
	unsigned kdf_iterations;
	unsigned kdf_parallelism;
	unsigned trust_proxy;	 /* proxies in front (X-Forwarded-For hops) */
	unsigned audit_coalesce; /* seconds a denial window lasts; 0: no coalescing */
	char audit_sink[1024];	 /* "" none, a file path, or "syslog:<facility>" */
	char tls_cert_file[1024]; /* "" plain HTTP; else PEM chain, with tls_key_file */
	char tls_key_file[1024];
	int quiet;
	int log_json;	    /* LOG_FORMAT=json */
	int log_requests;   /* one info line per request */
	int metrics_public; /* GET /metrics without x-auth-token */
	int seccomp; /* SECCOMP: enter the sandbox once serving */

	unsigned unlock_queue;		    /* unlocks admitted at once (running + waiting) */
	unsigned unlock_queue_wait;	    /* seconds an unlock may wait for its turn */
	unsigned unlock_max_failures_total; /* failed unlocks per window, all clients */
	unsigned mgmt_auth_max_failures;    /* bad AUTH_TOKENs per address per window */
	unsigned mgmt_auth_window;	    /* seconds */
	unsigned unlock_shares_window;	    /* seconds pending shares wait for the k-th */
};

/* One row per variable: name, default, what it sets. */
struct config_var {
	const char *name;
	const char *def;
	const char *help;
};
extern const struct config_var config_vars[];

/* Reads the environment. On a missing or invalid setting writes one line to
 * err (naming the variable) and returns -1. */
int config_load(struct config *cfg, char *err, size_t errlen);

#endif
