/* config.h: groupvault-agent's settings, read once from the environment.
 * Holds no state beyond what the environment said; never logs the token. */
#ifndef GV_AGENT_CONFIG_H
#define GV_AGENT_CONFIG_H

#include <limits.h>
#include <stddef.h>

#define AGENT_TOKEN_MIN 16
#define AGENT_TOKEN_MAX 256

enum agent_backend_kind { AGENT_BACKEND_PROCESS, AGENT_BACKEND_DOCKER };

struct agent_config {
	char auth_token[AGENT_TOKEN_MAX + 1]; /* AGENT_AUTH_TOKEN (required) */
	unsigned port;                        /* AGENT_PORT (18780) */
	char bind_address[64];                /* AGENT_BIND_ADDRESS (127.0.0.1) */
	char vault_bind_address[64];          /* VAULT_BIND_ADDRESS (127.0.0.1), process backend */
	char data_dir[PATH_MAX];              /* AGENT_DATA_DIR (./agent-data), absolute */
	enum agent_backend_kind backend;      /* AGENT_BACKEND (process) */
	char vault_bin[PATH_MAX];             /* VAULT_BIN (groupvaultd beside the agent) */
	unsigned port_lo, port_hi;            /* VAULT_PORT_RANGE (18800-19799) */
	char docker_host[PATH_MAX];           /* DOCKER_HOST socket path (unix:// stripped) */
	char vault_image[256];                /* VAULT_IMAGE (groupvault:local) */
	unsigned memory_mb;                   /* VAULT_MEMORY_MB (256) */
	unsigned health_timeout_s;            /* VAULT_HEALTH_TIMEOUT_SECONDS (20) */
};

/* Fills cfg from the environment; on error writes one line to err, returns -1. */
int agent_config_load(struct agent_config *cfg, char *err, size_t errlen);

#endif
