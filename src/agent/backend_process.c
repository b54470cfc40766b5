/* backend_process.c: the embedded default engine: one groupvaultd process
 * per group, started with fork/exec in its own session, its own data dir,
 * rlimits and log file, and supervised through pidfds (restart with
 * back-off). Vaults outlive the agent: a pidfile lets the next agent adopt
 * them. It never passes a secret on a command line or writes one to a log. */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "log.h"
#include "vault_env.h"
#include "util.h"

#define STOP_GRACE_MS 10000 /* SIGTERM, then SIGKILL after this */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 60000
#define STABLE_MS 30000     /* a run this long resets the back-off */
#define LOG_ROTATE_BYTES (8u << 20)

struct proc {
	char id[65];
	char group_id[65];
	char dir[PATH_MAX];      /* parent of data_dir: vault.log and vault.pid live here */
	char data_dir[PATH_MAX];
	char **envp;             /* built once per spec; holds AUTH_TOKEN, wiped on free */
	pid_t pid;               /* 0 when not running */
	int pidfd;
	int child;               /* ours to reap (not adopted) */
	int want;                /* supervisor restarts it when it exits */
	int64_t started_mono, started_wall, next_start;
	unsigned restarts, fails;
	char detail[160];
	struct proc *next;
};

struct pb {
	struct backend b;
	struct agent_config cfg;
	pthread_mutex_t mu;
	pthread_cond_t changed;
	struct proc *head;
	int evfd;
	int quit;
	pthread_t thr;
};

static struct pb *pb_of(struct backend *b)
{
	return (struct pb *)b->priv;
}

static struct proc *find(struct pb *pb, const char *id)
{
	for (struct proc *p = pb->head; p != NULL; p = p->next)
		if (strcmp(p->id, id) == 0)
			return p;
	return NULL;
}

