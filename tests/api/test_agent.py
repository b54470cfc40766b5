"""test_agent.py: groupvault-agent with the process backend, black-box: every
route, the original management server's provision call, idempotence, stop/
start/restart, delete keeps data, supervision, and adoption after SIGKILL."""
import os
import signal
import stat
import tempfile
import threading
import time

from agent_harness import AGENT_TOKEN, VAULT_TOKEN, Agent, port_closed
from harness import PASSWORD

INFO_KEYS = {"status", "containerId", "containerName", "port", "groupId", "createdAt"}


def test_provision_as_the_management_server_calls_it():
    with Agent() as a:
        # The management server sends orgSlug (the original agent read groupSlug).
        r = a.provision("3f2b6c1e-9d4a-4c1b-8a55-0c7e2f1d9b10", slug="acme-corp")
        assert r.status == 200, r
        assert set(r.json) == INFO_KEYS, r.json
        assert r.json["status"] == "created"
        assert r.json["containerName"] == "ocmt-group-vault-acme-corp"
        assert a.lo <= r.json["port"] <= a.hi
        assert r.json["createdAt"].endswith("Z")
        port = r.json["port"]
        # Answered only once healthy: the vault serves at once, for its group.
        h = a.request("GET", "/health", port=port)
        assert h.status == 200 and h.json["groupId"] == "3f2b6c1e-9d4a-4c1b-8a55-0c7e2f1d9b10"
        # The authToken given at provision is the vault's management token.
        assert a.vault(port, "POST", "/init", {"password": PASSWORD}).status == 200
        assert a.vault(port, "POST", "/init", {"password": PASSWORD},
                       token="wrong-token-0123456789").status == 401
        # groupSlug is read too.
        r2 = a.provision("g-two", slug="beta", key="groupSlug")
        assert r2.status == 200 and r2.json["containerName"] == "ocmt-group-vault-beta"
        assert r2.json["port"] != port


def test_provision_is_idempotent_and_list_and_status_answer():
    with Agent() as a:
        first = a.provision("grp-1", slug="one")
        assert first.status == 200, first
        again = a.provision("grp-1", slug="other-slug")
        assert again.status == 200 and again.json["status"] == "exists"
        for k in ("containerId", "containerName", "port", "groupId", "createdAt"):
            assert again.json[k] == first.json[k], k
        a.provision("grp-2")
        lst = a.api("GET", "")
        assert lst.status == 200 and isinstance(lst.json, list), lst
        assert [v["groupId"] for v in lst.json] == ["grp-1", "grp-2"]
        for v in lst.json:
            assert v["running"] is True and v["paused"] is False
            assert "authToken" not in v and VAULT_TOKEN.encode() not in lst.raw
        assert a.api("GET", "/").status == 200
        for path in ("/grp-1", "/grp-1/status"):
            st = a.api("GET", path)
            assert st.status == 200, st
            assert st.json["running"] is True and st.json["healthy"] is True
            assert st.json["port"] == first.json["port"] and st.json["startedAt"]
            assert st.json["backend"] == "process"
        nf = a.api("GET", "/nope")
        assert nf.status == 404 and nf.json == {"error": "Group vault container not found"}


def test_concurrent_provisions_of_one_group_make_one_vault():
    with Agent() as a:
        answers = []

        def go():
            answers.append(a.provision("same-group"))

        threads = [threading.Thread(target=go) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r.status == 200 for r in answers), answers
        assert sorted(r.json["status"] for r in answers) == ["created"] + ["exists"] * 5
        assert len({r.json["port"] for r in answers}) == 1
        assert len({r.json["containerId"] for r in answers}) == 1
        assert len(a.api("GET", "").json) == 1


