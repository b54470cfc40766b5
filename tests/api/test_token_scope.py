"""What POST /tokens accepts, as the original does: the "admin" permission
(grants nothing more), allowedSecrets entries of any 1-255 bytes (those no
secret name can equal match nothing; '*' suffixes stay prefixes), userId
"system" reserved, and no token issued that a check would refuse."""
from harness import Vault, expect


def test_admin_permission_grants_nothing_more():
    with Vault() as v:
        v.init_unlock()
        expect(v.cap("POST", "/secrets/s", v.token(), {"value": "v"}), 200)
        admin_only = v.token(user="a", perms=("admin",))
        expect(v.cap("GET", "/secrets/s", admin_only), 403)
        expect(v.cap("GET", "/secrets", admin_only), 403)
        expect(v.cap("POST", "/secrets/s", admin_only, {"value": "x"}), 403)
        expect(v.cap("DELETE", "/secrets/s", admin_only), 403)
        reader = v.token(user="r", perms=("read", "admin"))
        assert expect(v.cap("GET", "/secrets/s", reader), 200)["value"] == "v"
        expect(v.cap("POST", "/secrets/s", reader, {"value": "x"}), 403)


def test_allowed_secrets_any_string():
    with Vault() as v:
        v.init_unlock()
        full = v.token()
        for name in ("db", "db.pass", "prod.api", "*a"[1:]):
            expect(v.cap("POST", "/secrets/" + name, full, {"value": "v"}), 200)
        odd = v.token(user="o", scope=("db/pass", "*a", "**", "a b", "\u00e9", "x" * 255))
        for name in ("db", "db.pass", "prod.api", "a"):
            expect(v.cap("GET", "/secrets/" + name, odd), 403)
        assert expect(v.cap("GET", "/secrets", odd), 200)["keys"] == []
        mixed = v.token(user="m", scope=("db/pass", "db.pass", "prod.*"))
        expect(v.cap("GET", "/secrets/db.pass", mixed), 200)
        expect(v.cap("GET", "/secrets/prod.api", mixed), 200)
        expect(v.cap("GET", "/secrets/db", mixed), 403)
        for bad in ([""], ["x" * 256], [1], []):
            expect(v.mgmt("POST", "/tokens", {"userId": "u", "allowedSecrets": bad}), 400)


def test_user_system_is_reserved():
    with Vault() as v:
        v.init_unlock()
        r = v.mgmt("POST", "/tokens", {"userId": "system"})
        assert "reserved" in expect(r, 400, "Invalid request body")["details"]
        expect(v.mgmt("POST", "/tokens", {"userId": "System"}), 200)


def test_no_token_issued_that_cannot_be_used():
    with Vault() as v:
        v.init_unlock()
        full = v.token()
        expect(v.cap("POST", "/secrets/s", full, {"value": "v"}), 200)
        # The largest scope the original's admin could send.
        r = v.mgmt("POST", "/tokens", {"userId": "big", "allowedSecrets": ["x" * 255] * 256})
        assert expect(r, 400)["code"] == "TOKEN_TOO_LARGE"
        # Growing a scope: every token issued works; the first refused is
        # the first past the cap.
        last = None
        for n in range(40, 70):
            r = v.mgmt("POST", "/tokens", {"userId": "g%d" % n,
                                           "allowedSecrets": ["s"] + ["y" * 250] * n})
            if r.status != 200:
                assert expect(r, 400)["code"] == "TOKEN_TOO_LARGE"
                break
            last = r.json["token"]
            assert len(last) <= 16384
        assert last is not None and r.status == 400 and len(last) > 15000
        assert expect(v.cap("GET", "/secrets/s", last), 200)["value"] == "v"
