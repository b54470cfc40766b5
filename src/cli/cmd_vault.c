/* cmd_vault.c: status, health, init, unlock (password or share), lock,
 * extend, rekey. Passwords and shares are read without echo or from stdin
 * into wiped buffers and travel only inside the request's JSON; shares the
 * server hands out are printed once, with a warning, and kept nowhere. */
#include "cmd.h"

#include "crypto.h"
#include "out.h"
#include "secin.h"
#include "wire.h"

#include <stdio.h>
#include <string.h>

#define CMD_SECRET_MAX 4096 /* longest password or share read */

long long cmd_int(const json_t *j, const char *key)
{
	return (long long)json_integer_value(json_object_get(j, key));
}

int cmd_print(const struct cli *c, struct wire_resp *r, void (*human)(const json_t *j))
{
	int rc = CLI_OK;

	if (c->json)
		rc = wire_print_raw(r);
	else
		human(r->json);
	wire_resp_free(r);
	return rc;
}

json_t *cmd_read_secret(const struct args *a, const char *what, int confirm)
{
	struct secin s = {NULL, 0}, again = {NULL, 0};
	char prompt[96];
	json_t *j = NULL;

	snprintf(prompt, sizeof(prompt), "%s: ", what);
	if (args_has(a, "password-stdin") || args_has(a, "stdin")) {
		if (secin_fd(0, CMD_SECRET_MAX, 1, &s) != 0)
			return NULL;
	} else {
		if (secin_tty(prompt, CMD_SECRET_MAX, &s) != 0)
			return NULL;
		snprintf(prompt, sizeof(prompt), "%s again: ", what);
		if (confirm && secin_tty(prompt, CMD_SECRET_MAX, &again) != 0)
			goto done;
		if (confirm && !crypto_equal_str(s.buf, s.len, again.buf, again.len)) {
			cli_err("the two entries differ");
			goto done;
		}
	}
	if (s.len == 0)
		cli_err("empty %s", what);
	else if ((j = json_stringn(s.buf, s.len)) == NULL)
		cli_err("the %s is not valid UTF-8", what);
done:
	secin_free(&s);
	secin_free(&again);
	return j;
}

static void cmd_yes(const char *label, const json_t *j, const char *key)
{
	printf("%-12s %s\n", label, json_is_true(json_object_get(j, key)) ? "yes" : "no");
}

/* "password", "2 of alice, bob, carol", or both. */
static void cmd_policy(const json_t *policy)
{
	const json_t *th = json_object_get(policy, "threshold");
	char *holders = out_text(json_object_get(th, "holders"));

	fputs("policy       ", stdout);
	if (json_is_true(json_object_get(policy, "password")))
		fputs(json_is_object(th) ? "password, or " : "password", stdout);
	if (json_is_object(th)) {
		printf("%lld shares of ", cmd_int(th, "required"));
		out_put(holders ? holders : "?", stdout);
	}
	fputc('\n', stdout);
	crypto_wipe_free(holders);
}

static void cmd_status_human(const json_t *j)
{
	char d[32];

	cmd_yes("initialized", j, "initialized");
	out_duration(cmd_int(j, "expiresIn"), d, sizeof(d));
	if (json_is_true(json_object_get(j, "unlocked")))
		printf("%-12s yes (the session ends in %s)\n", "unlocked", d);
	else
		cmd_yes("unlocked", j, "unlocked");
	if (json_is_object(json_object_get(j, "policy")))
		cmd_policy(json_object_get(j, "policy"));
}

int cmd_status(struct cli *c, const struct args *a)
{
	struct wire_resp r;
	int rc;

	(void)a;
	if ((rc = wire_request(c, "GET", "/status", NULL, CLI_AUTH_MGMT, &r)) != CLI_OK)
		return rc;
	return cmd_print(c, &r, cmd_status_human);
}

