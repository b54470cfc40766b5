"""Start-up configuration: required variables, bad values, --help."""
import os
import re
import subprocess
import tempfile

from harness import BINARY


def run(env, *args):
    base = {"PATH": os.environ.get("PATH", "")}
    base.update(env)
    with tempfile.TemporaryDirectory() as d:
        base.setdefault("DATA_DIR", d)
        return subprocess.run([BINARY, *args], env=base, capture_output=True, text=True,
                              timeout=20)


def test_missing_group_id():
    r = run({"AUTH_TOKEN": "0123456789abcdef0"})
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["groupvaultd: GROUP_ID is required"]


def test_missing_auth_token():
    r = run({"GROUP_ID": "g"})
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["groupvaultd: AUTH_TOKEN is required"]


def test_invalid_values():
    for k, v in [("PORT", "0"), ("PORT", "abc"), ("SESSION_TTL_SECONDS", "-5"),
                 ("SIGNING_KEY", "too-short"), ("KDF_MEMORY_KIB", "99999999")]:
        r = run({"GROUP_ID": "g", "AUTH_TOKEN": "0123456789abcdef0", k: v})
        assert r.returncode == 2, (k, v, r)
        assert k in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_help_version_routes():
    r = run({}, "--help")
    assert r.returncode == 0 and "GROUP_ID" in r.stdout and "MAX_BODY_BYTES" in r.stdout
    r = run({}, "--version")
    assert r.returncode == 0 and r.stdout.startswith("groupvaultd ")
    r = run({}, "--routes")
    assert r.returncode == 0 and "/secrets/:key" in r.stdout
    assert run({}, "--bogus").returncode == 2


def test_routes_match_readme():
    """The README's route table and `--routes` list the same routes: each
    route the daemon serves is documented, and each documented one exists."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(here, "README.md")) as f:
        # The daemon's routes; the agent's own table (its section) is not the daemon's.
        text = f.read().split("## One vault per group: groupvault-agent", 1)[0]
        documented = set(re.findall(r"^\| `([A-Z]+) (/[^` ]*)` \|", text, re.M))
    served = set()
    for line in run({}, "--routes").stdout.splitlines():
        method, pattern = line.split()[:2]
        served.add((method, pattern))
    assert served and documented, (served, documented)
    assert served - documented == set(), "served but not in README: %s" % (served - documented)
    assert documented - served == set(), "in README but not served: %s" % (documented - served)
