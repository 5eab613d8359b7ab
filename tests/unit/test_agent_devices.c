/* Unit tests of the container device rules (src/agent/devices.c): the v1 text of a
 * rule; the compiled BPF program, run here by a small interpreter of the few
 * instructions it uses, allows exactly what the rules allow (type, major, minor,
 * wildcards, access bits); and, where this process may (root, a cgroup2 hierarchy to
 * mount, BPF device programs in the kernel), the kernel itself: a process in a
 * cgroup with the program attached opens an allowed device node and gets EPERM for
 * one the rules do not name, a second attach replaces the first program, and a
 * program loaded once is attached by its fd.
 * Where the kernel part cannot run, it says why and passes only the rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/devices.h"

static void test_rule_text(void **state) {
  (void)state;
  char t[64];
  mz_dev_rule_text(&(mz_dev_rule){'c', 1, 3, MZ_DEV_RWM}, t, sizeof t);
  assert_string_equal(t, "c 1:3 rwm");
  mz_dev_rule_text(&(mz_dev_rule){'c', 136, MZ_DEV_ANY, MZ_DEV_RWM}, t, sizeof t);
  assert_string_equal(t, "c 136:* rwm");
  mz_dev_rule_text(&(mz_dev_rule){'b', MZ_DEV_ANY, MZ_DEV_ANY, MZ_DEV_MKNOD}, t, sizeof t);
  assert_string_equal(t, "b *:* m");
  mz_dev_rule_text(&(mz_dev_rule){'c', 195, 0, MZ_DEV_READ | MZ_DEV_WRITE}, t, sizeof t);
  assert_string_equal(t, "c 195:0 rw");
}

/* Runs the program on one access, as the kernel would: 1 allow, 0 deny. Fails the
 * test on an instruction the compiler should not emit or a jump out of range. */
static int run(const struct bpf_insn *p, size_t n, char type, unsigned access, unsigned major, unsigned minor) {
  struct bpf_cgroup_dev_ctx ctx = {
      .access_type = (access << 16) | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR),
      .major = major,
      .minor = minor};
  uint64_t r[11] = {0};
  const unsigned char *base = (const unsigned char *)&ctx;
  for (size_t pc = 0; pc < n; pc++) {
    const struct bpf_insn *i = &p[pc];
    uint64_t imm = (uint64_t)(int64_t)i->imm;
    switch (i->code) {
    case BPF_LDX | BPF_MEM | BPF_W: {
      assert_int_equal(i->src_reg, 1); /* only the context is read */
      assert_true(i->off >= 0 && (size_t)i->off + 4 <= sizeof ctx);
      uint32_t v;
      memcpy(&v, base + i->off, 4);
      r[i->dst_reg] = v;
      break;
    }
    case BPF_ALU64 | BPF_AND | BPF_K: r[i->dst_reg] &= imm; break;
    case BPF_ALU64 | BPF_RSH | BPF_K: r[i->dst_reg] >>= i->imm; break;
    case BPF_ALU64 | BPF_MOV | BPF_K: r[i->dst_reg] = imm; break;
    case BPF_ALU64 | BPF_MOV | BPF_X: r[i->dst_reg] = r[i->src_reg]; break;
    case BPF_JMP | BPF_JNE | BPF_K:
      if (r[i->dst_reg] != imm) pc += (size_t)i->off;
      assert_true(pc < n);
      break;
    case BPF_JMP | BPF_EXIT: return (int)r[0];
    default: fail_msg("unexpected instruction code 0x%x at %zu", i->code, pc);
    }
  }
  fail_msg("the program ran off its end");
  return -1;
}

