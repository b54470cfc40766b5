"""GET /metrics: Prometheus text format 0.0.4 read by a real exposition
parser (Debian's python3-prometheus-client); its counters, histograms and
gauges move with what the daemon does; labels hold route patterns, never a
secret name or a user id; it needs x-auth-token unless METRICS_PUBLIC=1."""
import re
import sys

from harness import AUTH, PASSWORD, Vault, expect

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # a python3 other than Debian's: use Debian's package
    sys.path.append("/usr/lib/python3/dist-packages")
    from prometheus_client.parser import text_string_to_metric_families

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SECRET_NAME = "zq-secret-name-7781"
USER = "zq-user-id-4410"


def check_grammar(text):
    """What the lenient parser lets pass: HELP and TYPE before each family's
    samples, one TYPE per family, no repeated series, sample lines of the
    0.0.4 shape, cumulative buckets ending in +Inf == _count."""
    typed, seen, buckets = {}, set(), {}
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"'
                        r'(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*)?\})? (\S+)$')
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert name not in typed, "TYPE twice: " + name
            assert kind in ("counter", "gauge", "histogram"), line
            typed[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        m = sample.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.group(1), m.group(3) or "", m.group(5)
        float(value)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in typed else name
        assert family in typed, "sample before its TYPE: " + line
        assert (name, labels) not in seen, "series twice: " + line
        seen.add((name, labels))
        if name.endswith("_bucket"):
            key = (family, re.sub(r',?le="[^"]*"', "", labels))
            buckets.setdefault(key, []).append(float(value))
        if name.endswith("_count") and typed.get(family) == "histogram":
            key = (family, labels)
            assert buckets[key] == sorted(buckets[key]), line
            assert buckets[key][-1] == float(value), line
    return typed


def scrape(v, headers=None):
    r = v.request("GET", "/metrics", headers={"x-auth-token": AUTH} if headers is None
                  else headers)
    assert r.status == 200, r
    assert r.headers["content-type"] == CONTENT_TYPE, r.headers
    assert r.headers.get("cache-control") == "no-store"
    text = r.raw.decode()
    check_grammar(text)
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return text, out


def val(m, name, **labels):
    return m.get((name, tuple(sorted(labels.items()))), 0.0)


def req(m, method, route, code):
    return val(m, "groupvault_http_requests_total", method=method, route=route, code=code)


def test_counters_move():
    with Vault(UNLOCK_MAX_FAILURES=2) as v:
        v.init_unlock()
        tok = v.token(user=USER)
        _, m0 = scrape(v)
        expect(v.cap("POST", "/secrets/" + SECRET_NAME, tok, {"value": "metrics-value-1"}), 200)
        for _ in range(5):
            expect(v.cap("GET", "/secrets/" + SECRET_NAME, tok), 200)
        expect(v.cap("GET", "/secrets/absent-one", tok), 404)
        expect(v.get("/no/such/route"), 404)
        text, m1 = scrape(v)
        key = ("GET", "/secrets/:key")
        assert req(m1, *key, "2xx") - req(m0, *key, "2xx") == 5
        assert req(m1, *key, "4xx") - req(m0, *key, "4xx") == 1
        assert req(m1, "POST", "/secrets/:key", "2xx") - req(m0, "POST", "/secrets/:key",
                                                             "2xx") == 1
        assert req(m1, "", "unmatched", "4xx") - req(m0, "", "unmatched", "4xx") == 1
        h = "groupvault_http_request_duration_seconds_count"
        assert (val(m1, h, method="GET", route="/secrets/:key")
                - val(m0, h, method="GET", route="/secrets/:key")) == 6
        assert val(m1, "groupvault_http_request_duration_seconds_sum", method="GET",
                   route="/secrets/:key") > 0
        # Each read and the write committed an audit entry; each in a batch.
        assert (val(m1, "groupvault_audit_entries_total")
                - val(m0, "groupvault_audit_entries_total")) >= 7
        batches = "groupvault_commit_batch_writes_count"
        assert 1 <= val(m1, batches) - val(m0, batches) <= 7 + 2
        fs = "groupvault_commit_fsync_duration_seconds_count"
        assert val(m1, fs) - val(m0, fs) == val(m1, batches) - val(m0, batches)
        # Repeated reads of one secret and one token hit the caches.
        assert (val(m1, "groupvault_cache_hits_total", cache="row")
                - val(m0, "groupvault_cache_hits_total", cache="row")) >= 4
        assert (val(m1, "groupvault_cache_hits_total", cache="token")
                - val(m0, "groupvault_cache_hits_total", cache="token")) >= 5
        assert val(m1, "groupvault_secrets") == 1
        assert val(m1, "groupvault_tokens") == 1
        assert val(m1, "groupvault_vault_unlocked") == 1
        assert val(m1, "groupvault_vault_initialized") == 1
        assert 0 < val(m1, "groupvault_session_remaining_seconds") <= 1800
        assert val(m1, "groupvault_http_open_connections") >= 1
        assert val(m1, "process_open_fds") > 3
        assert val(m1, "process_resident_memory_bytes") > 1 << 20
        assert val(m1, "process_cpu_seconds_total") > 0
        # Nothing a client named reaches a label.
        for word in (SECRET_NAME, USER, "absent-one", "no/such", "metrics-value-1", tok[:20]):
            assert word not in text, word


def test_unlock_outcomes_and_state():
    with Vault(UNLOCK_MAX_FAILURES=2) as v:
        v.init_unlock()
        _, m0 = scrape(v)
        expect(v.mgmt("POST", "/lock", {}), 200)
        _, locked = scrape(v)
        assert val(locked, "groupvault_vault_unlocked") == 0
        assert val(locked, "groupvault_session_remaining_seconds") == 0
        for _ in range(2):
            expect(v.mgmt("POST", "/unlock", {"password": "wrong password 123456"}), 401)
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 429)
        _, m1 = scrape(v)
        u = "groupvault_unlocks_total"
        assert val(m1, u, result="wrong_password") - val(m0, u, result="wrong_password") == 2
        assert val(m1, u, result="rate_limited") - val(m0, u, result="rate_limited") == 1
        assert val(m1, u, result="ok") == val(m0, u, result="ok")
    with Vault() as v:
        v.init_unlock()
        _, m = scrape(v)
        assert val(m, "groupvault_unlocks_total", result="ok") == 1


def test_needs_the_management_token():
    with Vault() as v:
        expect(v.get("/metrics"), 401, "Unauthorized")
        expect(v.request("GET", "/metrics", headers={"x-auth-token": "not-the-token-at-all"}),
               401)
        scrape(v)
    with Vault(METRICS_PUBLIC=1) as v:
        _, m = scrape(v, headers={})
        assert val(m, "groupvault_vault_initialized") == 0
        # Public metrics leave every other management route closed.
        expect(v.get("/status"), 401)
