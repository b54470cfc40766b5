"""Threshold unlock through the CLI: init prints the shares once (warning on
stderr), holders submit theirs with unlock-share / unlock --share from
stdin, status shows the policy, rekey replaces it."""
import cli_harness as ch
from harness import PASSWORD, Vault


def shares_of(out):
    rows = [line.split() for line in out.decode().splitlines()]
    assert rows[0] == ["vault", "initialized"] or rows[0][0] == "rekeyed:", rows
    table = rows[rows.index(["HOLDER", "SHARE"]) + 1:]
    return dict(table)


def test_threshold_init_unlock_rekey():
    with Vault() as v:
        r = ch.run(["init", "--threshold", "2", "--holders", "ann,ben,cat", "--no-password"], v)
        assert r.rc == 0, r
        assert "WARNING" in r.err and "shown once" in r.err, r
        shares = shares_of(r.out)
        assert sorted(shares) == ["ann", "ben", "cat"], shares
        assert all(s.startswith("gvs1-") for s in shares.values()), shares
        status = ch.ok(["status"], v).decode()
        assert "2 shares of ann,ben,cat" in status and "password" not in status, status

        out = ch.ok(["unlock-share", "--user", "ann", "--stdin"], v,
                    stdin=shares["ann"].encode() + b"\n")
        assert out.startswith(b"share accepted: 1 of 2"), out
        r = ch.run(["unlock-share", "--user", "ben", "--stdin"], v, stdin=b"gvs1-garbage\n")
        assert r.rc == 1 and "Invalid share" in r.err and "garbage" not in r.err, r
        out = ch.ok(["unlock", "--share", "--user", "cat", "--password-stdin"], v,
                    stdin=shares["cat"].encode())
        assert out.startswith(b"unlocked:"), out
        assert v.mgmt("GET", "/status").json["unlocked"] is True

        out = ch.ok(["rekey", "--password-stdin", "--user", "ann"], v, stdin=PASSWORD.encode())
        assert out.startswith(b"rekeyed:") and b"policy       password" in out, out
        ch.ok(["lock"], v)
        r = ch.run(["unlock-share", "--user", "ann", "--stdin"], v, stdin=shares["ann"].encode())
        assert r.rc == 1, r
        ch.ok(["unlock", "--password-stdin"], v, stdin=PASSWORD.encode())
