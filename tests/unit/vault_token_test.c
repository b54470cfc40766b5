/* vault_token_test.c: the registry check against a row tampered on disk,
 * including the race a check made while locked would open: the secret
 * operation judges the row's MAC again under the keys it uses. Its own
 * temp dir, removed even on failure. */
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_common.h"

#include "config.h"
#include "crypto.h"
#include "jalloc.h"
#include "token.h"
#include "vault.h"

#define PW "correct horse battery staple"
#define PW_LEN (sizeof(PW) - 1)

struct fx {
	char dir[32];
	struct config cfg;
	struct vault *v;
};

static const struct vault_actor who = {"tester", "127.0.0.1"};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[128];

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/gv-vtok-test-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	*state = f;
	setenv("DATA_DIR", f->dir, 1);
	if (config_load(&f->cfg, err, sizeof(err)) != 0 || (f->v = vault_new(&f->cfg)) == NULL)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vault_free(f->v);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void sql(struct fx *f, const char *q)
{
	char path[64];
	sqlite3 *h;

	snprintf(path, sizeof(path), "%s/vault.db", f->dir);
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	assert_int_equal(sqlite3_exec(h, q, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

static char *issue(struct vault *v)
{
	json_t *allowed = json_pack("[s]", "*"), *perms = json_pack("[s,s]", "read", "write");
	json_t *out = NULL;
	char *tok;

	assert_int_equal(vault_token_issue(v, "app", allowed, perms, 3600, &who, &out), VAULT_OK);
	tok = strdup(json_string_value(json_object_get(out, "token")));
	json_decref(out);
	json_decref(allowed);
	json_decref(perms);
	return tok;
}

static void test_check_while_locked_is_judged_at_use(void **state)
{
	struct fx *f = *state;
	struct vault_defer *d = NULL;
	struct cap *cap = NULL;
	long long count;
	unsigned retry;
	json_t *list = NULL;
	char *tok;

	assert_int_equal(vault_init(f->v, PW, PW_LEN, &who), VAULT_OK);
	assert_int_equal(vault_unlock(f->v, PW, PW_LEN, &who, &count, &retry), VAULT_OK);
	tok = issue(f->v);
	assert_int_equal(vault_lock(f->v, &who), VAULT_OK);
	/* The row's MAC replaced behind the daemon's back. */
	sql(f, "UPDATE tokens SET mac = zeroblob(32)");
	/* Locked, the MAC cannot be judged; the revocation flags are. */
	assert_int_equal(vault_token_check(f->v, tok, strlen(tok), &cap), VAULT_OK);
	/* An unlock lands between the check and the operation. */
	assert_int_equal(vault_unlock(f->v, PW, PW_LEN, &who, &count, &retry), VAULT_OK);
	assert_int_equal(vault_secret_get(f->v, cap, "a", 1, "ip", &d), VAULT_TOKEN_INVALID);
	assert_null(d);
	assert_int_equal(vault_secret_list(f->v, cap, "ip", NULL, 0, &list), VAULT_TOKEN_INVALID);
	assert_int_equal(vault_secret_delete(f->v, cap, "a", 1, "ip"), VAULT_TOKEN_INVALID);
	token_cap_free(cap);
	cap = NULL;
	/* And checked now, refused outright. */
	assert_int_equal(vault_token_check(f->v, tok, strlen(tok), &cap), VAULT_TOKEN_INVALID);
	free(tok);
}

static void test_revoke_by_id_hash_and_unknown(void **state)
{
	struct fx *f = *state;
	unsigned char h[32];
	char hex[65], *tok;
	struct cap *cap = NULL;
	long long count;
	unsigned retry;

	assert_int_equal(vault_init(f->v, PW, PW_LEN, &who), VAULT_OK);
	assert_int_equal(vault_unlock(f->v, PW, PW_LEN, &who, &count, &retry), VAULT_OK);
	tok = issue(f->v);
	assert_int_equal(vault_token_check(f->v, tok, strlen(tok), &cap), VAULT_OK);
	token_cap_free(cap);
	assert_int_equal(vault_token_revoke(f->v, "0123456789abcdef0123456789abcdef", &who),
			 VAULT_NO_TOKEN);
	assert_int_equal(crypto_sha256(tok, strlen(tok), h), 0);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	assert_int_equal(vault_token_revoke(f->v, hex, &who), VAULT_OK);
	assert_int_equal(vault_token_check(f->v, tok, strlen(tok), &cap), VAULT_TOKEN_INVALID);
	assert_int_equal(vault_token_revoke(f->v, hex, &who), VAULT_OK); /* again: fine */
	free(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_check_while_locked_is_judged_at_use, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_revoke_by_id_hash_and_unknown, setup, teardown),
	};

	jalloc_init();
	setenv("GROUP_ID", "vault-test", 1);
	setenv("AUTH_TOKEN", "vault-test-auth-token-0123456789", 1);
	setenv("KDF_MEMORY_KIB", "1024", 1);
	setenv("KDF_ITERATIONS", "1", 1);
	setenv("KDF_PARALLELISM", "1", 1);
	setenv("QUIET", "1", 1);
	unsetenv("SIGNING_KEY");
	return cmocka_run_group_tests_name("vault_token", tests, NULL, NULL);
}
