"""ocmt-v1 migration is all or nothing (issue 10 item 10), imports are
checked before they can brick a vault, and a weak imported KDF is replaced
at the next unlock (item 14). Each bad document is refused with a reason
naming what is wrong, and the vault stays exactly as it was."""
import base64
import copy
import json
import os

from harness import PASSWORD, ROOT, VECTORS, Vault, expect
from ocmt import CHEAP_KDF, decrypt_v1, encrypt_v1

VECTOR_PASSWORD = "correct horse battery staple 42"
CHEAP = CHEAP_KDF
GOOD = {"value": "v", "metadata": {}, "updatedAt": "2026-11-28T10:37:59.126Z",
        "updatedBy": "user-1"}



def vector_path(name):
    for d in (os.path.join(ROOT, "tests", "vectors"), VECTORS):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    raise FileNotFoundError(name)


def v1_doc(plaintext, password=PASSWORD, kdf=CHEAP):
    """An ocmt-v1 export of arbitrary plaintext bytes (ocmt.encrypt_v1)."""
    return encrypt_v1(plaintext, password, kdf)


def plain(secrets):
    return json.dumps({"secrets": secrets, "metadata": {"version": 1}}).encode()


def meta(v, key):
    with v.offline_db() as con:
        row = con.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        n = con.execute("SELECT count(*) FROM secrets").fetchone()[0]
    return (bytes(row[0]) if row else None), n


def assert_refused_and_kept(v, doc, password, *needles):
    """Unlock answers 422 naming the problem; the vault is still locked with
    the imported document as it was, and nothing was written."""
    before, _ = meta(v, "legacy")
    for _ in range(2):  # and again: the daemon survived, nothing changed
        body = expect(v.mgmt("POST", "/unlock", {"password": password}), 422,
                      "Imported vault cannot be migrated")
        assert body["code"] == "MIGRATION_REFUSED", body
        for n in needles:
            assert n in body["details"], body
    st = expect(v.mgmt("GET", "/status"), 200)
    assert st["initialized"] is True and st["unlocked"] is False, st
    after, nsecrets = meta(v, "legacy")
    assert after == before and after is not None
    assert nsecrets == 0
    if doc is not None:  # locked, it still exports as it came in
        assert expect(v.mgmt("GET", "/export"), 200) == doc
    logs = json.dumps(expect(v.mgmt("GET", "/audit?limit=10"), 200))
    assert "Migration refused" in logs, logs


def test_long_nonce_in_stored_document_is_refused_not_a_crash():
    with open(vector_path("ocmt-v1-export.json")) as f:
        doc = json.load(f)
    with Vault() as v:
        expect(v.mgmt("POST", "/import", doc), 200)
        with v.offline_db() as con:
            legacy = json.loads(con.execute("SELECT v FROM meta WHERE k='legacy'").fetchone()[0])
            legacy["encryption"]["nonce"] = base64.b64encode(b"N" * 300).decode()
            con.execute("UPDATE meta SET v = ? WHERE k = 'legacy'",
                        (json.dumps(legacy).encode(),))
        assert_refused_and_kept(v, None, VECTOR_PASSWORD, "encryption.nonce")
        # The same document is refused at import time, before it is stored.
        with Vault() as w:
            body = expect(w.mgmt("POST", "/import", {"vault": legacy}), 400,
                          "Invalid vault format")
            assert "encryption.nonce" in body["details"], body
            assert expect(w.mgmt("GET", "/status"), 200)["initialized"] is False


def test_invalid_name_is_refused_and_nothing_deleted():
    doc = v1_doc(plain({"good-one": GOOD, "bad name/../x": GOOD}))
    with Vault() as v:
        expect(v.mgmt("POST", "/import", doc), 200)
        assert_refused_and_kept(v, doc, PASSWORD, "secret 2 of 2", "name must match")
        # The wrong password is still told apart (401), not a migration error.
        expect(v.mgmt("POST", "/unlock", {"password": "not the password at all"}), 401)


def test_non_string_value_is_refused_and_nothing_deleted():
    bad = dict(GOOD, value={"nested": "object"})
    doc = v1_doc(plain({"a": GOOD, "b": GOOD, "c.value": bad}))
    with Vault() as v:
        expect(v.mgmt("POST", "/import", doc), 200)
        assert_refused_and_kept(v, doc, PASSWORD, 'secret 3 of 3 ("c.value")',
                                "value must be a string")


def test_unparsable_plaintext_is_refused_and_kept():
    for text, needle in ((b"{not json at all", "not a JSON object"),
                         (b'{"metadata":{"version":1}}', '"secrets"'),
                         (b'{"secrets":{"a":{"value":"1"},"a":{"value":"2"}}}',
                          "repeats a name")):
        doc = v1_doc(text)
        with Vault() as v:
            expect(v.mgmt("POST", "/import", doc), 200)
            assert_refused_and_kept(v, doc, PASSWORD, needle)


