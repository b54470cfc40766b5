/* store_schema.c: the store's tables and the steps that migrate an older
 * database to them, one version at a time. It must never drop or rewrite
 * user data, and refuses a database newer than this build. */
#include <stdio.h>

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

/* The step that takes a database from version i to i + 1. */
static const char *const store_schema_steps[STORE_SCHEMA_VERSION] = {
    store_schema_v1,
    store_schema_v2,
    store_schema_v3,
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
int store_schema_migrate(sqlite3 *db)
{
	int version;

	if (store_user_version(db, &version) != 0)
		return -1;
	if (version > STORE_SCHEMA_VERSION) {
		log_err("store: database schema %d is newer than this build (%d)", version,
			STORE_SCHEMA_VERSION);
		return -1;
	}
	while (version < STORE_SCHEMA_VERSION) {
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
