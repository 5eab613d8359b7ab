/* containerizer: runs executors in containers and tells the agent when they end.
 *
 * Two layers:
 *   - a launcher (mz_launcher_ops) knows how to start a container's first process
 *     and how to signal every process of a container. launcher_posix.c does it with
 *     a new session per container (the session id finds the processes, even those
 *     that made their own process group) and, when the isolation has cgroups
 *     (isolation.h), with a cgroup per container, which also holds the processes
 *     that made their own session.
 *   - the containerizer (containerizer.c) keeps the containers by id, reaps children
 *     on SIGCHLD (waitpid(-1, WNOHANG) loop; the agent is a child subreaper so orphaned
 *     task processes come back to it and are reaped too), destroys containers with a
 *     grace period (SIGTERM, then SIGKILL), kills what a container leaves behind when
 *     its first process exits, and calls the exit callback once per container with
 *     how it ended (launch error, memory limitation). It watches OOM events (cgroups)
 *     or samples RSS (posix/mem) and destroys a container over its memory limit.
 *     Each running container is recorded in a meta dir so that a restarted agent
 *     destroys the containers of a crashed one.
 *
 * Ownership: the containerizer owns the launcher and its container records; the
 * `owner` pointer given at launch belongs to the caller and is only passed back. */
#ifndef MZ_CONTAINERIZER_H
#define MZ_CONTAINERIZER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/isolation.h"

struct event_base;

typedef struct {
  const char *path;         /* executable (absolute) */
  char *const *argv;        /* NULL-terminated */
  char *const *envp;        /* NULL-terminated: the whole environment */
  const char *cwd;          /* the sandbox */
  const char *stdout_path;  /* appended to, created if missing */
  const char *stderr_path;
  mz_container_limits limits; /* cgroups limits; posix/mem samples against mem_bytes */
  int switch_user;          /* run as uid/gid with groups (the agent is root) */
  uid_t uid;
  gid_t gid;
  const gid_t *groups;
  size_t ngroups;
  /* Run in the child (in the container, in the sandbox, as the user) before exec,
   * e.g. the fetcher. Not async-signal-safe work is allowed: the agent is one thread.
   * 0, or -1 with err (reported as the container's launch error). May be NULL. */
  int (*prepare)(void *arg, char *err, size_t errlen);
  void *prepare_arg;
  /* The program joins the container's cgroups itself before anything else (our
   * mezzo-executor: mz_cgroups_join_from_env, util.h). Where the agent would wait in
   * vfork for the child to join (a cgroups v1 migration waits for an RCU grace
   * period: 0.6 ms a launch on average under bench-launch), the child passes the
   * cgroup.procs fds on instead. */
  int self_join;
  /* path is a task's command, started without an executor (direct_command.c): looked up
   * in envp's PATH when it has no '/' (task_command.h), and killed when the agent dies
   * (PR_SET_PDEATHSIG). An exec failure is the launch error
   * "<MZ_COMMAND_EXEC_FAILED>: <path>: <why>". */
  int command_exec;
} mz_launch_spec;

typedef struct mz_launcher mz_launcher;

/* Channels of submitted launches (fork servers) a launcher may use at most. */
#define MZ_LAUNCH_CHANNELS_MAX 8

