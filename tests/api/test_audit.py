"""Audit log: every call recorded with the original's action names, never a
value, password or token; persistent; tamper-evident; audit before reveal."""
import os
import sqlite3

from harness import PASSWORD, Vault, expect

FIELDS = {"timestamp", "groupId", "action", "userId", "ipAddress", "success"}


def actions(v, limit=1000):
    return [e["action"] for e in expect(v.mgmt("GET", "/audit?limit=%d" % limit), 200)["logs"]]


def test_every_call_is_audited():
    with Vault() as v:
        v.init_unlock()
        v.mgmt("POST", "/unlock", {"password": "definitely wrong pw"})
        full = v.mgmt("POST", "/tokens", {"userId": "u1", "permissions": ["read", "write",
                                                                           "delete"]}).json
        ro = v.token(user="u2", perms=("read",), scope=("only",))
        tok = full["token"]
        v.cap("POST", "/secrets/s1", tok, {"value": "VALUE-1"})
        v.cap("POST", "/secrets/s1", tok, {"value": "VALUE-2"})
        v.cap("GET", "/secrets/s1", tok)
        v.cap("GET", "/secrets", tok)
        v.cap("GET", "/secrets/s1", ro)
        v.cap("POST", "/secrets/s1", ro, {"value": "x"})
        v.cap("DELETE", "/secrets/s1", ro)
        v.cap("DELETE", "/secrets/s1", tok)
        v.mgmt("GET", "/export")
        v.mgmt("DELETE", "/tokens/" + full["id"], {"revokedBy": "admin-9"})
        v.mgmt("DELETE", "/tokens/user/u2")
        v.mgmt("POST", "/lock", {"userId": "admin-9"})
        got = list(reversed(actions(v)))
        assert got == ["vault.initialized", "vault.unlocked", "vault.unlock_failed",
                       "token.issued", "token.issued", "secret.created", "secret.updated",
                       "secret.read", "secrets.listed", "secret.read.denied",
                       "secret.write.denied", "secret.delete.denied", "secret.deleted",
                       "vault.exported", "token.revoked", "tokens.revoked.user",
                       "vault.locked"], got
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        logs = expect(v.mgmt("GET", "/audit"), 200)["logs"]
        for e in logs:
            assert FIELDS <= set(e), e
            assert e["groupId"] == "group-test" and e["ipAddress"] == "127.0.0.1"
        by = {e["action"]: e for e in reversed(logs)}  # newest of each action
        assert by["secret.read"]["secretKey"] == "s1" and by["secret.read"]["userId"] == "u1"
        assert by["secret.read.denied"]["success"] is False
        assert by["secret.read.denied"]["error"] == "Access denied"
        assert by["vault.unlock_failed"]["error"] == "Invalid password"
        assert by["token.revoked"]["userId"] == "admin-9"
        assert by["tokens.revoked.user"]["targetUserId"] == "u2"
        assert by["vault.locked"]["userId"] == "admin-9"
        assert by["token.issued"]["userId"] == "u2"
        text = expect(v.mgmt("GET", "/audit"), 200)
        raw = str(text)
        for needle in ("VALUE-1", "VALUE-2", PASSWORD, "definitely wrong", tok, ro):
            assert needle not in raw


def test_limits_and_order():
    with Vault() as v:
        v.init_unlock()
        for i in range(5):
            v.mgmt("POST", "/extend")
            v.mgmt("POST", "/lock")
            v.mgmt("POST", "/unlock", {"password": PASSWORD})
        logs = expect(v.mgmt("GET", "/audit?limit=3"), 200)["logs"]
        assert len(logs) == 3
        stamps = [e["timestamp"] for e in expect(v.mgmt("GET", "/audit"), 200)["logs"]]
        assert stamps == sorted(stamps, reverse=True)
        for bad in ("0", "1001", "abc", "-1", "1.5", ""):
            expect(v.mgmt("GET", "/audit?limit=" + bad), 400)
        assert len(expect(v.mgmt("GET", "/audit?limit=1000"), 200)["logs"]) == 12


def test_secret_audit_and_locked_view():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        for name in ("a", "b", "a", "a"):
            v.cap("POST", "/secrets/" + name, tok, {"value": "v"})
        v.cap("GET", "/secrets/b", tok)
        logs = expect(v.mgmt("GET", "/audit/secret/a"), 200)["logs"]
        assert [e["action"] for e in logs] == ["secret.updated", "secret.updated",
                                              "secret.created"]
        assert all(e["secretKey"] == "a" for e in logs)
        assert len(expect(v.mgmt("GET", "/audit/secret/a?limit=1"), 200)["logs"]) == 1
        assert expect(v.mgmt("GET", "/audit/secret/zzz"), 200)["logs"] == []
        expect(v.mgmt("GET", "/audit/secret/bad%20name"), 400)
        expect(v.mgmt("POST", "/lock"), 200)
        # Locked: names stay sealed; the log is still readable.
        logs = expect(v.mgmt("GET", "/audit"), 200)["logs"]
        assert all("secretKey" not in e for e in logs)
        expect(v.mgmt("GET", "/audit/secret/a"), 423)


