/* cmd_secret.c: get, put, delete, list with a capability token. A value
 * goes from stdin (or a no-echo prompt) into a wiped buffer, then only into
 * the request's JSON; `get` writes it to stdout byte for byte. No value is
 * ever part of a message. */
#include "cmd.h"

#include "crypto.h"
#include "jalloc.h"
#include "out.h"
#include "secin.h"
#include "util.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD_VALUE_MAX (64u << 20) /* the server's MAX_VALUE_BYTES decides; this bounds memory */

/* "/secrets/NAME" into path (checked against the name rule). */
static int cmd_secret_path(const char *name, char *path, size_t len)
{
	if (!util_valid_name(name, strlen(name))) {
		cli_err("a secret name is 1-255 of A-Z a-z 0-9 _ . -");
		return -1;
	}
	snprintf(path, len, "/secrets/%s", name);
	return 0;
}

static int cmd_print_value(const json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (s == NULL) {
		cli_err("the answer has no value");
		return CLI_ESERVER;
	}
	if (fwrite(s, 1, n, stdout) != n) {
		cli_err("cannot write the value");
		return CLI_ESERVER;
	}
	/* On a terminal, end the line so the prompt does not join the value. */
	if (isatty(STDOUT_FILENO) && (n == 0 || s[n - 1] != '\n'))
		fputc('\n', stdout);
	return CLI_OK;
}

static void cmd_print_meta(const json_t *meta)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)(uintptr_t)meta, k, v)
	{
		char *text = out_text(v);

		out_put(k, stdout);
		fputc('=', stdout);
		out_put(text ? text : "null", stdout);
		fputc('\n', stdout);
		crypto_wipe_free(text);
	}
}

int cmd_get(struct cli *c, const struct args *a)
{
	const char *field = args_get(a, "field");
	char path[300];
	struct wire_resp r;
	int rc;

	if (field != NULL && strcmp(field, "value") != 0 && strcmp(field, "metadata") != 0) {
		cli_err("--field takes value or metadata");
		return CLI_EUSAGE;
	}
	if (cmd_secret_path(a->pos[0], path, sizeof(path)) != 0)
		return CLI_EUSAGE;
	if ((rc = wire_request(c, "GET", path, NULL, CLI_AUTH_CAP, &r)) != CLI_OK)
		return rc;
	if (c->json)
		rc = wire_print_raw(&r);
	else if (field != NULL && strcmp(field, "metadata") == 0)
		cmd_print_meta(json_object_get(r.json, "metadata"));
	else
		rc = cmd_print_value(json_object_get(r.json, "value"));
	wire_resp_free(&r);
	return rc;
}

/* The value: argv (with a warning), a no-echo prompt, or all of stdin. */
static json_t *cmd_read_value(const struct args *a)
{
	struct secin s = {NULL, 0};
	json_t *v;
	int rc;

	if (a->npos == 2 && strcmp(a->pos[1], "-") != 0) {
		cli_err("warning: a value on the command line shows in ps and shell history; "
			"use - and standard input");
		if ((v = json_string(a->pos[1])) == NULL)
			cli_err("the value is not valid UTF-8");
		return v;
	}
	if (isatty(STDIN_FILENO))
		rc = secin_tty("value (one line, not shown): ", 4096, &s);
	else
		rc = secin_fd(STDIN_FILENO, CMD_VALUE_MAX, 0, &s);
	if (rc != 0)
		return NULL;
	if ((v = json_stringn(s.buf, s.len)) == NULL)
		cli_err("the value is not valid UTF-8 (JSON cannot carry it; encode it, e.g. "
			"base64)");
	secin_free(&s);
	return v;
}

/* {k: v} from every --meta k=v. */
static json_t *cmd_meta(const struct args *a)
{
	json_t *meta = json_object();
	const char *kv;
	int i = 0;

	while ((kv = args_next(a, "meta", &i)) != NULL) {
		const char *eq = strchr(kv, '=');
		json_t *v = eq ? json_string(eq + 1) : NULL;

		if (eq == NULL || eq == kv || v == NULL) {
			cli_err("--meta takes key=value (UTF-8)");
			json_decref(v);
			json_decref(meta);
			return NULL;
		}
		{
			char *key = strndup(kv, (size_t)(eq - kv));

			if (key == NULL || json_object_set_new(meta, key, v) != 0) {
				free(key);
				json_decref(meta);
				return NULL;
			}
			free(key);
		}
	}
	return meta;
}

static void cmd_put_human(const json_t *j)
{
	puts(json_is_true(json_object_get(j, "created")) ? "created" : "updated");
}

