/* store_fault.c: test builds only (GV_FAULT_INJECTION): a VFS shim that
 * fails writes or syncs on demand and counts the fsyncs SQLite asks for.
 * It must never be compiled into the daemon that ships. */
#include "store_int.h"

#ifdef GV_FAULT_INJECTION
/* The shim fails I/O while the file named by GV_FAULT_FILE exists. Its
 * first word picks the error: "eio" or "enospc"; a second word "sync"
 * fails only fsync. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fault_file {
	sqlite3_file base;
	sqlite3_file *real;
};

static sqlite3_vfs *fault_real;
static sqlite3_vfs fault_vfs;
static const char *fault_path;
static _Atomic uint64_t fault_syncs;

static int fault_now(int is_sync)
{
	char buf[32] = {0};
	FILE *f;
	int sync_only;

	if (fault_path == NULL || (f = fopen(fault_path, "r")) == NULL)
		return SQLITE_OK;
	if (fread(buf, 1, sizeof(buf) - 1, f) == 0)
		buf[0] = '\0';
	fclose(f);
	sync_only = strstr(buf, "sync") != NULL;
	if (sync_only && !is_sync)
		return SQLITE_OK;
	if (strncmp(buf, "enospc", 6) == 0)
		return SQLITE_FULL;
	return is_sync ? SQLITE_IOERR_FSYNC : SQLITE_IOERR_WRITE;
}

#define REAL(f) (((struct fault_file *)(f))->real)
static int f_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int f_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
	return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int f_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
	int rc = fault_now(0);
	return rc != SQLITE_OK ? rc : REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int f_sync(sqlite3_file *f, int flags)
{
	int rc = fault_now(1);

	if (rc != SQLITE_OK)
		return rc;
	fault_syncs++;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int f_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int f_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int f_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int f_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int f_devchar(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int f_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int f_shmlock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void f_shmbarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int f_shmunmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int f_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp)
{
	return REAL(f)->pMethods->xFetch(REAL(f), o, n, pp);
}
static int f_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), o, p);
}
#undef REAL

static const sqlite3_io_methods fault_io = {
    3,	       f_close,	     f_read,	 f_write,   f_truncate, f_sync,	   f_size,
    f_lock,    f_unlock,     f_reserved, f_control, f_sector,	f_devchar, f_shmmap,
    f_shmlock, f_shmbarrier, f_shmunmap, f_fetch,   f_unfetch,
};

static int fault_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out)
{
	struct fault_file *p = (struct fault_file *)file;
	int rc;

	(void)vfs;
	p->real = (sqlite3_file *)&p[1];
	rc = fault_real->xOpen(fault_real, name, p->real, flags, out);
	p->base.pMethods = p->real->pMethods != NULL ? &fault_io : NULL;
	return rc;
}

void store_fault_register(void)
{
	fault_path = getenv("GV_FAULT_FILE");
	fault_real = sqlite3_vfs_find(NULL);
	fault_vfs = *fault_real;
	fault_vfs.zName = "gvfault";
	fault_vfs.szOsFile = (int)sizeof(struct fault_file) + fault_real->szOsFile;
	fault_vfs.xOpen = fault_open;
	sqlite3_vfs_register(&fault_vfs, 1);
}

uint64_t store_fault_syncs(void) { return fault_syncs; }

#endif
