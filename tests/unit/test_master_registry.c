/* Unit tests of the registry's SQLite backend (src/master/registry_sqlite.c):
 * empty open, round trip of agents / weights / quota across close and reopen,
 * replace and delete, all-or-nothing batches, WAL journal, and the parsing of
 * --agent_removal_rate_limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "master/registry.h"
#include "master/registry_master.h"

static char dir[256];
static char path[300];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/mz-registry-test-XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/registry.db", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
  return 0;
}

static void *open_db(void) {
  char err[512] = "";
  void *h = mz_registry_sqlite.open(path, err, sizeof err);
  if (!h) fail_msg("open: %s", err);
  return h;
}

static const mz_reg_agent *agent_of(const mz_reg_state *s, const char *id) {
  for (size_t i = 0; i < s->nagents; i++)
    if (!strcmp(s->agents[i].id, id)) return &s->agents[i];
  return NULL;
}

static void test_empty(void **state) {
  (void)state;
  void *h = open_db();
  mz_reg_state s;
  char err[512];
  assert_int_equal(mz_registry_sqlite.load(h, &s, err, sizeof err), 0);
  assert_int_equal(s.nagents, 0);
  assert_int_equal(s.nweights, 0);
  assert_int_equal(s.nquotas, 0);
  mz_reg_state_free(&s);
  assert_int_equal(mz_registry_sqlite.apply(h, NULL, 0, err, sizeof err), 0);
  mz_registry_sqlite.close(h);
}

static void test_round_trip_and_reopen(void **state) {
  (void)state;
  void *h = open_db();
  char err[512];
  const uint8_t rec1[] = {1, 2, 3, 0, 4}, rec2[] = {9};
  mz_reg_op ops[] = {
      {.type = MZ_REG_PUT_AGENT, .id = "a1", .state = MZ_REG_AGENT_ADMITTED, .time = 10, .data = rec1, .len = 5},
      {.type = MZ_REG_PUT_AGENT, .id = "a2", .state = MZ_REG_AGENT_UNREACHABLE, .time = 20, .data = rec2, .len = 1},
      {.type = MZ_REG_PUT_WEIGHT, .id = "eng", .weight = 2.5},
      {.type = MZ_REG_PUT_QUOTA, .id = "eng", .text = "{\"role\":\"eng\"}"},
      {.type = MZ_REG_PUT_VALUE, .id = "maintenance/schedule", .text = "{\"windows\":[]}"},
      {.type = MZ_REG_PUT_VALUE, .id = "maintenance/agent/a1", .text = "DRAINING"},
  };
  assert_int_equal(mz_registry_sqlite.apply(h, ops, 6, err, sizeof err), 0);
  mz_registry_sqlite.close(h);

  h = open_db();
  mz_reg_state s;
  assert_int_equal(mz_registry_sqlite.load(h, &s, err, sizeof err), 0);
  assert_int_equal(s.nagents, 2);
  const mz_reg_agent *a1 = agent_of(&s, "a1"), *a2 = agent_of(&s, "a2");
  assert_non_null(a1);
  assert_non_null(a2);
  assert_int_equal(a1->state, MZ_REG_AGENT_ADMITTED);
  assert_int_equal(a1->len, 5);
  assert_memory_equal(a1->data, rec1, 5);
  assert_true(a1->time == 10.0);
  assert_int_equal(a2->state, MZ_REG_AGENT_UNREACHABLE);
  assert_int_equal(s.nweights, 1);
  assert_string_equal(s.weights[0].role, "eng");
  assert_true(s.weights[0].weight == 2.5);
  assert_int_equal(s.nquotas, 1);
  assert_string_equal(s.quotas[0].config, "{\"role\":\"eng\"}");
  assert_int_equal(s.nvalues, 2);
  assert_string_equal(s.values[0].key, "maintenance/agent/a1");
  assert_string_equal(s.values[0].text, "DRAINING");
  assert_string_equal(s.values[1].key, "maintenance/schedule");
  mz_reg_state_free(&s);

  /* Replace, delete, and remove a quota. */
  mz_reg_op more[] = {
      {.type = MZ_REG_PUT_AGENT, .id = "a1", .state = MZ_REG_AGENT_GONE, .time = 30, .data = rec2, .len = 1},
      {.type = MZ_REG_DELETE_AGENT, .id = "a2"},
      {.type = MZ_REG_PUT_QUOTA, .id = "eng", .text = NULL},
      {.type = MZ_REG_PUT_WEIGHT, .id = "eng", .weight = 3},
      {.type = MZ_REG_PUT_VALUE, .id = "maintenance/agent/a1", .text = NULL},
  };
  assert_int_equal(mz_registry_sqlite.apply(h, more, 5, err, sizeof err), 0);
  assert_int_equal(mz_registry_sqlite.load(h, &s, err, sizeof err), 0);
  assert_int_equal(s.nagents, 1);
  assert_int_equal(s.agents[0].state, MZ_REG_AGENT_GONE);
  assert_int_equal(s.agents[0].len, 1);
  assert_int_equal(s.nquotas, 0);
  assert_int_equal(s.nweights, 1);
  assert_true(s.weights[0].weight == 3.0);
  assert_int_equal(s.nvalues, 1);
  assert_string_equal(s.values[0].key, "maintenance/schedule");
  mz_reg_state_free(&s);
  mz_registry_sqlite.close(h);
}

