/* cmd_audit.c: audit (once, or --follow with the server's after= cursor),
 * audit verify, export and import. Exports are sealed by the server and are
 * passed through unchanged; nothing is written anywhere but stdout. */
#include "cmd.h"

#include "crypto.h"
#include "jalloc.h"
#include "out.h"
#include "secin.h"
#include "wire.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t cmd_stop;

static void cmd_on_signal(int sig)
{
	(void)sig;
	cmd_stop = 1;
}

static void cmd_audit_head(const struct cli *c)
{
	if (!c->json)
		printf("%-6s  %-24s  %-24s  %-16s  %-4s%s\n", "SEQ", "TIME", "ACTION", "USER", "OK",
		       "  DETAIL");
}

/* One entry: a line of the table, or compact JSON with --json. */
static void cmd_audit_entry(const struct cli *c, const json_t *e)
{
	static const char *const detail[] = {"secretKey", "targetUserId", "error"};
	const char *ts = json_string_value(json_object_get(e, "timestamp"));
	const char *act = json_string_value(json_object_get(e, "action"));
	const char *user = json_string_value(json_object_get(e, "userId"));
	const char *ok = json_is_false(json_object_get(e, "success")) ? "no" : "yes";
	int pad = 1;

	if (c->json) {
		size_t n = 0;
		char *text = jalloc_dump(e, &n);

		if (text != NULL)
			puts(text);
		crypto_wipe_free(text);
		return;
	}
	printf("%-6lld  ", cmd_int(e, "seq"));
	if (json_is_true(json_object_get(e, "corrupt"))) {
		puts("(entry is not JSON)");
		return;
	}
	printf("%-24.24s  ", ts ? ts : "?");
	out_put(act ? act : "?", stdout);
	printf("%*s  ", act && strlen(act) < 24 ? (int)(24 - strlen(act)) : 0, "");
	out_put(user ? user : "?", stdout);
	printf("%*s  %s", user && strlen(user) < 16 ? (int)(16 - strlen(user)) : 0, "", ok);
	for (size_t i = 0; i < sizeof(detail) / sizeof(detail[0]); i++) {
		const char *d = json_string_value(json_object_get(e, detail[i]));

		if (d != NULL) {
			/* The first detail starts in the DETAIL column. */
			printf("%*s", pad ? 6 - (int)strlen(ok) : 2, "");
			pad = 0;
			out_put(d, stdout);
		}
	}
	if (cmd_int(e, "count") > 1)
		printf("  (x%lld)", cmd_int(e, "count"));
	fputc('\n', stdout);
}

/* Waits secs unless a signal asks to stop; 1 if it did. */
static int cmd_nap(int64_t secs)
{
	struct timespec ts = {(time_t)secs, 0};

	while (!cmd_stop && nanosleep(&ts, &ts) != 0)
		;
	return cmd_stop;
}

/* --follow: pages of ?after=cursor until SIGINT or SIGTERM. */
static int cmd_audit_follow(struct cli *c, long long cursor, int64_t every)
{
	struct sigaction sa;
	int rc = CLI_OK;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cmd_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fflush(stdout);
	while (!cmd_nap(every)) {
		char path[96];
		struct wire_resp r;
		const json_t *e;
		size_t i;

		snprintf(path, sizeof(path), "/audit?after=%lld&limit=1000", cursor);
		if ((rc = wire_request(c, "GET", path, NULL, CLI_AUTH_MGMT, &r)) != CLI_OK)
			break;
		json_array_foreach(json_object_get(r.json, "logs"), i, e) cmd_audit_entry(c, e);
		if (json_is_integer(json_object_get(r.json, "next")))
			cursor = cmd_int(r.json, "next");
		wire_resp_free(&r);
		fflush(stdout);
	}
	return rc;
}