static void wake(struct pb *pb)
{
	uint64_t one = 1;

	if (write(pb->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("process backend: eventfd: %s", strerror(errno));
}

/* Field 22 of /proc/<pid>/stat: start time in clock ticks since boot; 0 if
 * there is no such process or it has ended (a zombie). */
static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long t = 0;
	ssize_t n;
	int fd;
	char *s;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	s = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	if (s == NULL || s[1] != ' ' || s[2] == 'Z' || s[2] == 'X')
		return 0; /* a zombie has ended: not a process to adopt */
	/* each step lands on the space before field 3, 4, ..., 22 */
	for (int field = 3; field <= 22 && s != NULL; field++)
		s = strchr(s + 1, ' ');
	if (s != NULL)
		t = strtoull(s + 1, NULL, 10);
	return t;
}

static int path_in(char *dst, size_t cap, const char *dir, const char *name)
{
	return (size_t)snprintf(dst, cap, "%s/%s", dir, name) < cap ? 0 : -1;
}

static void write_pidfile(const struct proc *p)
{
	char path[PATH_MAX], tmp[PATH_MAX], line[64];
	int fd, n;

	if (path_in(path, sizeof(path), p->dir, "vault.pid") != 0 ||
	    path_in(tmp, sizeof(tmp), p->dir, "vault.pid.tmp") != 0)
		return;
	n = snprintf(line, sizeof(line), "%d %llu\n", (int)p->pid, start_time(p->pid));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) != 0 ||
	    rename(tmp, path) != 0)
		log_warn("process backend: cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Opens the group's log for appending, moving it to vault.log.1 when large. */
static int open_log(const struct proc *p)
{
	char path[PATH_MAX], old[PATH_MAX];
	struct stat sb;

	if (path_in(path, sizeof(path), p->dir, "vault.log") != 0 ||
	    path_in(old, sizeof(old), p->dir, "vault.log.1") != 0)
		return -1;
	if (stat(path, &sb) == 0 && (size_t)sb.st_size > LOG_ROTATE_BYTES)
		(void)rename(path, old);
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
}

static void limit(int res, rlim_t v)
{
	struct rlimit rl;

	if (getrlimit(res, &rl) == 0 && rl.rlim_max != RLIM_INFINITY && v > rl.rlim_max)
		v = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = v;
	(void)setrlimit(res, &rl);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child(const struct pb *pb, const struct proc *p, int logfd, int nullfd)
{
	char *const argv[] = {(char *)"groupvaultd", NULL};
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid(); /* its own session: the agent's death or its terminal's does not reach it */
	if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
	    chdir(p->dir) != 0)
		_exit(126);
	syscall(SYS_close_range, 3u, ~0u, 0u);
	limit(RLIMIT_CORE, 0); /* a core file would hold keys */
	limit(RLIMIT_NOFILE, 4096);
	if (pb->cfg.memory_mb != 0) /* 0 for sanitizer builds, whose shadow memory counts */
		limit(RLIMIT_DATA, (rlim_t)pb->cfg.memory_mb << 20);
	execve(pb->cfg.vault_bin, argv, p->envp);
	_exit(127);
}

/* Starts p; the caller holds pb->mu. */
static int spawn(struct pb *pb, struct proc *p, char *err, size_t errlen)
{
	int logfd = open_log(p), nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	pid_t pid = -1;

	if (logfd >= 0 && nullfd >= 0)
		pid = fork();
	if (pid == 0)
		child(pb, p, logfd, nullfd);
	if (logfd >= 0)
		close(logfd);
	if (nullfd >= 0)
		close(nullfd);
	if (pid < 0) {
		snprintf(err, errlen, "cannot start %s: %s", pb->cfg.vault_bin, strerror(errno));
		return -1;
	}
	p->pid = pid;
	p->child = 1;
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	p->started_mono = util_mono_ms();
	p->started_wall = util_now_ms();
	p->next_start = 0;
	p->detail[0] = '\0';
	write_pidfile(p);
	wake(pb);
	return 0;
}

/* 1 if p's process has ended (its pidfd is readable now). */
static int gone(const struct proc *p)
{
	struct pollfd one = {.fd = p->pidfd, .events = POLLIN};

	return poll(&one, 1, 0) == 1 && (one.revents & POLLIN) != 0;
}

/* p's process ended: reap it, say why, and schedule a restart if wanted. */
static void ended(struct pb *pb, struct proc *p)
{
	int status = 0;
	int64_t ran = util_mono_ms() - p->started_mono;

	if (p->child && waitpid(p->pid, &status, WNOHANG) == p->pid) {
		if (WIFEXITED(status))
			snprintf(p->detail, sizeof(p->detail), "exited with status %d",
				 WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			snprintf(p->detail, sizeof(p->detail), "killed by signal %d",
				 WTERMSIG(status));
	} else {
		snprintf(p->detail, sizeof(p->detail), "exited");
	}
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
	p->pid = 0;
	if (p->want) {
		p->fails = ran < STABLE_MS ? p->fails + 1 : 0;
		int64_t delay = (int64_t)BACKOFF_MIN_MS << (p->fails > 7 ? 7 : p->fails);
		p->next_start = util_mono_ms() + (delay > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay);
		log_warn("vault %s %s; restarting in %lld ms", p->group_id, p->detail,
			 (long long)(p->next_start - util_mono_ms()));
	}
	pthread_cond_broadcast(&pb->changed);
}

/* One pass of the supervisor over the table; the caller holds pb->mu.
 * Fills fds/owners for poll and returns the poll timeout. */
static int survey(struct pb *pb, struct pollfd **fds, struct proc ***owners, size_t *n)
{
	size_t count = 1, i = 1;
	int64_t now = util_mono_ms(), wait = 60000;

	for (struct proc *p = pb->head; p != NULL; p = p->next) {
		if (p->pid == 0 && p->want && p->next_start != 0 && p->next_start <= now) {
			char err[160];

			p->restarts++;
			if (spawn(pb, p, err, sizeof(err)) != 0)
				p->next_start = now + BACKOFF_MAX_MS;
		}
		if (p->pid != 0 && p->pidfd >= 0)
			count++;
		else if (p->pid == 0 && p->want && p->next_start != 0 && p->next_start - now < wait)
			wait = p->next_start - now;
	}
	free(*fds);
	free(*owners);
	*fds = calloc(count, sizeof(**fds));
	*owners = calloc(count, sizeof(**owners));
	if (*fds == NULL || *owners == NULL)
		return 1000;
	(*fds)[0] = (struct pollfd){.fd = pb->evfd, .events = POLLIN};
	for (struct proc *p = pb->head; p != NULL; p = p->next)
		if (p->pid != 0 && p->pidfd >= 0) {
			(*owners)[i] = p;
			(*fds)[i++] = (struct pollfd){.fd = p->pidfd, .events = POLLIN};
		}
	*n = i;
	return wait < 0 ? 0 : (int)wait;
}

static void *supervise(void *arg)
{
	struct pb *pb = arg;
	struct pollfd *fds = NULL;
	struct proc **owners = NULL;
	size_t n = 0;
	uint64_t drain;

	pthread_mutex_lock(&pb->mu);
	while (!pb->quit) {
		int timeout = survey(pb, &fds, &owners, &n);

		pthread_mutex_unlock(&pb->mu);
		int rc = poll(fds, n, timeout);
		pthread_mutex_lock(&pb->mu);
		if (rc <= 0 || fds == NULL)
			continue;
		if (fds[0].revents != 0 && read(pb->evfd, &drain, sizeof(drain)) < 0)
			drain = 0;
		/* A pidfd polled here may belong to a process stop/remove already
		 * handled: act only if the table still holds it with that fd. */
		for (size_t i = 1; i < n; i++) {
			struct proc *p = owners[i];

			if (fds[i].revents == 0)
				continue;
			for (struct proc *q = pb->head; q != NULL; q = q->next)
				if (q == p && p->pidfd == fds[i].fd && p->pid != 0 && gone(p))
					ended(pb, p);
		}
	}
	pthread_mutex_unlock(&pb->mu);
	free(fds);
	free(owners);
	return NULL;
}

static void free_proc(struct proc *p)
{
	if (p == NULL)
		return;
	vault_env_free(p->envp);
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p);
}

static struct proc *new_proc(struct pb *pb, const char *id, const struct backend_spec *s)
{
	struct proc *p = calloc(1, sizeof(*p));
	char *slash;

	if (p == NULL)
		return NULL;
	p->pidfd = -1;
	if (strlen(id) >= sizeof(p->id) || strlen(s->group_id) >= sizeof(p->group_id) ||
	    strlen(s->data_dir) >= sizeof(p->data_dir)) {
		free(p);
		return NULL;
	}
	strcpy(p->id, id);
	strcpy(p->group_id, s->group_id);
	strcpy(p->data_dir, s->data_dir);
	strcpy(p->dir, s->data_dir);
	slash = strrchr(p->dir, '/');
	if (slash != NULL && slash != p->dir)
		*slash = '\0';
	p->envp = vault_env_build(s, pb->cfg.vault_bind_address, s->data_dir);
	if (p->envp == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

static int pb_create(struct backend *b, const struct backend_spec *s, char *id, size_t idlen,
		     char *err, size_t errlen)
{
	struct pb *pb = pb_of(b);
	unsigned char raw[32];
	char hex[65];
	struct proc *p;
	int rc;

	if (crypto_random(raw, sizeof(raw)) != 0 || idlen < sizeof(hex)) {
		snprintf(err, errlen, "cannot make an id");
		return -1;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	p = new_proc(pb, hex, s);
	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_lock(&pb->mu);
	p->want = 1;
	rc = spawn(pb, p, err, errlen);
	if (rc == 0) {
		p->next = pb->head;
		pb->head = p;
	}
	pthread_mutex_unlock(&pb->mu);
	if (rc != 0) {
		free_proc(p);
		return -1;
	}
	memcpy(id, hex, sizeof(hex));
	return 0;
}

static int pb_start(struct backend *b, const char *id, const struct backend_spec *s, char *err,
		    size_t errlen)
{
	struct pb *pb = pb_of(b);
	struct proc *p, *fresh = NULL;
	int rc = 0;

	pthread_mutex_lock(&pb->mu);
	p = find(pb, id);
	if (p == NULL) { /* forgotten (e.g. never adopted): take it on with this spec */
		pthread_mutex_unlock(&pb->mu);
		fresh = new_proc(pb, id, s);
		if (fresh == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		pthread_mutex_lock(&pb->mu);
		p = find(pb, id);
		if (p == NULL) {
			fresh->next = pb->head;
			pb->head = p = fresh;
			fresh = NULL;
		}
	}
	p->want = 1;
	p->fails = 0;
	if (p->pid == 0)
		rc = spawn(pb, p, err, errlen);
	pthread_mutex_unlock(&pb->mu);
	free_proc(fresh);
	return rc;
}

static int signal_proc(struct proc *p, int sig)
{
	if (p->pidfd >= 0)
		return (int)syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0);
	return kill(p->pid, sig);
}

/* Waits until p has ended or ms passed; the caller holds pb->mu. */
static void await_end(struct pb *pb, struct proc *p, int64_t ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	while (p->pid != 0)
		if (pthread_cond_timedwait(&pb->changed, &pb->mu, &until) == ETIMEDOUT)
			break;
}

static int stop_locked(struct pb *pb, struct proc *p)
{
	p->want = 0;
	p->next_start = 0;
	if (p->pid == 0)
		return 0;
	(void)signal_proc(p, SIGTERM);
	await_end(pb, p, STOP_GRACE_MS);
	if (p->pid != 0) {
		log_warn("vault %s did not stop in %d ms; killing it", p->group_id, STOP_GRACE_MS);
		(void)signal_proc(p, SIGKILL);
		await_end(pb, p, 5000);
	}
	return p->pid == 0 ? 0 : -1;
}

static int pb_stop(struct backend *b, const char *id, char *err, size_t errlen)
{
	struct pb *pb = pb_of(b);
	struct proc *p;
	int rc = 0;

	pthread_mutex_lock(&pb->mu);
	p = find(pb, id);
	if (p != NULL && stop_locked(pb, p) != 0) {
		snprintf(err, errlen, "vault %s did not stop", p->group_id);
		rc = -1;
	}
	pthread_mutex_unlock(&pb->mu);
	return rc;
}

static int pb_remove(struct backend *b, const char *id, char *err, size_t errlen)
{
	struct pb *pb = pb_of(b);
	struct proc **pp, *p = NULL;
	char path[PATH_MAX];

	pthread_mutex_lock(&pb->mu);
	for (pp = &pb->head; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0) {
			p = *pp;
			break;
		}
	if (p != NULL && stop_locked(pb, p) != 0) {
		pthread_mutex_unlock(&pb->mu);
		snprintf(err, errlen, "vault %s did not stop", p->group_id);
		return -1;
	}
	if (p != NULL) {
		*pp = p->next;
		if (path_in(path, sizeof(path), p->dir, "vault.pid") == 0)
			(void)unlink(path);
	}
	pthread_mutex_unlock(&pb->mu);
	free_proc(p);
	return 0;
}

static int pb_status(struct backend *b, const char *id, struct backend_status *st)
{
	struct pb *pb = pb_of(b);
	struct proc *p;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&pb->mu);
	p = find(pb, id);
	if (p == NULL) {
		st->state = BACKEND_MISSING;
	} else {
		st->state = p->pid != 0 ? BACKEND_RUNNING : BACKEND_STOPPED;
		st->started_at_ms = p->started_wall;
		st->restarts = p->restarts;
		snprintf(st->detail, sizeof(st->detail), "%s", p->detail);
	}
	pthread_mutex_unlock(&pb->mu);
	return 0;
}

static int pb_adopt(struct backend *b, const char *id, const struct backend_spec *s)
{
	struct pb *pb = pb_of(b);
	struct proc *p = new_proc(pb, id, s);
	char path[PATH_MAX], line[64];
	unsigned long long when = 0;
	int pid = 0, fd;
	ssize_t n;

	if (p == NULL)
		return -1;
	if (path_in(path, sizeof(path), p->dir, "vault.pid") == 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		n = read(fd, line, sizeof(line) - 1);
		close(fd);
		line[n > 0 ? n : 0] = '\0';
		if (sscanf(line, "%d %llu", &pid, &when) != 2)
			pid = 0;
	}
	/* The same process only if its start time matches: a reused pid is not ours. */
	if (pid > 1 && when != 0 && start_time(pid) == when) {
		p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (p->pidfd >= 0) {
			p->pid = pid;
			p->want = 1;
			p->started_mono = util_mono_ms();
		}
	}
	if (p->pid == 0)
		snprintf(p->detail, sizeof(p->detail), "not running when the agent started");
	pthread_mutex_lock(&pb->mu);
	if (find(pb, id) != NULL) {
		pthread_mutex_unlock(&pb->mu);
		free_proc(p);
		return 0;
	}
	p->next = pb->head;
	pb->head = p;
	wake(pb);
	pthread_mutex_unlock(&pb->mu);
	return 0;
}

/* The last tail lines of the file at path (at most its last 1 MiB). */
static int log_tail(const char *path, unsigned tail, char **out, size_t *len)
{
	const size_t window = 1u << 20;
	struct stat sb;
	off_t from;
	ssize_t n;
	char *buf, *start;
	unsigned lines = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	*out = NULL;
	*len = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &sb) != 0 || (buf = malloc(window + 1)) == NULL) {
		close(fd);
		return -1;
	}
	from = sb.st_size > (off_t)window ? sb.st_size - (off_t)window : 0;
	n = pread(fd, buf, window, from);
	close(fd);
	if (n < 0) {
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	start = buf + n;
	if (start > buf && start[-1] == '\n')
		start--;
	while (start > buf && lines < tail) {
		start--;
		if (*start == '\n' && ++lines == tail) {
			start++;
			break;
		}
	}
	if (from > 0 && start == buf) /* a cut first line is not a line */
		while (start < buf + n && *start++ != '\n')
			;
	*len = (size_t)(buf + n - start);
	memmove(buf, start, *len);
	buf[*len] = '\0';
	*out = buf;
	return 0;
}

static int pb_logs(struct backend *b, const char *id, unsigned tail, char **out, size_t *len)
{
	struct pb *pb = pb_of(b);
	struct proc *p;
	char path[PATH_MAX];
	int rc = -1;

	pthread_mutex_lock(&pb->mu);
	p = find(pb, id);
	if (p != NULL)
		rc = path_in(path, sizeof(path), p->dir, "vault.log");
	pthread_mutex_unlock(&pb->mu);
	if (rc != 0)
		return -1;
	return log_tail(path, tail, out, len);
}

static void pb_destroy(struct backend *b)
{
	struct pb *pb = pb_of(b);

	pthread_mutex_lock(&pb->mu);
	pb->quit = 1;
	wake(pb);
	pthread_mutex_unlock(&pb->mu);
	pthread_join(pb->thr, NULL);
	/* The vaults keep running: the next agent adopts them. */
	while (pb->head != NULL) {
		struct proc *p = pb->head;

		pb->head = p->next;
		free_proc(p);
	}
	close(pb->evfd);
	pthread_cond_destroy(&pb->changed);
	pthread_mutex_destroy(&pb->mu);
	free(pb);
}

static const struct backend_ops process_ops = {
    .name = "process",
    .create = pb_create,
    .start = pb_start,
    .stop = pb_stop,
    .remove = pb_remove,
    .status = pb_status,
    .logs = pb_logs,
    .adopt = pb_adopt,
    .destroy = pb_destroy,
};

struct backend *backend_process_new(const struct agent_config *cfg, char *err, size_t errlen)
{
	struct pb *pb = calloc(1, sizeof(*pb));

	if (pb == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (access(cfg->vault_bin, X_OK) != 0) {
		snprintf(err, errlen, "VAULT_BIN %s is not executable: %s", cfg->vault_bin,
			 strerror(errno));
		free(pb);
		return NULL;
	}
	pb->cfg = *cfg;
	crypto_wipe(pb->cfg.auth_token, sizeof(pb->cfg.auth_token)); /* not ours to keep */
	pb->b.ops = &process_ops;
	pb->b.priv = pb;
	pthread_mutex_init(&pb->mu, NULL);
	pthread_cond_init(&pb->changed, NULL);
	pb->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pb->evfd < 0 || pthread_create(&pb->thr, NULL, supervise, pb) != 0) {
		snprintf(err, errlen, "cannot start the supervisor: %s", strerror(errno));
		if (pb->evfd >= 0)
			close(pb->evfd);
		free(pb);
		return NULL;
	}
	return &pb->b;
}
