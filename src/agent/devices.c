/* devices: see devices.h. The program is built from eBPF instructions directly
 * (linux/bpf.h's encoding) and loaded with the raw bpf() system call. */
#include "agent/devices.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/util.h"

const mz_dev_rule mz_dev_default_rules[] = {
    {'c', MZ_DEV_ANY, MZ_DEV_ANY, MZ_DEV_MKNOD}, {'b', MZ_DEV_ANY, MZ_DEV_ANY, MZ_DEV_MKNOD}, /* mknod */
    {'c', 1, 3, MZ_DEV_RWM},  {'c', 1, 5, MZ_DEV_RWM}, {'c', 1, 7, MZ_DEV_RWM},               /* null zero full */
    {'c', 1, 8, MZ_DEV_RWM},  {'c', 1, 9, MZ_DEV_RWM},                                      /* random urandom */
    {'c', 5, 0, MZ_DEV_RWM},  {'c', 5, 1, MZ_DEV_RWM}, {'c', 4, 0, MZ_DEV_RWM},               /* tty console tty0 */
    {'c', 4, 1, MZ_DEV_RWM},                                                                /* tty1 */
    {'c', 136, MZ_DEV_ANY, MZ_DEV_RWM}, {'c', 5, 2, MZ_DEV_RWM},                            /* pts ptmx */
    {'c', 10, 200, MZ_DEV_RWM},                                                             /* net/tun */
};
const size_t mz_dev_default_count = sizeof mz_dev_default_rules / sizeof mz_dev_default_rules[0];

static void number_text(int v, char *out, size_t len) {
  if (v == MZ_DEV_ANY)
    snprintf(out, len, "*");
  else
    snprintf(out, len, "%d", v);
}

void mz_dev_rule_text(const mz_dev_rule *r, char *out, size_t len) {
  char maj[16], min[16], acc[4];
  number_text(r->major, maj, sizeof maj);
  number_text(r->minor, min, sizeof min);
  size_t k = 0;
  if (r->access & MZ_DEV_READ) acc[k++] = 'r';
  if (r->access & MZ_DEV_WRITE) acc[k++] = 'w';
  if (r->access & MZ_DEV_MKNOD) acc[k++] = 'm';
  acc[k] = '\0';
  snprintf(out, len, "%c %s:%s %s", r->type, maj, min, acc);
}

/* ------------------------------------------------------------------ program */

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  struct bpf_insn i;
  memset(&i, 0, sizeof i);
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

/* Registers: r1 the context (then scratch), r2 the device type, r3 the access asked,
 * r4 the major, r5 the minor. */
enum { R0 = 0, R1, R2, R3, R4, R5 };

