/* cmds.h: the command table, the one list of what groupvault can do (like
 * the daemon's route table): lookup, per-command help, the overview and the
 * bash completion are all printed from it. It runs no command itself. */
#ifndef GV_CLI_CMDS_H
#define GV_CLI_CMDS_H

#include "args.h"
#include "cli.h"
#include "cmd.h"

#include <stdio.h>

struct cmd {
	const char *name;    /* one or two words: "get", "token issue" */
	const char *args;    /* positionals for the usage line, "" for none */
	const char *summary; /* one line */
	int min_pos, max_pos;
	const struct optspec *opts; /* NULL-name terminated */
	cmd_fn *run;
};

extern const struct cmd cmds_table[];	   /* NULL-name terminated */
extern const struct optspec cmds_global[]; /* accepted by every command */

/* The command named by argv's first one or two words (*words: how many),
 * or NULL. */
const struct cmd *cmds_find(int argc, char **argv, int *words);
/* The message for a first word that names no command (or only a group). */
void cmds_unknown(const char *word);
/* A parsed command line's count of positionals and required options; 0 or
 * -1 after a usage message. */
int cmds_check(const struct cmd *cmd, const struct args *a);
void cmds_overview(FILE *f);
void cmds_help(const struct cmd *cmd, FILE *f);
/* A bash completion function for the whole table. */
void cmds_completion_bash(FILE *f);

#endif
