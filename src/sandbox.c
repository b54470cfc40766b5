/* sandbox.c: the seccomp filter groupvaultd enters once it is serving. After
 * start-up the daemon only reads and writes its files and sockets, maps
 * memory, runs threads and waits; everything else (exec, ptrace, new
 * listening sockets, mounts, namespaces, module loading, ...) kills the
 * process. It must not be entered before the listening socket, the store
 * and the signing key exist: those need calls the filter refuses. The only
 * file that includes seccomp.h. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "log.h"
#include "sandbox.h"

/* Calls allowed without looking at their arguments. Grouped by who needs
 * them; a call missing here kills the daemon the first time it is made, so
 * each group was taken from strace of the black-box suite and from the
 * libraries' code paths (SQLite's unix VFS, glibc's malloc and threads,
 * libmicrohttpd's epoll loop, OpenSSL's RNG, libargon2's lane threads). */
static const int sandbox_plain[] = {
    /* files: SQLite (WAL, shm, journal), the audit sink, signing key reads */
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
    SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev), SCMP_SYS(lseek), SCMP_SYS(close),
    SCMP_SYS(openat), SCMP_SYS(newfstatat), SCMP_SYS(fstat), SCMP_SYS(stat), SCMP_SYS(lstat),
    SCMP_SYS(statx), SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
    SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(getcwd), SCMP_SYS(fcntl), SCMP_SYS(flock),
    SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(ftruncate), SCMP_SYS(fallocate),
    SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(fchown), SCMP_SYS(fchmod),
    /* memory: malloc, the secure heap (mlock), SQLite's shm, MHD's buffers */
    SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(mremap), SCMP_SYS(madvise),
    SCMP_SYS(brk), SCMP_SYS(mlock), SCMP_SYS(mlock2), SCMP_SYS(munlock),
    /* threads and time: Argon2id lanes, the committer, MHD workers */
    SCMP_SYS(futex), SCMP_SYS(clone3), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
    SCMP_SYS(set_tid_address), SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
    SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
    SCMP_SYS(getegid), SCMP_SYS(prlimit64), SCMP_SYS(getrlimit), SCMP_SYS(exit),
    SCMP_SYS(exit_group), SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep), SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(getrandom),
    SCMP_SYS(sysinfo), SCMP_SYS(uname),
    /* signals: the main thread's sigtimedwait, abort() */
    SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigreturn),
    SCMP_SYS(rt_sigtimedwait), SCMP_SYS(sigaltstack), SCMP_SYS(tgkill), SCMP_SYS(restart_syscall),
    /* network: accepted connections and the event loop (no new listeners) */
    SCMP_SYS(accept4), SCMP_SYS(accept), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(sendto),
    SCMP_SYS(sendmsg), SCMP_SYS(shutdown), SCMP_SYS(setsockopt), SCMP_SYS(getsockopt),
    SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait),
    SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_create1), SCMP_SYS(eventfd2), SCMP_SYS(pipe2),
    SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6), SCMP_SYS(connect),
};

/* Under AddressSanitizer, LeakSanitizer stops the world at exit with a
 * tracer: a clone without CLONE_THREAD that ptraces the threads. Only the
 * sanitized test build allows these; the release build never does. */
#if defined(__SANITIZE_ADDRESS__)
static const int sandbox_sanitizer[] = {
    SCMP_SYS(ptrace),  SCMP_SYS(wait4),   SCMP_SYS(clone),      SCMP_SYS(getppid),
    SCMP_SYS(kill),    SCMP_SYS(prctl),   SCMP_SYS(getdents64), SCMP_SYS(getdents), SCMP_SYS(open),
    SCMP_SYS(waitid),  SCMP_SYS(sched_getparam),
};
#endif

static int sandbox_rules(scmp_filter_ctx ctx)
{
	size_t i;

	for (i = 0; i < sizeof(sandbox_plain) / sizeof(sandbox_plain[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sandbox_plain[i], 0) != 0)
			return -1;
#if defined(__SANITIZE_ADDRESS__)
	for (i = 0; i < sizeof(sandbox_sanitizer) / sizeof(sandbox_sanitizer[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sandbox_sanitizer[i], 0) != 0)
			return -1;
#else
	/* Threads only: a clone that is not a thread would be a fork. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) != 0)
		return -1;
	/* Thread names (libmicrohttpd names its workers); nothing else. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
			     SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
			     SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME)) != 0)
		return -1;
#endif
	/* Sockets only for the local syslog (AUDIT_SINK=syslog:...). */
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
}

int sandbox_enter(void)
{
	scmp_filter_ctx ctx;
	int rc = -1;

	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL) {
		log_err("%s: seccomp_init failed", __func__);
		return -1;
	}
	/* Every thread already running (workers, committer, timer) gets the
	 * filter too, not only the caller. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1) != 0) {
		log_err("%s: cannot set filter attributes", __func__);
		goto out;
	}
	if (sandbox_rules(ctx) != 0) {
		log_err("%s: cannot build the filter", __func__);
		goto out;
	}
	if ((rc = seccomp_load(ctx)) != 0) {
		log_err("%s: seccomp_load: %s", __func__, rc < 0 ? "refused" : "failed");
		rc = -1;
		goto out;
	}
	rc = 0;
out:
	seccomp_release(ctx);
	return rc;
}
