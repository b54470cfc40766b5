"""podman_engine.py: a private podman for the container tests: its storage
and state live under one temp dir, the image is built there once per run
(scripts/image.sh), and the Docker-API service listens on a temp socket.
At exit it stops the service it started and removes that whole store; it
never touches the host's own containers or images."""
import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from harness import ROOT, Skip

IMAGE = "groupvault:local"
RELEASE = os.path.join(ROOT, "build", "groupvaultd")
_engine = None


def why_not():
    """The reason the container tests cannot run here, or None."""
    for tool in ("podman", "runc"):
        if shutil.which(tool) is None:
            return "%s is not installed (scripts/deps.sh test installs it)" % tool
    if os.geteuid() != 0:
        return "needs root: podman with a private store under /tmp"
    if not os.path.exists(RELEASE):
        return "build/groupvaultd is not built"
    return None


def get():
    """The run's engine (made on first use); raises Skip when there is none."""
    global _engine
    reason = why_not()
    if reason:
        raise Skip(reason)
    if _engine is None:
        _engine = Engine()
        atexit.register(_engine.close)
    return _engine


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Engine:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="gv-podman-")
        self.base = ["podman", "--root", os.path.join(self.dir, "root"),
                     "--runroot", os.path.join(self.dir, "run"),
                     "--tmpdir", os.path.join(self.dir, "tmp"),
                     "--runtime", "runc", "--cgroup-manager", "cgroupfs",
                     "--events-backend", "file"]
        self.sock = os.path.join(self.dir, "podman.sock")
        self.service = None
        self.image_seconds = None
        self.image_size = None

    def podman(self, *args, check=True, timeout=120):
        r = subprocess.run(self.base + list(args), capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("podman %s: %s" % (" ".join(args), r.stderr.strip()))
        return r

    def image(self):
        """Builds the image into this store once per run (`make image`'s
        script with this engine); returns its name."""
        if self.image_size is None:
            env = dict(os.environ, GV_ENGINE=" ".join(self.base), GV_BINARY=RELEASE)
            t0 = time.time()
            r = subprocess.run([os.path.join(ROOT, "scripts", "image.sh")], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                raise RuntimeError("image.sh failed:\n" + r.stdout + r.stderr)
            self.image_seconds = time.time() - t0
            self.image_size = int(self.podman("image", "inspect", "--format", "{{.Size}}",
                                              IMAGE).stdout.strip())
            print("     image %s: %.1f MiB, built in %.1fs" %
                  (IMAGE, self.image_size / 1048576, self.image_seconds), flush=True)
        return IMAGE

    def socket(self):
        """The Docker-API socket of a `podman system service` on this store."""
        if self.service is None:
            self.service = subprocess.Popen(
                self.base + ["system", "service", "--time=0", "unix://" + self.sock],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    if self.api("GET", "/_ping")[0] == 200:
                        return self.sock
                except OSError:
                    pass
                if self.service.poll() is not None:
                    raise RuntimeError("podman system service exited")
                time.sleep(0.1)
            raise RuntimeError("podman system service did not answer")
        return self.sock

    def api(self, method, path, timeout=30):
        c = UnixHTTP(self.sock, timeout)
        try:
            c.request(method, "/v1.41" + path)
            r = c.getresponse()
            raw = r.read()
            return r.status, (json.loads(raw) if raw[:1] in (b"{", b"[") else raw)
        finally:
            c.close()

    def containers(self, label):
        """Names of this store's containers carrying label (k=v)."""
        out = self.podman("ps", "-a", "--filter", "label=" + label, "--format",
                          "{{.Names}}").stdout
        return [n for n in out.split() if n]

    def close(self):
        try:
            self.podman("rm", "-af", "-t", "2", check=False)
            self.podman("rmi", "-af", check=False)
        except (OSError, subprocess.SubprocessError):
            pass
        if self.service is not None:
            self.service.send_signal(signal.SIGTERM)
            try:
                self.service.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.service.kill()
                self.service.wait()
        # Whatever the store still has mounted (a container that refused to
        # go) is unmounted before the tree is removed.
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f]
        for m in sorted((m for m in mounts if m.startswith(self.dir + "/")), reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
