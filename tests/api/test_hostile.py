"""Hostile requests, by family. Each case asserts the exact status and a
JSON error body; after each family the daemon must still be healthy and a
canary secret intact. GV_LONG=1 adds more cases (deep nesting, sizes)."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import socket
import threading
import time

from harness import AUTH, PASSWORD, VECTORS, Vault, expect

CANARY = ("canary", "canary-value-☃")
ALL_PATHS = ["/health", "/init", "/import", "/export", "/unlock", "/lock", "/extend", "/status",
             "/tokens", "/tokens/x", "/tokens/user/x", "/audit", "/audit/verify",
             "/audit/secret/k", "/secrets", "/secrets/k"]
VALID = {("GET", "/health"), ("POST", "/init"), ("POST", "/import"), ("GET", "/export"),
         ("POST", "/unlock"), ("POST", "/lock"), ("POST", "/extend"), ("GET", "/status"),
         ("POST", "/tokens"), ("GET", "/tokens"), ("DELETE", "/tokens/x"), ("DELETE", "/tokens/user/x"),
         ("GET", "/audit"), ("GET", "/audit/verify"), ("GET", "/audit/secret/k"),
         ("GET", "/secrets"), ("GET", "/secrets/k"), ("POST", "/secrets/k"),
         ("DELETE", "/secrets/k")}
COUNT = {"cases": 0}


def family(minimum):
    """Each family counts its own cases and must make at least `minimum`
    of them (the families make 628 in all), so a table that silently shrinks
    or a loop that stops early fails that family, alone or with the others."""
    def wrap(fn):
        def run():
            COUNT["cases"] = 0
            fn()
            assert COUNT["cases"] >= minimum, (fn.__name__, COUNT["cases"], minimum)
        run.__name__ = fn.__name__
        run.__doc__ = fn.__doc__
        return run
    return wrap


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def check(resp, status, error=None):
    COUNT["cases"] += 1
    body = expect(resp, status, error)
    if status >= 400:
        assert isinstance(body.get("error"), str) and body["error"], resp
    return body


def healthy(v, tok):
    assert expect(v.get("/health"), 200)["status"] == "ok"
    got = expect(v.cap("GET", "/secrets/" + CANARY[0], tok), 200)
    assert got["value"] == CANARY[1], got
    assert expect(v.mgmt("GET", "/audit/verify"), 200)["valid"] is True


def setup(v):
    v.init_unlock()
    tok = v.token(user="hostile-admin")
    check(v.cap("POST", "/secrets/" + CANARY[0], tok, {"value": CANARY[1]}), 200)
    return tok


MALFORMED = [b"{", b"}", b"[", b"]", b'{"a":}', b'{"a" 1}', b"nul", b"true", b"1", b'"str"',
             b"[]", b'{"password":"x"', b'{"a":1}}', b"{} x", b"{/*c*/}", b"{'a':1}",
             b'{"a":1,}', b'{"a":NaN}', b'{"a":Infinity}', b"\xff\xfe{\x00}\x00",
             b'\xef\xbb\xbf{"a":1}', b'{"a":"\\ud800"}', b'{"a":"\\u0000"}',
             b'{"a":"x\x00y"}', b'{"a":"\xc3\x28"}', b'{"a":"\xed\xa0\x80"}', b'{"a":1e99999}',
             b'{"a":1,"a":2}', b"\x00", b"   ", b"[" * 3000 + b"]" * 3000,
             b'{"a":' * 3000 + b"1" + b"}" * 3000, b'{"\xff":1}', b'{"a":-}', b'{"a":01}',
             b'{"a":.5}', b'{"a":"\\x41"}', b'{"a":"\t"}', b'{"a":tru}']


@family(274)
def test_malformed_bodies():
    with Vault() as v:
        tok = setup(v)
        targets = [("POST", "/init", "m"), ("POST", "/unlock", "m"), ("POST", "/tokens", "m"),
                   ("POST", "/import", "m"), ("POST", "/secrets/k", "c"),
                   ("DELETE", "/tokens/x", "m"), ("POST", "/lock", "m")]
        for method, path, auth in targets:
            for raw in MALFORMED:
                if auth == "m":
                    r = v.mgmt(method, path, raw=raw)
                else:
                    r = v.cap(method, path, tok, raw=raw)
                check(r, 400, "Invalid request body")
            healthy(v, tok)


@family(49)
def test_wrong_types():
    with Vault() as v:
        tok = setup(v)
        cases = [
            ("POST", "/tokens", {"userId": 5}), ("POST", "/tokens", {"userId": None}),
            ("POST", "/tokens", {"userId": ["u"]}), ("POST", "/tokens", {"userId": {"a": 1}}),
            ("POST", "/tokens", {"userId": "u" * 256}), ("POST", "/tokens", {"userId": "a\u0000"}),
            ("POST", "/tokens", {"userId": "u", "permissions": [None]}),
            ("POST", "/tokens", {"userId": "u", "permissions": {"read": True}}),
            ("POST", "/tokens", {"userId": "u", "permissions": ["read"] * 17}),
            ("POST", "/tokens", {"userId": "u", "allowedSecrets": "*"}),
            ("POST", "/tokens", {"userId": "u", "allowedSecrets": [""]}),
            ("POST", "/tokens", {"userId": "u", "allowedSecrets": ["x"] * 257}),
            ("POST", "/tokens", {"userId": "u", "ttlSeconds": True}),
            ("POST", "/tokens", {"userId": "u", "ttlSeconds": 1e300}),
            ("POST", "/tokens", {"userId": "u", "ttlSeconds": 2 ** 63}),
            ("POST", "/tokens", {"userId": "u", "ttlSeconds": -(2 ** 63)}),
            ("POST", "/unlock", {"password": 5}), ("POST", "/unlock", {"password": None}),
            ("POST", "/unlock", {"password": ["x"]}), ("POST", "/unlock", {"password": "x" * 1025}),
            ("POST", "/unlock", {"password": PASSWORD, "userId": 7}),
            ("POST", "/unlock", {"password": PASSWORD, "userId": ""}),
            ("POST", "/init", {"password": {"p": 1}}), ("POST", "/init", {"password": True}),
            ("POST", "/lock", {"userId": []}),
            ("DELETE", "/tokens/x", {"revokedBy": 1}), ("DELETE", "/tokens/x", {"reason": "r" * 501}),
            ("DELETE", "/tokens/user/x", {"revokedBy": {}}),
        ]
        for method, path, body in cases:
            check(v.mgmt(method, path, body), 400, "Invalid request body")
        for body in ({"value": None}, {"value": 1}, {"value": []}, {"value": {}},
                     {"value": True}, {"value": ""}, {"metadata": {}}, {"value": "v", "metadata": 1},
                     {"value": "v", "metadata": "x"}, {"value": "v", "metadata": [1]},
                     {"value": "v", "metadata": True}):
            check(v.cap("POST", "/secrets/k", tok, body), 400, "Invalid request body")
        for q in ("?limit=0", "?limit=1001", "?limit=-5", "?limit=abc", "?limit=1e3",
                  "?limit=%00", "?limit=99999999999999999999", "?limit=5x"):
            r = v.mgmt("GET", "/audit" + q)
            assert r.status == 400, (q, r)
            check(r, 400)
        check(v.mgmt("GET", "/export?format=pdf"), 400)
        healthy(v, tok)


@family(38)
def test_path_tricks():
    with Vault() as v:
        tok = setup(v)
        cases = [
            ("/secrets/%2e%2e", 404, "Secret not found"), ("/secrets/..", 404, None),
            ("/secrets/.", 404, None), ("/secrets/%00", 400, "Invalid URL parameters"),
            ("/secrets/a%00b", 400, None), ("/secrets/a%2fb", 400, None),
            ("/secrets/a%2Fb", 400, None), ("/secrets/%2F", 400, None), ("/secrets/%", 400, None),
            ("/secrets/%g0", 400, None), ("/secrets/%0", 400, None),
            ("/secrets/%C0%AE%C0%AE", 400, None), ("/secrets/%e2%9c%93", 400, None),
            ("/secrets/" + "x" * 256, 400, None), ("/secrets/" + "%78" * 256, 400, None),
            ("/secrets/" + "x" * 2100, 404, None), ("/secrets/a%20b", 400, None),
            ("/secrets/a+b", 400, None), ("/secrets/a;b", 400, None), ("/secrets/k/", 404, None),
            ("/secrets/k//", 404, None), ("//secrets/k", 404, None), ("/secrets//k", 404, None),
            ("/./secrets/k", 404, None), ("/secrets/./k", 404, None),
            ("/secrets/../health", 404, None), ("/%73ecrets/k", 404, None),
            ("/SECRETS/k", 404, None), ("/secrets/k/extra", 404, None), ("/a/b/c/d/e/f/g/h/i", 404, None),
            ("/secrets/%63anary", 200, None), ("/secrets/canary?x=%00", 200, None),
            ("/secrets/canary#frag", 400, None), ("/secrets/%2563anary", 400, None),
            ("/audit/secret/%2F", 400, None),
        ]
        for path, status, error in cases:
            r = v.cap("GET", path, tok) if not path.startswith("/audit") else v.mgmt("GET", path)
            assert r.status == status, (path, r)
            body = check(r, status, error)
            if status == 200:
                assert body["value"] == CANARY[1]
        check(v.mgmt("DELETE", "/tokens/user/" + "u" * 256), 400)
        check(v.mgmt("DELETE", "/tokens/" + "%00"), 400)
        healthy(v, tok)


@family(118)
def test_every_method_on_every_path():
    with Vault() as v:
        tok = setup(v)
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO"):
            for path in ALL_PATHS:
                if (method, path) in VALID:
                    continue
                check(v.mgmt(method, path), 405, "Method not allowed")
        check(v.mgmt("GET", "/tokens/user"), 405)  # it is /tokens/:id with id "user"
        for path in ("/", "/x", "/secrets/k/v", "/audit/secret",
                     "/audit/x", "/healthz", "/tokens/user/a/b"):
            check(v.mgmt("GET", path), 404, "Not found")
        healthy(v, tok)


@family(40)
def test_management_token_variants():
    # Many bad tokens from one address: lift the throttle (test_mgmt_throttle.py).
    with Vault(MGMT_AUTH_MAX_FAILURES=1000000) as v:
        tok = setup(v)
        variants = [""] + [AUTH[:i] + chr(ord(AUTH[i]) ^ 1) + AUTH[i + 1:]
                           for i in range(len(AUTH))]
        variants += [AUTH[:-1], AUTH + "0", AUTH.upper(), AUTH * 2, "x" * 1000, AUTH[::-1],
                     AUTH[:10] + " " + AUTH[10:]]
        for bad in variants:
            check(v.request("GET", "/status", headers={"x-auth-token": bad}), 401,
                  "Unauthorized")
        check(v.request("GET", "/status", headers={"X-AUTH-TOKEN": AUTH}), 200)
        check(v.request("GET", "/status", headers={"authorization": "Bearer " + AUTH}), 401)
        # The same header twice is ambiguous: refused even if one is right.
        for pair in ((AUTH, "wrong"), ("wrong", AUTH), (AUTH, AUTH)):
            conn = http.client.HTTPConnection("127.0.0.1", v.port, timeout=10)
            conn.putrequest("GET", "/status")
            for val in pair:
                conn.putheader("x-auth-token", val)
            conn.endheaders()
            r = conn.getresponse()
            from harness import Resp
            resp = Resp(r.status, dict((k.lower(), x) for k, x in r.getheaders()), r.read())
            conn.close()
            check(resp, 400, "Invalid request headers")
        healthy(v, tok)


@family(32)
def test_capability_token_variants():
    key = "hostile-signing-key-with-32-chars-or-more"
    with Vault(SIGNING_KEY=key) as v, Vault(SIGNING_KEY=key, GROUP_ID="other-group") as other:
        tok = setup(v)
        ro = v.token(user="reader", perms=("read",), scope=("only-this",))
        revoked = v.mgmt("POST", "/tokens", {"userId": "gone"}).json
        check(v.mgmt("DELETE", "/tokens/" + revoked["id"]), 200)
        other.init_unlock()
        foreign = other.token()
        payload, sig = ro.split(".")
        p = json.loads(unb64url(payload))
        skey = hashlib.sha256(key.encode()).digest()

        def signed(obj, k=skey):
            body = b64url(json.dumps(obj, separators=(",", ":")).encode())
            return body + "." + b64url(hmac.new(k, body.encode(), hashlib.sha256).digest())

        invalid = [ro[:n] for n in (1, 10, len(payload), len(payload) + 1, len(ro) - 1)]
        invalid += [ro + "A", ro + ".", "." + ro, ro.replace(".", ".."), payload, sig,
                    payload + "." + sig[::-1], "Bearer " + ro, ro + " ",
                    signed(dict(p, allowedSecrets=["*"]), hashlib.sha256(b"k" * 40).digest()),
                    payload + "." + b64url(b"\x00" * 32),
                    b64url(json.dumps(dict(p, permissions=["read", "write"])).encode()) + "." + sig,
                    b64url(json.dumps(dict(p, expiresAt=p["expiresAt"] + 1)).encode()) + "." + sig,
                    b64url(json.dumps(dict(p, allowedSecrets=["*"])).encode()) + "." + sig,
                    b64url(json.dumps(dict(p, groupId="x")).encode()) + "." + sig,
                    revoked["token"], "\u00e9", "a" * 16385,
                    # Validly signed, but never issued by this vault (not in the registry):
                    signed(dict(p, id="f" * 32, allowedSecrets=["*"],
                                permissions=["read", "write", "delete"])),
                    # Validly signed and registered id, but with an edited scope:
                    signed(dict(p, allowedSecrets=["*"])),
                    # Expired:
                    signed(dict(p, expiresAt=1000))]
        for bad in invalid:
            try:
                r = v.cap("GET", "/secrets/" + CANARY[0], bad)
            except ValueError:  # header values http.client itself refuses
                continue
            check(r, 401)
            assert r.json["error"] in ("Invalid or expired capability token",
                                       "Capability token required"), r
        check(v.cap("GET", "/secrets/" + CANARY[0], foreign), 403, "Token not valid for this org")
        check(v.cap("GET", "/secrets/" + CANARY[0], ro), 403, "Access denied for this secret")
        check(v.cap("POST", "/secrets/only-this", ro, {"value": "x"}), 403)
        check(v.request("GET", "/secrets/" + CANARY[0]), 401, "Capability token required")
        healthy(v, tok)


@family(13)
def test_requests_while_locked():
    with Vault() as v:
        tok = setup(v)
        check(v.mgmt("POST", "/lock"), 200)
        for method, path, body in (("GET", "/secrets/canary", None), ("GET", "/secrets", None),
                                   ("POST", "/secrets/x", {"value": "v"}),
                                   ("DELETE", "/secrets/canary", None)):
            b = check(v.cap(method, path, tok, body), 423, "Vault is locked")
            assert b["code"] == "VAULT_LOCKED"
        check(v.mgmt("POST", "/tokens", {"userId": "u"}), 423, "Vault is locked")
        check(v.mgmt("POST", "/extend"), 423, "Vault is locked")
        check(v.mgmt("GET", "/export?format=ocmt-v1"), 423)
        check(v.mgmt("GET", "/audit/secret/canary"), 423)
        check(v.mgmt("GET", "/export"), 200)
        check(v.mgmt("GET", "/audit"), 200)
        check(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        healthy(v, tok)


@family(6)
def test_oversized():
    with Vault(MAX_BODY_BYTES=65536, MAX_VALUE_BYTES=32768, IMPORT_MAX_BODY_BYTES=65536) as v:
        tok = setup(v)
        check(v.cap("POST", "/secrets/big", tok, {"value": "v" * 32769}), 413,
              "Secret value too large")
        check(v.cap("POST", "/secrets/big", tok, {"value": "v" * 70000}), 413,
              "Request body too large")
        check(v.mgmt("POST", "/import", raw=b" " * 70000), 413, "Request body too large")
        check(v.mgmt("POST", "/init", raw=b"{" + b" " * 65536 + b"}"), 413)
        check(v.cap("POST", "/secrets/big", tok, {"value": "v" * 32768}), 200)
        assert len(expect(v.cap("GET", "/secrets/big", tok), 200)["value"]) == 32768
        healthy(v, tok)


@family(55)
def test_init_and_import_races():
    with open(os.path.join(VECTORS, "ocmt-v1-export.json")) as f:
        vector = json.load(f)
    for _ in range(5):
        with Vault() as v:
            results = []

            def go(i):
                if i % 2 == 0:
                    r = v.mgmt("POST", "/init", {"password": "racing password %02d!" % i})
                else:
                    r = v.mgmt("POST", "/import", vector)
                results.append((i, r.status, r.json))

            threads = [threading.Thread(target=go, args=(i,)) for i in range(10)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wins = [(i, s) for i, s, _ in results if s == 200]
            assert len(wins) == 1, results
            for i, s, body in results:
                COUNT["cases"] += 1
                if s != 200:  # lost the race, or found the one KDF slot taken
                    assert (s, body["error"]) in ((400, "Vault already initialized"),
                                                  (429, "Another unlock is in progress")), body
            winner = wins[0][0]
            pw = "racing password %02d!" % winner if winner % 2 == 0 else \
                "correct horse battery staple 42"
            check(v.mgmt("POST", "/unlock", {"password": pw}), 200)


@family(3)
def test_slow_and_idle_clients():
    with Vault(CONNECTION_TIMEOUT_SECONDS=1, MAX_CONNECTIONS=16) as v:
        tok = setup(v)
        # A client that sends half a request is cut off after the timeout.
        s = socket.create_connection(("127.0.0.1", v.port))
        s.sendall(b"POST /init HTTP/1.1\r\nHost: x\r\nx-auth-token: " + AUTH.encode() +
                  b"\r\nContent-Length: 100\r\n\r\n{\"pass")
        s.settimeout(5)
        t0 = time.time()
        assert s.recv(1024) == b""  # closed by the server
        assert time.time() - t0 < 4
        s.close()
        # Many idle connections: the limit holds, nothing crashes, and once
        # they go away the vault answers again.
        idle = []
        for _ in range(40):
            try:
                idle.append(socket.create_connection(("127.0.0.1", v.port), timeout=2))
            except OSError:
                break
        for c in idle:
            c.close()
        time.sleep(0.3)
        healthy(v, tok)
        COUNT["cases"] += 2

