/* vault_signkey.c: the key that signs capability tokens, from SIGNING_KEY
 * or a random one kept in DATA_DIR/signing.key (mode 0600; its mode and
 * ownership are checked first, datadir.c, and a link is never followed).
 * The key lives only in the secure heap; the file's text is wiped from the
 * stack. */
#include "vault_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "enc.h"
#include "log.h"

/* Reads the 64 hex characters of an existing file. 0 or -1 (logged). */
static int vault_signkey_read(int fd, const char *path, char text[65])
{
	unsigned char raw[32];
	ssize_t n = read(fd, text, 64);
	int rc = 0;

	close(fd);
	if (n != 64 || enc_hex_decode(text, 64, raw) != 0) {
		log_err("%s: %s is malformed", __func__, path);
		rc = -1;
	}
	crypto_wipe(raw, sizeof(raw));
	return rc;
}

/* Creates the file with 32 random bytes as hex. 0 or -1 (logged). */
static int vault_signkey_create(const char *path, char text[65])
{
	unsigned char raw[32];
	int fd, rc = -1;

	if (crypto_random(raw, sizeof(raw)) != 0)
		goto done;
	enc_hex_encode(raw, sizeof(raw), text);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, 64) != 64 || fsync(fd) != 0) {
		log_err("%s: cannot write %s: %s", __func__, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto done;
	}
	close(fd);
	log_info("generated a signing key in %s", path);
	rc = 0;
done:
	crypto_wipe(raw, sizeof(raw));
	return rc;
}

/* Either way the HMAC key is SHA-256 of the text, as the original derives it. */
int vault_signkey_load(struct vault *v)
{
	char path[2048], text[65] = {0};
	int fd, rc;

	v->sign_key = crypto_secure_alloc(CRYPTO_HASH_LEN);
	if (v->sign_key == NULL)
		return -1;
	if (v->cfg->signing_key[0] != '\0')
		return crypto_sha256(v->cfg->signing_key, strlen(v->cfg->signing_key), v->sign_key);
	snprintf(path, sizeof(path), "%s/signing.key", v->cfg->data_dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT) {
		log_err("%s: cannot open %s: %s", __func__, path, strerror(errno));
		return -1;
	}
	rc = fd >= 0 ? vault_signkey_read(fd, path, text) : vault_signkey_create(path, text);
	if (rc == 0)
		rc = crypto_sha256(text, 64, v->sign_key);
	crypto_wipe(text, sizeof(text));
	return rc;
}
