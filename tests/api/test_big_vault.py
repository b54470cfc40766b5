"""Big vaults without memory spikes: a 100,000-secret vault exports as a
stream within 32 MiB of peak RSS (VmHWM, reset just before), byte for byte
the compact document; that export imports into a fresh vault; GET /secrets
pages walk every name exactly once while writes go on. The vault is filled
by importing an ocmt-v1 document sealed by ocmt.encrypt_v1 (libcrypto),
which the first unlock migrates. Runs the release build: the sanitizer's
quarantine and shadow memory would be what VmHWM measures."""
import json
import threading

import cli_harness as ch
from harness import PASSWORD, RELEASE_BINARY, Vault, expect
from ocmt import encrypt_v1

BIG = 100000


def ocmt_doc(names, password=PASSWORD):
    """An ocmt-v1 export holding names (value = name reversed), with the
    cheapest KDF the import accepts."""
    secrets = {n: {"value": n[::-1], "metadata": {"i": i}, "updatedAt": "2026-01-01T00:00:00Z",
                   "updatedBy": "filler"} for i, n in enumerate(names)}
    pt = json.dumps({"secrets": secrets, "metadata": {"version": 1,
                                                      "createdAt": "2026-01-01T00:00:00Z"}})
    return encrypt_v1(pt.encode(), password)


def filled(v, n):
    """Fills the fresh vault v with secret0..secret{n-1} and unlocks it."""
    expect(v.mgmt("POST", "/import", ocmt_doc(["secret%d" % i for i in range(n)]),
                  timeout=300), 200)
    expect(v.mgmt("POST", "/unlock", {"password": PASSWORD}, timeout=300), 200)


def hwm_reset(pid):
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


def hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def walk(v, tok, limit, during=None):
    """Every name over ?limit pages; during(page_number) runs between pages."""
    names, after, pages = [], "", 0
    while True:
        page = expect(v.cap("GET", "/secrets?limit=%d%s" % (limit, after), tok), 200)
        assert len(page["keys"]) <= limit
        names += [k["key"] for k in page["keys"]]
        pages += 1
        if "next" not in page:
            return names, pages
        assert len(page["keys"]) == limit, "a page with next is full"
        after = "&after=" + page["next"]
        if during:
            during(pages)


def test_export_streams_within_32_mib_and_imports():
    with Vault(binary=RELEASE_BINARY) as v:
        filled(v, BIG)
        # a fresh process (export works locked): what the fill's migration
        # left in the heap is not the export's
        v.restart()
        hwm_reset(v.proc.pid)
        base = hwm_kib(v.proc.pid)
        r = v.mgmt("GET", "/export", timeout=300)
        peak = hwm_kib(v.proc.pid)
        assert r.status == 200, r
        assert r.headers.get("transfer-encoding") == "chunked", r.headers
        doc = json.loads(r.raw)
        assert len(doc["vault"]["records"]) == BIG
        assert len({rec["id"] for rec in doc["vault"]["records"]}) == BIG
        # exactly what the whole-document export wrote: jansson's compact form
        assert json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode() == r.raw
        assert peak <= 32 * 1024, "export peak RSS %d KiB (before: %d KiB)" % (peak, base)
        logs = expect(v.mgmt("GET", "/audit?limit=5"), 200)["logs"]
        assert any(e.get("action") == "vault.exported" for e in logs), logs
        assert expect(v.mgmt("GET", "/status"), 200)["unlocked"] is False
        raw = r.raw
    with Vault(binary=RELEASE_BINARY) as w:
        r = w.mgmt("POST", "/import", raw=raw, timeout=300,
                   headers={"Content-Type": "application/json"})
        expect(r, 200)
        expect(w.mgmt("POST", "/unlock", {"password": PASSWORD}, timeout=300), 200)
        tok = w.token(perms=("read",))
        names, pages = walk(w, tok, 1000)
        assert pages == BIG // 1000 and sorted(names) == sorted("secret%d" % i
                                                                for i in range(BIG))
        assert expect(w.cap("GET", "/secrets/secret77777", tok), 200)["value"] == "77777terces"


def test_import_over_its_cap_is_413():
    with Vault(IMPORT_MAX_BODY_BYTES=4096) as v:
        big = {"vault": {"format": "groupvault", "pad": "x" * 5000}}
        expect(v.mgmt("POST", "/import", big), 413)
        expect(v.mgmt("POST", "/import", {"vault": {"format": "nope"}}), 400)


def test_pages_walk_every_name_once_while_writes_interleave():
    n = 3000
    with Vault() as v:
        filled(v, n)
        tok = v.token(perms=("read", "write", "delete"))
        small = expect(v.cap("GET", "/secrets", tok), 200)
        assert len(small["keys"]) == 1000 and "next" in small  # default page bound
        expect(v.cap("GET", "/secrets?limit=1001", tok), 400)
        expect(v.cap("GET", "/secrets?after=abc", tok), 400)
        deleted = {"secret%d" % i for i in range(0, n, 97)}
        stop = threading.Event()
        errors = []

        def writer():  # overwrites, creations and deletions while pages are read
            i = 0
            try:
                while not stop.is_set():
                    expect(v.cap("POST", "/secrets/secret%d" % (i * 7 % n), tok,
                                 {"value": "new"}), 200)
                    expect(v.cap("POST", "/secrets/extra%d" % i, tok, {"value": "x"}), 200)
                    i += 1
            except Exception as e:  # noqa: BLE001 - reported by the test thread
                errors.append(e)

        def between(page):
            if page == 2:
                for name in deleted:
                    expect(v.cap("DELETE", "/secrets/" + name, tok), 200)

        th = threading.Thread(target=writer)
        th.start()
        try:
            names, pages = walk(v, tok, 250, between)
        finally:
            stop.set()
            th.join()
        assert not errors, errors
        assert len(names) == len(set(names)), "a name was listed twice"
        listed = set(names)
        kept = {"secret%d" % i for i in range(n)} - deleted
        assert kept <= listed, "missing: %s" % sorted(kept - listed)[:5]
        assert pages >= len(kept) // 250
        # names deleted mid-walk show up only if their page came first
        assert all(x in deleted or x.startswith("extra") for x in listed - kept)
        # the CLI's list walks every page
        out = json.loads(ch.ok(["--json", "list"], v, tok))
        assert "next" not in out
        assert {k["key"] for k in out["keys"]} >= kept and len(out["keys"]) > 1000
        # a scoped token pages only its own names, still each once
        scoped = v.token(user="scoped", perms=("read",), scope=("secret1*",))
        got, _ = walk(v, scoped, 100)
        want = {x for x in kept if x.startswith("secret1")}
        assert len(got) == len(set(got)) and want <= set(got) <= want | deleted
