"""The audit cursor (GET /audit?after=<seq>) lets a collector tail the log
with no gap and no duplicate while entries keep arriving; denied and
not-found requests are audited but coalesced per token and window, so a
flood costs a bounded number of rows and the counts add up."""
import random
import time

from harness import PASSWORD, Vault, expect


def all_logs(v):
    return expect(v.mgmt("GET", "/audit?limit=1000"), 200)["logs"]


def test_cursor_tails_without_gaps_or_duplicates():
    rnd = random.Random(7)
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        seen, cur = [], 0
        for i in range(40):
            for _ in range(rnd.randrange(4)):
                name = "s%d" % rnd.randrange(5)
                if rnd.random() < 0.5:
                    v.cap("POST", "/secrets/" + name, tok, {"value": "v%d" % i})
                else:
                    v.cap("GET", "/secrets/" + name, tok)
            page = expect(v.mgmt("GET", "/audit?after=%d&limit=%d" % (cur, rnd.randrange(1, 4))),
                          200)
            seqs = [e["seq"] for e in page["logs"]]
            assert seqs == sorted(seqs), seqs  # oldest first
            seen += seqs
            assert page["next"] == (seqs[-1] if seqs else cur)
            cur = page["next"]
        while True:
            page = expect(v.mgmt("GET", "/audit?after=%d&limit=1000" % cur), 200)
            if not page["logs"]:
                assert page["next"] == cur
                break
            seen += [e["seq"] for e in page["logs"]]
            cur = page["next"]
        newest = all_logs(v)
        assert newest[0]["seq"] == len(newest)  # seq on the newest-first form too
        assert seen == list(range(1, len(newest) + 1))
        for bad in ("-1", "x", "1.5", "", "99999999999999999999"):
            expect(v.mgmt("GET", "/audit?after=" + bad), 400)


def denials(v, action):
    return [e for e in all_logs(v) if e["action"] == action]


def test_denial_flood_is_bounded_and_counted():
    with Vault() as v:
        v.init_unlock()
        tok = v.token(perms=("read",), scope=("only",))
        for _ in range(1000):
            expect(v.cap("GET", "/secrets/other", tok), 403)
        rows = denials(v, "secret.read.denied")
        assert 1 <= len(rows) <= 2, len(rows)
        assert rows[-1]["count"] == 1  # the first was written at once
        expect(v.mgmt("POST", "/lock"), 200)  # lock writes what was counted
        rows = denials(v, "secret.read.denied")
        assert len(rows) <= 3 and sum(e["count"] for e in rows) == 1000, rows
        # While locked, any token's requests are coalesced the same way, and
        # a clean stop writes the counts.
        for _ in range(50):
            expect(v.cap("GET", "/secrets/other", tok), 423)
        v.restart()
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        locked = [e for e in denials(v, "secret.read.denied")
                  if e.get("error") == "Vault is locked"]
        assert len(locked) <= 2 and sum(e["count"] for e in locked) == 50, locked
        assert expect(v.mgmt("GET", "/audit/verify"), 200)["valid"] is True


def test_window_setting_flushes_on_its_own():
    with Vault(AUDIT_COALESCE_SECONDS=1) as v:
        v.init_unlock()
        tok = v.token(perms=("read",), scope=("only",))
        for _ in range(20):
            expect(v.cap("GET", "/secrets/other", tok), 403)
        deadline = time.time() + 10
        while time.time() < deadline:
            rows = denials(v, "secret.read.denied")
            if sum(e["count"] for e in rows) == 20:
                break
            time.sleep(0.2)
        assert sum(e["count"] for e in rows) == 20, rows
    with Vault(AUDIT_COALESCE_SECONDS=0) as v:  # 0: one entry per denial
        v.init_unlock()
        tok = v.token(perms=("read",), scope=("only",))
        for _ in range(5):
            expect(v.cap("GET", "/secrets/other", tok), 403)
        assert len(denials(v, "secret.read.denied")) == 5


def test_probes_of_absent_names_are_audited():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("GET", "/secrets/probe-name-1", tok), 404)
        expect(v.cap("DELETE", "/secrets/probe-name-2", tok), 404)
        logs = all_logs(v)
        read = [e for e in logs if e["action"] == "secret.read" and e["success"] is False]
        gone = [e for e in logs if e["action"] == "secret.deleted" and e["success"] is False]
        assert len(read) == 1 and read[0]["secretKey"] == "probe-name-1", read
        assert read[0]["error"] == "Secret not found"
        assert len(gone) == 1 and gone[0]["secretKey"] == "probe-name-2", gone
        for _ in range(200):
            expect(v.cap("GET", "/secrets/probe-x", tok), 404)
        expect(v.mgmt("POST", "/lock"), 200)
        read = [e for e in all_logs(v) if e["action"] == "secret.read" and not e["success"]]
        assert len(read) <= 3 and sum(e["count"] for e in read) == 201, read
    # The probed names are sealed on disk like every other name.
