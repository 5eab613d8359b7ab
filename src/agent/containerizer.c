/* containerizer: see containerizer.h. Container records live in a uthash table
 * keyed by container id; each has its leader pid, the caller's owner pointer, the
 * SIGKILL escalation timer of a destroy in progress, the read end of the launch
 * error pipe, its memory limit and OOM watch. Containers whose first process exited
 * but whose cgroups still hold processes wait in a cleanup list retried on a timer.
 * Launches whose pid comes later (submitted to a fork server) wait in a list per
 * channel (the launcher's: one per fork server), in launch order; their pids are
 * collected before anything needs them: before each reaping (a child's pid reaches
 * its fork server's socket before it can exit), before the exec watch reports
 * (likewise, before its exec), and, waiting for it, before a container's processes
 * are signalled or measured.
 * Everything here is owned by the containerizer. */
#include "agent/containerizer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <uthash.h>
#include <utlist.h>

#include "agent/container_journal.h"
#include "common/log.h"
#include "common/util.h"

#define MOD "containerizer"
#define CLEANUP_RETRY 0.05     /* seconds between attempts to remove a container's cgroups */
#define CLEANUP_ATTEMPTS 2000  /* then give up (logged) */
#define LAUNCH_ERROR_MAX 2048
#define ADOPTED_POLL 0.25      /* seconds between /proc checks of an adopted process without a pidfd */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

typedef struct container {
  char *id;
  pid_t pid;
  void *owner;
  struct event *escalate; /* SIGKILL after the destroy's grace period */
  int errpipe;
  struct event *exec_ev;  /* mz_containerizer_watch_exec: on the error pipe */
  void (*exec_cb)(void *owner);
  char *launch_error;     /* read early by the exec watch */
  int in_pid_index;       /* in by_pid (our children; adopted ones are not) */
  uint64_t mem_limit;
  int limited;
  char *limit_message;
  int oom_fd;
  int oom_fd_kept; /* the launcher's (a kept cgroup set's): not closed here */
  struct event *oom_ev;
  /* Adopted from an earlier agent run (not our child): how its end is noticed. */
  int adopted;
  unsigned long long starttime;
  int pidfd;
  struct event *exit_ev;  /* on the pidfd, or a polling timer */
  /* Launched without its pid yet (pid 0): in the containerizer's pending list of its channel. */
  int pending;
  int channel;
  struct container *pprev, *pnext;
  struct event *fail_ev;  /* its launch failed after all: ends it from the loop */
  mz_containerizer *c;
  UT_hash_handle hh;
  UT_hash_handle hh_pid;
} container;

typedef struct leftover {
  char *id;
  pid_t pid;
  int attempts;
  struct leftover *prev, *next;
} leftover;

struct mz_containerizer {
  struct event_base *base;
  mz_launcher *launcher;
  mz_container_exit_cb cb;
  void *arg;
  struct event *sigchld;
  container *by_id;
  container *by_pid;      /* hh_pid: the containers whose first process is our child, by its pid */
  leftover *leftovers;
  struct event *cleanup_timer;
  struct event *sample_timer;
  double sample_interval;
  mz_cjournal *journal; /* the containers started, for a later run (NULL: not recorded) */
  container *pending[MZ_LAUNCH_CHANNELS_MAX]; /* per channel, launches whose pid has not come yet, oldest first */
  size_t npending;
  void (*pid_cb)(void *owner, pid_t pid);
};

static void container_free(container *k) {
  if (k->escalate) event_free(k->escalate);
  if (k->fail_ev) event_free(k->fail_ev);
  if (k->exec_ev) event_free(k->exec_ev);
  free(k->launch_error);
  if (k->oom_ev) event_free(k->oom_ev);
  if (k->oom_fd >= 0 && !k->oom_fd_kept) close(k->oom_fd);
  if (k->errpipe >= 0) close(k->errpipe);
  if (k->exit_ev) event_free(k->exit_ev);
  if (k->pidfd >= 0) close(k->pidfd);
  free(k->limit_message);
  free(k->id);
  free(k);
}

/* ------------------------------------------------------------------ meta records */

