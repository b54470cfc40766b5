"""Nothing secret on disk or in logs: a byte search of the data dir and the
daemon's output finds no stored name, value, metadata or password."""
from harness import PASSWORD, Vault, expect, files_contain

NAME = b"zebra-marker-name-7f3a"
VALUE = b"VALUE-MARKER-9c1e55aa"
META = b"META-MARKER-4b2d"


def test_data_dir_and_logs_hold_no_plaintext():
    with Vault(QUIET=0) as v:
        v.init_unlock()
        tok = v.token(scope=(NAME.decode(),))
        expect(v.cap("POST", "/secrets/" + NAME.decode(), tok,
                     {"value": VALUE.decode(), "metadata": {"note": META.decode()}}), 200)
        assert expect(v.cap("GET", "/secrets/" + NAME.decode(), tok), 200)["value"] == \
            VALUE.decode()
        expect(v.cap("GET", "/secrets", tok), 200)
        expect(v.mgmt("GET", "/audit/secret/" + NAME.decode()), 200)
        expect(v.mgmt("GET", "/export"), 200)
        v.mgmt("POST", "/unlock", {"password": PASSWORD + "-wrong"})
        v.restart()
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        expect(v.cap("GET", "/secrets/" + NAME.decode(), tok), 200)
        logs = v.stop().encode() + v.logs.encode()
        for needle in (NAME, VALUE, META, PASSWORD.encode(), tok.encode(),
                       b"test-auth-token"):
            assert files_contain(v.data_dir, needle) == [], needle
            assert needle not in logs, needle
        v.start()


def test_signing_key_file_is_private():
    import os
    import stat
    with Vault() as v:
        st = os.stat(os.path.join(v.data_dir, "signing.key"))
        assert stat.S_IMODE(st.st_mode) == 0o600
        st = os.stat(os.path.join(v.data_dir, "vault.db"))
        assert stat.S_IMODE(st.st_mode) & 0o077 == 0