typedef struct {
  const char *name;
  /* Starts the container's first process in the container. 0 with *pid and *errpipe
   * (read end of a close-on-exec pipe: the child writes why it could not exec, or
   * the prepare step failed, before exiting 127), or -1 with err. *pid 0: the launch
   * was submitted on *channel (0..MZ_LAUNCH_CHANNELS_MAX-1) and its pid comes later,
   * from next_pid of that channel, in the order of the channel's launches; a
   * submitted child's pid reaches its channel before the child can exit. */
  int (*launch)(mz_launcher *l, const char *container_id, const mz_launch_spec *spec, pid_t *pid, int *channel,
                int *errpipe, char *err, size_t errlen);
  /* Sends sig to every process of the container; returns how many were signalled. */
  int (*signal)(mz_launcher *l, const char *container_id, pid_t leader, int sig);
  /* Release what launch made: 0 when done, 1 when processes remain (call again later). */
  int (*cleanup)(mz_launcher *l, const char *container_id, pid_t leader);
  /* 1 when the container hit its memory limit (OOM kill), with a message. With
   * oom_event (its OOM fd fired), 1 also before the kernel has counted the kill: it
   * signals the OOM first, as Mesos's memory isolator takes it. */
  int (*limitation)(mz_launcher *l, const char *container_id, uint64_t mem_limit, int oom_event, char *msg,
                    size_t msglen);
  /* Resource usage of the container. 0 or -1. */
  int (*usage)(mz_launcher *l, const char *container_id, pid_t leader, mz_container_usage *u);
  /* An fd readable on an OOM event, or -1 (see mz_cg_oom_fd). The caller closes it
   * unless *kept (the launcher's, until the container's cleanup: the caller stops
   * watching it before). */
  int (*oom_fd)(mz_launcher *l, const char *container_id, int *kept);
  /* New limits for a running container (tasks came or went). 0 or -1 with err. */
  int (*update)(mz_launcher *l, const char *container_id, const mz_container_limits *lim, char *err, size_t errlen);
  /* Kills what is left of a container of a previous agent run. */
  void (*recover)(mz_launcher *l, const char *container_id, pid_t leader, unsigned long long starttime);
  /* Stops the processes the launcher keeps besides the containers (the executor fork
   * server), so that the agent's children are the containers' alone; later launches exec. */
  void (*stop_helpers)(mz_launcher *l);
  void (*free)(mz_launcher *l);
  /* The pid of the oldest launch submitted on `channel` (it answered *pid 0) and not
   * collected: 1 with *pid (0: it was not started, with err), 0 when not known yet
   * (with wait: waits for it, bounded), -1 when none is outstanding there. NULL where
   * launches always answer a pid. */
  int (*next_pid)(mz_launcher *l, int channel, int wait, pid_t *pid, char *err, size_t errlen);
  /* What the journal keeps of a container's first process for recover: its start time
   * (mz_proc_starttime) where recover tells a leftover container by its leader, 0
   * where it does not use it. NULL: the start time. */
  unsigned long long (*leader_starttime)(mz_launcher *l, pid_t pid);
} mz_launcher_ops;

struct mz_launcher {
  const mz_launcher_ops *ops;
  void *impl;
};

/* The launcher: setsid + fork/exec (clone into a new pid namespace with
 * namespaces/pid), the child joining the container's cgroups when the isolation has
 * them; signals by cgroup, else by session id (scanning /proc). iso is borrowed and
 * must outlive the launcher. With nfs fork servers fs[] (the array borrowed, the
 * servers owned; nfs 0..MZ_LAUNCH_CHANNELS_MAX, all of the same program), launches
 * of that program that a vfork and exec would do are asked of the server with the
 * fewest requests outstanding (fork_server.h), server i being channel i. */
struct mz_fork_server;
mz_launcher *mz_launcher_new(const mz_isolation *iso, struct mz_fork_server *const *fs, size_t nfs);
/* Start time of a process (field 22 of /proc/<pid>/stat), 0 if gone. */
unsigned long long mz_proc_starttime(pid_t pid);

typedef struct mz_containerizer mz_containerizer;
/* How a container ended. */
typedef struct {
  int wait_status;           /* of its first process, as from waitpid(2) */
  const char *launch_error;  /* the child could not prepare or exec (NULL otherwise) */
  int limited;               /* 1: killed for going over its memory limit */
  const char *limit_message;
} mz_container_termination;
typedef void (*mz_container_exit_cb)(void *owner, const mz_container_termination *t, void *arg);

/* Takes ownership of launcher. Installs the SIGCHLD handler on base and makes the
 * process a child subreaper. NULL on failure. */
mz_containerizer *mz_containerizer_new(struct event_base *base, mz_launcher *launcher, mz_container_exit_cb cb,
                                       void *arg);
