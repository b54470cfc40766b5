"""Import and export: the original's v1 vector, our own format round trip,
the ocmt-v1 export read by an independent decryptor, and all-or-nothing
imports."""
import copy
import json
import os

from harness import PASSWORD, VECTORS, Vault, expect
from ocmt import decrypt_v1, load_plain

VECTOR_PASSWORD = "correct horse battery staple 42"
REAL_KDF = {"KDF_MEMORY_KIB": 65536, "KDF_ITERATIONS": 3, "KDF_PARALLELISM": 4}


def vector():
    with open(os.path.join(VECTORS, "ocmt-v1-export.json")) as f:
        return json.load(f)


def vector_plain():
    with open(os.path.join(VECTORS, "ocmt-v1-plaintext.json"), "rb") as f:
        return json.loads(f.read())


def test_independent_decryptor_reads_the_vector():
    pt, key = decrypt_v1(vector()["vault"], VECTOR_PASSWORD)
    with open(os.path.join(VECTORS, "ocmt-v1-derived-key.hex")) as f:
        assert key.hex() == f.read().strip()
    with open(os.path.join(VECTORS, "ocmt-v1-plaintext.json"), "rb") as f:
        assert pt == f.read().strip()


def test_import_vector_and_read():
    with Vault() as v:
        body = expect(v.mgmt("POST", "/import", vector()), 200)
        assert body == {"success": True, "message": "Vault imported"}
        assert expect(v.mgmt("GET", "/status"), 200)["initialized"] is True
        # Before its first unlock it exports exactly as it came in.
        assert expect(v.mgmt("GET", "/export"), 200) == vector()
        expect(v.mgmt("POST", "/unlock", {"password": "wrong password here"}), 401,
               "Invalid password")
        body = expect(v.mgmt("POST", "/unlock", {"password": VECTOR_PASSWORD}), 200)
        assert body["secretCount"] == 3
        tok = v.token(perms=("read",))
        want = vector_plain()["secrets"]
        for name, rec in want.items():
            got = expect(v.cap("GET", "/secrets/" + name, tok), 200)
            assert got == {"key": name, "value": rec["value"], "metadata": rec["metadata"]}
        keys = expect(v.cap("GET", "/secrets", tok), 200)["keys"]
        assert sorted(k["key"] for k in keys) == sorted(want)
        # updatedAt/updatedBy survive: read back through an ocmt-v1 export.
        out = expect(v.mgmt("GET", "/export?format=ocmt-v1"), 200)["vault"]
        plain = load_plain(out, VECTOR_PASSWORD)
        assert plain["secrets"] == want
        # And the migration is durable: restart, unlock, still there.
        v.restart()
        expect(v.mgmt("POST", "/unlock", {"password": VECTOR_PASSWORD}), 200)
        assert expect(v.cap("GET", "/secrets/db-password", tok), 200)["value"] == \
            want["db-password"]["value"]


def test_native_export_round_trip():
    with Vault(**REAL_KDF) as a, Vault(GROUP_ID="group-b", **REAL_KDF) as b:
        a.init_unlock()
        tok = a.token()
        data = {"alpha": ("1", {"k": "v"}), "beta.x": ("ünï ✓", {}),
                "gamma": ("g" * 5000, {"deep": {"list": [1, {"a": None}]}})}
        for name, (value, md) in data.items():
            expect(a.cap("POST", "/secrets/" + name, tok, {"value": value, "metadata": md}), 200)
        before = load_plain(expect(a.mgmt("GET", "/export?format=ocmt-v1"), 200)["vault"],
                            PASSWORD)
        expect(a.mgmt("POST", "/lock"), 200)
        exported = expect(a.mgmt("GET", "/export"), 200)  # works locked
        assert exported["vault"]["format"] == "groupvault"
        text = json.dumps(exported).encode()
        for name, (value, _) in data.items():
            assert name.encode() not in text
            assert len(value) < 5 or value.encode() not in text
        expect(b.mgmt("POST", "/import", exported), 200)
        expect(b.mgmt("POST", "/unlock", {"password": PASSWORD}), 200)
        tb = b.token()
        for name, (value, md) in data.items():
            got = expect(b.cap("GET", "/secrets/" + name, tb), 200)
            assert got == {"key": name, "value": value, "metadata": md}
        after = load_plain(expect(b.mgmt("GET", "/export?format=ocmt-v1"), 200)["vault"],
                           PASSWORD)
        assert after["secrets"] == before["secrets"]  # timestamps and authors too


def test_v1_export_needs_unlock_and_default_kdf():
    with Vault() as v:  # test vaults use a small KDF the original cannot read
        v.init_unlock()
        expect(v.mgmt("GET", "/export?format=ocmt-v1"), 400,
               "Unsupported key derivation parameters")
        expect(v.mgmt("GET", "/export?format=xml"), 400)
        expect(v.mgmt("POST", "/lock"), 200)
        expect(v.mgmt("GET", "/export?format=ocmt-v1"), 423)
    with Vault() as v:
        expect(v.mgmt("GET", "/export"), 400, "Vault not initialized")


def test_import_refuses_bad_input_and_changes_nothing():
    good = vector()
    cases = []
    for path, value in [(("format",), "nope"), (("version",), 2), (("kdf", "algorithm"), "md5"),
                        (("kdf", "memory"), 10**9), (("kdf", "iterations"), 0),
                        (("kdf", "parallelism"), 255), (("kdf", "salt"), "short"),
                        (("encryption", "nonce"), "AAAA"), (("encryption", "tag"), 5),
                        (("encryption", "algorithm"), "aes-128-cbc"), (("ciphertext",), 17),
                        (("ciphertext",), "abc")]:
        bad = copy.deepcopy(good)
        target = bad["vault"]
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] = value
        cases.append(bad)
    cases += [{}, {"vault": None}, {"vault": []}, {"vault": "x"}]
    with Vault() as v:
        for bad in cases:
            body = expect(v.mgmt("POST", "/import", bad), 400)
            assert body["error"] in ("Invalid vault format",
                                     "Unsupported key derivation parameters"), body
            assert body.get("details"), body
            assert expect(v.mgmt("GET", "/status"), 200)["initialized"] is False
        text = json.dumps(good).encode()
        expect(v.mgmt("POST", "/import", raw=text[: len(text) // 2]), 400, "Invalid request body")
        assert expect(v.mgmt("GET", "/status"), 200)["initialized"] is False
        expect(v.mgmt("POST", "/import", good), 200)
        expect(v.mgmt("POST", "/import", good), 400, "Vault already initialized")
    with Vault() as v:
        v.init_unlock()
        expect(v.mgmt("POST", "/import", good), 400, "Vault already initialized")


def test_native_import_with_a_bad_record_is_all_or_nothing():
    with Vault() as a, Vault() as b:
        a.init_unlock()
        tok = a.token()
        for i in range(5):
            expect(a.cap("POST", "/secrets/s%d" % i, tok, {"value": "v"}), 200)
        exported = expect(a.mgmt("GET", "/export"), 200)
        for field, value in (("id", "zz" * 32), ("sealed", "!!!!"), ("version", 0)):
            bad = copy.deepcopy(exported)
            bad["vault"]["records"][3][field] = value
            expect(b.mgmt("POST", "/import", bad), 400, "Invalid vault format")
            assert expect(b.mgmt("GET", "/status"), 200)["initialized"] is False
        expect(b.mgmt("POST", "/import", exported), 200)
        b.mgmt("POST", "/unlock", {"password": PASSWORD})
        assert len(expect(b.cap("GET", "/secrets", b.token()), 200)["keys"]) == 5
