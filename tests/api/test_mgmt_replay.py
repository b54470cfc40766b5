"""Issue 11's replay: the calls the original platform's management server
makes, in its order, with its bodies and headers, and what it would show its
admins. The client below models that server (not our harness): only the
fields it reads, its 401 / everything-else-is-503 mapping, its timeouts."""
import hashlib
import http.client
import json
import threading
import uuid

from harness import AUTH, PASSWORD, Vault, expect

REAL_KDF = dict(KDF_MEMORY_KIB=65536, KDF_ITERATIONS=3, KDF_PARALLELISM=4)
UNLOCK_TIMEOUT = 30.0  # the management server's longest timeout (unlock)
CALL_TIMEOUT = 5.0  # its shortest, used for every other call


def send(port, method, path, body=None, timeout=CALL_TIMEOUT):
    """One call as the management server makes it: a fresh connection, the
    x-auth-token header, a JSON body with its content type when there is a
    body and none otherwise (DELETEs). Returns (status, raw body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"x-auth-token": AUTH, "accept": "*/*", "user-agent": "node"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def admin_sees(call, status, raw):
    """What the management server shows its admin for one answer: the few
    fields it reads on success, "Invalid password" for a 401 on unlock,
    "Vault is locked" for a 423 on token issue, 503 for anything else."""
    if 200 <= status < 300:
        body = json.loads(raw) if raw else {}
        if call == "unlock":
            return ("unlocked", body["expiresIn"], body["secretCount"])
        if call == "tokens":
            return ("token", body["token"], body["expiresIn"])
        return ("ok",)  # init, lock, revocations: the body is ignored
    if call == "unlock" and status == 401:
        return ("error", "Invalid password")
    if call == "tokens" and status == 423:
        return ("error", "Vault is locked")
    return ("error", 503)


def test_admin_mapping_model():
    """The model itself: a failure other than the two named ones is 503."""
    assert admin_sees("unlock", 401, b"{}") == ("error", "Invalid password")
    assert admin_sees("unlock", 429, b"{}") == ("error", 503)
    assert admin_sees("tokens", 401, b"{}") == ("error", 503)
    assert admin_sees("lock", 500, b"") == ("error", 503)
    assert admin_sees("revoke", 404, b"{}") == ("error", 503)


def test_replay_management_server_session():
    with Vault(**REAL_KDF) as v:
        port = v.port
        admins = [str(uuid.uuid4()), str(uuid.uuid4())]
        agent_user = str(uuid.uuid4())

        st, raw = send(port, "GET", "/health")
        assert st == 200 and json.loads(raw)["status"] == "ok", (st, raw)
        st, raw = send(port, "POST", "/init", {"password": PASSWORD})
        assert (st, admin_sees("init", st, raw)) == (200, ("ok",)), raw

        # Two admins press unlock together; both must be told it worked.
        got = [None, None]
        gate = threading.Barrier(2)

        def unlock(i):
            gate.wait()
            got[i] = send(port, "POST", "/unlock",
                          {"password": PASSWORD, "userId": admins[i]}, UNLOCK_TIMEOUT)

        threads = [threading.Thread(target=unlock, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(UNLOCK_TIMEOUT + 5)
        assert [g[0] for g in got] == [200, 200], got
        for st, raw in got:
            assert admin_sees("unlock", st, raw) == ("unlocked", 1800, 0), raw
        unlocked_by = [e["userId"] for e in expect(v.mgmt("GET", "/audit"), 200)["logs"]
                       if e["action"] == "vault.unlocked"]
        assert sorted(unlocked_by) == sorted(admins), unlocked_by

        # The agent's secret exists (written outside the management server).
        writer = v.token(user=agent_user, perms=("write",), scope=("db_password",))
        expect(v.cap("POST", "/secrets/db_password", writer, {"value": "hunter2"}), 200)

        # Token issue passed through unvalidated from an admin.
        st, raw = send(port, "POST", "/tokens", {
            "userId": agent_user, "allowedSecrets": ["db/pass", "db_password"],
            "permissions": ["read", "admin"], "ttlSeconds": 3600})
        assert st == 200, raw
        kind, token, expires_in = admin_sees("tokens", st, raw)
        assert kind == "token" and isinstance(token, str) and token, raw
        assert expires_in == 3600, raw

        # The agent reads with it: the real name is readable, nothing else.
        got = expect(v.cap("GET", "/secrets/db_password", token), 200)
        assert got["value"] == "hunter2", got
        expect(v.cap("POST", "/secrets/db_password", token, {"value": "x"}), 403)

        # Revoke by the lowercase hex SHA-256 of the whole token string.
        digest = hashlib.sha256(token.encode()).hexdigest()
        st, raw = send(port, "DELETE", "/tokens/" + digest)
        assert (st, admin_sees("revoke", st, raw)) == (200, ("ok",)), raw
        expect(v.cap("GET", "/secrets/db_password", token), 401,
               "Invalid or expired capability token")

        # Revoke by user: the agent's other tokens go too.
        second = send(port, "POST", "/tokens", {
            "userId": agent_user, "allowedSecrets": ["db_password"],
            "permissions": ["read"], "ttlSeconds": 600})
        assert second[0] == 200, second
        second_token = admin_sees("tokens", *second)[1]
        expect(v.cap("GET", "/secrets/db_password", second_token), 200)
        st, raw = send(port, "DELETE", "/tokens/user/" + agent_user)
        assert (st, admin_sees("revoke", st, raw)) == (200, ("ok",)), raw
        expect(v.cap("GET", "/secrets/db_password", second_token), 401)
        expect(v.cap("POST", "/secrets/db_password", writer, {"value": "y"}), 401)

        st, raw = send(port, "POST", "/lock", {"userId": admins[0]})
        assert (st, admin_sees("lock", st, raw)) == (200, ("ok",)), raw
        assert expect(v.get("/health"), 200)["vaultUnlocked"] is False

        # After the lock: a token request is "Vault is locked", a wrong
        # password "Invalid password" (not a 503).
        st, raw = send(port, "POST", "/tokens", {
            "userId": agent_user, "allowedSecrets": ["db_password"],
            "permissions": ["read"], "ttlSeconds": 600})
        assert (st, admin_sees("tokens", st, raw)) == (423, ("error", "Vault is locked"))
        st, raw = send(port, "POST", "/unlock",
                       {"password": "not the password at all", "userId": admins[1]},
                       UNLOCK_TIMEOUT)
        assert (st, admin_sees("unlock", st, raw)) == (401, ("error", "Invalid password"))
