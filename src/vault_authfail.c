/* vault_authfail.c: failed management-token attempts. An address is
 * refused for the rest of its window after MGMT_AUTH_MAX_FAILURES, and its
 * failures are audited coalesced per address and window (vault_deny.c), so
 * a guesser gets neither unbounded tries nor an unbounded audit log. It
 * never sees, logs or audits the token that was sent. */
#include "vault_int.h"

#include <stdio.h>

#include "ratelimit.h"
#include "util.h"

/* One coalesced entry per (address, action) and window. */
static void vault_auth_audit(struct vault *v, const char *ip, const char *action, const char *error)
{
	struct vault_audit_ev ev = {action, "unauthenticated", ip, NULL, 0, NULL, error, 0, NULL};
	char key[80];

	/* Without coalescing every entry is its own row: only the failures
	 * themselves (bounded by the throttle) are written then. */
	if (v->cfg->audit_coalesce == 0 && error[0] == 'T')
		return;
	snprintf(key, sizeof(key), "addr:%s", ip);
	vault_deny_audit(v, NULL, &ev, key); /* logs if it cannot write */
}

unsigned vault_auth_blocked(struct vault *v, const char *ip)
{
	unsigned wait = ratelimit_blocked(v->auth_rl, ip, util_mono_ms());

	if (wait > 0)
		vault_auth_audit(v, ip, "auth.throttled", "Too many failed attempts");
	return wait;
}

void vault_auth_failed(struct vault *v, const char *ip)
{
	ratelimit_fail(v->auth_rl, ip, util_mono_ms());
	vault_auth_audit(v, ip, "auth.failed", "Unauthorized");
}
