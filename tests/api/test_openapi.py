"""docs/openapi.yaml: it names exactly the routes of `groupvaultd --routes`,
Redocly CLI's linter (installed from npm under build/, never committed)
finds nothing wrong with it, and the daemon's answers on every route match
its schemas, statuses and headers. (run.py also checks every answer the
whole suite recorded.)"""
import json
import os
import re
import shutil
import subprocess
import tempfile

import openapi_check
from harness import AUTH, BINARY, PASSWORD, ROOT, Skip, Vault

REDOCLY_VERSION = "2.77.0"
NPM_PREFIX = os.path.join(ROOT, "build", "npm")
REDOCLY = os.path.join(NPM_PREFIX, "node_modules", ".bin", "redocly")
DOCS = os.path.join(ROOT, "docs")


def contract():
    try:
        return openapi_check.Contract()
    except openapi_check.Unavailable as e:
        raise Skip(str(e))


def test_paths_match_route_table():
    routes = subprocess.run([BINARY, "--routes"], capture_output=True, text=True, timeout=20)
    served = set()
    for line in routes.stdout.splitlines():
        method, pattern = line.split()[:2]
        served.add((method, re.sub(r":(\w+)", r"{\1}", pattern)))
    documented = contract().operations()
    assert served, routes
    assert served - documented == set(), "served, not in openapi.yaml: %s" % (served - documented)
    assert documented - served == set(), "in openapi.yaml, not served: %s" % (documented - served)


