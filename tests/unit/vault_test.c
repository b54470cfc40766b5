/* vault_test.c: the vault layer without HTTP: init and unlock (wrong and
 * right password), tokens (issue, check, revoke), secrets through the
 * defer protocol, lock wiping the session, and an export imported into a
 * second vault. Each test has its own temp dirs, removed even on failure. */
#include <ftw.h>
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
	char dir[2][32];
	struct config cfg[2];
	struct vault *v[2];
	struct cap *cap;
};

static const struct vault_actor who = {"tester", "127.0.0.1"};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A vault in its own temp dir with the cheapest KDF the config accepts. */
static struct vault *fx_vault(struct fx *f, int i)
{
	char err[128];

	snprintf(f->dir[i], sizeof(f->dir[i]), "/tmp/gv-vault-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir[i]));
	setenv("DATA_DIR", f->dir[i], 1);
	assert_int_equal(config_load(&f->cfg[i], err, sizeof(err)), 0);
	f->v[i] = vault_new(&f->cfg[i]);
	assert_non_null(f->v[i]);
	return f->v[i];
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	token_cap_free(f->cap);
	for (int i = 0; i < 2; i++) {
		vault_free(f->v[i]);
		if (f->dir[i][0] != '\0')
			nftw(f->dir[i], rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	}
	free(f);
	return 0;
}

/* A token for user "app" with the given permissions on every secret; the
 * token text (caller frees) goes to *tok when tok is not NULL. */
static struct cap *issue(struct vault *v, const char *perms_csv, char **tok)
{
	json_t *allowed = json_pack("[s]", "*"), *perms = json_array(), *out = NULL;
	char buf[64], *save = NULL;
	struct cap *cap = NULL;
	const char *t;

	snprintf(buf, sizeof(buf), "%s", perms_csv);
	for (char *p = strtok_r(buf, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save))
		json_array_append_new(perms, json_string(p));
	assert_int_equal(vault_token_issue(v, "app", allowed, perms, 3600, &who, &out), VAULT_OK);
	t = json_string_value(json_object_get(out, "token"));
	assert_non_null(t);
	assert_int_equal(vault_token_check(v, t, strlen(t), &cap), VAULT_OK);
	assert_string_equal(cap->user_id, "app");
	if (tok != NULL)
		*tok = strdup(t);
	json_decref(out);
	json_decref(allowed);
	json_decref(perms);
	return cap;
}

/* Waits for a prepared read or write to commit and returns its answer. */
static json_t *settle(struct vault_defer *d)
{
	size_t len = 0;
	char *text;
	json_t *o;

	assert_non_null(d);
	assert_int_equal(vault_defer_wait(d), VAULT_OK);
	text = vault_defer_take(d, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	o = json_loadb(text, len, 0, NULL);
	crypto_wipe_free(text);
	vault_defer_free(d);
	assert_true(json_is_object(o));
	return o;
}

static void put(struct vault *v, const struct cap *cap, const char *name, const char *value,
		int created)
{
	struct vault_defer *d = NULL;
	json_t *val = json_string(value), *a;

	assert_int_equal(vault_secret_put(v, cap, name, strlen(name), val, NULL, "127.0.0.1", &d),
			 VAULT_OK);
	a = settle(d);
	assert_true(json_is_true(json_object_get(a, "success")));
	assert_int_equal(json_is_true(json_object_get(a, "created")), created);
	json_decref(a);
	json_decref(val);
}

static void read_is(struct vault *v, const struct cap *cap, const char *name, const char *value)
{
	struct vault_defer *d = NULL;
	json_t *a;

	assert_int_equal(vault_secret_get(v, cap, name, strlen(name), "127.0.0.1", &d), VAULT_OK);
	a = settle(d);
	assert_string_equal(json_string_value(json_object_get(a, "key")), name);
	assert_string_equal(json_string_value(json_object_get(a, "value")), value);
	json_decref(a);
}

static enum vault_err get_err(struct vault *v, const struct cap *cap, const char *name)
{
	struct vault_defer *d = NULL;
	enum vault_err e = vault_secret_get(v, cap, name, strlen(name), "127.0.0.1", &d);

	if (e == VAULT_OK)
		vault_defer_free(d);
	return e;
}

static void init_unlock(struct vault *v)
{
	long long count = -1;
	unsigned retry = 0;

	assert_int_equal(vault_init(v, PW, PW_LEN, &who), VAULT_OK);
	assert_int_equal(vault_unlock(v, PW, PW_LEN, &who, &count, &retry), VAULT_OK);
	assert_int_equal(count, 0);
}

static void test_init_unlock(void **state)
{
	struct fx *f = *state;
	struct vault *v = fx_vault(f, 0);
	long long count = -1;
	unsigned retry = 0, left = 0;

	assert_false(vault_is_initialized(v));
	assert_int_equal(vault_unlock(v, PW, PW_LEN, &who, &count, &retry), VAULT_NOT_INIT);
	assert_int_equal(vault_init(v, PW, PW_LEN, &who), VAULT_OK);
	assert_true(vault_is_initialized(v));
	assert_int_equal(vault_init(v, PW, PW_LEN, &who), VAULT_ALREADY_INIT);
	assert_int_equal(vault_session_left(v), 0);
	/* The wrong password opens nothing. */
	assert_int_equal(vault_unlock(v, "not the password at all", 23, &who, &count, &retry),
			 VAULT_BAD_PASSWORD);
	assert_int_equal(vault_session_left(v), 0);
	assert_int_equal(vault_extend(v, &left), VAULT_LOCKED);
	assert_int_equal(vault_unlock(v, PW, PW_LEN, &who, &count, &retry), VAULT_OK);
	assert_int_equal(count, 0);
	assert_true(vault_session_left(v) > 0);
	assert_int_equal(vault_extend(v, &left), VAULT_OK);
	assert_int_equal(left, f->cfg[0].session_ttl);
}

static void test_tokens(void **state)
{
	struct fx *f = *state;
	struct vault *v = fx_vault(f, 0);
	struct cap *c = NULL;
	char *tok = NULL;
	long long n = 0;

	init_unlock(v);
	f->cap = issue(v, "read", &tok);
	/* A changed byte breaks the signature. */
	tok[strlen(tok) - 2] ^= 1;
	assert_int_equal(vault_token_check(v, tok, strlen(tok), &c), VAULT_TOKEN_INVALID);
	tok[strlen(tok) - 2] ^= 1;
	assert_int_equal(vault_token_check(v, tok, strlen(tok), &c), VAULT_OK);
	token_cap_free(c);
	c = NULL;
	/* Revoked: refused from then on, cache or not. */
	assert_int_equal(vault_token_revoke(v, f->cap->id, &who), VAULT_OK);
	assert_int_equal(vault_token_check(v, tok, strlen(tok), &c), VAULT_TOKEN_INVALID);
	free(tok);
	token_cap_free(issue(v, "read", &tok));
	assert_int_equal(vault_token_revoke_user(v, "app", &who, &n), VAULT_OK);
	assert_int_equal(n, 1);
	assert_int_equal(vault_token_check(v, tok, strlen(tok), &c), VAULT_TOKEN_INVALID);
	assert_null(c);
	free(tok);
}

static void test_secrets(void **state)
{
	struct fx *f = *state;
	struct vault *v = fx_vault(f, 0);
	struct cap *ro;
	json_t *out = NULL, *val = json_string("x");
	struct vault_defer *d = NULL;

	init_unlock(v);
	f->cap = issue(v, "read,write,delete", NULL);
	assert_int_equal(get_err(v, f->cap, "db.password"), VAULT_NOT_FOUND);
	put(v, f->cap, "db.password", "first", 1);
	read_is(v, f->cap, "db.password", "first");
	/* A read after an acknowledged write sees it, cached row or not. */
	put(v, f->cap, "db.password", "second", 0);
	read_is(v, f->cap, "db.password", "second");
	assert_int_equal(vault_secret_list(v, f->cap, "127.0.0.1", NULL, 0, &out), VAULT_OK);
	assert_int_equal(json_array_size(json_object_get(out, "keys")), 1);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(out, "keys"), 0), "key")),
			    "db.password");
	json_decref(out);
	/* A read-only token may not write or delete. */
	ro = issue(v, "read", NULL);
	assert_int_equal(vault_secret_put(v, ro, "db.password", 11, val, NULL, "127.0.0.1", &d),
			 VAULT_ACCESS_DENIED);
	assert_null(d);
	assert_int_equal(vault_secret_delete(v, ro, "db.password", 11, "127.0.0.1"),
			 VAULT_ACCESS_DENIED);
	token_cap_free(ro);
	json_decref(val);
	assert_int_equal(vault_secret_delete(v, f->cap, "db.password", 11, "127.0.0.1"), VAULT_OK);
	assert_int_equal(get_err(v, f->cap, "db.password"), VAULT_NOT_FOUND);
	assert_int_equal(vault_secret_delete(v, f->cap, "db.password", 11, "127.0.0.1"),
			 VAULT_NOT_FOUND);
	/* Every one of those is in the chain, which verifies. */
	assert_int_equal(vault_audit_list(v, "db.password", 11, -1, 100, &out), VAULT_OK);
	assert_true(json_array_size(json_object_get(out, "logs")) >= 6);
	json_decref(out);
	assert_int_equal(vault_audit_verify(v, &out), VAULT_OK);
	assert_true(json_is_true(json_object_get(out, "valid")));
	json_decref(out);
}

