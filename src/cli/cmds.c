/* cmds.c: the command table and everything printed from it: the overview
 * (--help), each command's help, and the bash completion. Handlers live in
 * cmd_*.c; nothing here talks to the server. */
#include "cmds.h"

#include <stdint.h>
#include <string.h>

#define END                                                                                        \
	{                                                                                          \
		NULL, NULL, NULL, 0, 0                                                             \
	}

const struct optspec cmds_global[] = {
    {"addr", "URL", "the server (GROUPVAULT_ADDR; " CLI_DEFAULT_ADDR ")", 0, 0},
    {"auth-token", "TOKEN|@FILE", "management token (GROUPVAULT_AUTH_TOKEN)", 0, 0},
    {"token", "TOKEN|@FILE", "capability token (GROUPVAULT_TOKEN)", 0, 0},
    {"cacert", "FILE", "CA certificates for an https server (GROUPVAULT_CACERT)", 0, 0},
    {"json", NULL, "print the server's JSON answer unchanged", 0, 0},
    END,
};

static const struct optspec o_none[] = {END};

static const struct optspec o_init[] = {
    {"threshold", "K", "shares needed to unlock (with --holders)", 0, 0},
    {"holders", "A,B,C", "the share holders' user ids (with --threshold)", 0, 0},
    {"no-password", NULL, "no password: only the shares unlock", 0, 0},
    {"password-stdin", NULL, "read the password from standard input", 0, 0},
    END,
};

static const struct optspec o_rekey[] = {
    {"threshold", "K", "shares needed to unlock (with --holders)", 0, 0},
    {"holders", "A,B,C", "the share holders' user ids (with --threshold)", 0, 0},
    {"no-password", NULL, "no password: only the shares unlock", 0, 0},
    {"password-stdin", NULL, "read the new password from standard input", 0, 0},
    {"user", "USER", "who rekeys (for the audit log)", 0, 0},
    END,
};

static const struct optspec o_unlock[] = {
    {"user", "USER", "who unlocks (the share's holder with --share)", 0, 0},
    {"share", NULL, "submit a threshold share instead of the password", 0, 0},
    {"password-stdin", NULL, "read the password (or share) from standard input", 0, 0},
    END,
};

static const struct optspec o_unlock_share[] = {
    {"user", "USER", "the share's holder", 1, 0},
    {"stdin", NULL, "read the share from standard input", 0, 0},
    END,
};

static const struct optspec o_user[] = {
    {"user", "USER", "who does it (for the audit log)", 0, 0},
    END,
};

static const struct optspec o_token_issue[] = {
    {"user", "USER", "the token's user id", 1, 0},
    {"secrets", "LIST", "names, * or prefixes like prod.* (default *)", 0, 0},
    {"perm", "LIST", "read, write, delete (default read)", 0, 0},
    {"ttl", "DURATION", "lifetime: 90s, 15m, 1h, 30d (default 1h)", 0, 0},
    END,
};

static const struct optspec o_token_list[] = {
    {"user", "USER", "only this user's tokens", 0, 0},
    {"all", NULL, "include revoked and expired tokens", 0, 0},
    {"limit", "N", "at most N tokens per page (1..1000)", 0, 0},
    {"cursor", "C", "start after a previous page's next", 0, 0},
    END,
};

static const struct optspec o_revoke[] = {
    {"by", "USER", "who revokes (for the audit log)", 0, 0},
    {"reason", "TEXT", "why (for the audit log)", 0, 0},
    END,
};

static const struct optspec o_get[] = {
    {"field", "value|metadata", "what to print (default value)", 0, 0},
    END,
};

static const struct optspec o_put[] = {
    {"meta", "K=V", "a metadata entry (repeatable)", 0, 1},
    END,
};

static const struct optspec o_list[] = {
    {"prefix", "P", "only names that start with P", 0, 0},
    END,
};

static const struct optspec o_audit[] = {
    {"limit", "N", "the newest N entries (1..1000, default 20)", 0, 0},
    {"follow", NULL, "keep printing new entries until interrupted", 0, 0},
    {"interval", "DURATION", "how often --follow asks (default 2s)", 0, 0},
    END,
};

static const struct optspec o_export[] = {
    {"format", "ocmt-v1", "the original service's format (vault unlocked)", 0, 0},
    END,
};