static void meta_write(mz_containerizer *c, const char *id, pid_t pid) {
  if (!c->journal) return;
  unsigned long long start = pid == 0                           ? 0
                             : c->launcher->ops->leader_starttime ? c->launcher->ops->leader_starttime(c->launcher, pid)
                                                                 : mz_proc_starttime(pid);
  if (mz_cjournal_add(c->journal, id, pid, start) != 0)
    MZ_WARN(MOD, "cannot record container %s: its id cannot be journalled", id);
}

static void meta_remove(mz_containerizer *c, const char *id) {
  if (c->journal) mz_cjournal_remove(c->journal, id);
}

void mz_containerizer_set_meta_dir(mz_containerizer *c, const char *dir) {
  mz_cjournal_free(c->journal);
  c->journal = NULL;
  if (!dir) return;
  char err[512];
  c->journal = mz_cjournal_open(dir, err, sizeof err);
  if (!c->journal) MZ_WARN(MOD, "containers will not be recovered after a crash: %s", err);
}

/* Kills what is left of a container of an earlier run and removes it, trying for up
 * to `wait` seconds (blocking). */
static void destroy_leftover(mz_containerizer *c, const char *id, pid_t pid, unsigned long long start, double wait) {
  double deadline = mz_monotonic() + wait;
  for (;;) {
    c->launcher->ops->recover(c->launcher, id, pid, start);
    if (c->launcher->ops->cleanup(c->launcher, id, pid) == 0) return;
    if (mz_monotonic() > deadline) {
      MZ_WARN(MOD, "container %s of an earlier run still has processes after %.0fs", id, wait);
      return;
    }
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

int mz_containerizer_recover_except(mz_containerizer *c, double wait, int (*keep)(const char *id, void *arg),
                                    void *arg) {
  if (!c->journal) return 0;
  size_t n = mz_cjournal_list(c->journal, NULL, NULL, NULL, 0);
  const char **ids = mz_calloc(n + 1, sizeof *ids);
  pid_t *pids = mz_calloc(n + 1, sizeof *pids);
  unsigned long long *starts = mz_calloc(n + 1, sizeof *starts);
  mz_cjournal_list(c->journal, ids, pids, starts, n);
  char **gone = mz_calloc(n + 1, sizeof *gone);
  size_t ngone = 0;
  int found = 0;
  for (size_t i = 0; i < n; i++) {
    container *adopted;
    HASH_FIND_STR(c->by_id, ids[i], adopted);
    if (adopted || (keep && keep(ids[i], arg))) continue;
    found++;
    MZ_INFO(MOD, "destroying container %s left by an earlier run (leader pid %d)", ids[i], (int)pids[i]);
    destroy_leftover(c, ids[i], pids[i], starts[i], wait);
    gone[ngone++] = mz_strdup(ids[i]);
  }
  for (size_t i = 0; i < ngone; i++) { /* after the loop: removing invalidates ids[] */
    mz_cjournal_remove(c->journal, gone[i]);
    free(gone[i]);
  }
  free(gone);
  free(starts);
  free(pids);
  free(ids);
  return found;
}

int mz_containerizer_destroy_unrecorded(mz_containerizer *c, char *const *ids, size_t n, double wait) {
  int found = 0;
  if (!c->journal) return 0;
  for (size_t i = 0; i < n; i++) {
    container *known;
    HASH_FIND_STR(c->by_id, ids[i], known);
    if (known || mz_cjournal_get(c->journal, ids[i], NULL, NULL)) continue;
    found++;
    MZ_INFO(MOD, "destroying container %s: its cgroups were left by an agent that recorded it elsewhere "
            "(a work directory since removed)", ids[i]);
    destroy_leftover(c, ids[i], 0, 0, wait);
  }
  return found;
}

/* ------------------------------------------------------------------ cleanup of leftovers */

static void on_cleanup_timer(evutil_socket_t fd, short what, void *arg) {
  mz_containerizer *c = arg;
  leftover *l, *tmp;
  DL_FOREACH_SAFE(c->leftovers, l, tmp) {
    int busy = c->launcher->ops->cleanup(c->launcher, l->id, l->pid);
    if (busy && ++l->attempts < CLEANUP_ATTEMPTS) continue;
    if (busy) MZ_WARN(MOD, "container %s: processes remain after %d attempts to remove it", l->id, l->attempts);
    else MZ_DEBUG(MOD, "container %s: cleaned up", l->id);
    meta_remove(c, l->id);
    DL_DELETE(c->leftovers, l);
    free(l->id);
    free(l);
  }
  if (c->leftovers) mz_timer_in(c->cleanup_timer, CLEANUP_RETRY);
}

static void cleanup_or_defer(mz_containerizer *c, const char *id, pid_t pid) {
  if (c->launcher->ops->cleanup(c->launcher, id, pid) == 0) {
    meta_remove(c, id);
    return;
  }
  leftover *l = mz_calloc(1, sizeof *l);
  l->id = mz_strdup(id);
  l->pid = pid;
  DL_APPEND(c->leftovers, l);
  if (!evtimer_pending(c->cleanup_timer, NULL)) mz_timer_in(c->cleanup_timer, CLEANUP_RETRY);
}

/* ------------------------------------------------------------------ reaping */

static void check_limitation(mz_containerizer *c, container *k) {
  if (k->limited) return;
  char msg[512];
  if (c->launcher->ops->limitation(c->launcher, k->id, k->mem_limit, 0, msg, sizeof msg) == 1) {
    k->limited = 1;
    k->limit_message = mz_strdup(msg);
  }
}

static void container_ended(mz_containerizer *c, container *found, int st);

static void collect_pids(mz_containerizer *c, container *until);

static void reap(mz_containerizer *c) {
  collect_pids(c, NULL);
  for (;;) {
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p <= 0) break;
    container *found;
    HASH_FIND(hh_pid, c->by_pid, &p, sizeof p, found);
    if (!found && c->npending) { /* a child that exited after the collect above: its pid came before */
      collect_pids(c, NULL);
      HASH_FIND(hh_pid, c->by_pid, &p, sizeof p, found);
    }
    if (!found) continue; /* an orphan of some container, reparented to us */
    MZ_INFO(MOD, "container %s: process %d exited (status %d)", found->id, (int)p, st);
    container_ended(c, found, st);
  }
}

static void container_ended(mz_containerizer *c, container *found, int st) {
  {
    char launch_error[LAUNCH_ERROR_MAX];
    launch_error[0] = '\0';
    if (found->launch_error) {
      snprintf(launch_error, sizeof launch_error, "%s", found->launch_error);
    } else if (found->errpipe >= 0) {
      ssize_t n = read(found->errpipe, launch_error, sizeof launch_error - 1);
      launch_error[n > 0 ? n : 0] = '\0';
    }
    check_limitation(c, found);
    /* What the first process left behind goes with it. */
    c->launcher->ops->signal(c->launcher, found->id, found->pid, SIGKILL);
    if (found->oom_ev) { /* before the cleanup, which may close a kept OOM fd */
      event_free(found->oom_ev);
      found->oom_ev = NULL;
    }
    cleanup_or_defer(c, found->id, found->pid);
    HASH_DEL(c->by_id, found);
    if (found->in_pid_index) HASH_DELETE(hh_pid, c->by_pid, found);
    mz_container_termination t = {st, launch_error[0] ? launch_error : NULL, found->limited, found->limit_message};
    void *owner = found->owner;
    c->cb(owner, &t, c->arg);
    container_free(found);
  }
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg) { reap(arg); }

/* ------------------------------------------------------------------ pids that come later */

static void on_failed_launch(evutil_socket_t fd, short what, void *arg) {
  container *k = arg;
  container_ended(k->c, k, 127 << 8); /* as a child that could not exec */
}

/* Takes the pids of the launches pending on channel ch that have come, in launch
 * order; with `until` (of that channel), waits (bounded by the launcher) until that
 * container's has. A launch that failed after all keeps its error and ends from the
 * event loop (not under the caller). */
static void collect_channel(mz_containerizer *c, int ch, container *until) {
  while (c->pending[ch]) {
    container *k = c->pending[ch];
    pid_t p = 0;
    char err[256] = "";
    int r = c->launcher->ops->next_pid ? c->launcher->ops->next_pid(c->launcher, ch, until && until->pending, &p,
                                                                      err, sizeof err)
                                       : -1;
    if (r == 0) break;
    if (r < 0) snprintf(err, sizeof err, "the launcher lost the launch"); /* nothing outstanding: never expected */
    DL_DELETE2(c->pending[ch], k, pprev, pnext);
    c->npending--;
    k->pending = 0;
    if (p > 0) {
      k->pid = p;
      HASH_ADD(hh_pid, c->by_pid, pid, sizeof k->pid, k);
      k->in_pid_index = 1;
      meta_write(c, k->id, p);
      if (c->pid_cb) c->pid_cb(k->owner, p);
      MZ_DEBUG(MOD, "container %s: its first process is pid %d", k->id, (int)p);
      continue;
    }
    MZ_WARN(MOD, "container %s: %s", k->id, err);
    free(k->launch_error);
    k->launch_error = mz_strdup(err);
    k->fail_ev = evtimer_new(c->base, on_failed_launch, k);
    mz_timer_in(k->fail_ev, 0);
  }
}

/* Takes the pids that have come on every channel; with `until`, waits until that
 * container's has. */
static void collect_pids(mz_containerizer *c, container *until) {
  for (int ch = 0; ch < MZ_LAUNCH_CHANNELS_MAX && c->npending; ch++)
    collect_channel(c, ch, until && until->channel == ch ? until : NULL);
}

void mz_containerizer_on_pid(mz_containerizer *c, void (*cb)(void *owner, pid_t pid)) { c->pid_cb = cb; }

/* The container's pid, when it is still to come (before its processes are signalled). */
static void resolve(mz_containerizer *c, container *k) {
  if (k->pending) collect_pids(c, k);
}

/* ------------------------------------------------------------------ memory limits */

static void limit_reached(mz_containerizer *c, container *k, const char *msg) {
  if (k->limited) return;
  k->limited = 1;
  k->limit_message = mz_strdup(msg);
  MZ_WARN(MOD, "container %s: %s; destroying it", k->id, msg);
  resolve(c, k);
  c->launcher->ops->signal(c->launcher, k->id, k->pid, SIGKILL);
}

/* The container's OOM eventfd (v1) fired: the kernel signals it before it kills, so
 * the limitation is taken from the event itself, as Mesos does. */
static void on_oom(evutil_socket_t fd, short what, void *arg) {
  container *k = arg;
  uint64_t v = 0;
  if (read(fd, &v, sizeof v) != (ssize_t)sizeof v || v == 0) return;
  char msg[512];
  if (k->c->launcher->ops->limitation(k->c->launcher, k->id, k->mem_limit, 1, msg, sizeof msg) == 1)
    limit_reached(k->c, k, msg);
}

static void on_sample(evutil_socket_t fd, short what, void *arg) {
  mz_containerizer *c = arg;
  container *k, *tmp;
  HASH_ITER(hh, c->by_id, k, tmp) {
    if (!k->mem_limit || k->limited || k->pending) continue;
    char msg[512];
    if (!k->oom_ev && c->launcher->ops->limitation(c->launcher, k->id, k->mem_limit, 0, msg, sizeof msg) == 1) {
      limit_reached(c, k, msg); /* cgroups without an OOM event fd (v2) */
      continue;
    }
    mz_container_usage u;
    if (c->launcher->ops->usage(c->launcher, k->id, k->pid, &u) != 0) continue;
    if (u.mem_rss_bytes > k->mem_limit) {
      snprintf(msg, sizeof msg, "Memory limit exceeded: Requested: %lluMB Used: %lluMB",
               (unsigned long long)(k->mem_limit >> 20), (unsigned long long)(u.mem_rss_bytes >> 20));
      limit_reached(c, k, msg);
    }
  }
  if (c->sample_interval > 0) mz_timer_in(c->sample_timer, c->sample_interval);
}

void mz_containerizer_set_mem_sampling(mz_containerizer *c, double interval) {
  c->sample_interval = interval;
  evtimer_del(c->sample_timer);
  if (interval > 0) mz_timer_in(c->sample_timer, interval);
}

int mz_containerizer_limitation(mz_containerizer *c, const char *container_id, char *msg, size_t msglen) {
  container *k;
  HASH_FIND_STR(c->by_id, container_id, k);
  if (!k) return 0;
  check_limitation(c, k);
  if (!k->limited) return 0;
  snprintf(msg, msglen, "%s", k->limit_message ? k->limit_message : "Memory limit exceeded");
  return 1;
}

int mz_containerizer_update(mz_containerizer *c, const char *container_id, const mz_container_limits *lim, char *err,
                            size_t errlen) {
  container *k;
  HASH_FIND_STR(c->by_id, container_id, k);
  if (!k) {
    snprintf(err, errlen, "no container %s", container_id);
    return -1;
  }
  if (c->launcher->ops->update(c->launcher, k->id, lim, err, errlen) != 0) return -1;
  if (lim->mem_bytes > k->mem_limit) k->mem_limit = lim->mem_bytes; /* posix/mem samples against it; only grows */
  return 0;
}

int mz_containerizer_usage(mz_containerizer *c, const char *container_id, mz_container_usage *u) {
  container *k;
  HASH_FIND_STR(c->by_id, container_id, k);
  if (!k) return -1;
  resolve(c, k);
  return c->launcher->ops->usage(c->launcher, k->id, k->pid, u);
}

/* ------------------------------------------------------------------ life */

mz_containerizer *mz_containerizer_new(struct event_base *base, mz_launcher *launcher, mz_container_exit_cb cb,
                                       void *arg) {
  mz_containerizer *c = mz_calloc(1, sizeof *c);
  c->base = base;
  c->launcher = launcher;
  c->cb = cb;
  c->arg = arg;
  c->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, c);
  if (!c->sigchld || evsignal_add(c->sigchld, NULL) != 0) {
    if (c->sigchld) event_free(c->sigchld);
    free(c);
    return NULL;
  }
  c->cleanup_timer = evtimer_new(base, on_cleanup_timer, c);
  c->sample_timer = evtimer_new(base, on_sample, c);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
    MZ_WARN(MOD, "cannot become a child subreaper: %s (orphaned task processes go to init)", strerror(errno));
  return c;
}

