/* limit.h: every bound more than one file relies on, defined once with the
 * reason for its value; tests/unit/limit_test.c checks how they must relate.
 * Constants only: no code, no includes. Plain literals, so LIMIT_STR works. */
#ifndef GV_LIMIT_H
#define GV_LIMIT_H

/* A limit as text, for messages and the settings table. */
#define LIMIT_STR_(x) #x
#define LIMIT_STR(x) LIMIT_STR_(x)

/* Names. Secret names, userId, groupId, revokedBy and allowedSecrets
 * entries: the original's ^[A-Za-z0-9_.-]{1,255}$, so imports round-trip. */
#define LIMIT_NAME_MAX 255
/* A token id as parsed and stored: ours are 32 hex digits; room for others. */
#define LIMIT_TOKEN_ID_MAX 64
/* A client address as text (INET6_ADDRSTRLEN is 46). */
#define LIMIT_ADDR_TEXT 64

/* Vault password, bytes: Argon2 input; more adds nothing but queue memory. */
#define LIMIT_PASSWORD_MAX 1024
/* Characters (not bytes) a new vault password needs at least. */
#define LIMIT_PASSWORD_MIN_CHARS 16

/* Capability token, bytes: it travels in one request header (see below). */
#define LIMIT_TOKEN_MAX 16384
/* allowedSecrets entries: the original's cap. */
#define LIMIT_ALLOWED_MAX 256
/* permissions entries: four kinds; repeats tolerated, not unbounded. */
#define LIMIT_PERMS_MAX 16
/* ttlSeconds default and ceiling (30 days; also TOKEN_MIN_TTL_SECONDS'). */
#define LIMIT_TTL_DEFAULT 3600
#define LIMIT_TTL_MAX 2592000

/* ?limit= of GET /audit and GET /tokens: 1..max; one page is built in memory. */
#define LIMIT_PAGE_MAX 1000
#define LIMIT_PAGE_DEFAULT 100
/* GET /secrets: a vault of up to this many names answers in one page, as
 * the original does; a bigger one is walked with ?after=<next>. */
#define LIMIT_PAGE_LIST_DEFAULT 1000
/* GET /audit/secret/:key's default page. */
#define LIMIT_PAGE_SECRET_DEFAULT 50
/* Audit entries not yet in the per-secret index (the tail), beyond which a
 * batch indexes a chunk of them before its COMMIT, so that under a load
 * that never leaves the committer idle the tail stays bounded: each
 * GET /audit/secret/:key scans the whole tail (16k rows, a few ms). */
#define LIMIT_AUDIT_TAIL_MAX 16384

/* HTTP. libmicrohttpd's per-connection pool holds the whole request head
 * (and the response head); above 32 KiB 0.9.75 maps it, so it is unmapped at
 * close instead of lingering in freed heap. It zeroes the whole pool before
 * each request of a connection, a cost in proportion to its size (about a
 * tenth of an audited read at 64 KiB), so it is no bigger than the longest
 * head needs (limit_test.c). */
#define LIMIT_CONN_MEMORY 49152
/* Request target, bytes, and its segments (the longest route has 3). */
#define LIMIT_PATH_MAX 2048
#define LIMIT_PATH_SEGS 8
/* Header bytes besides the token and the request line a client may need
 * (Host, Content-Type, Content-Length, X-Forwarded-For...). */
#define LIMIT_HEAD_OTHER 4096
/* A route's body cap below this is a table mistake (a leftover 0/1). */
#define LIMIT_ROUTE_BODY_MIN 256
/* Per-route body caps: {userId}-sized bodies; a password (escaped) and a
 * userId; a token request with every allowedSecrets entry at its longest. */
#define LIMIT_ROUTE_BODY_SMALL 4096
#define LIMIT_ROUTE_BODY_PASSWORD 32768
#define LIMIT_ROUTE_BODY_TOKEN 131072

/* A streamed answer (GET /export) is handed to libmicrohttpd in blocks of
 * this many bytes. */
#define LIMIT_STREAM_BLOCK 32768

/* MAX_BODY_BYTES: default room for a MAX_VALUE_BYTES value plus the rest
 * of a secret's body (LIMIT_BODY_OVERHEAD: name, metadata, JSON); range. */
#define LIMIT_BODY_DEFAULT 1114112
#define LIMIT_BODY_MIN 1024
#define LIMIT_BODY_MAX 67108864
#define LIMIT_BODY_OVERHEAD 65536
/* IMPORT_MAX_BODY_BYTES: default room for the export of a 100,000-secret
 * vault (~35 MiB with short values) with margin; range. The import is
 * parsed whole, so its peak memory is a few times this (README). */
#define LIMIT_IMPORT_DEFAULT 67108864
#define LIMIT_IMPORT_MAX 1073741824
/* MAX_VALUE_BYTES: default 1 MiB as the original; range. */
#define LIMIT_VALUE_DEFAULT 1048576
#define LIMIT_VALUE_MAX 67108864

/* Locked memory (OpenSSL's secure heap; a power of two): keys, and each
 * admitted unlock's password copy (rounded up to a power of two). */
#define LIMIT_SECURE_HEAP 65536
/* UNLOCK_QUEUE's ceiling: admitted passwords take at most half the heap. */
#define LIMIT_UNLOCK_QUEUE_MAX 16

#endif