/* 0 with *pid, or -1 with err (nothing left running). *pid is 0 when the launch was
 * submitted (a task's command asked of the fork server): the pid goes to the
 * mz_containerizer_on_pid callback when it comes, before any exit or exec report
 * of the container. */
int mz_containerizer_launch(mz_containerizer *c, const char *container_id, const mz_launch_spec *spec, void *owner,
                            pid_t *pid, char *err, size_t errlen);
/* Called with a submitted launch's pid once it is known. */
void mz_containerizer_on_pid(mz_containerizer *c, void (*cb)(void *owner, pid_t pid));
/* Where the ids of running containers are recorded (<work_dir>/meta/containers/journal,
 * container_journal.h), so that a later run can destroy what a crashed agent left.
 * Call before launching. */
void mz_containerizer_set_meta_dir(mz_containerizer *c, const char *dir);
/* Destroys the containers recorded in the meta dir by an earlier run (blocking,
 * bounded by `wait` seconds), but leaves alone (and keeps recorded) those for which
 * keep(id) returns 1 (keep may be NULL) and those adopted (mz_containerizer_adopt).
 * Returns how many were destroyed. */
int mz_containerizer_recover_except(mz_containerizer *c, double wait, int (*keep)(const char *id, void *arg),
                                    void *arg);
/* Destroys (as recover_except does) each of the n containers ids[] found on the
 * machine (their cgroups, mz_cg_list) that is neither recorded in the meta dir nor
 * known to this run: what an agent left when its work directory went with it. Call
 * after recover_except, and only when no other agent uses the same cgroups
 * (cgroups_lock.h), whose containers these could be. Nothing without a meta dir.
 * Returns how many were destroyed. */
int mz_containerizer_destroy_unrecorded(mz_containerizer *c, char *const *ids, size_t n, double wait);
/* Takes back a container of an earlier agent run whose first process `pid` (started
 * at `starttime`, see mz_proc_starttime) still runs but is no child of ours: its end
 * is watched through a pidfd (or by polling /proc) and reported to the exit callback
 * with wait_status -1 (unknown). 0, or -1 when that process is gone (or is another). */
int mz_containerizer_adopt(mz_containerizer *c, const char *container_id, pid_t pid, unsigned long long starttime,
                           void *owner);
/* Calls cb(owner) once the container's first process has exec'd its program (its error
 * pipe closed without a word). When it could not, cb is not called, and the exit
 * callback reports the launch error. 0, or -1 (unknown container, or watched already). */
int mz_containerizer_watch_exec(mz_containerizer *c, const char *container_id, void (*cb)(void *owner));
/* 1 when the container has hit its memory limit, with a message (see the launcher). */
int mz_containerizer_limitation(mz_containerizer *c, const char *container_id, char *msg, size_t msglen);
/* New cpu and memory limits for a running container (memory only grows). 0 or -1 with err. */
int mz_containerizer_update(mz_containerizer *c, const char *container_id, const mz_container_limits *lim, char *err,
                            size_t errlen);
/* Usage of a running container; 0 or -1 (unknown). */
int mz_containerizer_usage(mz_containerizer *c, const char *container_id, mz_container_usage *u);
/* Seconds between posix/mem samples (0: off). */
void mz_containerizer_set_mem_sampling(mz_containerizer *c, double interval);

/* SIGTERM to every process of the container, SIGKILL after grace seconds (0: SIGKILL now).
 * The exit callback runs when its first process is reaped. -1 if unknown. */
int mz_containerizer_destroy(mz_containerizer *c, const char *container_id, double grace);
/* At shutdown: stops the launcher's helpers, SIGKILLs every process of every container
 * now, and reaps for up to `wait` seconds (until the agent has no child left). */
void mz_containerizer_kill_all(mz_containerizer *c, double wait);
size_t mz_containerizer_count(const mz_containerizer *c);
/* Frees without callbacks (containers still running are left alone: kill them first). */
void mz_containerizer_free(mz_containerizer *c);

#endif
