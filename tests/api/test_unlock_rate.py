"""The unlock rate limiter: the client address behind TRUST_PROXY=N is the
Nth X-Forwarded-For hop from the right (what the client writes to the left
does not matter); budgets are per (address, userId) and a success clears
only its own; a per-vault ceiling holds however many addresses guess."""
import http.client
import json

from harness import AUTH, PASSWORD, Vault, expect

LIMIT = "Too many unlock attempts"


def unlock(v, password, source_ip="127.0.0.1", xff=None, user=None):
    conn = http.client.HTTPConnection("127.0.0.1", v.port, timeout=30,
                                      source_address=(source_ip, 0))
    headers = {"x-auth-token": AUTH, "Content-Type": "application/json"}
    if xff is not None:
        headers["X-Forwarded-For"] = xff
    body = {"password": password}
    if user is not None:
        body["userId"] = user
    try:
        conn.request("POST", "/unlock", body=json.dumps(body), headers=headers)
        r = conn.getresponse()
        return r.status, r.getheader("Retry-After"), json.loads(r.read())
    finally:
        conn.close()


def failed_ips(v):
    logs = expect(v.mgmt("GET", "/audit?limit=1000"), 200)["logs"]
    return [e["ipAddress"] for e in logs if e["action"] == "vault.unlock_failed"]


def test_spoofed_leftmost_forwarded_for_does_not_evade():
    with Vault(TRUST_PROXY=1, UNLOCK_MAX_FAILURES=3) as v:
        expect(v.mgmt("POST", "/init", {"password": PASSWORD}), 200)
        # The proxy appends the address it saw (10.0.0.7); the client
        # invents a new leftmost hop each time.
        for i in range(3):
            st, _, body = unlock(v, "wrong password %d" % i, xff="203.0.113.%d, 10.0.0.7" % i)
            assert st == 401, body
        st, retry, body = unlock(v, PASSWORD, xff="198.51.100.1, 10.0.0.7")
        assert (st, body["error"]) == (429, LIMIT) and int(retry) >= 1, body
        # Another client behind the same proxy is its own key.
        assert unlock(v, PASSWORD, xff="203.0.113.1, 10.0.0.8")[0] == 200
        assert set(failed_ips(v)) == {"10.0.0.7"}


def test_trusted_proxy_hops_and_fallback():
    with Vault(TRUST_PROXY=2, UNLOCK_MAX_FAILURES=2) as v:
        expect(v.mgmt("POST", "/init", {"password": PASSWORD}), 200)
        # Two proxies: the client is the second hop from the right, over
        # one header line or two.
        assert unlock(v, "wrong one", xff="6.6.6.6, 10.0.0.9, 192.168.1.1")[0] == 401
        assert unlock(v, "wrong two", xff="7.7.7.7, 10.0.0.9,192.168.1.2")[0] == 401
        assert unlock(v, PASSWORD, xff="8.8.8.8, 10.0.0.9, 192.168.1.1")[0] == 429
        # Not an address, or too few hops: the socket's address (127.0.0.1).
        assert unlock(v, "wrong three", xff="10.0.0.9x, 192.168.1.1")[0] == 401
        assert unlock(v, "wrong four", xff="192.168.1.1")[0] == 401
        assert unlock(v, PASSWORD, xff="not-an-ip, 192.168.1.1")[0] == 429
        ips = failed_ips(v)
        assert sorted(ips) == ["10.0.0.9", "10.0.0.9", "127.0.0.1", "127.0.0.1"], ips


def test_success_by_one_admin_does_not_reset_another():
    with Vault(UNLOCK_MAX_FAILURES=3) as v:
        expect(v.mgmt("POST", "/init", {"password": PASSWORD}), 200)
        for i in range(2):
            assert unlock(v, "b typo %d" % i, user="admin-b")[0] == 401
        assert unlock(v, PASSWORD, user="admin-a")[0] == 200
        assert unlock(v, "b typo 2", user="admin-b")[0] == 401
        st, _, body = unlock(v, PASSWORD, user="admin-b")
        assert (st, body["error"]) == (429, LIMIT), body


def test_success_without_user_does_not_reset_the_address():
    with Vault(UNLOCK_MAX_FAILURES=3) as v:
        expect(v.mgmt("POST", "/init", {"password": PASSWORD}), 200)
        for i in range(2):
            assert unlock(v, "guess %d" % i)[0] == 401
        assert unlock(v, PASSWORD)[0] == 200
        assert unlock(v, "guess 2")[0] == 401
        st, _, body = unlock(v, "guess 3")
        assert (st, body["error"]) == (429, LIMIT), body


def test_one_admins_typos_do_not_lock_out_the_others():
    with Vault(UNLOCK_MAX_FAILURES=3) as v:
        expect(v.mgmt("POST", "/init", {"password": PASSWORD}), 200)
        for i in range(3):
            assert unlock(v, "a typo %d" % i, user="admin-a")[0] == 401
        st, retry, body = unlock(v, PASSWORD, user="admin-a")
        assert (st, body["error"]) == (429, LIMIT) and int(retry) >= 1, body
        # Same address (the shared management server), other admins.
        assert unlock(v, PASSWORD, user="admin-b")[0] == 200
        assert unlock(v, PASSWORD)[0] == 200
        # A userId sharing a long prefix is still a different admin.
        long_a = "x" * 200 + "a"
        for i in range(3):
            assert unlock(v, "typo %d" % i, user=long_a)[0] == 401
        assert unlock(v, PASSWORD, user="x" * 200 + "b")[0] == 200


def test_vault_ceiling_holds_across_addresses():
    with Vault(BIND_ADDRESS="0.0.0.0", UNLOCK_MAX_FAILURES=5,
               UNLOCK_MAX_FAILURES_TOTAL=10) as v:
        expect(v.mgmt("POST", "/init", {"password": PASSWORD}), 200)
        answers = []
        for i in range(20):
            st, _, body = unlock(v, "spread guess %d" % i, source_ip="127.0.0.%d" % (10 + i),
                                 user="u%d" % i)
            answers.append((st, body.get("error")))
        assert answers[:10] == [(401, "Invalid password")] * 10, answers
        assert answers[10:] == [(429, LIMIT)] * 10, answers
        # Every client is refused until the window passes, even with the
        # right password (the documented trade: a ceiling on guesses).
        st, retry, body = unlock(v, PASSWORD, source_ip="127.0.0.99", user="honest")
        assert (st, body["error"]) == (429, LIMIT) and 1 <= int(retry) <= 900, body
        assert len(failed_ips(v)) == 10
