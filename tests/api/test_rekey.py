"""POST /rekey: re-wraps the same root key under a new password and/or
threshold in one durable transaction. Old passwords and shares stop
working, secrets stay readable, no record is rewritten, and a kill -9 in the
middle leaves a vault that opens with exactly one of the two policies."""
import os
import random
import sqlite3
import threading
import time

from harness import PASSWORD, Vault, expect

NEW_PASSWORD = "another long enough password"


def submit(v, user, share):
    return v.mgmt("POST", "/unlock/share", {"userId": user, "share": share})


def records(v):
    con = sqlite3.connect(os.path.join(v.data_dir, "vault.db"))
    try:
        return sorted(tuple(r) for r in con.execute("SELECT * FROM secrets"))
    finally:
        con.close()


def test_password_to_threshold_and_back():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        for i in range(5):
            expect(v.cap("POST", "/secrets/s%d" % i, tok, {"value": "v%d" % i}), 200)
        expect(v.mgmt("POST", "/rekey", {}), 400)
        expect(v.mgmt("POST", "/rekey", {"password": "short"}), 400)
        before = records(v)
        r = expect(v.mgmt("POST", "/rekey",
                          {"threshold": {"required": 2, "holders": ["a", "b", "c"]}}), 200)
        shares = {s["userId"]: s["share"] for s in r["shares"]}
        assert r["policy"] == {"password": False,
                               "threshold": {"required": 2, "holders": ["a", "b", "c"]}}, r
        # the session stays open, and no record was rewritten
        assert expect(v.cap("GET", "/secrets/s3", tok), 200)["value"] == "v3"
        v.restart()
        assert records(v) == before
        r = expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 400)
        assert "threshold" in r["error"]
        expect(submit(v, "b", shares["b"]), 202)
        expect(submit(v, "c", shares["c"]), 200)
        assert expect(v.cap("GET", "/secrets/s1", tok), 200)["value"] == "v1"
        # ocmt-v1 is sealed under a password's key: none in a share session
        expect(v.mgmt("GET", "/export?format=ocmt-v1"), 400)
        # and back to a (new) password
        r = expect(v.mgmt("POST", "/rekey", {"password": NEW_PASSWORD}), 200)
        assert "shares" not in r and r["policy"] == {"password": True, "threshold": None}
        expect(v.mgmt("POST", "/lock"), 200)
        expect(submit(v, "a", shares["a"]), 400, "Vault has no threshold policy")
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 401)
        expect(v.mgmt("POST", "/unlock", {"password": NEW_PASSWORD}), 200)
        assert expect(v.cap("GET", "/secrets/s4", tok), 200)["value"] == "v4"
        assert records(v) == before
        acts = [e["action"] for e in expect(v.mgmt("GET", "/audit?limit=1000"), 200)["logs"]]
        assert acts.count("vault.rekeyed") == 2, acts


def test_old_shares_refused_after_rekey():
    with Vault() as v:
        r = expect(v.mgmt("POST", "/init", {"password": PASSWORD, "threshold": {
            "required": 2, "holders": ["a", "b", "c"]}}), 200)
        old = {s["userId"]: s["share"] for s in r["shares"]}
        expect(v.mgmt("POST", "/rekey", {}), 400)
        expect(v.mgmt("POST", "/rekey", {"password": NEW_PASSWORD}), 423)  # locked
        expect(submit(v, "a", old["a"]), 202)  # pending from the old set
        expect(submit(v, "b", old["b"]), 200)
        r = expect(v.mgmt("POST", "/rekey", {"password": NEW_PASSWORD, "threshold": {
            "required": 3, "holders": ["a", "b", "c", "d"]}}), 200)
        new = {s["userId"]: s["share"] for s in r["shares"]}
        expect(v.mgmt("POST", "/lock"), 200)
        for u in ("a", "b", "c"):
            expect(submit(v, u, old[u]), 400, "Invalid share")
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 401)
        expect(submit(v, "d", new["d"]), 202)
        expect(submit(v, "a", new["a"]), 202)
        expect(submit(v, "c", new["c"]), 200)
        expect(v.mgmt("POST", "/lock"), 200)
        expect(v.mgmt("POST", "/unlock", {"password": NEW_PASSWORD}), 200)


def opens_with(v, policy):
    """Tries the policy ("password", pw) or ("shares", {user: share}) on a
    locked vault; leaves it unlocked when it opens."""
    if policy[0] == "password":
        r = v.mgmt("POST", "/unlock", {"password": policy[1]})
    else:
        for u in ("a", "b"):
            r = v.mgmt("POST", "/unlock/share", {"userId": u, "share": policy[1][u]})
    assert r.status in (200, 400, 401), r
    return r.status == 200


def rekey_quietly(v, pw):
    try:
        v.mgmt("POST", "/rekey", {"password": pw}, timeout=5)
    except OSError:
        pass  # killed before it answered


def test_kill9_during_rekey_leaves_one_policy():
    rng = random.Random(13)
    with Vault(UNLOCK_MAX_FAILURES=1000, UNLOCK_MAX_FAILURES_TOTAL=1000) as v:
        r = expect(v.mgmt("POST", "/init", {"threshold": {
            "required": 2, "holders": ["a", "b", "c"]}}), 200)
        cur = ("shares", {s["userId"]: s["share"] for s in r["shares"]})
        assert opens_with(v, cur)
        tok = v.token()
        expect(v.cap("POST", "/secrets/k", tok, {"value": "kept"}), 200)
        seen = set()
        for i in range(8):
            new = ("password", "rekeyed password number %d" % i)
            t = threading.Thread(target=rekey_quietly, args=(v, new[1]), daemon=True)
            t.start()
            time.sleep(rng.uniform(0, 0.03))
            v.kill9()
            t.join(timeout=10)
            v.start()
            old_ok = opens_with(v, cur)
            if old_ok:
                expect(v.mgmt("POST", "/lock"), 200)
            new_ok = opens_with(v, new)
            assert old_ok != new_ok, (i, old_ok, new_ok)
            seen.add(new_ok)
            if new_ok:
                cur = new
            else:
                assert opens_with(v, cur)
            # the secrets open under whichever policy holds
            assert expect(v.cap("GET", "/secrets/k", tok), 200)["value"] == "kept"
        # over the random delays both outcomes should occur; not asserted
        # (a loaded machine may land every kill on the same side)
        print("  kill -9 outcomes seen (True: the new policy held):", sorted(seen))