def test_auth_and_hostile_input_get_clear_json_errors():
    with Agent() as a:
        assert a.request("GET", "/health").status == 200  # liveness needs no token
        for hdrs in ({}, {"x-auth-token": "wrong"}, {"x-auth-token": AGENT_TOKEN + "x"},
                     {"x-auth-token": AGENT_TOKEN[:-1]}):
            r = a.request("GET", "/api/group-vaults", headers=hdrs)
            assert r.status == 401 and r.json == {"error": "Unauthorized"}, r
            r = a.request("POST", "/api/group-vaults/provision", headers=hdrs,
                          body={"groupId": "g", "authToken": VAULT_TOKEN})
            assert r.status == 401, r
        assert a.request("GET", "/metrics").status == 401
        cases = [
            ({"authToken": VAULT_TOKEN}, "groupId required"),
            ({"groupId": "", "authToken": VAULT_TOKEN}, "groupId required"),
            ({"groupId": "g"}, "authToken required"),
            ({"groupId": "../../etc", "authToken": VAULT_TOKEN}, "Invalid groupId"),
            ({"groupId": ".hidden", "authToken": VAULT_TOKEN}, "Invalid groupId"),
            ({"groupId": "a/b", "authToken": VAULT_TOKEN}, "Invalid groupId"),
            ({"groupId": "x" * 65, "authToken": VAULT_TOKEN}, "Invalid groupId"),
            ({"groupId": "g\n1", "authToken": VAULT_TOKEN}, "Invalid groupId"),
            ({"groupId": 7, "authToken": VAULT_TOKEN}, None),
            ({"groupId": "g", "authToken": "short"}, "authToken must be 16 to 256 characters"),
            ({"groupId": "g", "authToken": VAULT_TOKEN, "orgSlug": ["x"]}, None),
            ({"groupId": "g", "authToken": VAULT_TOKEN, "groupSlug": "s" * 129},
             "groupSlug is too long"),
        ]
        for body, err in cases:
            r = a.api("POST", "/provision", body)
            assert r.status == 400 and isinstance(r.json, dict) and r.json.get("error"), (body, r)
            if err:
                assert r.json["error"] == err, (body, r)
        for raw in (b"{", b"[]", b"\"x\"", b"{\"groupId\":\"g\",\"groupId\":\"h\"}", b"\xff"):
            r = a.api("POST", "/provision", raw=raw)
            assert r.status == 400 and r.json["error"], (raw, r)
        r = a.api("POST", "/provision", raw=b"{\"groupId\":\"" + b"a" * 40000 + b"\"}")
        assert r.status == 413 and r.json["error"] == "Request body too large", r
        assert a.api("GET", "/provision").status in (404, 405)
        r = a.request("GET", "/nowhere", headers={"x-auth-token": AGENT_TOKEN})
        assert r.status == 404 and r.json == {"error": "Not found"}
        r = a.api("PUT", "/g1")
        assert r.status == 405 and r.json["error"], r
        r = a.api("GET", "/g1/bogus")
        assert r.status == 404 and r.json["error"], r
        r = a.api("GET", "/%2e%2e/status")
        assert r.status in (400, 404) and r.json["error"], r
        for tail in ("0", "-1", "x", "10001", "1e3", ""):
            r = a.api("GET", "/g1/logs?tail=" + tail)
            assert r.status == 400 and r.json["error"], (tail, r)
        assert a.api("GET", "").json == []  # nothing was provisioned by any of that
        assert not os.path.exists(os.path.join(a.data_dir, "etc"))


def test_stop_start_restart():
    with Agent() as a:
        port = a.provision("g1").json["port"]
        assert a.vault(port, "POST", "/init", {"password": PASSWORD}).status == 200
        before = a.api("GET", "/g1").json["startedAt"]
        r = a.api("POST", "/g1/stop")
        assert r.status == 200 and r.json == {"status": "stopped"}, r
        assert port_closed(port)
        st = a.api("GET", "/g1").json
        assert st["running"] is False and st["state"] == "stopped"
        time.sleep(1.5)  # the supervisor must not bring a stopped vault back
        assert port_closed(port)
        r = a.api("POST", "/g1/start")
        assert r.status == 200 and r.json == {"status": "started"}, r
        h = a.request("GET", "/health", port=port)
        assert h.status == 200 and h.json["vaultInitialized"] is True  # same data
        r = a.api("POST", "/g1/restart")
        assert r.status == 200 and r.json == {"status": "restarted"}, r
        st = a.api("GET", "/g1").json
        assert st["running"] is True and st["state"] == "running" and st["startedAt"] > before
        assert a.request("GET", "/health", port=port).status == 200
        for verb in ("stop", "start", "restart"):
            r = a.api("POST", "/absent/" + verb)
            assert r.status == 404 and r.json["error"] == "Group vault container not found"


