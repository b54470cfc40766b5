"""DATA_DIR and the files in it: loose read modes are tightened with a
warning line, and what cannot be trusted (a group/other-writable or foreign
directory, a symlinked signing.key) makes the daemon refuse to start with
one clear line and a non-zero exit."""
import os
import shutil
import stat
import subprocess
import tempfile

import harness
from harness import PASSWORD, Vault, expect, need_root


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def _start_refused(data_dir):
    """Runs the daemon on data_dir; it must exit non-zero on its own.
    Returns its output."""
    env = dict(os.environ)
    env.update({"GROUP_ID": "group-test", "AUTH_TOKEN": harness.AUTH, "QUIET": "1",
                "DATA_DIR": data_dir, "PORT": str(harness.free_port()),
                "KDF_MEMORY_KIB": "1024", "KDF_ITERATIONS": "1", "KDF_PARALLELISM": "1"})
    p = subprocess.Popen(harness.WRAPPER + [harness.BINARY], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out = out.decode("utf-8", "replace")
    assert p.returncode == 1, "exit %r:\n%s" % (p.returncode, out)
    for mark in harness.SANITIZER_MARKS:
        assert mark not in out, out
    return out


def _tmpdir():
    d = tempfile.mkdtemp(prefix="gv-modes-")
    return d, os.path.join(d, "data")


def test_group_readable_data_dir_is_tightened():
    top, d = _tmpdir()
    try:
        os.mkdir(d)
        os.chmod(d, 0o750)
        with Vault(data_dir=d) as v:
            v.init_unlock()
            first = v.stop()
            v.start()
            expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        assert _mode(d) == 0o700
        assert "had mode 0750 (group/other access); set to 0700" in first, first
        assert v.logs.count("had mode") == 1, v.logs  # said once, then fixed
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_writable_data_dir_is_refused():
    top, d = _tmpdir()
    try:
        for mode in (0o777, 0o770, 0o702):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, mode)
            out = _start_refused(d)
            assert "writable by group or others (mode %04o)" % mode in out, out
            assert _mode(d) == mode  # left as it was: the operator decides
            assert not os.path.exists(os.path.join(d, "vault.db"))
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_foreign_data_dir_is_refused():
    need_root("chown to another user")
    top, d = _tmpdir()
    try:
        os.mkdir(d, 0o700)
        os.chown(d, 65534, 65534)
        out = _start_refused(d)
        assert "owned by uid 65534, not this process's uid 0" in out, out
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_loose_key_and_database_files_are_tightened():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/s", tok, {"value": "v"}), 200)
        v.stop()
        key = os.path.join(v.data_dir, "signing.key")
        db = os.path.join(v.data_dir, "vault.db")
        os.chmod(key, 0o644)
        os.chmod(db, 0o664)
        v.start()
        out = v.read_log()
        assert "signing.key had mode 0644 (group/other access); set to 0600" in out, out
        assert "vault.db had mode 0664 (group/other access); set to 0600" in out, out
        assert _mode(key) == 0o600 and _mode(db) == 0o600
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        # the same signing key is still in use: the token still works
        assert expect(v.cap("GET", "/secrets/s", tok), 200)["value"] == "v"


def test_symlinked_signing_key_is_refused():
    top, d = _tmpdir()
    try:
        os.mkdir(d, 0o700)
        target = os.path.join(top, "elsewhere.key")
        with open(target, "w") as f:
            f.write("ab" * 32)
        os.chmod(target, 0o600)
        os.symlink(target, os.path.join(d, "signing.key"))
        out = _start_refused(d)
        assert "signing.key: it is a symbolic link" in out, out
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_symlinked_database_is_refused():
    with Vault() as v:
        v.init_unlock()
        v.stop()
        db = os.path.join(v.data_dir, "vault.db")
        os.rename(db, db + ".real")
        os.symlink(db + ".real", db)
        out = _start_refused(v.data_dir)
        assert "vault.db: it is a symbolic link" in out, out
        os.remove(db)
        os.rename(db + ".real", db)
        v.start()