static int cmds_run_help(struct cli *c, const struct args *a);

const struct cmd cmds_table[] = {
    {"status", "", "whether the vault is initialized and unlocked, and its policy", 0, 0, o_none,
     cmd_status},
    {"health", "", "the server's liveness answer (no token needed)", 0, 0, o_none, cmd_health},
    {"init", "", "create the vault with a password and/or threshold shares", 0, 0, o_init,
     cmd_init},
    {"unlock", "", "open a session with the password (or a share)", 0, 0, o_unlock, cmd_unlock},
    {"unlock-share", "", "submit one holder's share toward a threshold unlock", 0, 0,
     o_unlock_share, cmd_unlock_share},
    {"lock", "", "end the session and wipe the keys", 0, 0, o_user, cmd_lock},
    {"extend", "", "restart the session clock", 0, 0, o_none, cmd_extend},
    {"rekey", "", "replace the password and/or shares (vault unlocked)", 0, 0, o_rekey, cmd_rekey},
    {"token issue", "", "issue a capability token; prints the token", 0, 0, o_token_issue,
     cmd_token_issue},
    {"token list", "", "list tokens (never their text)", 0, 0, o_token_list, cmd_token_list},
    {"token revoke", "ID|@FILE", "revoke one token by id, SHA-256 hex or token file", 1, 1,
     o_revoke, cmd_token_revoke},
    {"token revoke-user", "USER", "revoke every token of a user", 1, 1, o_revoke,
     cmd_token_revoke_user},
    {"get", "NAME", "print a secret's value (or its metadata)", 1, 1, o_get, cmd_get},
    {"put", "NAME [VALUE|-]", "store a secret; the value from standard input by default", 1, 2,
     o_put, cmd_put},
    {"delete", "NAME", "delete a secret", 1, 1, o_none, cmd_delete},
    {"list", "", "list the secrets the token can read", 0, 0, o_list, cmd_list},
    {"audit", "", "the audit log, oldest of the newest N first", 0, 0, o_audit, cmd_audit},
    {"audit verify", "", "check the audit log's hash chain", 0, 0, o_none, cmd_audit_verify},
    {"export", "", "print an export of the vault (sealed) to standard output", 0, 0, o_export,
     cmd_export},
    {"import", "", "import an export read from standard input", 0, 0, o_none, cmd_import},
    {"help", "[COMMAND]", "this overview, or one command's help", 0, 2, o_none, cmds_run_help},
    {NULL, NULL, NULL, 0, 0, NULL, NULL},
};

const struct cmd *cmds_find(int argc, char **argv, int *words)
{
	const struct cmd *one = NULL;

	for (const struct cmd *c = cmds_table; c->name != NULL; c++) {
		const char *sp = strchr(c->name, ' ');

		if (argc < 1)
			break;
		if (sp == NULL && strcmp(c->name, argv[0]) == 0)
			one = c;
		if (sp != NULL && argc >= 2 && strlen(argv[0]) == (size_t)(sp - c->name) &&
		    strncmp(c->name, argv[0], (size_t)(sp - c->name)) == 0 &&
		    strcmp(sp + 1, argv[1]) == 0) {
			*words = 2;
			return c;
		}
	}
	*words = 1;
	return one;
}

void cmds_unknown(const char *word)
{
	size_t n = strlen(word);
	char subs[256] = "";

	for (const struct cmd *c = cmds_table; c->name != NULL; c++)
		if (strncmp(c->name, word, n) == 0 && c->name[n] == ' ' &&
		    strlen(subs) + strlen(c->name + n) + 1 < sizeof(subs))
			strcat(subs, c->name + n);
	if (subs[0] != '\0')
		cli_err("%s needs one of:%s (see groupvault --help)", word, subs);
	else
		cli_err("unknown command %.64s (see groupvault --help)", word);
}

int cmds_check(const struct cmd *cmd, const struct args *a)
{
	if (a->npos < cmd->min_pos || a->npos > cmd->max_pos) {
		cli_err("%s: %s (see groupvault %s --help)",
			a->npos < cmd->min_pos ? "missing argument" : "too many arguments",
			cmd->name, cmd->name);
		return -1;
	}
	for (const struct optspec *o = cmd->opts; o->name != NULL; o++) {
		if (o->req && !args_has(a, o->name)) {
			cli_err("%s needs --%s %s", cmd->name, o->name, o->arg);
			return -1;
		}
	}
	return 0;
}

