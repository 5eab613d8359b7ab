/* fetch_async: see fetch_async.h. The child writes one result record on its pipe
 * ('K', or 'E' followed by the error message) and exits; the loop reads the pipe
 * to its end and calls back. A pipe that ends without a record means the child
 * died (killed, crashed). The job owns the pipe's read end, its event and the pidfd. */
#include "agent/fetch_async.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/util.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#define RESULT_FD 3 /* where the child keeps the pipe's write end */

struct mz_fetch_job {
  pid_t pid;
  int pidfd;       /* -1 when the kernel has no pidfd_open */
  int rfd;         /* the pipe's read end */
  struct event *ev;
  char buf[MZ_FETCH_JOB_MAX_ERROR + 2];
  size_t len;
  mz_fetch_job_cb cb;
  void *arg;
};

/* ------------------------------------------------------------------ the child */

static void child_report(const char *tag, const char *msg) {
  (void)!write(RESULT_FD, tag, 1);
  if (msg) (void)!write(RESULT_FD, msg, strnlen(msg, MZ_FETCH_JOB_MAX_ERROR));
}

static void child_fail(const char *what, int e) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
  child_report("E", msg);
  _exit(1);
}

/* Signals back to their defaults (the agent's are libevent's), nothing blocked. */
static void child_reset_signals(void) {
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/* stdin from /dev/null, stdout and stderr appended to the sandbox's stderr file,
 * the result pipe on RESULT_FD, every other descriptor of the agent closed. */
static void child_fds(const mz_fetch_as *as, int wfd) {
  if (wfd != RESULT_FD) {
    if (dup2(wfd, RESULT_FD) < 0) _exit(127);
    close(wfd);
  }
  fcntl(RESULT_FD, F_SETFD, FD_CLOEXEC);
  int null = open("/dev/null", O_RDWR);
  int log = as->stderr_path ? open(as->stderr_path, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
  if (null >= 0) dup2(null, STDIN_FILENO);
  int out = log >= 0 ? log : null;
  if (out >= 0) {
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
  }
  mz_close_fds_from(RESULT_FD + 1);
}

/* The fetch is the agent's: it dies with the agent (a restarted agent fetches the
 * group again), so two fetchers never write one sandbox. Set after the credentials
 * change, which clears it. */
static void child_die_with(pid_t agent) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) child_fail("prctl", errno);
  if (getppid() != agent) _exit(1); /* the agent died before prctl */
}

static void child(const mz_fetch_request *req, const mz_fetch_as *as, int wfd, pid_t agent) {
  setsid();
  child_reset_signals();
  child_fds(as, wfd);
  if (as->switch_user) {
    if (setgroups(as->ngroups, as->groups) != 0) child_fail("setgroups", errno);
    if (setgid(as->gid) != 0) child_fail("setgid", errno);
    if (setuid(as->uid) != 0) child_fail("setuid", errno);
  }
  child_die_with(agent);
  if (chdir(req->sandbox) != 0) child_fail("cannot enter the sandbox", errno);
  char err[MZ_FETCH_JOB_MAX_ERROR];
  err[0] = '\0';
  if (mz_fetch_prepare((void *)req, err, sizeof err) != 0) {
    child_report("E", err[0] ? err : "the fetcher failed");
    _exit(1);
  }
  child_report("K", NULL);
  _exit(0);
}

/* ------------------------------------------------------------------ the agent's side */

static void job_free(mz_fetch_job *j) {
  if (j->ev) event_free(j->ev);
  if (j->rfd >= 0) close(j->rfd);
  if (j->pidfd >= 0) close(j->pidfd);
  free(j);
}

static void job_done(mz_fetch_job *j) {
  j->buf[j->len] = '\0';
  int ok = j->len >= 1 && j->buf[0] == 'K';
  const char *error = NULL;
  if (!ok)
    error = j->len >= 1 && j->buf[0] == 'E' ? j->buf + 1 : "the fetcher process ended without a result";
  mz_fetch_job_cb cb = j->cb;
  void *arg = j->arg;
  event_del(j->ev);
  cb(ok, error, arg);
  job_free(j);
}

static void on_readable(evutil_socket_t fd, short what, void *arg) {
  mz_fetch_job *j = arg;
  char tmp[512];
  for (;;) {
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n > 0) {
      size_t room = sizeof j->buf - 1 - j->len;
      size_t take = (size_t)n < room ? (size_t)n : room; /* the rest of a long message is dropped */
      memcpy(j->buf + j->len, tmp, take);
      j->len += take;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    job_done(j); /* end of the pipe (or an error reading it): the child is gone */
    return;
  }
}

mz_fetch_job *mz_fetch_job_start(struct event_base *base, const mz_fetch_request *req, const mz_fetch_as *as,
                                 mz_fetch_job_cb cb, void *arg, char *err, size_t errlen) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    return NULL;
  }
  pid_t agent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    close(p[0]);
    close(p[1]);
    return NULL;
  }
  if (pid == 0) {
    close(p[0]);
    child(req, as, p[1], agent);
  }
  close(p[1]);
  mz_fetch_job *j = mz_calloc(1, sizeof *j);
  j->pid = pid;
  /* Opened before the loop runs again, so before the SIGCHLD handler can reap it. */
  j->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  j->rfd = p[0];
  j->cb = cb;
  j->arg = arg;
  fcntl(j->rfd, F_SETFL, fcntl(j->rfd, F_GETFL) | O_NONBLOCK);
  j->ev = event_new(base, j->rfd, EV_READ | EV_PERSIST, on_readable, j);
  if (!j->ev || event_add(j->ev, NULL) != 0) {
    snprintf(err, errlen, "cannot watch the fetcher's pipe");
    mz_fetch_job_cancel(j);
    return NULL;
  }
  return j;
}

void mz_fetch_job_cancel(mz_fetch_job *j) {
  if (!j) return;
  if (j->pidfd >= 0)
    syscall(SYS_pidfd_send_signal, j->pidfd, SIGKILL, NULL, 0);
  else if (j->len == 0)
    kill(j->pid, SIGKILL); /* no pidfd (old kernel): only while it has not reported */
  job_free(j);
}
