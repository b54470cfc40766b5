/* tls.c: TLS_CERT_FILE and TLS_KEY_FILE for libmicrohttpd's GnuTLS. Reads
 * and checks the pair, hands each handshake a copy of its own (GnuTLS frees
 * it with the session) and swaps the pair on SIGHUP without touching the
 * HTTP daemon; and the health probe's client side. The only file that
 * includes gnutls; never logs key bytes. */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"

#define TLS_FILE_MAX (1u << 20) /* a PEM chain or key larger than this is refused */
#define TLS_CHAIN_MAX 16	/* certificates in TLS_CERT_FILE */

/* One loaded pair. Handshakes hold a reference while they copy from it. */
struct tls_pair {
	unsigned refs;	     /* under tls_lock */
	gnutls_datum_t cert; /* PEM chain */
	gnutls_datum_t key;  /* PEM, in a wipe-on-free buffer */
};

static pthread_mutex_t tls_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_pair *tls_cur;
static char tls_cert_path[1024], tls_key_path[1024];

static void tls_pair_free(struct tls_pair *p)
{
	if (p == NULL)
		return;
	free(p->cert.data);
	if (p->key.data != NULL)
		crypto_wipe(p->key.data, p->key.size);
	crypto_wipe_free(p->key.data);
	free(p);
}

static struct tls_pair *tls_pair_get(void)
{
	struct tls_pair *p;

	pthread_mutex_lock(&tls_lock);
	p = tls_cur;
	if (p != NULL)
		p->refs++;
	pthread_mutex_unlock(&tls_lock);
	return p;
}

static void tls_pair_put(struct tls_pair *p)
{
	unsigned left;

	if (p == NULL)
		return;
	pthread_mutex_lock(&tls_lock);
	left = --p->refs;
	pthread_mutex_unlock(&tls_lock);
	if (left == 0)
		tls_pair_free(p);
}

/* Reads a whole file into d (wipe: a wipe-on-free buffer). 0, or -1 with
 * the reason in err. */
static int tls_read(const char *var, const char *path, int wipe, gnutls_datum_t *d, char *err,
		    size_t errlen)
{
	struct stat st;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	d->data = NULL;
	d->size = 0;
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s %s: cannot read: %s", var, path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (size_t)st.st_size > TLS_FILE_MAX) {
		snprintf(err, errlen, "%s %s: not a regular file of 1 byte to %u bytes", var, path,
			 TLS_FILE_MAX);
		goto fail;
	}
	d->data = wipe ? crypto_wipe_malloc((size_t)st.st_size) : malloc((size_t)st.st_size);
	if (d->data == NULL) {
		snprintf(err, errlen, "%s %s: out of memory", var, path);
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, d->data + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s %s: cannot read: %s", var, path,
				 n < 0 ? strerror(errno) : "file shrank");
			goto fail;
		}
		got += (size_t)n;
	}
	d->size = (unsigned)got;
	close(fd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (wipe)
		crypto_wipe_free(d->data);
	else
		free(d->data);
	d->data = NULL;
	return -1;
}

/* The pair as GnuTLS would use it: parses both and checks that the key is
 * the certificate's. */
static int tls_check(const struct tls_pair *p, char *err, size_t errlen)
{
	gnutls_certificate_credentials_t c;
	int rc;

	if (gnutls_certificate_allocate_credentials(&c) < 0) {
		snprintf(err, errlen, "TLS: out of memory");
		return -1;
	}
	rc = gnutls_certificate_set_x509_key_mem2(c, &p->cert, &p->key, GNUTLS_X509_FMT_PEM, NULL,
						  0);
	gnutls_certificate_free_credentials(c);
	if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
		snprintf(err, errlen, "TLS_KEY_FILE %s does not belong to TLS_CERT_FILE %s",
			 tls_key_path, tls_cert_path);
	else if (rc < 0)
		snprintf(err, errlen,
			 "TLS_CERT_FILE %s / TLS_KEY_FILE %s: not a usable PEM "
			 "certificate and unencrypted key (%s)",
			 tls_cert_path, tls_key_path, gnutls_strerror(rc));
	return rc < 0 ? -1 : 0;
}

static struct tls_pair *tls_pair_load(char *err, size_t errlen)
{
	struct tls_pair *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		snprintf(err, errlen, "TLS: out of memory");
		return NULL;
	}
	p->refs = 1;
	if (tls_read("TLS_CERT_FILE", tls_cert_path, 0, &p->cert, err, errlen) != 0 ||
	    tls_read("TLS_KEY_FILE", tls_key_path, 1, &p->key, err, errlen) != 0 ||
	    tls_check(p, err, errlen) != 0) {
		tls_pair_free(p);
		return NULL;
	}
	return p;
}

