/* cli.c: groupvault's start: process hardening, the command line (global
 * options anywhere, then the command table's lookup and checks), settings
 * from flags over environment, and the run of one command. It never prints
 * a token, and loads one only for a command that sends it. */
#include "cli.h"

#include "args.h"
#include "cmds.h"
#include "crypto.h"
#include "jalloc.h"
#include "wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_err(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(stderr, "groupvault: %s\n", line);
}

const char *cli_token(struct cli *c, enum cli_auth kind)
{
	int mgmt = kind == CLI_AUTH_MGMT;
	const char *src = mgmt ? c->auth_src : c->cap_src;
	char **slot = mgmt ? &c->auth : &c->cap;
	const char *why = NULL;

	if (*slot != NULL)
		return *slot;
	if (src == NULL || *src == '\0') {
		cli_err(mgmt ? "no management token: set GROUPVAULT_AUTH_TOKEN or --auth-token"
			     : "no capability token: set GROUPVAULT_TOKEN or --token");
		return NULL;
	}
	if ((*slot = args_secret_text(src, CLI_TOKEN_MAX, &why)) == NULL)
		cli_err("%s token: %s", mgmt ? "management" : "capability", why);
	return *slot;
}

void cli_clear(struct cli *c)
{
	crypto_wipe_free(c->auth);
	crypto_wipe_free(c->cap);
	c->auth = c->cap = NULL;
}

static const char *cli_setting(const struct args *a, const char *opt, const char *env)
{
	const char *v = args_get(a, opt);

	return v != NULL ? v : getenv(env);
}

static int cli_configure(struct cli *c, const struct args *a)
{
	c->addr = cli_setting(a, "addr", "GROUPVAULT_ADDR");
	if (c->addr == NULL || *c->addr == '\0')
		c->addr = CLI_DEFAULT_ADDR;
	if (strncmp(c->addr, "http://", 7) != 0 && strncmp(c->addr, "https://", 8) != 0) {
		cli_err("the address must start with http:// or https://");
		return -1;
	}
	c->auth_src = cli_setting(a, "auth-token", "GROUPVAULT_AUTH_TOKEN");
	c->cap_src = cli_setting(a, "token", "GROUPVAULT_TOKEN");
	c->cacert = cli_setting(a, "cacert", "GROUPVAULT_CACERT");
	if (c->cacert != NULL && *c->cacert == '\0')
		c->cacert = NULL;
	c->json = args_has(a, "json");
	return 0;
}

static const struct optspec cli_top[] = {
    {"completion", "SHELL", "print a completion script (bash)", 0, 0},
    {NULL, NULL, NULL, 0, 0},
};

/* Global options before the command, the command, then its own words. */
static int cli_dispatch(struct cli *c, int argc, char **argv)
{
	const struct optspec *const top[] = {cmds_global, cli_top, NULL};
	struct args a;
	const struct cmd *cmd;
	int used = 0, words = 0;

	memset(&a, 0, sizeof(a));
	if (args_parse(&a, argc, argv, top, 1, &used) != 0)
		return CLI_EUSAGE;
	if (args_has(&a, "completion")) {
		if (strcmp(args_get(&a, "completion"), "bash") != 0) {
			cli_err("--completion knows only bash");
			return CLI_EUSAGE;
		}
		cmds_completion_bash(stdout);
		return CLI_OK;
	}
	if (used == argc) {
		cmds_overview(a.help ? stdout : stderr);
		return a.help ? CLI_OK : CLI_EUSAGE;
	}
	if ((cmd = cmds_find(argc - used, argv + used, &words)) == NULL) {
		cmds_unknown(argv[used]);
		return CLI_EUSAGE;
	}
	{
		const struct optspec *const specs[] = {cmd->opts, cmds_global, NULL};

		if (args_parse(&a, argc - used - words, argv + used + words, specs, 0, NULL) != 0)
			return CLI_EUSAGE;
	}
	if (a.help) {
		cmds_help(cmd, stdout);
		return CLI_OK;
	}
	if (cmds_check(cmd, &a) != 0 || cli_configure(c, &a) != 0)
		return CLI_EUSAGE;
	return cmd->run(c, &a);
}

int cli_main(int argc, char **argv)
{
	struct cli c;
	int rc;

	memset(&c, 0, sizeof(c));
	crypto_init_tls_client(); /* libcurl verifies https servers through OpenSSL */
	if (crypto_init() != 0)
		return CLI_ESERVER;
	jalloc_init();
	if (wire_init() != 0)
		return CLI_ESERVER;
	rc = cli_dispatch(&c, argc > 0 ? argc - 1 : 0, argv + (argc > 0));
	cli_clear(&c);
	wire_cleanup();
	if (fflush(stdout) != 0 && rc == CLI_OK) {
		cli_err("cannot write to standard output");
		rc = CLI_ESERVER;
	}
	return rc;
}
