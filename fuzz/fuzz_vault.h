/* fuzz_vault.h: the unlocked throwaway vault that fuzz_body and fuzz_query
 * drive (fast KDF, no rate limits in the way), removed at exit. Included by
 * one driver per binary, so its statics are that driver's. */
#ifndef GV_FUZZ_VAULT_H
#define GV_FUZZ_VAULT_H

#include <assert.h>
#include <ftw.h>
#include <stdlib.h>

#include "config.h"
#include "jalloc.h"
#include "vault.h"

static struct config fuzz_cfg;
static struct vault *fuzz_v;
static char fuzz_dir[] = "/tmp/gv-fuzz-XXXXXX";

static int fuzz_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void fuzz_vault_close(void)
{
	vault_free(fuzz_v);
	nftw(fuzz_dir, fuzz_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* No crypto_init(): pointers kept in the secure heap are invisible to
 * LeakSanitizer, which would then report OpenSSL's own state. */
static struct vault *fuzz_vault_open(const struct vault_actor *who)
{
	char err[128];
	long long count;
	unsigned retry;

	jalloc_init();
	setenv("GROUP_ID", "fuzz", 1);
	setenv("AUTH_TOKEN", "fuzz-auth-token-0123456789", 1);
	setenv("KDF_MEMORY_KIB", "1024", 1);
	setenv("KDF_ITERATIONS", "1", 1);
	setenv("KDF_PARALLELISM", "1", 1);
	setenv("TOKEN_ISSUE_PER_HOUR", "1000000", 1);
	setenv("UNLOCK_MAX_FAILURES", "1000000", 1);
	setenv("UNLOCK_MAX_FAILURES_TOTAL", "1000000", 1);
	setenv("QUIET", "1", 1);
	if (mkdtemp(fuzz_dir) == NULL)
		abort();
	setenv("DATA_DIR", fuzz_dir, 1);
	if (config_load(&fuzz_cfg, err, sizeof(err)) != 0)
		abort();
	fuzz_v = vault_new(&fuzz_cfg);
	assert(fuzz_v != NULL);
	/* Registered after OpenSSL's own exit handler, so it runs before it. */
	atexit(fuzz_vault_close);
	assert(vault_init(fuzz_v, "fuzz password 0123456789", 24, who) == VAULT_OK);
	assert(vault_unlock(fuzz_v, "fuzz password 0123456789", 24, who, &count, &retry) ==
	       VAULT_OK);
	return fuzz_v;
}

#endif
