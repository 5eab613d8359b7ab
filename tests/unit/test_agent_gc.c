/* Unit tests of the agent's tree walk (src/agent/treewalk.c) and garbage collector
 * (src/agent/gc.c): a tree goes in steps, links are removed and never followed, a
 * mount point inside is left (when this process may mount), a tree deeper than the
 * limit is an error that still removes the rest; a tree is measured as du measures
 * it; a scheduled path goes after the
 * delay through the trash, a new run under a scheduled directory unschedules it, a
 * path scheduled again is moved, a full disk (headroom 1.0) removes at once, the disk
 * usage is the blocks' or the inodes', whichever is higher, and what an earlier run
 * left in the trash is removed. Works in a fresh temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "agent/gc.h"
#include "agent/treewalk.h"
#include "common/util.h"

static char dir[256];

static int setup(void **state) {
  snprintf(dir, sizeof dir, "/tmp/mz-gc-test-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  mz_rmtree_now(dir, NULL, 0);
  return 0;
}

static void path_of(char *out, size_t n, const char *rel) { snprintf(out, n, "%s/%s", dir, rel); }

static void make_dir(const char *rel) {
  char p[512];
  path_of(p, sizeof p, rel);
  assert_int_equal(mkdir(p, 0755), 0);
}

static void make_file(const char *rel) {
  char p[512];
  path_of(p, sizeof p, rel);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "x", 1), 1);
  close(fd);
}

static int exists(const char *rel) {
  char p[512];
  struct stat sb;
  path_of(p, sizeof p, rel);
  return lstat(p, &sb) == 0;
}

static void test_a_tree_goes_in_steps_and_links_are_not_followed(void **state) {
  make_dir("outside");
  make_file("outside/keep");
  make_dir("t");
  make_dir("t/a");
  make_dir("t/a/b");
  make_file("t/a/b/f1");
  make_file("t/a/f2");
  make_file("t/f3");
  char p[512], target[512];
  path_of(target, sizeof target, "outside");
  path_of(p, sizeof p, "t/a/link");
  assert_int_equal(symlink(target, p), 0);
  path_of(p, sizeof p, "t/dangling");
  assert_int_equal(symlink("/nonexistent/x", p), 0);
  path_of(p, sizeof p, "t");
  mz_treewalk *t = mz_treewalk_start(p, MZ_WALK_REMOVE);
  int steps = 0, rc;
  while ((rc = mz_treewalk_step(t, 1)) == 1) steps++;
  assert_int_equal(rc, 0);
  assert_string_equal(mz_treewalk_error(t), "");
  assert_true(steps >= 8); /* one entry per step */
  mz_treewalk_free(t);
  assert_false(exists("t"));
  assert_true(exists("outside/keep"));
  /* A missing path is removed already; a file or a link at the root goes itself. */
  path_of(p, sizeof p, "missing");
  assert_int_equal(mz_rmtree_now(p, NULL, 0), 0);
  make_file("plain");
  path_of(p, sizeof p, "plain");
  assert_int_equal(mz_rmtree_now(p, NULL, 0), 0);
  assert_false(exists("plain"));
  path_of(p, sizeof p, "rootlink");
  assert_int_equal(symlink(target, p), 0);
  assert_int_equal(mz_rmtree_now(p, NULL, 0), 0);
  assert_false(exists("rootlink"));
  assert_true(exists("outside/keep"));
}

static void test_a_mount_point_inside_is_left(void **state) {
  make_dir("m");
  make_dir("m/vol");
  make_file("m/other");
  char vol[512], p[512];
  path_of(vol, sizeof vol, "m/vol");
  if (mount("mz-gc-test", vol, "tmpfs", 0, "size=1m") != 0) {
    print_message("skipped: cannot mount a tmpfs here (%s)\n", strerror(errno));
    return;
  }
  make_file("m/vol/precious");
  char err[512];
  path_of(p, sizeof p, "m");
  assert_int_equal(mz_rmtree_now(p, err, sizeof err), -1);
  assert_non_null(strstr(err, "leave the mount point"));
  assert_non_null(strstr(err, "m/vol"));
  assert_true(exists("m/vol/precious"));
  assert_false(exists("m/other"));
  assert_int_equal(umount(vol), 0);
  assert_int_equal(mz_rmtree_now(p, NULL, 0), 0);
  assert_false(exists("m"));
}

