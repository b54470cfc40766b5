/* procstat.h: the process's own CPU time, resident memory and descriptors,
 * for GET /metrics. Uses only calls the seccomp sandbox allows. */
#ifndef GV_PROCSTAT_H
#define GV_PROCSTAT_H

/* CPU seconds (user + system) of the whole process. */
double procstat_cpu_seconds(void);
/* Resident bytes, or -1 when /proc cannot be read. */
long long procstat_rss_bytes(void);
/* Open descriptors below the soft limit (counted up to 1<<20), or -1. */
long long procstat_open_fds(void);
/* The soft descriptor limit, or -1. */
long long procstat_max_fds(void);

#endif
