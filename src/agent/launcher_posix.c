/* launcher_posix: the launcher of containerizer.h. A container is a session: its
 * first process calls setsid(), so every process it starts carries that session id
 * (the leader's pid) unless it calls setsid() itself, even after the leader has
 * exited. When the isolation has cgroups (isolation.h) the child first joins the
 * container's cgroups (created and limited by the parent), and the cgroups are what
 * finds, signals and kills the container's processes, whatever their session.
 * With namespaces/pid the child is the init of a new pid namespace: when it dies,
 * the kernel kills every process of the namespace.
 *
 * Between fork (vfork when the child only makes system calls) and exec the child:
 * setsid, joins the cgroups (writes "0" to each pre-opened cgroup.procs; under vfork
 * with spec->self_join it leaves them open at fds 4.. for the program instead),
 * redirects stdio, switches user, enters the sandbox, runs the spec's prepare step
 * (the fetcher) and execs. A failure there is written to a
 * close-on-exec pipe that the containerizer reads when it reaps the child.
 * A command or default executor that would be vfork'd and exec'd is asked of the
 * executor fork server instead when there is one (fork_server.h): its child does
 * the same steps and runs mezzo-executor's main without an exec. So is a direct
 * command task's command (spec->command_exec): the server's child execs it, and the
 * agent does not wait in vfork while the child joins the cgroups, nor for the server's
 * answer: the launch is submitted and its pid collected later (linux_next_pid).
 * With several fork servers (one per CPU, main.c), each launch goes to the one with
 * the fewest requests outstanding: a server waits for each child until its exec
 * (CLONE_VFORK), and several servers' children run side by side. Server i is the
 * containerizer's channel i: its replies come in the order of its requests.
 * impl: a linux_impl (the borrowed mz_isolation, the owned fork servers). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cgroup_files.h"
#include "agent/containerizer.h"
#include "agent/fork_server.h"
#include "common/fork_wire.h"
#include "common/log.h"
#include "common/task_command.h"
#include "common/util.h"

#define ERRPIPE_FD 3 /* where the child keeps the pipe's write end */
#define JOIN_FD0 (ERRPIPE_FD + 1) /* where a self-joining program gets its cgroup.procs fds */
#define HIGH_FD (JOIN_FD0 + MZ_CGROUP_FDS_MAX) /* above the fds the child rearranges */
_Static_assert(HIGH_FD <= MZ_CG_FILES_FD_MIN, "kept cgroup files must lie above the fds a child rearranges");

typedef struct {
  const mz_isolation *iso; /* borrowed */
  mz_fork_server *fs[MZ_LAUNCH_CHANNELS_MAX]; /* owned; none: executors are always exec'd */
  size_t nfs;
  int nullfd;              /* /dev/null, every container's stdin (above HIGH_FD); -1 if it would not open */
} linux_impl;

#define ISO(l) (((const linux_impl *)(l)->impl)->iso)

static void child_fail(const char *what, const char *detail) {
  (void)!write(ERRPIPE_FD, what, strlen(what));
  if (detail) {
    (void)!write(ERRPIPE_FD, ": ", 2);
    (void)!write(ERRPIPE_FD, detail, strlen(detail));
  }
  (void)!write(STDERR_FILENO, "mezzo-agent: ", 13);
  (void)!write(STDERR_FILENO, what, strlen(what));
  if (detail) {
    (void)!write(STDERR_FILENO, ": ", 2);
    (void)!write(STDERR_FILENO, detail, strlen(detail));
  }
  (void)!write(STDERR_FILENO, "\n", 1);
  _exit(127);
}