static void test_a_tree_too_deep_is_an_error_and_the_rest_goes(void **state) {
  make_dir("deep");
  make_file("deep/top");
  char p[512];
  path_of(p, sizeof p, "deep");
  int fd = open(p, O_RDONLY | O_DIRECTORY);
  assert_true(fd >= 0);
  for (int i = 0; i < MZ_TREEWALK_MAX_DEPTH + 5; i++) {
    assert_int_equal(mkdirat(fd, "d", 0755), 0);
    int next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
    assert_true(next >= 0);
    close(fd);
    fd = next;
  }
  close(fd);
  char err[512];
  assert_int_equal(mz_rmtree_now(p, err, sizeof err), -1);
  assert_non_null(strstr(err, "enter "));
  assert_non_null(strstr(err, strerror(ENAMETOOLONG)));
  assert_false(exists("deep/top"));
  assert_true(exists("deep/d"));
  /* What is left goes from a point deep enough for the rest to be within the limit. */
  char mid[1024];
  size_t n = (size_t)snprintf(mid, sizeof mid, "%s", p);
  for (int i = 0; i < 100; i++) n += (size_t)snprintf(mid + n, sizeof mid - n, "/d");
  assert_int_equal(mz_rmtree_now(mid, NULL, 0), 0);
  assert_int_equal(mz_rmtree_now(p, NULL, 0), 0);
}

/* Measuring counts what du counts (st_blocks * 512 of every entry, the directories'
 * too), follows no link and does not change the tree. */
static void test_a_tree_is_measured_as_du_does(void **state) {
  make_dir("outside");
  make_dir("m");
  make_dir("m/sub");
  char p[512], target[512], cmd[1200];
  path_of(p, sizeof p, "outside/big");
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  static char buf[1 << 20];
  memset(buf, 'x', sizeof buf);
  assert_int_equal(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
  close(fd);
  path_of(p, sizeof p, "m/sub/f");
  fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, buf, 300000), 300000);
  close(fd);
  make_file("m/small");
  path_of(target, sizeof target, "outside/big");
  path_of(p, sizeof p, "m/link");
  assert_int_equal(symlink(target, p), 0);
  path_of(p, sizeof p, "m");
  mz_treewalk *t = mz_treewalk_start(p, MZ_WALK_MEASURE);
  int rc;
  while ((rc = mz_treewalk_step(t, 2)) == 1) {
  }
  assert_int_equal(rc, 0);
  uint64_t bytes = mz_treewalk_bytes(t);
  mz_treewalk_free(t);
  snprintf(cmd, sizeof cmd, "du -s -B1 %s", p);
  FILE *du = popen(cmd, "r");
  assert_non_null(du);
  unsigned long long want = 0;
  assert_int_equal(fscanf(du, "%llu", &want), 1);
  pclose(du);
  assert_true(bytes == want);
  assert_true(bytes >= 300000 && bytes < (1 << 20)); /* the link's target is not counted */
  assert_true(exists("m/sub/f") && exists("m/link"));
  /* A file measures itself; a missing path 0. */
  path_of(p, sizeof p, "m/sub/f");
  t = mz_treewalk_start(p, MZ_WALK_MEASURE);
  assert_int_equal(mz_treewalk_step(t, 10), 0);
  assert_true(mz_treewalk_bytes(t) >= 300000);
  mz_treewalk_free(t);
  path_of(p, sizeof p, "nope");
  t = mz_treewalk_start(p, MZ_WALK_MEASURE);
  assert_int_equal(mz_treewalk_step(t, 10), 0);
  assert_true(mz_treewalk_bytes(t) == 0);
  mz_treewalk_free(t);
}

