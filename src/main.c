/* main.c: groupvaultd start-up and shutdown. Reads the environment, hardens
 * the process, opens the vault, serves HTTP until SIGINT/SIGTERM, then wipes
 * keys and closes the store. Read this first; then routes.c, vault.c, store.c. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "healthcheck.h"
#include "http.h"
#include "jalloc.h"
#include "log.h"
#include "notify.h"
#include "routes.h"
#include "sandbox.h"
#include "tls.h"
#include "util.h"
#include "vault.h"

#define GV_VERSION "0.1.0"
/* Quiet this long after a request, memory a burst grew is given back. */
#define MAIN_TRIM_AFTER_MS 2000

static void usage(FILE *out)
{
	fprintf(out, "usage: groupvaultd [--help | --version | --routes | --healthcheck]\n"
		     "Per-group secret vault. Configured by environment variables:\n\n");
	for (const struct config_var *c = config_vars; c->name != NULL; c++)
		fprintf(out, "  %-28s %-12s %s\n", c->name, c->def, c->help);
}

/* Waits up to a second for SIGINT/SIGTERM and returns it; -1 on a timeout,
 * after giving back memory once per quiet spell (idle vaults stay small:
 * a burst leaves malloc arenas and SQLite caches grown by a few MiB). */
static int main_wait(const sigset_t *set, struct http *h, struct vault *v)
{
	static long long trimmed_at = -1;
	struct timespec second = {1, 0};
	long long last;
	int sig = sigtimedwait(set, NULL, &second);

#ifdef GV_FAULT_INJECTION
	/* Test builds only: SIGUSR2 makes a call the sandbox forbids, so a
	 * black-box test can see the filter kill the daemon. */
	if (sig == SIGUSR2) {
		char *const args[] = {(char *)"/bin/true", NULL};
		execv(args[0], args);
		_exit(3); /* exec failed without the sandbox stopping it */
	}
#endif
	if (sig > 0)
		return sig;
	last = http_last_request(h);
	if (last != trimmed_at && util_mono_ms() - last >= MAIN_TRIM_AFTER_MS) {
		vault_trim(v);
		malloc_trim(0);
		trimmed_at = last;
	}
	return -1;
}

/* Raises the soft descriptor limit to what the connection caps need (the
 * store, epoll and wake-up descriptors on top), never above the hard
 * limit; below it, the caps still hold but new clients may wait. */
static void main_raise_nofile(const struct config *cfg)
{
	rlim_t need = (rlim_t)http_fd_budget(cfg) + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need)
		log_warn("descriptor limit %llu is below the %llu that MAX_CONNECTIONS needs",
			 (unsigned long long)rl.rlim_cur, (unsigned long long)need);
}

/* The command-line arguments: each prints and exits (status for main). */
static int main_args(const char *arg)
{
	if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(arg, "--version") == 0) {
		printf("groupvaultd %s\n", GV_VERSION);
		return 0;
	}
	if (strcmp(arg, "--healthcheck") == 0)
		return healthcheck_run(); /* the container image's HEALTHCHECK */
	if (strcmp(arg, "--routes") == 0) {
		routes_print(stdout);
		return 0;
	}
	fprintf(stderr, "groupvaultd: unknown argument %s (try --help)\n", arg);
	return 2;
}

/* Blocks the signals before any thread starts so only sigwait sees them. */
static void main_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP); /* reload the TLS pair */
#ifdef GV_FAULT_INJECTION
	sigaddset(set, SIGUSR2);
#endif
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct vault *v;
	struct http *h;
	char err[256];
	sigset_t set;
	int sig = 0;

	if (argc > 1)
		return main_args(argv[1]);
	if (config_load(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "groupvaultd: %s\n", err);
		return 2;
	}
	log_set_quiet(cfg.quiet);
	log_set_json(cfg.log_json);
	if (cfg.tls_cert_file[0] != '\0' &&
	    tls_load(cfg.tls_cert_file, cfg.tls_key_file, err, sizeof(err)) != 0) {
		fprintf(stderr, "groupvaultd: %s\n", err);
		return 2;
	}
	/* Few malloc arenas: every thread does short allocations, and per-thread
	 * arenas only add resident memory. */
	mallopt(M_ARENA_MAX, 2);
	if (crypto_init() != 0)
		return 1;
	/* Every JSON tree may hold plaintext: wipe each block on free. */
	jalloc_init();
	main_raise_nofile(&cfg);

	main_block_signals(&set);

	v = vault_new(&cfg);
	if (v == NULL) {
		fprintf(stderr, "groupvaultd: cannot open the vault in %s\n", cfg.data_dir);
		return 1;
	}
	h = http_listen(&cfg, v);
	if (h == NULL || notify_open() != 0) {
		http_stop(h);
		vault_free(v);
		return 1;
	}
	/* From here on the daemon only serves: confine it (SECURITY.md) before
	 * the first request is answered. */
	if (cfg.seccomp && sandbox_enter() != 0) {
		fprintf(stderr,
			"groupvaultd: cannot enter the seccomp sandbox (SECCOMP=0 runs without)\n");
		http_stop(h);
		vault_free(v);
		return 1;
	}
	if (http_serve(h) != 0) {
		http_stop(h);
		vault_free(v);
		return 1;
	}
	log_info("groupvaultd %s listening on %s:%u (group %s, data %s)", GV_VERSION,
		 cfg.bind_address, cfg.port, cfg.group_id, cfg.data_dir);
	notify_send("READY=1");
	while ((sig = main_wait(&set, h, v)) < 0 || sig == SIGHUP)
		if (sig == SIGHUP) {
			notify_send("RELOADING=1");
			tls_reload();
			notify_send("READY=1");
		}
	notify_send("STOPPING=1");
	log_info("signal %d: shutting down", sig);
	vault_quiesce(v); /* queued unlocks are answered, so http_stop need not wait for them */
	http_stop(h);
	vault_free(v);
	tls_unload();
	notify_close();
	crypto_wipe(&cfg, sizeof(cfg));
	return 0;
}
