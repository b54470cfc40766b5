"""The keyed audit chain: edits, deletions with renumbering, a changed
secret_id and a cut-off tail all fail /audit/verify even when the attacker
recomputes every hash; entries written while locked are sealed at the next
unlock; a corrupt entry is shown in place instead of failing GET /audit."""
import hashlib

from harness import PASSWORD, Vault, expect


def columns(con):
    return [r[1] for r in con.execute("PRAGMA table_info(audit)")]


def rechain(con, start):
    """What a writer without the keys can do: recompute every chain hash
    from seq start on (with whichever formula the stored rows use) and
    point the head record at the new hashes."""
    keyed = "hv" in columns(con)
    rows = con.execute("SELECT seq, entry, secret_id, %s FROM audit ORDER BY seq"
                       % ("hv" if keyed else "1")).fetchall()
    prev = b"\0" * 32
    for seq, entry, sid, hv in rows:
        if hv == 2:
            pre = seq.to_bytes(8, "big") + (b"\1" + sid if sid is not None else b"\0")
        else:
            pre = b""
        h = hashlib.sha256(prev + pre + entry.encode()).digest()
        if seq >= start:
            con.execute("UPDATE audit SET hash=? WHERE seq=?", (h, seq))
        prev = h
    if keyed:
        row = con.execute("SELECT v FROM meta WHERE k='audit_head'").fetchone()
        if row is not None:
            head_seq = int.from_bytes(row[0][:8], "big")
            hh = con.execute("SELECT hash FROM audit WHERE seq=?", (head_seq,)).fetchone()
            if hh is not None:
                con.execute("UPDATE meta SET v=? WHERE k='audit_head'",
                            (row[0][:8] + hh[0] + row[0][40:],))


def busy_vault(v):
    v.init_unlock()
    tok = v.token()
    for name in ("a", "b"):
        expect(v.cap("POST", "/secrets/" + name, tok, {"value": "v"}), 200)
    for name in ("a", "b", "a"):
        expect(v.cap("GET", "/secrets/" + name, tok), 200)
    expect(v.mgmt("POST", "/extend"), 200)
    return tok


def verify(v):
    return expect(v.mgmt("GET", "/audit/verify"), 200)


def test_recomputed_edit_fails_verify():
    with Vault() as v:
        busy_vault(v)
        body = verify(v)
        assert body["valid"] is True and body["sealedThrough"] == body["entries"]
        assert body["macsChecked"] is True and body["headSeq"] == body["entries"]
        with v.offline_db() as con:
            con.execute("UPDATE audit SET entry=replace(entry, '\"success\":true', "
                        "'\"success\":false') WHERE seq=5")
            rechain(con, 5)
        locked = verify(v)  # no key: only hashes, which the attacker fixed
        assert locked["macsChecked"] is False
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        body = verify(v)
        assert body["valid"] is False and body["firstBadSeq"] == 5, body
        assert body["problem"] == "mac"


def test_deleted_read_and_renumbered_fails_verify():
    with Vault() as v:
        busy_vault(v)
        with v.offline_db() as con:
            seq = con.execute("SELECT min(seq) FROM audit WHERE entry LIKE "
                              "'%secret.read%'").fetchone()[0]
            con.execute("DELETE FROM audit WHERE seq=?", (seq,))
            con.execute("UPDATE audit SET seq=seq-1 WHERE seq>?", (seq,))
            rechain(con, seq)
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        body = verify(v)
        assert body["valid"] is False and body["firstBadSeq"] == seq, body


def test_secret_id_is_covered():
    with Vault() as v:
        busy_vault(v)
        with v.offline_db() as con:
            # Make the read of "a" look like a read of "b" for /audit/secret/b.
            ids = con.execute("SELECT seq, secret_id FROM audit WHERE secret_id IS NOT NULL "
                              "ORDER BY seq").fetchall()
            other = [s for q, s in ids if s != ids[0][1]][0]
            con.execute("UPDATE audit SET secret_id=? WHERE seq=?", (other, ids[0][0]))
            rechain(con, ids[0][0])
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        body = verify(v)
        assert body["valid"] is False and body["firstBadSeq"] == ids[0][0], body


