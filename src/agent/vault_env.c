/* vault_env.c: builds the environment of a vault (see vault_env.h). The
 * array holds the vault's AUTH_TOKEN: vault_env_free wipes every string. */
#include "vault_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

extern char **environ;

static const char *const fixed[] = {"PORT", "GROUP_ID", "AUTH_TOKEN", "DATA_DIR",
				    "BIND_ADDRESS", "SIGNING_KEY", "PATH", NULL};

int vault_env_allowed(const char *name, size_t len)
{
	if (len == 0 || (len >= 3 && memcmp(name, "LD_", 3) == 0))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_'))
			return 0;
	for (int i = 0; fixed[i] != NULL; i++)
		if (strlen(fixed[i]) == len && memcmp(fixed[i], name, len) == 0)
			return 0;
	return 1;
}

static int add(char **env, size_t *n, const char *k, const char *v)
{
	size_t len = strlen(k) + strlen(v) + 2;
	char *s = malloc(len);

	if (s == NULL)
		return -1;
	snprintf(s, len, "%s=%s", k, v);
	env[(*n)++] = s;
	return 0;
}

char **vault_env_build(const struct backend_spec *s, const char *bind, const char *data_dir)
{
	static const char pre[] = "VAULT_ENV_";
	size_t cap = 8, n = 0;
	char port[16], **env;
	int bad = 0;

	for (char **e = environ; *e != NULL; e++)
		cap++;
	env = calloc(cap, sizeof(*env));
	if (env == NULL)
		return NULL;
	snprintf(port, sizeof(port), "%u", s->port);
	bad |= add(env, &n, "PORT", port);
	bad |= add(env, &n, "GROUP_ID", s->group_id);
	bad |= add(env, &n, "AUTH_TOKEN", s->auth_token);
	bad |= add(env, &n, "PATH", "/usr/local/bin:/usr/bin:/bin");
	if (data_dir != NULL)
		bad |= add(env, &n, "DATA_DIR", data_dir);
	if (bind != NULL)
		bad |= add(env, &n, "BIND_ADDRESS", bind);
	for (char **e = environ; *e != NULL && !bad; e++) {
		const char *eq = strchr(*e, '=');

		if (strncmp(*e, pre, sizeof(pre) - 1) != 0 || eq == NULL)
			continue;
		const char *name = *e + sizeof(pre) - 1;

		if (!vault_env_allowed(name, (size_t)(eq - name))) {
			bad = 1;
			break;
		}
		env[n] = strdup(name);
		bad |= env[n++] == NULL;
	}
	if (bad) {
		vault_env_free(env);
		return NULL;
	}
	return env;
}

void vault_env_free(char **env)
{
	if (env == NULL)
		return;
	for (char **e = env; *e != NULL; e++) {
		crypto_wipe(*e, strlen(*e));
		free(*e);
	}
	free(env);
}
