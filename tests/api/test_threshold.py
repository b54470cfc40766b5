"""Threshold unlock: init with k of n holders, shares shown once, unlock by
shares (202 progress, 200 at the k-th), refusals that never count (holder
mismatch, duplicate, foreign, mistyped), a combination that fails (401,
wiped, rate limited), expiry, cancel, the policy in /status, the password
path refused when the policy has none, and a memory scan after lock."""
import hashlib
import json
import os
import sqlite3
import time

from harness import PASSWORD, RELEASE_BINARY, Vault, expect, memory_scan, need_root

HOLDERS = ["alice", "bob", "carol", "dave", "erin"]


def init_threshold(v, k=3, holders=HOLDERS, password=None):
    body = {"threshold": {"required": k, "holders": holders}}
    if password:
        body["password"] = password
    r = expect(v.mgmt("POST", "/init", body), 200)
    shares = {s["userId"]: s["share"] for s in r["shares"]}
    assert sorted(shares) == sorted(holders)
    assert len(set(shares.values())) == len(holders)
    for s in shares.values():
        assert s.startswith("gvs1-") and len(s) == 98, s
    return shares


def submit(v, user, share):
    return v.mgmt("POST", "/unlock/share", {"userId": user, "share": share})


def audit(v):
    return expect(v.mgmt("GET", "/audit?limit=1000"), 200)["logs"]


def reshare(share, index=None, y=None):
    """A share text with fields replaced and a valid check (what a holder's
    typo cannot produce, but an altered share can)."""
    tag, idx, setid, yy, _ = share.split("-")
    body = "-".join([tag, index or idx, setid, y or yy]) + "-"
    return body + hashlib.sha256(body.encode()).hexdigest()[:8]


def test_three_of_five():
    with Vault() as v:
        shares = init_threshold(v)
        st = expect(v.mgmt("GET", "/status"), 200)
        assert st["policy"] == {"password": False,
                                "threshold": {"required": 3, "holders": HOLDERS}}, st
        # the shares are stored nowhere
        con = sqlite3.connect(os.path.join(v.data_dir, "vault.db"))
        dump = "\n".join(con.iterdump())
        con.close()
        for s in shares.values():
            assert s not in dump and s.split("-")[3] not in dump
        # no password path on a threshold-only vault
        r = expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 400)
        assert "threshold" in r["error"], r
        p = expect(submit(v, "alice", shares["alice"]), 202)
        assert p["unlocked"] is False and p["received"] == 1 and p["required"] == 3
        p = expect(submit(v, "bob", shares["bob"]), 202)
        assert p["received"] == 2 and p["holders"] == ["alice", "bob"], p
        assert 0 < p["expiresIn"] <= 600
        assert expect(v.mgmt("GET", "/status"), 200)["unlocked"] is False
        g = v.mgmt("GET", "/unlock/shares")
        assert expect(g, 200)["received"] == 2 and b"gvs1" not in g.raw
        r = expect(submit(v, "carol", shares["carol"]), 200)
        assert r["unlocked"] is True and r["success"] is True and r["expiresIn"] > 0
        assert expect(v.mgmt("GET", "/unlock/shares"), 200)["received"] == 0
        tok = v.token()
        expect(v.cap("POST", "/secrets/db", tok, {"value": "s3cret"}), 200)
        expect(v.mgmt("POST", "/lock"), 200)
        expect(v.cap("GET", "/secrets/db", tok), 423)
        # any other three, in any order
        for u in ("erin", "carol"):
            expect(submit(v, u, shares[u]), 202)
        expect(submit(v, "dave", shares["dave"]), 200)
        assert expect(v.cap("GET", "/secrets/db", tok), 200)["value"] == "s3cret"
        logs = audit(v)
        acts = [e["action"] for e in logs]
        assert acts.count("unlock.share_received") == 6, acts
        assert acts.count("unlock.threshold_met") == 2 and "vault.unlocked" in acts
        met = [e for e in logs if e["action"] == "unlock.threshold_met"]
        assert {e["userId"] for e in met} == {"carol", "dave"}, met
        text = json.dumps(logs)
        for s in shares.values():
            assert s.split("-")[3] not in text
        # and the same after a restart
        v.restart()
        for u in ("bob", "dave", "alice"):
            r = submit(v, u, shares[u])
        assert expect(r, 200)["unlocked"] is True


