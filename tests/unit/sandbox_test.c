/* sandbox_test.c: inside the filter, what the daemon does still works and
 * what it never does kills the process with SIGSYS. Each case runs in a
 * forked child, since the filter cannot be removed once entered. */
#include "test_common.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"

/* Runs fn in a child inside the sandbox; returns its wait status. */
static int sandboxed(int (*fn)(void))
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (sandbox_enter() != 0)
			_exit(90);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void *thread_main(void *arg) { return arg; }

/* What a serving daemon does: files, threads, memory, local sockets. */
static int allowed_work(void)
{
	char path[] = "/tmp/gv-sandbox-XXXXXX";
	pthread_t t;
	void *out = NULL;
	char *p;
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, "x", 1) != 1 || fdatasync(fd) != 0 || close(fd) != 0)
		return 1;
	if ((fd = open(path, O_RDONLY)) < 0 || close(fd) != 0 || unlink(path) != 0)
		return 2;
	if (pthread_create(&t, NULL, thread_main, &fd) != 0 || pthread_join(t, &out) != 0 ||
	    out != &fd)
		return 3;
	if ((p = malloc(1 << 20)) == NULL)
		return 4;
	p[12345] = 1;
	free(p);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0 || close(fd) != 0)
		return 5;
	return 0;
}

static int forbidden_exec(void)
{
	char *const argv[] = {(char *)"/bin/true", NULL};

	execv("/bin/true", argv);
	return 0; /* not reached if the filter works: execv kills */
}

static int forbidden_listen_socket(void)
{
	(void)socket(AF_INET, SOCK_STREAM, 0);
	return 0;
}

static int forbidden_ptrace_like(void)
{
	(void)syscall(SYS_setuid, 0);
	return 0;
}

static void test_allowed(void **state)
{
	int st;

	(void)state;
	st = sandboxed(allowed_work);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_forbidden_kills(void **state)
{
	int (*cases[])(void) = {forbidden_exec, forbidden_listen_socket, forbidden_ptrace_like};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = sandboxed(cases[i]);

		assert_true(WIFSIGNALED(st));
		assert_int_equal(WTERMSIG(st), SIGSYS);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_allowed),
	    cmocka_unit_test(test_forbidden_kills),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
