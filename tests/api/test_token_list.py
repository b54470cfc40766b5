"""GET /tokens: the registry for an operator, never a token string;
filters, paging, and what it shows while the vault is locked."""
from harness import PASSWORD, Vault, expect


def issue(v, user, **body):
    return expect(v.mgmt("POST", "/tokens", dict(body, userId=user)), 200)


def test_list_shape_and_filters():
    with Vault() as v:
        v.init_unlock()
        a1 = issue(v, "alice", allowedSecrets=["db-*", "api"], permissions=["read", "write"])
        a2 = issue(v, "alice")
        b1 = issue(v, "bob", permissions=["admin", "read"])
        r = v.mgmt("GET", "/tokens")
        body = expect(r, 200)
        for t in (a1, a2, b1):
            assert t["token"].encode() not in r.raw
            assert t["token"].split(".")[0].encode() not in r.raw
        assert body["locked"] is False and body["next"] is None
        toks = body["tokens"]
        assert [t["id"] for t in toks] == [a1["id"], a2["id"], b1["id"]]
        first = toks[0]
        assert first["userId"] == "alice"
        assert first["allowedSecrets"] == ["db-*", "api"]
        assert first["permissions"] == ["read", "write"]
        assert first["expiresAt"] == a1["expiresAt"]
        assert abs(first["expiresAt"] - first["issuedAt"] - 3600 * 1000) < 5000
        assert "revokedAt" not in first and "revokedBy" not in first
        assert toks[2]["permissions"] == ["admin", "read"]
        assert toks[1]["allowedSecrets"] == ["*"] and toks[1]["permissions"] == ["read"]
        only_bob = expect(v.mgmt("GET", "/tokens?userId=bob"), 200)["tokens"]
        assert [t["id"] for t in only_bob] == [b1["id"]]
        expect(v.mgmt("DELETE", "/tokens/" + a1["id"], {"revokedBy": "admin-7"}), 200)
        live = expect(v.mgmt("GET", "/tokens?userId=alice"), 200)["tokens"]
        assert [t["id"] for t in live] == [a2["id"]]
        assert expect(v.mgmt("GET", "/tokens?includeRevoked=false"), 200)["tokens"] == \
            expect(v.mgmt("GET", "/tokens"), 200)["tokens"]
        every = expect(v.mgmt("GET", "/tokens?includeRevoked=true&userId=alice"), 200)["tokens"]
        assert [t["id"] for t in every] == [a1["id"], a2["id"]]
        assert every[0]["revokedBy"] == "admin-7" and every[0]["revokedAt"] >= every[0]["issuedAt"]
        # A userId with characters that need encoding in a query.
        c = issue(v, "carol@example.com")
        got = expect(v.mgmt("GET", "/tokens?userId=carol%40example.com"), 200)["tokens"]
        assert [t["id"] for t in got] == [c["id"]]


def test_list_pages_and_bad_parameters():
    with Vault() as v:
        v.init_unlock()
        ids = [issue(v, "u%d" % i)["id"] for i in range(5)]
        seen, cursor = [], None
        for _ in range(5):
            q = "/tokens?limit=2" + ("&cursor=%d" % cursor if cursor is not None else "")
            page = expect(v.mgmt("GET", q), 200)
            assert len(page["tokens"]) <= 2
            seen += [t["id"] for t in page["tokens"]]
            cursor = page["next"]
            if cursor is None:
                break
        assert seen == ids
        for q in ("limit=0", "limit=1001", "limit=x", "includeRevoked=yes", "cursor=-1",
                  "cursor=abc", "cursor=99999999999999999999", "userId=", "userId=%00", "userId=" + "u" * 256):
            expect(v.mgmt("GET", "/tokens?" + q), 400)
        expect(v.get("/tokens"), 401, "Unauthorized")


def test_list_while_locked_keeps_scopes_sealed():
    with Vault() as v:
        v.init_unlock()
        t = issue(v, "alice", allowedSecrets=["payroll-db"])
        expect(v.mgmt("POST", "/lock"), 200)
        body = expect(v.mgmt("GET", "/tokens"), 200)
        assert body["locked"] is True
        (row,) = body["tokens"]
        assert row["id"] == t["id"] and row["userId"] == "alice"
        assert "allowedSecrets" not in row and "permissions" not in row
        # The operator can still find and revoke it.
        expect(v.mgmt("DELETE", "/tokens/" + row["id"]), 200)
        assert expect(v.mgmt("GET", "/tokens"), 200)["tokens"] == []
        v.mgmt("POST", "/unlock", {"password": PASSWORD})
        (row,) = expect(v.mgmt("GET", "/tokens?includeRevoked=true"), 200)["tokens"]
        assert row["allowedSecrets"] == ["payroll-db"] and "revokedAt" in row
