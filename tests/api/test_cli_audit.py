"""audit --follow tails the log with the server's cursor (each new entry
once, as JSON lines with --json) and stops cleanly on SIGTERM; audit verify;
export to a file and import into another daemon keep every secret."""
import json
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time

import cli_harness as ch
from harness import PASSWORD, Vault


def _lines(stream, q):
    for line in iter(stream.readline, b""):
        q.put(line)


def test_audit_follow():
    with Vault() as v:
        v.init_unlock()
        token = v.token()
        p = subprocess.Popen([ch.CLI, "audit", "--follow", "--json", "--interval", "1s",
                              "--limit", "1"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=ch.env_for(v))
        q = queue.Queue()
        threading.Thread(target=_lines, args=(p.stdout, q), daemon=True).start()
        try:
            first = json.loads(q.get(timeout=20))
            for i in range(3):
                ch.ok(["put", "f.%d" % i, "-"], v, token, stdin=b"v")
            seen = [first]
            deadline = time.time() + 20
            while sum(e.get("action") == "secret.created" for e in seen) < 3:
                assert time.time() < deadline, seen
                try:
                    seen.append(json.loads(q.get(timeout=1)))
                except queue.Empty:
                    pass
            seqs = [e["seq"] for e in seen]
            assert seqs == sorted(set(seqs)), seqs
            assert seqs == list(range(seqs[0], seqs[-1] + 1)), seqs
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        err = p.stderr.read().decode()
        ch.check_sanitizers(err)
        assert p.returncode == 0, (p.returncode, err)


def test_audit_verify_and_table():
    with Vault() as v:
        v.init_unlock()
        out = ch.ok(["audit", "verify"], v).decode()
        assert out.startswith("valid: ") and "MACs checked" in out, out
        ch.ok(["lock"], v)
        out = ch.ok(["audit", "verify"], v).decode()
        assert "not checked" in out, out


def test_export_import_round_trip():
    with Vault() as a, Vault() as b, tempfile.TemporaryDirectory(prefix="gv-cli-") as tmp:
        a.init_unlock()
        token = a.token()
        ch.ok(["put", "moved.secret", "-"], a, token, stdin=b"line1\nline2")
        path = os.path.join(tmp, "vault.json")
        with open(path, "wb") as f:
            f.write(ch.ok(["export"], a))
        with open(path, "rb") as f:
            data = f.read()
        assert b"line1" not in data and b"moved.secret" not in data
        assert json.loads(data)["vault"], data[:200]
        ch.ok(["import"], b, stdin=data)
        ch.ok(["unlock", "--password-stdin"], b, stdin=PASSWORD.encode())
        tb = b.token()
        assert ch.ok(["get", "moved.secret"], b, tb) == b"line1\nline2"
        # Importing twice is refused; so is input that is not an export.
        r = ch.run(["import"], b, stdin=data)
        assert r.rc == 1, r
        r = ch.run(["import"], b, stdin=b"not json")
        assert r.rc == 2, r
