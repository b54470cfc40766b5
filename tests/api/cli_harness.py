"""cli_harness.py: runs the real groupvault CLI (build/san/groupvault)
against a harness.Vault, on pipes or on a pseudo-terminal, and checks every
run for sanitizer reports. Used by the tests/api/test_cli*.py files."""
import fcntl
import os
import select
import signal
import subprocess
import termios
import time

from harness import AUTH, ROOT, SANITIZER_MARKS

CLI = os.environ.get("GROUPVAULT_CLI", os.path.join(ROOT, "build", "san", "groupvault"))
MAN = os.path.join(ROOT, "man")


class Run:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def __repr__(self):
        return "<exit %d out=%r err=%r>" % (self.rc, self.out[:300], self.err[:300])


def env_for(vault=None, token=None, auth=AUTH, **extra):
    """The CLI's environment: only what this test gives (no inherited
    GROUPVAULT_* settings, no proxy)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GROUPVAULT_") and "proxy" not in k.lower()}
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    if vault is not None:
        env["GROUPVAULT_ADDR"] = "http://127.0.0.1:%d" % vault.port
    if auth is not None:
        env["GROUPVAULT_AUTH_TOKEN"] = auth
    if token is not None:
        env["GROUPVAULT_TOKEN"] = token
    env.update(extra)
    return env


def check_sanitizers(text):
    for mark in SANITIZER_MARKS:
        assert mark not in text, "sanitizer report:\n" + text


def run(args, vault=None, token=None, stdin=b"", env=None, timeout=60, **extra):
    """Runs groupvault args with stdin (bytes) on pipes, in a new session
    (so without a controlling terminal, even when the suite runs in one);
    returns a Run."""
    p = subprocess.run([CLI] + list(args), input=stdin, capture_output=True, timeout=timeout,
                       env=env or env_for(vault, token, **extra), start_new_session=True)
    err = p.stderr.decode("utf-8", "replace")
    check_sanitizers(err)
    return Run(p.returncode, p.stdout, err)


def ok(args, vault=None, token=None, stdin=b"", **kw):
    """run() that must exit 0; returns stdout as bytes."""
    r = run(args, vault, token, stdin, **kw)
    assert r.rc == 0, "groupvault %s: %r" % (" ".join(args), r)
    return r.out


def _read_until(fd, want, deadline, seen):
    while want not in seen:
        left = deadline - time.time()
        assert left > 0, "timed out waiting for %r in %r" % (want, seen)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            assert chunk, "terminal closed before %r; saw %r" % (want, seen)
            seen += chunk
    return seen


def run_pty(args, vault, answers, timeout=30):
    """Runs groupvault with a new pseudo-terminal as its controlling
    terminal and stdin/stdout/stderr. answers: list of (prompt, line): waits
    for each prompt and types line. Returns (exit code, all terminal output)."""
    master, slave = os.openpty()

    def become_session_leader():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    p = subprocess.Popen([CLI] + list(args), stdin=slave, stdout=slave, stderr=slave,
                         env=env_for(vault), preexec_fn=become_session_leader)
    os.close(slave)
    seen = b""
    deadline = time.time() + timeout
    try:
        for prompt, line in answers:
            seen = _read_until(master, prompt, deadline, seen)
            os.write(master, line + b"\n")
        while True:
            r, _, _ = select.select([master], [], [], max(0.0, deadline - time.time()))
            if not r:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        rc = p.wait(timeout=max(1.0, deadline - time.time()))
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()
        os.close(master)
    check_sanitizers(seen.decode("utf-8", "replace"))
    return rc, seen
