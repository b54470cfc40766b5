"""Sessions end by themselves after SESSION_TTL_SECONDS."""
import time

from harness import Vault, expect


def test_session_expires():
    with Vault(SESSION_TTL_SECONDS=2) as v:
        body = v.init_unlock().json
        assert body["expiresIn"] == 2
        tok = v.token()
        expect(v.cap("POST", "/secrets/a", tok, {"value": "1"}), 200)
        time.sleep(2.5)
        st = expect(v.mgmt("GET", "/status"), 200)
        assert st["unlocked"] is False and st["expiresIn"] == 0
        expect(v.cap("GET", "/secrets/a", tok), 423, "Vault is locked")
        expect(v.mgmt("POST", "/extend"), 423)
        assert expect(v.get("/health"), 200)["vaultUnlocked"] is False


def test_extend_pushes_expiry():
    with Vault(SESSION_TTL_SECONDS=3) as v:
        v.init_unlock()
        time.sleep(2)
        expect(v.mgmt("POST", "/extend"), 200)
        time.sleep(2)
        assert expect(v.mgmt("GET", "/status"), 200)["unlocked"] is True