int tls_load(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
	gnutls_priority_t prio;
	const char *where = NULL;
	struct tls_pair *p;

	if (strlen(cert_file) >= sizeof(tls_cert_path) ||
	    strlen(key_file) >= sizeof(tls_key_path)) {
		snprintf(err, errlen, "TLS_CERT_FILE / TLS_KEY_FILE: path too long");
		return -1;
	}
	if (gnutls_priority_init(&prio, TLS_PRIORITIES, &where) < 0) {
		snprintf(err, errlen, "TLS: GnuTLS refuses the priority string at \"%s\"",
			 where ? where : "?");
		return -1;
	}
	gnutls_priority_deinit(prio);
	snprintf(tls_cert_path, sizeof(tls_cert_path), "%s", cert_file);
	snprintf(tls_key_path, sizeof(tls_key_path), "%s", key_file);
	p = tls_pair_load(err, errlen);
	if (p == NULL)
		return -1;
	pthread_mutex_lock(&tls_lock);
	tls_cur = p;
	pthread_mutex_unlock(&tls_lock);
	return 0;
}

int tls_reload(void)
{
	struct tls_pair *p, *old;
	char err[512];

	if (!tls_enabled())
		return 0;
	p = tls_pair_load(err, sizeof(err));
	if (p == NULL) {
		log_err("tls: reload failed, keeping the current pair: %s", err);
		return -1;
	}
	pthread_mutex_lock(&tls_lock);
	old = tls_cur;
	tls_cur = p;
	pthread_mutex_unlock(&tls_lock);
	tls_pair_put(old);
	log_info("tls: reloaded %s and %s", tls_cert_path, tls_key_path);
	return 0;
}

int tls_enabled(void)
{
	int on;

	pthread_mutex_lock(&tls_lock);
	on = tls_cur != NULL;
	pthread_mutex_unlock(&tls_lock);
	return on;
}

/* GnuTLS asks for the server's certificate: a fresh copy of the current
 * pair, which GnuTLS deinitialises with the session
 * (GNUTLS_CERT_RETR_DEINIT_ALL). -1 fails the handshake. */
static int tls_retrieve(gnutls_session_t s, const struct gnutls_cert_retr_st *info,
			gnutls_pcert_st **certs, unsigned *ncerts, gnutls_ocsp_data_st **ocsp,
			unsigned *nocsp, gnutls_privkey_t *key, unsigned *flags)
{
	struct tls_pair *p = tls_pair_get();
	gnutls_pcert_st *list = NULL;
	gnutls_privkey_t k = NULL;
	unsigned n = TLS_CHAIN_MAX;
	int rc = -1;

	(void)s;
	(void)info;
	*certs = NULL;
	*ncerts = 0;
	*ocsp = NULL;
	*nocsp = 0;
	*key = NULL;
	*flags = 0;
	if (p == NULL)
		return -1;
	list = gnutls_calloc(TLS_CHAIN_MAX, sizeof(*list));
	if (list == NULL ||
	    gnutls_pcert_list_import_x509_raw(list, &n, &p->cert, GNUTLS_X509_FMT_PEM, 0) < 0) {
		n = 0;
		goto out;
	}
	if (gnutls_privkey_init(&k) < 0 ||
	    gnutls_privkey_import_x509_raw(k, &p->key, GNUTLS_X509_FMT_PEM, NULL, 0) < 0)
		goto out;
	*certs = list;
	*ncerts = n;
	*key = k;
	*flags = GNUTLS_CERT_RETR_DEINIT_ALL;
	list = NULL;
	k = NULL;
	rc = 0;
out:
	if (rc != 0)
		log_warn("tls: cannot prepare the certificate for a handshake");
	for (unsigned i = 0; list != NULL && i < n; i++)
		gnutls_pcert_deinit(&list[i]);
	gnutls_free(list);
	if (k != NULL)
		gnutls_privkey_deinit(k);
	tls_pair_put(p);
	return rc;
}

tls_fn *tls_cert_callback(void) { return (tls_fn *)tls_retrieve; }

long tls_probe(int fd, const char *req, size_t reqlen, char *buf, size_t len, unsigned timeout_ms)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_session_t s = NULL;
	size_t got = 0;
	long rc = -1;
	int r;

	if (len == 0 || gnutls_certificate_allocate_credentials(&cred) < 0 ||
	    gnutls_init(&s, GNUTLS_CLIENT) < 0 ||
	    gnutls_priority_set_direct(s, TLS_PRIORITIES, NULL) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) < 0)
		goto out;
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, timeout_ms);
	do
		r = gnutls_handshake(s);
	while (r < 0 && gnutls_error_is_fatal(r) == 0);
	if (r < 0 || gnutls_record_send(s, req, reqlen) != (ssize_t)reqlen)
		goto out;
	while (got < len - 1) {
		ssize_t n = gnutls_record_recv(s, buf + got, len - 1 - got);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	rc = (long)got;
out:
	buf[got] = '\0';
	if (s != NULL)
		gnutls_deinit(s);
	if (cred != NULL)
		gnutls_certificate_free_credentials(cred);
	return rc;
}

void tls_unload(void)
{
	struct tls_pair *p;

	pthread_mutex_lock(&tls_lock);
	p = tls_cur;
	tls_cur = NULL;
	pthread_mutex_unlock(&tls_lock);
	tls_pair_put(p);
}
