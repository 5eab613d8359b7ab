/* isolation: which isolators the agent uses (--isolation, Mesos's names) and the
 * cgroups operations behind them.
 *
 *   cgroups/cpu     cpu.shares (1024 per cpu) or cpu.weight; CFS quota with --cgroups_enable_cfs
 *   cgroups/mem     memory.limit_in_bytes (+ memory.memsw.limit_in_bytes) or memory.max (+ swap.max 0);
 *                   OOM kills are detected (memory.oom_control / memory.events) and reported
 *   cgroups/pids    a cgroup for accounting; pids.max with --cgroups_limit_pids
 *   namespaces/pid  the container's first process is the init of a new pid namespace
 *   filesystem/posix the sandbox is the working directory (always on)
 *   posix/cpu       usage from /proc
 *   posix/mem       usage from /proc; RSS sampled and the container killed on overrun
 *   cgroups/devices Mesos's default whitelist (null, zero, full, random, urandom, tty,
 *                   console, pts, ptmx, tun) plus the GPUs the container holds and,
 *                   when it holds any, the NVIDIA control devices; every other device
 *                   is denied: v1 a devices cgroup per container, v2 a BPF device
 *                   program attached to its cgroup (devices.h)
 *   gpu/nvidia      whole GPUs per container (gpu.h); on by default when NVML finds
 *                   GPUs, and then cgroups/devices too (v2: where BPF device programs
 *                   can be loaded; else the log says GPU access is not enforced)
 *
 * The default is detected at start: cgroups v2 when the unified hierarchy has the cpu
 * and memory controllers, else cgroups v1 when its cpu and memory hierarchies are
 * mounted and writable, else posix. With cgroups v1 every container gets a cgroup per
 * hierarchy (plus freezer, to stop a container before killing it) at
 *   <mount>/<the agent's own cgroup>/<cgroups_root>/<container_id>
 * which keeps tasks inside whatever limits the agent itself runs under; the cgroups a
 * container left clean are renamed and reused by the next one (isolation.c, "reuse").
 * With v2 a container gets one cgroup at <mount>/<cgroups_root>/<container_id>, as in
 * Mesos: v2 passes controllers only through cgroups that hold no process, which the
 * agent's own cgroup does (isolation.c, v2_usable).
 *
 * Ownership: mz_isolation owns its strings; it is owned by main.c and read by the
 * launcher. Functions that take a container id build paths from it (ids were
 * validated: no '/', not "." or ".."). */
#ifndef MZ_ISOLATION_H
#define MZ_ISOLATION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum { MZ_CG_NONE = 0, MZ_CG_V1 = 1, MZ_CG_V2 = 2 } mz_cg_version;

/* v1 hierarchies used (v2: only MZ_CGC_UNIFIED). */
enum {
  MZ_CGC_CPU = 0, MZ_CGC_CPUACCT, MZ_CGC_MEMORY, MZ_CGC_PIDS, MZ_CGC_FREEZER, MZ_CGC_DEVICES, MZ_CGC_UNIFIED, MZ_CGC_N
};

struct mz_gpus;
typedef struct mz_cg_pool mz_cg_pool; /* v1 cgroups kept for reuse (isolation.c) */

typedef struct mz_isolation {
  char *spec;          /* the isolators in use, comma-separated (Mesos's names) */
  char *reason;        /* why: logged at start */
  mz_cg_version cg;
  int cg_cpu, cg_mem, cg_pids, pid_ns, posix_cpu, posix_mem;
  int disk_du; /* disk/du: sandboxes measured (agent/disk_du.c) */
  int enable_cfs;
  int memsw;           /* v1: swap is accounted (memory.memsw.* files) */
  long limit_pids;     /* 0: no pids.max */
  char *base[MZ_CGC_N]; /* <mount>/<own cgroup>/<root> of each hierarchy in use; NULL when unused */
  int base_fd[MZ_CGC_N]; /* each base open (O_PATH), for paths under it; -1 when unused */
  int base_fd_ok;      /* base_fd is filled in (after a successful init) */
  int devices_bpf;     /* v2: each container's device rules are a BPF program (devices.h) */
  int devices_prog;    /* with devices_bpf: the loaded program of Mesos's whitelist alone */
  char *cg_root;       /* --cgroups_root */
  struct mz_gpus *gpus; /* gpu/nvidia: the GPUs and who holds them (borrowed); NULL when off */
  mz_cg_pool *pool;    /* v1: the emptied cgroups kept for the next containers; NULL when off */
} mz_isolation;

typedef struct {
  double cpus;         /* 0: no limit */
  uint64_t mem_bytes;  /* 0: no limit */
} mz_container_limits;