def test_delete_keeps_data_and_reprovision_finds_it():
    with Agent() as a:
        port = a.provision("keep", slug="keep").json["port"]
        assert a.vault(port, "POST", "/init", {"password": PASSWORD}).status == 200
        assert a.vault(port, "POST", "/unlock", {"password": PASSWORD}).status == 200
        tok = a.vault(port, "POST", "/tokens", {"userId": "u", "permissions": ["read", "write"],
                                                 "allowedSecrets": ["*"]}).json["token"]
        w = a.request("POST", "/secrets/db.password", body={"value": "s3cr3t-value"},
                      headers={"x-capability-token": tok}, port=port)
        assert w.status == 200, w
        r = a.api("DELETE", "/keep")
        assert r.status == 200 and r.json == {"status": "removed"}, r
        assert port_closed(port)
        assert a.api("GET", "/keep").status == 404
        assert a.api("DELETE", "/keep").status == 404
        assert os.path.exists(os.path.join(a.data_dir, "groups", "keep", "data", "vault.db"))
        again = a.provision("keep", slug="keep")
        assert again.status == 200 and again.json["status"] == "created", again
        p2 = again.json["port"]
        assert a.request("GET", "/health", port=p2).json["vaultInitialized"] is True
        assert a.vault(p2, "POST", "/unlock", {"password": PASSWORD}).status == 200
        tok = a.vault(p2, "POST", "/tokens", {"userId": "u", "permissions": ["read"],
                                               "allowedSecrets": ["*"]}).json["token"]
        g = a.request("GET", "/secrets/db.password", headers={"x-capability-token": tok},
                      port=p2)
        assert g.status == 200 and g.json["value"] == "s3cr3t-value", g


def test_supervisor_restarts_a_killed_vault():
    with Agent() as a:
        port = a.provision("crashy").json["port"]
        pid = a.vault_pid("crashy")
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 20
        while time.time() < deadline and a.vault_pid("crashy") == pid:
            time.sleep(0.05)
        assert a.vault_pid("crashy") not in (None, pid)
        assert a.wait_healthy(port)
        st = a.api("GET", "/crashy").json
        assert st["restarts"] >= 1 and st["running"] is True, st
        assert "killed by signal 9" in st.get("detail", "") or st["restarts"] >= 1


def test_agent_sigkill_then_restart_adopts_running_and_revives_killed():
    d = None
    a = Agent()
    try:
        d = a.data_dir
        ports = {g: a.provision(g).json["port"] for g in ("alive", "victim", "parked")}
        assert a.api("POST", "/parked/stop").status == 200
        alive_pid = a.vault_pid("alive")
        a.kill9()
        # The vaults outlive the agent.
        assert a.request("GET", "/health", port=ports["alive"]).status == 200
        os.kill(a.vault_pid("victim"), signal.SIGKILL)
        time.sleep(0.2)
        assert port_closed(ports["victim"])
        a.start()
        # Adopted, not restarted: the same process still serves.
        assert a.vault_pid("alive") == alive_pid
        assert a.wait_healthy(ports["victim"])
        assert port_closed(ports["parked"])  # stopped by the operator stays stopped
        lst = {v["groupId"]: v for v in a.api("GET", "").json}
        assert lst["alive"]["running"] and lst["victim"]["running"]
        assert not lst["parked"]["running"] and lst["parked"]["state"] == "stopped"
        assert lst["alive"]["port"] == ports["alive"]
        # Supervision goes on for the adopted one.
        os.kill(alive_pid, signal.SIGKILL)
        assert a.wait_healthy(ports["alive"])
        deadline = time.time() + 10
        while time.time() < deadline and a.vault_pid("alive") == alive_pid:
            time.sleep(0.05)
        assert a.vault_pid("alive") != alive_pid
        assert "reconciled: 1 running adopted, 1 started" in a.read_log(), a.read_log()
    finally:
        a.close()
    assert d is not None and not os.path.exists(d)


