"""Failed unlocks are limited per client address; X-Forwarded-For is not
trusted unless configured; Argon2id runs one at a time."""
import http.client
import json
import threading

from harness import AUTH, PASSWORD, Vault, expect


def unlock_from(v, source_ip, password, xff=None):
    conn = http.client.HTTPConnection("127.0.0.1", v.port, timeout=30,
                                      source_address=(source_ip, 0))
    headers = {"x-auth-token": AUTH, "Content-Type": "application/json"}
    if xff:
        headers["X-Forwarded-For"] = xff
    conn.request("POST", "/unlock", body=json.dumps({"password": password}), headers=headers)
    r = conn.getresponse()
    out = (r.status, r.getheader("Retry-After"), json.loads(r.read()))
    conn.close()
    return out


def test_five_failures_then_429_per_client():
    with Vault(BIND_ADDRESS="0.0.0.0") as v:
        expect(v.mgmt("POST", "/init", {"password": PASSWORD}), 200)
        for i in range(5):
            st, _, body = unlock_from(v, "127.0.0.2", "wrong password %d" % i,
                                      xff="10.9.9.%d" % i)
            assert st == 401 and body["error"] == "Invalid password"
        st, retry, body = unlock_from(v, "127.0.0.2", PASSWORD, xff="10.1.1.1")
        assert st == 429 and body["error"] == "Too many unlock attempts", body
        assert retry is not None and 1 <= int(retry) <= 900
        # Another client still has its own budget and the right password works.
        st, _, body = unlock_from(v, "127.0.0.3", PASSWORD)
        assert st == 200, body
        audit = expect(v.mgmt("GET", "/audit"), 200)["logs"]
        failed = [e for e in audit if e["action"] == "vault.unlock_failed"]
        assert len(failed) == 5 and all(e["ipAddress"] == "127.0.0.2" for e in failed)


def test_trusted_proxy_uses_forwarded_address():
    with Vault(TRUST_PROXY=1, UNLOCK_MAX_FAILURES=2) as v:
        expect(v.mgmt("POST", "/init", {"password": PASSWORD}), 200)
        for _ in range(2):
            assert unlock_from(v, "127.0.0.1", "nope nope", xff="10.0.0.7")[0] == 401
        assert unlock_from(v, "127.0.0.1", PASSWORD, xff="10.0.0.7")[0] == 429
        assert unlock_from(v, "127.0.0.1", PASSWORD, xff="10.0.0.8")[0] == 200


def test_concurrent_unlocks_one_kdf_at_a_time():
    # Real parameters: 64 MiB, 3 passes, 4 lanes. The derivations queue (one
    # at a time) and every one with the right password succeeds.
    with Vault(KDF_MEMORY_KIB=65536, KDF_ITERATIONS=3, KDF_PARALLELISM=4) as v:
        expect(v.mgmt("POST", "/init", {"password": PASSWORD}), 200)
        results = []

        def go():
            r = v.mgmt("POST", "/unlock", {"password": PASSWORD})
            results.append((r.status, r.json, r.headers.get("retry-after")))

        threads = [threading.Thread(target=go) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [s for s, _, _ in results] == [200] * 6, results


def test_concurrent_failures_share_one_budget():
    """Wrong passwords from one client on many connections at once: the
    budget is spent once (not once per connection), every answer is 401 or
    429, and the client ends up blocked even for the right password. Under
    `make tsan` this is what drives the rate limiter from several threads."""
    threads_n = 8
    with Vault(UNLOCK_MAX_FAILURES=5) as v:
        expect(v.mgmt("POST", "/init", {"password": PASSWORD}), 200)
        results = []

        def go(i):
            for j in range(40):
                st, _, body = unlock_from(v, "127.0.0.1", "wrong %d-%d" % (i, j))
                results.append((st, body.get("error")))
                if body.get("error") == "Too many unlock attempts":
                    return

        threads = [threading.Thread(target=go, args=(i,)) for i in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        allowed = {(401, "Invalid password"), (429, "Too many unlock attempts"),
                   (429, "Another unlock is in progress")}
        assert set(results) <= allowed, results
        wrong = sum(1 for r in results if r[0] == 401)
        # Each thread may pass the check while another's KDF is running.
        assert 5 <= wrong <= 5 + threads_n, results
        assert sum(1 for r in results if r[1] == "Too many unlock attempts") == threads_n
        st, _, body = unlock_from(v, "127.0.0.1", PASSWORD)
        assert st == 429 and body["error"] == "Too many unlock attempts", body
