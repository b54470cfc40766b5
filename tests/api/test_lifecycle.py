"""Vault lifecycle: health, init, unlock, lock, extend, status and their
error answers."""
from harness import AUTH, PASSWORD, Vault, expect

MGMT_ROUTES = [("POST", "/init"), ("POST", "/import"), ("GET", "/export"), ("POST", "/unlock"),
               ("POST", "/lock"), ("POST", "/extend"), ("GET", "/status"), ("POST", "/tokens"),
               ("DELETE", "/tokens/abc"), ("DELETE", "/tokens/user/u1"), ("GET", "/audit"),
               ("GET", "/audit/verify"), ("GET", "/audit/secret/k")]


def test_health_fresh():
    with Vault() as v:
        body = expect(v.get("/health"), 200)
        assert body == {"status": "ok", "groupId": "group-test", "vaultInitialized": False,
                        "vaultUnlocked": False}


def test_management_auth_required_everywhere():
    # Many bad tokens from one address: lift the throttle (test_mgmt_throttle.py).
    with Vault(MGMT_AUTH_MAX_FAILURES=1000000) as v:
        for method, path in MGMT_ROUTES:
            expect(v.request(method, path), 401, "Unauthorized")
            expect(v.request(method, path, headers={"x-auth-token": AUTH[:-1]}), 401,
                   "Unauthorized")
            expect(v.request(method, path, headers={"x-auth-token": AUTH + "x"}), 401,
                   "Unauthorized")
            expect(v.request(method, path, headers={"x-auth-token": ""}), 401, "Unauthorized")
            wrong = AUTH[:-1] + ("A" if AUTH[-1] != "A" else "B")
            expect(v.request(method, path, headers={"x-auth-token": wrong}), 401,
                   "Unauthorized")


def test_init_errors_and_success():
    with Vault() as v:
        expect(v.mgmt("POST", "/init", {}), 400, "Invalid request body")
        expect(v.mgmt("POST", "/init", {"password": 12345678901234567}), 400,
               "Invalid request body")
        body = expect(v.mgmt("POST", "/init", {"password": "short"}), 400,
                      "Invalid request body")
        assert "16" in body["details"]
        # 15 characters but 30 bytes: still too short (characters count).
        expect(v.mgmt("POST", "/init", {"password": "é" * 15}), 400, "Invalid request body")
        expect(v.mgmt("POST", "/init", raw=b"{not json"), 400, "Invalid request body")
        expect(v.mgmt("POST", "/init", raw=b"[1,2]"), 400, "Invalid request body")
        body = expect(v.mgmt("POST", "/init", {"password": PASSWORD}), 200)
        assert body["success"] is True and isinstance(body["message"], str)
        expect(v.mgmt("POST", "/init", {"password": PASSWORD}), 400,
               "Vault already initialized")
        assert expect(v.get("/health"), 200)["vaultInitialized"] is True
        # init does not open a session (as the original).
        st = expect(v.mgmt("GET", "/status"), 200)
        assert st == {"initialized": True, "unlocked": False, "expiresIn": 0,
                      "policy": {"password": True, "threshold": None}}


def test_unlock_lock_extend_status():
    with Vault() as v:
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 400, "Vault not initialized")
        expect(v.mgmt("POST", "/extend"), 423, "Vault is locked")
        expect(v.mgmt("POST", "/init", {"password": PASSWORD}), 200)
        expect(v.mgmt("POST", "/unlock", {}), 400, "Invalid request body")
        expect(v.mgmt("POST", "/unlock", {"password": ""}), 400, "Invalid request body")
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD + "x"}), 401, "Invalid password")
        body = expect(v.mgmt("POST", "/unlock", {"password": PASSWORD, "userId": "admin-1"}),
                      200)
        assert body == {"success": True, "expiresIn": 1800, "secretCount": 0}
        st = expect(v.mgmt("GET", "/status"), 200)
        assert st["initialized"] and st["unlocked"] and 1790 <= st["expiresIn"] <= 1800
        assert expect(v.get("/health"), 200)["vaultUnlocked"] is True
        body = expect(v.mgmt("POST", "/extend"), 200)
        assert body == {"success": True, "expiresIn": 1800}
        expect(v.mgmt("POST", "/lock", {"userId": 5}), 400, "Invalid request body")
        assert expect(v.mgmt("POST", "/lock"), 200) == {"success": True}
        st = expect(v.mgmt("GET", "/status"), 200)
        assert st == {"initialized": True, "unlocked": False, "expiresIn": 0,
                      "policy": {"password": True, "threshold": None}}
        expect(v.mgmt("POST", "/extend"), 423, "Vault is locked")
        # Locking twice is fine.
        expect(v.mgmt("POST", "/lock", {"userId": "admin-1"}), 200)


def test_unknown_paths_and_methods():
    with Vault() as v:
        expect(v.get("/nope"), 404)
        expect(v.get("/"), 404)
        expect(v.request("POST", "/health"), 405)
        expect(v.request("PUT", "/secrets/x"), 405)
        expect(v.get("/health/"), 404)
        expect(v.get("//health"), 404)
