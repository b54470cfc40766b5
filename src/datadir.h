/* datadir.h: the data directory's ownership and modes, checked before
 * anything in it is opened. */
#ifndef GV_DATADIR_H
#define GV_DATADIR_H

/* Creates dir (0700) if missing, else requires it to be a directory owned
 * by this process's user and not writable by group or others (refused:
 * -1 with one line). A group/other-readable dir is set to 0700, and a
 * loose vault.db, vault.db-wal, vault.db-shm or signing.key to 0600, each
 * with a warning line; any of those files that is a symbolic link, not a
 * regular file, or owned by another user is refused. 0 when usable. */
int datadir_prepare(const char *dir);

#endif
