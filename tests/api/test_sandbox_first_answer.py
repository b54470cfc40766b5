"""The daemon is inside its seccomp filter before it answers anything: the
listening socket is made before the filter, the HTTP threads start after
it, so no request is ever handled unconfined (and a check of /proc right
after the first answer needs no polling)."""
import http.client
import os
import subprocess
import tempfile
import time
import shutil

from harness import AUTH, BINARY, RELEASE_BINARY, WRAPPER, Skip, free_port


def seccomp_mode(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return int(line.split()[1])
    return None


def first_answer_mode(binary):
    """Starts binary, asks /health as fast as it can from the moment it is
    spawned, and reads the Seccomp mode right after the first answer."""
    d = tempfile.mkdtemp(prefix="gv-first-")
    port = free_port()
    env = dict(os.environ, GROUP_ID="g", AUTH_TOKEN=AUTH, DATA_DIR=d, PORT=str(port),
               QUIET="1", KDF_MEMORY_KIB="1024", KDF_ITERATIONS="1", KDF_PARALLELISM="1")
    p = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert p.poll() is None, "daemon exited %r" % p.returncode
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/health")
                status = conn.getresponse().status
            except (OSError, http.client.HTTPException):
                continue
            finally:
                conn.close()
            mode = seccomp_mode(p.pid)
            assert status == 200, status
            return mode
        raise AssertionError("no answer")
    finally:
        p.terminate()
        p.wait(timeout=20)
        shutil.rmtree(d, ignore_errors=True)


def test_confined_before_the_first_answer():
    if WRAPPER or os.environ.get("SECCOMP") == "0":
        raise Skip("the seccomp filter is off in this run (valgrind)")
    modes = [first_answer_mode(b) for b in (RELEASE_BINARY, BINARY) * 8]
    assert modes == [2] * len(modes), modes
