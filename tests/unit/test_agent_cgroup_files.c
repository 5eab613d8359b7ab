/* Unit tests of the kept cgroup files (src/agent/cgroup_files.c): a set keeps only
 * the names listed, above MZ_CG_FILES_FD_MIN and close-on-exec; it follows its
 * container through detach and attach (a reused set of cgroups), its OOM eventfd
 * too; the number of sets is capped; drop and free close what was kept (fds are
 * counted in /proc/self/fd); a setting's last written value is remembered, other
 * files' never. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent/cgroup_files.h"

static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1; /* the directory's own */
}

static int devnull(void) {
  int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  assert_true(fd >= 0);
  return fd;
}

static void test_keeps_listed_names_high_and_cloexec(void **state) {
  (void)state;
  int before = open_fds();
  mz_cg_files *f = mz_cg_files_new(4);
  assert_int_equal(mz_cg_files_mode("cgroup.procs"), O_WRONLY);
  assert_int_equal(mz_cg_files_mode("pids.current"), O_RDONLY);
  assert_int_equal(mz_cg_files_mode("memory.stat"), -1);
  mz_cg_fileset *s = mz_cg_files_of(f, "c1", 1);
  assert_non_null(s);
  assert_ptr_equal(mz_cg_files_of(f, "c1", 0), s);
  assert_int_equal(mz_cg_fileset_fd(s, 0, "cgroup.procs"), -1);
  int kept, fd = mz_cg_fileset_keep(s, 0, "cgroup.procs", devnull(), &kept);
  assert_int_equal(kept, 1);
  assert_true(fd >= MZ_CG_FILES_FD_MIN);
  assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  assert_int_equal(mz_cg_fileset_fd(s, 0, "cgroup.procs"), fd);
  assert_int_equal(mz_cg_fileset_fd(s, 1, "cgroup.procs"), -1); /* another hierarchy's */
  /* Not a kept name, or already kept: the caller keeps (and closes) its fd. */
  int other = devnull();
  assert_int_equal(mz_cg_fileset_keep(s, 0, "memory.stat", other, &kept), other);
  assert_int_equal(kept, 0);
  assert_int_equal(mz_cg_fileset_keep(s, 0, "cgroup.procs", other, &kept), other);
  assert_int_equal(kept, 0);
  close(other);
  assert_int_equal(mz_cg_files_fds(f), 1);
  assert_int_equal(open_fds(), before + 1);
  mz_cg_files_free(f);
  assert_int_equal(open_fds(), before);
}

static void test_set_follows_detach_and_attach(void **state) {
  (void)state;
  int before = open_fds();
  mz_cg_files *f = mz_cg_files_new(4);
  mz_cg_fileset *s = mz_cg_files_of(f, "old", 1);
  int kept, fd = mz_cg_fileset_keep(s, 2, "memory.oom_control", devnull(), &kept);
  assert_int_equal(kept, 1);
  int efd = eventfd(0, EFD_CLOEXEC); /* the OOM eventfd, registered once for the set */
  assert_true(efd >= 0);
  efd = mz_cg_fileset_keep(s, 2, MZ_CG_FILES_OOM_EVENTFD, efd, &kept);
  assert_int_equal(kept, 1);
  /* The container ends: its set waits in the pool under no name. */
  assert_ptr_equal(mz_cg_files_detach(f, "old"), s);
  assert_null(mz_cg_files_of(f, "old", 0));
  assert_null(mz_cg_files_detach(f, "old"));
  /* The next container takes it, with its open files. */
  mz_cg_files_attach(f, s, "new");
  assert_ptr_equal(mz_cg_files_of(f, "new", 0), s);
  assert_int_equal(mz_cg_fileset_fd(s, 2, "memory.oom_control"), fd);
  assert_int_equal(mz_cg_fileset_fd(s, 2, MZ_CG_FILES_OOM_EVENTFD), efd);
  /* Attaching to a container that has a set drops the one it had. */
  mz_cg_fileset *t = mz_cg_files_of(f, "t", 1);
  mz_cg_fileset_keep(t, 0, "cgroup.procs", devnull(), &kept);
  assert_int_equal(open_fds(), before + 3);
  assert_ptr_equal(mz_cg_files_detach(f, "new"), s);
  mz_cg_files_attach(f, s, "t");
  assert_ptr_equal(mz_cg_files_of(f, "t", 0), s);
  assert_int_equal(mz_cg_files_sets(f), 1);
  assert_int_equal(open_fds(), before + 2);
  /* A detached set is closed by free too. */
  assert_ptr_equal(mz_cg_files_detach(f, "t"), s);
  mz_cg_files_free(f);
  assert_int_equal(open_fds(), before);
}