int cmd_audit(struct cli *c, const struct args *a)
{
	int64_t limit = 20, every = 2;
	long long cursor = 0;
	struct wire_resp r;
	const json_t *logs;
	char path[64];
	int rc;

	if ((args_has(a, "limit") && args_int(args_get(a, "limit"), 1, 1000, &limit) != 0) ||
	    (args_has(a, "interval") && args_duration(args_get(a, "interval"), &every) != 0)) {
		cli_err("--limit takes 1..1000, --interval a duration like 5s");
		return CLI_EUSAGE;
	}
	snprintf(path, sizeof(path), "/audit?limit=%lld", (long long)limit);
	if ((rc = wire_request(c, "GET", path, NULL, CLI_AUTH_MGMT, &r)) != CLI_OK)
		return rc;
	if (c->json && !args_has(a, "follow"))
		return cmd_print(c, &r, NULL);
	logs = json_object_get(r.json, "logs");
	cmd_audit_head(c);
	/* Newest first from the server; a log reads oldest first. */
	for (size_t i = json_array_size(logs); i-- > 0;) {
		const json_t *e = json_array_get(logs, i);

		cmd_audit_entry(c, e);
		if (cmd_int(e, "seq") > cursor)
			cursor = cmd_int(e, "seq");
	}
	wire_resp_free(&r);
	return args_has(a, "follow") ? cmd_audit_follow(c, cursor, every) : CLI_OK;
}

int cmd_audit_verify(struct cli *c, const struct args *a)
{
	const char *problem;
	struct wire_resp r;
	int rc, valid;

	(void)a;
	if ((rc = wire_request(c, "GET", "/audit/verify", NULL, CLI_AUTH_MGMT, &r)) != CLI_OK)
		return rc;
	valid = json_is_true(json_object_get(r.json, "valid"));
	problem = json_string_value(json_object_get(r.json, "problem"));
	if (c->json)
		rc = wire_print_raw(&r);
	else if (valid)
		printf("valid: %lld entries, head seq %lld, sealed through %lld; %s\n",
		       cmd_int(r.json, "entries"), cmd_int(r.json, "headSeq"),
		       cmd_int(r.json, "sealedThrough"),
		       json_is_true(json_object_get(r.json, "macsChecked"))
			   ? "MACs checked"
			   : "MACs not checked (the vault is locked)");
	if (!valid) {
		cli_err("the audit chain is broken at seq %lld (%s)",
			cmd_int(r.json, "firstBadSeq"), problem ? problem : "unknown");
		rc = CLI_ESERVER;
	}
	wire_resp_free(&r);
	return rc;
}

int cmd_export(struct cli *c, const struct args *a)
{
	const char *format = args_get(a, "format");
	struct wire_resp r;
	int rc;

	if (format != NULL && strcmp(format, "ocmt-v1") != 0) {
		cli_err("--format knows only ocmt-v1 (the default is groupvault's own)");
		return CLI_EUSAGE;
	}
	rc = wire_request(c, "GET", format ? "/export?format=ocmt-v1" : "/export", NULL,
			  CLI_AUTH_MGMT, &r);
	if (rc != CLI_OK)
		return rc;
	rc = wire_print_raw(&r);
	wire_resp_free(&r);
	return rc;
}

static void cmd_imported_human(const json_t *j)
{
	const char *m = json_string_value(json_object_get(j, "message"));

	out_put(m ? m : "imported", stdout);
	fputc('\n', stdout);
}

int cmd_import(struct cli *c, const struct args *a)
{
	struct secin s = {NULL, 0};
	struct wire_resp r;
	json_t *doc, *body;
	int rc;

	(void)a;
	if (cli_token(c, CLI_AUTH_MGMT) == NULL)
		return CLI_EUSAGE;
	if (isatty(STDIN_FILENO)) {
		cli_err("import reads an export from standard input: groupvault import < file");
		return CLI_EUSAGE;
	}
	if (secin_fd(STDIN_FILENO, WIRE_MAX_ANSWER, 0, &s) != 0)
		return CLI_EUSAGE;
	doc = json_loadb(s.buf, s.len, JSON_REJECT_DUPLICATES, NULL);
	secin_free(&s);
	if (!json_is_object(doc)) {
		cli_err("standard input is not a JSON object (an export)");
		json_decref(doc);
		return CLI_EUSAGE;
	}
	/* An export's answer is {vault: {...}}; a bare vault object is wrapped. */
	if (json_object_get(doc, "vault") != NULL)
		body = doc;
	else {
		body = json_pack("{s:o}", "vault", doc);
	}
	rc = wire_request(c, "POST", "/import", body, CLI_AUTH_MGMT, &r);
	json_decref(body);
	return rc != CLI_OK ? rc : cmd_print(c, &r, cmd_imported_human);
}
