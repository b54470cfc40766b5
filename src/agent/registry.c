/* registry.c: the agent's vault registry in SQLite (WAL, synchronous=FULL):
 * one row per group. Every call holds the connection's mutex (FULLMUTEX),
 * so HTTP threads and the reconciler can share it. Never logs auth_token. */
#include "registry.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto.h"
#include "log.h"

struct registry {
	sqlite3 *db;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS vaults("
    " group_id TEXT PRIMARY KEY,"
    " slug TEXT NOT NULL,"
    " name TEXT NOT NULL UNIQUE,"
    " port INTEGER NOT NULL UNIQUE,"
    " backend TEXT NOT NULL,"
    " backend_id TEXT NOT NULL,"
    " state INTEGER NOT NULL,"
    " auth_token TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);";

const char *reg_state_name(enum reg_state s)
{
	switch (s) {
	case REG_PROVISIONING:
		return "provisioning";
	case REG_RUNNING:
		return "running";
	case REG_STOPPED:
		return "stopped";
	}
	return "unknown";
}

struct registry *registry_open(const char *path, char *err, size_t errlen)
{
	struct registry *r = calloc(1, sizeof(*r));
	char *msg = NULL;
	mode_t old;
	int rc;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	old = umask(077); /* agent.db holds every vault's AUTH_TOKEN: owner only */
	rc = sqlite3_open_v2(path, &r->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
	umask(old);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path, sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(r->db, 5000);
	if (sqlite3_exec(r->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "registry %s: %s", path, msg ? msg : "schema failed");
		sqlite3_free(msg);
		goto fail;
	}
	return r;
fail:
	sqlite3_close(r->db);
	free(r);
	return NULL;
}

void registry_close(struct registry *r)
{
	if (r == NULL)
		return;
	sqlite3_close(r->db);
	free(r);
}

static void text(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	size_t n = s == NULL ? 0 : (size_t)sqlite3_column_bytes(st, col);

	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

#define COLS "group_id, slug, name, port, backend, backend_id, state, auth_token, created_at"

static void row(sqlite3_stmt *st, struct reg_vault *v)
{
	memset(v, 0, sizeof(*v));
	text(st, 0, v->group_id, sizeof(v->group_id));
	text(st, 1, v->slug, sizeof(v->slug));
	text(st, 2, v->name, sizeof(v->name));
	v->port = (unsigned)sqlite3_column_int(st, 3);
	text(st, 4, v->backend, sizeof(v->backend));
	text(st, 5, v->backend_id, sizeof(v->backend_id));
	v->state = (enum reg_state)sqlite3_column_int(st, 6);
	text(st, 7, v->auth_token, sizeof(v->auth_token));
	v->created_at = sqlite3_column_int64(st, 8);
}

static sqlite3_stmt *prepare(struct registry *r, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_err("registry: %s", sqlite3_errmsg(r->db));
		return NULL;
	}
	return st;
}

int registry_get(struct registry *r, const char *group_id, struct reg_vault *out)
{
	sqlite3_stmt *st = prepare(r, "SELECT " COLS " FROM vaults WHERE group_id = ?");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row(st, out);
	else if (rc != SQLITE_DONE)
		log_err("registry: %s", sqlite3_errmsg(r->db));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

static int write_row(struct registry *r, const char *sql, const struct reg_vault *v)
{
	sqlite3_stmt *st = prepare(r, sql);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, v->group_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, v->slug, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, v->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, (int)v->port);
	sqlite3_bind_text(st, 5, v->backend, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, v->backend_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, (int)v->state);
	sqlite3_bind_text(st, 8, v->auth_token, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, v->created_at);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		log_err("registry: %s", sqlite3_errmsg(r->db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE && sqlite3_changes(r->db) == 1 ? 0 : -1;
}

int registry_insert(struct registry *r, const struct reg_vault *v)
{
	return write_row(r, "INSERT INTO vaults(" COLS ") VALUES(?,?,?,?,?,?,?,?,?)", v);
}

int registry_update(struct registry *r, const struct reg_vault *v)
{
	return write_row(r,
			 "UPDATE vaults SET slug=?2, name=?3, port=?4, backend=?5, backend_id=?6,"
			 " state=?7, auth_token=?8, created_at=?9 WHERE group_id=?1",
			 v);
}

int registry_delete(struct registry *r, const char *group_id)
{
	sqlite3_stmt *st = prepare(r, "DELETE FROM vaults WHERE group_id = ?");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int registry_each(struct registry *r, int (*fn)(const struct reg_vault *v, void *arg), void *arg)
{
	sqlite3_stmt *st = prepare(r, "SELECT " COLS " FROM vaults ORDER BY group_id");
	struct reg_vault *v = malloc(sizeof(*v));
	int rc = SQLITE_DONE;

	if (st == NULL || v == NULL) {
		sqlite3_finalize(st);
		free(v);
		return -1;
	}
	/* Rows are copied out before fn runs, so fn may call back into the registry. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row(st, v);
		if (fn(v, arg) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	crypto_wipe(v, sizeof(*v));
	free(v);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int held(struct registry *r, const char *sql, const char *s, unsigned n)
{
	sqlite3_stmt *st = prepare(r, sql);
	int rc;

	if (st == NULL)
		return -1;
	if (s != NULL)
		sqlite3_bind_text(st, 1, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int(st, 1, (int)n);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int registry_port_held(struct registry *r, unsigned port)
{
	return held(r, "SELECT 1 FROM vaults WHERE port = ?", NULL, port);
}

int registry_name_held(struct registry *r, const char *name)
{
	return held(r, "SELECT 1 FROM vaults WHERE name = ?", name, 0);
}