static void test_lock_wipes(void **state)
{
	struct fx *f = *state;
	struct vault *v = fx_vault(f, 0);
	json_t *val = json_string("v"), *out = NULL, *all = json_pack("[s]", "*");
	struct vault_defer *d = NULL;
	long long count = 0;
	unsigned retry = 0, left = 0;

	init_unlock(v);
	f->cap = issue(v, "read,write,delete", NULL);
	put(v, f->cap, "k1", "v1", 1);
	read_is(v, f->cap, "k1", "v1"); /* now in the row cache too */
	assert_int_equal(vault_lock(v, &who), VAULT_OK);
	assert_int_equal(vault_session_left(v), 0);
	assert_int_equal(get_err(v, f->cap, "k1"), VAULT_LOCKED);
	assert_int_equal(vault_secret_put(v, f->cap, "k1", 2, val, NULL, "127.0.0.1", &d),
			 VAULT_LOCKED);
	assert_null(d);
	assert_int_equal(vault_secret_delete(v, f->cap, "k1", 2, "127.0.0.1"), VAULT_LOCKED);
	assert_int_equal(vault_secret_list(v, f->cap, "127.0.0.1", NULL, 0, &out), VAULT_LOCKED);
	assert_int_equal(vault_token_issue(v, "app", all, all, 60, &who, &out), VAULT_LOCKED);
	assert_int_equal(vault_audit_list(v, "k1", 2, -1, 10, &out), VAULT_LOCKED);
	assert_int_equal(vault_export(v, 1, &who, &out), VAULT_LOCKED);
	assert_int_equal(vault_extend(v, &left), VAULT_LOCKED);
	assert_null(out);
	/* Unlocking again brings the same data back. */
	assert_int_equal(vault_unlock(v, PW, PW_LEN, &who, &count, &retry), VAULT_OK);
	assert_int_equal(count, 1);
	read_is(v, f->cap, "k1", "v1");
	json_decref(val);
	json_decref(all);
}

