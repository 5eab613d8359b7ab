/* Unit tests of common/util.c's process helpers: mz_cgroups_join_from_env (what
 * mezzo-executor does first: writes "0" to each fd the agent listed, closes them and
 * drops the variable; a malformed list is refused, naming the variable) and
 * mz_write_all (every byte, through a pipe). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

static void test_join_without_the_variable_does_nothing(void **state) {
  unsetenv(MZ_CGROUP_FDS_ENV);
  char err[256] = "";
  assert_int_equal(mz_cgroups_join_from_env(err, sizeof err), 0);
  assert_string_equal(err, "");
}

static void test_join_writes_zero_to_each_fd_and_closes_them(void **state) {
  int a[2], b[2];
  assert_int_equal(pipe(a), 0);
  assert_int_equal(pipe(b), 0);
  char v[64];
  snprintf(v, sizeof v, "%d,%d", a[1], b[1]);
  setenv(MZ_CGROUP_FDS_ENV, v, 1);
  char err[256] = "";
  assert_int_equal(mz_cgroups_join_from_env(err, sizeof err), 0);
  assert_null(getenv(MZ_CGROUP_FDS_ENV));
  char buf[8];
  assert_int_equal(read(a[0], buf, sizeof buf), 1);
  assert_int_equal(buf[0], '0');
  assert_int_equal(read(b[0], buf, sizeof buf), 1);
  assert_int_equal(buf[0], '0');
  assert_int_equal(fcntl(a[1], F_GETFD), -1); /* closed */
  assert_int_equal(fcntl(b[1], F_GETFD), -1);
  assert_int_equal(read(a[0], buf, sizeof buf), 0); /* and so the pipe is at its end */
  close(a[0]);
  close(b[0]);
}

static void test_join_refuses_a_malformed_list(void **state) {
  const char *bad[] = {"", "x", "4,x", "2", "4;5", "1,2,3", "4,5,6,7,8,9,10,11,12", "99999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    setenv(MZ_CGROUP_FDS_ENV, bad[i], 1);
    char err[256] = "";
    int rc = mz_cgroups_join_from_env(err, sizeof err);
    if (!bad[i][0]) { /* set but empty: nothing to join */
      assert_int_equal(rc, 0);
      continue;
    }
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, MZ_CGROUP_FDS_ENV));
  }
  unsetenv(MZ_CGROUP_FDS_ENV);
}

static void test_join_reports_an_fd_it_cannot_write(void **state) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  char v[32];
  snprintf(v, sizeof v, "%d", p[0]); /* the read end: a write fails */
  setenv(MZ_CGROUP_FDS_ENV, v, 1);
  char err[256] = "";
  assert_int_equal(mz_cgroups_join_from_env(err, sizeof err), -1);
  assert_non_null(strstr(err, "cannot join"));
  assert_null(getenv(MZ_CGROUP_FDS_ENV));
  close(p[1]);
}

static void test_write_all_writes_every_byte(void **state) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  char big[50000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7);
  pid_t child = fork();
  if (child == 0) { /* the reader: the writer blocks on the full pipe until it drains */
    close(p[1]);
    char got[sizeof big];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof got && (r = read(p[0], got + n, sizeof got - n)) > 0) n += (size_t)r;
    _exit(n == sizeof big && memcmp(got, big, sizeof big) == 0 ? 0 : 1);
  }
  close(p[0]);
  assert_int_equal(mz_write_all(p[1], big, sizeof big), 0);
  close(p[1]);
  int st;
  assert_int_equal(waitpid(child, &st, 0), child);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  assert_int_equal(mz_write_all(-1, "x", 1), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_join_without_the_variable_does_nothing),
      cmocka_unit_test(test_join_writes_zero_to_each_fd_and_closes_them),
      cmocka_unit_test(test_join_refuses_a_malformed_list),
      cmocka_unit_test(test_join_reports_an_fd_it_cannot_write),
      cmocka_unit_test(test_write_all_writes_every_byte),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