def test_cut_off_tail_fails_verify():
    with Vault() as v:
        busy_vault(v)
        before = verify(v)
        with v.offline_db() as con:
            con.execute("DELETE FROM audit WHERE seq > ?", (before["entries"] - 3,))
        body = verify(v)  # caught even without the key: the head record names seq N
        assert body["valid"] is False, body
        assert body["firstBadSeq"] == before["entries"] - 2
        assert body["sealedThrough"] == before["entries"]


def test_locked_entries_sealed_at_unlock():
    with Vault() as v:
        tok = busy_vault(v)
        expect(v.mgmt("POST", "/lock"), 200)
        expect(v.cap("GET", "/secrets/a", tok), 423)  # audited while locked
        expect(v.mgmt("POST", "/unlock", {"password": "wrong password here"}), 401)
        locked = verify(v)
        assert locked["valid"] is True and locked["macsChecked"] is False
        assert locked["sealedThrough"] < locked["entries"]
        with v.offline_db() as con:
            assert con.execute("SELECT count(*) FROM audit WHERE mac IS NULL").fetchone()[0] >= 3
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        body = verify(v)
        assert body["valid"] is True and body["sealedThrough"] == body["entries"], body
        seq = locked["sealedThrough"] + 1  # the first entry written while locked
        with v.offline_db() as con:
            assert con.execute("SELECT count(*) FROM audit WHERE mac IS NULL").fetchone()[0] == 0
            con.execute("UPDATE audit SET entry=replace(entry, 'group-test', 'group-tesT') "
                        "WHERE seq=?", (seq,))
            rechain(con, seq)
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        body = verify(v)
        assert body["valid"] is False and body["firstBadSeq"] == seq, body


def test_existing_database_sealed_after_upgrade():
    """A database as the previous schema left it (no MACs, the old hash,
    no head record) verifies as it is, and is sealed at the first unlock."""
    with Vault() as v:
        busy_vault(v)
        with v.offline_db() as con:
            con.execute("ALTER TABLE audit DROP COLUMN mac")
            con.execute("ALTER TABLE audit DROP COLUMN hv")
            con.execute("DELETE FROM meta WHERE k='audit_head'")
            # and without the registry columns of v4
            con.execute("DROP INDEX tokens_hash")
            for col in ("token_hash", "revoked_by", "pending", "mac"):
                con.execute("ALTER TABLE tokens DROP COLUMN " + col)
            con.execute("PRAGMA user_version=2")
            rechain(con, 1)  # old formula: SHA-256(prev | entry)
        body = verify(v)
        assert body["valid"] is True and body["sealedThrough"] == 0, body
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        body = verify(v)
        assert body["valid"] is True and body["sealedThrough"] == body["entries"], body
        with v.offline_db() as con:
            con.execute("DELETE FROM audit WHERE seq=3")
            con.execute("UPDATE audit SET seq=seq-1 WHERE seq>3")
            rechain(con, 3)
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        assert verify(v)["valid"] is False


def test_corrupt_entry_reported_in_place():
    with Vault() as v:
        busy_vault(v)
        with v.offline_db() as con:
            con.execute("UPDATE audit SET entry='not json {' WHERE seq=4")
        logs = expect(v.mgmt("GET", "/audit?limit=1000"), 200)["logs"]
        bad = [e for e in logs if e.get("corrupt")]
        assert bad == [{"seq": 4, "corrupt": True}], bad
        assert len(logs) > 5 and all("seq" in e for e in logs)
        page = expect(v.mgmt("GET", "/audit?after=3&limit=2"), 200)
        assert page["logs"][0] == {"seq": 4, "corrupt": True}
        body = verify(v)
        assert body["valid"] is False and body["firstBadSeq"] == 4