static void cmd_health_human(const json_t *j)
{
	const char *st = json_string_value(json_object_get(j, "status"));
	const char *g = json_string_value(json_object_get(j, "groupId"));

	fputs("status       ", stdout);
	out_put(st ? st : "?", stdout);
	fputs("\ngroup        ", stdout);
	out_put(g ? g : "?", stdout);
	fputc('\n', stdout);
	cmd_yes("initialized", j, "vaultInitialized");
	cmd_yes("unlocked", j, "vaultUnlocked");
}

int cmd_health(struct cli *c, const struct args *a)
{
	struct wire_resp r;
	int rc;

	(void)a;
	if ((rc = wire_request(c, "GET", "/health", NULL, CLI_AUTH_NONE, &r)) != CLI_OK)
		return rc;
	return cmd_print(c, &r, cmd_health_human);
}

/* The body of init and rekey: {password?, threshold?} from the options. */
static json_t *cmd_policy_body(const struct args *a, const char *what)
{
	const char *k = args_get(a, "threshold"), *holders = args_get(a, "holders");
	json_t *body = json_object(), *list, *pw;
	int64_t n;

	if ((k == NULL) != (holders == NULL)) {
		cli_err("--threshold and --holders go together");
		goto fail;
	}
	if (k == NULL && args_has(a, "no-password")) {
		cli_err("--no-password needs --threshold and --holders");
		goto fail;
	}
	if (k != NULL) {
		if (args_int(k, 1, 255, &n) != 0 || (list = args_list(holders)) == NULL) {
			cli_err("--threshold takes a number, --holders a list like a,b,c");
			goto fail;
		}
		json_object_set_new(
		    body, "threshold",
		    json_pack("{s:I,s:o}", "required", (json_int_t)n, "holders", list));
	}
	if (!args_has(a, "no-password")) {
		if ((pw = cmd_read_secret(a, what, 1)) == NULL)
			goto fail;
		json_object_set_new(body, "password", pw);
	}
	return body;
fail:
	json_decref(body);
	return NULL;
}

/* Shares: to stdout once, the warning to stderr. */
static void cmd_shares(const json_t *j)
{
	const json_t *shares = json_object_get(j, "shares"), *s;
	struct out_table *t;
	size_t i;

	if (!json_is_array(shares) || json_array_size(shares) == 0)
		return;
	fprintf(stderr,
		"WARNING: these %zu shares are shown once and stored nowhere. Give each "
		"holder their own share, over a channel only they read, and keep no "
		"copy.\n",
		json_array_size(shares));
	if ((t = out_table_new(2, (const char *const[]){"HOLDER", "SHARE"})) == NULL)
		return;
	json_array_foreach(shares, i, s)
	{
		const char *row[2] = {json_string_value(json_object_get(s, "userId")),
				      json_string_value(json_object_get(s, "share"))};

		out_table_add(t, row);
	}
	out_table_print(t, stdout);
	out_table_free(t);
}

static void cmd_init_human(const json_t *j)
{
	puts("vault initialized");
	cmd_shares(j);
}

int cmd_init(struct cli *c, const struct args *a)
{
	struct wire_resp r;
	json_t *body;
	int rc;

	if (cli_token(c, CLI_AUTH_MGMT) == NULL)
		return CLI_EUSAGE;
	if ((body = cmd_policy_body(a, "new vault password")) == NULL)
		return CLI_EUSAGE;
	rc = wire_request(c, "POST", "/init", body, CLI_AUTH_MGMT, &r);
	json_decref(body);
	return rc != CLI_OK ? rc : cmd_print(c, &r, cmd_init_human);
}

static void cmd_rekey_human(const json_t *j)
{
	puts("rekeyed: the old password and shares no longer unlock");
	if (json_is_object(json_object_get(j, "policy")))
		cmd_policy(json_object_get(j, "policy"));
	cmd_shares(j);
}

int cmd_rekey(struct cli *c, const struct args *a)
{
	const char *user = args_get(a, "user");
	struct wire_resp r;
	json_t *body;
	int rc;

	if (cli_token(c, CLI_AUTH_MGMT) == NULL)
		return CLI_EUSAGE;
	if ((body = cmd_policy_body(a, "new vault password")) == NULL)
		return CLI_EUSAGE;
	if (user != NULL)
		json_object_set_new(body, "userId", json_string(user));
	rc = wire_request(c, "POST", "/rekey", body, CLI_AUTH_MGMT, &r);
	json_decref(body);
	return rc != CLI_OK ? rc : cmd_print(c, &r, cmd_rekey_human);
}

