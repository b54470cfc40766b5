"""Fault injection: store writes that fail with EIO or ENOSPC (a VFS hook in
the test build, switched by a file), a full disk, a read-only disk. A failed
write is never acknowledged, reads fail closed while the audit cannot be
written, and the vault recovers once writes succeed again."""
import os
import subprocess
import tempfile

from harness import BINARY, PASSWORD, Vault, expect, need_root


def _scenario(mode):
    fault = tempfile.mktemp(prefix="gv-fault-")
    with Vault(GV_FAULT_FILE=fault) as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/before", tok, {"value": "kept-value"}), 200)
        with open(fault, "w") as f:
            f.write(mode)
        try:
            r = v.cap("POST", "/secrets/during", tok, {"value": "never-acked"})
            expect(r, 503)
            r = v.cap("GET", "/secrets/before", tok)
            expect(r, 503)
            assert b"kept-value" not in r.raw
            expect(v.cap("GET", "/secrets", tok), 503)
            expect(v.mgmt("POST", "/tokens", {"userId": "x"}), 503)
            expect(v.get("/health"), 200)
        finally:
            os.unlink(fault)
        assert expect(v.cap("GET", "/secrets/before", tok), 200)["value"] == "kept-value"
        expect(v.cap("GET", "/secrets/during", tok), 404)
        expect(v.cap("POST", "/secrets/after", tok, {"value": "a"}), 200)
        assert expect(v.mgmt("GET", "/audit/verify"), 200)["valid"] is True
        v.restart()
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        expect(v.cap("GET", "/secrets/during", tok), 404)
        assert expect(v.cap("GET", "/secrets/after", tok), 200)["value"] == "a"


def test_write_eio():
    _scenario("eio")


def test_write_enospc():
    _scenario("enospc")


def test_fsync_eio():
    _scenario("eio sync")


def _mount(path, opts):
    # mode=0700: a tmpfs root is 1777 by default, which the daemon refuses
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts + ",mode=0700", "tmpfs", path],
                   check=True)


def test_full_disk_then_space_again():
    need_root("mounts a small tmpfs")
    d = tempfile.mkdtemp(prefix="gv-full-")
    _mount(d, "size=600k")
    try:
        with Vault(data_dir=d) as v:
            v.init_unlock()
            tok = v.token()
            expect(v.cap("POST", "/secrets/small", tok, {"value": "s"}), 200)
            big = "x" * 100000
            statuses = []
            for i in range(20):
                r = v.cap("POST", "/secrets/fill%d" % i, tok, {"value": big})
                statuses.append(r.status)
                if r.status != 200:
                    # The disk filled up: refused with the storage error,
                    # never a 500 or a half-written secret.
                    expect(r, 503, "Storage unavailable")
                    break
                expect(r, 200)
            assert statuses[-1] == 503 and set(statuses[:-1]) <= {200}, statuses
            assert len(statuses) > 1, statuses  # some writes fitted before it filled
            expect(v.cap("GET", "/secrets/fill%d" % (len(statuses) - 1), tok), 404)
            expect(v.get("/health"), 200)
            subprocess.run(["mount", "-o", "remount,size=8m", d], check=True)
            expect(v.cap("POST", "/secrets/later", tok, {"value": "ok"}), 200)
            assert expect(v.cap("GET", "/secrets/small", tok), 200)["value"] == "s"
            assert expect(v.mgmt("GET", "/audit/verify"), 200)["valid"] is True
    finally:
        subprocess.run(["umount", d], check=False)
        os.rmdir(d)


def test_read_only_disk():
    """A data dir on a read-only file system: start-up fails with one clear
    line (a live file system cannot be remounted read-only under an open
    database; write failures while running are the EIO cases above)."""
    need_root("mounts a tmpfs and remounts it read-only")
    d = tempfile.mkdtemp(prefix="gv-ro-")
    _mount(d, "size=4m")
    try:
        with Vault(data_dir=d) as v:
            v.init_unlock()
            tok = v.token()
            expect(v.cap("POST", "/secrets/s", tok, {"value": "v"}), 200)
            v.stop()
            subprocess.run(["mount", "-o", "remount,ro", d], check=True)
            env = dict(os.environ, GROUP_ID="g", AUTH_TOKEN="0123456789abcdef0", DATA_DIR=d,
                       PORT="1")
            r = subprocess.run([BINARY], env=env, capture_output=True, text=True, timeout=30)
            assert r.returncode == 1, r
            assert "cannot open the vault" in r.stderr, r.stderr
            assert "AddressSanitizer" not in r.stderr
            subprocess.run(["mount", "-o", "remount,rw", d], check=True)
            v.start()
            expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
            assert expect(v.cap("GET", "/secrets/s", tok), 200)["value"] == "v"
    finally:
        subprocess.run(["umount", d], check=False)
        os.rmdir(d)


def test_data_dir_not_a_directory():
    env = dict(os.environ, GROUP_ID="g", AUTH_TOKEN="0123456789abcdef0",
               DATA_DIR="/etc/hostname/sub")
    r = subprocess.run([BINARY], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "cannot" in r.stderr, r
