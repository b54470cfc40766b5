/* datadir.c: makes sure DATA_DIR and the files the daemon keeps there are
 * private to its user before any of them is opened: it tightens modes that
 * are merely too loose (and says so) and refuses what it cannot trust. It
 * never reads a file's contents. */
#include "datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static const char *const datadir_files[] = {"vault.db", "vault.db-wal", "vault.db-shm",
					    "signing.key"};

/* One existing file: 0 fine (mode fixed if needed), -1 refused. */
static int datadir_file(const char *dir, const char *name)
{
	char path[4096];
	struct stat sb;
	int fd, rc = -1;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		log_err("data dir: path too long");
		return -1;
	}
	/* O_NOFOLLOW: a planted link never leads the daemon elsewhere; O_NONBLOCK:
	 * a planted FIFO does not hang the open. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		log_err("data dir: refusing %s: %s", path,
			errno == ELOOP ? "it is a symbolic link" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		log_err("data dir: refusing %s: not a regular file", path);
	} else if (sb.st_uid != geteuid()) {
		log_err("data dir: refusing %s: owned by uid %u, not this process's uid %u", path,
			(unsigned)sb.st_uid, (unsigned)geteuid());
	} else if ((sb.st_mode & 077) != 0 && fchmod(fd, 0600) != 0) {
		log_err("data dir: cannot chmod %s: %s", path, strerror(errno));
	} else {
		if ((sb.st_mode & 077) != 0)
			log_warn("data dir: %s had mode %04o (group/other access); set to 0600",
				 path, (unsigned)(sb.st_mode & 07777));
		rc = 0;
	}
	close(fd);
	return rc;
}

/* The directory itself, once it exists. 0 or -1 (logged). */
static int datadir_dir(const char *dir)
{
	struct stat sb;
	unsigned mode;

	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		log_err("data dir: refusing %s: not a directory", dir);
		return -1;
	}
	mode = (unsigned)(sb.st_mode & 07777);
	if (sb.st_uid != geteuid()) {
		log_err("data dir: refusing %s: owned by uid %u, not this process's uid %u", dir,
			(unsigned)sb.st_uid, (unsigned)geteuid());
		return -1;
	}
	if ((mode & 022) != 0) {
		log_err("data dir: refusing %s: writable by group or others (mode %04o); "
			"chmod 700 it",
			dir, mode);
		return -1;
	}
	if ((mode & 077) != 0) {
		if (chmod(dir, 0700) != 0) {
			log_err("data dir: cannot chmod %s: %s", dir, strerror(errno));
			return -1;
		}
		log_warn("data dir: %s had mode %04o (group/other access); set to 0700", dir, mode);
	}
	return 0;
}

int datadir_prepare(const char *dir)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_err("data dir: cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (datadir_dir(dir) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(datadir_files) / sizeof(datadir_files[0]); i++)
		if (datadir_file(dir, datadir_files[i]) != 0)
			return -1;
	return 0;
}