def test_audit_survives_restart_and_verify_catches_edits():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        v.cap("POST", "/secrets/s", tok, {"value": "v"})
        v.cap("GET", "/secrets/s", tok)
        before = expect(v.mgmt("GET", "/audit"), 200)["logs"]
        v.restart()
        after = expect(v.mgmt("GET", "/audit"), 200)["logs"]
        assert [e["action"] for e in after] == [e["action"] for e in before]
        body = expect(v.mgmt("GET", "/audit/verify"), 200)
        assert body["valid"] is True and body["entries"] == len(after)
        assert len(body["head"]) == 64
        with v.offline_db() as con:
            con.execute("UPDATE audit SET entry=replace(entry, '\"success\":true', "
                        "'\"success\":false') WHERE seq=3")
        body = expect(v.mgmt("GET", "/audit/verify"), 200)
        assert body["valid"] is False and body["firstBadSeq"] == 3


def test_verify_catches_removed_and_reordered_entries():
    with Vault() as v:
        v.init_unlock()
        for _ in range(4):
            v.mgmt("POST", "/extend")
            v.mgmt("POST", "/lock")
        with v.offline_db() as con:
            e2, e3 = [r[0] for r in con.execute("SELECT entry FROM audit WHERE seq IN (2,3) "
                                                "ORDER BY seq")]
            con.execute("UPDATE audit SET entry=? WHERE seq=2", (e3,))
            con.execute("UPDATE audit SET entry=? WHERE seq=3", (e2,))
        assert expect(v.mgmt("GET", "/audit/verify"), 200)["valid"] is False
        with v.offline_db() as con:
            con.execute("UPDATE audit SET entry=? WHERE seq=2", (e2,))
            con.execute("UPDATE audit SET entry=? WHERE seq=3", (e3,))
        assert expect(v.mgmt("GET", "/audit/verify"), 200)["valid"] is True
        with v.offline_db() as con:
            con.execute("DELETE FROM audit WHERE seq=4")
        body = expect(v.mgmt("GET", "/audit/verify"), 200)
        assert body["valid"] is False and body["firstBadSeq"] == 5


def test_audit_before_reveal():
    """While the audit cannot be written, reads fail closed with 503 and the
    value never leaves; once it can, reads work again."""
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/s", tok, {"value": "SHOULD-NOT-LEAK"}), 200)
        con = sqlite3.connect(os.path.join(v.data_dir, "vault.db"), timeout=10)
        con.execute("CREATE TRIGGER audit_down BEFORE INSERT ON audit BEGIN "
                    "SELECT RAISE(ABORT, 'audit down'); END")
        con.commit()
        for path in ("/secrets/s", "/secrets"):
            r = v.cap("GET", path, tok)
            body = expect(r, 503, "Audit log unavailable")
            assert body["code"] == "AUDIT_UNAVAILABLE"
            assert b"SHOULD-NOT-LEAK" not in r.raw
        # A write whose audit fails is not acknowledged and not applied.
        expect(v.cap("POST", "/secrets/s", tok, {"value": "new"}), 503)
        con.execute("DROP TRIGGER audit_down")
        con.commit()
        con.close()
        assert expect(v.cap("GET", "/secrets/s", tok), 200)["value"] == "SHOULD-NOT-LEAK"
        assert expect(v.mgmt("GET", "/audit/verify"), 200)["valid"] is True


def test_entries_escape_what_clients_send():
    """Entries are written as text directly: user ids with quotes, control
    characters and non-ASCII come back exactly and the chain holds; a
    forwarded "address" that is not one (here not even UTF-8) is not used:
    the entry names the socket's address."""
    with Vault(TRUST_PROXY=1) as v:
        v.init_unlock()
        user = 'we"ird\\ \u00fcser\t\u2713 \U0001f511 </script>'
        tok = v.token(user=user)
        expect(v.cap("POST", "/secrets/k", tok, {"value": "v"}), 200)
        expect(v.cap("GET", "/secrets/k", tok, headers={"x-forwarded-for": b"\xff\xfe\"x"}), 200)
        expect(v.cap("GET", "/secrets/k", tok, headers={"x-forwarded-for": "10.1.2.3"}), 200)
        logs = expect(v.mgmt("GET", "/audit?limit=3"), 200)["logs"]
        assert [e["action"] for e in logs] == ["secret.read", "secret.read", "secret.created"]
        assert all(e["userId"] == user and e["secretKey"] == "k" for e in logs)
        assert logs[0]["ipAddress"] == "10.1.2.3"
        assert logs[1]["ipAddress"] == "127.0.0.1"
        assert expect(v.mgmt("GET", "/audit/verify"), 200)["valid"] is True
