"""test_k8s.py: `groupvault-agent manifest <groupId>` prints a Secret, a
headless Service, a StatefulSet and a NetworkPolicy that the Kubernetes API
schema accepts (python3-kubernetes models, checked strictly by round trip),
that keep the security invariants, that refuse or rename hostile group ids,
and whose pod part runs under `podman kube play` and answers /health."""
import base64
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import harness
from agent_harness import AGENT
from harness import ROOT, Skip

TOKEN = "k8s-test-token-0123456789abcdef"
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MODELS = {
    ("v1", "Secret"): "V1Secret",
    ("v1", "Service"): "V1Service",
    ("apps/v1", "StatefulSet"): "V1StatefulSet",
    ("networking.k8s.io/v1", "NetworkPolicy"): "V1NetworkPolicy",
    ("v1", "Namespace"): "V1Namespace",
}
DEPLOY = os.path.join(ROOT, "deploy", "k8s")
EXAMPLE_TOKEN = "REPLACE-ME-example-token-not-for-use"


def debian_import(name):
    """Imports a module from Debian's python3-* packages when the python
    running the tests (e.g. a pyenv one) does not have it."""
    try:
        return __import__(name)
    except ImportError:
        dist = "/usr/lib/python3/dist-packages"
        if os.path.isdir(dist) and dist not in sys.path:
            sys.path.append(dist)
        try:
            return __import__(name)
        except ImportError:
            return None


def yaml_module():
    y = debian_import("yaml")
    if y is None:
        raise Skip("python3-yaml is not installed")
    return y


def kube_client():
    if debian_import("kubernetes") is None:
        raise Skip("python3-kubernetes is not installed")
    import kubernetes.client
    return kubernetes.client