int mz_containerizer_launch(mz_containerizer *c, const char *container_id, const mz_launch_spec *spec, void *owner,
                            pid_t *pid, char *err, size_t errlen) {
  container *k;
  HASH_FIND_STR(c->by_id, container_id, k);
  if (k) {
    snprintf(err, errlen, "container %s already exists", container_id);
    return -1;
  }
  pid_t p;
  int errpipe = -1, channel = 0;
  if (c->launcher->ops->launch(c->launcher, container_id, spec, &p, &channel, &errpipe, err, errlen) != 0) return -1;
  if (p == 0 && (channel < 0 || channel >= MZ_LAUNCH_CHANNELS_MAX)) channel = 0; /* never expected */
  k = mz_calloc(1, sizeof *k);
  k->id = mz_strdup(container_id);
  k->pid = p;
  k->owner = owner;
  k->c = c;
  k->errpipe = errpipe;
  k->mem_limit = spec->limits.mem_bytes;
  k->oom_fd = -1;
  k->pidfd = -1;
  k->pending = p == 0;
  k->channel = channel;
  if (k->mem_limit) { /* without an OOM eventfd (v2), the sample timer sees the limitation */
    k->oom_fd = c->launcher->ops->oom_fd(c->launcher, container_id, &k->oom_fd_kept);
    if (k->oom_fd >= 0) {
      k->oom_ev = event_new(c->base, k->oom_fd, EV_READ | EV_PERSIST, on_oom, k);
      event_add(k->oom_ev, NULL);
    }
  }
  HASH_ADD_KEYPTR(hh, c->by_id, k->id, strlen(k->id), k);
  if (k->pending) {
    DL_APPEND2(c->pending[channel], k, pprev, pnext);
    c->npending++;
  } else {
    HASH_ADD(hh_pid, c->by_pid, pid, sizeof k->pid, k);
    k->in_pid_index = 1;
  }
  meta_write(c, container_id, p); /* pid 0 while pending: a later run destroys it by id */
  *pid = p;
  char pidtext[32];
  snprintf(pidtext, sizeof pidtext, p ? "as pid %d" : "(its pid to come)", (int)p);
  MZ_INFO(MOD, "container %s: launched %s %s (%s launcher%s)", container_id, spec->path, pidtext,
          c->launcher->ops->name, k->oom_ev ? ", OOM events watched" : "");
  return 0;
}