/* Runs the loop until pred() or about 10 s. */
static void run_until(struct event_base *base, int (*pred)(void *), void *arg) {
  double end = mz_monotonic() + 10;
  while (!pred(arg) && mz_monotonic() < end) {
    struct timeval tv = {0, 20000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
  }
}

static int gone(void *rel) { return !exists(rel); }

static int nothing_pending(void *gc) {
  mz_gc_stats st;
  mz_gc_stats_get(gc, &st);
  return st.pending == 0;
}

static void test_scheduled_paths_go_after_the_delay(void **state) {
  struct event_base *base = event_base_new();
  char err[256], p[512], q[512];
  mz_gc *gc = mz_gc_new(base, dir, 0.3, 0.0, 3600, err, sizeof err);
  assert_non_null(gc);
  make_dir("fw");
  make_dir("fw/ex");
  make_dir("fw/ex/run1");
  make_file("fw/ex/run1/stdout");
  make_dir("other");
  path_of(p, sizeof p, "fw/ex/run1");
  double t0 = mz_monotonic();
  mz_gc_schedule(gc, p, 1);
  path_of(p, sizeof p, "fw/ex");
  mz_gc_schedule(gc, p, 1);
  path_of(p, sizeof p, "fw");
  mz_gc_schedule(gc, p, 1);
  path_of(q, sizeof q, "other");
  mz_gc_schedule(gc, q, 1);
  path_of(p, sizeof p, "missing");
  mz_gc_schedule(gc, p, 1); /* ignored */
  assert_false(mz_gc_scheduled(gc, p));
  mz_gc_stats st;
  mz_gc_stats_get(gc, &st);
  assert_int_equal(st.pending, 4);
  /* A new run under fw/ex: fw and fw/ex stay; run1 and other go. */
  make_dir("fw/ex/run2");
  path_of(p, sizeof p, "fw/ex/run2");
  mz_gc_unschedule_ancestors(gc, p);
  path_of(p, sizeof p, "fw/ex");
  assert_false(mz_gc_scheduled(gc, p));
  path_of(p, sizeof p, "fw/ex/run1");
  assert_true(mz_gc_scheduled(gc, p));
  run_until(base, nothing_pending, gc);
  assert_true(mz_monotonic() - t0 >= 0.25);
  assert_false(exists("fw/ex/run1"));
  assert_false(exists("other"));
  assert_true(exists("fw/ex/run2"));
  mz_gc_stats_get(gc, &st);
  assert_int_equal(st.succeeded, 2);
  assert_int_equal(st.failed, 0);
  char trash[512];
  path_of(trash, sizeof trash, MZ_GC_TRASH);
  assert_int_equal(rmdir(trash), 0); /* fails unless empty */
  mz_gc_free(gc);
  event_base_free(base);
}

static void test_a_path_scheduled_again_is_moved(void **state) {
  struct event_base *base = event_base_new();
  char err[256], p[512];
  mz_gc *gc = mz_gc_new(base, dir, 1000, 0.0, 3600, err, sizeof err);
  assert_non_null(gc);
  make_dir("late");
  path_of(p, sizeof p, "late");
  mz_gc_schedule(gc, p, 1); /* due in 1000 s */
  struct timespec old[2] = {{0, 0}, {0, 0}};
  old[0].tv_sec = old[1].tv_sec = time(NULL) - 2000;
  assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
  mz_gc_schedule(gc, p, 0); /* by its (old) mtime: overdue */
  run_until(base, gone, "late");
  assert_false(exists("late"));
  mz_gc_free(gc);
  event_base_free(base);
}

static void test_a_full_disk_removes_at_once_and_the_trash_is_emptied(void **state) {
  make_dir(MZ_GC_TRASH);
  make_dir(MZ_GC_TRASH "/1-2-3");
  make_file(MZ_GC_TRASH "/1-2-3/left");
  make_file(MZ_GC_TRASH "/4-5-6");
  struct event_base *base = event_base_new();
  char err[256], p[512];
  /* gc_delay * max(0, 1 - 1.0 - usage) = 0: every path scheduled is old enough. */
  mz_gc *gc = mz_gc_new(base, dir, 1000, 1.0, 0.05, err, sizeof err);
  assert_non_null(gc);
  /* The usage is that of the blocks or of the inodes, whichever is higher. */
  struct statvfs sv;
  assert_int_equal(statvfs(dir, &sv), 0);
  double blocks = (double)(sv.f_blocks - sv.f_bfree) / (double)sv.f_blocks;
  double inodes = sv.f_files ? (double)(sv.f_files - sv.f_ffree) / (double)sv.f_files : 0;
  double usage = mz_gc_disk_usage(dir);
  assert_true(usage >= blocks - 0.01 && usage >= inodes - 0.01 && usage <= (blocks > inodes ? blocks : inodes) + 0.01);
  make_dir("box");
  path_of(p, sizeof p, "box");
  mz_gc_schedule(gc, p, 1);
  run_until(base, gone, "box");
  assert_false(exists("box"));
  run_until(base, gone, MZ_GC_TRASH "/1-2-3");
  assert_false(exists(MZ_GC_TRASH "/1-2-3"));
  assert_false(exists(MZ_GC_TRASH "/4-5-6"));
  run_until(base, nothing_pending, gc);
  mz_gc_stats st;
  mz_gc_stats_get(gc, &st);
  assert_int_equal(st.succeeded, 1); /* the trash left by an earlier run is not counted */
  mz_gc_free(gc);
  event_base_free(base);
}

static void test_no_trash_dir_is_an_error(void **state) {
  char err[256], p[512];
  path_of(p, sizeof p, "no/such/dir");
  struct event_base *base = event_base_new();
  assert_null(mz_gc_new(base, p, 1, 0.1, 60, err, sizeof err));
  assert_non_null(strstr(err, MZ_GC_TRASH));
  event_base_free(base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_a_tree_goes_in_steps_and_links_are_not_followed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_mount_point_inside_is_left, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_tree_too_deep_is_an_error_and_the_rest_goes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_tree_is_measured_as_du_does, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scheduled_paths_go_after_the_delay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_path_scheduled_again_is_moved, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_full_disk_removes_at_once_and_the_trash_is_emptied, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_trash_dir_is_an_error, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
