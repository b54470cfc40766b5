"""harness.py: start the real groupvaultd on a free loopback port with a
temporary data dir, and speak HTTP to it. Used by every black-box test."""
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("GROUPVAULTD", os.path.join(ROOT, "build", "san", "groupvaultd"))
RELEASE_BINARY = os.path.join(ROOT, "build", "groupvaultd")
# The original service's export and its known answers, kept in the repository.
VECTORS = os.path.join(ROOT, "tests", "vectors")
AUTH = "test-auth-token-0123456789"
PASSWORD = "a long enough test password"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                   "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer")
# run.py sets GV_API_RECORD: answers are appended there (JSON lines, at
# most RECORD_PER_KIND per method, first path segment and status) and
# checked against docs/openapi.yaml once the suite has run.
RECORD = os.environ.get("GV_API_RECORD")
RECORD_PER_KIND = 40
_record_lock = threading.Lock()
_record_counts = {}
# `make valgrind` sets GV_WRAPPER to run every daemon under valgrind.
WRAPPER = os.environ.get("GV_WRAPPER", "").split()
TIMEOUT = float(os.environ.get("GV_TIMEOUT", "30"))


class Skip(Exception):
    """Raised by a test that cannot run here; run.py prints the reason and
    counts it as neither passed nor failed."""


def need_root(why):
    """Skips the calling test unless it runs as root (why: what needs it)."""
    if os.geteuid() != 0:
        raise Skip("needs root: " + why)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Resp:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.json = json.loads(raw) if raw else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<%d %r>" % (self.status, self.raw[:300])


def send(conn, method, path, body=None, headers=None, raw=None):
    """One request on conn (closed after): body is sent as JSON, raw as is."""
    hdrs = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        return Resp(r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read())
    finally:
        conn.close()


def finish(proc, errfile, sig, timeout, what):
    """Signals a started daemon, waits, and returns its output; a clean stop
    (SIGTERM) must exit 0, and no stop may carry a sanitizer report."""
    proc.send_signal(sig)
    rc = proc.wait(timeout=timeout)
    errfile.seek(0)
    out = errfile.read().decode("utf-8", "replace")
    errfile.close()
    for mark in SANITIZER_MARKS:
        assert mark not in out, "sanitizer report:\n" + out
    if sig == signal.SIGTERM:
        assert rc == 0, "%s exit status %d:\n%s" % (what, rc, out)
    return out


