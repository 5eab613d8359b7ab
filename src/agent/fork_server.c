/* fork_server (agent side): see fork_server.h. Replies come in the order of the
 * requests: those that a synchronous spawn reads ahead of its own, and those lost
 * with a server that broke (-EPIPE), wait in `held` for mz_fork_server_collect. */
#include "agent/fork_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fork_wire.h"
#include "common/log.h"
#include "common/util.h"

#define MOD "agent"

struct mz_fork_server {
  char *path;
  char **envp;       /* owned copy, NULL-terminated */
  int sock;          /* -1 while not running */
  pid_t pid;
  double stopped_at; /* monotonic time it was found broken */
  size_t pending;    /* submitted requests whose replies are still in the socket */
  int32_t *held;     /* replies read (or lost) but not yet collected, oldest first */
  size_t held_first, nheld, held_cap;
};

static void hold(mz_fork_server *fs, int32_t reply) {
  if (fs->held_first + fs->nheld == fs->held_cap) {
    if (fs->held_first > 0) { /* slide to the front */
      memmove(fs->held, fs->held + fs->held_first, fs->nheld * sizeof *fs->held);
      fs->held_first = 0;
    } else {
      fs->held_cap = fs->held_cap ? 2 * fs->held_cap : 16;
      fs->held = mz_realloc(fs->held, fs->held_cap * sizeof *fs->held);
    }
  }
  fs->held[fs->held_first + fs->nheld++] = reply;
}

/* SIGKILLs the server while it is a child of ours not yet reaped (the containerizer reaps
 * every child, so a pid it reaped may be another process's by now). */
static void kill_server(pid_t pid) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (pid > 0 && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0)
    kill(pid, SIGKILL);
}

/* Waits up to timeout_ms for one int32 on sock. 0, or -1 (timeout: errno ETIMEDOUT; the
 * server closed: EPIPE). */
static int recv_reply(int sock, int timeout_ms, int32_t *reply) {
  struct pollfd p = {sock, POLLIN, 0};
  int ready;
  do ready = poll(&p, 1, timeout_ms);
  while (ready < 0 && errno == EINTR);
  if (ready == 0) errno = ETIMEDOUT;
  if (ready <= 0) return -1;
  ssize_t n;
  do n = recv(sock, reply, sizeof *reply, 0);
  while (n < 0 && errno == EINTR);
  if (n == (ssize_t)sizeof *reply) return 0;
  if (n >= 0) errno = EPIPE;
  return -1;
}

static int start(mz_fork_server *fs, char *err, size_t errlen) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    snprintf(err, errlen, "socketpair: %s", strerror(errno));
    return -1;
  }
  int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  char *argv[] = {fs->path, "--fork-server", NULL};
  char *const *envp = fs->envp;
  pid_t pid = vfork();
  if (pid == 0) {
    setsid(); /* no terminal signals: it goes when the agent does */
    if (nullfd >= 0) dup2(nullfd, STDIN_FILENO);
    if (sv[1] == MZ_FORK_SERVER_FD)
      fcntl(sv[1], F_SETFD, 0);
    else if (dup2(sv[1], MZ_FORK_SERVER_FD) < 0)
      _exit(127);
    execve(fs->path, argv, envp);
    _exit(127);
  }
  int e = errno;
  if (nullfd >= 0) close(nullfd);
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    snprintf(err, errlen, "vfork: %s", strerror(e));
    return -1;
  }
  int st;
  if (waitpid(pid, &st, WNOHANG) == pid) { /* vfork returns after the exec or the _exit */
    close(sv[0]);
    snprintf(err, errlen, "cannot execute %s", fs->path);
    return -1;
  }
  /* Its hello (an int32 0) tells that the program is a fork server at all. */
  int32_t hello = -1;
  if (recv_reply(sv[0], MZ_FORK_SERVER_HELLO_TIMEOUT_MS, &hello) != 0 || hello != 0) {
    close(sv[0]);
    kill_server(pid); /* reaped with the containers' children (containerizer.c) */
    snprintf(err, errlen, "%s --fork-server did not answer as a fork server within %d ms", fs->path,
             MZ_FORK_SERVER_HELLO_TIMEOUT_MS);
    return -1;
  }
  fs->sock = sv[0];
  fs->pid = pid;
  return 0;
}

static void stop(mz_fork_server *fs, const char *why) {
  if (fs->sock < 0) return;
  MZ_WARN(MOD, "executor fork server (pid %d): %s; stopped (launches go to another server, or are exec'd, until it is "
               "restarted for a launch at least %gs later)", (int)fs->pid, why, MZ_FORK_SERVER_RESTART_S);
  for (; fs->pending > 0; fs->pending--) hold(fs, -EPIPE); /* the submitted requests it did not answer */
  close(fs->sock);
  kill_server(fs->pid); /* reaped with the containers' children (containerizer.c) */
  fs->sock = -1;
  fs->pid = 0;
  fs->stopped_at = mz_monotonic();
}

