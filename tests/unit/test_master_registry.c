/* Unit tests of the registry's SQLite backend (src/master/registry_sqlite.c):
 * empty open, round trip of agents / weights / quota across close and reopen,
 * replace and delete, all-or-nothing batches, WAL journal, and the parsing of
 * --agent_removal_rate_limit.
 *
 * The ZooKeeper backend (src/master/registry_zk.c) gets the same round trip plus
 * key escaping, the leader guard, a follower's read-ahead, changes larger than
 * one request and a load of 10,000 agents, against a real ZooKeeper named by MEZZO_TEST_ZK
 * (zk://host:port/path); without it those tests are skipped with the reason
 * (tests/system/test_zk.py starts a ZooKeeper and runs them). */
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
#include "master/registry_zk.h"
#include "common/zk.h"
#include "common/util.h"

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
  assert_ptr_equal(mz_registry_backend_find("zk"), &mz_registry_zk);
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


/* ------------------------------------------------------------------ ZooKeeper */

static char zk_url[1024];

/* A fresh path per test under MEZZO_TEST_ZK; skips without it. */
static void zk_fresh(const char *name) {
  const char *base = getenv("MEZZO_TEST_ZK");
  if (!base || !*base) {
    print_message("SKIP: MEZZO_TEST_ZK (zk://host:port/path) is not set; tests/system/test_zk.py sets it\n");
    skip();
  }
  static int n;
  snprintf(zk_url, sizeof zk_url, "%s/%s-%d-%d-%ld", base, name, (int)getpid(), ++n, (long)(mz_now() * 1000));
}

static void *zk_open(void) {
  char err[512] = "";
  void *h = mz_registry_zk.open(zk_url, err, sizeof err);
  if (!h) fail_msg("open %s: %s", zk_url, err);
  return h;
}

static void test_zk_round_trip(void **state) {
  (void)state;
  zk_fresh("round");
  void *h = zk_open();
  char err[512] = "";
  mz_reg_state s;
  assert_int_equal(mz_registry_zk.load(h, &s, err, sizeof err), 0);
  assert_int_equal(s.nagents + s.nweights + s.nquotas + s.nvalues, 0);
  mz_reg_state_free(&s);
  const uint8_t rec1[] = {1, 2, 3, 0, 4}, rec2[] = {9};
  mz_reg_op ops[] = {
      {.type = MZ_REG_PUT_AGENT, .id = "a1", .state = MZ_REG_AGENT_ADMITTED, .time = 10.25, .data = rec1, .len = 5},
      {.type = MZ_REG_PUT_AGENT, .id = "a/2%..", .state = MZ_REG_AGENT_UNREACHABLE, .time = 20, .data = rec2, .len = 1},
      {.type = MZ_REG_PUT_AGENT, .id = "..", .state = MZ_REG_AGENT_GONE, .time = 5, .data = rec2, .len = 0},
      {.type = MZ_REG_PUT_WEIGHT, .id = "eng/ml", .weight = 2.5},
      {.type = MZ_REG_PUT_QUOTA, .id = "eng", .text = "{\"role\":\"eng\"}"},
      {.type = MZ_REG_PUT_VALUE, .id = "maintenance/schedule", .text = "{\"windows\":[]}"},
      {.type = MZ_REG_PUT_VALUE, .id = "maintenance/agent/a1", .text = "DRAINING"},
  };
  assert_int_equal(mz_registry_zk.apply(h, ops, 7, err, sizeof err), 0);
  mz_registry_zk.close(h);

  h = zk_open(); /* another handle, as a new leader would have */
  assert_int_equal(mz_registry_zk.load(h, &s, err, sizeof err), 0);
  assert_int_equal(s.nagents, 3);
  assert_string_equal(s.agents[0].id, ".."); /* ordered by time */
  assert_int_equal(s.agents[0].len, 0);
  const mz_reg_agent *a1 = agent_of(&s, "a1"), *a2 = agent_of(&s, "a/2%..");
  assert_non_null(a1);
  assert_non_null(a2);
  assert_int_equal(a1->state, MZ_REG_AGENT_ADMITTED);
  assert_int_equal(a1->len, 5);
  assert_memory_equal(a1->data, rec1, 5);
  assert_true(a1->time == 10.25);
  assert_int_equal(a2->state, MZ_REG_AGENT_UNREACHABLE);
  assert_int_equal(s.nweights, 1);
  assert_string_equal(s.weights[0].role, "eng/ml");
  assert_true(s.weights[0].weight == 2.5);
  assert_int_equal(s.nquotas, 1);
  assert_string_equal(s.quotas[0].config, "{\"role\":\"eng\"}");
  assert_int_equal(s.nvalues, 2);
  assert_string_equal(s.values[0].key, "maintenance/agent/a1");
  assert_string_equal(s.values[0].text, "DRAINING");
  assert_string_equal(s.values[1].key, "maintenance/schedule");
  mz_reg_state_free(&s);

  mz_reg_op more[] = {
      {.type = MZ_REG_PUT_AGENT, .id = "a1", .state = MZ_REG_AGENT_GONE, .time = 30, .data = rec2, .len = 1},
      {.type = MZ_REG_DELETE_AGENT, .id = "a/2%.."},
      {.type = MZ_REG_DELETE_AGENT, .id = "never-there"},
      {.type = MZ_REG_PUT_QUOTA, .id = "eng", .text = NULL},
      {.type = MZ_REG_PUT_WEIGHT, .id = "eng/ml", .weight = 3},
      {.type = MZ_REG_PUT_VALUE, .id = "maintenance/agent/a1", .text = NULL},
  };
  assert_int_equal(mz_registry_zk.apply(h, more, 6, err, sizeof err), 0);
  /* A handle that did not load first (its existence cache is filled on demand). */
  void *h2 = zk_open();
  mz_reg_op again = {.type = MZ_REG_PUT_WEIGHT, .id = "eng/ml", .weight = 4};
  assert_int_equal(mz_registry_zk.apply(h2, &again, 1, err, sizeof err), 0);
  mz_registry_zk.close(h2);
  assert_int_equal(mz_registry_zk.load(h, &s, err, sizeof err), 0);
  assert_int_equal(s.nagents, 2);
  a1 = agent_of(&s, "a1");
  assert_non_null(a1);
  assert_int_equal(a1->state, MZ_REG_AGENT_GONE);
  assert_int_equal(a1->len, 1);
  assert_int_equal(s.nquotas, 0);
  assert_int_equal(s.nweights, 1);
  assert_true(s.weights[0].weight == 4.0);
  assert_int_equal(s.nvalues, 1);
  assert_string_equal(s.values[0].key, "maintenance/schedule");
  mz_reg_state_free(&s);
  mz_registry_zk.close(h);
}

