"""Failed management-token attempts: an address is refused (429 with
Retry-After) after MGMT_AUTH_MAX_FAILURES per window, on management routes
only, and the failures are audited coalesced (one row per address and
window, with a count) without ever recording the token sent."""
import http.client
import json

from harness import AUTH, PASSWORD, Vault, expect


def call(v, source_ip, token, method="GET", path="/status"):
    conn = http.client.HTTPConnection("127.0.0.1", v.port, timeout=30,
                                      source_address=(source_ip, 0))
    try:
        conn.request(method, path, headers={"x-auth-token": token} if token else {})
        r = conn.getresponse()
        return r.status, r.getheader("Retry-After"), json.loads(r.read())
    finally:
        conn.close()


def test_bad_tokens_throttled_and_audited_bounded():
    with Vault(BIND_ADDRESS="0.0.0.0", MGMT_AUTH_MAX_FAILURES=20) as v:
        expect(v.mgmt("POST", "/init", {"password": PASSWORD}), 200)
        answers = []
        for i in range(200):
            st, retry, body = call(v, "127.0.0.2", "guess-%04d-0123456789" % i if i % 10 else None)
            answers.append((st, body.get("error"), retry))
        assert [a[0] for a in answers[:20]] == [401] * 20, answers[:21]
        assert all(a[0] == 429 and a[1] == "Too many failed authentication attempts"
                   for a in answers[20:]), answers[20:25]
        assert all(1 <= int(a[2]) <= 60 for a in answers[20:])
        # The good token from the throttled address waits too; from another
        # address it works; public routes are not throttled.
        assert call(v, "127.0.0.2", AUTH)[0] == 429
        assert call(v, "127.0.0.3", AUTH)[0] == 200
        assert call(v, "127.0.0.2", None, path="/health")[0] == 200
        # Lock writes the open windows' counts.
        assert call(v, "127.0.0.3", AUTH, method="POST", path="/lock")[0] == 200
        logs = expect(v.mgmt("GET", "/audit?limit=1000"), 200)["logs"]
        failed = [e for e in logs if e["action"] == "auth.failed"]
        throttled = [e for e in logs if e["action"] == "auth.throttled"]
        assert 1 <= len(failed) <= 2 and 1 <= len(throttled) <= 2, (failed, throttled)
        assert sum(e.get("count", 1) for e in failed) == 20, failed
        assert sum(e.get("count", 1) for e in throttled) == 181, throttled
        assert all(e["ipAddress"] == "127.0.0.2" and e["success"] is False
                   for e in failed + throttled)
        assert "guess-" not in json.dumps(logs)