class Vault:
    """One daemon. Keeps its data dir across restarts until close()."""

    ca = None  # a CA file to trust: requests go over HTTPS (see __init__)

    def __init__(self, data_dir=None, binary=None, ca=None, **env):
        self.binary = binary or BINARY
        # ca: a CA file to trust; requests then go over HTTPS (TLS_* env).
        self.ca = ca
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="gv-test-")
        self.env = {
            "GROUP_ID": "group-test",
            "AUTH_TOKEN": AUTH,
            "KDF_MEMORY_KIB": "1024",
            "KDF_ITERATIONS": "1",
            "KDF_PARALLELISM": "1",
            "QUIET": "1",
        }
        self.env.update({k: str(v) for k, v in env.items()})
        self.proc = None
        self.logs = ""
        self.start()

    def start(self):
        # Another process (a parallel test run) may take the free port
        # between free_port() and the daemon's bind: the daemon then exits
        # with "Address already in use", and another port is tried.
        for attempt in range(5):
            try:
                return self.start_on(free_port())
            except RuntimeError as e:
                if "Address already in use" not in str(e) or attempt == 4:
                    raise

    def owns_listener(self):
        """True once this daemon holds the listening socket on self.port
        (so an answer there is ours, not another process's)."""
        try:
            fds = os.listdir("/proc/%d/fd" % self.proc.pid)
            inodes = set()
            for fd in fds:
                link = os.readlink("/proc/%d/fd/%s" % (self.proc.pid, fd))
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
            for table in ("/proc/net/tcp", "/proc/net/tcp6"):
                with open(table) as f:
                    for line in f.readlines()[1:]:
                        cols = line.split()
                        if (cols[3] == "0A" and int(cols[1].split(":")[1], 16) == self.port
                                and cols[9] in inodes):
                            return True
        except OSError:
            pass
        return False

    def start_on(self, port):
        self.port = port
        env = dict(os.environ)
        env.update(self.env)
        env["DATA_DIR"] = self.data_dir
        env["PORT"] = str(self.port)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.errfile = tempfile.TemporaryFile()
        wrapper = WRAPPER if self.binary == BINARY else []
        self.proc = subprocess.Popen(wrapper + [self.binary], env=env, stdout=self.errfile,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 10 * (6 if WRAPPER else 1)
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("groupvaultd exited: " + self.read_log())
            try:
                if self.owns_listener() and self.get("/health").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.01)
        # Never leave it behind: a daemon that did not become ready is stopped.
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("groupvaultd did not start: " + self.read_log())

    def read_log(self):
        self.errfile.seek(0)
        return self.errfile.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM):
        """Stops the daemon; returns its output. A clean stop must exit 0
        with no sanitizer report."""
        if self.proc is None:
            return self.logs
        out = finish(self.proc, self.errfile, sig, 20 * (6 if WRAPPER else 1), "groupvaultd")
        self.logs += out
        self.proc = None
        return out

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        self.start()

    @contextlib.contextmanager
    def offline_db(self):
        """Stops the daemon, yields a connection to its database for editing
        behind its back, commits, and starts it again."""
        self.stop()
        con = sqlite3.connect(os.path.join(self.data_dir, "vault.db"))
        try:
            yield con
            con.commit()
        finally:
            con.close()
        self.start()

    def close(self):
        try:
            self.stop()
        finally:
            if self.own_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- HTTP ----
    def connect(self, timeout=None):
        """A new connection to the daemon: HTTPS checked against self.ca
        when it has one, else plain HTTP."""
        timeout = timeout or TIMEOUT
        if self.ca is None:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        ctx = ssl.create_default_context(cafile=self.ca)
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=ctx)

    def request(self, method, path, body=None, headers=None, raw=None, timeout=None):
        resp = send(self.connect(timeout or TIMEOUT), method, path, body, headers, raw)
        if RECORD:
            record(method, path, resp)
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def mgmt(self, method, path, body=None, **kw):
        h = {"x-auth-token": AUTH}
        h.update(kw.pop("headers", {}))
        return self.request(method, path, body=body, headers=h, **kw)

    def cap(self, method, path, token, body=None, **kw):
        h = {"x-capability-token": token}
        h.update(kw.pop("headers", {}))
        return self.request(method, path, body=body, headers=h, **kw)

    # ---- common steps ----
    def init_unlock(self, password=PASSWORD):
        r = self.mgmt("POST", "/init", {"password": password})
        assert r.status == 200, r
        r = self.mgmt("POST", "/unlock", {"password": password})
        assert r.status == 200, r
        return r

    def token(self, user="user-1", perms=("read", "write", "delete"), scope=("*",), ttl=3600):
        r = self.mgmt("POST", "/tokens", {"userId": user, "permissions": list(perms),
                                          "allowedSecrets": list(scope), "ttlSeconds": ttl})
        assert r.status == 200, r
        return r.json["token"]


def record(method, target, resp):
    """Appends one answer to GV_API_RECORD (see RECORD above)."""
    kind = (method, target.split("?")[0].split("/")[1], resp.status)
    with _record_lock:
        if _record_counts.get(kind, 0) >= RECORD_PER_KIND:
            return
        _record_counts[kind] = _record_counts.get(kind, 0) + 1
        with open(RECORD, "a") as f:
            f.write(json.dumps({"method": method, "target": target, "status": resp.status,
                                "headers": resp.headers,
                                "body": resp.raw.decode("utf-8", "replace")}) + "\n")


def expect(resp, status, error=None):
    """Asserts the status, a JSON body, and (for errors) the error text."""
    assert resp.status == status, "want %d, got %r" % (status, resp)
    assert resp.json is not None, "body is not JSON: %r" % (resp,)
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    assert resp.headers.get("cache-control") == "no-store", resp.headers
    if error is not None:
        assert resp.json.get("error") == error, "want error %r, got %r" % (error, resp)
    return resp.json


def files_contain(directory, needle):
    """Names of files under directory whose bytes contain needle."""
    hits = []
    for base, _, files in os.walk(directory):
        for f in files:
            p = os.path.join(base, f)
            with open(p, "rb") as fh:
                if needle in fh.read():
                    hits.append(p)
    return hits


def memory_scan(pid, needles):
    """Which needles occur anywhere in the process's readable memory."""
    found = set()
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if "r" not in parts[1] or (len(parts) > 5 and parts[5] in ("[vvar]", "[vsyscall]")):
                continue
            if hi - lo > 1 << 30:
                continue
            try:
                mem.seek(lo)
                chunk = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
            for name, needle in needles.items():
                if needle in chunk:
                    found.add(name)
    return found
