"""TLS_CERT_FILE / TLS_KEY_FILE: HTTPS with a throwaway CA made here by
`openssl`; TLS 1.2+ and AEAD suites only (checked with `openssl s_client`);
SIGHUP swaps the pair for new connections while the vault stays unlocked;
a bad pair fails at start with one line. The sandbox stays on (SECCOMP=1)."""
import harness
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time

from harness import AUTH, BINARY, RELEASE_BINARY, Vault, expect


class CA:
    """A throwaway CA in a temp dir that issues server pairs for 127.0.0.1."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="gv-tls-")
        self.ca = self.path("ca.pem")
        self.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-nodes", "-keyout", self.path("ca.key"), "-out", self.ca, "-days", "2",
                     "-subj", "/CN=groupvault test CA")
        with open(self.path("ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")

    def path(self, name):
        return os.path.join(self.dir, name)

    def openssl(self, *args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    def issue(self, name, kind="ec"):
        """Writes name.pem and name.key (kind: ec or rsa); returns both paths."""
        key, csr, crt = self.path(name + ".key"), self.path(name + ".csr"), self.path(name + ".pem")
        opts = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ec" \
            else ["-newkey", "rsa:2048"]
        self.openssl("req", *opts, "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + name)
        self.openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.path("ca.key"),
                     "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", self.path("ext"))
        return crt, key

    def der(self, crt):
        with open(crt) as f:
            return ssl.PEM_cert_to_DER_cert(f.read())

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def tls_vault(ca, crt, key, **env):
    # The filter stays on (TLS must work inside it), except under valgrind,
    # which cannot run a seccomp-confined process.
    seccomp = "0" if harness.WRAPPER else "1"
    return Vault(ca=ca.ca, TLS_CERT_FILE=crt, TLS_KEY_FILE=key, SECCOMP=seccomp, **env)


def peer_der(v):
    """The leaf certificate a new connection to v is shown (DER)."""
    conn = v.connect()
    try:
        conn.connect()
        return conn.sock.getpeercert(binary_form=True)
    finally:
        conn.close()


def s_client(v, *args):
    """openssl s_client against v with the given options: (handshake done, output)."""
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % v.port,
                        "-CAfile", v.ca, *args], input=b"", capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    # The client must have offered what we asked (else the test proves nothing).
    assert "no protocols available" not in out and "no cipher" not in out.lower(), out
    return r.returncode == 0 and "Cipher is (NONE)" not in out, out


def test_https_with_curl_cacert():
    ca = CA()
    try:
        crt, key = ca.issue("server")
        with tls_vault(ca, crt, key) as v:
            r = subprocess.run(["curl", "-sS", "--cacert", ca.ca,
                                "https://127.0.0.1:%d/health" % v.port],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r
            assert '"status":"ok"' in r.stdout, r.stdout
            # Not trusted without the CA; no plain HTTP on the port.
            r = subprocess.run(["curl", "-sS", "https://127.0.0.1:%d/health" % v.port],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode != 0 and "status" not in r.stdout, r
            r = subprocess.run(["curl", "-sS", "http://127.0.0.1:%d/health" % v.port],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode != 0 and "status" not in r.stdout, r
            # The whole API works over it.
            v.init_unlock()
            tok = v.token()
            expect(v.cap("POST", "/secrets/db", tok, {"value": "s3cret"}), 200)
            assert expect(v.cap("GET", "/secrets/db", tok), 200)["value"] == "s3cret"
    finally:
        ca.close()


def test_rsa_pair():
    ca = CA()
    try:
        crt, key = ca.issue("server-rsa", kind="rsa")
        with tls_vault(ca, crt, key) as v:
            ok, out = s_client(v, "-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384")
            assert ok and "ECDHE-RSA-AES256-GCM-SHA384" in out, out
            assert peer_der(v) == ca.der(crt)
    finally:
        ca.close()


def test_only_tls12_plus_and_aead_suites():
    ca = CA()
    try:
        crt, key = ca.issue("server")
        with tls_vault(ca, crt, key) as v:
            ok, out = s_client(v, "-tls1_3")
            assert ok and "TLSv1.3" in out, out
            ok, out = s_client(v, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
            assert ok and "ECDHE-ECDSA-AES128-GCM-SHA256" in out, out
            ok, out = s_client(v, "-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305")
            assert ok, out
            # Refused: old protocol versions (the client is told it may use
            # them), CBC suites, TLS 1.3's CCM suite.
            for args in (["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
                         ["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"],
                         ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"],
                         ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA"],
                         ["-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256"]):
                ok, out = s_client(v, *args)
                assert not ok, (args, out)
            # The daemon still serves after the refusals.
            expect(v.get("/health"), 200)
    finally:
        ca.close()


def test_sighup_reloads_pair_and_keeps_session():
    ca = CA()
    try:
        crt, key = ca.issue("server")
        first = ca.der(crt)
        with tls_vault(ca, crt, key) as v:
            v.init_unlock()
            tok = v.token()
            expect(v.cap("POST", "/secrets/api-key", tok, {"value": "v1"}), 200)
            assert peer_der(v) == first
            # A keep-alive connection opened before the reload.
            old = v.connect()
            old.request("GET", "/health")
            assert old.getresponse().read()
            # Renewed certificate, same paths (as certbot would).
            crt2, key2 = ca.issue("server-renewed")
            os.replace(crt2, crt)
            os.replace(key2, key)
            renewed = ca.der(crt)
            assert renewed != first
            v.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while peer_der(v) != renewed:
                assert time.time() < deadline, "new connections still get the old certificate"
                time.sleep(0.05)
            # The session survived: still unlocked, the token and secret work.
            st = expect(v.mgmt("GET", "/status"), 200)
            assert st["unlocked"] is True, st
            assert expect(v.cap("GET", "/secrets/api-key", tok), 200)["value"] == "v1"
            # So does the connection made before the reload.
            old.request("GET", "/status", headers={"x-auth-token": AUTH})
            r = old.getresponse()
            assert r.status == 200 and b'"unlocked":true' in r.read()
            old.close()
    finally:
        ca.close()


def test_sighup_with_bad_pair_keeps_current():
    ca = CA()
    try:
        crt, key = ca.issue("server")
        current = ca.der(crt)
        with tls_vault(ca, crt, key, QUIET="0") as v:
            v.init_unlock()
            _, other_key = ca.issue("other")
            shutil.copy(other_key, key)  # the key no longer matches the certificate
            v.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while "reload failed" not in v.read_log():
                assert time.time() < deadline, v.read_log()
                time.sleep(0.05)
            assert peer_der(v) == current
            assert expect(v.mgmt("GET", "/status"), 200)["unlocked"] is True
    finally:
        ca.close()


def start_fails(env):
    base = {"PATH": os.environ.get("PATH", ""), "GROUP_ID": "g",
            "AUTH_TOKEN": "0123456789abcdef0"}
    base.update(env)
    with tempfile.TemporaryDirectory() as d:
        base["DATA_DIR"] = d
        r = subprocess.run([BINARY], env=base, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("groupvaultd: "), r.stderr
    return lines[0]


def test_bad_pair_fails_at_start_with_one_line():
    ca = CA()
    try:
        crt, key = ca.issue("server")
        _, other_key = ca.issue("other")
        line = start_fails({"TLS_CERT_FILE": crt, "TLS_KEY_FILE": other_key})
        assert "does not belong to" in line and other_key in line, line
        line = start_fails({"TLS_CERT_FILE": crt, "TLS_KEY_FILE": ca.path("missing.key")})
        assert "missing.key" in line and "cannot read" in line, line
        os.chmod(key, 0)
        if os.geteuid() != 0:  # root reads a mode-0 file anyway
            line = start_fails({"TLS_CERT_FILE": crt, "TLS_KEY_FILE": key})
            assert "cannot read" in line, line
        line = start_fails({"TLS_CERT_FILE": key, "TLS_KEY_FILE": crt})
        assert "TLS_CERT_FILE" in line, line
        line = start_fails({"TLS_CERT_FILE": crt})
        assert "TLS_KEY_FILE" in line, line
    finally:
        ca.close()


def test_release_build_sandbox_allows_handshake_and_reload():
    """The sanitized build's filter allows more (for LeakSanitizer): the
    release build's filter must allow the handshakes and the reload too."""
    if not os.path.exists(RELEASE_BINARY):
        raise AssertionError("build/groupvaultd is missing (make builds it)")
    ca = CA()
    try:
        crt, key = ca.issue("server")
        with Vault(binary=RELEASE_BINARY, ca=ca.ca, TLS_CERT_FILE=crt, TLS_KEY_FILE=key,
                   SECCOMP="1") as v:
            v.init_unlock()
            crt2, key2 = ca.issue("server-renewed", kind="rsa")
            os.replace(crt2, crt)
            os.replace(key2, key)
            v.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while peer_der(v) != ca.der(crt):
                assert time.time() < deadline and v.proc.poll() is None, v.read_log()
                time.sleep(0.05)
            assert expect(v.mgmt("GET", "/status"), 200)["unlocked"] is True
    finally:
        ca.close()


