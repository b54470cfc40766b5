"""HTTP strictness and what is decided on the head alone. Ambiguous framing
(two Content-Lengths, unknown Transfer-Encoding, bare LF, a NUL hiding bytes
in a header or the target) gets 400 + JSON and a closed connection; route,
method and authentication are decided before any body byte is read, bodies
are capped per route, so unauthenticated senders cannot grow memory; and no
log line carries a secret name or a raw control byte."""
import re
import socket
import struct
import time

from harness import AUTH, RELEASE_BINARY, Vault, expect
from test_connections import SLOW, rss_kib

AUTH_B = AUTH.encode()


def complete(data):
    """True once data holds a whole response (head + Content-Length body)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return bool(sep) and m is not None and len(body) >= int(m.group(1))


def exchange(port, raw, wait=5.0, until_close=True):
    """Sends raw, reads until the server closes (or, unless until_close,
    until one whole response is in) or wait passes. Returns (status or None,
    headers dict, body bytes, closed?)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    data, closed = b"", False
    try:
        s.sendall(raw)
        deadline = time.time() + wait
        while time.time() < deadline:
            s.settimeout(max(0.05, deadline - time.time()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            data += chunk
            if not until_close and complete(data):
                break
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith(b"HTTP/") else None
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode()
    return status, headers, body, closed


def refused(port, raw, details=None):
    """The request gets 400 with a JSON error and the connection closes
    (well before the 30 s idle timeout)."""
    t0 = time.time()
    status, headers, body, closed = exchange(port, raw)
    assert status == 400, (raw, status, body)
    assert headers.get("content-type", "").startswith("application/json"), headers
    assert b'"error":"Invalid request headers"' in body, body
    if details:
        assert details.encode() in body, body
    assert closed and time.time() - t0 < 4 * SLOW, (raw, closed)


def test_ambiguous_framing_refused():
    with Vault() as v:
        p = v.port
        refused(p, b"POST /lock HTTP/1.1\r\nHost: x\r\nx-auth-token: " + AUTH_B +
                b"\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}abc", "more than once")
        refused(p, b"POST /lock HTTP/1.1\r\nHost: x\r\nx-auth-token: " + AUTH_B +
                b"\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", "more than once")
        refused(p, b"POST /lock HTTP/1.1\r\nHost: x\r\nx-auth-token: " + AUTH_B +
                b"\r\nTransfer-Encoding: gzip\r\n\r\n{}", "Transfer-Encoding")
        refused(p, b"POST /lock HTTP/1.1\r\nHost: x\r\nx-auth-token: " + AUTH_B +
                b"\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n"
                b"2\r\n{}\r\n0\r\n\r\n", "both")
        # An unparsable Content-Length is refused by libmicrohttpd itself
        # (its own 400 page, not JSON: 0.9.75 has no hook for its body).
        status, _, _, closed = exchange(p, b"POST /lock HTTP/1.1\r\nHost: x\r\nx-auth-token: " +
                                        AUTH_B + b"\r\nContent-Length: +2\r\n\r\n{}")
        assert status == 400 and closed, status
        # Bare LF line ends, alone or mixed.
        refused(p, b"GET /health HTTP/1.1\nHost: x\n\n", "CRLF")
        refused(p, b"GET /health HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", "CRLF")
        # A NUL cuts what libmicrohttpd hands out: the token must not pass.
        refused(p, b"GET /status HTTP/1.1\r\nHost: x\r\nx-auth-token: " + AUTH_B +
                b"\x00junk\r\n\r\n", "NUL")
        refused(p, b"GET /health\x00/../status HTTP/1.1\r\nHost: x\r\n\r\n", "NUL")
        refused(p, b"GET /health HTTP/1.1\r\nHost: x\x00y\r\n\r\n", "NUL")
        # The same requests, well formed, are served and keep the connection.
        status, headers, body, _ = exchange(p, b"GET /status HTTP/1.1\r\nHost: x\r\n"
                                            b"x-auth-token: " + AUTH_B + b"\r\n\r\n",
                                            until_close=False)
        assert status == 200 and headers.get("connection") != "close", (status, headers)
        status, _, _, _ = exchange(p, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Empty:\r\n"
                                   b"X-Empty2: \r\n\r\n", until_close=False)
        assert status == 200
        expect(v.get("/health"), 200)


def test_lenient_mode_still_refuses_duplicates():
    """STRICT_HTTP=0 drops only the byte-exact head check."""
    with Vault(STRICT_HTTP=0) as v:
        status, _, _, _ = exchange(v.port, b"GET /health HTTP/1.1\nHost: x\n\n",
                                   until_close=False)
        assert status == 200
        refused(v.port, b"POST /lock HTTP/1.1\r\nHost: x\r\nx-auth-token: " + AUTH_B +
                b"\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}abc")


def head_only(port, head):
    """Sends only a head that declares a large body; returns (status, body,
    closed, seconds): the answer must come without the body being sent."""
    t0 = time.time()
    status, headers, body, closed = exchange(port, head, wait=3 * SLOW)
    return status, body, closed, time.time() - t0, headers


def test_decided_before_the_body():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        big = b"Content-Length: 1000000\r\nContent-Type: application/json\r\n\r\n"
        cases = [
            (b"POST /health HTTP/1.1\r\nHost: x\r\n" + big, 405),
            (b"POST /no/such/path HTTP/1.1\r\nHost: x\r\n" + big, 404),
            (b"POST /lock HTTP/1.1\r\nHost: x\r\n" + big, 401),
            (b"POST /lock HTTP/1.1\r\nHost: x\r\nx-auth-token: wrong-token-0123456789\r\n" + big,
             401),
            (b"POST /secrets/k HTTP/1.1\r\nHost: x\r\n" + big, 401),
            (b"POST /secrets/k HTTP/1.1\r\nHost: x\r\nx-capability-token: nope\r\n" + big, 401),
            # Authenticated, but /lock takes kilobytes, not a megabyte.
            (b"POST /lock HTTP/1.1\r\nHost: x\r\nx-auth-token: " + AUTH_B + b"\r\n" + big, 413),
            (b"POST /lock HTTP/1.1\r\nHost: x\r\nx-auth-token: " + AUTH_B +
             b"\r\nContent-Length: 40000\r\n\r\n", 413),
        ]
        for head, want in cases:
            status, body, closed, took, headers = head_only(v.port, head)
            assert status == want, (head, status, body)
            assert body.startswith(b"{") and b'"error"' in body, body
            assert closed and headers.get("connection") == "close", (head, headers)
            assert took < 2 * SLOW, (head, took)
        # A chunked body past the route's cap is refused too.
        status, _, _, _ = exchange(v.port, b"POST /lock HTTP/1.1\r\nHost: x\r\nx-auth-token: " +
                                   AUTH_B + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   b"9c40\r\n" + b" " * 40000 + b"\r\n0\r\n\r\n",
                                   until_close=False)
        assert status == 413, status
        # Within its cap, /lock still works, and secrets take large values.
        expect(v.mgmt("POST", "/lock", {"userId": "admin-" + "x" * 200}), 200)
        expect(v.mgmt("POST", "/unlock", {"password": "a long enough test password"}), 200)
        expect(v.cap("POST", "/secrets/big", tok, {"value": "v" * 500000}), 200)


def test_unauthenticated_bodies_do_not_grow_memory():
    """200 connections each declaring and sending 1 MiB to /health or an
    unknown path: refused on the head, so resident memory barely moves
    (main grew from ~10 MB to ~243 MB)."""
    with Vault(binary=RELEASE_BINARY) as v:
        pid = v.proc.pid
        before = peak = rss_kib(pid)
        socks = []
        for i in range(200):
            path = b"/health" if i % 2 else b"/nope-%d" % i
            s = socket.create_connection(("127.0.0.1", v.port))
            s.setblocking(False)
            try:
                s.send(b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: "
                       b"application/json\r\nContent-Length: 1048576\r\n\r\n")
            except OSError:
                pass
            socks.append([s, 1048576])
        chunk = b'{"value":"' + b"v" * 65536
        deadline = time.time() + 15
        while time.time() < deadline and any(n > 0 for _, n in socks):
            for entry in socks:
                s, n = entry
                if n <= 0:
                    continue
                try:
                    entry[1] -= s.send(chunk[:min(n, len(chunk))])
                except BlockingIOError:
                    pass
                except OSError:
                    entry[1] = 0  # the server refused and closed
            peak = max(peak, rss_kib(pid))
            time.sleep(0.01)
        peak = max(peak, rss_kib(pid))
        for s, _ in socks:
            s.close()
        assert peak - before < 16 * 1024, (before, peak)
        expect(v.get("/health"), 200)


def rst_after(port, raw, rcvbuf=None, pause=0.0):
    """Sends raw and resets the connection without reading the answer."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.sendall(raw)
    if pause:
        time.sleep(pause)
    s.close()


def test_logs_hold_no_names_or_control_bytes():
    """A client that resets the connection while its audited read is parked
    (the answer waits for the audit commit) makes libmicrohttpd's send
    fail, and its message quotes the target: /secrets/<name>. Targets with
    \\r and terminal escapes take the same path on a 404."""
    name = "db-password-of-acme-7f3a"
    with Vault(QUIET=1, TRUST_PROXY=1) as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/" + name, tok, {"value": "v"}), 200)
        read = (b"GET /secrets/" + name.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                b"x-capability-token: " + tok.encode() + b"\r\n\r\n")
        deadline = time.time() + 30
        attempt = 0
        while time.time() < deadline and (attempt < 40 or v.read_log().count("Failed") < 3):
            # Reset 0-3 ms after the request: some land while it is parked.
            rst_after(v.port, read, pause=(attempt % 13) * 0.00025)
            rst_after(v.port, b"GET /x\x1b[31mEVIL\rFAKE HTTP/1.1\r\nHost: x\r\n\r\n")
            rst_after(v.port, b"GET /secrets/" + name.encode() + b"\x1b]0;t\x07 HTTP/1.1\r\n"
                      b"Host: x\r\n\r\n")
            if attempt % 10 == 0:
                exchange(v.port, b"POST /unlock HTTP/1.1\r\nHost: x\r\nx-auth-token: " +
                         AUTH_B + b"\r\nX-Forwarded-For: 10.0.0.1\x1b[2J\r\n"
                         b"Content-Length: 2\r\n\r\n{}", until_close=False)
            attempt += 1
        time.sleep(0.3)
        expect(v.get("/health"), 200)
        log = v.stop().encode("utf-8", "surrogateescape")
    assert name.encode() not in log, log[-2000:]
    bad = re.findall(rb"[\x00-\x09\x0b-\x1f\x7f]", log)
    assert not bad, (bad[:5], log[-2000:])
    # The paths that quote a target were taken (so the above means something).
    assert log.count(b"Failed to send") >= 1 and b"[redacted]" in log, log[-2000:]


def test_names_leave_memory_with_the_request():
    """After reads of a secret by name, a lock and some other requests, the
    name is nowhere in the daemon's memory: the HTTP layer's copies (path,
    decoded segments, body) are wiped and libmicrohttpd's connection buffer
    is unmapped at close. Release build; reading /proc/PID/mem of a
    non-dumpable process needs root."""
    import os
    from harness import memory_scan as scan
    if os.geteuid() != 0:
        print("skip: needs root to read /proc/PID/mem")
        return
    name = "namemarker-" + "q7z3" * 4
    with Vault(binary=RELEASE_BINARY) as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/" + name, tok, {"value": "v"}), 200)
        for _ in range(3):
            expect(v.cap("GET", "/secrets/" + name, tok), 200)
        expect(v.cap("GET", "/secrets/" + name + "-absent", tok), 404)
        expect(v.mgmt("POST", "/lock"), 200)
        for _ in range(20):
            expect(v.get("/health"), 200)
        time.sleep(1)
        assert scan(v.proc.pid, {"name": name.encode()}) == set()
