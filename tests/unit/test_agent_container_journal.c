/* Unit tests of the agent's container journal (src/agent/container_journal.c):
 * records added and removed are read back by a later open in the order added, a
 * torn or garbled line is ignored, one-file-per-container records of earlier
 * versions are taken in (and their files removed), the file is compacted as it
 * grows, and bad ids are refused; a container recorded before its pid is known (pid
 * 0) gets it from a later line. Works in a fresh temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/checkpoint.h"
#include "agent/container_journal.h"
#include "agent/treewalk.h"

static char dir[256];

static int setup(void **state) {
  snprintf(dir, sizeof dir, "/tmp/mz-cjournal-test-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  mz_rmtree_now(dir, NULL, 0);
  return 0;
}

static void write_text(const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int exists(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

static mz_cjournal *open_ok(void) {
  char err[512] = "";
  mz_cjournal *j = mz_cjournal_open(dir, err, sizeof err);
  if (!j) fail_msg("open: %s", err);
  return j;
}

static void test_records_survive_reopen_in_order(void **state) {
  mz_cjournal *j = open_ok();
  assert_int_equal(mz_cjournal_add(j, "c1", 101, 1001), 0);
  assert_int_equal(mz_cjournal_add(j, "c2", 102, 1002), 0);
  assert_int_equal(mz_cjournal_add(j, "c3", 103, 1003), 0);
  mz_cjournal_remove(j, "c2");
  mz_cjournal_remove(j, "never-added");
  mz_cjournal_free(j);

  j = open_ok();
  const char *ids[4];
  pid_t pids[4];
  unsigned long long starts[4];
  assert_int_equal(mz_cjournal_list(j, ids, pids, starts, 4), 2);
  assert_string_equal(ids[0], "c1");
  assert_int_equal(pids[0], 101);
  assert_int_equal(starts[0], 1001);
  assert_string_equal(ids[1], "c3");
  assert_int_equal(pids[1], 103);
  pid_t pid = 0;
  assert_int_equal(mz_cjournal_get(j, "c3", &pid, NULL), 1);
  assert_int_equal(pid, 103);
  assert_int_equal(mz_cjournal_get(j, "c2", NULL, NULL), 0);
  assert_int_equal(mz_cjournal_lines(j), 2); /* compacted when opened */
  mz_cjournal_free(j);
}

static void test_torn_and_garbled_lines_are_ignored(void **state) {
  write_text("journal", "+ a 100 5\nnonsense\n+ bad id 7 8\n- \n+ c 1 9\n+ b 200");
  mz_cjournal *j = open_ok();
  const char *ids[4];
  assert_int_equal(mz_cjournal_list(j, ids, NULL, NULL, 4), 1); /* c's pid 1 is not a container's */
  assert_string_equal(ids[0], "a");
  mz_cjournal_free(j);
}

static void test_earlier_per_container_files_are_taken_in(void **state) {
  write_text("old-container", "4242 777\n");
  write_text("journal", "+ new 99 3\n");
  mz_cjournal *j = open_ok();
  pid_t pid = 0;
  unsigned long long start = 0;
  assert_int_equal(mz_cjournal_get(j, "old-container", &pid, &start), 1);
  assert_int_equal(pid, 4242);
  assert_int_equal(start, 777);
  assert_int_equal(mz_cjournal_get(j, "new", NULL, NULL), 1);
  assert_false(exists("old-container"));
  assert_false(exists("journal.tmp"));
  mz_cjournal_free(j);
  j = open_ok(); /* and it is in the journal now */
  assert_int_equal(mz_cjournal_get(j, "old-container", NULL, NULL), 1);
  mz_cjournal_free(j);
}

static void test_file_is_compacted_as_it_grows(void **state) {
  mz_cjournal *j = open_ok();
  assert_int_equal(mz_cjournal_add(j, "keeper", 7, 70), 0);
  char id[32];
  size_t most = 0;
  for (int i = 0; i < 5000; i++) {
    snprintf(id, sizeof id, "t%d", i);
    assert_int_equal(mz_cjournal_add(j, id, 1000 + i, (unsigned long long)i), 0);
    mz_cjournal_remove(j, id);
    if (mz_cjournal_lines(j) > most) most = mz_cjournal_lines(j);
  }
  assert_true(most <= 2 + MZ_CJOURNAL_SLACK + 1);
  struct stat st;
  char path[512];
  snprintf(path, sizeof path, "%s/journal", dir);
  assert_int_equal(stat(path, &st), 0);
  assert_true(st.st_size < (MZ_CJOURNAL_SLACK + 8) * 24);
  mz_cjournal_free(j);
  j = open_ok();
  const char *ids[2];
  assert_int_equal(mz_cjournal_list(j, ids, NULL, NULL, 2), 1);
  assert_string_equal(ids[0], "keeper");
  mz_cjournal_free(j);
}

static void test_a_pid_that_comes_later(void **state) {
  mz_cjournal *j = open_ok();
  assert_int_equal(mz_cjournal_add(j, "p", 0, 0), 0);
  assert_int_equal(mz_cjournal_add(j, "q", 0, 0), 0);
  assert_int_equal(mz_cjournal_add(j, "p", 4321, 0), 0);
  mz_cjournal_free(j);
  j = open_ok();
  const char *ids[3];
  pid_t pids[3];
  assert_int_equal(mz_cjournal_list(j, ids, pids, NULL, 3), 2);
  assert_string_equal(ids[0], "p"); /* in the order first recorded */
  assert_int_equal(pids[0], 4321);
  assert_string_equal(ids[1], "q");
  assert_int_equal(pids[1], 0); /* a crash before its pid came: destroyed by id */
  mz_cjournal_free(j);
}

static void test_bad_ids_are_refused(void **state) {
  mz_cjournal *j = open_ok();
  char longid[MZ_CJOURNAL_ID_MAX + 2];
  memset(longid, 'x', sizeof longid - 1);
  longid[sizeof longid - 1] = '\0';
  assert_int_equal(mz_cjournal_add(j, "", 10, 1), -1);
  assert_int_equal(mz_cjournal_add(j, NULL, 10, 1), -1);
  assert_int_equal(mz_cjournal_add(j, "a b", 10, 1), -1);
  assert_int_equal(mz_cjournal_add(j, "../x", 10, 1), -1);
  assert_int_equal(mz_cjournal_add(j, "a\nb", 10, 1), -1);
  assert_int_equal(mz_cjournal_add(j, longid, 10, 1), -1);
  assert_int_equal(mz_cjournal_add(j, "ok", -2, 1), -1);
  assert_int_equal(mz_cjournal_add(j, "ok", 1, 1), -1); /* init is no container's */
  longid[MZ_CJOURNAL_ID_MAX] = '\0';
  assert_int_equal(mz_cjournal_add(j, longid, 10, 1), 0);
  mz_cjournal_free(j);
  j = open_ok();
  assert_int_equal(mz_cjournal_list(j, NULL, NULL, NULL, 0), 1);
  assert_int_equal(mz_cjournal_get(j, longid, NULL, NULL), 1);
  mz_cjournal_free(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_records_survive_reopen_in_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_and_garbled_lines_are_ignored, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_pid_that_comes_later, setup, teardown),
      cmocka_unit_test_setup_teardown(test_earlier_per_container_files_are_taken_in, setup, teardown),
      cmocka_unit_test_setup_teardown(test_file_is_compacted_as_it_grows, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_ids_are_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