def test_ports_persist_across_agent_restarts_and_run_out_cleanly():
    from agent_harness import port_range
    lo, _ = port_range(3)
    with Agent(ports=(lo, lo + 2)) as a:
        got = [a.provision("p%d" % i).json["port"] for i in range(2)]
        a.stop()
        a.start()
        third = a.provision("p2").json["port"]
        assert third not in got and lo <= third <= lo + 2
        assert a.provision("p0").json["port"] == got[0]
        r = a.provision("p3")
        assert r.status == 503 and r.json["error"] == "No free port for a new vault", r
        assert len(a.api("GET", "").json) == 3
        # A port freed by delete goes to the next new vault.
        assert a.api("DELETE", "/p1").status == 200
        r = a.provision("p3")
        assert r.status == 200 and r.json["port"] == got[1], r


def test_logs_and_metrics():
    with Agent() as a:
        a.provision("logged")
        r = a.api("GET", "/logged/logs?tail=50")
        assert r.status == 200 and r.json["groupId"] == "logged", r
        assert any("listening on" in line for line in r.json["lines"]), r.json
        assert VAULT_TOKEN not in "".join(r.json["lines"])
        one = a.api("GET", "/logged/logs?tail=1").json["lines"]
        assert len(one) == 1
        m = a.request("GET", "/metrics", headers={"x-auth-token": AGENT_TOKEN})
        assert m.status == 200, m
        text = m.raw.decode()
        assert 'groupvault_agent_vaults{state="running"} 1' in text
        assert "groupvault_agent_vaults_up 1" in text
        assert "groupvault_agent_provisions_total 1" in text


def test_failed_provision_cleans_up_and_says_why():
    with Agent(VAULT_HEALTH_TIMEOUT_SECONDS=5, VAULT_ENV_SESSION_TTL_SECONDS="nope") as a:
        r = a.provision("broken")
        assert r.status == 504, r
        assert r.json["error"] == "The vault did not become healthy"
        assert "exited with status" in r.json["details"], r.json
        assert a.api("GET", "").json == []
        assert a.api("GET", "/broken").status == 404


def test_files_are_private_and_tokens_stay_out_of_logs():
    with Agent() as a:
        a.provision("private")
        mode = stat.S_IMODE(os.stat(a.data_dir).st_mode)
        assert mode == 0o700, oct(mode)
        for name in ("agent.db",):
            m = stat.S_IMODE(os.stat(os.path.join(a.data_dir, name)).st_mode)
            assert m & 0o077 == 0, (name, oct(m))
        for sub in ("groups", "groups/private", "groups/private/data"):
            m = stat.S_IMODE(os.stat(os.path.join(a.data_dir, sub)).st_mode)
            assert m == 0o700, (sub, oct(m))
        for name in ("vault.log", "vault.pid"):
            m = stat.S_IMODE(os.stat(os.path.join(a.data_dir, "groups/private", name)).st_mode)
            assert m & 0o077 == 0, (name, oct(m))
        out = a.stop()
        a.start()
        assert VAULT_TOKEN not in out and AGENT_TOKEN not in out
        assert VAULT_TOKEN not in a.vault_log("private")
        pid = a.vault_pid("private")
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            assert VAULT_TOKEN.encode() not in f.read()


