"""The per-secret audit index (schema v5, filled off the hot path): after
many concurrent reads of many keys, GET /audit/secret/:key returns exactly
that key's entries of the whole log (GET /audit?after=), newest first, both
at once (entries still in the unindexed tail) and once the vault has been
idle (all indexed, groupvault_audit_unindexed 0); and still after kill -9
under load and a restart."""
import http.client
import random
import re
import threading
import time

from harness import PASSWORD, Vault, expect

KEYS = 40
THREADS = 8


def full_log(v):
    """Every entry, oldest first, through the ?after= cursor."""
    out, cur = [], 0
    while True:
        page = expect(v.mgmt("GET", "/audit?after=%d&limit=1000" % cur), 200)
        if not page["logs"]:
            return out
        out += page["logs"]
        cur = page["next"]


def unindexed(v):
    r = v.mgmt("GET", "/metrics")
    assert r.status == 200, r
    m = re.search(rb"^groupvault_audit_unindexed (\S+)$", r.raw, re.M)
    assert m, r.raw[:2000]
    return float(m.group(1))


def check_exact(v, names):
    """Each name's list equals the full log filtered by its secretKey."""
    log = full_log(v)
    checked = 0
    for name in names:
        want = [e for e in reversed(log) if e.get("secretKey") == name]
        got = expect(v.mgmt("GET", "/audit/secret/%s?limit=1000" % name), 200)["logs"]
        assert got == want[:1000], (name, [e["seq"] for e in got][:20],
                                    [e["seq"] for e in want][:20])
        short = expect(v.mgmt("GET", "/audit/secret/%s?limit=3" % name), 200)["logs"]
        assert short == want[:3], name
        checked += len(got)
    return checked


def reader(v, tok, names, stop, dying, count, errors, seed):
    """Reads random names on one kept-alive connection until stop is set
    or the daemon goes away; counts the 200s, notes anything else."""
    rng = random.Random(seed)
    conn = v.connect(10)
    try:
        while not stop.is_set():
            conn.request("GET", "/secrets/" + rng.choice(names),
                         headers={"x-capability-token": tok})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                errors.append(r.status)
                return
            count.append(1)
    except (OSError, http.client.HTTPException) as e:
        if not dying.is_set():
            errors.append(repr(e))
    finally:
        conn.close()


class Load:
    """THREADS readers of random names, from start() until stop()."""

    def __init__(self, v, tok, names):
        self.v = v
        self.stop_ev, self.dying, self.count, self.errors = (threading.Event(),
                                                             threading.Event(), [], [])
        self.threads = [threading.Thread(target=reader, args=(
            v, tok, names, self.stop_ev, self.dying, self.count, self.errors, i))
            for i in range(THREADS)]
        for t in self.threads:
            t.start()

    def wait(self, seconds=None, reads=None):
        deadline = time.time() + (seconds or 60)
        while (time.time() < deadline and (reads is None or len(self.count) < reads)
               and not self.errors):
            time.sleep(0.01)

    def stop(self, kill=False):
        """Stops the readers (killing the daemon -9 first with kill)."""
        if kill:
            self.dying.set()
            self.v.kill9()
        self.stop_ev.set()
        for t in self.threads:
            t.join()
        assert not self.errors, self.errors[:5]
        return len(self.count)


def load(v, tok, names, seconds=None, reads=None, kill=False):
    """Reads until `reads` are answered or `seconds` pass; returns how many."""
    ld = Load(v, tok, names)
    ld.wait(seconds, reads)
    return ld.stop(kill)


def setup(v):
    v.init_unlock()
    tok = v.token(ttl=86400)
    names = ["k%02d" % i for i in range(KEYS)]
    for n in names:
        expect(v.cap("POST", "/secrets/" + n, tok, {"value": "v-" + n}), 200)
    return tok, names


def wait_indexed(v):
    deadline = time.time() + 30
    while unindexed(v) != 0 and time.time() < deadline:
        time.sleep(0.05)
    assert unindexed(v) == 0


def test_per_secret_list_exact_before_and_after_idle():
    with Vault() as v:
        tok, names = setup(v)
        checked, busy = names[:20], names[20:]
        # Reads of the other names keep the committer from ever being idle,
        # so the checked names' entries stay in the unindexed tail.
        # (A stall of every client for the committer's idle time would let
        # it index part of the tail: then the round is done again.)
        background = Load(v, tok, busy)
        try:
            for _ in range(3):
                done = load(v, tok, checked, reads=1000)
                assert done >= 1000
                background.wait(reads=len(background.count) + 100)
                if unindexed(v) >= done:  # still in the tail...
                    break
            else:
                raise AssertionError("the tail was indexed under load")
            total = check_exact(v, checked + ["never-written"])  # ...and found there
            assert total >= done + len(checked), total
        finally:
            background.stop()
        wait_indexed(v)
        assert check_exact(v, names) >= total
        # both parts at once: new reads above the mark, the rest indexed
        load(v, tok, checked[:5], reads=200)
        assert check_exact(v, checked) >= total + 200


def test_per_secret_list_exact_after_kill9_under_load():
    rng = random.Random(16)
    with Vault() as v:
        tok, names = setup(v)
        for rnd in range(3):
            load(v, tok, names, seconds=rng.uniform(0.3, 1.0), kill=True)
            v.start()
            expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
            check_exact(v, names)
            if rnd == 1:
                wait_indexed(v)
                check_exact(v, names)
        assert expect(v.mgmt("GET", "/audit/verify"), 200)["valid"] is True
