"""Secrets API: CRUD, scope filtering, name rules, sizes and errors."""
from harness import Vault, expect


def test_crud_roundtrip():
    with Vault() as v:
        v.init_unlock()
        tok = v.token(user="writer-1")
        body = expect(v.cap("POST", "/secrets/api-key", tok,
                            {"value": "sk-1", "metadata": {"provider": "openai"}}), 200)
        assert body == {"success": True, "created": True}
        body = expect(v.cap("POST", "/secrets/api-key", tok, {"value": "sk-2"}), 200)
        assert body == {"success": True, "created": False}
        body = expect(v.cap("GET", "/secrets/api-key", tok), 200)
        assert body == {"key": "api-key", "value": "sk-2", "metadata": {}}
        expect(v.cap("POST", "/secrets/other", tok, {"value": "o", "metadata": None}), 200)
        keys = expect(v.cap("GET", "/secrets", tok), 200)["keys"]
        assert sorted(k["key"] for k in keys) == ["api-key", "other"]
        assert expect(v.cap("DELETE", "/secrets/api-key", tok), 200) == {"success": True}
        expect(v.cap("GET", "/secrets/api-key", tok), 404, "Secret not found")
        expect(v.cap("DELETE", "/secrets/api-key", tok), 404, "Secret not found")
        assert [k["key"] for k in expect(v.cap("GET", "/secrets", tok), 200)["keys"]] == \
            ["other"]


def test_unicode_and_special_names():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        value = "p@ss w0rd ünïcödé ✓ \"quoted\" \\ back"
        for name in ("constructor", "__proto__", "toString", "..", "a.b-c_D9", "x" * 255):
            expect(v.cap("POST", "/secrets/" + name, tok,
                         {"value": value, "metadata": {"nested": {"a": [1, 2]}}}), 200)
            body = expect(v.cap("GET", "/secrets/" + name, tok), 200)
            assert body["value"] == value and body["key"] == name
            assert body["metadata"] == {"nested": {"a": [1, 2]}}


def test_bad_names_and_bodies():
    with Vault(MAX_VALUE_BYTES=1000) as v:
        v.init_unlock()
        tok = v.token()
        for bad in ("a%20b", "a%2Fb", "%00", "x" * 256, "caf%C3%A9", "a%zz"):
            expect(v.cap("GET", "/secrets/" + bad, tok), 400, "Invalid URL parameters")
        expect(v.cap("POST", "/secrets/k", tok, {}), 400, "Invalid request body")
        expect(v.cap("POST", "/secrets/k", tok, {"value": ""}), 400, "Invalid request body")
        expect(v.cap("POST", "/secrets/k", tok, {"value": 5}), 400, "Invalid request body")
        expect(v.cap("POST", "/secrets/k", tok, {"value": "v", "metadata": [1]}), 400,
               "Invalid request body")
        expect(v.cap("POST", "/secrets/k", tok, {"value": "v", "metadata": "m"}), 400,
               "Invalid request body")
        expect(v.cap("POST", "/secrets/k", tok, raw=b'{"value":"a","value":"b"}'), 400,
               "Invalid request body")
        expect(v.cap("POST", "/secrets/k", tok, raw=b'{"value":"a'), 400,
               "Invalid request body")
        expect(v.cap("POST", "/secrets/k", tok, {"value": "v" * 1001}), 413,
               "Secret value too large")
        expect(v.cap("POST", "/secrets/k", tok, {"value": "v" * 1000}), 200)
        expect(v.cap("GET", "/secrets/k", tok), 200)


def test_body_cap():
    with Vault(MAX_BODY_BYTES=4096) as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/k", tok, {"value": "v" * 5000}), 413,
               "Request body too large")
        # Chunked upload with no Content-Length is capped too.
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", v.port, timeout=10)
        conn.putrequest("POST", "/secrets/k")
        conn.putheader("x-capability-token", tok)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b'{"value":"' + b"v" * 3000
        for _ in range(3):
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
        r = conn.getresponse()
        assert r.status == 413, r.status
        conn.close()
        expect(v.get("/health"), 200)


def test_requests_while_locked():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/k", tok, {"value": "v"}), 200)
        expect(v.mgmt("POST", "/lock"), 200)
        for method, path, body in (("GET", "/secrets/k", None), ("GET", "/secrets", None),
                                   ("POST", "/secrets/k", {"value": "w"}),
                                   ("DELETE", "/secrets/k", None)):
            b = expect(v.cap(method, path, tok, body), 423, "Vault is locked")
            assert b["code"] == "VAULT_LOCKED"
        expect(v.mgmt("POST", "/tokens", {"userId": "u"}), 423, "Vault is locked")


def test_reads_after_an_acknowledged_write_see_it():
    """Reads are served from a cache of recently read rows while other
    clients keep reading the same secret: once a write or delete has been
    answered, every read that starts afterwards sees it, never the row it
    replaced."""
    import threading
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/hot", tok, {"value": "0"}), 200)
        stop = threading.Event()
        errors = []

        def reader():  # keeps the row cached and races every write
            while not stop.is_set():
                r = v.cap("GET", "/secrets/hot", tok)
                if r.status not in (200, 404):
                    errors.append(r)

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for n in range(1, 120):
                if n % 40 == 0:
                    expect(v.cap("DELETE", "/secrets/hot", tok), 200)
                    expect(v.cap("GET", "/secrets/hot", tok), 404, "Secret not found")
                expect(v.cap("POST", "/secrets/hot", tok, {"value": str(n)}), 200)
                got = expect(v.cap("GET", "/secrets/hot", tok), 200)["value"]
                assert got == str(n), (n, got)
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert not errors, errors[:3]
