/* config.c: groupvault-agent's environment, parsed with bounds into
 * struct agent_config. Never logs or echoes AGENT_AUTH_TOKEN. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_vars.h"
#include "vault_env.h"

extern char **environ;

const struct agent_var agent_vars[] = {
    {"AGENT_AUTH_TOKEN", "(required)", "x-auth-token callers must send (16 to 256 chars)"},
    {"AGENT_PORT", "18780", "TCP port of the agent's API"},
    {"AGENT_BIND_ADDRESS", "127.0.0.1", "listen address of the agent's API"},
    {"AGENT_DATA_DIR", "./agent-data", "registry (agent.db) and, for process, groups/<id>/"},
    {"AGENT_BACKEND", "process", "process (fork/exec groupvaultd) or docker (Engine API)"},
    {"VAULT_BIN", "(beside the agent)", "groupvaultd the process backend runs"},
    {"VAULT_PORT_RANGE", "18800-19799", "ports given to vaults, lowest free first"},
    {"VAULT_BIND_ADDRESS", "127.0.0.1", "address vaults listen on (docker too: host networking)"},
    {"DOCKER_HOST", "unix:///var/run/docker.sock", "Docker Engine API socket (docker backend)"},
    {"VAULT_IMAGE", "groupvault:local", "image the docker backend runs"},
    {"VAULT_MEMORY_MB", "256", "memory limit per vault in MiB (container limit; RLIMIT_DATA for process; 0: none)"},
    {"VAULT_HEALTH_TIMEOUT_SECONDS", "20", "provision waits this long for the vault's /health"},
    {"QUIET", "0", "1: no info logs"},
    {NULL, NULL, NULL},
};

static const char *var(const char *name)
{
	const char *v = getenv(name);

	if (v != NULL && *v != '\0')
		return v;
	for (const struct agent_var *a = agent_vars; a->name != NULL; a++)
		if (strcmp(a->name, name) == 0 && a->def[0] != '(')
			return a->def;
	return NULL;
}

static int parse_uint(const char *name, const char *v, unsigned long lo, unsigned long hi,
		      unsigned *out, char *err, size_t errlen)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || v[0] == '+' || n < lo ||
	    n > hi) {
		snprintf(err, errlen, "%s must be an integer from %lu to %lu", name, lo, hi);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

static int copy(const char *name, char *dst, size_t cap, const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);

	if (n >= cap) {
		snprintf(err, errlen, "%s is too long (at most %zu bytes)", name, cap - 1);
		return -1;
	}
	memcpy(dst, v, n + 1);
	return 0;
}

/* An absolute form of a path that may not exist yet (its parent need not either). */
static int absolute(const char *name, const char *v, char *dst, size_t cap, char *err,
		    size_t errlen)
{
	char cwd[PATH_MAX];

	if (v[0] == '/')
		return copy(name, dst, cap, v, err, errlen);
	while (v[0] == '.' && v[1] == '/')
		v += 2;
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		snprintf(err, errlen, "%s: cannot read the working directory", name);
		return -1;
	}
	if ((size_t)snprintf(dst, cap, "%s/%s", cwd, v) >= cap) {
		snprintf(err, errlen, "%s is too long", name);
		return -1;
	}
	return 0;
}

/* groupvaultd beside our own binary, unless VAULT_BIN says otherwise. */
static int vault_bin(struct agent_config *cfg, char *err, size_t errlen)
{
	const char *v = getenv("VAULT_BIN");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (v != NULL && *v != '\0')
		return absolute("VAULT_BIN", v, cfg->vault_bin, sizeof(cfg->vault_bin), err, errlen);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		snprintf(err, errlen, "VAULT_BIN: cannot find the agent's own binary");
		return -1;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash != NULL)
		slash[1] = '\0';
	/* build/san/groupvault-agent runs build/san/groupvaultd, and so on. */
	if ((size_t)snprintf(cfg->vault_bin, sizeof(cfg->vault_bin), "%sgroupvaultd", self) >=
	    sizeof(cfg->vault_bin)) {
		snprintf(err, errlen, "VAULT_BIN: path too long");
		return -1;
	}
	return 0;
}

static int port_range(struct agent_config *cfg, char *err, size_t errlen)
{
	const char *v = var("VAULT_PORT_RANGE");
	char lo[16], hi[16];
	const char *dash = strchr(v, '-');

	if (dash == NULL || (size_t)(dash - v) >= sizeof(lo) || strlen(dash + 1) >= sizeof(hi)) {
		snprintf(err, errlen, "VAULT_PORT_RANGE must be LOW-HIGH, e.g. 18800-19799");
		return -1;
	}
	memcpy(lo, v, (size_t)(dash - v));
	lo[dash - v] = '\0';
	strcpy(hi, dash + 1);
	if (parse_uint("VAULT_PORT_RANGE", lo, 1, 65535, &cfg->port_lo, err, errlen) != 0 ||
	    parse_uint("VAULT_PORT_RANGE", hi, 1, 65535, &cfg->port_hi, err, errlen) != 0)
		return -1;
	if (cfg->port_lo > cfg->port_hi) {
		snprintf(err, errlen, "VAULT_PORT_RANGE: LOW must not exceed HIGH");
		return -1;
	}
	return 0;
}