static void on_exec_pipe(evutil_socket_t fd, short what, void *arg) {
  container *k = arg;
  /* Its pid first: the child sent it before the exec that closed the pipe. A pipe
   * closed with no pid sent is a launch that failed: its reply is on its way, and is
   * waited for. */
  resolve(k->c, k);
  if (k->fail_ev) { /* it failed to start: its end reports it */
    close(k->errpipe);
    k->errpipe = -1;
    return;
  }
  char buf[LAUNCH_ERROR_MAX];
  ssize_t n = read(k->errpipe, buf, sizeof buf - 1);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    event_add(k->exec_ev, NULL);
    return;
  }
  close(k->errpipe);
  k->errpipe = -1;
  if (n > 0) { /* the child could not start it: the reap reports this */
    buf[n] = '\0';
    k->launch_error = mz_strdup(buf);
    return;
  }
  k->exec_cb(k->owner); /* end of file: the exec closed it */
}

int mz_containerizer_watch_exec(mz_containerizer *c, const char *container_id, void (*cb)(void *owner)) {
  container *k;
  HASH_FIND_STR(c->by_id, container_id, k);
  if (!k || k->errpipe < 0 || k->exec_ev) return -1;
  k->exec_cb = cb;
  k->exec_ev = event_new(c->base, k->errpipe, EV_READ, on_exec_pipe, k);
  if (!k->exec_ev || event_add(k->exec_ev, NULL) != 0) return -1;
  return 0;
}

