"""A whole operator session through the real CLI against a real daemon:
init and unlock with the password typed on a pseudo-terminal (never echoed),
unlock from stdin, token issue, put from stdin (multi-line, binary-ish
bytes, the value never in argv), get, list, audit, lock, and get then
answers exit 3."""
import json
import os
import subprocess
import tempfile
import time

import cli_harness as ch
from harness import PASSWORD, Vault

# Newlines, tabs, a CR, other control bytes, DEL, and multi-byte UTF-8; no NUL.
VALUE = "first line\nsecond\tline\r\n\x01\x02\x1b[31m\x7f caf\u00e9 \u2603 \U0001F511\n\n"


def test_session():
    with Vault() as v:
        pw = PASSWORD.encode()
        rc, out = ch.run_pty(["init"], v, [(b"new vault password: ", pw),
                                           (b"new vault password again: ", pw)])
        assert rc == 0, out
        assert b"vault initialized" in out, out
        assert pw not in out, "the password was echoed: %r" % out
        assert v.mgmt("GET", "/status").json["initialized"] is True

        rc, out = ch.run_pty(["unlock"], v, [(b"vault password: ", pw)])
        assert rc == 0, out
        assert pw not in out, "the password was echoed: %r" % out
        assert b"unlocked: 0 secrets" in out, out
        assert v.mgmt("GET", "/status").json["unlocked"] is True

        ch.ok(["lock"], v)
        assert v.mgmt("GET", "/status").json["unlocked"] is False
        out = ch.ok(["unlock", "--password-stdin", "--user", "ops"], v, stdin=pw + b"\n")
        assert out.startswith(b"unlocked:"), out

        token = ch.ok(["token", "issue", "--user", "alice", "--perm", "read,write,delete",
                       "--ttl", "1h"], v).decode().strip()
        assert token.count(".") == 1 and "\n" not in token, token
        ch.ok(["put", "db.password", "--meta", "owner=ops", "--meta", "env=prod"], v, token,
              stdin=VALUE.encode())
        got = ch.ok(["get", "db.password"], v, token)
        assert got == VALUE.encode(), "round trip changed the value: %r" % got
        meta = ch.ok(["get", "db.password", "--field", "metadata"], v, token)
        assert sorted(meta.decode().splitlines()) == ["env=prod", "owner=ops"], meta
        # Seen by the server exactly as written.
        assert v.cap("GET", "/secrets/db.password", token).json["value"] == VALUE

        ch.ok(["put", "api.key", "-"], v, token, stdin=b"k")
        listed = ch.ok(["list"], v, token).decode().splitlines()
        assert listed[0].split() == ["NAME", "METADATA"], listed
        assert [line.split()[0] for line in listed[1:]] == ["api.key", "db.password"], listed
        only = ch.ok(["list", "--prefix", "db."], v, token).decode().splitlines()
        assert [line.split()[0] for line in only[1:]] == ["db.password"], only

        audit = ch.ok(["audit", "--limit", "50"], v).decode()
        lines = audit.splitlines()
        assert lines[0].split()[:4] == ["SEQ", "TIME", "ACTION", "USER"], audit
        seqs = [int(line.split()[0]) for line in lines[1:]]
        assert seqs == sorted(seqs) and len(seqs) >= 5, audit
        assert "secret.read" in audit and "alice" in audit, audit
        assert VALUE.splitlines()[0] not in audit

        ch.ok(["lock"], v)
        r = ch.run(["get", "db.password"], v, token)
        assert r.rc == 3, r
        assert r.out == b"" and "Vault is locked" in r.err, r


