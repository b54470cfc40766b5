"""test_agent_limits.py: the process backend's rlimits, on the release build
(ASan's shadow memory cannot live under RLIMIT_DATA): the vault gets no core
dumps, a bounded fd table and VAULT_MEMORY_MB as its data limit, and the real
KDF (64 MiB) still unlocks under the default 256 MiB."""
import os

from agent_harness import Agent
from harness import PASSWORD, RELEASE_BINARY, ROOT, Skip

RELEASE_AGENT = os.path.join(ROOT, "build", "groupvault-agent")


def limits(pid):
    out = {}
    with open("/proc/%d/limits" % pid) as f:
        for line in f.readlines()[1:]:
            name = line[:26].strip()
            out[name] = line[26:].split()[:2]
    return out


def test_process_backend_rlimits_and_real_kdf_under_the_memory_limit():
    import agent_harness
    if not (os.path.exists(RELEASE_AGENT) and os.path.exists(RELEASE_BINARY)):
        raise Skip("release build missing")
    saved = agent_harness.AGENT
    agent_harness.AGENT = RELEASE_AGENT
    try:
        with Agent(VAULT_MEMORY_MB=256, VAULT_ENV_KDF_MEMORY_KIB=65536,
                   VAULT_ENV_KDF_ITERATIONS=3, VAULT_ENV_KDF_PARALLELISM=4) as a:
            port = a.provision("limited").json["port"]
            lim = limits(a.vault_pid("limited"))
            assert lim["Max core file size"] == ["0", "0"], lim
            assert lim["Max data size"] == [str(256 << 20)] * 2, lim
            assert lim["Max open files"] == ["4096", "4096"], lim
            assert a.vault(port, "POST", "/init", {"password": PASSWORD}).status == 200
            r = a.vault(port, "POST", "/unlock", {"password": PASSWORD})
            assert r.status == 200, r
    finally:
        agent_harness.AGENT = saved