static void test_export_import(void **state)
{
	struct fx *f = *state;
	struct vault *a = fx_vault(f, 0), *b;
	json_t *doc = NULL, *again = NULL;
	const char *why = NULL;
	long long count = 0;
	unsigned retry = 0;
	struct cap *cb;

	init_unlock(a);
	f->cap = issue(a, "read,write", NULL);
	put(a, f->cap, "alpha", "one", 1);
	put(a, f->cap, "beta", "two", 1);
	assert_int_equal(vault_export(a, 0, &who, &doc), VAULT_OK);
	assert_int_equal(vault_import_check(json_object_get(doc, "vault"), &why), VAULT_OK);
	assert_int_equal(vault_import(a, json_object_get(doc, "vault"), &who, &why),
			 VAULT_ALREADY_INIT);
	assert_int_equal(vault_import_check(json_object_get(doc, "records"), &why),
			 VAULT_BAD_IMPORT);
	assert_non_null(why);

	b = fx_vault(f, 1);
	assert_int_equal(vault_import(b, json_object_get(doc, "vault"), &who, &why), VAULT_OK);
	assert_true(vault_is_initialized(b));
	assert_int_equal(vault_unlock(b, "not the password at all", 23, &who, &count, &retry),
			 VAULT_BAD_PASSWORD);
	assert_int_equal(vault_unlock(b, PW, PW_LEN, &who, &count, &retry), VAULT_OK);
	assert_int_equal(count, 2);
	cb = issue(b, "read", NULL);
	read_is(b, cb, "alpha", "one");
	read_is(b, cb, "beta", "two");
	token_cap_free(cb);
	/* The second vault exports the same records. */
	assert_int_equal(vault_export(b, 0, &who, &again), VAULT_OK);
	assert_true(json_equal(json_object_get(json_object_get(doc, "vault"), "records"),
			       json_object_get(json_object_get(again, "vault"), "records")));
	json_decref(again);
	json_decref(doc);
}

