/* tls.h: the HTTPS certificate and key for the HTTP layer. One pair per
 * process, swapped whole on reload; each TLS handshake gets its own copy,
 * so a reload never disturbs a connection or the vault's session. */
#ifndef GV_TLS_H
#define GV_TLS_H

#include <stddef.h>

/* The GnuTLS priority string: TLS 1.3 and 1.2 only, AEAD suites only,
 * forward-secret key exchange only. */
#define TLS_PRIORITIES                                                                             \
	"SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:"       \
	"+AES-128-GCM:+CHACHA20-POLY1305:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SAFE_RENEGOTIATION"

/* Reads and checks the PEM certificate chain and key (unencrypted), and
 * the priority string. 0, or -1 with one line in err saying which file and
 * why (unreadable, not PEM, key does not match the certificate). */
int tls_load(const char *cert_file, const char *key_file, char *err, size_t errlen);
/* Re-reads the files tls_load named. On success new handshakes use the new
 * pair; on failure the old pair stays and one line is logged. 0 / -1. */
int tls_reload(void);
/* 1 once tls_load succeeded. */
int tls_enabled(void);
/* The handshake's certificate callback, typed for libmicrohttpd's
 * MHD_OPTION_HTTPS_CERT_CALLBACK2 (a gnutls_certificate_retrieve_function3);
 * kept opaque here so that gnutls.h stays in tls.c. */
typedef void tls_fn(void);
tls_fn *tls_cert_callback(void);
/* The health probe's side (`--healthcheck` against an HTTPS daemon): on
 * the connected socket fd, a TLS handshake (the server's certificate is
 * not checked: the probe sends nothing secret and reads one status line),
 * then req is sent and up to len - 1 bytes of the answer are read into
 * buf, NUL-terminated. Returns the bytes read, or -1. */
long tls_probe(int fd, const char *req, size_t reqlen, char *buf, size_t len, unsigned timeout_ms);
/* Drops the pair (after the HTTP daemon has stopped). */
void tls_unload(void);

#endif
