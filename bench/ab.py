#!/usr/bin/env python3
"""ab.py: two builds of groupvaultd side by side, per core. Each vault
(1,008 secrets) and nginx are pinned to core 0, wrk -t1 -c64 to core 1;
runs alternate between the builds (one key, then 1,000 keys at random) and
nginx, medians of BENCH_REPS (5) runs of BENCH_SECONDS (3). Prints each
build's one-key rate over nginx's and its spread rate over its one-key
rate. Never part of `make test`.
    python3 bench/ab.py OLD_BINARY NEW_BINARY
(e.g. an older commit built in a `git worktree`)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("BENCH_SECONDS", "3")
os.environ.setdefault("BENCH_REPS", "5")
import bench  # noqa: E402


def start(binary):
    bench.BIN = binary
    v = bench.Vault()
    tok = v.session()
    v.create_keys(tok, 0, 1008)
    bench.pin(v.proc.pid, "0")
    return v, "x-capability-token: " + tok


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    builds = {"old": sys.argv[1], "new": sys.argv[2]}
    rlua = os.path.join(bench.ROOT, "bench", "read.lua")
    res = {}
    try:
        vaults = {name: start(b) for name, b in builds.items()}
        v, cap = vaults["new"]
        name, value = cap.split(": ")
        body = bench.raw(v.port, "GET", "/secrets/key3", None, {name: value})[1]
        ngx = bench.Nginx(body.decode(), cpus="0")
        for _ in range(bench.REPS):
            for name, (v, cap) in vaults.items():
                url = "http://127.0.0.1:%d" % v.port
                res.setdefault(name + " one", []).append(
                    bench.wrk(url + "/secrets/key3", 64, [cap], pinned=True)[0])
                res.setdefault(name + " spread", []).append(
                    bench.wrk(url, 64, [cap], rlua, args=("1000",), pinned=True)[0])
            res.setdefault("nginx", []).append(
                bench.wrk("http://127.0.0.1:%d/secrets/key3" % ngx.port, 64, pinned=True)[0])
    finally:
        for x in list(bench.LIVE):
            x.close()
    m = {k: bench.med(x) for k, x in res.items()}
    print("medians (req/s):", {k: round(x) for k, x in m.items()})
    for name in builds:
        print("%s: one key / nginx %.3f, 1,000 keys / one key %.3f" % (
            name, m[name + " one"] / m["nginx"], m[name + " spread"] / m[name + " one"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
