/* store_schema.c: the store's tables, the steps that migrate an older
 * database to them one version at a time, and the check at open that the
 * file holds exactly those objects (no planted trigger or view). It must
 * never drop or rewrite user data, and refuses a database newer than this
 * build. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store_int.h"

static const char store_schema_v1[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE secrets(id BLOB PRIMARY KEY, version INTEGER NOT NULL,"
    " record BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE tokens(id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
    " issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, revoked_at INTEGER,"
    " scope BLOB);"
    "CREATE INDEX tokens_user ON tokens(user_id, issued_at);"
    "CREATE TABLE audit(seq INTEGER PRIMARY KEY, entry TEXT NOT NULL, secret_id BLOB,"
    " hash BLOB NOT NULL);"
    "CREATE INDEX audit_secret ON audit(secret_id, seq) WHERE secret_id IS NOT NULL;";

/* v2: the registry binds each token id to the digest of its exact payload,
 * so a leaked signing key alone cannot widen a registered token. Tokens
 * issued before v2 have no digest and no longer verify. */
static const char store_schema_v2[] = "ALTER TABLE tokens ADD COLUMN digest BLOB;";

/* v3: the audit chain is keyed. Each entry may carry a MAC under the
 * audit MAC key (NULL: written while locked, sealed at the next unlock),
 * and hv says which chain hash it has: 1 = SHA-256(prev | entry) for
 * entries written before v3, 2 = SHA-256(prev | seq | secret_id | entry). */
static const char store_schema_v3[] = "ALTER TABLE audit ADD COLUMN mac BLOB;"
				      "ALTER TABLE audit ADD COLUMN hv INTEGER NOT NULL DEFAULT 1;";
/* v4: the registry's integrity (SECURITY.md). Each row gets the SHA-256 of
 * the whole token (revocation by hash), who revoked it, a MAC under the
 * registry key and a "pending" flag for a revocation made while locked.
 * Rows from before v4 have neither hash nor MAC: they could be neither
 * revoked by hash nor checked, so they are revoked here (re-issue them).
 * The indexes are (re)created for v1 files written without them. */
static const char store_schema_v4[] =
    "ALTER TABLE tokens ADD COLUMN token_hash BLOB;"
    "ALTER TABLE tokens ADD COLUMN revoked_by TEXT;"
    "ALTER TABLE tokens ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tokens ADD COLUMN mac BLOB;"
    "UPDATE tokens SET revoked_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),"
    " revoked_by = 'upgrade' WHERE revoked_at IS NULL;"
    "CREATE INDEX IF NOT EXISTS tokens_user ON tokens(user_id, issued_at);"
    "CREATE INDEX IF NOT EXISTS audit_secret ON audit(secret_id, seq)"
    " WHERE secret_id IS NOT NULL;"
    "CREATE UNIQUE INDEX tokens_hash ON tokens(token_hash);";
/* v5: the per-secret audit lookup leaves the hot path (issue 16). The
 * partial index audit_secret put each batch's entries on as many leaves as
 * the batch had secrets; audit_index holds the same (secret_id, seq) pairs
 * but is filled by the committer in large sorted chunks, and audit_mark says
 * through which seq it is complete (store_index.c). The step fills it from
 * every existing entry, reading audit_secret in its order (no sort, so no
 * temporary file however long the log) before dropping it. Like v4, it may
 * run again over its own work (a file whose version was set back). */
static const char store_schema_v5[] =
    "CREATE TABLE IF NOT EXISTS audit_index(secret_id BLOB NOT NULL, seq INTEGER NOT NULL,"
    " PRIMARY KEY(secret_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS audit_mark(one INTEGER PRIMARY KEY CHECK(one = 1),"
    " seq INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO audit_index(secret_id, seq) SELECT secret_id, seq FROM audit"
    " WHERE secret_id IS NOT NULL ORDER BY 1, 2;"
    "INSERT OR REPLACE INTO audit_mark(one, seq) SELECT 1, ifnull(max(seq), 0) FROM audit;"
    "DROP INDEX IF EXISTS audit_secret;";

/* The step that takes a database from version i to i + 1. */
static const char *const store_schema_steps[STORE_SCHEMA_VERSION] = {
    store_schema_v1, store_schema_v2, store_schema_v3, store_schema_v4, store_schema_v5,
};