mz_fork_server *mz_fork_server_start(const char *executor_path, char *const *envp, char *err, size_t errlen) {
  mz_fork_server *fs = mz_calloc(1, sizeof *fs);
  fs->path = mz_strdup(executor_path);
  size_t n = 0;
  while (envp[n]) n++;
  fs->envp = mz_calloc(n + 1, sizeof *fs->envp);
  for (size_t i = 0; i < n; i++) fs->envp[i] = mz_strdup(envp[i]);
  fs->sock = -1;
  if (start(fs, err, errlen) != 0) {
    mz_fork_server_free(fs);
    return NULL;
  }
  return fs;
}

const char *mz_fork_server_path(const mz_fork_server *fs) { return fs->path; }

pid_t mz_fork_server_pid(const mz_fork_server *fs) { return fs->pid; }

/* Sends a request (starting the server when it is not running). 0, or -1 with err. */
static int send_request(mz_fork_server *fs, const char *exec, const char *cwd, char *const *argv, char *const *envp,
                        const int *fds, size_t nfds, char *err, size_t errlen) {
  if (fs->sock < 0) {
    if (mz_monotonic() - fs->stopped_at < MZ_FORK_SERVER_RESTART_S) {
      snprintf(err, errlen, "the fork server is not running");
      return -1;
    }
    if (start(fs, err, errlen) != 0) {
      fs->stopped_at = mz_monotonic();
      return -1;
    }
    MZ_INFO(MOD, "executor fork server restarted (pid %d)", (int)fs->pid);
  }
  size_t len;
  uint8_t *msg = mz_fork_request_encode(exec, cwd, argv, envp, &len);
  if (!msg) {
    snprintf(err, errlen, "the request is larger than %d bytes", MZ_FORK_MAX_MSG);
    return -1;
  }
  int rc = mz_fork_send(fs->sock, msg, len, fds, nfds);
  free(msg);
  if (rc != 0) {
    snprintf(err, errlen, "cannot send the request: %s", strerror(errno));
    stop(fs, err);
    return -1;
  }
  return 0;
}

/* Reads the next reply within timeout_ms. 0, or -1 with err (the server is stopped). */
static int read_reply(mz_fork_server *fs, int timeout_ms, int32_t *reply, char *err, size_t errlen) {
  if (recv_reply(fs->sock, timeout_ms, reply) == 0) return 0;
  snprintf(err, errlen, "%s", errno == ETIMEDOUT ? "no reply in time" : errno == EPIPE ? "it exited" : strerror(errno));
  stop(fs, err);
  return -1;
}

int mz_fork_server_spawn(mz_fork_server *fs, const char *exec, const char *cwd, char *const *argv, char *const *envp,
                         const int *fds, size_t nfds, pid_t *pid, char *err, size_t errlen) {
  if (send_request(fs, exec, cwd, argv, envp, fds, nfds, err, errlen) != 0) return -1;
  int32_t reply = 0;
  for (;;) { /* the replies to submitted requests come first */
    if (read_reply(fs, MZ_FORK_SERVER_REPLY_TIMEOUT_MS, &reply, err, errlen) != 0) return -1;
    if (fs->pending == 0) break;
    fs->pending--;
    hold(fs, reply);
  }
  if (reply <= 0) {
    snprintf(err, errlen, "the fork server could not start it: %s", strerror(-reply));
    return -1;
  }
  *pid = (pid_t)reply;
  return 0;
}

int mz_fork_server_submit(mz_fork_server *fs, const char *exec, const char *cwd, char *const *argv,
                          char *const *envp, const int *fds, size_t nfds, char *err, size_t errlen) {
  if (send_request(fs, exec, cwd, argv, envp, fds, nfds, err, errlen) != 0) return -1;
  fs->pending++;
  return 0;
}

int mz_fork_server_collect(mz_fork_server *fs, int wait, int32_t *reply) {
  if (fs->nheld == 0 && fs->pending > 0) {
    ssize_t n;
    do n = recv(fs->sock, reply, sizeof *reply, MSG_DONTWAIT); /* one call when it is there */
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof *reply) {
      fs->pending--;
      return 1;
    }
    int not_yet = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    if (not_yet && !wait) return 0;
    char err[128];
    if (!not_yet) {
      stop(fs, n > 0 ? "a short reply" : n == 0 ? "it exited" : strerror(errno));
    } else if (read_reply(fs, MZ_FORK_SERVER_REPLY_TIMEOUT_MS, reply, err, sizeof err) == 0) {
      fs->pending--;
      return 1;
    }
    /* the server broke: stop() held -EPIPE for each request it did not answer */
  }
  if (fs->nheld == 0) return -1;
  *reply = fs->held[fs->held_first++];
  if (--fs->nheld == 0) fs->held_first = 0;
  return 1;
}

size_t mz_fork_server_outstanding(const mz_fork_server *fs) { return fs->pending + fs->nheld; }

void mz_fork_server_free(mz_fork_server *fs) {
  if (!fs) return;
  if (fs->sock >= 0) close(fs->sock); /* it exits on the end of its socket */
  free(fs->held);
  for (size_t i = 0; fs->envp && fs->envp[i]; i++) free(fs->envp[i]);
  free(fs->envp);
  free(fs->path);
  free(fs);
}
