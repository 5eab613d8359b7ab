/* fork_server: see fork_server.h. */
#include "executor/fork_server.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/fork_wire.h"
#include "common/task_command.h"
#include "common/util.h"

#define ERRPIPE_FD 3

extern char **environ;

/* The request buffer: a child's argv and environment strings stay in it (reachable from
 * here for leak checkers) for the child's life. */
static uint8_t *volatile request_buf; /* volatile: a write-only static would be optimized away */

static void child_fail(const char *what, const char *detail) {
  char msg[512];
  int n = snprintf(msg, sizeof msg, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
  if (n > (int)sizeof msg - 1) n = (int)sizeof msg - 1;
  (void)!write(ERRPIPE_FD, msg, (size_t)n);
  dprintf(STDERR_FILENO, "mezzo-executor (fork server): %s\n", msg);
  _exit(127);
}

/* ps and /proc/<pid>/cmdline show the executor's own argv, not the server's: the
 * server's argument area (its argv strings, contiguous) is rewritten with it, as far
 * as it fits (the server's "<path> --fork-server" holds "<path> --default"). */
static void set_cmdline(char **self_argv, char **argv) {
  if (!self_argv || !self_argv[0]) return;
  char *start = self_argv[0], *end = start;
  for (int i = 0; self_argv[i] && self_argv[i] == end; i++) end += strlen(self_argv[i]) + 1;
  size_t cap = (size_t)(end - start), off = 0;
  memset(start, 0, cap);
  for (int i = 0; argv[i]; i++) {
    size_t n = strlen(argv[i]) + 1;
    if (off + n > cap) break;
    memcpy(start + off, argv[i], n);
    off += n;
  }
}

/* The signals whose disposition in the server is not the default (SIGPIPE, and what it
 * inherited ignored): each child resets these alone, not every signal one by one. */
static sigset_t non_default;

/* The new executor, between the clone and entry (or the exec of `exec`). Never returns. */
static void child(int sock, int *fds, size_t nfds, const char *exec, const char *cwd, char **argv, char **envp,
                  char **self_argv, int (*entry)(int, char **), pid_t agent) {
  close(sock);
  setsid();
  /* The dup2s below overwrite fds 0 to ERRPIPE_FD: a received descriptor there moves up
   * first (none is, with the agent's socket at fd 3). */
  for (size_t i = 0; i < nfds; i++)
    if (fds[i] <= ERRPIPE_FD && (fds[i] = fcntl(fds[i], F_DUPFD, ERRPIPE_FD + 1)) < 0) _exit(127);
  if (dup2(fds[0], ERRPIPE_FD) < 0) _exit(127);
  fcntl(ERRPIPE_FD, F_SETFD, FD_CLOEXEC);
  for (size_t i = MZ_FORK_FIXED_FDS; i < nfds; i++)
    if (write(fds[i], "0", 1) != 1) child_fail("cannot join the container's cgroup", strerror(errno));
  if (dup2(fds[1], STDIN_FILENO) < 0 || dup2(fds[2], STDOUT_FILENO) < 0 || dup2(fds[3], STDERR_FILENO) < 0)
    child_fail("cannot redirect stdio", strerror(errno));
  mz_close_fds_from(ERRPIPE_FD + 1);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int s = 1; s < NSIG; s++)
    if (sigismember(&non_default, s) == 1) signal(s, SIG_DFL);
  if (chdir(cwd) != 0) child_fail("cannot enter the sandbox", strerror(errno));
  if (exec) {
    /* A task's command, started without an executor: it goes with the agent (its parent),
     * as the command executor and its command do. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != agent) _exit(127);
    int e = mz_command_execvpe(exec, argv, envp);
    char why[512];
    snprintf(why, sizeof why, "%s: %s", exec, strerror(e));
    child_fail(MZ_COMMAND_EXEC_FAILED, why);
  }
  set_cmdline(self_argv, argv);
  environ = envp;
  close(ERRPIPE_FD); /* started: as an exec closes it */
  int argc = 0;
  while (argv[argc]) argc++;
  exit(entry(argc, argv));
}

/* A request to exec a program (a direct command task's command): the child shares the
 * server's memory until its exec (CLONE_VM | CLONE_VFORK, on a stack of its own, as
 * posix_spawn's), which saves copying the server's page tables and the copy-on-write
 * faults after; the child sends the agent its pid itself, first, so that the agent
 * does not wait for the steps before the exec (the cgroup joins). */
typedef struct {
  int sock, *fds;
  size_t nfds;
  const char *exec, *cwd;
  char **argv, **envp, **self_argv;
  pid_t agent;
} exec_request;

static char exec_stack[64 * 1024] __attribute__((aligned(16)));

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
/* The last child's frames were left poisoned in ASan's shadow of the stack (it exec'd
 * without returning): clean for the next one. */
#define EXEC_STACK_READY() __asan_unpoison_memory_region(exec_stack, sizeof exec_stack)
#else
#define EXEC_STACK_READY() ((void)0)
#endif

static int exec_child(void *arg) {
  exec_request *r = arg;
  int32_t pid = (int32_t)syscall(SYS_getpid);
  if (mz_fork_send(r->sock, &pid, sizeof pid, NULL, 0) != 0) _exit(127);
  /* child() renumbers descriptors in its array: a copy, the server's stays as it got them
   * (it closes them once the child has exec'd). */
  int fds[MZ_FORK_MAX_FDS];
  memcpy(fds, r->fds, r->nfds * sizeof *fds);
  child(r->sock, fds, r->nfds, r->exec, r->cwd, r->argv, r->envp, r->self_argv, NULL, r->agent);
  return 127; /* not reached */
}

int mz_executor_fork_server(int sock, char **self_argv, int (*entry)(int argc, char **argv)) {
  pid_t agent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != agent) return 0; /* the agent died before the line above */
  mz_close_fds_from(sock + 1);
  signal(SIGPIPE, SIG_IGN);
  tzset(); /* the time zone read once here, not by each child at its first log line */
  sigemptyset(&non_default);
  for (int s = 1; s < NSIG; s++) {
    struct sigaction sa;
    if (s != SIGKILL && s != SIGSTOP && sigaction(s, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL)
      sigaddset(&non_default, s);
  }
  uint8_t *buf = request_buf = mz_malloc(MZ_FORK_MAX_MSG);
  int32_t hello = 0;
  if (mz_fork_send(sock, &hello, sizeof hello, NULL, 0) != 0) {
    free(buf);
    request_buf = NULL;
    return 1;
  }
  for (;;) {
    int fds[MZ_FORK_MAX_FDS];
    size_t nfds = 0;
    ssize_t n = mz_fork_recv(sock, buf, MZ_FORK_MAX_MSG, fds, &nfds);
    if (n == 0) break; /* the agent closed its end */
    int32_t reply;
    char *exec, *cwd, **argv = NULL, **envp = NULL;
    if (n < 0) {
      if (errno != EMSGSIZE) break;
      reply = -EMSGSIZE;
    } else if (nfds < MZ_FORK_FIXED_FDS || mz_fork_request_decode(buf, (size_t)n, &exec, &cwd, &argv, &envp) != 0) {
      reply = -EINVAL;
    } else if (exec) {
      exec_request r = {sock, fds, nfds, exec, cwd, argv, envp, self_argv, agent};
      EXEC_STACK_READY();
      pid_t pid = clone(exec_child, exec_stack + sizeof exec_stack, CLONE_VM | CLONE_VFORK | CLONE_PARENT | SIGCHLD,
                        &r);
      reply = pid < 0 ? -errno : 0; /* 0: the child has replied */
    } else {
      /* CLONE_PARENT: the executor is the agent's child. Like fork(), without its atfork
       * handlers: this process is single-threaded and idle here. */
      pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
      if (pid == 0) child(sock, fds, nfds, exec, cwd, argv, envp, self_argv, entry, agent);
      reply = pid < 0 ? -errno : (int32_t)pid;
    }
    free(argv);
    free(envp);
    for (size_t i = 0; i < nfds; i++) close(fds[i]);
    if (reply != 0 && mz_fork_send(sock, &reply, sizeof reply, NULL, 0) != 0) break;
  }
  free(buf);
  request_buf = NULL;
  return 0;
}