def test_cli_over_https_with_cacert():
    """The operator CLI (libcurl) talks to an HTTPS daemon with --cacert and
    refuses it without."""
    import cli_harness as ch
    ca = CA()
    try:
        crt, key = ca.issue("server")
        with tls_vault(ca, crt, key) as v:
            v.init_unlock()
            addr = "https://127.0.0.1:%d" % v.port
            out = ch.ok(["status"], vault=v, GROUPVAULT_ADDR=addr, GROUPVAULT_CACERT=ca.ca)
            assert b"unlocked" in out.lower(), out
            out = ch.ok(["--cacert", ca.ca, "status"], vault=v, GROUPVAULT_ADDR=addr)
            assert b"unlocked" in out.lower(), out
            r = ch.run(["status"], vault=v, GROUPVAULT_ADDR=addr)
            assert r.rc != 0 and b"unlocked" not in r.out.lower(), r
    finally:
        ca.close()


def test_reloads_under_concurrent_handshakes():
    """Handshakes on several threads while the pair is swapped again and
    again: every request is answered, with one of the two certificates
    (the refcounted pair is never freed under a handshake)."""
    import threading
    ca = CA()
    try:
        crt, key = ca.issue("server")
        a_crt, a_key = ca.path("a.pem"), ca.path("a.key")
        shutil.copy(crt, a_crt)
        shutil.copy(key, a_key)
        b_crt, b_key = ca.issue("server-b", kind="rsa")
        known = {ca.der(a_crt), ca.der(b_crt)}
        with tls_vault(ca, crt, key) as v:
            stop, errors, seen = threading.Event(), [], set()

            def client():
                while not stop.is_set():
                    try:
                        der = peer_der(v)
                        seen.add(der)
                        assert der in known
                        assert v.get("/health").status == 200
                    except Exception as e:  # noqa: BLE001 - reported below
                        errors.append(repr(e))
                        return

            threads = [threading.Thread(target=client) for _ in range(4)]
            for t in threads:
                t.start()
            try:
                for i in range(30):
                    src = (a_crt, a_key) if i % 2 else (b_crt, b_key)
                    shutil.copy(src[0], crt + ".new")
                    shutil.copy(src[1], key + ".new")
                    os.replace(key + ".new", key)
                    os.replace(crt + ".new", crt)
                    v.proc.send_signal(signal.SIGHUP)
                    time.sleep(0.05)
            finally:
                stop.set()
                for t in threads:
                    t.join(30)
            assert errors == [], errors[:3]
            assert seen == known, "both certificates should have been served"
    finally:
        ca.close()


def test_healthcheck_probes_https():
    """`groupvaultd --healthcheck` (the container image's probe) speaks
    HTTPS when TLS_CERT_FILE is set, as the daemon does."""
    def probe(port, **env):
        e = {"PATH": os.environ.get("PATH", ""), "PORT": str(port),
             "ASAN_OPTIONS": "detect_leaks=1"}
        e.update(env)
        return subprocess.run([BINARY, "--healthcheck"], env=e, capture_output=True,
                              text=True, timeout=30)

    ca = CA()
    try:
        crt, key = ca.issue("server")
        with tls_vault(ca, crt, key) as v:
            r = probe(v.port, TLS_CERT_FILE=crt)
            assert r.returncode == 0 and r.stderr == "", r
            r = probe(v.port)  # plain HTTP to an HTTPS daemon: no 200
            assert r.returncode == 1 and "did not answer 200" in r.stderr, r
        with Vault() as plain:
            r = probe(plain.port, TLS_CERT_FILE=crt)
            assert r.returncode == 1 and "did not answer 200" in r.stderr, r
    finally:
        ca.close()
