/* containerizer: runs executors in containers and tells the agent when they end.
 *
 * Two layers:
 *   - a launcher (mz_launcher_ops) knows how to start a container's first process
 *     and how to signal every process of a container. launcher_posix.c does it with
 *     a new session per container (the session id finds the processes, even those
 *     that made their own process group); a cgroups launcher can implement the same
 *     operations with a freezer/kill cgroup later.
 *   - the containerizer (containerizer.c) keeps the containers by id, reaps children
 *     on SIGCHLD (waitpid(-1, WNOHANG) loop; the agent is a child subreaper so orphaned
 *     task processes come back to it and are reaped too), destroys containers with a
 *     grace period (SIGTERM, then SIGKILL), kills what a container leaves behind when
 *     its first process exits, and calls the exit callback once per container.
 *
 * Ownership: the containerizer owns the launcher and its container records; the
 * `owner` pointer given at launch belongs to the caller and is only passed back. */
#ifndef MZ_CONTAINERIZER_H
#define MZ_CONTAINERIZER_H

#include <stddef.h>
#include <sys/types.h>

struct event_base;

typedef struct {
  const char *path;         /* executable (absolute) */
  char *const *argv;        /* NULL-terminated */
  char *const *envp;        /* NULL-terminated: the whole environment */
  const char *cwd;          /* the sandbox */
  const char *stdout_path;  /* appended to, created if missing */
  const char *stderr_path;
} mz_launch_spec;

typedef struct mz_launcher mz_launcher;

typedef struct {
  const char *name;
  /* Starts the container's first process in the container. 0 with *pid, or -1 with err. */
  int (*launch)(mz_launcher *l, const char *container_id, const mz_launch_spec *spec, pid_t *pid, char *err,
                size_t errlen);
  /* Sends sig to every process of the container; returns how many were signalled. */
  int (*signal)(mz_launcher *l, const char *container_id, pid_t leader, int sig);
  /* The container is gone (its processes killed and reaped): release what launch made. */
  void (*cleanup)(mz_launcher *l, const char *container_id, pid_t leader);
  void (*free)(mz_launcher *l);
} mz_launcher_ops;

struct mz_launcher {
  const mz_launcher_ops *ops;
  void *impl;
};

/* The POSIX launcher: setsid + fork/exec; signals by session id (scanning /proc). */
mz_launcher *mz_launcher_posix_new(void);

typedef struct mz_containerizer mz_containerizer;
/* wait_status as from waitpid(2). */
typedef void (*mz_container_exit_cb)(void *owner, int wait_status, void *arg);

/* Takes ownership of launcher. Installs the SIGCHLD handler on base and makes the
 * process a child subreaper. NULL on failure. */
mz_containerizer *mz_containerizer_new(struct event_base *base, mz_launcher *launcher, mz_container_exit_cb cb,
                                       void *arg);
/* 0 with *pid, or -1 with err (nothing left running). */
int mz_containerizer_launch(mz_containerizer *c, const char *container_id, const mz_launch_spec *spec, void *owner,
                            pid_t *pid, char *err, size_t errlen);
/* SIGTERM to every process of the container, SIGKILL after grace seconds (0: SIGKILL now).
 * The exit callback runs when its first process is reaped. -1 if unknown. */
int mz_containerizer_destroy(mz_containerizer *c, const char *container_id, double grace);
/* SIGKILL every process of every container now, and reap for up to `wait` seconds. */
void mz_containerizer_kill_all(mz_containerizer *c, double wait);
size_t mz_containerizer_count(const mz_containerizer *c);
/* Frees without callbacks (containers still running are left alone: kill them first). */
void mz_containerizer_free(mz_containerizer *c);

#endif
