"""Revocation as the original's management server sends it: DELETE
/tokens/<lowercase hex SHA-256 of the whole token>, as well as by our id;
it takes effect at once (caches included), an unknown id or hash is a 404,
and a revocation made while locked holds and is sealed at the next unlock."""
import hashlib
import os

from harness import PASSWORD, Vault, expect


def sha(tok):
    return hashlib.sha256(tok.encode()).hexdigest()


def audit(v):
    return expect(v.mgmt("GET", "/audit?limit=1000"), 200)["logs"]


def test_revoke_by_hash_takes_effect_at_once():
    with Vault() as v:
        v.init_unlock()
        tok = v.token(user="alice")
        other = v.token(user="alice")
        expect(v.cap("POST", "/secrets/s", tok, {"value": "v"}), 200)
        # Used several times: every cache holds it.
        for _ in range(3):
            expect(v.cap("GET", "/secrets/s", tok), 200)
        assert expect(v.mgmt("DELETE", "/tokens/" + sha(tok)), 200) == {"success": True}
        expect(v.cap("GET", "/secrets/s", tok), 401, "Invalid or expired capability token")
        expect(v.cap("GET", "/secrets", tok), 401)
        # Only that token: another of the same user still works.
        expect(v.cap("GET", "/secrets/s", other), 200)
        # Again by hash, or by id: already revoked is still a success.
        expect(v.mgmt("DELETE", "/tokens/" + sha(tok)), 200)
        rev = [e for e in audit(v) if e["action"] == "token.revoked"]
        assert len(rev) == 2 and all(e["success"] for e in rev)
        assert rev[0]["targetUserId"] == "alice"
        v.restart()
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        expect(v.cap("GET", "/secrets/s", tok), 401)
        expect(v.cap("GET", "/secrets/s", other), 200)


def test_revoke_unknown_is_404():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        for key in (os.urandom(16).hex(), os.urandom(32).hex(), "nope",
                    sha(tok + "x"), sha(tok)[:63]):
            r = v.mgmt("DELETE", "/tokens/" + key)
            expect(r, 404, "Token not found")
        denied = [e for e in audit(v) if e["action"] == "token.revoked"]
        assert len(denied) == 5 and not any(e["success"] for e in denied)
        # Nothing was revoked by those.
        expect(v.cap("GET", "/secrets", tok), 200)
        # The upper-case spelling of the hash names the same token.
        expect(v.mgmt("DELETE", "/tokens/" + sha(tok).upper()), 200)
        expect(v.cap("GET", "/secrets", tok), 401)


def test_revoke_by_hash_while_locked_then_sealed_at_unlock():
    with Vault() as v:
        v.init_unlock()
        tok = v.token(user="bob")
        expect(v.cap("POST", "/secrets/s", tok, {"value": "v"}), 200)
        expect(v.mgmt("POST", "/lock"), 200)
        expect(v.mgmt("DELETE", "/tokens/" + sha(tok)), 200)
        expect(v.mgmt("DELETE", "/tokens/" + os.urandom(32).hex()), 404)
        v.stop()
        import sqlite3
        con = sqlite3.connect(os.path.join(v.data_dir, "vault.db"))
        pending, = con.execute("SELECT pending FROM tokens WHERE user_id='bob'").fetchone()
        con.close()
        assert pending == 1
        v.start()
        # Refused while still locked, and after the unlock.
        expect(v.cap("GET", "/secrets/s", tok), 401)
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        expect(v.cap("GET", "/secrets/s", tok), 401)
        # Sealed as revoked at the unlock: clearing revoked_at on disk now
        # does not bring it back.
        with v.offline_db() as db:
            assert db.execute("SELECT pending FROM tokens WHERE user_id='bob'").fetchone()[0] == 0
            db.execute("UPDATE tokens SET revoked_at = NULL, revoked_by = NULL")
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        expect(v.cap("GET", "/secrets/s", tok), 401)


def test_revoke_user_while_unlocked_is_sealed_at_once():
    with Vault() as v:
        v.init_unlock()
        tok = v.token(user="carol")
        expect(v.cap("GET", "/secrets", tok), 200)
        assert expect(v.mgmt("DELETE", "/tokens/user/carol"), 200)["revokedCount"] == 1
        expect(v.cap("GET", "/secrets", tok), 401)
        with v.offline_db() as db:
            assert db.execute("SELECT pending FROM tokens").fetchone()[0] == 0
            db.execute("UPDATE tokens SET revoked_at = NULL")
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        expect(v.cap("GET", "/secrets", tok), 401)
