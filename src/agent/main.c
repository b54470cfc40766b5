/* main.c: groupvault-agent: reads its settings, opens the registry, starts
 * the chosen backend, reconciles, serves the API until SIGTERM/SIGINT, and
 * leaves the vaults running when it exits (the next agent adopts them). */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_vars.h"
#include "api.h"
#include "backend.h"
#include "config.h"
#include "crypto.h"
#include "fleet.h"
#include "jalloc.h"
#include "k8s.h"
#include "log.h"
#include "registry.h"


static void usage(FILE *out)
{
	fprintf(out, "usage: groupvault-agent [--help]\n"
		     "       groupvault-agent manifest <groupId> [options] (see manifest --help)\n"
		     "Provisions and supervises one groupvaultd per group.\n\n"
		     "Settings (environment):\n");
	for (const struct agent_var *v = agent_vars; v->name != NULL; v++)
		fprintf(out, "  %-30s %-28s %s\n", v->name, v->def, v->what);
	fprintf(out, "  %-30s %-28s %s\n", "VAULT_ENV_<NAME>", "(none)",
		"passed to every vault as <NAME> (e.g. VAULT_ENV_SESSION_TTL_SECONDS)");
}

static struct backend *open_backend(const struct agent_config *cfg, char *err, size_t errlen)
{
	return cfg->backend == AGENT_BACKEND_PROCESS ? backend_process_new(cfg, err, errlen)
						      : backend_docker_new(cfg, err, errlen);
}

/* One pidfd per supervised vault: take the whole hard limit (children get
 * their own from the backend). */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int make_dir(const char *path)
{
	struct stat sb;

	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		log_err("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != geteuid()) {
		log_err("AGENT_DATA_DIR %s must be a directory owned by this user", path);
		return -1;
	}
	if ((sb.st_mode & 077) != 0 && chmod(path, 0700) != 0)
		return -1;
	return 0;
}

static int serve(const struct agent_config *cfg, const sigset_t *stop)
{
	char err[512], db[PATH_MAX + 16];
	struct registry *reg = NULL;
	struct backend *b = NULL;
	struct fleet *f = NULL;
	struct agent_api *api = NULL;
	int sig = 0, rc = 1;

	snprintf(db, sizeof(db), "%s/agent.db", cfg->data_dir);
	if (make_dir(cfg->data_dir) != 0)
		return 1;
	if ((reg = registry_open(db, err, sizeof(err))) == NULL ||
	    (b = open_backend(cfg, err, sizeof(err))) == NULL ||
	    (f = fleet_new(cfg, b, reg)) == NULL) {
		log_err("%s", err);
		goto out;
	}
	if (fleet_reconcile(f) != 0)
		log_warn("reconcile could not read the whole registry");
	if ((api = agent_api_start(cfg, f, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		goto out;
	}
	log_info("groupvault-agent listening on %s:%u (backend %s, vault ports %u-%u)",
		 cfg->bind_address, cfg->port, b->ops->name, cfg->port_lo, cfg->port_hi);
	sigwait(stop, &sig);
	log_info("signal %d: stopping the agent; vaults keep running", sig);
	rc = 0;
out:
	agent_api_stop(api);
	fleet_free(f);
	if (b != NULL)
		b->ops->destroy(b);
	registry_close(reg);
	return rc;
}

int main(int argc, char **argv)
{
	struct agent_config cfg;
	char err[512];
	sigset_t stop;
	int rc;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "manifest") == 0) {
		/* Printing manifests needs no AGENT_AUTH_TOKEN: without the agent's
		 * settings, k8s.c uses its defaults. */
		rc = k8s_manifest_main(agent_config_load(&cfg, err, sizeof(err)) == 0 ? &cfg : NULL,
				       argc - 1, argv + 1);
		crypto_wipe(&cfg, sizeof(cfg));
		return rc;
	}
	if (argc > 1) {
		fprintf(stderr, "groupvault-agent: unknown argument %s (try --help)\n", argv[1]);
		return 2;
	}
	if (agent_config_load(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "groupvault-agent: %s\n", err);
		return 1;
	}
	if (getenv("QUIET") != NULL && strcmp(getenv("QUIET"), "1") == 0)
		log_set_quiet(1);
	jalloc_init();
	if (crypto_init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "groupvault-agent: cannot initialise crypto or curl\n");
		return 1;
	}
	crypto_init_tls_client(); /* libcurl's TLS, for vaults that serve HTTPS */
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	/* Every thread inherits the blocked set; only sigwait sees these. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	rc = serve(&cfg, &stop);
	crypto_wipe(&cfg, sizeof(cfg));
	curl_global_cleanup();
	return rc;
}
