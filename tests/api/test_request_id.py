"""X-Request-Id: a client's id is kept when it is 1-64 of [A-Za-z0-9._-],
else replaced by a random 16-hex one; every answer (errors and parked
reads included) echoes it; the audit entry of that request carries it as
requestId; the keyed chain still verifies with the field in it."""
import re
import socket

from harness import PASSWORD, Vault, expect

HEX16 = re.compile(r"^[0-9a-f]{16}$")


def rid(resp):
    return resp.headers.get("x-request-id")


def entries(v, action):
    logs = expect(v.mgmt("GET", "/audit?limit=1000"), 200)["logs"]
    return [e for e in logs if e["action"] == action]


def test_kept_or_replaced_and_always_echoed():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        ok = "Trace-1.2_3-" + "x" * 52  # 64 characters
        assert rid(v.get("/health", headers={"X-Request-Id": ok})) == ok
        for bad in ("x" * 65, "has space", "semi;colon", "quo\"te", "\u00e9t\u00e9", "a/b"):
            r = v.get("/health", headers={"X-Request-Id": bad.encode("utf-8").decode("latin-1")})
            assert HEX16.match(rid(r)), (bad, rid(r))
        ids = {rid(v.get("/health")) for _ in range(20)}
        assert len(ids) == 20 and all(HEX16.match(i) for i in ids), ids
        # Errors, refusals on the head, parked reads and writes all echo it.
        h = {"X-Request-Id": "err-1"}
        assert rid(v.get("/nope", headers=h)) == "err-1"  # 404
        assert rid(v.request("GET", "/status", headers=h)) == "err-1"  # 401
        assert rid(v.cap("POST", "/secrets/s", tok, {"value": "v"}, headers=h)) == "err-1"
        assert rid(v.cap("GET", "/secrets/s", tok, headers=h)) == "err-1"
        # Refused on its declared size, before any body byte: 413.
        with socket.create_connection(("127.0.0.1", v.port), timeout=10) as s:
            s.sendall(("POST /secrets/s HTTP/1.1\r\nHost: x\r\nx-capability-token: %s\r\n"
                       "X-Request-Id: big-1\r\nContent-Length: 99999999\r\n\r\n" % tok).encode())
            head = s.recv(4096).decode("latin-1")
        assert head.startswith("HTTP/1.1 413"), head
        assert "\r\nX-Request-Id: big-1\r\n" in head, head


def test_written_into_the_audit_entry():
    with Vault() as v:
        expect(v.mgmt("POST", "/init", {"password": PASSWORD}, headers={"X-Request-Id": "i-1"}),
               200)
        # The unlock's entry is written on the unlock queue's thread.
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD},
                      headers={"X-Request-Id": "u-1"}), 200)
        r = v.mgmt("POST", "/tokens", {"userId": "alice", "permissions": ["read", "write",
                                                                          "delete"]},
                   headers={"X-Request-Id": "t-1"})
        tok = expect(r, 200)["token"]
        expect(v.cap("POST", "/secrets/k", tok, {"value": "v1"}, headers={"X-Request-Id": "w-1"}),
               200)
        expect(v.cap("GET", "/secrets/k", tok, headers={"X-Request-Id": "r-1"}), 200)
        expect(v.cap("DELETE", "/secrets/k", tok, headers={"X-Request-Id": "d-1"}), 200)
        bad = v.mgmt("POST", "/unlock", {"password": "wrong password 0123456"},
                     headers={"X-Request-Id": "bad pw"})
        expect(bad, 401)
        gen = rid(bad)
        for action, want in (("vault.initialized", "i-1"), ("vault.unlocked", "u-1"),
                             ("token.issued", "t-1"), ("secret.created", "w-1"),
                             ("secret.read", "r-1"), ("secret.deleted", "d-1"),
                             ("vault.unlock_failed", gen)):
            got = [e.get("requestId") for e in entries(v, action)]
            assert got == [want], (action, got)
        verify = expect(v.mgmt("GET", "/audit/verify"), 200)
        assert verify["valid"] is True and verify["macsChecked"], verify


def test_repeats_counted_later_carry_no_request_id():
    """A denial's first entry has its request's id; the repeats, written as
    one counted entry when the window ends (here: at lock), belong to many
    requests and carry none, not the id of the request that ended it."""
    with Vault() as v:
        v.init_unlock()
        tok = v.token(perms=("read",), scope=("only",))
        for i in range(3):
            expect(v.cap("GET", "/secrets/other", tok, headers={"X-Request-Id": "deny-%d" % i}),
                   403)
        expect(v.mgmt("POST", "/lock", {}, headers={"X-Request-Id": "lock-1"}), 200)
        denied = entries(v, "secret.read.denied")
        ids = sorted((e.get("count"), e.get("requestId")) for e in denied)
        assert ids == [(1, "deny-0"), (2, None)], denied
        assert [e.get("requestId") for e in entries(v, "vault.locked")] == ["lock-1"]
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        verify = expect(v.mgmt("GET", "/audit/verify"), 200)
        assert verify["valid"] is True, verify