/* The whole stream, read max bytes at a time. */
static char *stream_all(struct vault_stream *s, size_t max, size_t *len)
{
	size_t cap = max;
	char *out = malloc(cap);
	long n;

	*len = 0;
	while ((n = vault_stream_read(s, out + *len, max)) > 0) {
		assert_true((size_t)n <= max);
		*len += (size_t)n;
		while (*len + max > cap)
			cap *= 2;
		out = realloc(out, cap);
		assert_non_null(out);
	}
	assert_int_equal(n, 0);
	return out;
}

/* The streamed export is the whole-document export's compact text, byte
 * for byte (but its own "exported" time), across several chunks, from the
 * snapshot taken when it opened. */
static void test_export_stream(void **state)
{
	struct fx *f = *state;
	struct vault *a = fx_vault(f, 0);
	struct vault_stream *s = NULL;
	json_t *doc = NULL, *got;
	char name[32], *text, *want;
	size_t len, wlen;
	int i;

	init_unlock(a);
	f->cap = issue(a, "read,write", NULL);
	for (i = 0; i < 600; i++) { /* three chunks of 256 */
		snprintf(name, sizeof(name), "s%d", i);
		put(a, f->cap, name, "v", 1);
	}
	assert_int_equal(vault_stream_open(a, &who, &s), VAULT_OK);
	put(a, f->cap, "after-open", "v", 1); /* not in the snapshot */
	text = stream_all(s, 7, &len);
	vault_stream_free(s);
	got = json_loadb(text, len, 0, NULL);
	assert_non_null(got);
	assert_int_equal(json_array_size(json_object_get(json_object_get(got, "vault"), "records")),
			 600);
	assert_int_equal(vault_export(a, 0, &who, &doc), VAULT_OK);
	assert_int_equal(json_array_size(json_object_get(json_object_get(doc, "vault"), "records")),
			 601);
	json_decref(doc);
	/* the same text as the document, once rows and time agree */
	assert_int_equal(vault_stream_open(a, &who, &s), VAULT_OK);
	json_decref(got);
	free(text);
	text = stream_all(s, 65536, &len);
	vault_stream_free(s);
	got = json_loadb(text, len, 0, NULL);
	assert_int_equal(vault_export(a, 0, &who, &doc), VAULT_OK);
	json_object_set(json_object_get(doc, "vault"), "exported",
			json_object_get(json_object_get(got, "vault"), "exported"));
	wlen = json_dumpb(doc, NULL, 0, JSON_COMPACT);
	want = malloc(wlen);
	assert_non_null(want);
	assert_int_equal(json_dumpb(doc, want, wlen, JSON_COMPACT), wlen);
	assert_int_equal(len, wlen);
	assert_memory_equal(text, want, len);
	free(want);
	free(text);
	json_decref(got);
	json_decref(doc);
	/* a stream freed half read; a locked vault streams too */
	assert_int_equal(vault_lock(a, &who), VAULT_OK);
	assert_int_equal(vault_stream_open(a, &who, &s), VAULT_OK);
	assert_true(vault_stream_read(s, name, sizeof(name)) > 0);
	vault_stream_free(s);
	vault_stream_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_init_unlock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secrets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lock_wipes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export_import, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export_stream, setup, teardown),
	};

	/* Text json_dumps returns is freed with crypto_wipe_free (as main.c). */
	jalloc_init();
	setenv("GROUP_ID", "vault-test", 1);
	setenv("AUTH_TOKEN", "vault-test-auth-token-0123456789", 1);
	setenv("KDF_MEMORY_KIB", "1024", 1);
	setenv("KDF_ITERATIONS", "1", 1);
	setenv("KDF_PARALLELISM", "1", 1);
	setenv("QUIET", "1", 1);
	unsetenv("SIGNING_KEY");
	return cmocka_run_group_tests_name("vault", tests, NULL, NULL);
}