int cmd_put(struct cli *c, const struct args *a)
{
	json_t *meta, *value, *body;
	char path[300];
	struct wire_resp r;
	int rc;

	if (cmd_secret_path(a->pos[0], path, sizeof(path)) != 0)
		return CLI_EUSAGE;
	if ((meta = cmd_meta(a)) == NULL)
		return CLI_EUSAGE;
	if (cli_token(c, CLI_AUTH_CAP) == NULL || (value = cmd_read_value(a)) == NULL) {
		json_decref(meta);
		return CLI_EUSAGE;
	}
	body = json_pack("{s:o}", "value", value);
	if (body != NULL && json_object_size(meta) > 0)
		json_object_set(body, "metadata", meta);
	json_decref(meta);
	rc = wire_request(c, "POST", path, body, CLI_AUTH_CAP, &r);
	json_decref(body);
	return rc != CLI_OK ? rc : cmd_print(c, &r, cmd_put_human);
}

static void cmd_deleted_human(const json_t *j)
{
	(void)j;
	puts("deleted");
}

int cmd_delete(struct cli *c, const struct args *a)
{
	char path[300];
	struct wire_resp r;
	int rc;

	if (cmd_secret_path(a->pos[0], path, sizeof(path)) != 0)
		return CLI_EUSAGE;
	if ((rc = wire_request(c, "DELETE", path, NULL, CLI_AUTH_CAP, &r)) != CLI_OK)
		return rc;
	return cmd_print(c, &r, cmd_deleted_human);
}

static int cmd_key_cmp(const void *x, const void *y)
{
	const char *a = json_string_value(json_object_get(*(json_t *const *)x, "key"));
	const char *b = json_string_value(json_object_get(*(json_t *const *)y, "key"));

	return strcmp(a ? a : "", b ? b : "");
}

/* The keys under prefix, sorted by name, as a new array. */
static json_t *cmd_keys(const json_t *keys, const char *prefix)
{
	size_t i, n = 0, plen = prefix ? strlen(prefix) : 0;
	json_t **v, *out = json_array(), *k;

	if (out == NULL || (v = calloc(json_array_size(keys) + 1, sizeof(*v))) == NULL) {
		json_decref(out);
		return NULL;
	}
	json_array_foreach(keys, i, k)
	{
		const char *name = json_string_value(json_object_get(k, "key"));

		if (name != NULL && strncmp(name, prefix ? prefix : "", plen) == 0)
			v[n++] = k;
	}
	qsort(v, n, sizeof(*v), cmd_key_cmp);
	for (i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

/* The daemon answers GET /secrets a page at a time: appends the pages
 * after r's to r's keys. 1 if there were any, 0 if not, or an exit code
 * (negated) when one failed. */
static int cmd_list_rest(struct cli *c, struct wire_resp *r)
{
	const char *next = json_string_value(json_object_get(r->json, "next"));
	char path[128];
	int more = 0, rc;

	while (next != NULL && strlen(next) < 80) {
		struct wire_resp p;

		snprintf(path, sizeof(path), "/secrets?after=%s", next);
		if ((rc = wire_request(c, "GET", path, NULL, CLI_AUTH_CAP, &p)) != CLI_OK)
			return -rc;
		json_array_extend(json_object_get(r->json, "keys"), json_object_get(p.json, "keys"));
		if (json_object_get(p.json, "next") != NULL)
			json_object_set(r->json, "next", json_object_get(p.json, "next"));
		else
			json_object_del(r->json, "next");
		wire_resp_free(&p);
		next = json_string_value(json_object_get(r->json, "next"));
		more = 1;
	}
	json_object_del(r->json, "next");
	return more;
}

int cmd_list(struct cli *c, const struct args *a)
{
	const char *prefix = args_get(a, "prefix");
	struct out_table *t = NULL;
	struct wire_resp r;
	json_t *keys, *k;
	size_t i;
	int rc, more;

	if ((rc = wire_request(c, "GET", "/secrets", NULL, CLI_AUTH_CAP, &r)) != CLI_OK)
		return rc;
	if ((more = cmd_list_rest(c, &r)) < 0) {
		wire_resp_free(&r);
		return -more;
	}
	if (c->json && prefix == NULL && !more)
		return cmd_print(c, &r, NULL);
	if ((keys = cmd_keys(json_object_get(r.json, "keys"), prefix)) == NULL) {
		wire_resp_free(&r);
		return CLI_ESERVER;
	}
	if (c->json) {
		/* The server's answer with only the keys under the prefix. */
		json_t *o = json_pack("{s:O}", "keys", keys);
		size_t n = 0;
		char *text = o ? jalloc_dump(o, &n) : NULL;

		if (text != NULL)
			puts(text);
		crypto_wipe_free(text);
		json_decref(o);
	} else if ((t = out_table_new(2, (const char *const[]){"NAME", "METADATA"})) != NULL) {
		json_array_foreach(keys, i, k)
		{
			json_t *m = json_object_get(k, "metadata");
			char *meta = json_object_size(m) > 0 ? out_text(m) : NULL;
			const char *row[2] = {json_string_value(json_object_get(k, "key")), meta};

			out_table_add(t, row);
			crypto_wipe_free(meta);
		}
		out_table_print(t, stdout);
	}
	out_table_free(t);
	json_decref(keys);
	wire_resp_free(&r);
	return CLI_OK;
}
