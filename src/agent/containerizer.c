/* containerizer: see containerizer.h. Container records live in a uthash table
 * keyed by container id; each has its leader pid, the caller's owner pointer and
 * the SIGKILL escalation timer of a destroy in progress. */
#include "agent/containerizer.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include <event2/event.h>
#include <uthash.h>

#include "common/log.h"
#include "common/util.h"

#define MOD "containerizer"

typedef struct container {
  char *id;
  pid_t pid;
  void *owner;
  struct event *escalate; /* SIGKILL after the destroy's grace period */
  mz_containerizer *c;
  UT_hash_handle hh;
} container;

struct mz_containerizer {
  struct event_base *base;
  mz_launcher *launcher;
  mz_container_exit_cb cb;
  void *arg;
  struct event *sigchld;
  container *by_id;
};

static void container_free(container *k) {
  if (k->escalate) event_free(k->escalate);
  free(k->id);
  free(k);
}

static void reap(mz_containerizer *c) {
  for (;;) {
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p <= 0) break;
    container *k, *tmp, *found = NULL;
    HASH_ITER(hh, c->by_id, k, tmp) {
      if (k->pid == p) {
        found = k;
        break;
      }
    }
    if (!found) continue; /* an orphan of some container, reparented to us */
    MZ_INFO(MOD, "container %s: process %d exited (status %d)", found->id, (int)p, st);
    /* What the first process left behind goes with it. */
    c->launcher->ops->signal(c->launcher, found->id, found->pid, SIGKILL);
    c->launcher->ops->cleanup(c->launcher, found->id, found->pid);
    HASH_DEL(c->by_id, found);
    void *owner = found->owner;
    container_free(found);
    c->cb(owner, st, c->arg);
  }
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg) { reap(arg); }

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
  if (c->launcher->ops->launch(c->launcher, container_id, spec, &p, err, errlen) != 0) return -1;
  k = mz_calloc(1, sizeof *k);
  k->id = mz_strdup(container_id);
  k->pid = p;
  k->owner = owner;
  k->c = c;
  HASH_ADD_KEYPTR(hh, c->by_id, k->id, strlen(k->id), k);
  *pid = p;
  MZ_INFO(MOD, "container %s: launched %s as pid %d (%s launcher)", container_id, spec->path, (int)p,
          c->launcher->ops->name);
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
  if (grace <= 0) {
    MZ_INFO(MOD, "container %s: destroying (SIGKILL)", k->id);
    c->launcher->ops->signal(c->launcher, k->id, k->pid, SIGKILL);
    return 0;
  }
  if (k->escalate) return 0; /* a destroy is already under way */
  MZ_INFO(MOD, "container %s: destroying (SIGTERM, SIGKILL in %.3gs)", k->id, grace);
  c->launcher->ops->signal(c->launcher, k->id, k->pid, SIGTERM);
  k->escalate = evtimer_new(c->base, on_escalate, k);
  struct timeval tv = {(time_t)grace, (suseconds_t)((grace - (double)(time_t)grace) * 1e6)};
  evtimer_add(k->escalate, &tv);
  return 0;
}

void mz_containerizer_kill_all(mz_containerizer *c, double wait) {
  /* Remember the leaders: their sessions are signalled again until nothing is left,
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
    container_free(k);
  }
  event_free(c->sigchld);
  c->launcher->ops->free(c->launcher);
  free(c);
}
