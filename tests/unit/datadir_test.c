/* datadir_test.c: a missing dir is created 0700; a group-readable dir and
 * loose files are tightened; a writable dir, a symlinked or non-regular
 * file are refused and left as they were. */
#include <stdlib.h>
#include <sys/stat.h>

#include "store_tmp.h"

#include "datadir.h"

static unsigned mode_of(const char *path)
{
	struct stat sb;

	assert_int_equal(lstat(path, &sb), 0);
	return (unsigned)(sb.st_mode & 07777);
}

static void path_in(const struct store_tmp *t, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", t->dir, name);
}

static void test_modes(void **state)
{
	struct store_tmp *t = *state;
	char sub[128], key[128], db[128];
	FILE *f;

	path_in(t, "sub", sub, sizeof(sub));
	assert_int_equal(datadir_prepare(sub), 0); /* created */
	assert_int_equal(mode_of(sub), 0700);
	assert_int_equal(chmod(t->dir, 0755), 0);
	path_in(t, "signing.key", key, sizeof(key));
	path_in(t, "vault.db", db, sizeof(db));
	assert_non_null(f = fopen(key, "w"));
	fclose(f);
	assert_non_null(f = fopen(db, "w"));
	fclose(f);
	assert_int_equal(chmod(key, 0644), 0);
	assert_int_equal(chmod(db, 0660), 0);
	assert_int_equal(datadir_prepare(t->dir), 0);
	assert_int_equal(mode_of(t->dir), 0700);
	assert_int_equal(mode_of(key), 0600);
	assert_int_equal(mode_of(db), 0600);
	assert_int_equal(chmod(t->dir, 0770), 0);
	assert_int_equal(datadir_prepare(t->dir), -1); /* group-writable */
	assert_int_equal(mode_of(t->dir), 0770);
	assert_int_equal(chmod(t->dir, 0700), 0);
	assert_int_equal(remove(key), 0);
	assert_int_equal(symlink(db, key), 0);
	assert_int_equal(datadir_prepare(t->dir), -1); /* symlinked key */
	assert_int_equal(remove(key), 0);
	assert_int_equal(mkfifo(key, 0600), 0);
	assert_int_equal(datadir_prepare(t->dir), -1); /* not a regular file */
	assert_int_equal(remove(key), 0);
	assert_int_equal(datadir_prepare(t->dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    store_tmp_test(test_modes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
