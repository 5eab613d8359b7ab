/* registry_sqlite: the registry in one SQLite file (see registry.h).
 *
 * Tables: agents(id PRIMARY KEY, state, time, data BLOB), weights(role, weight),
 * quotas(role, config TEXT), kv(key, text). The journal is WAL with synchronous=FULL, so a
 * committed transaction survives a crash of the process or of the machine; each
 * apply() is one IMMEDIATE transaction, rolled back on any failure. The handle
 * (a sqlite3 connection) is owned by the caller of open() and freed by close().
 * Work happens on the caller's thread (the master's loop): at this scale one
 * small transaction costs about one fsync. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "master/registry.h"

#define SCHEMA                                                                                       \
  "CREATE TABLE IF NOT EXISTS agents (id TEXT PRIMARY KEY, state INTEGER NOT NULL, time REAL NOT NULL, " \
  "data BLOB NOT NULL);"                                                                             \
  "CREATE TABLE IF NOT EXISTS weights (role TEXT PRIMARY KEY, weight REAL NOT NULL);"                \
  "CREATE TABLE IF NOT EXISTS quotas (role TEXT PRIMARY KEY, config TEXT NOT NULL);"               \
  "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, text TEXT NOT NULL);"

static int fail(sqlite3 *db, const char *what, char *err, size_t errlen) {
  snprintf(err, errlen, "registry: %s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
  return -1;
}

static void *sq_open(const char *location, char *err, size_t errlen) {
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(location, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
      SQLITE_OK) {
    fail(db, location, err, errlen);
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_busy_timeout(db, 5000);
  char *msg = NULL;
  const char *setup = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; " SCHEMA;
  if (sqlite3_exec(db, setup, NULL, NULL, &msg) != SQLITE_OK) {
    snprintf(err, errlen, "registry: cannot set up %s: %s", location, msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

static void sq_close(void *b) {
  if (b) sqlite3_close(b);
}

static char *col_text(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return mz_strdup(t ? (const char *)t : "");
}

static int sq_load(void *b, mz_reg_state *out, char *err, size_t errlen) {
  sqlite3 *db = b;
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = NULL;
  size_t cap = 0;
  if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) return fail(db, "begin", err, errlen);
  if (sqlite3_prepare_v2(db, "SELECT id, state, time, data FROM agents ORDER BY time, id", -1, &st, NULL) !=
      SQLITE_OK)
    goto bad;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (out->nagents == cap) out->agents = mz_realloc(out->agents, (cap = cap ? cap * 2 : 16) * sizeof *out->agents);
    mz_reg_agent *a = &out->agents[out->nagents++];
    a->id = col_text(st, 0);
    a->state = (mz_reg_agent_state)sqlite3_column_int(st, 1);
    a->time = sqlite3_column_double(st, 2);
    a->len = (size_t)sqlite3_column_bytes(st, 3);
    a->data = mz_malloc(a->len ? a->len : 1);
    if (a->len) memcpy(a->data, sqlite3_column_blob(st, 3), a->len);
  }
  if (rc != SQLITE_DONE) goto bad;
  sqlite3_finalize(st);
  st = NULL;
  cap = 0;
  if (sqlite3_prepare_v2(db, "SELECT role, weight FROM weights ORDER BY role", -1, &st, NULL) != SQLITE_OK) goto bad;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (out->nweights == cap) out->weights = mz_realloc(out->weights, (cap = cap ? cap * 2 : 8) * sizeof *out->weights);
    out->weights[out->nweights].role = col_text(st, 0);
    out->weights[out->nweights++].weight = sqlite3_column_double(st, 1);
  }
  if (rc != SQLITE_DONE) goto bad;
  sqlite3_finalize(st);
  st = NULL;
  cap = 0;
  if (sqlite3_prepare_v2(db, "SELECT role, config FROM quotas ORDER BY role", -1, &st, NULL) != SQLITE_OK) goto bad;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (out->nquotas == cap) out->quotas = mz_realloc(out->quotas, (cap = cap ? cap * 2 : 8) * sizeof *out->quotas);
    out->quotas[out->nquotas].role = col_text(st, 0);
    out->quotas[out->nquotas++].config = col_text(st, 1);
  }
  if (rc != SQLITE_DONE) goto bad;
  sqlite3_finalize(st);
  st = NULL;
  cap = 0;
  if (sqlite3_prepare_v2(db, "SELECT key, text FROM kv ORDER BY key", -1, &st, NULL) != SQLITE_OK) goto bad;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (out->nvalues == cap) out->values = mz_realloc(out->values, (cap = cap ? cap * 2 : 8) * sizeof *out->values);
    out->values[out->nvalues].key = col_text(st, 0);
    out->values[out->nvalues++].text = col_text(st, 1);
  }
  if (rc != SQLITE_DONE) goto bad;
  sqlite3_finalize(st);
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  return 0;
bad:
  fail(db, "load", err, errlen);
  sqlite3_finalize(st);
  sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  mz_reg_state_free(out);
  return -1;
}

static int apply_one(sqlite3 *db, const mz_reg_op *op, char *err, size_t errlen) {
  const char *sql;
  switch (op->type) {
    case MZ_REG_PUT_AGENT:
      sql = "INSERT OR REPLACE INTO agents (id, state, time, data) VALUES (?1, ?2, ?3, ?4)";
      break;
    case MZ_REG_DELETE_AGENT:
      sql = "DELETE FROM agents WHERE id = ?1";
      break;
    case MZ_REG_PUT_WEIGHT:
      sql = "INSERT OR REPLACE INTO weights (role, weight) VALUES (?1, ?2)";
      break;
    case MZ_REG_PUT_QUOTA:
      sql = op->text ? "INSERT OR REPLACE INTO quotas (role, config) VALUES (?1, ?2)" : "DELETE FROM quotas WHERE role = ?1";
      break;
    case MZ_REG_PUT_VALUE:
      sql = op->text ? "INSERT OR REPLACE INTO kv (key, text) VALUES (?1, ?2)" : "DELETE FROM kv WHERE key = ?1";
      break;
    default:
      snprintf(err, errlen, "registry: unknown operation %d", (int)op->type);
      return -1;
  }
  if (!op->id || !*op->id) {
    snprintf(err, errlen, "registry: operation without a key");
    return -1;
  }
  if (op->type == MZ_REG_PUT_AGENT && op->len > MZ_REG_MAX_RECORD) {
    snprintf(err, errlen, "registry: record of agent %s is too large (%zu bytes)", op->id, op->len);
    return -1;
  }
  if (op->type == MZ_REG_PUT_VALUE &&
      (strlen(op->id) > MZ_REG_MAX_KEY || (op->text && strlen(op->text) > MZ_REG_MAX_RECORD))) {
    snprintf(err, errlen, "registry: value %.64s is too large", op->id);
    return -1;
  }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return fail(db, "prepare", err, errlen);
  sqlite3_bind_text(st, 1, op->id, -1, SQLITE_STATIC);
  if (op->type == MZ_REG_PUT_AGENT) {
    sqlite3_bind_int(st, 2, (int)op->state);
    sqlite3_bind_double(st, 3, op->time);
    sqlite3_bind_blob(st, 4, op->data ? (const void *)op->data : "", (int)op->len, SQLITE_STATIC);
  } else if (op->type == MZ_REG_PUT_WEIGHT) {
    sqlite3_bind_double(st, 2, op->weight);
  } else if ((op->type == MZ_REG_PUT_QUOTA || op->type == MZ_REG_PUT_VALUE) && op->text) {
    sqlite3_bind_text(st, 2, op->text, -1, SQLITE_STATIC);
  }
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return fail(db, "write", err, errlen);
  return 0;
}

static int sq_apply(void *b, const mz_reg_op *ops, size_t n, char *err, size_t errlen) {
  sqlite3 *db = b;
  if (n == 0) return 0;
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return fail(db, "begin", err, errlen);
  for (size_t i = 0; i < n; i++) {
    if (apply_one(db, &ops[i], err, errlen) != 0) {
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      return -1;
    }
  }
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    fail(db, "commit", err, errlen);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  return 0;
}

const mz_registry_backend mz_registry_sqlite = {
    .name = "sqlite", .open = sq_open, .close = sq_close, .load = sq_load, .apply = sq_apply};