/* The child, between fork and exec. Never returns. */
static void child(const mz_launch_spec *spec, const int *join, size_t njoin, int pass_join, char *const *envp,
                  int out, int errfd, int nullfd, int pipew) {
  setsid();
  /* The pipe's write end goes to ERRPIPE_FD, everything else above it is closed. */
  if (pipew != ERRPIPE_FD) {
    if (dup2(pipew, ERRPIPE_FD) < 0) _exit(127);
  }
  fcntl(ERRPIPE_FD, F_SETFD, FD_CLOEXEC);
  for (size_t i = 0; i < njoin; i++) {
    if (pass_join) { /* dup2 leaves the copy open across exec */
      if (dup2(join[i], JOIN_FD0 + (int)i) < 0) child_fail("cannot pass the container's cgroups", strerror(errno));
    } else if (write(join[i], "0", 1) != 1) {
      child_fail("cannot join the container's cgroup", strerror(errno));
    }
  }
  if (nullfd >= 0) dup2(nullfd, STDIN_FILENO);
  dup2(out, STDOUT_FILENO);
  dup2(errfd, STDERR_FILENO);
  mz_close_fds_from(pass_join ? JOIN_FD0 + (int)njoin : ERRPIPE_FD + 1);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int s = 1; s < NSIG; s++) {
    if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
  }
  if (spec->switch_user) {
    if (setgroups(spec->ngroups, spec->groups) != 0) child_fail("setgroups", strerror(errno));
    if (setgid(spec->gid) != 0) child_fail("setgid", strerror(errno));
    if (setuid(spec->uid) != 0) child_fail("setuid", strerror(errno));
  }
  if (chdir(spec->cwd) != 0) child_fail("cannot enter the sandbox", strerror(errno));
  if (spec->prepare) {
    char err[1024] = "";
    if (spec->prepare(spec->prepare_arg, err, sizeof err) != 0) child_fail(err, NULL);
  }
  if (spec->command_exec) {
    /* A task's command started by the agent itself (direct_command.c): it goes with the agent,
     * as the command executor and its command do. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int e = mz_command_execvpe(spec->path, spec->argv, envp);
    (void)!write(ERRPIPE_FD, MZ_COMMAND_EXEC_FAILED ": ", sizeof MZ_COMMAND_EXEC_FAILED + 1);
    child_fail(spec->path, strerror(e));
  }
  execve(spec->path, spec->argv, envp);
  child_fail("cannot execute the executor", strerror(errno));
}

/* Moves fd up to HIGH_FD or above (the child rearranges the lower ones). */
static int high_fd(int fd) {
  if (fd < 0 || fd >= HIGH_FD) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);
  close(fd);
  return moved;
}

/* envp with MZ_CGROUP_FDS_ENV=<JOIN_FD0>,... for njoin fds (malloc'd array; its own
 * new entry is the last but NULL, the others borrowed). Not inlined: its locals
 * must not live in linux_launch's frame across the vfork. */
__attribute__((noinline)) static char **env_with_join_fds(char *const *envp, size_t njoin) {
  size_t n = 0;
  while (envp[n]) n++;
  char **e = mz_calloc(n + 2, sizeof *e);
  memcpy(e, envp, n * sizeof *e);
  char v[128];
  int len = snprintf(v, sizeof v, "%s=", MZ_CGROUP_FDS_ENV);
  for (size_t i = 0; i < njoin; i++)
    len += snprintf(v + len, sizeof v - (size_t)len, "%s%d", i ? "," : "", JOIN_FD0 + (int)i);
  e[n] = mz_strdup(v);
  return e;
}

/* Asks the fork server for the container's first process (spec->path is its program, or
 * a task's command that its child execs, and the launch needs nothing but what the
 * server's child does). 0 with *pid; a task's command is submitted, and *pid is then 0
 * (its pid comes with linux_next_pid). */