def test_refused_shares_never_count():
    with Vault() as v, Vault() as other:
        shares = init_threshold(v)
        foreign = init_threshold(other)
        expect(submit(v, "alice", shares["alice"]), 202)

        def refused(user, share):
            expect(submit(v, user, share), 400, "Invalid share")
            assert expect(v.mgmt("GET", "/unlock/shares"), 200)["received"] == 1

        refused("bob", shares["carol"])         # another holder's share
        refused("mallory", shares["bob"])       # not a holder
        refused("alice", shares["alice"])       # the same holder twice
        refused("bob", foreign["bob"])          # another vault's
        bad = shares["bob"][:40] + ("0" if shares["bob"][40] != "0" else "1") + shares["bob"][41:]
        refused("bob", bad)                     # one character mistyped
        refused("bob", shares["bob"].upper())   # case matters
        refused("bob", "not a share")
        refused("bob", reshare(shares["bob"], index="03"))  # valid check, carol's index
        expect(v.mgmt("POST", "/unlock/share", {"share": shares["bob"]}), 400)
        expect(v.mgmt("POST", "/unlock/share", {"userId": "bob"}), 400)
        acts = [e["action"] for e in audit(v)]
        assert acts.count("unlock.share_rejected") == 8, acts
        # the counted one still combines with two more
        expect(submit(v, "bob", shares["bob"]), 202)
        expect(submit(v, "erin", shares["erin"]), 200)


def test_altered_share_fails_401_and_counts():
    with Vault(UNLOCK_MAX_FAILURES=2) as v:
        shares = init_threshold(v, k=2, holders=["alice", "bob", "carol"])
        y = shares["bob"].split("-")[3]
        forged = reshare(shares["bob"], y=("0" if y[0] != "0" else "1") + y[1:])
        expect(submit(v, "alice", shares["alice"]), 202)
        expect(submit(v, "bob", forged), 401, "Shares do not unlock the vault")
        assert expect(v.mgmt("GET", "/unlock/shares"), 200)["received"] == 0
        assert expect(v.mgmt("GET", "/status"), 200)["unlocked"] is False
        fails = [e for e in audit(v) if e["action"] == "vault.unlock_failed"]
        assert len(fails) == 1 and fails[0]["userId"] == "bob", fails
        expect(submit(v, "alice", shares["alice"]), 202)
        expect(submit(v, "bob", forged), 401)
        # bob's budget (UNLOCK_MAX_FAILURES=2) is spent: 429 before any check
        r = expect(submit(v, "bob", shares["bob"]), 429)
        assert r["code"] == "RATE_LIMITED"
        expect(submit(v, "carol", shares["carol"]), 202)
        expect(submit(v, "alice", shares["alice"]), 200)


def test_progress_expires():
    with Vault(UNLOCK_SHARES_WINDOW_SECONDS=2) as v:
        shares = init_threshold(v)
        expect(submit(v, "alice", shares["alice"]), 202)
        expect(submit(v, "bob", shares["bob"]), 202)
        time.sleep(3.2)  # the timer wipes them without any request
        exp = [e for e in audit(v) if e["action"] == "unlock.shares_expired"]
        assert len(exp) == 1 and "alice" in exp[0]["targetUserId"], exp
        assert expect(v.mgmt("GET", "/unlock/shares"), 200)["received"] == 0
        expect(submit(v, "carol", shares["carol"]), 202)  # not the third any more
        expect(submit(v, "dave", shares["dave"]), 202)
        expect(submit(v, "alice", shares["alice"]), 200)


def test_cancel():
    with Vault() as v:
        shares = init_threshold(v)
        expect(submit(v, "alice", shares["alice"]), 202)
        expect(submit(v, "bob", shares["bob"]), 202)
        r = expect(v.mgmt("DELETE", "/unlock/shares", {"userId": "ops"}), 200)
        assert r["cancelled"] == 2
        c = [e for e in audit(v) if e["action"] == "unlock.shares_cancelled"]
        assert len(c) == 1 and c[0]["userId"] == "ops", c
        assert "alice" in c[0]["targetUserId"] and "bob" in c[0]["targetUserId"]
        assert expect(submit(v, "carol", shares["carol"]), 202)["received"] == 1
        expect(submit(v, "alice", shares["alice"]), 202)
        expect(submit(v, "bob", shares["bob"]), 200)


def test_password_and_threshold():
    with Vault() as v:
        shares = init_threshold(v, k=2, holders=["a", "b", "c"], password=PASSWORD)
        st = expect(v.mgmt("GET", "/status"), 200)["policy"]
        assert st["password"] is True and st["threshold"]["required"] == 2
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        expect(v.mgmt("POST", "/lock"), 200)
        expect(submit(v, "c", shares["c"]), 202)
        expect(submit(v, "a", shares["a"]), 200)
        # the password-unlocked and share-unlocked sessions read the same data
        tok = v.token()
        expect(v.cap("POST", "/secrets/x", tok, {"value": "1"}), 200)
        expect(v.mgmt("POST", "/lock"), 200)
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        assert expect(v.cap("GET", "/secrets/x", tok), 200)["value"] == "1"


