"""The docker backend against podman's Docker API (a private podman: its
own store and `podman system service` socket, see podman_engine.py): the
backend alone through its unit test's live group, then the real agent with
AGENT_BACKEND=docker provisioning, restarting, stopping, deleting and
re-provisioning a vault container. Skipped with the reason without podman."""
import os
import subprocess

import podman_engine
from agent_harness import VAULT_TOKEN, Agent
from harness import PASSWORD, ROOT, SANITIZER_MARKS, Skip, free_port

UNIT = os.path.join(ROOT, "build", "test", "agent_docker_test")


def test_backend_lifecycle_through_the_engine_api():
    """backend_docker.c alone: create (data dir chowned to the image's user),
    health, status, logs (demultiplexed), stop/start, a same-named leftover
    replaced, remove keeps the data, a missing image is one clear line."""
    e = podman_engine.get()
    if not os.path.exists(UNIT):
        raise Skip("build/test/agent_docker_test is not built")
    env = dict(os.environ, GV_DOCKER_SOCKET=e.socket(), GV_DOCKER_PORT=str(free_port()),
               GV_DOCKER_IMAGE=e.image())
    r = subprocess.run([UNIT], env=env, capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "[       OK ] test_live_lifecycle" in out, out
    for mark in SANITIZER_MARKS:
        assert mark not in out, out


def _docker_agent(e, **env):
    return Agent(AGENT_BACKEND="docker", DOCKER_HOST="unix://" + e.socket(),
                 VAULT_IMAGE=e.image(), VAULT_MEMORY_MB="256", **env)


def _inspect(e, name):
    status, body = e.api("GET", "/containers/%s/json" % name)
    return body if status == 200 else None


def _unlock_and_read(a, port):
    assert a.vault(port, "POST", "/unlock", {"password": PASSWORD}).status == 200
    tok = a.vault(port, "POST", "/tokens", {"userId": "u1", "permissions": ["read"]}).json["token"]
    return a.request("GET", "/secrets/kept-name", headers={"x-capability-token": tok}, port=port)


def test_agent_provisions_restarts_and_deletes_through_podman():
    e = podman_engine.get()
    group, name = "g-docker", "ocmt-group-vault-acme-docker"
    a = _docker_agent(e)
    try:
        # The management server's own call: orgSlug, not groupSlug.
        r = a.provision(group, slug="acme-docker")
        assert r.status == 200 and r.json["status"] == "created", r
        assert r.json["containerName"] == name
        port, cid = r.json["port"], r.json["containerId"]
        assert a.lo <= port <= a.hi
        h = a.request("GET", "/health", port=port)
        assert h.status == 200 and h.json["groupId"] == group, h

        c = _inspect(e, name)
        assert c["Id"] == cid and c["State"]["Running"] is True
        labels = c["Config"]["Labels"]
        assert labels["ocmt.type"] == "group-vault" and labels["ocmt.groupId"] == group
        assert labels["ocmt.groupSlug"] == "acme-docker"
        assert labels["groupvault.port"] == str(port)
        hc = c["HostConfig"]
        assert hc["Memory"] == 256 << 20, hc["Memory"]
        assert hc["RestartPolicy"]["Name"] == "unless-stopped"
        assert hc["NetworkMode"] == "host"
        env = c["Config"]["Env"]
        assert "PORT=%d" % port in env and "GROUP_ID=" + group in env
        assert not any(v.startswith("SIGNING_KEY=") for v in env)
        # Host networking: loopback unless VAULT_BIND_ADDRESS says otherwise.
        assert "BIND_ADDRESS=127.0.0.1" in env, env
        data = [m["Source"] for m in c["Mounts"] if m["Destination"] == "/app/data"]
        assert len(data) == 1 and data[0].startswith(a.data_dir), c["Mounts"]
        assert os.stat(data[0]).st_uid == 10001

        assert a.vault(port, "POST", "/init", {"password": PASSWORD}).status == 200
        assert a.vault(port, "POST", "/unlock", {"password": PASSWORD}).status == 200
        tok = a.vault(port, "POST", "/tokens", {"userId": "u1", "permissions": ["write"]})
        w = a.request("POST", "/secrets/kept-name", body={"value": "kept-value"},
                      headers={"x-capability-token": tok.json["token"]}, port=port)
        assert w.status == 200, w

        again = a.provision(group, slug="acme-docker")
        assert again.json["status"] == "exists" and again.json["port"] == port, again
        st = a.api("GET", "/" + group)
        assert st.json["backend"] == "docker" and st.json["running"] is True, st
        assert st.json["healthy"] is True
        logs = a.api("GET", "/%s/logs?tail=20" % group)
        assert logs.status == 200 and any("listening on 127.0.0.1:%d" % port in line
                                          for line in logs.json["lines"]), logs
        assert not any(VAULT_TOKEN in line for line in logs.json["lines"])

        started = st.json["startedAt"]
        r = a.api("POST", "/%s/restart" % group)
        assert r.status == 200 and r.json == {"status": "restarted"}, r
        assert a.wait_healthy(port)
        assert a.api("GET", "/" + group).json["startedAt"] != started

        r = a.api("POST", "/%s/stop" % group)
        assert r.status == 200 and r.json == {"status": "stopped"}, r
        assert _inspect(e, name)["State"]["Running"] is False
        assert a.api("GET", "/" + group).json["running"] is False
        r = a.api("POST", "/%s/start" % group)
        assert r.status == 200 and r.json == {"status": "started"}, r
        assert a.wait_healthy(port)

        # The agent restarts: it finds its container running and keeps it.
        a.stop()
        a.start()
        st = a.api("GET", "/" + group)
        assert st.json["running"] is True and st.json["containerId"] == cid, st

        r = a.api("DELETE", "/" + group)
        assert r.status == 200 and r.json == {"status": "removed"}, r
        assert _inspect(e, name) is None
        assert e.containers("ocmt.groupId=" + group) == []
        assert "vault.db" in os.listdir(data[0])

        r = a.provision(group, slug="acme-docker")
        assert r.status == 200 and r.json["status"] == "created", r
        assert r.json["containerId"] != cid
        port = r.json["port"]
        assert a.wait_healthy(port)
        s = _unlock_and_read(a, port)
        assert s.status == 200 and s.json["value"] == "kept-value", s
    finally:
        try:
            a.close()
        finally:
            for n in e.containers("ocmt.groupId=" + group):
                e.podman("rm", "-f", "-t", "2", n, check=False)
