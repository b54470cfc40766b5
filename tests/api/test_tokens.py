"""Capability tokens: scopes, permissions, forgery, expiry, revocation,
other groups, limits."""
import base64
import hashlib
import hmac
import json
import time

from harness import PASSWORD, Vault, expect


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def test_issue_shape_and_defaults():
    with Vault() as v:
        v.init_unlock()
        body = expect(v.mgmt("POST", "/tokens", {"userId": "u-1"}), 200)
        assert body["expiresIn"] == 3600 and len(body["id"]) == 32
        payload = json.loads(unb64url(body["token"].split(".")[0]))
        assert payload["groupId"] == "group-test" and payload["userId"] == "u-1"
        assert payload["allowedSecrets"] == ["*"] and payload["permissions"] == ["read"]
        assert payload["expiresAt"] == body["expiresAt"]
        assert abs(payload["expiresAt"] - (time.time() + 3600) * 1000) < 60000


def test_issue_validation():
    with Vault() as v:
        v.init_unlock()
        for bad in ({}, {"userId": ""}, {"userId": 5},
                    {"userId": "u", "permissions": ["root"]},
                    {"userId": "u", "permissions": "read"},
                    {"userId": "u", "allowedSecrets": []},
                    {"userId": "u", "allowedSecrets": ["x" * 256]},
                    {"userId": "u", "allowedSecrets": [7]}):
            expect(v.mgmt("POST", "/tokens", bad), 400)
        for ttl in (59, 2592001, -1, 3.5, "60"):
            expect(v.mgmt("POST", "/tokens", {"userId": "u", "ttlSeconds": ttl}), 400)
        expect(v.mgmt("POST", "/tokens", {"userId": "u", "ttlSeconds": 60}), 200)
        expect(v.mgmt("POST", "/tokens", {"userId": "u", "ttlSeconds": 2592000}), 200)


def test_scopes_and_permissions():
    with Vault() as v:
        v.init_unlock()
        admin = v.token(user="admin")
        for name in ("db-password", "prod.api", "prod.db", "staging.api"):
            expect(v.cap("POST", "/secrets/" + name, admin, {"value": "v-" + name}), 200)
        exact = v.token(user="e", perms=("read",), scope=("db-password",))
        prefix = v.token(user="p", perms=("read", "write"), scope=("prod.*",))
        writer = v.token(user="w", perms=("write",), scope=("*",))
        deleter = v.token(user="d", perms=("delete",), scope=("staging.api",))
        assert expect(v.cap("GET", "/secrets/db-password", exact), 200)["value"] == \
            "v-db-password"
        expect(v.cap("GET", "/secrets/prod.api", exact), 403, "Access denied for this secret")
        expect(v.cap("POST", "/secrets/db-password", exact, {"value": "x"}), 403)
        expect(v.cap("DELETE", "/secrets/db-password", exact), 403)
        assert [k["key"] for k in expect(v.cap("GET", "/secrets", exact), 200)["keys"]] == \
            ["db-password"]
        expect(v.cap("GET", "/secrets/prod.db", prefix), 200)
        expect(v.cap("POST", "/secrets/prod.new", prefix, {"value": "n"}), 200)
        expect(v.cap("GET", "/secrets/staging.api", prefix), 403)
        expect(v.cap("GET", "/secrets/prod", prefix), 403)
        assert sorted(k["key"] for k in expect(v.cap("GET", "/secrets", prefix), 200)["keys"]) \
            == ["prod.api", "prod.db", "prod.new"]
        # A token without read can neither read nor list.
        expect(v.cap("GET", "/secrets/prod.api", writer), 403)
        expect(v.cap("GET", "/secrets", writer), 403)
        expect(v.cap("POST", "/secrets/anything", writer, {"value": "x"}), 200)
        expect(v.cap("DELETE", "/secrets/prod.api", deleter), 403)
        expect(v.cap("DELETE", "/secrets/staging.api", deleter), 200)
        # Secrets missing and out of scope: 403 before 404 (no existence oracle).
        expect(v.cap("GET", "/secrets/nope", exact), 403)
        expect(v.cap("GET", "/secrets/nope", admin), 404)


