/* launcher_posix: the POSIX launcher of containerizer.h. A container is a
 * session: its first process calls setsid(), so every process it starts carries
 * that session id (the leader's pid) unless it calls setsid() itself, even after
 * the leader has exited. Signalling a container signals the leader's process
 * group and every process in /proc whose session is the leader's pid.
 * No state: impl is unused. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/containerizer.h"
#include "common/util.h"

static void close_from(int lowfd) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = lowfd; fd < max; fd++) close(fd);
}

static int posix_launch(mz_launcher *l, const char *container_id, const mz_launch_spec *spec, pid_t *pid,
                        char *err, size_t errlen) {
  int out = open(spec->stdout_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) {
    snprintf(err, errlen, "open %s: %s", spec->stdout_path, strerror(errno));
    return -1;
  }
  int errfd = open(spec->stderr_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (errfd < 0) {
    snprintf(err, errlen, "open %s: %s", spec->stderr_path, strerror(errno));
    close(out);
    return -1;
  }
  int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t child = fork();
  if (child < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    close(out);
    close(errfd);
    if (nullfd >= 0) close(nullfd);
    return -1;
  }
  if (child == 0) {
    setsid();
    if (nullfd >= 0) dup2(nullfd, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(errfd, STDERR_FILENO);
    close_from(3);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++) {
      if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
    }
    if (chdir(spec->cwd) != 0) {
      const char *m = "mezzo-agent: cannot enter the sandbox\n";
      (void)!write(STDERR_FILENO, m, strlen(m));
      _exit(127);
    }
    execve(spec->path, spec->argv, spec->envp);
    const char *m = "mezzo-agent: cannot execute the executor: ";
    const char *e = strerror(errno);
    (void)!write(STDERR_FILENO, m, strlen(m));
    (void)!write(STDERR_FILENO, e, strlen(e));
    (void)!write(STDERR_FILENO, "\n", 1);
    _exit(127);
  }
  close(out);
  close(errfd);
  if (nullfd >= 0) close(nullfd);
  *pid = child;
  return 0;
}

/* Session id (field 6 of /proc/<pid>/stat), or -1. */
static pid_t session_of(pid_t pid) {
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
  int ppid, pgrp, session;
  if (sscanf(p + 1, " %c %d %d %d", &state, &ppid, &pgrp, &session) != 4) return -1;
  return (pid_t)session;
}

static int posix_signal(mz_launcher *l, const char *container_id, pid_t leader, int sig) {
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
    if (session_of((pid_t)pid) == leader && kill((pid_t)pid, sig) == 0) n++;
  }
  closedir(d);
  return n;
}

static void posix_cleanup(mz_launcher *l, const char *container_id, pid_t leader) {}

static void posix_free(mz_launcher *l) { free(l); }

static const mz_launcher_ops posix_ops = {"posix", posix_launch, posix_signal, posix_cleanup, posix_free};

mz_launcher *mz_launcher_posix_new(void) {
  mz_launcher *l = mz_calloc(1, sizeof *l);
  l->ops = &posix_ops;
  return l;
}