static void cmds_synopsis(const struct cmd *c, FILE *f)
{
	fprintf(f, "groupvault %s", c->name);
	if (c->args[0] != '\0')
		fprintf(f, " %s", c->args);
	for (const struct optspec *o = c->opts; o->name != NULL; o++) {
		fprintf(f, o->req ? " --%s" : " [--%s", o->name);
		if (o->arg != NULL)
			fprintf(f, " %s", o->arg);
		fputs(o->req ? "" : "]", f);
		fputs(o->repeat ? "..." : "", f);
	}
	fputc('\n', f);
}

static void cmds_opts(const struct optspec *opts, FILE *f)
{
	for (const struct optspec *o = opts; o->name != NULL; o++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		fprintf(f, "  %-26s %s\n", left, o->help);
	}
}

void cmds_help(const struct cmd *c, FILE *f)
{
	fputs("usage: ", f);
	cmds_synopsis(c, f);
	fprintf(f, "\n%s\n", c->summary);
	if (c->opts[0].name != NULL) {
		fputs("\noptions:\n", f);
		cmds_opts(c->opts, f);
	}
	fputs("\nglobal options (see groupvault --help): --addr --auth-token --token --cacert "
	      "--json\n",
	      f);
}

void cmds_overview(FILE *f)
{
	fputs("usage: groupvault [global options] command [arguments] [options]\n"
	      "       groupvault --completion bash | --help\n"
	      "\ncommands:\n",
	      f);
	for (const struct cmd *c = cmds_table; c->name != NULL; c++)
		fprintf(f, "  %-19s %s\n", c->name, c->summary);
	fputs("\nglobal options:\n", f);
	cmds_opts(cmds_global, f);
	fprintf(f, "  %-26s %s\n", "--help", "this overview, or after a command its usage");
	fputs("\nA token given as @FILE is read from that file. `groupvault COMMAND --help`\n"
	      "shows a command's options. Exit codes: 0 success, 1 server error, 2 usage,\n"
	      "3 vault locked, 4 not found, 5 denied, 6 cannot connect. See groupvault(1).\n",
	      f);
}

static int cmds_run_help(struct cli *c, const struct args *a)
{
	const struct cmd *cmd;
	int words = 0;

	(void)c;
	if (a->npos == 0) {
		cmds_overview(stdout);
		return CLI_OK;
	}
	cmd = cmds_find(a->npos, (char **)(uintptr_t)a->pos, &words);
	if (cmd == NULL || words != a->npos) {
		cli_err("no command %s%s%s (see groupvault --help)", a->pos[0],
			a->npos > 1 ? " " : "", a->npos > 1 ? a->pos[1] : "");
		return CLI_EUSAGE;
	}
	cmds_help(cmd, stdout);
	return CLI_OK;
}

static void cmds_words(const struct optspec *opts, FILE *f)
{
	for (const struct optspec *o = opts; o->name != NULL; o++)
		fprintf(f, " --%s", o->name);
}

/* Appends "--name " of opts' value-taking options not yet in seen. */
static void cmds_value_add(const struct optspec *o, char *seen, size_t len)
{
	char word[80];

	for (; o->name != NULL; o++) {
		snprintf(word, sizeof(word), "--%s ", o->name);
		if (o->arg != NULL && strstr(seen, word) == NULL &&
		    strlen(seen) + strlen(word) < len)
			strcat(seen, word);
	}
}

/* Options that take a value (each once): their next word is not a
 * command word. */
static void cmds_value_opts(FILE *f)
{
	char seen[1024] = " ";

	cmds_value_add(cmds_global, seen, sizeof(seen));
	for (const struct cmd *c = cmds_table; c->name != NULL; c++)
		cmds_value_add(c->opts, seen, sizeof(seen));
	fprintf(f, "\tlocal takes=\"%s\"\n", seen);
}