size_t mz_dev_bpf_program(const mz_dev_rule *rules, size_t n, void *outp) {
  struct bpf_insn *out = outp;
  size_t k = 0;
  const int16_t ctx_type = offsetof(struct bpf_cgroup_dev_ctx, access_type);
  out[k++] = insn(BPF_LDX | BPF_MEM | BPF_W, R2, R1, ctx_type, 0);
  out[k++] = insn(BPF_ALU64 | BPF_AND | BPF_K, R2, 0, 0, 0xffff);
  out[k++] = insn(BPF_LDX | BPF_MEM | BPF_W, R3, R1, ctx_type, 0);
  out[k++] = insn(BPF_ALU64 | BPF_RSH | BPF_K, R3, 0, 0, 16);
  out[k++] = insn(BPF_LDX | BPF_MEM | BPF_W, R4, R1, offsetof(struct bpf_cgroup_dev_ctx, major), 0);
  out[k++] = insn(BPF_LDX | BPF_MEM | BPF_W, R5, R1, offsetof(struct bpf_cgroup_dev_ctx, minor), 0);
  for (size_t r = 0; r < n; r++) {
    const mz_dev_rule *rule = &rules[r];
    /* The block's tests jump past its end (to the next rule) on a mismatch; their
     * offsets are filled in once the block's length is known. */
    size_t jumps[4], nj = 0;
    jumps[nj++] = k;
    out[k++] = insn(BPF_JMP | BPF_JNE | BPF_K, R2, 0, 0, rule->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
    if ((rule->access & MZ_DEV_RWM) != MZ_DEV_RWM) {
      /* Every access bit asked must be granted: (asked & ~granted) == 0. */
      out[k++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, R1, R3, 0, 0);
      out[k++] = insn(BPF_ALU64 | BPF_AND | BPF_K, R1, 0, 0, (int32_t)~(rule->access & MZ_DEV_RWM));
      jumps[nj++] = k;
      out[k++] = insn(BPF_JMP | BPF_JNE | BPF_K, R1, 0, 0, 0);
    }
    if (rule->major != MZ_DEV_ANY) {
      jumps[nj++] = k;
      out[k++] = insn(BPF_JMP | BPF_JNE | BPF_K, R4, 0, 0, rule->major);
    }
    if (rule->minor != MZ_DEV_ANY) {
      jumps[nj++] = k;
      out[k++] = insn(BPF_JMP | BPF_JNE | BPF_K, R5, 0, 0, rule->minor);
    }
    out[k++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 1);
    out[k++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    for (size_t j = 0; j < nj; j++) out[jumps[j]].off = (int16_t)(k - (jumps[j] + 1));
  }
  out[k++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 0);
  out[k++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  return k;
}

/* ------------------------------------------------------------------ kernel */

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

int mz_dev_bpf_load(const mz_dev_rule *rules, size_t n, char *err, size_t errlen) {
  if (n > MZ_DEV_MAX_RULES) {
    snprintf(err, errlen, "device rules: %zu rules, at most %d", n, MZ_DEV_MAX_RULES);
    return -1;
  }
  struct bpf_insn *insns = mz_malloc(MZ_DEV_BPF_MAX_INSNS(n) * sizeof *insns);
  size_t cnt = mz_dev_bpf_program(rules, n, insns);
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  a.insns = (uint64_t)(uintptr_t)insns;
  a.insn_cnt = (uint32_t)cnt;
  a.license = (uint64_t)(uintptr_t)"GPL";
  int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
  int e = errno;
  if (fd >= 0) {
    free(insns);
    return fd;
  }
  /* Again with the verifier's log, for the message. */
  char log[2048] = "";
  a.log_buf = (uint64_t)(uintptr_t)log;
  a.log_size = sizeof log;
  a.log_level = 1;
  fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
  free(insns);
  if (fd >= 0) return fd;
  for (char *p = log; *p; p++)
    if (*p == '\n') *p = ' ';
  snprintf(err, errlen, "bpf(BPF_PROG_LOAD) of a cgroup device program: %s%s%.400s", strerror(e),
           *log ? "; verifier: " : "", log);
  return -1;
}

int mz_dev_bpf_attach_fd(const char *cgroup, int prog, char *err, size_t errlen) {
  int cg = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) {
    snprintf(err, errlen, "open %s: %s", cgroup, strerror(errno));
    return -1;
  }
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.target_fd = (uint32_t)cg;
  a.attach_bpf_fd = (uint32_t)prog;
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = 0; /* single program: an attach replaces the one there */
  int rc = (int)sys_bpf(BPF_PROG_ATTACH, &a);
  if (rc != 0) snprintf(err, errlen, "bpf(BPF_PROG_ATTACH) of a device program to %s: %s", cgroup, strerror(errno));
  close(cg);
  return rc == 0 ? 0 : -1;
}

int mz_dev_bpf_attach(const char *cgroup, const mz_dev_rule *rules, size_t n, char *err, size_t errlen) {
  int prog = mz_dev_bpf_load(rules, n, err, errlen);
  if (prog < 0) return -1;
  int rc = mz_dev_bpf_attach_fd(cgroup, prog, err, errlen);
  close(prog); /* the attachment holds the program */
  return rc;
}
