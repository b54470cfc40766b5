"""The running daemon is confined by a seccomp filter (SECURITY.md): the
release build serves a whole session inside it without being killed, and
SECCOMP=0 turns it off."""
import os
import signal
import time

from harness import PASSWORD, RELEASE_BINARY, WRAPPER, Skip, Vault, expect


def need_filter():
    """valgrind cannot run a guest that filters valgrind's own calls, so
    `make valgrind` runs with SECCOMP=0; these tests then say so."""
    if WRAPPER or os.environ.get("SECCOMP") == "0":
        raise Skip("the seccomp filter is off in this run (valgrind)")


def seccomp_mode(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return int(line.split()[1])
    return None


def confined_after(pid):
    """Seconds until the daemon is in filter mode (2). It enters the filter
    just after its server starts answering, so a slow build (ThreadSanitizer)
    can answer /health a moment before; fails if it takes over 10 s."""
    start = time.monotonic()
    while seccomp_mode(pid) != 2:
        assert time.monotonic() - start < 10, "not confined 10 s after serving"
        time.sleep(0.01)
    return time.monotonic() - start


def test_filter_is_on_by_default_and_can_be_turned_off():
    need_filter()
    with Vault() as v:
        took = confined_after(v.proc.pid)
    with Vault(SECCOMP=0) as v:
        time.sleep(max(0.2, 2 * took))  # longer than the filter took to come on
        assert seccomp_mode(v.proc.pid) == 0


def test_release_build_serves_a_whole_session_inside_the_filter():
    """Everything a vault does after start-up, in the build operators run:
    a call missing from the allow list would kill it with SIGSYS."""
    need_filter()
    with Vault(binary=RELEASE_BINARY, KDF_MEMORY_KIB=65536, KDF_ITERATIONS=1,
               KDF_PARALLELISM=4) as v:
        confined_after(v.proc.pid)
        v.init_unlock()  # Argon2id with four lane threads
        tok = v.token(user="alice")
        for i in range(30):
            expect(v.cap("POST", "/secrets/k%d" % i, tok, {"value": "v" * 5000}), 200)
        expect(v.cap("GET", "/secrets/k7", tok), 200)
        expect(v.cap("GET", "/secrets", tok), 200)
        expect(v.cap("DELETE", "/secrets/k8", tok), 200)
        expect(v.cap("GET", "/secrets/k8", tok), 404)
        expect(v.mgmt("GET", "/audit?limit=1000"), 200)
        expect(v.mgmt("GET", "/audit/verify"), 200)
        doc = expect(v.mgmt("GET", "/export"), 200)
        expect(v.mgmt("DELETE", "/tokens/user/alice"), 200)
        expect(v.mgmt("POST", "/lock", {}), 200)
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        v.restart()  # a clean SIGTERM exit inside the filter, then reopen
        confined_after(v.proc.pid)
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        with Vault(binary=RELEASE_BINARY) as w:
            expect(w.mgmt("POST", "/import", {"vault": doc["vault"]}), 200)
            expect(w.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        assert v.proc.poll() is None  # still alive after all of it


def test_forbidden_call_kills_the_daemon():
    """The test build makes a forbidden call (execve) on SIGUSR2, from the
    main thread, after start-up: the kernel kills it with SIGSYS."""
    need_filter()
    with Vault() as v:
        v.init_unlock()
        v.proc.send_signal(signal.SIGUSR2)
        assert v.proc.wait(timeout=20) == -signal.SIGSYS
        v.proc = None
    with Vault(SECCOMP=0) as v:  # without the filter the same call runs
        v.proc.send_signal(signal.SIGUSR2)
        assert v.proc.wait(timeout=20) == 0
        v.proc = None
