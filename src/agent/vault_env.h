/* vault_env.h: the environment a vault is started with, the same for every
 * backend: PORT, GROUP_ID, AUTH_TOKEN, DATA_DIR, BIND_ADDRESS, plus each
 * agent variable VAULT_ENV_<NAME>=v passed on as <NAME>=v. */
#ifndef GV_AGENT_VAULT_ENV_H
#define GV_AGENT_VAULT_ENV_H

#include "backend.h"

/* A NULL-terminated "K=V" array; NULL on error or a refused VAULT_ENV_ name.
 * bind or data_dir may be NULL (left to the image). */
char **vault_env_build(const struct backend_spec *s, const char *bind, const char *data_dir);
/* Wipes (it holds AUTH_TOKEN) and frees. */
void vault_env_free(char **env);
/* 1 if NAME may be passed with VAULT_ENV_NAME (not one the agent sets itself). */
int vault_env_allowed(const char *name, size_t len);

#endif