def test_valid_document_migrates_every_secret_then_drops_the_original():
    secrets = {"s%d" % i: dict(GOOD, value="value %d" % i) for i in range(20)}
    secrets["nul.and.null"] = {"value": "a\u0000b", "metadata": None}
    doc = v1_doc(plain(secrets))
    with Vault() as v:
        expect(v.mgmt("POST", "/import", doc), 200)
        body = expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        assert body["secretCount"] == 21
        tok = v.token(perms=("read",))
        got = expect(v.cap("GET", "/secrets/nul.and.null", tok), 200)
        assert got == {"key": "nul.and.null", "value": "a\u0000b", "metadata": {}}
        assert meta(v, "legacy") == (None, 21)


def test_malformed_ciphertext_is_refused_at_import():
    good = v1_doc(plain({"a": GOOD}))
    for ct, in (("!!!!",), ("",), ("QUJD====",)):
        bad = copy.deepcopy(good)
        bad["vault"]["ciphertext"] = ct
        with Vault() as v:
            body = expect(v.mgmt("POST", "/import", bad), 400, "Invalid vault format")
            assert "ciphertext" in body["details"], body
            assert expect(v.mgmt("GET", "/status"), 200)["initialized"] is False


def native_export(n=3):
    with Vault() as a:
        a.init_unlock()
        tok = a.token()
        for i in range(n):
            expect(a.cap("POST", "/secrets/s%d" % i, tok, {"value": "v%d" % i}), 200)
        return expect(a.mgmt("GET", "/export"), 200)


def test_import_refuses_an_int64_max_version_and_repeated_ids():
    exported = native_export()
    cases = []
    for version in (2**63 - 1, 2**53):
        bad = copy.deepcopy(exported)
        bad["vault"]["records"][1]["version"] = version
        cases.append((bad, "records[1]: version"))
    bad = copy.deepcopy(exported)
    bad["vault"]["records"][2]["id"] = bad["vault"]["records"][0]["id"]
    cases.append((bad, "same id"))
    with Vault() as b:
        for doc, needle in cases:
            body = expect(b.mgmt("POST", "/import", doc), 400, "Invalid vault format")
            assert needle in body["details"], body
            assert expect(b.mgmt("GET", "/status"), 200)["initialized"] is False
        expect(b.mgmt("POST", "/import", exported), 200)
        expect(b.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        tok = b.token()
        expect(b.cap("POST", "/secrets/s1", tok, {"value": "next"}), 200)
        assert expect(b.cap("GET", "/secrets/s1", tok), 200)["value"] == "next"


def kdf_of(v):
    raw, _ = meta(v, "kdf")
    return json.loads(raw)


def test_weak_imported_kdf_is_rederived_at_unlock():
    stronger = {"KDF_MEMORY_KIB": 2048, "KDF_ITERATIONS": 2, "KDF_PARALLELISM": 2}
    exported = native_export()  # made with 1 MiB / 1 pass
    with Vault(**stronger) as b:
        expect(b.mgmt("POST", "/import", exported), 200)
        weak = kdf_of(b)
        assert (weak["memory"], weak["iterations"]) == (1024, 1), weak
        root_before, _ = meta(b, "root")
        expect(b.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        now = kdf_of(b)
        assert (now["memory"], now["iterations"], now["parallelism"]) == (2048, 2, 2), now
        assert now["salt"] != weak["salt"]
        assert meta(b, "root")[0] != root_before
        # The new KEK is the one that opens it now; the secrets are intact.
        expect(b.mgmt("POST", "/unlock", {"password": "not the password at all"}), 401)
        expect(b.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        tok = b.token()
        assert expect(b.cap("GET", "/secrets/s2", tok), 200)["value"] == "v2"
        assert kdf_of(b)["salt"] == now["salt"]  # not re-derived again
    # An ocmt-v1 import with a weak KDF: migrated and re-derived in one unlock,
    # and its ocmt-v1 export (under the new KEK) still opens with the password.
    doc = v1_doc(plain({"a": GOOD}))
    with Vault(KDF_MEMORY_KIB=65536, KDF_ITERATIONS=3, KDF_PARALLELISM=4) as c:
        expect(c.mgmt("POST", "/import", doc), 200)
        expect(c.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        assert (kdf_of(c)["memory"], kdf_of(c)["iterations"]) == (65536, 3)
        expect(c.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        out = expect(c.mgmt("GET", "/export?format=ocmt-v1"), 200)["vault"]
        pt, _ = decrypt_v1(out, PASSWORD)
        assert json.loads(pt)["secrets"]["a"]["value"] == "v"
