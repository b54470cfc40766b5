/* args.h: the command line's grammar: options as --name, --name=value or
 * --name value, positionals, and the value parsers (durations like 90s/1h/30d,
 * comma lists, k=v pairs, @path files). It performs no I/O beyond reading
 * an @path file and never prints a value it parsed. */
#ifndef GV_CLI_ARGS_H
#define GV_CLI_ARGS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ARGS_MAX_POS 8
#define ARGS_MAX_OPT 64

struct optspec {
	const char *name; /* without the leading "--" */
	const char *arg;  /* the value's placeholder in help, or NULL for a switch */
	const char *help;
	int req;    /* must be given */
	int repeat; /* may be given more than once */
};

struct args {
	int npos;
	const char *pos[ARGS_MAX_POS];
	int nopt;
	struct {
		const struct optspec *spec;
		const char *val; /* NULL for a switch */
	} opt[ARGS_MAX_OPT];
	int help; /* -h or --help seen */
};

/* Parses argv[0..argc) into a (appending to what it holds) against the
 * option tables in specs (NULL-terminated list of NULL-name-terminated
 * tables). With stop_at_pos, stops at the first positional and sets *used
 * to the number of words taken. 0, or -1 after a usage message. */
int args_parse(struct args *a, int argc, char **argv, const struct optspec *const *specs,
	       int stop_at_pos, int *used);

/* The last value given for option name (NULL if absent); args_has is 1 if
 * the option appeared at all. args_next iterates: pass *i = 0 first. */
const char *args_get(const struct args *a, const char *name);
int args_has(const struct args *a, const char *name);
const char *args_next(const struct args *a, const char *name, int *i);

/* "90", "90s", "15m", "1h", "30d", "1h30m" -> seconds (1 .. 10 years). */
int args_duration(const char *s, int64_t *secs);
/* A decimal integer in [lo, hi]. */
int args_int(const char *s, int64_t lo, int64_t hi, int64_t *out);
/* "a,b,c" -> new JSON array of strings; no empty items. */
json_t *args_list(const char *s);
/* Reads a token: the text itself, or with a leading '@' the contents of
 * that file, trailing whitespace removed. Must be 1..max bytes without
 * control characters. New wipe-on-free buffer (crypto_wipe_free), or NULL
 * with *why set to a static reason. */
char *args_secret_text(const char *src, size_t max, const char **why);

#endif
