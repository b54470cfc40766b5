"""Token commands: issue with a scope and ttl, list (table and --json, all
pages), revoke by a token file (only its SHA-256 is sent), revoke-user;
a token given as @file."""
import json
import os
import tempfile

import cli_harness as ch
from harness import Vault


def test_token_lifecycle():
    with Vault() as v, tempfile.TemporaryDirectory(prefix="gv-cli-") as tmp:
        v.init_unlock()
        tok = ch.ok(["token", "issue", "--user", "ci", "--secrets", "prod.*,shared",
                     "--perm", "read,write", "--ttl", "30d"], v).decode().strip()
        path = os.path.join(tmp, "ci.token")
        with open(path, "w") as f:
            f.write(tok + "\n")
        os.chmod(path, 0o600)
        # The token from a file, scoped as asked.
        ch.ok(["--token", "@" + path, "put", "prod.db", "-"], v, stdin=b"pw")
        assert ch.ok(["get", "prod.db"], v, "@" + path) == b"pw"
        r = ch.run(["put", "dev.db", "-"], v, "@" + path, stdin=b"x")
        assert r.rc == 5, r
        entry = [t for t in v.mgmt("GET", "/tokens").json["tokens"] if t["userId"] == "ci"][0]
        assert entry["allowedSecrets"] == ["prod.*", "shared"], entry
        assert entry["permissions"] == ["read", "write"], entry
        days = (entry["expiresAt"] - entry["issuedAt"]) / 86400000.0
        assert 29.9 < days < 30.1, entry

        table = ch.ok(["token", "list"], v).decode().splitlines()
        assert table[0].split()[:3] == ["ID", "USER", "PERMISSIONS"], table
        row = [line for line in table if line.startswith(entry["id"])]
        assert len(row) == 1 and "ci" in row[0] and "read,write" in row[0] \
            and row[0].endswith("live"), table

        # Revoked by its file: the server gets the hash, the token stops working.
        out = ch.ok(["token", "revoke", "@" + path, "--by", "admin", "--reason", "rotated"], v)
        assert out == b"revoked\n", out
        r = ch.run(["get", "prod.db"], v, "@" + path)
        assert r.rc == 5, r
        audit = v.mgmt("GET", "/audit?limit=5").json["logs"]
        assert tok not in json.dumps(audit)
        listed = json.loads(ch.ok(["token", "list", "--all", "--json"], v))["tokens"]
        assert [t.get("revokedBy") for t in listed if t["id"] == entry["id"]] == ["admin"]
        assert "revoked" in ch.ok(["token", "list", "--all"], v).decode()
        assert entry["id"] not in ch.ok(["token", "list"], v).decode()


def test_list_pages_and_revoke_user():
    with Vault() as v:
        v.init_unlock()
        ids = [v.mgmt("POST", "/tokens", {"userId": "bulk"}).json["id"] for _ in range(5)]
        v.token(user="other")
        # Human output walks every page; --limit gives one page and its cursor.
        table = ch.ok(["token", "list", "--user", "bulk"], v).decode()
        assert all(i in table for i in ids) and "other" not in table, table
        r = ch.run(["token", "list", "--user", "bulk", "--limit", "2"], v)
        assert r.rc == 0 and len(r.out.decode().splitlines()) == 3, r
        assert "--cursor" in r.err, r
        page = json.loads(ch.ok(["token", "list", "--user", "bulk", "--limit", "2", "--json"], v))
        assert len(page["tokens"]) == 2 and page["next"] is not None, page
        rest = json.loads(ch.ok(["token", "list", "--user", "bulk", "--limit", "10",
                                 "--cursor", str(page["next"]), "--json"], v))
        assert [t["id"] for t in page["tokens"] + rest["tokens"]] == ids, (page, rest)
        out = ch.ok(["token", "revoke-user", "bulk"], v)
        assert out == b"revoked 5 tokens\n", out
        live = v.mgmt("GET", "/tokens").json["tokens"]
        assert [t["userId"] for t in live] == ["other"], live
        # Locked, the registry still lists (for an incident), scopes hidden.
        v.mgmt("POST", "/lock", {})
        rows = ch.ok(["token", "list"], v).decode().splitlines()
        assert len(rows) == 2 and "other" in rows[1] and rows[1].count("(locked)") == 2, rows