def run(*args, token_file=None, env_extra=None):
    """Runs `groupvault-agent manifest ARGS`; returns (rc, stdout, stderr)."""
    assert os.path.exists(AGENT), "%s is missing: run make test" % AGENT
    argv = [AGENT, "manifest"] + list(args)
    if token_file is not None:
        argv += ["--auth-token-file", token_file]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AGENT_") and not k.startswith("VAULT_")}
    env.update(AGENT_AUTH_TOKEN="k8s-test-agent-token-0123456789",
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=0")
    env.update(env_extra or {})
    env = {k: v for k, v in env.items() if v is not None}
    p = subprocess.run(argv, env=env, capture_output=True, timeout=30)
    err = p.stderr.decode("utf-8", "replace")
    for mark in harness.SANITIZER_MARKS:
        assert mark not in err, err
    return p.returncode, p.stdout.decode("utf-8", "replace"), err


class TokenFile:
    def __init__(self, content):
        self.dir = tempfile.mkdtemp(prefix="gv-k8s-")
        self.path = os.path.join(self.dir, "token")
        with open(self.path, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)


def manifests(group, *args, token=TOKEN):
    """The documents for group, parsed as kubectl would (a YAML stream)."""
    with TokenFile(token + "\n") as tf:
        # An id that starts with '-' comes after "--".
        rc, out, err = run(*(["--"] if group.startswith("-") else []), group, *args,
                           token_file=tf)
    assert rc == 0, "exit %d: %s" % (rc, err)
    docs = [d for d in yaml_module().safe_load_all(out) if d is not None]
    assert [d["kind"] for d in docs] == ["Secret", "Service", "StatefulSet", "NetworkPolicy"], out
    return {d["kind"]: d for d in docs}, out


def strict(client, doc):
    """Deserialises doc into its V1 model and back: a missing required field
    raises, an unknown or misspelt key (dropped by the model) or a value of
    the wrong type makes the round trip differ."""
    api = client.ApiClient()
    model = api._ApiClient__deserialize(copy.deepcopy(doc), MODELS[(doc["apiVersion"], doc["kind"])])
    back = api.sanitize_for_serialization(model)
    assert back == doc, "schema round trip differs:\n%s\n%s" % (
        json.dumps(doc, sort_keys=True), json.dumps(back, sort_keys=True))


def test_schema_strict():
    client = kube_client()
    docs, _ = manifests("team-schema", "--namespace", "vaults", "--storage", "3Gi")
    for doc in docs.values():
        strict(client, doc)
    # The check has teeth: each of these mistakes must fail it.
    sts = docs["StatefulSet"]
    bad = []
    b = copy.deepcopy(sts)
    b["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerport"] = 1
    bad.append(b)
    b = copy.deepcopy(sts)
    b["spec"]["serviceNme"] = b["spec"].pop("serviceName")
    bad.append(b)
    b = copy.deepcopy(sts)
    del b["spec"]["template"]["spec"]["containers"][0]["name"]
    bad.append(b)
    b = copy.deepcopy(docs["NetworkPolicy"])
    b["spec"]["podSelector"]["matchLabel"] = {"a": "b"}
    bad.append(b)
    for b in bad:
        try:
            strict(client, b)
        except (AssertionError, ValueError):
            continue
        raise AssertionError("strict() accepted a broken document: %s" % json.dumps(b))


def test_deploy_files():
    """deploy/k8s/: the namespace passes the schema check and the example is
    exactly what the command prints today."""
    client = kube_client()
    with open(os.path.join(DEPLOY, "namespace.yaml")) as f:
        ns = yaml_module().safe_load(f)
    strict(client, ns)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    with open(os.path.join(DEPLOY, "example", "groupvault-team-1.yaml")) as f:
        example = "".join(l for l in f if not l.startswith("#"))
    _, out = manifests("team-1", token=EXAMPLE_TOKEN)
    assert example == out, "deploy/k8s/example is stale: regenerate it (see its first lines)"


def test_kubectl_reads_stream():
    if shutil.which("kubectl") is None:
        raise Skip("kubectl is not installed")
    _, out = manifests("team-kubectl")
    p = subprocess.run(["kubectl", "label", "--local", "-f", "-", "groupvault.io/check=1",
                        "-o", "name"], input=out.encode(), capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout.decode().split() == [
        "secret/groupvault-team-kubectl", "service/groupvault-team-kubectl",
        "statefulset.apps/groupvault-team-kubectl",
        "networkpolicy.networking.k8s.io/groupvault-team-kubectl"], p.stdout


def container_of(sts):
    cs = sts["spec"]["template"]["spec"]["containers"]
    assert len(cs) == 1, cs
    return cs[0]


def test_security_invariants():
    docs, out = manifests("Team.Sec", "--memory", "320", "--image", "reg.example/gv:1")
    sec, svc, sts, pol = (docs[k] for k in ("Secret", "Service", "StatefulSet", "NetworkPolicy"))
    name = sts["metadata"]["name"]
    for d in docs.values():
        assert d["metadata"]["name"] == name and NAME_RE.match(name) and len(name) <= 52
        assert d["metadata"]["namespace"] == "groupvault"
        assert d["metadata"]["annotations"]["groupvault.io/group-id"] == "Team.Sec"
    # The Secret holds the token and nothing else; it appears nowhere else.
    assert sec["type"] == "Opaque" and sec["stringData"] == {"AUTH_TOKEN": TOKEN}
    assert "data" not in sec
    assert out.count(TOKEN) == 1
    for d in (svc, sts, pol):
        assert TOKEN not in json.dumps(d)
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    c = container_of(sts)
    env = {e["name"]: e for e in c["env"]}
    assert "SIGNING_KEY" not in env  # the vault keeps its own on its volume
    assert env["AUTH_TOKEN"] == {"name": "AUTH_TOKEN", "valueFrom": {
        "secretKeyRef": {"name": sec["metadata"]["name"], "key": "AUTH_TOKEN"}}}
    assert all("valueFrom" in e or e["name"] != "AUTH_TOKEN" for e in c["env"])
    assert env["GROUP_ID"]["value"] == "Team.Sec"
    assert env["DATA_DIR"]["value"].startswith("/app/data/")
    assert c["image"] == "reg.example/gv:1"
    # One replica, its data on a claim mounted at /app/data.
    assert spec["replicas"] == 1 and spec["serviceName"] == svc["metadata"]["name"]
    sel = spec["selector"]["matchLabels"]
    assert sel.items() <= spec["template"]["metadata"]["labels"].items()
    vct = spec["volumeClaimTemplates"]
    assert len(vct) == 1 and vct[0]["metadata"]["name"] == "data"
    assert vct[0]["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert vct[0]["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert {"name": "data", "mountPath": "/app/data"} in c["volumeMounts"]
    # Non-root, read-only, no privileges, RuntimeDefault seccomp.
    psc, csc = pod["securityContext"], c["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] > 0 and psc["runAsGroup"] > 0
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert csc["runAsNonRoot"] is True and csc["readOnlyRootFilesystem"] is True
    assert csc["allowPrivilegeEscalation"] is False and csc["privileged"] is False
    assert csc["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    assert pod["terminationGracePeriodSeconds"] > 0
    assert "hostNetwork" not in pod and "hostPath" not in json.dumps(pod)
    # Requests and limits.
    res = c["resources"]
    assert res["limits"]["memory"] == res["requests"]["memory"] == "320Mi"
    assert "cpu" in res["limits"] and "cpu" in res["requests"]
    # Probes: GET /health on the port the vault listens on.
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": int(env["PORT"]["value"])}
    for probe in ("livenessProbe", "readinessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == "/health" and ports[get["port"]] == 18790, c[probe]
    # The headless Service selects the pod.
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["selector"] == sel
    assert svc["spec"]["ports"][0]["port"] == 18790
    # The NetworkPolicy: this pod, ingress only from the two named label
    # sets on the vault's port, no egress.
    ps = pol["spec"]
    assert ps["podSelector"] == {"matchLabels": sel}
    assert sorted(ps["policyTypes"]) == ["Egress", "Ingress"] and ps["egress"] == []
    assert ps["ingress"] == [{
        "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "ocmt-management-server"}}},
                 {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "groupvault-agent"}}}],
        "ports": [{"protocol": "TCP", "port": 18790}]}]


def test_selectors_and_options():
    client = kube_client()
    docs, _ = manifests("team-sel", "--server-selector", "example.com/role=mgmt",
                        "--agent-selector", "tier=agent", "--namespace", "ns-1",
                        "--storage", "500Mi", "--server-namespace", "ocmt")
    peers = docs["NetworkPolicy"]["spec"]["ingress"][0]["from"]
    assert peers == [{"podSelector": {"matchLabels": {"example.com/role": "mgmt"}},
                      "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ocmt"}}},
                     {"podSelector": {"matchLabels": {"tier": "agent"}}}], peers
    strict(client, docs["NetworkPolicy"])
    vct = docs["StatefulSet"]["spec"]["volumeClaimTemplates"][0]
    assert vct["spec"]["resources"]["requests"]["storage"] == "500Mi"
    assert all(d["metadata"]["namespace"] == "ns-1" for d in docs.values())


def test_agent_settings_as_defaults():
    """VAULT_IMAGE and VAULT_MEMORY_MB are the defaults for --image and
    --memory; without the agent's own settings the built-in ones apply."""
    def image_memory(env_extra, *args):
        with TokenFile(TOKEN) as tf:
            rc, out, err = run("team-env", *args, token_file=tf, env_extra=env_extra)
        assert rc == 0, err
        c = container_of(list(yaml_module().safe_load_all(out))[2])
        return c["image"], c["resources"]["limits"]["memory"]

    env = {"VAULT_IMAGE": "reg.example/vault:7", "VAULT_MEMORY_MB": "512"}
    assert image_memory(env) == ("reg.example/vault:7", "512Mi")
    assert image_memory(env, "--image", "other:1", "--memory", "384") == ("other:1", "384Mi")
    # The agent's other settings are not needed (nor checked) for manifests.
    assert image_memory(dict(env, AGENT_AUTH_TOKEN=None)) == ("reg.example/vault:7", "512Mi")
    assert image_memory(dict(env, VAULT_BIN="/nonexistent")) == ("reg.example/vault:7", "512Mi")
    assert image_memory({"AGENT_AUTH_TOKEN": None}) == ("groupvault:local", "256Mi")
    assert image_memory({"VAULT_MEMORY_MB": "0"}) == ("groupvault:local", "256Mi")
    with TokenFile(TOKEN) as tf:
        rc, out, err = run("team-env", token_file=tf, env_extra={"VAULT_IMAGE": "bad image"})
    assert rc == 1 and out == "" and "image" in err, err


def expected_name(group):
    """The naming rule, independently: kept when already a DNS label that
    does not end like a hashed name, else cut and hashed."""
    base = "groupvault-" + "".join(c if c.isascii() and (c.islower() or c.isdigit()) else "-"
                                   for c in group.lower())
    trimmed = base.rstrip("-")
    changed = base != "groupvault-" + group or trimmed != base or len(trimmed) > 52
    if not changed and not re.search(r"-[0-9a-f]{10}$", trimmed):
        return trimmed
    return trimmed[:41].rstrip("-") + "-" + hashlib.sha256(group.encode()).hexdigest()[:10]


def test_hostile_group_ids_renamed():
    client = kube_client()
    ids = ["UPPER", "upper", "Upper", "a.b.c", "a_b_c", "a-b-c", "-lead", "trail-", "trail_",
           "x" * 64, "X" * 64, "abc-0123456789", "0", "_", "-"]
    names = {}
    for gid in ids:
        docs, _ = manifests(gid)
        name = docs["StatefulSet"]["metadata"]["name"]
        assert NAME_RE.match(name) and len(name) <= 52, (gid, name)
        assert name == expected_name(gid), (gid, name, expected_name(gid))
        assert name not in names.values(), (gid, name, names)
        names[gid] = name
        env = {e["name"]: e.get("value") for e in container_of(docs["StatefulSet"])["env"]}
        assert env["GROUP_ID"] == gid
        strict(client, docs["StatefulSet"])
    # A kept id that tries to look like another id's hashed name is hashed.
    forged = names["Upper"]
    docs, _ = manifests(forged[len("groupvault-"):])
    assert docs["StatefulSet"]["metadata"]["name"] != forged


def test_hostile_input_refused():
    cases = [
        (["x" * 65], "group id"), (["x" * 200], "group id"), (['a"b'], "group id"),
        (["a\nb"], "group id"), (["a b"], "group id"), ([".hidden"], "group id"),
        (["a/b"], "group id"), (["\u00fc"], "group id"), (["a'b"], "group id"),
        (["ok", "--namespace", "Bad_NS"], "namespace"),
        (["ok", "--namespace", "x" * 64], "namespace"),
        (["ok", "--image", "img name"], "image"),
        (["ok", "--image", "img\n---\nkind: Pod"], "image"),
        (["ok", "--storage", "1Gb"], "storage"), (["ok", "--storage", "-1Gi"], "storage"),
        (["ok", "--memory", "64"], "memory"),
        (["ok", "--server-selector", "app"], "selector"),
        (["ok", "--agent-selector", "app=\"x\""], "selector"),
        (["ok", "--agent-namespace", "Other NS"], "namespace"),
    ]
    for args, word in cases:
        with TokenFile(TOKEN) as tf:
            rc, out, err = run(*args, token_file=tf)
        assert rc != 0 and out == "", (args, rc, out)
        assert word in err and err.count("\n") == 1, (args, err)
    for args in (["ok", "--bogus", "1"], ["ok", "--namespace"], [], ["ok", "--memory", "12x"],
                 ["--namespace", "ns", "ok"], ["--"]):
        rc, out, err = run(*args)
        assert rc == 2 and out == "" and "usage" in err, (args, rc, err)


def test_token_file_and_generated():
    for content in (TOKEN + "\n", TOKEN + "\r\n", TOKEN):
        with TokenFile(content) as tf:
            rc, out, err = run("team-tok", token_file=tf)
        assert rc == 0, err
        sec = yaml_module().safe_load_all(out).__next__()
        assert sec["stringData"] == {"AUTH_TOKEN": TOKEN}, sec
        assert TOKEN not in err
    for content in ("short\n", "has a space 0123456789abcdef\n", "two\nlines-0123456789abcdef\n",
                    "", "x" * 2000):
        with TokenFile(content) as tf:
            rc, out, err = run("team-tok", token_file=tf)
        assert rc != 0 and out == "", (content, out)
    rc, out, err = run("team-tok", "--auth-token-file", "/nonexistent/token")
    assert rc != 0 and out == "" and "/nonexistent/token" in err
    # No token file: a fresh random one, announced on stderr only.
    seen = set()
    for _ in range(2):
        rc, out, err = run("team-tok")
        assert rc == 0, err
        tok = yaml_module().safe_load_all(out).__next__()["stringData"]["AUTH_TOKEN"]
        assert re.match(r"^[0-9a-f]{64}$", tok), tok
        assert "generated" in err and tok not in err
        assert out.count(tok) == 1
        seen.add(tok)
    assert len(seen) == 2


def podman(base, *args, env=None, check=True, input=None):
    p = subprocess.run(base + list(args), env=env, capture_output=True, timeout=180,
                       input=input)
    if check:
        assert p.returncode == 0, "podman %s: %s" % (" ".join(args), p.stderr.decode())
    return p.stdout.decode()


def pod_part(docs, image, host_port):
    """What `podman kube play` (4.3) can run of the manifests: the
    StatefulSet's pod template as the Pod its controller would make (name
    <sts>-0), with its claim <template>-<sts>-0; the Service and the
    NetworkPolicy have no podman counterpart."""
    sts = docs["StatefulSet"]
    name = sts["metadata"]["name"]
    vct = sts["spec"]["volumeClaimTemplates"][0]
    claim = "%s-%s-0" % (vct["metadata"]["name"], name)
    spec = copy.deepcopy(sts["spec"]["template"]["spec"])
    c = spec["containers"][0]
    c["image"] = image
    c["ports"][0].update(hostPort=host_port, hostIP="127.0.0.1")
    spec["volumes"].append({"name": vct["metadata"]["name"],
                            "persistentVolumeClaim": {"claimName": claim}})
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name + "-0", "labels": sts["spec"]["template"]["metadata"]["labels"]},
           "spec": spec}
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": claim}, "spec": vct["spec"]}
    return pod, pvc