/* ------------------------------------------------------------------ adopted containers */

/* 1 while pid is the process started at starttime and has not exited (zombies count as exited). */
static int same_process_alive(pid_t pid, unsigned long long starttime) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "re");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *rp = strrchr(buf, ')');
  if (!rp || rp[1] != ' ') return 0;
  char state = rp[2];
  if (state == 'Z' || state == 'X') return 0;
  return starttime == 0 || mz_proc_starttime(pid) == starttime;
}

static void adopted_ended(container *k) {
  mz_containerizer *c = k->c;
  MZ_INFO(MOD, "container %s: adopted process %d exited (status unknown: not our child)", k->id, (int)k->pid);
  container_ended(c, k, -1);
}

static void on_pidfd(evutil_socket_t fd, short what, void *arg) { adopted_ended(arg); }

static void on_adopted_poll(evutil_socket_t fd, short what, void *arg) {
  container *k = arg;
  if (!same_process_alive(k->pid, k->starttime)) {
    adopted_ended(k);
    return;
  }
  mz_timer_in(k->exit_ev, ADOPTED_POLL);
}

int mz_containerizer_adopt(mz_containerizer *c, const char *container_id, pid_t pid, unsigned long long starttime,
                           void *owner) {
  container *k;
  HASH_FIND_STR(c->by_id, container_id, k);
  if (k || pid <= 1 || !same_process_alive(pid, starttime)) return -1;
  k = mz_calloc(1, sizeof *k);
  k->id = mz_strdup(container_id);
  k->pid = pid;
  k->owner = owner;
  k->c = c;
  k->errpipe = -1;
  k->oom_fd = -1;
  k->adopted = 1;
  k->starttime = starttime;
  k->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (k->pidfd >= 0 && !same_process_alive(pid, starttime)) { /* the pid was reused in between */
    container_free(k);
    return -1;
  }
  if (k->pidfd >= 0) {
    k->exit_ev = event_new(c->base, k->pidfd, EV_READ, on_pidfd, k);
    event_add(k->exit_ev, NULL);
  } else {
    k->exit_ev = evtimer_new(c->base, on_adopted_poll, k);
    mz_timer_in(k->exit_ev, ADOPTED_POLL);
  }
  HASH_ADD_KEYPTR(hh, c->by_id, k->id, strlen(k->id), k);
  MZ_INFO(MOD, "container %s: adopted leader pid %d of an earlier run (watched by %s)", k->id, (int)pid,
          k->pidfd >= 0 ? "pidfd" : "polling /proc");
  return 0;
}