def test_init_validation():
    with Vault() as v:
        bad = [
            {"threshold": {"required": 1, "holders": ["a", "b"]}},
            {"threshold": {"required": 3, "holders": ["a", "b"]}},
            {"threshold": {"required": 2, "holders": ["a"]}},
            {"threshold": {"required": 2, "holders": ["u%d" % i for i in range(17)]}},
            {"threshold": {"required": 2, "holders": ["a", "a", "b"]}},
            {"threshold": {"required": 2, "holders": ["a", ""]}},
            {"threshold": {"required": "2", "holders": ["a", "b"]}},
            {"threshold": ["a", "b"]},
            {},
        ]
        for body in bad:
            expect(v.mgmt("POST", "/init", body), 400, "Invalid request body")
        assert expect(v.mgmt("GET", "/health"), 200)["vaultInitialized"] is False
        init_threshold(v, k=16, holders=["u%d" % i for i in range(16)])
        expect(v.mgmt("POST", "/init", {"threshold": {"required": 2, "holders": ["a", "b"]}}),
               400, "Vault already initialized")


def test_password_vault_has_no_share_path():
    with Vault() as v:
        v.init_unlock()
        st = expect(v.mgmt("GET", "/status"), 200)["policy"]
        assert st == {"password": True, "threshold": None}, st
        expect(v.mgmt("GET", "/unlock/shares"), 400, "Vault has no threshold policy")
        expect(submit(v, "a", "gvs1-" + "0" * 93), 400, "Vault has no threshold policy")


def test_memory_after_lock_holds_no_share():
    need_root("reads /proc/PID/mem of a non-dumpable process")
    with Vault(binary=RELEASE_BINARY) as v:
        shares = init_threshold(v, k=2, holders=["alice", "bob", "carol"])
        needles = {}
        for u, s in shares.items():
            needles[u + "-text"] = s.encode()
            needles[u + "-y"] = bytes.fromhex(s.split("-")[3])
        expect(submit(v, "alice", shares["alice"]), 202)
        live = memory_scan(v.proc.pid, needles)
        # the scan works: alice's share is held (as bytes) while pending
        assert "alice-y" in live, live
        expect(submit(v, "bob", shares["bob"]), 200)
        expect(v.mgmt("POST", "/lock"), 200)
        left = memory_scan(v.proc.pid, needles)
        assert not left, "still in memory after unlock and lock: %s" % sorted(left)


def test_export_import_keeps_policy_and_shares():
    for password in (None, PASSWORD):
        with Vault() as v, Vault() as w:
            shares = init_threshold(v, k=2, holders=["a", "b", "c"], password=password)
            expect(submit(v, "a", shares["a"]), 202)
            expect(submit(v, "b", shares["b"]), 200)
            tok = v.token()
            expect(v.cap("POST", "/secrets/x", tok, {"value": "carried"}), 200)
            doc = expect(v.mgmt("GET", "/export"), 200)["vault"]
            assert ("kdf" in doc) == (password is not None), doc.keys()
            assert doc["threshold"]["required"] == 2
            for sh in shares.values():  # the shares themselves are not in it
                assert sh not in json.dumps(doc) and sh.split("-")[3] not in json.dumps(doc)
            expect(w.mgmt("POST", "/import", {"vault": doc}), 200)
            st = expect(w.mgmt("GET", "/status"), 200)["policy"]
            assert st == {"password": password is not None,
                          "threshold": {"required": 2, "holders": ["a", "b", "c"]}}, st
            expect(submit(w, "c", shares["c"]), 202)
            expect(submit(w, "b", shares["b"]), 200)
            tok2 = w.token()
            assert expect(w.cap("GET", "/secrets/x", tok2), 200)["value"] == "carried"
            if password:
                expect(w.mgmt("POST", "/lock"), 200)
                expect(w.mgmt("POST", "/unlock", {"password": password}), 200)
            # a policy altered in the document no longer opens
            bad = json.loads(json.dumps(doc))
            bad["threshold"]["holders"] = ["a", "b", "mallory"]
            with Vault() as x:
                expect(x.mgmt("POST", "/import", {"vault": bad}), 200)
                expect(submit(x, "a", shares["a"]), 202)
                expect(submit(x, "b", shares["b"]), 401)
            bad["threshold"] = {"required": 5, "holders": ["a"]}
            with Vault() as x:
                expect(x.mgmt("POST", "/import", {"vault": bad}), 400, "Invalid vault format")