def wait_health(port, deadline):
    last = None
    while time.time() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=2) as r:
                return r.status, json.loads(r.read())
        except OSError as e:
            last = e
        time.sleep(0.3)
    raise AssertionError("no /health answer from the pod: %r" % (last,))


def status_code(port, token):
    req = urllib.request.Request("http://127.0.0.1:%d/status" % port,
                                 headers={"x-auth-token": token})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_podman_kube_play():
    """The pod part under `podman kube play` (the run's private podman
    store, with the image `make image` builds)."""
    try:
        import podman_engine
    except ImportError:
        raise Skip("no private podman engine yet (tests/api/podman_engine.py)")
    engine = podman_engine.get()
    if shutil.which("catatonit") is None:
        raise Skip("podman pods need catatonit for their pause image (scripts/deps.sh test)")
    image = engine.image()
    base = engine.base
    group = "k8s-play-%d" % os.getpid()
    docs, _ = manifests(group)
    name = docs["StatefulSet"]["metadata"]["name"]
    podname = name + "-0"
    work = tempfile.mkdtemp(prefix="gv-k8s-play-")
    conf = os.path.join(work, "containers.conf")
    with open(conf, "w") as f:
        # This machine refuses podman's default nofile/nproc of 1048576.
        f.write('[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n')
    env = dict(os.environ, CONTAINERS_CONF=conf)
    port = harness.free_port()
    pod, pvc = pod_part(docs, image, port)
    claim = pvc["metadata"]["name"]
    play = os.path.join(work, "play.yaml")
    with open(play, "w") as f:
        f.write(yaml_module().safe_dump_all([pvc, pod]))
    try:
        # podman 4.3 keeps a played Secret as YAML but reads secretKeyRef
        # values from a JSON map of base64 values, so the Secret goes in as
        # that map, made from the Secret document itself.
        data = {k: base64.b64encode(v.encode()).decode()
                for k, v in docs["Secret"]["stringData"].items()}
        podman(base, "secret", "create", docs["Secret"]["metadata"]["name"], "-", env=env,
               input=json.dumps(data).encode())
        podman(base, "kube", "play", play, env=env)
        status, body = wait_health(port, time.time() + 60)
        assert status == 200 and body["status"] == "ok" and body["groupId"] == group, body
        # The token from the Secret is the vault's AUTH_TOKEN.
        assert status_code(port, TOKEN) == 200
        assert status_code(port, "not-the-token-0123456789abcdef") == 401
        info = json.loads(podman(base, "inspect", podname + "-vault", env=env))[0]
        uid = docs["StatefulSet"]["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
        hc = info["HostConfig"]
        assert info["Config"]["User"].split(":")[0] == str(uid), info["Config"]["User"]
        assert hc["ReadonlyRootfs"] is True and not hc["CapAdd"]
        assert "no-new-privileges" in hc["SecurityOpt"], hc["SecurityOpt"]
        assert hc["Memory"] == 256 * 1024 * 1024, hc["Memory"]
        # The vault made its own 0700 directory on the claim and keeps its
        # signing key there.
        mnt = podman(base, "volume", "inspect", claim, "--format", "{{.Mountpoint}}",
                     env=env).strip()
        st = os.stat(os.path.join(mnt, "vault"))
        assert st.st_uid == uid and (st.st_mode & 0o777) == 0o700, oct(st.st_mode)
        assert os.path.exists(os.path.join(mnt, "vault", "signing.key"))
    finally:
        podman(base, "kube", "down", play, env=env, check=False)
        podman(base, "pod", "rm", "-f", podname, env=env, check=False)
        podman(base, "volume", "rm", "-f", claim, env=env, check=False)
        podman(base, "secret", "rm", docs["Secret"]["metadata"]["name"], env=env, check=False)
        shutil.rmtree(work, ignore_errors=True)
    assert subprocess.run(base + ["pod", "exists", podname]).returncode != 0
