"""A flipped byte in the database is detected and never served; a record
moved to another row does not open."""
import os
import sqlite3

from harness import PASSWORD, Vault, expect


def _flip_in_file(path, blob):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    at = data.find(blob)
    assert at >= 0, "record bytes not found in file"
    data[at + len(blob) // 2] ^= 0x01
    with open(path, "wb") as f:
        f.write(data)


def test_flipped_byte_in_record_is_not_served():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/victim", tok, {"value": "precious"}), 200)
        expect(v.cap("POST", "/secrets/bystander", tok, {"value": "fine"}), 200)
        v.stop()  # checkpoints the WAL into vault.db
        db = os.path.join(v.data_dir, "vault.db")
        con = sqlite3.connect(db)
        rows = con.execute("SELECT record FROM secrets").fetchall()
        con.close()
        for (rec,) in rows:
            _flip_in_file(db, bytes(rec))
        v.start()
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        for name in ("victim", "bystander"):
            r = v.cap("GET", "/secrets/" + name, tok)
            body = expect(r, 500, "Stored data failed its integrity check")
            assert b"precious" not in r.raw and b"fine" not in r.raw
            assert body["code"] == "INTEGRITY"
        expect(v.cap("GET", "/secrets", tok), 500)


def test_swapped_records_do_not_open():
    with Vault() as v:
        v.init_unlock()
        tok = v.token()
        expect(v.cap("POST", "/secrets/a", tok, {"value": "value-a"}), 200)
        expect(v.cap("POST", "/secrets/b", tok, {"value": "value-b"}), 200)
        with v.offline_db() as con:
            (ra, ia), (rb, ib) = con.execute("SELECT record, id FROM secrets").fetchall()
            con.execute("UPDATE secrets SET record=? WHERE id=?", (rb, ia))
            con.execute("UPDATE secrets SET record=? WHERE id=?", (ra, ib))
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        for name in ("a", "b"):
            r = v.cap("GET", "/secrets/" + name, tok)
            expect(r, 500)
            assert b"value-" not in r.raw


def test_flipped_wrapped_root_refuses_unlock():
    with Vault() as v:
        v.init_unlock()
        with v.offline_db() as con:
            (root,) = con.execute("SELECT v FROM meta WHERE k='root'").fetchone()
            root = bytearray(root)
            root[20] ^= 0x80
            con.execute("UPDATE meta SET v=? WHERE k='root'", (bytes(root),))
        expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 401, "Invalid password")
        assert expect(v.mgmt("GET", "/status"), 200)["unlocked"] is False