static int fork_server_launch(linux_impl *impl, const mz_launch_spec *spec, const int *join, size_t njoin, int out,
                              int errfd, int nullfd, int pipew, pid_t *pid, int *channel) {
  if (impl->nfs == 0 || nullfd < 0 || njoin > MZ_CGROUP_FDS_MAX ||
      (!spec->command_exec && strcmp(spec->path, mz_fork_server_path(impl->fs[0]))))
    return -1;
  size_t s = 0; /* the least busy running server (one that broke restarts at most every MZ_FORK_SERVER_RESTART_S) */
  for (size_t i = 1; i < impl->nfs; i++) {
    int up = mz_fork_server_pid(impl->fs[i]) != 0, s_up = mz_fork_server_pid(impl->fs[s]) != 0;
    if (up > s_up || (up == s_up && mz_fork_server_outstanding(impl->fs[i]) < mz_fork_server_outstanding(impl->fs[s])))
      s = i;
  }
  mz_fork_server *fs = impl->fs[s];
  *channel = (int)s;
  int fds[MZ_FORK_MAX_FDS] = {pipew, nullfd, out, errfd};
  for (size_t i = 0; i < njoin; i++) fds[MZ_FORK_FIXED_FDS + i] = join[i];
  char err[256];
  if (spec->command_exec) {
    *pid = 0;
    if (mz_fork_server_submit(fs, spec->path, spec->cwd, spec->argv, spec->envp, fds, MZ_FORK_FIXED_FDS + njoin,
                              err, sizeof err) == 0)
      return 0;
  } else if (mz_fork_server_spawn(fs, NULL, spec->cwd, spec->argv, spec->envp, fds, MZ_FORK_FIXED_FDS + njoin,
                                  pid, err, sizeof err) == 0) {
    return 0;
  }
  MZ_DEBUG("agent", "executor fork server: %s; exec'ing %s", err, spec->path);
  return -1;
}

static int linux_launch(mz_launcher *l, const char *container_id, const mz_launch_spec *spec, pid_t *pid,
                        int *channel, int *errpipe, char *err, size_t errlen) {
  linux_impl *impl = l->impl;
  const mz_isolation *iso = impl->iso;
  int join[MZ_CGC_N], join_kept = 0; /* kept: the cgroups' own open files (isolation.h) */
  size_t njoin = 0;
  if (iso->cg != MZ_CG_NONE &&
      mz_cg_create(iso, container_id, &spec->limits, join, &njoin, &join_kept, err, errlen) != 0)
    return -1;
  int out = open(spec->stdout_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int errfd = out < 0 ? -1 : open(spec->stderr_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int pfd[2] = {-1, -1};
  if (out < 0 || errfd < 0 || pipe2(pfd, O_CLOEXEC | O_NONBLOCK) != 0) {
    snprintf(err, errlen, "open %s: %s", out < 0 ? spec->stdout_path : spec->stderr_path, strerror(errno));
    if (out >= 0) close(out);
    if (errfd >= 0) close(errfd);
    for (size_t i = 0; i < njoin && !join_kept; i++) close(join[i]);
    if (iso->cg != MZ_CG_NONE) mz_cg_remove(iso, container_id);
    return -1;
  }
  /* Keep what the child uses off the low fds it rearranges. */
  out = high_fd(out);
  errfd = high_fd(errfd);
  pfd[1] = high_fd(pfd[1]);
  for (size_t i = 0; i < njoin && !join_kept; i++) join[i] = high_fd(join[i]);
  int nullfd = impl->nullfd;
  /* Only system calls before exec (no fetcher, no user switch, whose glibc calls are
   * not for a vfork child): vfork, so the agent's address space is not copied for
   * every container (fork's page-table copy and copy-on-write faults were a large
   * part of the agent's time per task). child() never returns. */
  int use_vfork = !iso->pid_ns && !spec->prepare && !spec->switch_user;
  pid_t c = -1;
  int forked = use_vfork && (spec->self_join || spec->command_exec) &&
               fork_server_launch(impl, spec, join, njoin, out, errfd, nullfd, pfd[1], &c, channel) == 0;
  int pass_join = !forked && use_vfork && spec->self_join && njoin > 0 && njoin <= MZ_CGROUP_FDS_MAX;
  char **envp = pass_join ? env_with_join_fds(spec->envp, njoin) : NULL;
  if (!forked) { /* else c is the fork server's child, or 0: submitted, its pid to come */
    if (iso->pid_ns)
      c = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
    else if (use_vfork)
      c = vfork();
    else
      c = fork();
    if (c == 0) child(spec, join, njoin, pass_join, envp ? envp : spec->envp, out, errfd, nullfd, pfd[1]);
  }
  int e = errno;
  if (envp) {
    size_t n = 0;
    while (envp[n + 1]) n++;
    free(envp[n]); /* the entry env_with_join_fds made */
    free(envp);
  }
  close(out);
  close(errfd);
  close(pfd[1]);
  for (size_t i = 0; i < njoin && !join_kept; i++) close(join[i]);
  if (c < 0) {
    snprintf(err, errlen, "%s: %s", iso->pid_ns ? "clone" : "fork", strerror(e));
    close(pfd[0]);
    if (iso->cg != MZ_CG_NONE) mz_cg_remove(iso, container_id);
    return -1;
  }
  *errpipe = pfd[0]; /* non-blocking, as its write end: the child's one message fits the pipe */
  *pid = c;
  return 0;
}

/* Fields of /proc/<pid>/stat after the command: 3 = state ... (see proc(5)). */
static int stat_fields(pid_t pid, pid_t *session, unsigned long long *starttime) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
  if (!p) return -1;
  char state;
  int ppid, pgrp, sess;
  if (sscanf(p + 1, " %c %d %d %d", &state, &ppid, &pgrp, &sess) != 4) return -1;
  if (session) *session = (pid_t)sess;
  if (starttime) {
    char *t = p + 2;
    for (int field = 3; t && field < 22; field++) {
      t = strchr(t, ' ');
      if (t) t++;
    }
    *starttime = t ? strtoull(t, NULL, 10) : 0;
  }
  return 0;
}

unsigned long long mz_proc_starttime(pid_t pid) {
  unsigned long long st = 0;
  if (stat_fields(pid, NULL, &st) != 0) return 0;
  return st;
}

static int session_signal(pid_t leader, int sig) {
  if (leader <= 1) return 0;
  int n = 0;
  if (kill(-leader, sig) == 0) n++;
  DIR *d = opendir("/proc");
  if (!d) return n;
  struct dirent *e;
  pid_t self = getpid();
  while ((e = readdir(d))) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 1 || pid == self) continue;
    pid_t s;
    if (stat_fields((pid_t)pid, &s, NULL) == 0 && s == leader && kill((pid_t)pid, sig) == 0) n++;
  }
  closedir(d);
  return n;
}