def redocly():
    """The pinned Redocly CLI under build/npm, installed on first use."""
    pkg = os.path.join(NPM_PREFIX, "node_modules", "@redocly", "cli", "package.json")
    if os.path.exists(pkg):
        with open(pkg) as f:
            if json.load(f).get("version") == REDOCLY_VERSION and os.path.exists(REDOCLY):
                return REDOCLY
    if shutil.which("npm") is None:
        raise Skip("npm is not installed: cannot fetch @redocly/cli")
    os.makedirs(NPM_PREFIX, exist_ok=True)
    r = subprocess.run(["npm", "install", "--prefix", NPM_PREFIX, "--no-audit", "--no-fund",
                        "--loglevel=error", "@redocly/cli@" + REDOCLY_VERSION],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        if re.search(r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH", r.stderr):
            raise Skip("the npm registry is unreachable: " + r.stderr.strip().splitlines()[-1])
        raise AssertionError("npm install @redocly/cli failed:\n" + r.stderr)
    return REDOCLY


def lint(directory):
    r = subprocess.run([redocly(), "lint", "--config", "redocly.yaml", "openapi.yaml"],
                       cwd=directory, capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


def test_lint_with_redocly():
    rc, out = lint(DOCS)
    assert rc == 0, out
    # The linter does catch a broken document (an undefined path parameter).
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(os.path.join(DOCS, "redocly.yaml"), d)
        with open(os.path.join(DOCS, "openapi.yaml")) as f:
            text = f.read()
        assert "  /audit/verify:\n" in text
        with open(os.path.join(d, "openapi.yaml"), "w") as f:
            f.write(text.replace("  /audit/verify:\n", "  /audit/{verify}:\n", 1))
        rc, out = lint(d)
        assert rc != 0 and "verify" in out, out


class Driver:
    """Sends requests to v and checks each answer against the contract;
    notes which operations answered 2xx."""

    def __init__(self, v, c):
        self.v, self.c, self.covered = v, c, set()

    def call(self, method, path, want, body=None, headers=None, raw=None):
        r = self.v.request(method, path, body=body, headers=headers, raw=raw)
        assert r.status == want, (method, path, want, r)
        problems = self.c.check(method, path, r.status, r.headers, r.raw)
        assert problems == [], problems
        template, op = self.c.match(method, path.split("?")[0])
        if op is not None and 200 <= r.status < 300:
            self.covered.add((method, template))
        return r.json

    def mgmt(self, method, path, want, body=None, raw=None):
        return self.call(method, path, want, body, headers={"x-auth-token": AUTH}, raw=raw)

    def cap(self, method, path, token, want, body=None):
        return self.call(method, path, want, body, headers={"x-capability-token": token})


def test_every_route_answers_per_contract():
    c = contract()
    with Vault() as v, Vault() as other:
        d = Driver(v, c)
        d.call("GET", "/health", 200)
        d.mgmt("POST", "/init", 200, {"password": PASSWORD})
        d.mgmt("POST", "/init", 400, {"password": PASSWORD})
        d.mgmt("GET", "/status", 200)
        d.call("GET", "/status", 401)
        d.mgmt("GET", "/metrics", 200)
        d.call("GET", "/metrics", 401)
        d.cap("GET", "/secrets", "x", 401)
        d.mgmt("POST", "/extend", 423)
        d.mgmt("POST", "/unlock", 401, {"password": "wrong password, long enough"})
        d.mgmt("POST", "/unlock", 200, {"password": PASSWORD, "userId": "ops"})
        d.mgmt("POST", "/extend", 200)
        tok = d.mgmt("POST", "/tokens", 200, {"userId": "u1", "permissions":
                                               ["read", "write", "delete"]})
        d.mgmt("POST", "/tokens", 400, {"userId": "u1", "ttlSeconds": 1})
        d.mgmt("GET", "/tokens?includeRevoked=true&limit=5", 200)
        d.cap("POST", "/secrets/db.password", tok["token"], 200,
              {"value": "hunter2", "metadata": {"env": "prod"}})
        d.cap("POST", "/secrets/db.password", tok["token"], 200, {"value": "hunter3"})
        d.cap("GET", "/secrets", tok["token"], 200)
        d.cap("GET", "/secrets/db.password", tok["token"], 200)
        d.cap("GET", "/secrets/absent", tok["token"], 404)
        d.cap("POST", "/secrets/bad%2Fname", tok["token"], 400, {"value": "x"})
        d.mgmt("GET", "/audit?limit=10", 200)
        d.mgmt("GET", "/audit?after=0&limit=3", 200)
        d.mgmt("GET", "/audit/verify", 200)
        d.mgmt("GET", "/audit/secret/db.password", 200)
        d.cap("DELETE", "/secrets/db.password", tok["token"], 200)
        d.mgmt("DELETE", "/tokens/" + tok["id"], 200, {"revokedBy": "ops", "reason": "rotate"})
        d.mgmt("DELETE", "/tokens/nope", 404)
        d.mgmt("POST", "/tokens", 200, {"userId": "u2"})
        d.mgmt("DELETE", "/tokens/user/u2", 200)
        # The original's format needs its own KDF cost (test_import_export
        # exports it, and run.py checks that answer too).
        d.mgmt("GET", "/export?format=ocmt-v1", 400)
        exported = d.mgmt("GET", "/export", 200)
        d.mgmt("GET", "/unlock/shares", 400)
        shares = d.mgmt("POST", "/rekey", 200, {"password": PASSWORD, "threshold": {
            "required": 2, "holders": ["alice", "bob"]}})["shares"]
        d.mgmt("POST", "/lock", 200, {"userId": "ops"})
        d.mgmt("GET", "/export?format=ocmt-v1", 423)
        d.mgmt("POST", "/unlock/share", 202, {"userId": "alice", "share": shares[0]["share"]})
        d.mgmt("GET", "/unlock/shares", 200)
        d.mgmt("DELETE", "/unlock/shares", 200, {"userId": "ops"})
        d.mgmt("POST", "/unlock/share", 202, {"userId": "alice", "share": shares[0]["share"]})
        d.mgmt("POST", "/unlock/share", 200, {"userId": "bob", "share": shares[1]["share"]})
        # Dispatcher-level answers.
        d.call("GET", "/no/such/route", 404)
        d.call("PUT", "/health", 405)
        d.mgmt("POST", "/lock", 413, {"userId": "x" * 100000})
        d.mgmt("POST", "/unlock", 400, raw=b"{not json")
        o = Driver(other, c)
        o.mgmt("POST", "/import", 200, exported)
        o.covered |= d.covered
        missing = c.operations() - o.covered
        assert missing == set(), "no 2xx answer checked for %s" % missing

    # The check can fail: an answer off the contract is reported.
    assert c.check("GET", "/health", 200, {"content-type": "application/json",
                                            "cache-control": "no-store",
                                            "x-content-type-options": "nosniff"},
                   b'{"status":"ok","groupId":"g","vaultInitialized":true}')
    assert c.check("GET", "/health", 201, {}, b"{}")
    assert c.check("GET", "/status", 200, {"content-type": "application/json"},
                   b'{"initialized":true,"unlocked":false,"expiresIn":0}')
