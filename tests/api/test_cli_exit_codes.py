"""Every exit code of groupvault(1): 0 success, 1 server error (the JSON
error on stderr), 2 usage, 3 locked, 4 not found, 5 denied, 6 cannot
connect; and a route the server lacks is named, not a crash."""
import http.server
import json
import threading

import cli_harness as ch
from harness import PASSWORD, Vault, free_port


def test_exit_codes():
    with Vault() as v:
        # 0
        r = ch.run(["health"], v)
        assert r.rc == 0 and b"status       ok" in r.out, r
        # 3: locked before any init is not locked; after init it is
        ch.ok(["init", "--password-stdin"], v, stdin=PASSWORD.encode())
        r = ch.run(["extend"], v)
        assert r.rc == 3 and r.err == "groupvault: Vault is locked\n", r
        r = ch.run(["token", "issue", "--user", "u1"], v)
        assert r.rc == 3, r
        # 1: the server's error text, from its JSON
        r = ch.run(["init", "--password-stdin"], v, stdin=PASSWORD.encode())
        assert r.rc == 1 and "already initialized" in r.err, r
        # 5: wrong password, wrong management token
        r = ch.run(["unlock", "--password-stdin"], v, stdin=b"not the password at all")
        assert r.rc == 5 and r.err == "groupvault: Invalid password\n", r
        r = ch.run(["status"], v, auth="wrong-management-token")
        assert r.rc == 5 and "Unauthorized" in r.err, r
        ch.ok(["unlock", "--password-stdin"], v, stdin=PASSWORD.encode())
        narrow = v.token(perms=("read",), scope=("app.*",))
        r = ch.run(["get", "db.pw"], v, narrow)
        assert r.rc == 5 and "Access denied" in r.err, r
        r = ch.run(["get", "app.x"], v, "bogus.token")
        assert r.rc == 5, r
        # 4: no such secret, no such token
        r = ch.run(["get", "app.missing"], v, narrow)
        assert r.rc == 4 and r.err == "groupvault: Secret not found\n", r
        r = ch.run(["token", "revoke", "0123456789abcdef0123456789abcdef"], v)
        assert r.rc == 4 and "Token not found" in r.err, r
        # 1 again: a 400 with details
        r = ch.run(["token", "issue", "--user", "u1", "--ttl", "10s"], v)
        assert r.rc == 1 and r.err.startswith("groupvault: "), r
        # 3 after lock
        ch.ok(["lock"], v)
        r = ch.run(["get", "app.x"], v, narrow)
        assert r.rc == 3, r


def test_usage_errors():
    """Exit 2 without contacting anything: the address points nowhere, so
    any attempt to connect would give 6 instead."""
    env = ch.env_for(None, token="t.t", GROUPVAULT_ADDR="http://127.0.0.1:%d" % free_port())
    cases = [
        [],
        ["frobnicate"],
        ["token"],
        ["get"],
        ["get", "a", "b"],
        ["get", "bad/name"],
        ["get", "x", "--field", "colour"],
        ["token", "issue"],
        ["token", "issue", "--user", "u", "--ttl", "5x"],
        ["token", "issue", "--user", "u", "--perm", "read,,write"],
        ["list", "--nope"],
        ["list", "-x"],
        ["audit", "--limit", "0"],
        ["audit", "--limit"],
        ["init", "--threshold", "2"],
        ["init", "--no-password"],
        ["unlock", "--share"],
        ["export", "--format", "yaml"],
        ["help", "nosuch"],
        ["--completion", "zsh"],
        ["--addr", "ftp://x", "health"],
        ["put", "k", "--meta", "novalue"],
    ]
    for args in cases:
        r = ch.run(args, env=env)
        assert r.rc == 2, "%r: %r" % (args, r)
        assert r.err.startswith("groupvault: ") or r.err.startswith("usage: "), (args, r)
        assert r.out == b"", (args, r)
    # No token configured at all.
    bare = ch.env_for(None, auth=None, GROUPVAULT_ADDR=env["GROUPVAULT_ADDR"])
    r = ch.run(["status"], env=bare)
    assert r.rc == 2 and "GROUPVAULT_AUTH_TOKEN" in r.err, r
    r = ch.run(["get", "x"], env=bare)
    assert r.rc == 2 and "GROUPVAULT_TOKEN" in r.err, r
    r = ch.run(["--token", "@/nonexistent/token", "get", "x"], env=bare)
    assert r.rc == 2 and "cannot open" in r.err, r
    # A password with no terminal to read it from: usage, and no hang.
    r = ch.run(["unlock"], env=env)
    assert r.rc == 2 and "--password-stdin" in r.err, r


def test_cannot_connect():
    env = ch.env_for(None, token="t.t", GROUPVAULT_ADDR="http://127.0.0.1:%d" % free_port())
    for args in (["health"], ["status"], ["get", "x"], ["audit"]):
        r = ch.run(args, env=env)
        assert r.rc == 6 and "cannot connect" in r.err, (args, r)


class _OldServer(http.server.BaseHTTPRequestHandler):
    """A server without the newer routes: every path is the daemon's
    unmatched-route answer."""

    def _answer(self):
        body = json.dumps({"error": "Not found"}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args):
        pass


def test_missing_route_is_named():
    srv = http.server.HTTPServer(("127.0.0.1", 0), _OldServer)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        env = ch.env_for(None, GROUPVAULT_ADDR="http://127.0.0.1:%d" % srv.server_port)
        r = ch.run(["audit", "verify"], env=env)
        assert r.rc == 1, r
        assert "no route GET /audit/verify" in r.err, r
        r = ch.run(["token", "list"], env=env)
        assert r.rc == 1 and "no route GET /tokens:" in r.err and "limit" not in r.err, r
    finally:
        srv.shutdown()
        srv.server_close()


def test_rate_limited_names_the_wait():
    """A 429 is a server error (1) and says when to retry (Retry-After)."""
    with Vault(UNLOCK_MAX_FAILURES=1) as v:
        v.mgmt("POST", "/init", {"password": PASSWORD})
        r = ch.run(["unlock", "--password-stdin"], v, stdin=b"wrong password, long enough")
        assert r.rc == 5, r
        r = ch.run(["unlock", "--password-stdin"], v, stdin=PASSWORD.encode())
        assert r.rc == 1, r
        assert "(retry in " in r.err and PASSWORD not in r.err, r
