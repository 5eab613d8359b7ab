/* Unit tests of the agent's side of the executor fork server (src/agent/fork_server.c)
 * with the real mezzo-executor --fork-server (next to this test's directory, bin/):
 * submitted requests' pids are collected in the order of the requests, also when a
 * synchronous spawn reads their replies ahead of its own; collect says when nothing
 * is outstanding; requests that a server dies with are collected as -EPIPE; a server
 * that is gone refuses further requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/fork_server.h"
#include "common/fork_wire.h"

static char executor[PATH_MAX];

static mz_fork_server *start(void) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  assert_true(n > 0);
  self[n] = '\0';
  char *slash = strrchr(self, '/'); /* <bin>/tests/test_... */
  *slash = '\0';
  slash = strrchr(self, '/');
  *slash = '\0';
  snprintf(executor, sizeof executor, "%s/mezzo-executor", self);
  if (access(executor, X_OK) != 0) skip();
  char *envp[] = {"PATH=/usr/bin:/bin", NULL};
  char err[256] = "";
  mz_fork_server *fs = mz_fork_server_start(executor, envp, err, sizeof err);
  if (!fs) fail_msg("start: %s", err);
  return fs;
}

/* The descriptors of a request: error pipe, stdin, stdout, stderr (the read end of the
 * error pipe in *errr). */
static void request_fds(int *fds, int *errr) {
  int p[2];
  assert_int_equal(pipe2(p, O_CLOEXEC), 0);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  fds[0] = p[1];
  fds[1] = fds[2] = fds[3] = null;
  *errr = p[0];
}

static void close_request_fds(int *fds) {
  close(fds[0]);
  close(fds[1]);
}

/* `sh -c "exit <code>"`, submitted or (sync) spawned; returns the pid for spawn, 0 for submit. */
static pid_t exit_with(mz_fork_server *fs, int code, int sync) {
  char script[32];
  snprintf(script, sizeof script, "exit %d", code);
  char *argv[] = {"sh", "-c", script, NULL};
  char *envp[] = {"PATH=/usr/bin:/bin", NULL};
  int fds[MZ_FORK_FIXED_FDS], errr;
  request_fds(fds, &errr);
  char err[256] = "";
  pid_t pid = 0;
  int rc = sync ? mz_fork_server_spawn(fs, "sh", "/", argv, envp, fds, MZ_FORK_FIXED_FDS, &pid, err, sizeof err)
                : mz_fork_server_submit(fs, "sh", "/", argv, envp, fds, MZ_FORK_FIXED_FDS, err, sizeof err);
  if (rc != 0) fail_msg("%s: %s", sync ? "spawn" : "submit", err);
  close_request_fds(fds);
  close(errr);
  return pid;
}

static int exit_code(pid_t pid) {
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid); /* our child (CLONE_PARENT) */
  assert_true(WIFEXITED(st));
  return WEXITSTATUS(st);
}

static void test_submitted_pids_come_in_order_around_a_spawn(void **state) {
  (void)state;
  mz_fork_server *fs = start();
  int32_t reply;
  assert_int_equal(mz_fork_server_collect(fs, 0, &reply), -1); /* nothing outstanding */
  exit_with(fs, 3, 0);
  exit_with(fs, 4, 0);
  assert_int_equal(mz_fork_server_outstanding(fs), 2);
  /* The spawn's own reply comes after the two it reads ahead and keeps. */
  pid_t c = exit_with(fs, 5, 1);
  assert_true(c > 0);
  assert_int_equal(exit_code(c), 5);
  assert_int_equal(mz_fork_server_outstanding(fs), 2);
  assert_int_equal(mz_fork_server_collect(fs, 0, &reply), 1);
  assert_true(reply > 0);
  assert_int_equal(exit_code(reply), 3);
  assert_int_equal(mz_fork_server_collect(fs, 1, &reply), 1);
  assert_true(reply > 0);
  assert_int_equal(exit_code(reply), 4);
  assert_int_equal(mz_fork_server_collect(fs, 0, &reply), -1);
  /* Read from the socket (nothing read ahead), waiting for it. */
  exit_with(fs, 6, 0);
  assert_int_equal(mz_fork_server_collect(fs, 1, &reply), 1);
  assert_int_equal(exit_code(reply), 6);
  assert_int_equal(mz_fork_server_outstanding(fs), 0);
  mz_fork_server_free(fs);
}

static void test_a_server_that_is_gone_takes_no_request(void **state) {
  (void)state;
  mz_fork_server *fs = start();
  pid_t server = mz_fork_server_pid(fs);
  assert_true(server > 0);
  kill(server, SIGKILL);
  int st;
  assert_int_equal(waitpid(server, &st, 0), server);
  char *argv[] = {"true", NULL};
  char *envp[] = {"PATH=/usr/bin:/bin", NULL};
  int fds[MZ_FORK_FIXED_FDS], errr;
  request_fds(fds, &errr);
  char err[256] = "";
  signal(SIGPIPE, SIG_IGN);
  assert_int_equal(mz_fork_server_submit(fs, "true", "/", argv, envp, fds, MZ_FORK_FIXED_FDS, err, sizeof err), -1);
  assert_true(err[0] != '\0');
  /* Not restarted within MZ_FORK_SERVER_RESTART_S. */
  assert_int_equal(mz_fork_server_submit(fs, "true", "/", argv, envp, fds, MZ_FORK_FIXED_FDS, err, sizeof err), -1);
  assert_string_equal(err, "the fork server is not running");
  int32_t reply;
  assert_int_equal(mz_fork_server_collect(fs, 1, &reply), -1);
  close_request_fds(fds);
  close(errr);
  mz_fork_server_free(fs);
}

static void test_requests_a_server_dies_with_are_collected_as_epipe(void **state) {
  (void)state;
  mz_fork_server *fs = start();
  pid_t server = mz_fork_server_pid(fs);
  assert_int_equal(kill(server, SIGSTOP), 0); /* it answers nothing from now on */
  exit_with(fs, 0, 0);
  exit_with(fs, 0, 0);
  int32_t reply;
  assert_int_equal(mz_fork_server_collect(fs, 0, &reply), 0); /* not here yet */
  assert_int_equal(kill(server, SIGKILL), 0);
  int st;
  assert_int_equal(waitpid(server, &st, 0), server);
  assert_int_equal(mz_fork_server_collect(fs, 0, &reply), 1); /* the end of its socket: both lost */
  assert_int_equal(reply, -EPIPE);
  assert_int_equal(mz_fork_server_collect(fs, 1, &reply), 1);
  assert_int_equal(reply, -EPIPE);
  assert_int_equal(mz_fork_server_collect(fs, 1, &reply), -1);
  assert_int_equal(mz_fork_server_outstanding(fs), 0);
  mz_fork_server_free(fs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_submitted_pids_come_in_order_around_a_spawn),
      cmocka_unit_test(test_requests_a_server_dies_with_are_collected_as_epipe),
      cmocka_unit_test(test_a_server_that_is_gone_takes_no_request),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