/* The group words ("token", "audit") and what follows each. */
static void cmds_groups(FILE *f)
{
	for (const struct cmd *c = cmds_table; c->name != NULL; c++) {
		const char *sp = strchr(c->name, ' ');
		int seen = 0;

		if (sp == NULL)
			continue;
		for (const struct cmd *p = cmds_table; p < c; p++)
			if (strchr(p->name, ' ') &&
			    strncmp(p->name, c->name, (size_t)(sp - c->name + 1)) == 0)
				seen = 1;
		if (seen)
			continue;
		fprintf(f, "\t%.*s) words=\"", (int)(sp - c->name), c->name);
		for (const struct cmd *p = c; p->name != NULL; p++)
			if (strncmp(p->name, c->name, (size_t)(sp - c->name + 1)) == 0)
				fprintf(f, " %s", p->name + (sp - c->name) + 1);
		/* A group word that is also a command ("audit") offers its options. */
		for (const struct cmd *p = cmds_table; p->name != NULL; p++)
			if (strlen(p->name) == (size_t)(sp - c->name) &&
			    strncmp(p->name, c->name, (size_t)(sp - c->name)) == 0) {
				cmds_words(p->opts, f);
				cmds_words(cmds_global, f);
				fputs(" --help", f);
			}
		fputs("\" ;;\n", f);
	}
}

/* 1 if c's first word is already offered: an earlier command starts with
 * it, or (for "audit verify") a one-word command has that name. */
static int cmds_first_seen(const struct cmd *c)
{
	size_t n = strcspn(c->name, " ");

	for (const struct cmd *p = cmds_table; p->name != NULL; p++) {
		if (p != c && strlen(p->name) == n && strncmp(p->name, c->name, n) == 0)
			return 1;
		if (p < c && strncmp(p->name, c->name, n) == 0 && p->name[n] == ' ')
			return 1;
	}
	return 0;
}

void cmds_completion_bash(FILE *f)
{
	fputs("# bash completion for groupvault, generated by `groupvault --completion bash`\n"
	      "_groupvault()\n{\n"
	      "\tlocal cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
	      "\tlocal cmd=\"\" words=\"\" i w\n",
	      f);
	cmds_value_opts(f);
	fputs("\tif [[ \"$takes \" == *\" $prev \"* ]]; then\n"
	      "\t\tcase \"$prev\" in\n"
	      "\t\t--cacert) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
	      "\t\t--field) COMPREPLY=($(compgen -W \"value metadata\" -- \"$cur\")) ;;\n"
	      "\t\t--format) COMPREPLY=($(compgen -W \"ocmt-v1\" -- \"$cur\")) ;;\n"
	      "\t\t*) COMPREPLY=() ;;\n"
	      "\t\tesac\n\t\treturn\n\tfi\n"
	      "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	      "\t\tw=\"${COMP_WORDS[i]}\"\n"
	      "\t\tif [[ \"$takes \" == *\" $w \"* ]]; then ((i++)); continue; fi\n"
	      "\t\t[[ \"$w\" == -* ]] && continue\n"
	      "\t\tcmd=\"${cmd:+$cmd }$w\"\n"
	      "\tdone\n"
	      "\tcase \"$cmd\" in\n"
	      "\t\"\") words=\"",
	      f);
	for (const struct cmd *c = cmds_table; c->name != NULL; c++) {
		const char *sp = strchr(c->name, ' ');

		if (sp == NULL)
			fprintf(f, " %s", c->name);
		else if (!cmds_first_seen(c))
			fprintf(f, " %.*s", (int)(sp - c->name), c->name);
	}
	cmds_words(cmds_global, f);
	fputs(" --help --completion\" ;;\n", f);
	for (const struct cmd *c = cmds_table; c->name != NULL; c++)
		if (strchr(c->name, ' ') != NULL) {
			fprintf(f, "\t\"%s\"|\"%s \"*) words=\"", c->name, c->name);
			cmds_words(c->opts, f);
			cmds_words(cmds_global, f);
			fputs(" --help\" ;;\n", f);
		}
	cmds_groups(f);
	for (const struct cmd *c = cmds_table; c->name != NULL; c++)
		if (strchr(c->name, ' ') == NULL) {
			fprintf(f, "\t%s|\"%s \"*) words=\"", c->name, c->name);
			cmds_words(c->opts, f);
			cmds_words(cmds_global, f);
			fputs(" --help\" ;;\n", f);
		}
	fputs("\tesac\n"
	      "\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
	      "}\n"
	      "complete -F _groupvault groupvault\n",
	      f);
}