static void cmd_unlocked_human(const json_t *j)
{
	char d[32];

	out_duration(cmd_int(j, "expiresIn"), d, sizeof(d));
	printf("unlocked: %lld secrets, the session ends in %s\n", cmd_int(j, "secretCount"), d);
}

static void cmd_share_human(const json_t *j)
{
	char d[32];

	if (json_is_true(json_object_get(j, "unlocked"))) {
		cmd_unlocked_human(j);
		return;
	}
	out_duration(cmd_int(j, "expiresIn"), d, sizeof(d));
	printf("share accepted: %lld of %lld received; the others have %s\n",
	       cmd_int(j, "received"), cmd_int(j, "required"), d);
}

/* unlock --share and unlock-share: {userId, share}. */
static int cmd_submit_share(struct cli *c, const struct args *a)
{
	const char *user = args_get(a, "user");
	struct wire_resp r;
	json_t *body, *share;
	char what[80];
	int rc;

	if (user == NULL) {
		cli_err("a share needs --user (its holder)");
		return CLI_EUSAGE;
	}
	if (cli_token(c, CLI_AUTH_MGMT) == NULL)
		return CLI_EUSAGE;
	snprintf(what, sizeof(what), "share of %.32s", user);
	if ((share = cmd_read_secret(a, what, 0)) == NULL)
		return CLI_EUSAGE;
	body = json_pack("{s:s,s:o}", "userId", user, "share", share);
	if (body == NULL) {
		cli_err("--user must be UTF-8 text");
		return CLI_EUSAGE;
	}
	rc = wire_request(c, "POST", "/unlock/share", body, CLI_AUTH_MGMT, &r);
	json_decref(body);
	return rc != CLI_OK ? rc : cmd_print(c, &r, cmd_share_human);
}

int cmd_unlock_share(struct cli *c, const struct args *a) { return cmd_submit_share(c, a); }

int cmd_unlock(struct cli *c, const struct args *a)
{
	const char *user = args_get(a, "user");
	struct wire_resp r;
	json_t *body, *pw;
	int rc;

	if (args_has(a, "share"))
		return cmd_submit_share(c, a);
	if (cli_token(c, CLI_AUTH_MGMT) == NULL)
		return CLI_EUSAGE;
	if ((pw = cmd_read_secret(a, "vault password", 0)) == NULL)
		return CLI_EUSAGE;
	body = json_pack("{s:o}", "password", pw);
	if (body != NULL && user != NULL)
		json_object_set_new(body, "userId", json_string(user));
	rc = wire_request(c, "POST", "/unlock", body, CLI_AUTH_MGMT, &r);
	json_decref(body);
	return rc != CLI_OK ? rc : cmd_print(c, &r, cmd_unlocked_human);
}

static void cmd_locked_human(const json_t *j)
{
	(void)j;
	puts("locked");
}

int cmd_lock(struct cli *c, const struct args *a)
{
	const char *user = args_get(a, "user");
	json_t *body = user ? json_pack("{s:s}", "userId", user) : NULL;
	struct wire_resp r;
	int rc;

	rc = wire_request(c, "POST", "/lock", body, CLI_AUTH_MGMT, &r);
	json_decref(body);
	return rc != CLI_OK ? rc : cmd_print(c, &r, cmd_locked_human);
}

static void cmd_extended_human(const json_t *j)
{
	char d[32];

	out_duration(cmd_int(j, "expiresIn"), d, sizeof(d));
	printf("extended: the session ends in %s\n", d);
}

int cmd_extend(struct cli *c, const struct args *a)
{
	struct wire_resp r;
	int rc;

	(void)a;
	if ((rc = wire_request(c, "POST", "/extend", NULL, CLI_AUTH_MGMT, &r)) != CLI_OK)
		return rc;
	return cmd_print(c, &r, cmd_extended_human);
}