def test_forged_tampered_and_missing():
    with Vault() as v:
        v.init_unlock()
        expect(v.cap("POST", "/secrets/s", v.token(), {"value": "v"}), 200)
        tok = v.token(perms=("read",), scope=("other",))
        expect(v.get("/secrets/s"), 401, "Capability token required")
        expect(v.cap("GET", "/secrets/s", ""), 401, "Capability token required")
        payload, sig = tok.split(".")
        p = json.loads(unb64url(payload))
        # Widen scope, escalate permissions, extend expiry: each breaks the MAC.
        for change in ({"allowedSecrets": ["*"]}, {"permissions": ["read", "write"]},
                       {"expiresAt": p["expiresAt"] + 10**9}):
            q = dict(p, **change)
            forged = b64url(json.dumps(q, separators=(",", ":")).encode()) + "." + sig
            expect(v.cap("GET", "/secrets/s", forged), 401, "Invalid or expired capability token")
        # Re-signed with another key.
        q = dict(p, allowedSecrets=["*"])
        body = b64url(json.dumps(q).encode())
        other = b64url(hmac.new(hashlib.sha256(b"x" * 40).digest(), body.encode(),
                                hashlib.sha256).digest())
        expect(v.cap("GET", "/secrets/s", body + "." + other), 401)
        for junk in (tok[:-1], tok + "A", tok[:20], "garbage", "a.b", "." * 5, "x" * 20000):
            expect(v.cap("GET", "/secrets/s", junk), 401)
        expect(v.cap("GET", "/secrets/other", tok), 404)


def test_other_group_and_unregistered():
    key = "shared-signing-key-of-at-least-32-chars"
    with Vault(SIGNING_KEY=key) as a, Vault(SIGNING_KEY=key, GROUP_ID="group-other") as b:
        a.init_unlock()
        b.init_unlock()
        tok_b = b.token()
        expect(a.cap("GET", "/secrets/x", tok_b), 403, "Token not valid for this org")
        # Same group name, same key, but issued by another vault: not registered here.
        with Vault(SIGNING_KEY=key) as c:
            c.init_unlock()
            tok_c = c.token()
            expect(a.cap("GET", "/secrets/x", tok_c), 401, "Invalid or expired capability token")


def test_expiry():
    with Vault(TOKEN_MIN_TTL_SECONDS=1) as v:
        v.init_unlock()
        tok = v.token(ttl=1)
        expect(v.cap("POST", "/secrets/s", tok, {"value": "v"}), 200)
        time.sleep(1.2)
        expect(v.cap("GET", "/secrets/s", tok), 401, "Invalid or expired capability token")


def test_revocation_survives_restart():
    with Vault() as v:
        v.init_unlock()
        t1 = v.mgmt("POST", "/tokens", {"userId": "alice", "permissions": ["read", "write"]}).json
        t2 = v.mgmt("POST", "/tokens", {"userId": "alice"}).json
        t3 = v.mgmt("POST", "/tokens", {"userId": "bob"}).json
        expect(v.cap("POST", "/secrets/s", t1["token"], {"value": "v"}), 200)
        assert expect(v.mgmt("DELETE", "/tokens/" + t1["id"],
                             {"revokedBy": "admin", "reason": "left"}), 200) == {"success": True}
        expect(v.cap("GET", "/secrets/s", t1["token"]), 401)
        expect(v.cap("GET", "/secrets/s", t2["token"]), 200)
        v.restart()
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        expect(v.cap("GET", "/secrets/s", t1["token"]), 401)
        # Per-user revocation covers tokens issued before the restart.
        body = expect(v.mgmt("DELETE", "/tokens/user/alice"), 200)
        assert body == {"success": True, "revokedCount": 1}
        expect(v.cap("GET", "/secrets/s", t2["token"]), 401)
        expect(v.cap("GET", "/secrets/s", t3["token"]), 200)
        v.restart()
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        expect(v.cap("GET", "/secrets/s", t2["token"]), 401)
        expect(v.cap("GET", "/secrets/s", t3["token"]), 200)
        assert expect(v.mgmt("DELETE", "/tokens/user/nobody"), 200)["revokedCount"] == 0
        expect(v.mgmt("DELETE", "/tokens/whatever", {"reason": 5}), 400)


def test_issue_rate_limit():
    with Vault(TOKEN_ISSUE_PER_HOUR=3) as v:
        v.init_unlock()
        for _ in range(3):
            expect(v.mgmt("POST", "/tokens", {"userId": "busy"}), 200)
        r = v.mgmt("POST", "/tokens", {"userId": "busy"})
        expect(r, 429, "Token issue rate limit exceeded")
        assert r.headers.get("retry-after") == "3600"
        expect(v.mgmt("POST", "/tokens", {"userId": "calm"}), 200)
        v.restart()
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        expect(v.mgmt("POST", "/tokens", {"userId": "busy"}), 429)
