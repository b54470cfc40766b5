"""The container image (`make image`) and `groupvaultd --healthcheck`: the
image runs under podman as a non-root user with the seccomp sandbox on,
serves /health on the PORT it is given, keeps its data in the mounted
/app/data, and its health check command tells healthy from not."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import harness
import podman_engine
from harness import AUTH, ROOT, free_port

HC = ["/usr/local/bin/groupvaultd", "--healthcheck"]


def probe(port, binary=harness.BINARY, **env):
    e = dict(os.environ, PORT=str(port))
    e.update(env)
    return subprocess.run([binary, "--healthcheck"], env=e, capture_output=True, text=True,
                          timeout=30)


def test_healthcheck_flag():
    """--healthcheck exits 0 against a serving daemon, 1 (with one line)
    against a closed port or a bad PORT; it needs no GROUP_ID or token."""
    with harness.Vault() as v:
        r = probe(v.port, GROUP_ID="", AUTH_TOKEN="")
        assert r.returncode == 0, r
        r = probe(v.port, BIND_ADDRESS="0.0.0.0")
        assert r.returncode == 0, r
        closed = free_port()
        r = probe(closed)
        assert r.returncode == 1, r
        assert "no answer on port %d" % closed in r.stderr, r.stderr
        r = probe("70000")
        assert r.returncode == 1 and "PORT must be" in r.stderr, r


def _containerfile_lines(text):
    """Instruction lines with continuations joined, blanks collapsed."""
    text = re.sub(r"\\\n\s*", " ", text)
    return {re.sub(r"\s+", " ", line.strip()) for line in text.splitlines()}


def test_containerfile_matches_image_script():
    """The Containerfile for hosts that can pull sets the same container
    defaults, user, health check and entry point as `make image`."""
    with open(os.path.join(ROOT, "Containerfile")) as f:
        cf = _containerfile_lines(f.read())
    with open(os.path.join(ROOT, "scripts", "image.sh")) as f:
        script = f.read()
    body = script.split('<<EOT\n', 1)[1].split("\nEOT\n", 1)[0].replace("$uid", "10001")
    wanted = [line for line in _containerfile_lines(body)
              if line.split(" ", 1)[0] in ("ENV", "USER", "WORKDIR", "EXPOSE", "HEALTHCHECK",
                                           "ENTRYPOINT")]
    assert len(wanted) == 6, wanted
    for line in wanted:
        assert line in cf, "Containerfile lacks: " + line
    assert "FROM debian:12-slim" in cf


def test_image_config():
    """The image carries the container defaults (the daemon guesses none),
    a numeric non-root user, the health check and both names."""
    e = podman_engine.get()
    name = e.image()
    cfg = json.loads(e.podman("image", "inspect", name).stdout)[0]
    env = cfg["Config"]["Env"]
    for want in ("BIND_ADDRESS=0.0.0.0", "DATA_DIR=/app/data", "PORT=18790"):
        assert want in env, env
    assert cfg["Config"]["User"] == "10001:10001", cfg["Config"]["User"]
    assert cfg["Config"]["Entrypoint"] == ["/usr/local/bin/groupvaultd"]
    assert cfg["Healthcheck"]["Test"] == ["CMD"] + HC, cfg.get("Healthcheck")
    # The original agent's image name points at the same image.
    other = e.podman("image", "inspect", "--format", "{{.Id}}", "ocmt-group-vault:local")
    assert other.stdout.strip() == cfg["Id"]
    assert e.image_size < 48 << 20, "image is %d bytes" % e.image_size


def _run(e, data, port, *extra, env=None):
    args = ["run", "-d", "--network", "host", "--ulimit", "nofile=4096:4096",
            "--ulimit", "nproc=32768:32768", "-v", data + ":/app/data",
            "-e", "PORT=%d" % port, "-e", "GROUP_ID=group-image", "-e", "AUTH_TOKEN=" + AUTH,
            "-e", "KDF_MEMORY_KIB=1024", "-e", "KDF_ITERATIONS=1", "-e", "KDF_PARALLELISM=1"]
    for k, val in (env or {}).items():
        args += ["-e", "%s=%s" % (k, val)]
    return e.podman(*(args + list(extra) + [e.image()])).stdout.strip()


def _wait_health(port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if probe(port, binary=harness.RELEASE_BINARY).returncode == 0:
            return True
        time.sleep(0.05)
    return False


def _proc_status(e, cid):
    pid = e.podman("inspect", "--format", "{{.State.Pid}}", cid).stdout.strip()
    with open("/proc/%s/status" % pid) as f:
        return dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)


def test_image_runs_as_a_vault():
    """A container from the image: /health 200 on the chosen port, non-root,
    our seccomp filter on top of the engine's, a secret written and read
    back (worker threads come and go: the libgcc_s the image must carry),
    the data (encrypted) in the mounted dir, the health check command, and
    a clean exit on stop."""
    e = podman_engine.get()
    e.image()
    data, data0 = tempfile.mkdtemp(prefix="gv-image-"), tempfile.mkdtemp(prefix="gv-image-")
    for d in (data, data0):
        os.chown(d, 10001, 10001)  # the image's user owns its mount
    ids = []
    try:
        port = free_port()
        t0 = time.time()
        ids.append(_run(e, data, port))
        assert _wait_health(port), e.podman("logs", ids[0], check=False).stderr
        print("     container start to first /health 200: %.0f ms" % ((time.time() - t0) * 1000),
              flush=True)
        st = _proc_status(e, ids[0])
        assert st["Uid"].split()[:2] == ["10001", "10001"], st["Uid"]
        filters = int(st["Seccomp_filters"])
        # The same image with SECCOMP=0 has one filter fewer: ours was on.
        port0 = free_port()
        ids.append(_run(e, data0, port0, env={"SECCOMP": "0"}))
        assert _wait_health(port0)
        assert int(_proc_status(e, ids[1])["Seccomp_filters"]) == filters - 1

        v = harness.Vault.__new__(harness.Vault)  # the harness's HTTP, this port
        v.port = port
        v.init_unlock()
        tok = v.token()
        r = v.cap("POST", "/secrets/image-secret-name", tok, {"value": "image-secret-value"})
        assert r.status == 200, r
        r = v.cap("GET", "/secrets/image-secret-name", tok)
        assert r.status == 200 and r.json["value"] == "image-secret-value", r
        files = os.listdir(data)
        assert "vault.db" in files and "signing.key" in files, files
        assert os.stat(os.path.join(data, "vault.db")).st_uid == 10001
        for needle in (b"image-secret-value", b"image-secret-name"):
            assert harness.files_contain(data, needle) == [], needle

        assert e.podman("exec", ids[0], *HC, check=False).returncode == 0
        assert e.podman("healthcheck", "run", ids[0], check=False).returncode == 0
        bad = e.podman("exec", "-e", "PORT=%d" % free_port(), ids[0], *HC, check=False)
        assert bad.returncode == 1, bad
        e.podman("stop", "-t", "10", ids[0])
        code = e.podman("inspect", "--format", "{{.State.ExitCode}}", ids[0]).stdout.strip()
        logs = e.podman("logs", ids[0]).stderr + e.podman("logs", ids[0]).stdout
        assert code == "0", "exit %s:\n%s" % (code, logs)
        assert "listening on 0.0.0.0:%d" % port in logs, logs
        assert AUTH not in logs and "image-secret-value" not in logs
    finally:
        for cid in ids:
            e.podman("rm", "-f", "-t", "2", cid, check=False)
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(data0, ignore_errors=True)