static int backend_kind(struct agent_config *cfg, char *err, size_t errlen)
{
	const char *v = var("AGENT_BACKEND");

	if (strcmp(v, "process") == 0)
		cfg->backend = AGENT_BACKEND_PROCESS;
	else if (strcmp(v, "docker") == 0)
		cfg->backend = AGENT_BACKEND_DOCKER;
	else {
		snprintf(err, errlen, "AGENT_BACKEND must be process or docker");
		return -1;
	}
	return 0;
}

static int docker_host(struct agent_config *cfg, char *err, size_t errlen)
{
	const char *v = var("DOCKER_HOST");

	if (strncmp(v, "unix://", 7) != 0 || v[7] != '/') {
		snprintf(err, errlen, "DOCKER_HOST must be unix:///path/to/socket");
		return -1;
	}
	return copy("DOCKER_HOST", cfg->docker_host, sizeof(cfg->docker_host), v + 7, err, errlen);
}

/* Every VAULT_ENV_<NAME> must name a variable the agent does not set itself. */
static int vault_env_names(char *err, size_t errlen)
{
	static const char pre[] = "VAULT_ENV_";

	for (char **e = environ; *e != NULL; e++) {
		const char *eq = strchr(*e, '='), *name = *e + sizeof(pre) - 1;

		if (strncmp(*e, pre, sizeof(pre) - 1) != 0 || eq == NULL)
			continue;
		if (!vault_env_allowed(name, (size_t)(eq - name))) {
			snprintf(err, errlen,
				 "%.*s: the agent sets that variable itself (or the name is not "
				 "[A-Z0-9_]+)",
				 (int)(eq - *e), *e);
			return -1;
		}
	}
	return 0;
}

int agent_config_load(struct agent_config *cfg, char *err, size_t errlen)
{
	const char *tok = getenv("AGENT_AUTH_TOKEN");
	size_t n;

	memset(cfg, 0, sizeof(*cfg));
	n = tok == NULL ? 0 : strlen(tok);
	if (n < AGENT_TOKEN_MIN || n > AGENT_TOKEN_MAX) {
		snprintf(err, errlen, "AGENT_AUTH_TOKEN is required (%d to %d characters)",
			 AGENT_TOKEN_MIN, AGENT_TOKEN_MAX);
		return -1;
	}
	memcpy(cfg->auth_token, tok, n + 1);
	if (parse_uint("AGENT_PORT", var("AGENT_PORT"), 1, 65535, &cfg->port, err, errlen) != 0 ||
	    copy("AGENT_BIND_ADDRESS", cfg->bind_address, sizeof(cfg->bind_address),
		 var("AGENT_BIND_ADDRESS"), err, errlen) != 0 ||
	    copy("VAULT_BIND_ADDRESS", cfg->vault_bind_address, sizeof(cfg->vault_bind_address),
		 var("VAULT_BIND_ADDRESS"), err, errlen) != 0 ||
	    absolute("AGENT_DATA_DIR", var("AGENT_DATA_DIR"), cfg->data_dir, sizeof(cfg->data_dir),
		     err, errlen) != 0 ||
	    backend_kind(cfg, err, errlen) != 0 || vault_bin(cfg, err, errlen) != 0 ||
	    port_range(cfg, err, errlen) != 0 || docker_host(cfg, err, errlen) != 0 ||
	    copy("VAULT_IMAGE", cfg->vault_image, sizeof(cfg->vault_image), var("VAULT_IMAGE"), err,
		 errlen) != 0 ||
	    parse_uint("VAULT_MEMORY_MB", var("VAULT_MEMORY_MB"), 0, 65536, &cfg->memory_mb, err,
		       errlen) != 0 ||
	    parse_uint("VAULT_HEALTH_TIMEOUT_SECONDS", var("VAULT_HEALTH_TIMEOUT_SECONDS"), 1, 600,
		       &cfg->health_timeout_s, err, errlen) != 0)
		return -1;
	if (cfg->memory_mb != 0 && cfg->memory_mb < 32) {
		snprintf(err, errlen, "VAULT_MEMORY_MB must be 0 (no limit) or from 32 to 65536");
		return -1;
	}
	if (vault_env_names(err, errlen) != 0)
		return -1;
	if (cfg->backend == AGENT_BACKEND_PROCESS && access(cfg->vault_bin, X_OK) != 0) {
		snprintf(err, errlen, "VAULT_BIN %s is not an executable file", cfg->vault_bin);
		return -1;
	}
	if (cfg->port >= cfg->port_lo && cfg->port <= cfg->port_hi) {
		snprintf(err, errlen, "AGENT_PORT must lie outside VAULT_PORT_RANGE");
		return -1;
	}
	return 0;
}
