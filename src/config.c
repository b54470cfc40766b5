/* config.c: environment parsing with bounds. Never logs AUTH_TOKEN or
 * SIGNING_KEY. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "limit.h"

const struct config_var config_vars[] = {
    {"GROUP_ID", "(required)", "group this vault serves; tokens for other groups get 403"},
    {"AUTH_TOKEN", "(required)", "management API token (x-auth-token)"},
    {"SIGNING_KEY", "(generated)", "capability token HMAC key; else kept in DATA_DIR/signing.key"},
    {"PORT", "18790", "TCP port"},
    {"BIND_ADDRESS", "127.0.0.1", "listen address (0.0.0.0 in containers)"},
    {"DATA_DIR", "./data", "directory for vault.db and signing.key"},
    {"SESSION_TTL_SECONDS", "1800", "unlock session length"},
    {"MAX_BODY_BYTES", LIMIT_STR(LIMIT_BODY_DEFAULT), "largest request body (413 beyond)"},
    {"IMPORT_MAX_BODY_BYTES", LIMIT_STR(LIMIT_IMPORT_DEFAULT),
     "largest POST /import body: a whole vault's export (413 beyond)"},
    {"MAX_VALUE_BYTES", LIMIT_STR(LIMIT_VALUE_DEFAULT), "largest secret value (413 beyond)"},
    {"MAX_CONNECTIONS", "256", "connections; beyond, the longest-waiting idle one is closed"},
    {"MAX_CONNECTIONS_PER_IP", "64", "the same, per client address (IPv6: per /64)"},
    {"CONNECTION_TIMEOUT_SECONDS", "30", "idle connection timeout"},
    {"HEADER_TIMEOUT_SECONDS", "10", "deadline for a complete request head"},
    {"BODY_MIN_RATE", "4096", "bytes/s a body must average (its deadline)"},
    {"STRICT_HTTP", "1", "1: refuse bare LF, NUL and padded request heads"},
    {"THREADS", "0", "HTTP worker threads (0: one per CPU)"},
    {"UNLOCK_MAX_FAILURES", "5", "failed unlocks per client per window (429 beyond)"},
    {"UNLOCK_WINDOW_SECONDS", "900", "window for UNLOCK_MAX_FAILURES"},
    {"TOKEN_ISSUE_PER_HOUR", "100", "capability tokens issued per user per hour"},
    {"TOKEN_MIN_TTL_SECONDS", "60", "shortest ttlSeconds a token may ask for"},
    {"KDF_MEMORY_KIB", "65536", "Argon2id memory for new vaults"},
    {"KDF_ITERATIONS", "3", "Argon2id passes for new vaults"},
    {"KDF_PARALLELISM", "4", "Argon2id lanes for new vaults"},
    {"TRUST_PROXY", "0",
     "N trusted proxies in front: the client is the Nth X-Forwarded-For hop from the right"},
    {"QUIET", "0", "1: no info logs"},
    {"LOG_FORMAT", "text", "text, or json: one JSON object per line"},
    {"LOG_REQUESTS", "0", "1: one info line per request (route pattern, status, duration, id)"},
    {"METRICS_PUBLIC", "0", "1: GET /metrics without x-auth-token"},
    {"SECCOMP", "1", "1: confine the running daemon with a seccomp filter (0: off, for debugging)"},
    {"AUDIT_COALESCE_SECONDS", "60",
     "window for coalescing repeated denials/not-found per token (0: one entry each)"},
    {"AUDIT_SINK", "(none)",
     "also push each audit entry to a file (JSON lines) or syslog:<facility>"},
    {"UNLOCK_QUEUE", "8", "unlocks admitted at once, one Argon2id at a time (429 beyond)"},
    {"UNLOCK_QUEUE_WAIT_SECONDS", "25", "longest an unlock may wait for its turn (429 beyond)"},
    {"UNLOCK_MAX_FAILURES_TOTAL", "50",
     "failed unlocks per UNLOCK_WINDOW_SECONDS from all clients (then 429 for everyone)"},
    {"MGMT_AUTH_MAX_FAILURES", "20", "bad x-auth-token per address per window (429 beyond)"},
    {"MGMT_AUTH_WINDOW_SECONDS", "60", "window for MGMT_AUTH_MAX_FAILURES"},
    {"UNLOCK_SHARES_WINDOW_SECONDS", "600",
     "how long received shares wait for the k-th before they are wiped"},
    {"TLS_CERT_FILE", "(none)",
     "PEM certificate chain: serve HTTPS (with TLS_KEY_FILE; SIGHUP reloads)"},
    {"TLS_KEY_FILE", "(none)", "PEM private key (unencrypted) of TLS_CERT_FILE"},
    {NULL, NULL, NULL},
};

static const char *config_get(const char *name)
{
	const char *v = getenv(name);

	if (v != NULL && *v != '\0')
		return v;
	for (const struct config_var *c = config_vars; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0 && c->def[0] != '(')
			return c->def;
	return NULL;
}

static int config_uint(const char *name, unsigned long lo, unsigned long hi, unsigned long *out,
		       char *err, size_t errlen)
{
	const char *v = config_get(name);
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || n < lo || n > hi) {
		snprintf(err, errlen, "%s must be an integer from %lu to %lu", name, lo, hi);
		return -1;
	}
	*out = n;
	return 0;
}

static int config_str(const char *name, char *dst, size_t dstlen, int required, char *err,
		      size_t errlen)
{
	const char *v = config_get(name);

	if (v == NULL) {
		if (required) {
			snprintf(err, errlen, "%s is required", name);
			return -1;
		}
		dst[0] = '\0';
		return 0;
	}
	if (strlen(v) >= dstlen) {
		snprintf(err, errlen, "%s is too long (at most %zu bytes)", name, dstlen - 1);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

int config_load(struct config *cfg, char *err, size_t errlen)
{
	unsigned long n;

	memset(cfg, 0, sizeof(*cfg));
	if (config_str("GROUP_ID", cfg->group_id, sizeof(cfg->group_id), 1, err, errlen) ||
	    config_str("AUTH_TOKEN", cfg->auth_token, sizeof(cfg->auth_token), 1, err, errlen) ||
	    config_str("SIGNING_KEY", cfg->signing_key, sizeof(cfg->signing_key), 0, err, errlen) ||
	    config_str("DATA_DIR", cfg->data_dir, sizeof(cfg->data_dir), 1, err, errlen) ||
	    config_str("BIND_ADDRESS", cfg->bind_address, sizeof(cfg->bind_address), 1, err,
		       errlen) ||
	    config_str("AUDIT_SINK", cfg->audit_sink, sizeof(cfg->audit_sink), 0, err, errlen) ||
	    config_str("TLS_CERT_FILE", cfg->tls_cert_file, sizeof(cfg->tls_cert_file), 0, err,
		       errlen) ||
	    config_str("TLS_KEY_FILE", cfg->tls_key_file, sizeof(cfg->tls_key_file), 0, err,
		       errlen))
		return -1;
	if ((cfg->tls_cert_file[0] == '\0') != (cfg->tls_key_file[0] == '\0')) {
		snprintf(err, errlen,
			 "TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither");
		return -1;
	}
	if (strlen(cfg->auth_token) < 16) {
		snprintf(err, errlen, "AUTH_TOKEN must be at least 16 characters");
		return -1;
	}
	if (strlen(cfg->signing_key) > 0 && strlen(cfg->signing_key) < 32) {
		snprintf(err, errlen, "SIGNING_KEY must be at least 32 characters");
		return -1;
	}
#define UINT_VAR(name, lo, hi, field)                                                              \
	do {                                                                                       \
		if (config_uint(name, lo, hi, &n, err, errlen) != 0)                               \
			return -1;                                                                 \
		cfg->field = n;                                                                    \
	} while (0)
	UINT_VAR("PORT", 1, 65535, port);
	UINT_VAR("SESSION_TTL_SECONDS", 1, 86400, session_ttl);
	UINT_VAR("MAX_BODY_BYTES", LIMIT_BODY_MIN, LIMIT_BODY_MAX, max_body);
	UINT_VAR("IMPORT_MAX_BODY_BYTES", LIMIT_BODY_MIN, LIMIT_IMPORT_MAX, max_import_body);
	UINT_VAR("MAX_VALUE_BYTES", 1, LIMIT_VALUE_MAX, max_value);
	UINT_VAR("MAX_CONNECTIONS", 1, 65536, max_connections);
	UINT_VAR("MAX_CONNECTIONS_PER_IP", 1, 65536, max_connections_per_ip);
	UINT_VAR("CONNECTION_TIMEOUT_SECONDS", 1, 3600, connection_timeout);
	UINT_VAR("HEADER_TIMEOUT_SECONDS", 1, 600, header_timeout);
	UINT_VAR("BODY_MIN_RATE", 1, 1UL << 30, body_min_rate);
	UINT_VAR("STRICT_HTTP", 0, 1, strict_http);
	UINT_VAR("THREADS", 0, 256, threads);
	UINT_VAR("UNLOCK_MAX_FAILURES", 1, 1000000, unlock_max_failures);
	UINT_VAR("UNLOCK_WINDOW_SECONDS", 1, 86400, unlock_window);
	UINT_VAR("TOKEN_ISSUE_PER_HOUR", 1, 1000000, token_issue_per_hour);
	UINT_VAR("TOKEN_MIN_TTL_SECONDS", 1, LIMIT_TTL_MAX, token_min_ttl);
	UINT_VAR("KDF_MEMORY_KIB", CRYPTO_KDF_MIN_MEMORY, CRYPTO_KDF_MAX_MEMORY, kdf_memory);
	UINT_VAR("KDF_ITERATIONS", CRYPTO_KDF_MIN_ITER, CRYPTO_KDF_MAX_ITER, kdf_iterations);
	UINT_VAR("KDF_PARALLELISM", CRYPTO_KDF_MIN_LANES, CRYPTO_KDF_MAX_LANES, kdf_parallelism);
	UINT_VAR("TRUST_PROXY", 0, 16, trust_proxy);
	UINT_VAR("QUIET", 0, 1, quiet);
	UINT_VAR("LOG_REQUESTS", 0, 1, log_requests);
	UINT_VAR("METRICS_PUBLIC", 0, 1, metrics_public);
	UINT_VAR("SECCOMP", 0, 1, seccomp);
	UINT_VAR("AUDIT_COALESCE_SECONDS", 0, 86400, audit_coalesce);
	UINT_VAR("UNLOCK_QUEUE", 1, LIMIT_UNLOCK_QUEUE_MAX, unlock_queue);
	UINT_VAR("UNLOCK_QUEUE_WAIT_SECONDS", 1, 300, unlock_queue_wait);
	UINT_VAR("UNLOCK_MAX_FAILURES_TOTAL", 1, 1000000, unlock_max_failures_total);
	UINT_VAR("MGMT_AUTH_MAX_FAILURES", 1, 1000000, mgmt_auth_max_failures);
	UINT_VAR("MGMT_AUTH_WINDOW_SECONDS", 1, 86400, mgmt_auth_window);
	UINT_VAR("UNLOCK_SHARES_WINDOW_SECONDS", 1, 86400, unlock_shares_window);
#undef UINT_VAR
	if (strcmp(config_get("LOG_FORMAT"), "text") != 0 &&
	    strcmp(config_get("LOG_FORMAT"), "json") != 0) {
		snprintf(err, errlen, "LOG_FORMAT must be text or json");
		return -1;
	}
	cfg->log_json = strcmp(config_get("LOG_FORMAT"), "json") == 0;
	/* A per-address cap above the total cap means the total cap. */
	if (cfg->max_connections_per_ip > cfg->max_connections)
		cfg->max_connections_per_ip = cfg->max_connections;
	return 0;
}