static void test_program_allows_exactly_the_rules(void **state) {
  (void)state;
  const mz_dev_rule rules[] = {
      {'c', MZ_DEV_ANY, MZ_DEV_ANY, MZ_DEV_MKNOD}, /* mknod of any char node */
      {'c', 1, 3, MZ_DEV_RWM},                     /* /dev/null */
      {'c', 136, MZ_DEV_ANY, MZ_DEV_RWM},          /* pts */
      {'c', 195, 1, MZ_DEV_READ},                  /* a GPU, read only */
      {'b', 8, 0, MZ_DEV_RWM},                     /* a disk */
  };
  struct bpf_insn p[MZ_DEV_BPF_MAX_INSNS(5)];
  size_t n = mz_dev_bpf_program(rules, 5, p);
  assert_true(n <= MZ_DEV_BPF_MAX_INSNS(5));
  const unsigned R = MZ_DEV_READ, W = MZ_DEV_WRITE, M = MZ_DEV_MKNOD;
  assert_int_equal(run(p, n, 'c', R | W, 1, 3), 1);
  assert_int_equal(run(p, n, 'c', R | W | M, 1, 3), 1);
  assert_int_equal(run(p, n, 'c', R, 1, 5), 0);          /* zero: not named */
  assert_int_equal(run(p, n, 'b', R, 1, 3), 0);          /* same numbers, block */
  assert_int_equal(run(p, n, 'c', M, 250, 7), 1);        /* mknod anything (char) */
  assert_int_equal(run(p, n, 'b', M, 250, 7), 0);        /* but not block */
  assert_int_equal(run(p, n, 'c', R | W, 136, 12), 1);   /* any pts */
  assert_int_equal(run(p, n, 'c', R | W, 137, 12), 0);
  assert_int_equal(run(p, n, 'c', R, 195, 1), 1);        /* the GPU, read */
  assert_int_equal(run(p, n, 'c', R | W, 195, 1), 0);    /* not write */
  assert_int_equal(run(p, n, 'c', R, 195, 0), 0);        /* another GPU */
  assert_int_equal(run(p, n, 'c', R, 195, 255), 0);      /* nvidiactl: not named */
  assert_int_equal(run(p, n, 'b', R | W, 8, 0), 1);
  assert_int_equal(run(p, n, 'b', R | W, 8, 1), 0);

  /* No rules: nothing is allowed. */
  size_t n0 = mz_dev_bpf_program(NULL, 0, p);
  assert_int_equal(run(p, n0, 'c', R, 1, 3), 0);

  /* Mesos's default whitelist. */
  struct bpf_insn d[MZ_DEV_BPF_MAX_INSNS(32)];
  assert_true(mz_dev_default_count <= 32);
  size_t nd = mz_dev_bpf_program(mz_dev_default_rules, mz_dev_default_count, d);
  assert_int_equal(run(d, nd, 'c', R | W, 1, 3), 1);    /* null */
  assert_int_equal(run(d, nd, 'c', R, 1, 9), 1);        /* urandom */
  assert_int_equal(run(d, nd, 'c', R | W, 5, 2), 1);    /* ptmx */
  assert_int_equal(run(d, nd, 'c', R | W, 10, 200), 1); /* tun */
  assert_int_equal(run(d, nd, 'c', R, 195, 0), 0);      /* a GPU */
  assert_int_equal(run(d, nd, 'b', R, 8, 0), 0);        /* a disk */
  assert_int_equal(run(d, nd, 'b', M, 8, 0), 1);        /* mknod of it */
}

/* ------------------------------------------------------------------ kernel */

static char tmp[256], mnt[300], cg[400];
static int mounted;

