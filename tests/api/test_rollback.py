"""A secret row restored from an older copy of vault.db (an old value, or a
deleted secret brought back) is caught by the keyed manifest at the next
unlock, which is refused (500 INTEGRITY); a clean restart unlocks."""
import sqlite3

from harness import PASSWORD, Vault, expect


def _row(con, want_version=None):
    rows = con.execute("SELECT id, version, record FROM secrets").fetchall()
    assert len(rows) == 1, rows
    if want_version is not None:
        assert rows[0][1] == want_version, rows
    return rows[0]


def _refused(v, tok, old_value):
    r = v.mgmt("POST", "/unlock", {"password": PASSWORD})
    body = expect(r, 500, "Stored data failed its integrity check")
    assert body["code"] == "INTEGRITY"
    assert expect(v.mgmt("GET", "/status"), 200)["unlocked"] is False
    r = v.cap("GET", "/secrets/s", tok)
    expect(r, 423)
    assert old_value.encode() not in r.raw
    log = v.stop()
    assert "does not match its manifest" in log, log
    v.start()


def test_restored_old_version_refuses_unlock():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/s", tok, {"value": "old-value"}), 200)
        expect(v.cap("POST", "/secrets/other", tok, {"value": "x"}), 200)
        with v.offline_db() as con:
            old = con.execute("SELECT id, version, record FROM secrets WHERE version=1").fetchall()
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        expect(v.cap("POST", "/secrets/s", tok, {"value": "new-value"}), 200)
        with v.offline_db() as con:
            for rid, ver, rec in old:
                con.execute("UPDATE secrets SET version=?, record=? WHERE id=?", (ver, rec, rid))
            assert con.execute("SELECT max(version) FROM secrets").fetchone()[0] == 1
        _refused(v, tok, "old-value")


def test_resurrected_deleted_secret_refuses_unlock():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/s", tok, {"value": "deleted-value"}), 200)
        with v.offline_db() as con:
            old = _row(con, 1)
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        expect(v.cap("DELETE", "/secrets/s", tok), 200)
        with v.offline_db() as con:
            assert con.execute("SELECT count(*) FROM secrets").fetchone()[0] == 0
            con.execute("INSERT INTO secrets(id, version, record) VALUES(?,?,?)", old)
        _refused(v, tok, "deleted-value")


def test_row_removed_behind_the_daemon_refuses_unlock():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/s", tok, {"value": "v"}), 200)
        with v.offline_db() as con:
            con.execute("DELETE FROM secrets")
        _refused(v, tok, "v")


def test_clean_restarts_and_writes_unlock():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        for i in range(5):
            expect(v.cap("POST", "/secrets/s%d" % i, tok, {"value": "a%d" % i}), 200)
        expect(v.cap("POST", "/secrets/s1", tok, {"value": "b1"}), 200)
        expect(v.cap("DELETE", "/secrets/s2", tok), 200)
        expect(v.cap("POST", "/secrets/s2", tok, {"value": "c2"}), 200)
        expect(v.cap("DELETE", "/secrets/s3", tok), 200)
        for _ in range(2):
            v.restart()
            r = expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
            assert r["secretCount"] == 4
            assert expect(v.cap("GET", "/secrets/s1", tok), 200)["value"] == "b1"
            assert expect(v.cap("GET", "/secrets/s2", tok), 200)["value"] == "c2"
            expect(v.cap("GET", "/secrets/s3", tok), 404)
        log = v.stop()
        assert "manifest" not in log, log


def test_manifest_built_for_existing_rows_and_audited():
    """A database from before the manifest (simulated by removing the row)
    gets one at the next unlock, with a warning and an audit entry; from
    then on a rollback is caught."""
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/s", tok, {"value": "one"}), 200)
        with v.offline_db() as con:
            assert con.execute("DELETE FROM meta WHERE k='manifest'").rowcount == 1
            old = _row(con, 1)
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        logs = expect(v.mgmt("GET", "/audit?limit=10"), 200)["logs"]
        assert any(e["action"] == "vault.manifest_created" for e in logs), logs
        assert expect(v.mgmt("GET", "/audit/verify"), 200)["valid"] is True
        expect(v.cap("POST", "/secrets/s", tok, {"value": "two"}), 200)
        with v.offline_db() as con:
            con.execute("UPDATE secrets SET version=?, record=? WHERE id=?",
                        (old[1], old[2], old[0]))
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 500)
        v.stop()
        assert "secrets manifest built over 1 existing rows" in v.logs, v.logs
        v.start()


def test_tampered_manifest_refuses_unlock():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/s", tok, {"value": "v"}), 200)
        with v.offline_db() as con:
            (m,) = con.execute("SELECT v FROM meta WHERE k='manifest'").fetchone()
            m = bytearray(m)
            m[3] ^= 1
            con.execute("UPDATE meta SET v=? WHERE k='manifest'", (bytes(m),))
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 500)
        logs = expect(v.mgmt("GET", "/audit?limit=5"), 200)["logs"]
        assert logs[0]["action"] == "vault.unlock_failed"
        assert logs[0]["error"] == "Integrity check failed"
