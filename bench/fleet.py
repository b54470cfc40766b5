#!/usr/bin/env python3
"""fleet.py: `make bench-fleet`. Provisions FLEET_N (1000) vaults through the
release groupvault-agent with the process backend on this machine, checks
every one answers /health, and reports: time per provision (median, p95),
total and per-vault memory (PSS, from /proc/<pid>/smaps_rollup), the agent's
own RSS, and the time to reconcile after the agent is SIGKILLed (with
FLEET_KILL vaults killed meanwhile, to be revived). The reference is the
original (Node.js) vault's 64 MB per container: vaults per GiB, both ways.
Everything it starts is stopped at the end. Never part of `make test`."""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT = os.path.join(ROOT, "build", "groupvault-agent")
N = int(os.environ.get("FLEET_N", "1000"))
KILL = int(os.environ.get("FLEET_KILL", "50"))
TOKEN = "fleet-bench-agent-token-0123"
VAULT_TOKEN = "fleet-bench-vault-token-0123"
ORIGINAL_MB = 64  # the original vault container's footprint (issue 12)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body=None, auth=True, timeout=60):
    req = urllib.request.Request(
        "http://127.0.0.1:%d%s" % (port, path), method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"x-auth-token": TOKEN, "Content-Type": "application/json"} if auth else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def healthy(port):
    try:
        return call(port, "GET", "/health", auth=False, timeout=5)[0] == 200
    except OSError:
        return False


def pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def vault_pids(data):
    pids = {}
    groups = os.path.join(data, "groups")
    for g in os.listdir(groups) if os.path.isdir(groups) else []:
        try:
            with open(os.path.join(groups, g, "vault.pid")) as f:
                pids[g] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return pids


def start_agent(env, log):
    p = subprocess.Popen([AGENT], env=env, stdout=log, stderr=subprocess.STDOUT)
    t0 = time.time()
    while time.time() - t0 < 120:
        if p.poll() is not None:
            raise SystemExit("agent exited; see its log")
        if healthy(int(env["AGENT_PORT"])):
            return p, time.time() - t0
        time.sleep(0.01)
    raise SystemExit("agent did not start")


def main():
    data = tempfile.mkdtemp(prefix="gv-fleet-")
    port = free_port()
    env = dict(os.environ, AGENT_AUTH_TOKEN=TOKEN, AGENT_PORT=str(port), AGENT_DATA_DIR=data,
               QUIET="1", VAULT_ENV_QUIET="1")
    # Room for N vaults even when a few ports in the range are taken by others.
    env.setdefault("VAULT_PORT_RANGE", "18800-%d" % (18800 + N + 199))
    log = open(os.path.join(data, "agent.log"), "ab")
    agent = None
    try:
        agent, _ = start_agent(env, log)
        times, ports = [], {}
        t_all = time.time()
        for i in range(N):
            g = "bench-group-%04d" % i
            t0 = time.time()
            st, body = call(port, "POST", "/api/group-vaults/provision",
                            {"groupId": g, "orgSlug": "org%d" % i, "authToken": VAULT_TOKEN})
            times.append(time.time() - t0)
            if st != 200:
                raise SystemExit("provision %s: %d %s" % (g, st, body))
            ports[g] = body["port"]
            if (i + 1) % 100 == 0:
                print("  %d provisioned (%.1f s)" % (i + 1, time.time() - t_all), flush=True)
        total = time.time() - t_all
        time.sleep(3)  # let every vault settle to idle
        bad = [g for g, p in ports.items() if not healthy(p)]
        pids = vault_pids(data)
        pss = [pss_kib(p) for p in pids.values()]
        agent_rss = rss_kib(agent.pid)
        # Reconcile: SIGKILL the agent, kill KILL vaults, start it again.
        agent.send_signal(signal.SIGKILL)
        agent.wait()
        victims = list(pids.items())[:KILL]
        for _, pid in victims:
            os.kill(pid, signal.SIGKILL)
        t0 = time.time()
        agent, up = start_agent(env, log)
        revived = 0
        for g, _ in victims:
            while not healthy(ports[g]) and time.time() - t0 < 300:
                time.sleep(0.02)
            revived += healthy(ports[g])
        reconcile = time.time() - t0
        still = sum(1 for p in ports.values() if healthy(p))
        ts = sorted(times)
        per = statistics.median(pss) / 1024 if pss else 0
        print()
        print("| figure | value |")
        print("| --- | --- |")
        print("| vaults provisioned (process backend) | %d in %.1f s |" % (N, total))
        print("| healthy after provisioning | %d of %d |" % (N - len(bad), N))
        print("| time per provision: median / p95 / max | %.0f / %.0f / %.0f ms |" % (
            statistics.median(ts) * 1000, ts[int(len(ts) * 0.95) - 1] * 1000, ts[-1] * 1000))
        print("| PSS per idle vault: median / mean | %.2f / %.2f MiB |" % (
            per, statistics.mean(pss) / 1024 if pss else 0))
        print("| PSS of all vaults | %.0f MiB |" % (sum(pss) / 1024))
        print("| agent RSS with %d vaults | %.1f MiB |" % (N, agent_rss / 1024))
        print("| agent restart after SIGKILL to serving | %.2f s |" % up)
        print("| reconcile: %d killed vaults revived, all healthy | %d revived in %.2f s; "
              "%d of %d healthy |" % (KILL, revived, reconcile, still, N))
        print("| vaults per GiB: groupvaultd / original (64 MB) | %.0f / %.0f (%.1fx) |" % (
            1024 / per if per else 0, 1024 / ORIGINAL_MB,
            (1024 / per) / (1024 / ORIGINAL_MB) if per else 0))
        return 0 if not bad and revived == KILL and still == N else 1
    finally:
        if agent is not None and agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
            agent.wait()
        for pid in vault_pids(data).values():
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        time.sleep(2)
        for pid in vault_pids(data).values():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        log.close()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