/* In a child moved into cg: opens path for reading; exits with its errno (0: opened). */
static int open_errno_in_cgroup(const char *path) {
  pid_t pid = fork();
  if (pid == 0) {
    char procs[500], me[32];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", cg);
    snprintf(me, sizeof me, "%d", (int)getpid());
    int fd = open(procs, O_WRONLY);
    if (fd < 0 || write(fd, me, strlen(me)) < 0) _exit(200);
    close(fd);
    int d = open(path, O_RDONLY | O_NONBLOCK);
    _exit(d >= 0 ? 0 : (errno & 0x7f));
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_kernel_enforces_the_program(void **state) {
  (void)state;
  char err[1024];
  if (geteuid() != 0) {
    print_message("kernel part not run: not root\n");
    return;
  }
  int whitelist = mz_dev_bpf_load(mz_dev_default_rules, mz_dev_default_count, err, sizeof err);
  if (whitelist < 0) {
    print_message("kernel part not run: %s\n", err);
    return;
  }
  snprintf(tmp, sizeof tmp, "/tmp/mz-devices-test-XXXXXX");
  assert_non_null(mkdtemp(tmp));
  snprintf(mnt, sizeof mnt, "%s/cgroup2", tmp);
  assert_int_equal(mkdir(mnt, 0755), 0);
  if (mount("cgroup2", mnt, "cgroup2", 0, NULL) != 0) {
    print_message("kernel part not run: mount cgroup2: %s\n", strerror(errno));
    close(whitelist);
    rmdir(mnt);
    rmdir(tmp);
    return;
  }
  mounted = 1;
  snprintf(cg, sizeof cg, "%s/mz-devices-test-%d", mnt, (int)getpid());
  assert_int_equal(mkdir(cg, 0755), 0);

  /* Nodes made outside the cgroup: /dev/null's numbers, and two "GPUs" (195:0, 195:1;
   * without NVIDIA's driver an allowed open gets ENXIO, a denied one EPERM). */
  char null_node[400], gpu0[400], gpu1[400];
  snprintf(null_node, sizeof null_node, "%s/null", tmp);
  snprintf(gpu0, sizeof gpu0, "%s/gpu0", tmp);
  snprintf(gpu1, sizeof gpu1, "%s/gpu1", tmp);
  assert_int_equal(mknod(null_node, S_IFCHR | 0666, makedev(1, 3)), 0);
  assert_int_equal(mknod(gpu0, S_IFCHR | 0666, makedev(195, 0)), 0);
  assert_int_equal(mknod(gpu1, S_IFCHR | 0666, makedev(195, 1)), 0);

  mz_dev_rule rules[64];
  memcpy(rules, mz_dev_default_rules, mz_dev_default_count * sizeof rules[0]);
  size_t n = mz_dev_default_count;
  rules[n++] = (mz_dev_rule){'c', 195, 1, MZ_DEV_RWM};
  if (mz_dev_bpf_attach(cg, rules, n, err, sizeof err) != 0) fail_msg("%s", err);
  assert_int_equal(open_errno_in_cgroup(null_node), 0);
  assert_int_equal(open_errno_in_cgroup(gpu0), EPERM);
  assert_int_not_equal(open_errno_in_cgroup(gpu1), EPERM);

  /* The rules change (GPU 1 given back, GPU 0 given): the new program replaces the old. */
  rules[n - 1] = (mz_dev_rule){'c', 195, 0, MZ_DEV_RWM};
  if (mz_dev_bpf_attach(cg, rules, n, err, sizeof err) != 0) fail_msg("%s", err);
  assert_int_not_equal(open_errno_in_cgroup(gpu0), EPERM);
  assert_int_equal(open_errno_in_cgroup(gpu1), EPERM);
  assert_int_equal(open_errno_in_cgroup(null_node), 0);

  /* The whitelist's program, loaded once, attached by fd: no GPU at all. */
  if (mz_dev_bpf_attach_fd(cg, whitelist, err, sizeof err) != 0) fail_msg("%s", err);
  close(whitelist);
  assert_int_equal(open_errno_in_cgroup(gpu0), EPERM);
  assert_int_equal(open_errno_in_cgroup(gpu1), EPERM);
  assert_int_equal(open_errno_in_cgroup(null_node), 0);

  /* An attach to a path that is no cgroup fails with a message naming it. */
  assert_int_equal(mz_dev_bpf_attach(tmp, rules, n, err, sizeof err), -1);
  assert_non_null(strstr(err, tmp));

  unlink(null_node);
  unlink(gpu0);
  unlink(gpu1);
}

static int teardown(void **state) {
  (void)state;
  if (mounted) {
    rmdir(cg);
    umount(mnt);
    rmdir(mnt);
    rmdir(tmp);
    mounted = 0;
  }
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rule_text),
      cmocka_unit_test(test_program_allows_exactly_the_rules),
      cmocka_unit_test_teardown(test_kernel_enforces_the_program, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
