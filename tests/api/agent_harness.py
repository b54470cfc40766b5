"""agent_harness.py: start the real groupvault-agent (process backend) on a
free loopback port with a temporary data dir and its own vault port range,
speak HTTP to it, and stop it and every vault it started, also on failure
(vaults outlive the agent by design, so close() kills them by pidfile)."""
import glob
import http.client
import os
import shutil
import signal
import subprocess
import tempfile
import time

from harness import ROOT, SANITIZER_MARKS, TIMEOUT, finish, free_port, send

AGENT = os.environ.get("GROUPVAULT_AGENT", os.path.join(ROOT, "build", "san", "groupvault-agent"))
AGENT_TOKEN = "agent-test-token-0123456789"
VAULT_TOKEN = "vault-test-token-0123456789"


def _ephemeral():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(port):
    import socket
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False


def port_range(n=40):
    """A block of n ports nobody listens on now, outside the kernel's
    ephemeral range (where any client's socket could take one meanwhile)."""
    import random
    elo, ehi = _ephemeral()
    spans = [(s, e) for s, e in ((10000, elo - 1), (ehi + 1, 65000)) if e - s > n * 4]
    for _ in range(200):
        s, e = random.choice(spans)
        base = random.randrange(s, e - n)
        if all(_bindable(p) for p in range(base, base + n)):
            return base, base + n - 1
    raise RuntimeError("no free port range")


class Agent:
    def __init__(self, data_dir=None, ports=None, **env):
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="gv-agent-")
        self.lo, self.hi = ports or port_range()
        self.env = {
            "AGENT_AUTH_TOKEN": AGENT_TOKEN,
            "AGENT_DATA_DIR": self.data_dir,
            "VAULT_PORT_RANGE": "%d-%d" % (self.lo, self.hi),
            "VAULT_ENV_KDF_MEMORY_KIB": "1024",
            "VAULT_ENV_KDF_ITERATIONS": "1",
            "VAULT_ENV_KDF_PARALLELISM": "1",
            "VAULT_HEALTH_TIMEOUT_SECONDS": "30",
            # ASan's shadow memory counts against RLIMIT_DATA: no limit for
            # sanitized vaults (test_agent_limits checks it on the release build).
            "VAULT_MEMORY_MB": "0",
        }
        self.env.update({k: str(v) for k, v in env.items()})
        self.proc = None
        self.out = ""
        try:
            self.start()
        except BaseException:
            self.kill_vaults()
            if self.own_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)
            raise

    def start(self):
        for attempt in range(5):
            self.port = free_port()
            if self.lo <= self.port <= self.hi:
                continue
            env = dict(os.environ)
            env.update(self.env)
            env["AGENT_PORT"] = str(self.port)
            env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
            self.errfile = tempfile.TemporaryFile()
            self.proc = subprocess.Popen([AGENT], env=env, stdout=self.errfile,
                                         stderr=subprocess.STDOUT)
            deadline = time.time() + 20
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    log = self.read_log()
                    if "cannot listen" in log and attempt < 4:
                        break
                    raise RuntimeError("agent exited: " + log)
                try:
                    if self.request("GET", "/health").status == 200:
                        return
                except OSError:
                    pass
                time.sleep(0.02)
            else:
                self.proc.kill()  # never leave a half-started agent behind
                self.proc.wait()
                raise RuntimeError("agent did not start: " + self.read_log())
        raise RuntimeError("agent could not listen")

    def read_log(self):
        self.errfile.seek(0)
        return self.errfile.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return self.out
        out = finish(self.proc, self.errfile, sig, 60, "agent")
        self.out += out
        self.proc = None
        return out

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def vault_pid(self, group):
        try:
            with open(os.path.join(self.data_dir, "groups", group, "vault.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def vault_log(self, group):
        try:
            with open(os.path.join(self.data_dir, "groups", group, "vault.log")) as f:
                return f.read()
        except OSError:
            return ""

    def kill_vaults(self):
        pids = []
        for pidfile in glob.glob(os.path.join(self.data_dir, "groups", "*", "vault.pid")):
            try:
                with open(pidfile) as f:
                    pids.append(int(f.read().split()[0]))
            except (OSError, ValueError, IndexError):
                pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        deadline = time.time() + 20
        for pid in pids:
            while time.time() < deadline and os.path.exists("/proc/%d" % pid) and \
                    not _zombie(pid):
                time.sleep(0.02)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def vault_logs_clean(self):
        for log in glob.glob(os.path.join(self.data_dir, "groups", "*", "vault.log")):
            with open(log, errors="replace") as f:
                text = f.read()
            for mark in SANITIZER_MARKS:
                assert mark not in text, "sanitizer report in %s:\n%s" % (log, text)

    def close(self):
        try:
            self.stop()
        finally:
            self.kill_vaults()
            try:
                self.vault_logs_clean()
            finally:
                if self.own_dir:
                    shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- HTTP ----
    def request(self, method, path, body=None, headers=None, raw=None, port=None, timeout=None):
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port,
                                          timeout=timeout or max(TIMEOUT, 60))
        return send(conn, method, path, body, headers, raw)

    def api(self, method, path, body=None, **kw):
        h = {"x-auth-token": AGENT_TOKEN}
        h.update(kw.pop("headers", {}))
        return self.request(method, "/api/group-vaults" + path, body=body, headers=h, **kw)

    def provision(self, group, slug=None, token=VAULT_TOKEN, key="orgSlug"):
        body = {"groupId": group, "authToken": token}
        if slug is not None:
            body[key] = slug
        return self.api("POST", "/provision", body)

    def vault(self, port, method, path, body=None, token=VAULT_TOKEN):
        return self.request(method, path, body=body, headers={"x-auth-token": token}, port=port)

    def wait_healthy(self, port, seconds=20):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                if self.request("GET", "/health", port=port, timeout=2).status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def port_closed(port):
    import socket
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0
