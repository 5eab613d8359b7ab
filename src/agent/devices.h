/* devices: which device nodes a container may use (isolator cgroups/devices), as
 * allow rules, and the cgroups v2 form of them.
 *
 * A rule is what a v1 devices.allow line says ("c 195:0 rwm"): a type (char or
 * block), a major and a minor number (each may be any), and the access it grants
 * (read, write, mknod). A container is allowed Mesos's default whitelist
 * (mz_dev_default_rules) plus the GPUs it holds (isolation.c); everything else is
 * denied.
 *
 * cgroups v1 has files for that (devices.deny / devices.allow; isolation.c writes
 * them with mz_dev_rule_text). cgroups v2 has none: the kernel asks a program of type
 * BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup on every open and mknod of a
 * device node. mz_dev_bpf_program compiles the rules into such a program (plain eBPF
 * instructions, no compiler or libbpf needed), mz_dev_bpf_load loads it with the
 * bpf() system call and mz_dev_bpf_attach_fd attaches it to a container's cgroup,
 * replacing the one attached before (single-program mode: a rules update is one
 * attach). One loaded program may be attached to many cgroups. An attached
 * program stays with the cgroup after the agent exits, so a restarted agent's
 * containers keep their rules until it rewrites them.
 *
 * The program reads the access it is asked about from struct bpf_cgroup_dev_ctx and
 * returns 1 (allow) at the first rule that covers it, else 0 (the kernel then fails
 * the open or mknod with EPERM). */
#ifndef MZ_AGENT_DEVICES_H
#define MZ_AGENT_DEVICES_H

#include <stddef.h>

#define MZ_DEV_ANY (-1)

/* Access bits, the kernel's BPF_DEVCG_ACC_* values. */
enum { MZ_DEV_MKNOD = 1, MZ_DEV_READ = 2, MZ_DEV_WRITE = 4, MZ_DEV_RWM = 7 };

typedef struct {
  char type;          /* 'c' (char) or 'b' (block) */
  int major, minor;   /* MZ_DEV_ANY: any */
  unsigned access;    /* MZ_DEV_* bits */
} mz_dev_rule;

/* Mesos's default whitelist (at most 32 rules; the unit test checks): mknod of any
 * node, and null, zero, full, random, urandom, tty, console, tty0, tty1, pts, ptmx,
 * net/tun. */
extern const mz_dev_rule mz_dev_default_rules[];
extern const size_t mz_dev_default_count;

/* The rule as a v1 devices.allow/deny line: "c 1:3 rwm", "c 136:* rwm". */
void mz_dev_rule_text(const mz_dev_rule *r, char *out, size_t len);

/* Most rules in one program (Mesos's whitelist, 128 GPUs, their control devices). */
#define MZ_DEV_MAX_RULES 256

/* Longest program for n rules (instructions). */
#define MZ_DEV_BPF_MAX_INSNS(n) (8 + 8 * (n))

/* Compiles the rules into a BPF_PROG_TYPE_CGROUP_DEVICE program (struct bpf_insn,
 * 8 bytes each) in out, which has room for MZ_DEV_BPF_MAX_INSNS(n). Returns the
 * number of instructions. */
size_t mz_dev_bpf_program(const mz_dev_rule *rules, size_t n, void *out);

/* Loads the rules' program (at most MZ_DEV_MAX_RULES rules): its fd (close-on-exec),
 * or -1 with err (with the kernel's verifier log when it refused the program). The
 * kernel's verifier makes a load cost about 0.4 ms of CPU, so a program used for many
 * containers is loaded once and attached by fd. */
int mz_dev_bpf_load(const mz_dev_rule *rules, size_t n, char *err, size_t errlen);

/* Attaches the loaded program prog to the cgroup v2 directory `cgroup`, replacing
 * the program attached there (the attachment keeps its own reference: prog may be
 * closed after). 0, or -1 with err. */
int mz_dev_bpf_attach_fd(const char *cgroup, int prog, char *err, size_t errlen);

/* mz_dev_bpf_load, mz_dev_bpf_attach_fd and close: 0, or -1 with err. */
int mz_dev_bpf_attach(const char *cgroup, const mz_dev_rule *rules, size_t n, char *err, size_t errlen);

#endif
