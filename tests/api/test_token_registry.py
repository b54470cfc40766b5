"""Registry integrity against someone who can write DATA_DIR but has no
password (issue 10 item 4). The signing key sits in the data dir, so the
attacker can sign any token; still an inserted row, a widened row, a cleared
revocation or a swapped MAC is refused (401), logged and audited, and a
planted trigger, view or table stops the daemon at start with one line."""
import base64
import hashlib
import hmac
import json
import os
import sqlite3

from harness import PASSWORD, Vault, expect


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def mint(v, payload):
    """A token signed with the key the daemon keeps in its data dir."""
    with open(os.path.join(v.data_dir, "signing.key")) as f:
        key = hashlib.sha256(f.read().strip().encode()).digest()
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    return body + "." + b64url(hmac.new(key, body.encode(), hashlib.sha256).digest())


def digests(tok):
    return (hashlib.sha256(tok.split(".")[0].encode()).digest(),
            hashlib.sha256(tok.encode()).digest())


def payload_of(tok):
    return json.loads(unb64url(tok.split(".")[0]))


def tamper_reported(v):
    logs = expect(v.mgmt("GET", "/audit?limit=1000"), 200)["logs"]
    return [e for e in logs if e["action"] == "token.registry_tampered" and not e["success"]]


def setup():
    v = Vault()
    v.init_unlock()
    expect(v.cap("POST", "/secrets/crown", v.token(user="owner"), {"value": "jewels"}), 200)
    return v


def test_inserted_row_for_minted_token_refused():
    with setup() as v:
        real = v.token(user="alice", perms=("read",), scope=("other",))
        p = dict(payload_of(real), id="f" * 32, userId="mallory", allowedSecrets=["*"],
                 permissions=["read", "write", "delete"])
        forged = mint(v, p)
        dg, th = digests(forged)
        with v.offline_db() as db:
            # A copy of a real row's MAC does not fit the new row either.
            (mac,) = db.execute("SELECT mac FROM tokens LIMIT 1").fetchone()
            db.execute("INSERT INTO tokens(id, user_id, issued_at, expires_at, scope, digest,"
                       " token_hash, mac) VALUES(?,?,?,?,?,?,?,?)",
                       (p["id"], "mallory", p["expiresAt"] - 3600000, p["expiresAt"], b"\0",
                        dg, th, mac))
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        r = v.cap("GET", "/secrets/crown", forged)
        expect(r, 401, "Invalid or expired capability token")
        assert b"jewels" not in r.raw
        expect(v.cap("GET", "/secrets", forged), 401)
        assert len(tamper_reported(v)) >= 1
        assert "failed its integrity check" in v.stop()
        # Locked there is no key to check the row, and no secret either: 423;
        # once unlocked, judged again and refused.
        v.start()
        expect(v.cap("GET", "/secrets/crown", forged), 423)
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        expect(v.cap("GET", "/secrets/crown", forged), 401)


def test_widened_row_refused():
    with setup() as v:
        real = v.token(user="alice", perms=("read",), scope=("other",))
        p = payload_of(real)
        wide = mint(v, dict(p, allowedSecrets=["*"], permissions=["read", "write", "delete"]))
        dg, th = digests(wide)
        with v.offline_db() as db:
            db.execute("UPDATE tokens SET digest = ?, token_hash = ? WHERE id = ?",
                       (dg, th, p["id"]))
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        expect(v.cap("GET", "/secrets/crown", wide), 401)
        assert tamper_reported(v)
        # Stretching the row's expiry or moving it to another user: refused too.
        longer = mint(v, dict(p, expiresAt=p["expiresAt"] + 10 ** 9))
        with v.offline_db() as db:
            db.execute("UPDATE tokens SET digest = ?, token_hash = ?, expires_at = ? WHERE id = ?",
                       digests(longer) + (p["expiresAt"] + 10 ** 9, p["id"]))
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        expect(v.cap("GET", "/secrets/other", longer), 401)
        with v.offline_db() as db:
            db.execute("UPDATE tokens SET digest = ?, token_hash = ?, expires_at = ?,"
                       " user_id = 'owner' WHERE id = ?",
                       digests(real) + (p["expiresAt"], p["id"]))
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        expect(v.cap("GET", "/secrets/other", real), 401)


def test_swapped_scope_refused():
    with setup() as v:
        narrow = v.token(user="n", perms=("read",), scope=("other",))
        v.token(user="w", perms=("read", "write", "delete"), scope=("*",))
        with v.offline_db() as db:
            (wide_scope,) = db.execute("SELECT scope FROM tokens WHERE user_id='w'").fetchone()
            db.execute("UPDATE tokens SET scope = ? WHERE user_id = 'n'", (wide_scope,))
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        expect(v.cap("GET", "/secrets/other", narrow), 401)
        rows = expect(v.mgmt("GET", "/tokens?userId=n"), 200)["tokens"]
        assert rows[0]["integrity"] == "failed" and "allowedSecrets" not in rows[0]


def test_cleared_revocation_refused():
    with setup() as v:
        tok = v.token(user="alice")
        tok2 = v.token(user="bob")
        expect(v.cap("GET", "/secrets/crown", tok), 200)
        expect(v.mgmt("DELETE", "/tokens/" + payload_of(tok)["id"]), 200)
        # bob's is revoked while locked: pending until the next unlock.
        expect(v.mgmt("POST", "/lock"), 200)
        expect(v.mgmt("DELETE", "/tokens/user/bob"), 200)
        with v.offline_db() as db:
            db.execute("UPDATE tokens SET revoked_at = NULL, revoked_by = NULL"
                       " WHERE user_id = 'alice'")
            # Clearing revoked_at but not the pending mark is caught too.
            db.execute("UPDATE tokens SET revoked_at = NULL WHERE user_id = 'bob'")
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        r = v.cap("GET", "/secrets/crown", tok)
        expect(r, 401)
        assert b"jewels" not in r.raw
        expect(v.cap("GET", "/secrets/crown", tok2), 401)
        assert len(tamper_reported(v)) >= 2


def test_planted_schema_objects_stop_the_daemon():
    with setup() as v:
        tok = v.token(user="alice")
        db_path = os.path.join(v.data_dir, "vault.db")
        for plant, undo in (
                ("CREATE TRIGGER keep AFTER UPDATE OF revoked_at ON tokens BEGIN"
                 " UPDATE tokens SET revoked_at = NULL WHERE id = new.id; END", "DROP TRIGGER keep"),
                ("CREATE VIEW peek AS SELECT id FROM tokens", "DROP VIEW peek"),
                ("CREATE TABLE stash(x)", "DROP TABLE stash")):
            v.stop()
            con = sqlite3.connect(db_path)
            con.execute(plant)
            con.commit()
            con.close()
            try:
                v.start()
                raise AssertionError("started with a planted object: " + plant)
            except RuntimeError as e:
                msg = str(e)
            assert "schema this build did not create" in msg, msg
            assert "refusing to open" in msg
            con = sqlite3.connect(db_path)
            con.execute(undo)
            con.commit()
            con.close()
            v.start()
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        expect(v.mgmt("DELETE", "/tokens/" + hashlib.sha256(tok.encode()).hexdigest()), 200)
        expect(v.cap("GET", "/secrets/crown", tok), 401)
