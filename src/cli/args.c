/* args.c: option and value parsing for the groupvault command line. Parses
 * only; it runs no command, and its messages never echo a value (an option's
 * name is safe to show, what follows it may be a secret). */
#include "args.h"

#include "cli.h"
#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static const struct optspec *args_find(const struct optspec *const *specs, const char *name,
				       size_t len)
{
	for (size_t t = 0; specs[t] != NULL; t++)
		for (const struct optspec *o = specs[t]; o->name != NULL; o++)
			if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
				return o;
	return NULL;
}

/* One "--name[=value]" word at argv[*i]; takes the next word as its value
 * when needed. */
static int args_option(struct args *a, int argc, char **argv, int *i,
		       const struct optspec *const *specs)
{
	const char *w = argv[*i] + 2, *eq = strchr(w, '=');
	size_t len = eq ? (size_t)(eq - w) : strlen(w);
	const struct optspec *o = args_find(specs, w, len);
	const char *val = NULL;

	if (o == NULL) {
		cli_err("unknown option --%.*s", (int)(len > 64 ? 64 : len), w);
		return -1;
	}
	if (o->arg == NULL && eq != NULL) {
		cli_err("option --%s takes no value", o->name);
		return -1;
	}
	if (o->arg != NULL) {
		if (eq != NULL)
			val = eq + 1;
		else if (*i + 1 < argc)
			val = argv[++*i];
		else {
			cli_err("option --%s needs a value (%s)", o->name, o->arg);
			return -1;
		}
	}
	if (a->nopt == ARGS_MAX_OPT) {
		cli_err("too many options");
		return -1;
	}
	a->opt[a->nopt].spec = o;
	a->opt[a->nopt].val = val;
	a->nopt++;
	return 0;
}

int args_parse(struct args *a, int argc, char **argv, const struct optspec *const *specs,
	       int stop_at_pos, int *used)
{
	int i, only_pos = 0;

	for (i = 0; i < argc; i++) {
		const char *w = argv[i];

		if (!only_pos && strcmp(w, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (!only_pos && (strcmp(w, "-h") == 0 || strcmp(w, "--help") == 0)) {
			a->help = 1;
			continue;
		}
		if (!only_pos && w[0] == '-' && w[1] == '-') {
			if (args_option(a, argc, argv, &i, specs) != 0)
				return -1;
			continue;
		}
		if (!only_pos && w[0] == '-' && w[1] != '\0') {
			cli_err("unknown option %.2s (options are spelled --name)", w);
			return -1;
		}
		if (stop_at_pos)
			break;
		if (a->npos == ARGS_MAX_POS) {
			cli_err("too many arguments");
			return -1;
		}
		a->pos[a->npos++] = w;
	}
	if (used != NULL)
		*used = i;
	return 0;
}

const char *args_next(const struct args *a, const char *name, int *i)
{
	for (; *i < a->nopt; (*i)++)
		if (strcmp(a->opt[*i].spec->name, name) == 0)
			return a->opt[(*i)++].val;
	return NULL;
}

const char *args_get(const struct args *a, const char *name)
{
	const char *v = NULL;

	for (int i = 0; i < a->nopt; i++)
		if (strcmp(a->opt[i].spec->name, name) == 0)
			v = a->opt[i].val;
	return v;
}

int args_has(const struct args *a, const char *name)
{
	for (int i = 0; i < a->nopt; i++)
		if (strcmp(a->opt[i].spec->name, name) == 0)
			return 1;
	return 0;
}

int args_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	int64_t v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int args_duration(const char *s, int64_t *secs)
{
	const int64_t max = 10LL * 365 * 86400;
	int64_t total = 0;

	if (s == NULL || *s == '\0')
		return -1;
	while (*s) {
		int64_t n = 0, unit;
		int digits = 0;

		for (; *s >= '0' && *s <= '9'; s++, digits++) {
			if (n > max)
				return -1;
			n = n * 10 + (*s - '0');
		}
		if (digits == 0)
			return -1;
		switch (*s) {
		case '\0':
			unit = 1;
			break;
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		case 'w':
			unit = 7 * 86400;
			break;
		default:
			return -1;
		}
		if (*s != '\0')
			s++;
		if (n > max / unit || total + n * unit > max)
			return -1;
		total += n * unit;
	}
	if (total < 1)
		return -1;
	*secs = total;
	return 0;
}

json_t *args_list(const char *s)
{
	json_t *arr = json_array();

	if (arr == NULL || s == NULL)
		goto fail;
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);

		if (len == 0 || json_array_append_new(arr, json_stringn(s, len)) != 0)
			goto fail;
		if (comma == NULL)
			return arr;
		s = comma + 1;
	}
fail:
	json_decref(arr);
	return NULL;
}

/* Reads up to max bytes of path into buf (max + 1 bytes); -1 if larger. */
static int args_read_file(const char *path, char *buf, size_t max, size_t *len, const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t n = 0;
	ssize_t r;

	if (fd < 0) {
		*why = "cannot open the token file";
		return -1;
	}
	while ((r = read(fd, buf + n, max + 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*why = "cannot read the token file";
			close(fd);
			return -1;
		}
		n += (size_t)r;
		if (n > max) {
			*why = "the token file is too large";
			close(fd);
			return -1;
		}
	}
	close(fd);
	*len = n;
	return 0;
}

char *args_secret_text(const char *src, size_t max, const char **why)
{
	char *buf = crypto_wipe_malloc(max + 2);
	size_t len;

	*why = "out of memory";
	if (buf == NULL)
		return NULL;
	if (src[0] == '@') {
		if (args_read_file(src + 1, buf, max, &len, why) != 0)
			goto fail;
	} else {
		len = strlen(src);
		if (len > max) {
			*why = "the token is too long";
			goto fail;
		}
		memcpy(buf, src, len);
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
			   buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	*why = "the token is empty";
	if (len == 0)
		goto fail;
	*why = "the token contains control characters";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			goto fail;
	return buf;
fail:
	crypto_wipe_free(buf);
	return NULL;
}