def test_put_value_never_in_argv():
    """While put waits for its value on stdin, its command line (what ps
    shows) holds only the name; the value arrives whole."""
    with Vault() as v:
        v.init_unlock()
        token = v.token()
        p = subprocess.Popen([ch.CLI, "put", "ps.check"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=ch.env_for(v, token))
        try:
            time.sleep(0.3)
            with open("/proc/%d/cmdline" % p.pid, "rb") as f:
                argv = f.read().split(b"\0")
            assert argv[1:3] == [b"put", b"ps.check"], argv
            # Core dumps are off while it holds the value.
            with open("/proc/%d/limits" % p.pid) as f:
                core = [line for line in f if line.startswith("Max core file size")]
            assert core and core[0].split()[4:6] == ["0", "0"], core
            secret = b"never-in-argv-" + os.urandom(8).hex().encode()
            out, err = p.communicate(secret, timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        ch.check_sanitizers(err.decode("utf-8", "replace"))
        assert p.returncode == 0, (out, err)
        assert secret not in b"".join(argv)
        assert v.cap("GET", "/secrets/ps.check", token).json["value"] == secret.decode()
        # A value on the command line works but is warned about.
        r = ch.run(["put", "ps.check", "visible"], v, token)
        assert r.rc == 0 and "warning" in r.err and "visible" not in r.err, r


def test_put_refuses_non_utf8():
    """JSON cannot carry invalid UTF-8: refused before anything is sent, and
    the message does not quote the value."""
    with Vault() as v:
        v.init_unlock()
        token = v.token()
        r = ch.run(["put", "bin.value"], v, token, stdin=b"ok\xff\xfeSECRETBYTES")
        assert r.rc == 2, r
        assert "UTF-8" in r.err and "SECRETBYTES" not in r.err, r
        assert v.cap("GET", "/secrets/bin.value", token).status == 404


def test_json_session_outputs_parse():
    """--json prints the server's answer unchanged, for every command of a
    session."""
    with Vault() as v:
        out = ch.ok(["--json", "init", "--password-stdin"], v, stdin=PASSWORD.encode())
        assert json.loads(out)["success"] is True
        out = ch.ok(["unlock", "--password-stdin", "--json"], v, stdin=PASSWORD.encode())
        assert json.loads(out)["success"] is True
        issued = json.loads(ch.ok(["token", "issue", "--user", "bob", "--perm", "read,write,delete",
                                   "--json"], v))
        assert set(issued) >= {"token", "expiresIn", "id", "expiresAt"}, issued
        token = issued["token"]
        assert json.loads(ch.ok(["put", "x.y", "--json"], v, token, stdin=b"v1")) == \
            {"success": True, "created": True}
        assert json.loads(ch.ok(["get", "x.y", "--json"], v, token)) == \
            v.cap("GET", "/secrets/x.y", token).json
        assert json.loads(ch.ok(["list", "--json"], v, token)) == \
            v.cap("GET", "/secrets", token).json
        assert json.loads(ch.ok(["list", "--json", "--prefix", "nope"], v, token)) == \
            {"keys": []}
        assert json.loads(ch.ok(["health", "--json"], v)) == v.get("/health").json
        status = json.loads(ch.ok(["status", "--json"], v))
        assert set(status) == set(v.mgmt("GET", "/status").json), status
        tokens = json.loads(ch.ok(["token", "list", "--json"], v))
        assert [t["userId"] for t in tokens["tokens"]] == ["bob"], tokens
        logs = json.loads(ch.ok(["audit", "--json", "--limit", "3"], v))["logs"]
        assert len(logs) == 3 and logs[0]["seq"] > logs[2]["seq"], logs
        verify = json.loads(ch.ok(["audit", "verify", "--json"], v))
        assert verify["valid"] is True, verify
        assert json.loads(ch.ok(["extend", "--json"], v))["success"] is True
        assert json.loads(ch.ok(["delete", "x.y", "--json"], v, token)) == {"success": True}
        assert json.loads(ch.ok(["lock", "--json"], v)) == {"success": True}


def test_nothing_written_to_disk():
    """A session writes no file: not in the working directory, HOME or TMPDIR."""
    with Vault() as v, tempfile.TemporaryDirectory(prefix="gv-cli-home-") as home:
        v.init_unlock()
        token = v.token()
        env = ch.env_for(v, token, HOME=home, TMPDIR=home, XDG_CONFIG_HOME=home)
        for args, stdin in ((["put", "disk.check"], b"on-no-disk"), (["get", "disk.check"], b""),
                            (["list"], b""), (["audit"], b""), (["status"], b""),
                            (["lock"], b""), (["unlock", "--password-stdin"], PASSWORD.encode())):
            p = subprocess.run([ch.CLI] + args, input=stdin, capture_output=True, cwd=home,
                               env=env, timeout=60, start_new_session=True)
            ch.check_sanitizers(p.stderr.decode("utf-8", "replace"))
            assert p.returncode == 0, (args, p)
        assert os.listdir(home) == [], os.listdir(home)