static void test_zk_all_or_nothing_and_guard(void **state) {
  (void)state;
  zk_fresh("atomic");
  void *h = zk_open();
  char err[512] = "";
  const uint8_t rec[] = {7};
  mz_reg_op bad[] = {
      {.type = MZ_REG_PUT_AGENT, .id = "first", .state = MZ_REG_AGENT_ADMITTED, .time = 1, .data = rec, .len = 1},
      {.type = MZ_REG_PUT_WEIGHT, .id = "", .weight = 1},
  };
  assert_int_equal(mz_registry_zk.apply(h, bad, 2, err, sizeof err), -1);
  uint8_t *big = calloc(1, MZ_REG_MAX_RECORD);
  mz_reg_op huge = {.type = MZ_REG_PUT_AGENT, .id = "big", .state = MZ_REG_AGENT_ADMITTED, .data = big,
                    .len = MZ_REG_MAX_RECORD};
  assert_int_equal(mz_registry_zk.apply(h, &huge, 1, err, sizeof err), -1);
  assert_non_null(strstr(err, "too large"));
  /* The largest entry ZooKeeper takes goes in whole. */
  huge.len = MZ_REG_ZK_MAX_DATA - 64;
  big[0] = 42;
  big[huge.len - 1] = 43;
  assert_int_equal(mz_registry_zk.apply(h, &huge, 1, err, sizeof err), 0);

  /* The guard: with the leader's znode present writes go through; once it is gone none does. */
  char guard[1200];
  mz_zk_url u;
  assert_int_equal(mz_zk_parse_url(zk_url, &u, err, sizeof err), 0);
  snprintf(guard, sizeof guard, "%s/registry", u.path);
  assert_int_equal(mz_registry_zk_guard(h, guard), 0);
  mz_reg_op w = {.type = MZ_REG_PUT_WEIGHT, .id = "r", .weight = 2};
  assert_int_equal(mz_registry_zk.apply(h, &w, 1, err, sizeof err), 0);
  snprintf(guard, sizeof guard, "%s/json.info_0000000042", u.path);
  assert_int_equal(mz_registry_zk_guard(h, guard), 0);
  mz_reg_op two[] = {
      {.type = MZ_REG_PUT_WEIGHT, .id = "r", .weight = 5},
      {.type = MZ_REG_PUT_AGENT, .id = "second", .state = MZ_REG_AGENT_ADMITTED, .time = 1, .data = rec, .len = 1},
  };
  assert_int_equal(mz_registry_zk.apply(h, two, 2, err, sizeof err), -1);
  assert_non_null(strstr(err, "no longer the leader"));

  mz_reg_state s;
  assert_int_equal(mz_registry_zk.load(h, &s, err, sizeof err), 0);
  assert_int_equal(s.nagents, 1);
  assert_string_equal(s.agents[0].id, "big");
  assert_int_equal(s.agents[0].len, huge.len);
  assert_int_equal(s.agents[0].data[0], 42);
  assert_int_equal(s.agents[0].data[huge.len - 1], 43);
  assert_int_equal(s.nweights, 1);
  assert_true(s.weights[0].weight == 2.0);
  mz_reg_state_free(&s);
  free(big);
  mz_registry_zk.close(h);
}