static int store_user_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Each step moves the schema one version on, inside one transaction. */
int store_schema_migrate_to(sqlite3 *db, int target)
{
	int version;

	if (store_user_version(db, &version) != 0)
		return -1;
	if (version > STORE_SCHEMA_VERSION || target > STORE_SCHEMA_VERSION) {
		log_err("store: database schema %d is newer than this build (%d)", version,
			STORE_SCHEMA_VERSION);
		return -1;
	}
	while (version < target) {
		char bump[64];
		if (store_exec(db, "BEGIN IMMEDIATE") != 0)
			return -1;
		/* A negative version (never written by us) only counts up. */
		if (version >= 0 && store_exec(db, store_schema_steps[version]) != 0)
			goto fail;
		version++;
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", version);
		if (store_exec(db, bump) != 0 || store_exec(db, "COMMIT") != 0)
			goto fail;
	}
	return 0;
fail:
	store_exec(db, "ROLLBACK");
	return -1;
}

int store_schema_migrate(sqlite3 *db) { return store_schema_migrate_to(db, STORE_SCHEMA_VERSION); }

/* Every schema object with its columns (tables) or key columns and flags
 * (indexes), one line each, sorted: a description that does not depend on
 * how the CREATE text was spelt. */
static const char store_schema_describe[] =
    "SELECT type || ' ' || name || ' on ' || tbl_name FROM sqlite_master"
    " UNION ALL SELECT 'column ' || m.name || '.' || p.name || ' ' || p.type || '|'"
    " || p.\"notnull\" || '|' || ifnull(p.dflt_value, '-') || '|' || p.pk || '|' || p.hidden"
    " FROM sqlite_master m, pragma_table_xinfo(m.name) p WHERE m.type = 'table'"
    " UNION ALL SELECT 'index column ' || m.name || '.' || ifnull(p.name, '?') || ' ' || p.seqno"
    " || '|' || p.cid || '|' || p.desc || '|' || ifnull(p.coll, '') || '|' || p.key"
    " FROM sqlite_master m, pragma_index_xinfo(m.name) p WHERE m.type = 'index'"
    " UNION ALL SELECT 'index ' || l.name || ' of ' || m.name || ' ' || l.\"unique\" || '|'"
    " || l.origin || '|' || l.partial"
    " FROM sqlite_master m, pragma_index_list(m.name) l WHERE m.type = 'table'"
    " ORDER BY 1";

/* The next description line, or NULL at the end (*rc set on an error). */
static const char *store_schema_line(sqlite3_stmt *s, int *rc)
{
	int r = sqlite3_step(s);

	if (r == SQLITE_ROW)
		return (const char *)sqlite3_column_text(s, 0);
	if (r != SQLITE_DONE)
		*rc = -1;
	return NULL;
}

/* Compares db's objects with those a new database of this build has; a
 * trigger, view, unknown table or index, or a changed column is refused. */
int store_schema_check(sqlite3 *db)
{
	sqlite3 *ref = NULL;
	sqlite3_stmt *a = NULL, *b = NULL;
	const char *la, *lb;
	int rc = -1, err = 0;

	if (sqlite3_open_v2(":memory:", &ref, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    store_schema_migrate(ref) != 0 ||
	    sqlite3_prepare_v2(ref, store_schema_describe, -1, &a, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, store_schema_describe, -1, &b, NULL) != SQLITE_OK) {
		log_err("store: cannot read the schema: %s", sqlite3_errmsg(ref ? ref : db));
		goto done;
	}
	for (;;) {
		la = store_schema_line(a, &err);
		lb = store_schema_line(b, &err);
		if (err != 0) {
			log_err("store: cannot read the schema: %s", sqlite3_errmsg(db));
			goto done;
		}
		if (la == NULL && lb == NULL)
			break;
		if (la == NULL || lb == NULL || strcmp(la, lb) != 0) {
			/* Both lists are sorted: the smaller line is the one the
			 * other list lacks, and names the object to look at. */
			int extra = la == NULL || (lb != NULL && strcmp(lb, la) < 0);
			log_err("store: vault.db has a schema this build did not create (%s %s); "
				"refusing to open it",
				extra ? "unexpected" : "missing", extra ? lb : la);
			goto done;
		}
	}
	rc = 0;
done:
	sqlite3_finalize(a);
	sqlite3_finalize(b);
	sqlite3_close(ref);
	return rc;
}