static void test_sets_are_capped_and_drop_closes(void **state) {
  (void)state;
  int before = open_fds();
  mz_cg_files *f = mz_cg_files_new(2);
  assert_non_null(mz_cg_files_of(f, "a", 1));
  assert_non_null(mz_cg_files_of(f, "b", 1));
  assert_null(mz_cg_files_of(f, "c", 1));
  assert_null(mz_cg_files_of(f, "", 1));
  mz_cg_fileset *a = mz_cg_files_of(f, "a", 0);
  int kept;
  mz_cg_fileset_keep(a, 4, "freezer.state", devnull(), &kept);
  mz_cg_fileset_keep(a, 3, "pids.current", devnull(), &kept);
  assert_int_equal(open_fds(), before + 2);
  mz_cg_files_drop(f, a);
  assert_int_equal(open_fds(), before);
  assert_null(mz_cg_files_of(f, "a", 0));
  assert_non_null(mz_cg_files_of(f, "c", 1)); /* room again */
  mz_cg_files_drop(f, NULL);
  mz_cg_files_free(f);
  /* A quarter of the open files at most, and 256 sets. */
  assert_int_equal(mz_cg_files_max_sets(1024), 1024 / (4 * MZ_CG_FILES_PER_SET));
  assert_int_equal(mz_cg_files_max_sets(20000), 256);
  assert_int_equal(mz_cg_files_max_sets(10), 0);
}

static void test_settings_remember_their_value(void **state) {
  (void)state;
  mz_cg_files *f = mz_cg_files_new(2);
  mz_cg_fileset *s = mz_cg_files_of(f, "c", 1);
  assert_int_equal(mz_cg_fileset_holds(s, 0, "cpu.shares", "1024"), 0);
  mz_cg_fileset_wrote(s, 0, "cpu.shares", "1024");
  assert_int_equal(mz_cg_fileset_holds(s, 0, "cpu.shares", "1024"), 1);
  assert_int_equal(mz_cg_fileset_holds(s, 0, "cpu.shares", "10"), 0);
  assert_int_equal(mz_cg_fileset_holds(s, 1, "cpu.shares", "1024"), 0);
  mz_cg_fileset_wrote(s, 0, "cpu.shares", NULL); /* a failed write: unknown */
  assert_int_equal(mz_cg_fileset_holds(s, 0, "cpu.shares", "1024"), 0);
  /* Counters and controls are written every time. */
  mz_cg_fileset_wrote(s, 1, "cpuacct.usage", "0");
  assert_int_equal(mz_cg_fileset_holds(s, 1, "cpuacct.usage", "0"), 0);
  mz_cg_fileset_wrote(s, 4, "freezer.state", "THAWED");
  assert_int_equal(mz_cg_fileset_holds(s, 4, "freezer.state", "THAWED"), 0);
  /* The values go with the set to its next container. */
  mz_cg_fileset_wrote(s, 2, "memory.limit_in_bytes", "8388608");
  mz_cg_files_attach(f, mz_cg_files_detach(f, "c"), "d");
  assert_int_equal(mz_cg_fileset_holds(mz_cg_files_of(f, "d", 0), 2, "memory.limit_in_bytes", "8388608"), 1);
  assert_int_equal(mz_cg_fileset_holds(NULL, 2, "memory.limit_in_bytes", "8388608"), 0);
  mz_cg_files_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keeps_listed_names_high_and_cloexec),
      cmocka_unit_test(test_set_follows_detach_and_attach),
      cmocka_unit_test(test_sets_are_capped_and_drop_closes),
      cmocka_unit_test(test_settings_remember_their_value),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
