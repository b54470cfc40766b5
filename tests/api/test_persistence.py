"""Restart persistence: the vault, its password and its secrets survive a
restart and a SIGKILL."""
from harness import PASSWORD, Vault, expect


def test_restart_keeps_vault():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/db-url", tok, {"value": "postgres://x"}), 200)
        v.restart()
        st = expect(v.mgmt("GET", "/status"), 200)
        assert st == {"initialized": True, "unlocked": False, "expiresIn": 0,
                      "policy": {"password": True, "threshold": None}}
        expect(v.mgmt("POST", "/unlock", {"password": "not the password at all"}), 401,
               "Invalid password")
        body = expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        assert body["secretCount"] == 1
        # The token issued before the restart still works (registry + key kept).
        assert expect(v.cap("GET", "/secrets/db-url", tok), 200)["value"] == "postgres://x"


def test_acknowledged_write_survives_sigkill():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        for i in range(20):
            expect(v.cap("POST", "/secrets/k%d" % i, tok, {"value": "v%d" % i}), 200)
        v.kill9()
        v.start()
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        for i in range(20):
            assert expect(v.cap("GET", "/secrets/k%d" % i, tok), 200)["value"] == "v%d" % i
        assert expect(v.mgmt("GET", "/audit/verify"), 200)["valid"] is True
