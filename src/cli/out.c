/* out.c: the CLI's human-readable output. Server text is printed inert
 * (control bytes as '?', so a name cannot drive the terminal); nothing here
 * formats a secret value. */
#include "out.h"

#include "crypto.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct out_table {
	int ncol;
	size_t nrow, cap; /* rows including the header row */
	char **cells;
};

struct out_table *out_table_new(int ncol, const char *const *headers)
{
	struct out_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->ncol = ncol;
	if (out_table_add(t, headers) != 0) {
		out_table_free(t);
		return NULL;
	}
	return t;
}

int out_table_add(struct out_table *t, const char *const *cells)
{
	if (t->nrow == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		char **nc = realloc(t->cells, ncap * (size_t)t->ncol * sizeof(*nc));

		if (nc == NULL)
			return -1;
		t->cells = nc;
		t->cap = ncap;
	}
	for (int i = 0; i < t->ncol; i++) {
		char *s = strdup(cells[i] ? cells[i] : "");

		if (s == NULL) {
			while (i-- > 0)
				free(t->cells[t->nrow * (size_t)t->ncol + (size_t)i]);
			return -1;
		}
		t->cells[t->nrow * (size_t)t->ncol + (size_t)i] = s;
	}
	t->nrow++;
	return 0;
}

void out_put(const char *s, FILE *f)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}

void out_table_print(const struct out_table *t, FILE *f)
{
	size_t w[16] = {0};
	int ncol = t->ncol < 16 ? t->ncol : 16;

	for (size_t r = 0; r < t->nrow; r++)
		for (int i = 0; i < ncol; i++) {
			size_t l = strlen(t->cells[r * (size_t)t->ncol + (size_t)i]);

			if (l > w[i])
				w[i] = l;
		}
	for (size_t r = 0; r < t->nrow; r++) {
		for (int i = 0; i < ncol; i++) {
			const char *s = t->cells[r * (size_t)t->ncol + (size_t)i];

			out_put(s, f);
			if (i + 1 < ncol)
				fprintf(f, "%*s", (int)(w[i] - strlen(s) + 2), "");
		}
		fputc('\n', f);
	}
}

void out_table_free(struct out_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrow * (size_t)t->ncol; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void out_duration(int64_t secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		snprintf(buf, len, "%llds", (long long)secs);
	else if (secs < 3600)
		snprintf(buf, len, secs % 60 ? "%lldm %llds" : "%lldm", (long long)(secs / 60),
			 (long long)(secs % 60));
	else if (secs < 86400)
		snprintf(buf, len, secs / 60 % 60 ? "%lldh %lldm" : "%lldh",
			 (long long)(secs / 3600), (long long)(secs / 60 % 60));
	else
		snprintf(buf, len, secs / 3600 % 24 ? "%lldd %lldh" : "%lldd",
			 (long long)(secs / 86400), (long long)(secs / 3600 % 24));
}

void out_time(int64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&s, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

static char *out_dup(const char *src, size_t n)
{
	char *s = crypto_wipe_malloc(n + 1);

	if (s != NULL) {
		memcpy(s, src, n);
		s[n] = '\0';
	}
	return s;
}

char *out_text(const json_t *v)
{
	size_t i, n = 0;
	json_t *e;
	char *s;

	if (v == NULL || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return out_dup(json_string_value(v), strlen(json_string_value(v)));
	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
		{
			if (!json_is_string(e))
				return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			n += strlen(json_string_value(e)) + 1;
		}
		if ((s = crypto_wipe_malloc(n + 1)) == NULL)
			return NULL;
		s[0] = '\0';
		json_array_foreach(v, i, e)
		{
			if (i > 0)
				strcat(s, ",");
			strcat(s, json_string_value(e));
		}
		return s;
	}
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}