/* SIGKILLs the container's first process while it is a child of ours not yet reaped
 * (so its pid cannot have been reused) and still running: a self-joining program
 * (spec->self_join) is not in the container's cgroups until it has joined them.
 * Returns 1 when it was signalled. */
static int kill_unjoined_leader(pid_t leader) {
  if (leader <= 1) return 0;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (waitid(P_PID, (id_t)leader, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == leader) return 0;
  return kill(leader, SIGKILL) == 0;
}

static int linux_signal(mz_launcher *l, const char *container_id, pid_t leader, int sig) {
  const mz_isolation *iso = ISO(l);
  if (iso->cg == MZ_CG_NONE) return session_signal(leader, sig);
  if (sig == SIGKILL) return mz_cg_kill(iso, container_id) + kill_unjoined_leader(leader);
  int n = 0;
  if (leader > 1 && kill(leader, sig) == 0) n++;
  return n + session_signal(leader, sig);
}

static int linux_cleanup(mz_launcher *l, const char *container_id, pid_t leader) {
  const mz_isolation *iso = ISO(l);
  if (iso->cg == MZ_CG_NONE) return 0;
  /* rmdir refuses (EBUSY) a cgroup that still holds processes, so it is tried first:
   * a container whose processes are all gone (the usual end) costs no reading of
   * cgroup.procs; otherwise what is left is killed and the caller retries. */
  if (mz_cg_remove(iso, container_id) == 0) return 0;
  mz_cg_kill(iso, container_id);
  return 1;
}

static int linux_limitation(mz_launcher *l, const char *container_id, uint64_t mem_limit, int oom_event, char *msg,
                            size_t msglen) {
  const mz_isolation *iso = ISO(l);
  if (iso->cg == MZ_CG_NONE) return 0;
  return mz_cg_oom_happened(iso, container_id, mem_limit, oom_event, msg, msglen);
}

static int linux_usage(mz_launcher *l, const char *container_id, pid_t leader, mz_container_usage *u) {
  const mz_isolation *iso = ISO(l);
  if (iso->cg != MZ_CG_NONE && mz_cg_usage(iso, container_id, u) == 0) return 0;
  if (leader <= 1) return -1;
  return mz_proc_session_usage(leader, u);
}

static int linux_oom_fd(mz_launcher *l, const char *container_id, int *kept) {
  const mz_isolation *iso = ISO(l);
  *kept = 0;
  if (iso->cg == MZ_CG_NONE) return -1;
  return mz_cg_oom_fd(iso, container_id, kept);
}

static void linux_recover(mz_launcher *l, const char *container_id, pid_t leader, unsigned long long starttime) {
  const mz_isolation *iso = ISO(l);
  if (iso->cg != MZ_CG_NONE) {
    mz_cg_kill(iso, container_id);
    return;
  }
  /* posix: the session is ours if its leader is gone (its pid cannot be reused while
   * the session id is in use) or is still the very process we started. */
  if (leader <= 1) return;
  unsigned long long now = mz_proc_starttime(leader);
  if (now != 0 && now != starttime) return;
  session_signal(leader, SIGKILL);
}

static int linux_update(mz_launcher *l, const char *container_id, const mz_container_limits *lim, char *err,
                        size_t errlen) {
  return mz_cg_update(ISO(l), container_id, lim, err, errlen);
}

static void linux_stop_helpers(mz_launcher *l) {
  linux_impl *impl = l->impl;
  for (size_t i = 0; i < impl->nfs; i++)
    mz_fork_server_free(impl->fs[i]); /* it exits at the end of its socket; the containerizer reaps it */
  impl->nfs = 0;
}

static void linux_free(mz_launcher *l) {
  linux_stop_helpers(l);
  linux_impl *impl = l->impl;
  if (impl->nullfd >= 0) close(impl->nullfd);
  free(impl);
  free(l);
}

static int linux_next_pid(mz_launcher *l, int channel, int wait, pid_t *pid, char *err, size_t errlen) {
  linux_impl *impl = l->impl;
  int32_t reply;
  int r = channel >= 0 && (size_t)channel < impl->nfs ? mz_fork_server_collect(impl->fs[channel], wait, &reply) : -1;
  if (r != 1) return r;
  *pid = reply > 0 ? (pid_t)reply : 0;
  if (reply <= 0) snprintf(err, errlen, "the executor fork server could not start it: %s", strerror(-reply));
  return 1;
}

/* With cgroups a leftover container is found by its id (linux_recover): its leader's
 * start time is not read (an open and read of /proc/<pid>/stat per container). */
static unsigned long long linux_leader_starttime(mz_launcher *l, pid_t pid) {
  return ISO(l)->cg != MZ_CG_NONE ? 0 : mz_proc_starttime(pid);
}

static const mz_launcher_ops linux_ops = {"linux",          linux_launch,  linux_signal, linux_cleanup,
                                          linux_limitation, linux_usage,   linux_oom_fd, linux_update,
                                          linux_recover,    linux_stop_helpers, linux_free, linux_next_pid,
                                          linux_leader_starttime};
static const mz_launcher_ops posix_ops = {"posix",          linux_launch,  linux_signal, linux_cleanup,
                                          linux_limitation, linux_usage,   linux_oom_fd, linux_update,
                                          linux_recover,    linux_stop_helpers, linux_free, linux_next_pid,
                                          linux_leader_starttime};

mz_launcher *mz_launcher_new(const mz_isolation *iso, mz_fork_server *const *fs, size_t nfs) {
  mz_launcher *l = mz_calloc(1, sizeof *l);
  l->ops = iso->cg != MZ_CG_NONE || iso->pid_ns ? &linux_ops : &posix_ops;
  linux_impl *impl = mz_calloc(1, sizeof *impl);
  impl->iso = iso;
  for (size_t i = 0; i < nfs; i++) {
    if (fs[i] && impl->nfs < MZ_LAUNCH_CHANNELS_MAX) impl->fs[impl->nfs++] = fs[i];
    else mz_fork_server_free(fs[i]);
  }
  impl->nullfd = high_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  l->impl = impl;
  return l;
}
