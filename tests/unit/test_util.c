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

#include "common/task_command.h"
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

/* task_command: a command's argv and environment as the command executor gives them. */
static void test_task_command_argv_and_environment(void **state) {
  Mesos__V1__CommandInfo cmd = MESOS__V1__COMMAND_INFO__INIT;
  char *path, **argv, err[128];
  int search;
  assert_int_equal(mz_command_argv(&cmd, &path, &argv, &search, err, sizeof err), -1); /* no value */
  cmd.value = "echo $X";
  assert_int_equal(mz_command_argv(&cmd, &path, &argv, &search, err, sizeof err), 0);
  assert_string_equal(path, "/bin/sh");
  assert_string_equal(argv[0], "sh");
  assert_string_equal(argv[1], "-c");
  assert_string_equal(argv[2], "echo $X");
  assert_null(argv[3]);
  assert_int_equal(search, 0);
  free(path);
  mz_command_strv_free(argv);
  char *args[] = {"prog-name", "a"};
  cmd.value = "prog";
  cmd.has_shell = 1;
  cmd.shell = 0;
  cmd.n_arguments = 2;
  cmd.arguments = args;
  assert_int_equal(mz_command_argv(&cmd, &path, &argv, &search, err, sizeof err), 0);
  assert_string_equal(path, "prog");
  assert_string_equal(argv[0], "prog-name");
  assert_string_equal(argv[1], "a");
  assert_null(argv[2]);
  assert_int_equal(search, 1); /* no '/': looked up in PATH */
  free(path);
  mz_command_strv_free(argv);
  /* The base, then more over it, then the CommandInfo's variables over both (secrets skipped). */
  Mesos__V1__Environment env = MESOS__V1__ENVIRONMENT__INIT;
  Mesos__V1__Environment__Variable v1 = MESOS__V1__ENVIRONMENT__VARIABLE__INIT, v2 = v1, v3 = v1;
  v1.name = "A";
  v1.value = "cmd";
  v2.name = "S";
  v2.value = "secret";
  v2.has_type = 1;
  v2.type = MESOS__V1__ENVIRONMENT__VARIABLE__TYPE__SECRET;
  v3.name = "NEW";
  Mesos__V1__Environment__Variable *vars[] = {&v1, &v2, &v3};
  env.n_variables = 3;
  env.variables = vars;
  cmd.environment = &env;
  char *base[] = {"A=base", "B=base", "PORT0=1", NULL};
  char *more[] = {"B=more", "PORT0=31000", NULL};
  char **e = mz_command_env(base, &cmd, more, err, sizeof err);
  assert_non_null(e);
  assert_string_equal(e[0], "A=cmd");
  assert_string_equal(e[1], "B=more");
  assert_string_equal(e[2], "PORT0=31000");
  assert_string_equal(e[3], "NEW=");
  assert_null(e[4]);
  mz_command_strv_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_task_command_argv_and_environment),
      cmocka_unit_test(test_join_without_the_variable_does_nothing),
      cmocka_unit_test(test_join_writes_zero_to_each_fd_and_closes_them),
      cmocka_unit_test(test_join_refuses_a_malformed_list),
      cmocka_unit_test(test_join_reports_an_fd_it_cannot_write),
      cmocka_unit_test(test_write_all_writes_every_byte),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
