"""AUDIT_SINK: every committed audit entry is also appended to a file as one
JSON line with its seq, before the requests of its batch are answered (so
an answered read's entry is already there); names stay sealed; a bad sink
setting stops start-up with one clear line."""
import json
import os
import subprocess
import tempfile

from harness import BINARY, Vault, expect


def sink_lines(path):
    with open(path, "rb") as f:
        return [json.loads(line) for line in f.read().splitlines()]


def test_file_sink_has_each_entry_before_the_answer():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "audit.jsonl")
        with Vault(AUDIT_SINK=path) as v:
            v.init_unlock()
            tok = v.token()
            expect(v.cap("POST", "/secrets/sink-secret-name", tok, {"value": "SINK-VALUE"}),
                   200)
            for _ in range(5):
                expect(v.cap("GET", "/secrets/sink-secret-name", tok), 200)
                last = sink_lines(path)[-1]  # read right after the answer
                assert last["action"] == "secret.read" and last["success"] is True, last
            logs = expect(v.mgmt("GET", "/audit?limit=1000"), 200)["logs"]
            lines = sink_lines(path)
            assert [e["seq"] for e in lines] == list(range(1, len(logs) + 1))
            assert [e["action"] for e in lines] == [e["action"] for e in reversed(logs)]
            v.restart()  # entries after a restart follow on, none repeated
            expect(v.mgmt("POST", "/lock"), 200)
            lines = sink_lines(path)
            assert [e["seq"] for e in lines] == list(range(1, len(logs) + 2))
        with open(path, "rb") as f:
            raw = f.read()
        assert b"sink-secret-name" not in raw and b"SINK-VALUE" not in raw
        assert b"secretKeySealed" in raw
        assert os.stat(path).st_mode & 0o077 == 0


def test_bad_sink_refuses_to_start():
    with tempfile.TemporaryDirectory() as d:
        for sink in ("syslog:nope", os.path.join(d, "missing-dir", "x.jsonl")):
            env = {"PATH": os.environ.get("PATH", ""), "GROUP_ID": "g", "DATA_DIR": d,
                   "AUTH_TOKEN": "0123456789abcdef0", "AUDIT_SINK": sink}
            r = subprocess.run([BINARY], env=env, capture_output=True, text=True, timeout=20)
            assert r.returncode != 0 and "AUDIT_SINK" in r.stderr, (sink, r)


def test_syslog_sink_starts():
    with Vault(AUDIT_SINK="syslog:local3") as v:
        v.init_unlock()
        assert expect(v.get("/health"), 200)["status"] == "ok"
