"""LOG_FORMAT=json: every line the daemon writes is one JSON object with
time, level and msg; with LOG_REQUESTS=1 each request adds one line with
its id, method, route pattern, status and duration; no line holds a secret
name, value, password or token. Text stays the default."""
import re
import json
import os
import subprocess
import tempfile

from harness import AUTH, BINARY, PASSWORD, Vault, expect

NAME = "zq-logged-name-5521"
VALUE = "zq-logged-value-9034"



def daemon_lines(out):
    """The daemon's own lines: valgrind's (under `make valgrind`) are not its log."""
    return [ln for ln in out.splitlines() if not re.match(r"^(==|--)[0-9]+(==|--)", ln)]


def drive(v):
    """Requests whose ids and outcomes the log must show; returns
    {request id: (method, route, status)}."""
    want = {}

    def note(resp, rid, method, route):
        assert resp.headers["x-request-id"] == rid
        want[rid] = (method, route, resp.status)

    note(v.mgmt("POST", "/init", {"password": PASSWORD}, headers={"X-Request-Id": "l-init"}),
         "l-init", "POST", "/init")
    note(v.mgmt("POST", "/unlock", {"password": PASSWORD}, headers={"X-Request-Id": "l-unl"}),
         "l-unl", "POST", "/unlock")
    r = v.mgmt("POST", "/tokens", {"userId": "u", "permissions": ["read", "write"]},
               headers={"X-Request-Id": "l-tok"})
    note(r, "l-tok", "POST", "/tokens")
    tok = r.json["token"]
    note(v.cap("POST", "/secrets/" + NAME, tok, {"value": VALUE},
               headers={"X-Request-Id": "l-put"}), "l-put", "POST", "/secrets/:key")
    note(v.cap("GET", "/secrets/" + NAME, tok, headers={"X-Request-Id": "l-get"}), "l-get",
         "GET", "/secrets/:key")
    note(v.cap("GET", "/secrets/" + NAME + "-absent", tok, headers={"X-Request-Id": "l-404"}),
         "l-404", "GET", "/secrets/:key")
    note(v.get("/" + NAME, headers={"X-Request-Id": "l-none"}), "l-none", "-", "unmatched")
    return want, tok


def test_json_lines_with_requests():
    v = Vault(LOG_FORMAT="json", LOG_REQUESTS=1, QUIET=0)
    try:
        want, tok = drive(v)
        out = v.stop()
    finally:
        v.close()
    lines = daemon_lines(out)
    assert len(lines) >= len(want) + 2, out
    seen = {}
    for line in lines:
        obj = json.loads(line)
        assert {"time", "level", "msg"} <= set(obj), obj
        assert obj["level"] in ("info", "warn", "error"), obj
        assert obj["time"].endswith("Z") and len(obj["time"]) == 24, obj
        if obj["msg"] == "request":
            seen[obj["requestId"]] = (obj["method"], obj["route"], obj["status"])
            assert isinstance(obj["durationMs"], (int, float)) and obj["durationMs"] >= 0, obj
    for rid, got in want.items():
        assert seen.get(rid) == got, (rid, seen.get(rid), got)
    assert want["l-get"][2] == 200 and want["l-404"][2] == 404
    for secret in (NAME, VALUE, PASSWORD, tok, tok.split(".")[-1], AUTH):
        assert secret not in out, secret


def test_no_request_lines_unless_asked():
    v = Vault(LOG_FORMAT="json", QUIET=0)
    try:
        v.init_unlock()
        expect(v.get("/health"), 200)
        out = v.stop()
    finally:
        v.close()
    objs = [json.loads(line) for line in daemon_lines(out)]
    assert objs and not [o for o in objs if o["msg"] == "request"], objs
    assert any(o["msg"].startswith("groupvaultd ") for o in objs), objs


def test_text_stays_the_default():
    v = Vault(LOG_REQUESTS=1, QUIET=0)
    try:
        expect(v.get("/health", headers={"X-Request-Id": "t-1"}), 200)
        out = v.stop()
    finally:
        v.close()
    assert not [line for line in daemon_lines(out) if line.startswith("{")], out
    assert " info request GET /health 200 " in out and " id=t-1\n" in out, out


def test_bad_format_refused_at_start():
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([BINARY], env={"PATH": os.environ.get("PATH", ""), "DATA_DIR": d,
                                          "GROUP_ID": "g", "AUTH_TOKEN": AUTH,
                                          "LOG_FORMAT": "xml"},
                           capture_output=True, text=True, timeout=20)
    assert r.returncode == 2, r
    assert r.stderr.strip().splitlines() == ["groupvaultd: LOG_FORMAT must be text or json"], r