def test_settings_are_checked_with_one_clear_line():
    import subprocess
    from agent_harness import AGENT
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_", "VAULT_"))}
    cases = [
        ({}, "AGENT_AUTH_TOKEN is required"),
        ({"AGENT_AUTH_TOKEN": "short"}, "AGENT_AUTH_TOKEN is required"),
        ({"AGENT_AUTH_TOKEN": AGENT_TOKEN, "AGENT_BACKEND": "lxc"}, "AGENT_BACKEND"),
        ({"AGENT_AUTH_TOKEN": AGENT_TOKEN, "VAULT_PORT_RANGE": "9-"}, "VAULT_PORT_RANGE"),
        ({"AGENT_AUTH_TOKEN": AGENT_TOKEN, "VAULT_PORT_RANGE": "20-10"}, "VAULT_PORT_RANGE"),
        ({"AGENT_AUTH_TOKEN": AGENT_TOKEN, "AGENT_PORT": "18900"}, "outside VAULT_PORT_RANGE"),
        ({"AGENT_AUTH_TOKEN": AGENT_TOKEN, "AGENT_PORT": "70000"}, "AGENT_PORT"),
        ({"AGENT_AUTH_TOKEN": AGENT_TOKEN, "DOCKER_HOST": "tcp://x:2375"}, "DOCKER_HOST"),
        ({"AGENT_AUTH_TOKEN": AGENT_TOKEN, "VAULT_MEMORY_MB": "1"}, "VAULT_MEMORY_MB"),
        ({"AGENT_AUTH_TOKEN": AGENT_TOKEN, "VAULT_ENV_AUTH_TOKEN": "x"}, "VAULT_ENV_AUTH_TOKEN"),
        ({"AGENT_AUTH_TOKEN": AGENT_TOKEN, "VAULT_BIN": "/nonexistent/groupvaultd"},
         "VAULT_BIN"),
    ]
    for env, needle in cases:
        e = dict(base)
        e.update(env)
        with tempfile.TemporaryDirectory() as cwd:
            p = subprocess.run([AGENT], env=e, capture_output=True, timeout=30, cwd=cwd)
            assert os.listdir(cwd) == [], (env, os.listdir(cwd))
        err = p.stderr.decode()
        assert p.returncode != 0, (env, err)
        assert needle in err and len(err.strip().splitlines()) == 1, (env, err)
        assert AGENT_TOKEN not in err
    h = subprocess.run([AGENT, "--help"], capture_output=True, timeout=30)
    assert h.returncode == 0
    for name in ("AGENT_AUTH_TOKEN", "AGENT_PORT", "AGENT_BIND_ADDRESS", "AGENT_DATA_DIR",
                 "AGENT_BACKEND", "VAULT_BIN", "VAULT_PORT_RANGE", "DOCKER_HOST", "VAULT_IMAGE",
                 "VAULT_MEMORY_MB"):
        assert name.encode() in h.stdout, name


def test_readme_table_lists_every_setting_of_help():
    import re
    import subprocess
    from agent_harness import AGENT
    from harness import ROOT
    out = subprocess.run([AGENT, "--help"], capture_output=True, text=True, timeout=30).stdout
    helped = set(re.findall(r"^  ([A-Z_<>]+)\s", out, re.M))
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    section = readme.split("## One vault per group: groupvault-agent", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z_<>]+)` \|", section, re.M))
    assert len(helped) >= 12, helped
    assert helped == documented, (helped ^ documented)


def test_vaults_serving_tls_are_health_checked_over_https():
    import ssl
    import http.client
    from test_tls import CA
    ca = CA()
    try:
        crt, key = ca.issue("vault")
        with Agent(VAULT_ENV_TLS_CERT_FILE=crt, VAULT_ENV_TLS_KEY_FILE=key) as a:
            r = a.provision("tls-group")
            assert r.status == 200 and r.json["status"] == "created", r
            port = r.json["port"]
            ctx = ssl.create_default_context(cafile=ca.ca)
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
            conn.request("GET", "/health")
            assert conn.getresponse().status == 200
            conn.close()
            st = a.api("GET", "/tls-group").json
            assert st["healthy"] is True and st["running"] is True, st
            assert a.api("POST", "/tls-group/restart").status == 200
    finally:
        ca.close()