static void test_batch_is_all_or_nothing(void **state) {
  (void)state;
  void *h = open_db();
  char err[512] = "";
  const uint8_t rec[] = {7};
  mz_reg_op ops[] = {
      {.type = MZ_REG_PUT_AGENT, .id = "first", .state = MZ_REG_AGENT_ADMITTED, .time = 1, .data = rec, .len = 1},
      {.type = MZ_REG_PUT_WEIGHT, .id = "", .weight = 1}, /* invalid: no key */
  };
  assert_int_equal(mz_registry_sqlite.apply(h, ops, 2, err, sizeof err), -1);
  assert_true(strlen(err) > 0);
  mz_reg_op huge = {.type = MZ_REG_PUT_AGENT, .id = "big", .state = MZ_REG_AGENT_ADMITTED, .data = rec,
                    .len = MZ_REG_MAX_RECORD + 1};
  assert_int_equal(mz_registry_sqlite.apply(h, &huge, 1, err, sizeof err), -1);
  mz_reg_state s;
  assert_int_equal(mz_registry_sqlite.load(h, &s, err, sizeof err), 0);
  assert_int_equal(s.nagents, 0);
  assert_int_equal(s.nweights, 0);
  mz_reg_state_free(&s);
  mz_registry_sqlite.close(h);
}

static void test_wal_and_full_sync(void **state) {
  (void)state;
  void *h = open_db();
  mz_registry_sqlite.close(h);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

static void test_open_failure(void **state) {
  (void)state;
  char err[512] = "";
  assert_null(mz_registry_sqlite.open("/nonexistent-dir-mz/x/registry.db", err, sizeof err));
  assert_true(strlen(err) > 0);
}

static void test_backends_and_rate_limit(void **state) {
  (void)state;
  assert_ptr_equal(mz_registry_backend_find("sqlite"), &mz_registry_sqlite);
  assert_ptr_equal(mz_registry_backend_find(NULL), &mz_registry_sqlite);
  assert_ptr_equal(mz_registry_backend_find("in_memory"), &mz_registry_in_memory);
  assert_null(mz_registry_backend_find("zk-later"));
  double iv = 0;
  assert_int_equal(mz_parse_rate_limit("1/10mins", &iv), 0);
  assert_true(iv == 600.0);
  assert_int_equal(mz_parse_rate_limit("2/3hrs", &iv), 0);
  assert_true(iv == 5400.0);
  assert_int_equal(mz_parse_rate_limit("4/2secs", &iv), 0);
  assert_true(iv == 0.5);
  assert_int_equal(mz_parse_rate_limit("0/1secs", &iv), -1);
  assert_int_equal(mz_parse_rate_limit("1", &iv), -1);
  assert_int_equal(mz_parse_rate_limit("x/1secs", &iv), -1);
  assert_int_equal(mz_parse_rate_limit("1/soon", &iv), -1);
  assert_int_equal(mz_parse_rate_limit("", &iv), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(test_round_trip_and_reopen, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_is_all_or_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wal_and_full_sync, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_failure, setup, teardown),
      cmocka_unit_test(test_backends_and_rate_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