static void on_escalate(evutil_socket_t fd, short what, void *arg) {
  container *k = arg;
  MZ_INFO(MOD, "container %s: grace period over, SIGKILL", k->id);
  k->c->launcher->ops->signal(k->c->launcher, k->id, k->pid, SIGKILL);
}

int mz_containerizer_destroy(mz_containerizer *c, const char *container_id, double grace) {
  container *k;
  HASH_FIND_STR(c->by_id, container_id, k);
  if (!k) return -1;
  resolve(c, k);
  if (grace <= 0) {
    MZ_INFO(MOD, "container %s: destroying (SIGKILL)", k->id);
    c->launcher->ops->signal(c->launcher, k->id, k->pid, SIGKILL);
    return 0;
  }
  if (k->escalate) return 0; /* a destroy is already under way */
  MZ_INFO(MOD, "container %s: destroying (SIGTERM, SIGKILL in %.3gs)", k->id, grace);
  c->launcher->ops->signal(c->launcher, k->id, k->pid, SIGTERM);
  k->escalate = evtimer_new(c->base, on_escalate, k);
  mz_timer_in(k->escalate, grace);
  return 0;
}

void mz_containerizer_kill_all(mz_containerizer *c, double wait) {
  for (int ch = 0; ch < MZ_LAUNCH_CHANNELS_MAX; ch++) /* through the last: the servers' replies */
    if (c->pending[ch]) collect_channel(c, ch, c->pending[ch]->pprev);
  c->launcher->ops->stop_helpers(c->launcher);
  /* Remember the leaders: their containers are signalled again until nothing is left,
   * since orphans of a dead leader come back to us (subreaper) and must be reaped. */
  size_t n = HASH_COUNT(c->by_id), i = 0;
  pid_t *leaders = mz_calloc(n + 1, sizeof *leaders);
  char **ids = mz_calloc(n + 1, sizeof *ids);
  container *k, *tmp;
  HASH_ITER(hh, c->by_id, k, tmp) {
    leaders[i] = k->pid;
    ids[i++] = mz_strdup(k->id);
  }
  double deadline = mz_monotonic() + wait;
  for (;;) {
    int left = 0;
    for (i = 0; i < n; i++) left += c->launcher->ops->signal(c->launcher, ids[i], leaders[i], SIGKILL);
    reap(c);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD && left == 0) break;
    if (mz_monotonic() > deadline) break;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  /* The cgroups of what was killed, now that the processes are gone. */
  leftover *l, *ltmp;
  DL_FOREACH_SAFE(c->leftovers, l, ltmp) {
    if (c->launcher->ops->cleanup(c->launcher, l->id, l->pid) != 0) continue;
    meta_remove(c, l->id);
    DL_DELETE(c->leftovers, l);
    free(l->id);
    free(l);
  }
  for (i = 0; i < n; i++) free(ids[i]);
  free(ids);
  free(leaders);
}

size_t mz_containerizer_count(const mz_containerizer *c) { return HASH_COUNT(c->by_id); }

void mz_containerizer_free(mz_containerizer *c) {
  if (!c) return;
  container *k, *tmp;
  HASH_ITER(hh, c->by_id, k, tmp) {
    HASH_DEL(c->by_id, k);
    if (k->in_pid_index) HASH_DELETE(hh_pid, c->by_pid, k);
    container_free(k);
  }
  leftover *l, *ltmp;
  DL_FOREACH_SAFE(c->leftovers, l, ltmp) {
    DL_DELETE(c->leftovers, l);
    free(l->id);
    free(l);
  }
  event_free(c->sigchld);
  event_free(c->cleanup_timer);
  event_free(c->sample_timer);
  c->launcher->ops->free(c->launcher);
  mz_cjournal_free(c->journal);
  free(c);
}
