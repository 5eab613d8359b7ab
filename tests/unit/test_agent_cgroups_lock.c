/* Unit tests of the lock on a cgroups root (src/agent/cgroups_lock.c): the first
 * agent holds it alone and may sweep; once it shares it, a second agent gets it
 * shared (not alone); an agent that comes while one sweeps waits until the sweep is
 * over; when every holder is gone the next is alone again; the lock file's name is
 * the base path escaped; a lock dir that cannot be made is an error; an agent is
 * alone only when alone on each of its bases. Separate opens
 * stand for separate agents (the locks are per open file description). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/cgroups_lock.h"
#include "agent/treewalk.h"
#include "common/util.h"

static char dir[256];

static int setup(void **state) {
  snprintf(dir, sizeof dir, "/tmp/mz-cglock-test-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  mz_rmtree_now(dir, NULL, 0);
  return 0;
}

static int take(const char *base, int *sole) {
  char err[512] = "";
  int fd = mz_cgroups_lock_take(dir, base, sole, err, sizeof err);
  if (fd < 0) fail_msg("take: %s", err);
  return fd;
}

static void test_alone_then_shared_then_alone_again(void **state) {
  int sole = -1;
  int a = take("/sys/fs/cgroup/cpu,cpuacct/mezzo", &sole);
  assert_int_equal(sole, 1);
  assert_int_equal(mz_cgroups_lock_share(a), 0);
  int b = take("/sys/fs/cgroup/cpu,cpuacct/mezzo", &sole);
  assert_int_equal(sole, 0);
  int other = take("/sys/fs/cgroup/cpu,cpuacct/other", &sole); /* another root: its own lock */
  assert_int_equal(sole, 1);
  close(other);
  close(a);
  int c = take("/sys/fs/cgroup/cpu,cpuacct/mezzo", &sole); /* b still holds it */
  assert_int_equal(sole, 0);
  close(b);
  close(c);
  int d = take("/sys/fs/cgroup/cpu,cpuacct/mezzo", &sole);
  assert_int_equal(sole, 1);
  close(d);
}

static void test_file_name_is_the_base_escaped(void **state) {
  int sole;
  close(take("/sys/fs/cgroup/cpu,cpuacct/mezzo", &sole));
  close(take("/sys/fs/cgroup/unified/my-root x", &sole));
  char path[512];
  snprintf(path, sizeof path, "%s/sys-fs-cgroup-cpu,cpuacct-mezzo.lock", dir);
  assert_int_equal(access(path, F_OK), 0);
  snprintf(path, sizeof path, "%s/sys-fs-cgroup-unified-my%%2Droot%%20x.lock", dir);
  assert_int_equal(access(path, F_OK), 0);
}

typedef struct {
  int fd;
  double shared_at;
} sweeper;

static void *share_later(void *arg) {
  sweeper *s = arg;
  struct timespec ts = {0, 300 * 1000 * 1000};
  nanosleep(&ts, NULL);
  s->shared_at = mz_monotonic();
  assert_int_equal(mz_cgroups_lock_share(s->fd), 0);
  return NULL;
}

static void test_an_agent_waits_while_another_sweeps(void **state) {
  int sole;
  sweeper s = {take("/sys/fs/cgroup/memory/mezzo", &sole), 0};
  assert_int_equal(sole, 1);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, share_later, &s), 0);
  int b = take("/sys/fs/cgroup/memory/mezzo", &sole);
  double got_at = mz_monotonic();
  pthread_join(t, NULL);
  assert_int_equal(sole, 0);
  assert_true(s.shared_at > 0 && got_at >= s.shared_at); /* not before the sweep was over */
  close(b);
  close(s.fd);
}

static void test_a_lock_dir_that_cannot_be_made_is_an_error(void **state) {
  char file[512], under[600], err[512] = "";
  snprintf(file, sizeof file, "%s/plain", dir);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fclose(f);
  snprintf(under, sizeof under, "%s/locks", file);
  int sole = -1;
  assert_int_equal(mz_cgroups_lock_take(under, "/sys/fs/cgroup/cpu/mezzo", &sole, err, sizeof err), -1);
  assert_int_equal(sole, 0);
  assert_non_null(strstr(err, "plain"));
}

static void close_all(const int *fds, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]);
}

static void test_alone_only_when_alone_on_every_base(void **state) {
  /* Two agents in different cpu cgroups (their cpu bases differ) but in the same
   * memory cgroup: neither may sweep, since the memory base is shared. */
  char *a_bases[] = {"/sys/fs/cgroup/cpu/a/mezzo", NULL, "/sys/fs/cgroup/memory/mezzo"};
  char *b_bases[] = {"/sys/fs/cgroup/cpu/b/mezzo", NULL, "/sys/fs/cgroup/memory/mezzo"};
  int a[3], b[3], c[3];
  char err[512];
  assert_int_equal(mz_cgroups_lock_all(dir, a_bases, 3, a, err, sizeof err), 1);
  assert_string_equal(err, "");
  assert_int_equal(a[1], -1);
  mz_cgroups_lock_share_all(a, 3);
  assert_int_equal(mz_cgroups_lock_all(dir, b_bases, 3, b, err, sizeof err), 0);
  assert_string_equal(err, "");
  /* b, not alone, holds read locks only, even on its own cpu base: a third agent on
   * that base is not alone either. */
  char *c_bases[] = {"/sys/fs/cgroup/cpu/b/mezzo", NULL, NULL};
  assert_int_equal(mz_cgroups_lock_all(dir, c_bases, 3, c, err, sizeof err), 0);
  close_all(a, 3);
  close_all(b, 3);
  close_all(c, 3);
  assert_int_equal(mz_cgroups_lock_all(dir, b_bases, 3, b, err, sizeof err), 1);
  close_all(b, 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_alone_then_shared_then_alone_again, setup, teardown),
      cmocka_unit_test_setup_teardown(test_file_name_is_the_base_escaped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_an_agent_waits_while_another_sweeps, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_lock_dir_that_cannot_be_made_is_an_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alone_only_when_alone_on_every_base, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
