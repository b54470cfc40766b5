/* agent_vars.h: the table of the agent's environment variables, the one
 * source for --help and the README's table. */
#ifndef GV_AGENT_VARS_H
#define GV_AGENT_VARS_H

struct agent_var {
	const char *name, *def, *what;
};

extern const struct agent_var agent_vars[];

#endif