typedef struct {
  double cpus_user_time_secs, cpus_system_time_secs;
  uint64_t mem_rss_bytes;
  uint64_t mem_total_bytes; /* cgroups: usage including cache */
  uint64_t processes;
} mz_container_usage;

/* Parses --isolation (NULL or "" or "auto": detect). 0, or -1 with err naming the flag. */
int mz_isolation_init(mz_isolation *iso, const char *flag, const char *cgroups_root, int enable_cfs,
                      long limit_pids, char *err, size_t errlen);
void mz_isolation_free(mz_isolation *iso);
/* Turns gpu/nvidia on when g->enabled (g is borrowed and must outlive iso): with
 * cgroups v1 every container then gets a devices cgroup (cgroups/devices) that
 * allows only the GPUs it holds. Adds both to iso->spec and the reason to
 * g->reason. cgroups/devices named in --isolation is kept even without GPUs. */
void mz_isolation_enable_gpus(mz_isolation *iso, struct mz_gpus *g);
/* Rewrites the GPU rules of the container's devices cgroup to the GPUs it holds
 * now (after some were given back). 0, or -1 when a write failed. */
int mz_cg_update_devices(const mz_isolation *iso, const char *id);

/* Creates the container's cgroups and sets its limits; gives each cgroup.procs open
 * for writing (close-on-exec) in fds (at most MZ_CGC_N) for the child to join with
 * "0". With *fds_kept they are the files that its set of cgroups keeps open
 * (cgroup_files.h: at MZ_CG_FILES_FD_MIN or above), not to be closed; else the
 * caller's to close. 0, or -1 with err (what was made is removed). */
int mz_cg_create(const mz_isolation *iso, const char *id, const mz_container_limits *lim, int *fds, size_t *nfds,
                 int *fds_kept, char *err, size_t errlen);
/* SIGKILLs every process of the container's cgroups (freezing first where a freezer
 * exists). Returns how many processes were found. */
/* New cpu and memory limits for a running container (tasks came or went): cpu set,
 * memory only raised. 0 or -1 with err. */
int mz_cg_update(const mz_isolation *iso, const char *id, const mz_container_limits *lim, char *err, size_t errlen);
int mz_cg_kill(const mz_isolation *iso, const char *id);
/* How many processes remain in the container's cgroups (-1: no cgroup). */
int mz_cg_count(const mz_isolation *iso, const char *id);
/* Removes the container's cgroups (v1: or keeps them, renamed, for another container,
 * when it left them clean): 0 when gone, 1 when processes remain (try again). */
int mz_cg_remove(const mz_isolation *iso, const char *id);
/* The names of the cgroups under the bases that may be containers' (directories whose
 * names do not start with '.': reuse's free sets are swept apart), all hierarchies
 * together, each name once: *ids is malloc'd, as is each name. Returns how many. */
size_t mz_cg_list(const mz_isolation *iso, char ***ids);
/* v1 reuse: removes the free sets (".free-<pid>-<n>") of every other pid, even a live
 * one; only for an agent that no other agent shares the bases with (cgroups_lock.h):
 * a crashed agent's pid may belong to another process since. */
void mz_cg_sweep_others_free_sets(const mz_isolation *iso);
/* 1 when the kernel OOM-killed a process of the container, with a message; with
 * oom_event (the fd of mz_cg_oom_fd fired), 1 as well: v1 signals the OOM before its
 * kill is counted in memory.oom_control. */
int mz_cg_oom_happened(const mz_isolation *iso, const char *id, uint64_t limit, int oom_event, char *msg,
                       size_t msglen);
/* An eventfd that becomes readable on an OOM event (v1: on memory.oom_control), or -1
 * (v2 has none that an event loop can watch: memory.events, sampled by
 * mz_cg_oom_happened, tells its OOM kills). The caller closes it, unless *kept: it is then
 * the eventfd of the container's kept set of cgroups (cgroup_files.h), registered
 * once for every container that set serves, and closed with the set (by
 * mz_cg_remove: the caller stops watching it before). */
int mz_cg_oom_fd(const mz_isolation *iso, const char *id, int *kept);
/* Usage from the container's cgroups. 0, or -1. */
int mz_cg_usage(const mz_isolation *iso, const char *id, mz_container_usage *u);

/* posix: usage of every process whose session is `sid` (scans /proc). */
int mz_proc_session_usage(pid_t sid, mz_container_usage *u);

/* Whether name is one of the comma-separated isolators in spec (--isolation). */
int mz_isolator_listed(const char *spec, const char *name);

#endif
