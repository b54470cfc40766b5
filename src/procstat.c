/* procstat.c: the process's CPU, memory and descriptor figures (see
 * procstat.h). Counting descriptors by listing /proc/self/fd would need
 * getdents, which the sandbox refuses; poll() with no events reports
 * POLLNVAL for every closed descriptor instead, in one call per block. */
#include "procstat.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PROCSTAT_POLL_BLOCK 1024
#define PROCSTAT_FD_CAP (1 << 20)

double procstat_cpu_seconds(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long long procstat_rss_bytes(void)
{
	long long size = 0, resident = -1;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "re");

	if (f == NULL)
		return -1;
	if (fscanf(f, "%lld %lld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 || page <= 0 ? -1 : resident * page;
}

long long procstat_max_fds(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	return rl.rlim_cur == RLIM_INFINITY ? -1 : (long long)rl.rlim_cur;
}

long long procstat_open_fds(void)
{
	struct pollfd p[PROCSTAT_POLL_BLOCK];
	long long max = procstat_max_fds(), open = 0;

	if (max < 0 || max > PROCSTAT_FD_CAP)
		max = PROCSTAT_FD_CAP;
	for (long long base = 0; base < max; base += PROCSTAT_POLL_BLOCK) {
		nfds_t n =
		    (nfds_t)(max - base < PROCSTAT_POLL_BLOCK ? max - base : PROCSTAT_POLL_BLOCK);
		for (nfds_t i = 0; i < n; i++) {
			p[i].fd = (int)(base + (long long)i);
			p[i].events = 0;
			p[i].revents = 0;
		}
		if (poll(p, n, 0) < 0)
			return -1;
		for (nfds_t i = 0; i < n; i++)
			open += !(p[i].revents & POLLNVAL);
	}
	return open;
}