/* A follower's read-ahead: the copy serves the load while nothing changed, and is dropped once something did. */
static void test_zk_read_ahead(void **state) {
  (void)state;
  zk_fresh("ahead");
  void *leader = zk_open(), *follower = zk_open();
  char err[512] = "";
  const uint8_t rec[] = {1, 2};
  mz_reg_op ops[] = {
      {.type = MZ_REG_PUT_AGENT, .id = "a1", .state = MZ_REG_AGENT_ADMITTED, .time = 1, .data = rec, .len = 2},
      {.type = MZ_REG_PUT_VALUE, .id = "k", .text = "v1"},
  };
  assert_int_equal(mz_registry_zk.apply(leader, ops, 2, err, sizeof err), 0);
  assert_int_equal(mz_registry_zk_prefetch(follower, 0, err, sizeof err), 0);
  assert_int_equal(mz_registry_zk_prefetch(follower, 0, err, sizeof err), 0); /* up to date: one round trip */
  mz_reg_state s;
  assert_int_equal(mz_registry_zk.load(follower, &s, err, sizeof err), 0);
  assert_int_equal(s.nagents, 1);
  assert_int_equal(s.nvalues, 1);
  assert_string_equal(s.values[0].text, "v1");
  mz_reg_state_free(&s);
  /* A change after the read-ahead: the next load reads again. */
  mz_reg_op more[] = {
      {.type = MZ_REG_PUT_VALUE, .id = "k", .text = "v2"},
      {.type = MZ_REG_PUT_AGENT, .id = "a2", .state = MZ_REG_AGENT_GONE, .time = 2, .data = rec, .len = 1},
  };
  assert_int_equal(mz_registry_zk.apply(leader, more, 2, err, sizeof err), 0);
  assert_int_equal(mz_registry_zk.load(follower, &s, err, sizeof err), 0);
  assert_int_equal(s.nagents, 2);
  assert_string_equal(s.values[0].text, "v2");
  mz_reg_state_free(&s);
  /* The follower, now leading, writes through the same handle. */
  mz_reg_op del = {.type = MZ_REG_DELETE_AGENT, .id = "a2"};
  assert_int_equal(mz_registry_zk.apply(follower, &del, 1, err, sizeof err), 0);
  assert_int_equal(mz_registry_zk.load(leader, &s, err, sizeof err), 0);
  assert_int_equal(s.nagents, 1);
  mz_reg_state_free(&s);
  mz_registry_zk.close(follower);
  mz_registry_zk.close(leader);
}

/* 10,000 agents: one change split into several multis, then a pipelined load. */
static void test_zk_many_agents(void **state) {
  (void)state;
  zk_fresh("many");
  void *h = zk_open();
  char err[512] = "";
  enum { N = 10000 };
  uint8_t rec[400];
  memset(rec, 'x', sizeof rec);
  mz_reg_op *ops = calloc(N, sizeof *ops);
  char (*ids)[48] = calloc(N, sizeof *ids);
  for (int i = 0; i < N; i++) {
    snprintf(ids[i], sizeof ids[i], "%08d-agent-S%d", i, i);
    ops[i] = (mz_reg_op){.type = MZ_REG_PUT_AGENT, .id = ids[i], .state = MZ_REG_AGENT_ADMITTED, .time = 1000 + i,
                         .data = rec, .len = sizeof rec};
  }
  double t0 = mz_monotonic();
  assert_int_equal(mz_registry_zk.apply(h, ops, N, err, sizeof err), 0);
  double t1 = mz_monotonic();
  mz_registry_zk.close(h);
  h = zk_open();
  mz_reg_state s;
  double t2 = mz_monotonic();
  assert_int_equal(mz_registry_zk.load(h, &s, err, sizeof err), 0);
  double t3 = mz_monotonic();
  print_message("registry_zk agents=%d apply_s=%.3f load_s=%.3f\n", N, t1 - t0, t3 - t2);
  assert_int_equal(s.nagents, N);
  for (int i = 0; i < N; i++) {
    assert_string_equal(s.agents[i].id, ids[i]);
    assert_int_equal(s.agents[i].len, sizeof rec);
  }
  mz_reg_state_free(&s);
  /* And all of them changed at once (the re-registration timeout's change). */
  for (int i = 0; i < N; i++) ops[i].state = MZ_REG_AGENT_UNREACHABLE;
  assert_int_equal(mz_registry_zk.apply(h, ops, N, err, sizeof err), 0);
  assert_int_equal(mz_registry_zk.load(h, &s, err, sizeof err), 0);
  assert_int_equal(s.nagents, N);
  for (int i = 0; i < N; i++) assert_int_equal(s.agents[i].state, MZ_REG_AGENT_UNREACHABLE);
  mz_reg_state_free(&s);
  mz_registry_zk.close(h);
  free(ids);
  free(ops);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(test_round_trip_and_reopen, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_is_all_or_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wal_and_full_sync, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_failure, setup, teardown),
      cmocka_unit_test(test_backends_and_rate_limit),
      cmocka_unit_test(test_zk_round_trip),
      cmocka_unit_test(test_zk_all_or_nothing_and_guard),
      cmocka_unit_test(test_zk_read_ahead),
      cmocka_unit_test(test_zk_many_agents),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
