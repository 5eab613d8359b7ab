/* disk_du: Mesos's disk/du isolator. Every --container_disk_watch_interval the disk
 * used by the sandbox of each running executor is measured (treewalk.h: a few
 * hundred entries per loop turn, one sandbox after another, so a large sandbox never
 * stalls the loop); /monitor/statistics shows it as disk_used_bytes beside
 * disk_limit_bytes (the executor's and its live tasks' disk resources). With
 * --enforce_container_disk_quota a container over its limit is destroyed and its
 * tasks get TASK_FAILED with REASON_CONTAINER_LIMITATION_DISK, as in Mesos.
 *
 * A round takes the ids (framework, executor, container) of the executors running
 * when it starts and finds each again by id when its turn comes and when its walk
 * ends: an executor that ended meanwhile is skipped, never touched. */
#include "agent/disk_du.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/treewalk.h"
#include "common/log.h"

#define STEP_ENTRIES 512

typedef struct {
  char *fw_id, *ex_id;
  char container_id[MZ_UUID_STR];
} target;

struct mz_disk_du {
  mz_agent *a;
  double interval;
  int enforce;
  struct event *tick, *step;
  target *round;
  size_t n, next;
  mz_treewalk *walk; /* of round[next - 1] */
};

static void round_free(mz_disk_du *d) {
  for (size_t i = 0; i < d->n; i++) {
    free(d->round[i].fw_id);
    free(d->round[i].ex_id);
  }
  free(d->round);
  d->round = NULL;
  d->n = d->next = 0;
  mz_treewalk_free(d->walk);
  d->walk = NULL;
}

/* A running executor with a sandbox. */
static int measurable(const mz_ag_executor *ex) {
  return ex->directory && (ex->state == MZ_EXEC_REGISTERING || ex->state == MZ_EXEC_RUNNING);
}

/* The executor of a target, when it still runs the same container. */
static mz_ag_executor *find(mz_disk_du *d, const target *t) {
  mz_ag_framework *fw = mz_agent_framework(d->a, t->fw_id);
  mz_ag_executor *ex = fw ? mz_agent_executor(fw, t->ex_id) : NULL;
  return ex && !strcmp(ex->container_id, t->container_id) && measurable(ex) ? ex : NULL;
}

static void measured(mz_disk_du *d, mz_ag_executor *ex, uint64_t used) {
  ex->disk_used_bytes = used;
  ex->disk_limit_bytes = mz_ag_exec_disk_limit(ex);
  ex->disk_measured = 1;
  if (!d->enforce || !ex->disk_limit_bytes || used <= ex->disk_limit_bytes) return;
  char msg[256];
  snprintf(msg, sizeof msg, "Disk usage (%lluB) exceeds quota (%lluB)", (unsigned long long)used,
           (unsigned long long)ex->disk_limit_bytes);
  MZ_WARN(MZ_AGENT_MOD, "executor %s of framework %s: %s: destroying its container", ex->id, ex->fw->id, msg);
  mz_ag_exec_shutdown(d->a, ex, 0, MESOS__V1__TASK_STATE__TASK_FAILED,
                      MESOS__V1__TASK_STATUS__REASON__REASON_CONTAINER_LIMITATION_DISK, msg);
}

static void on_step(evutil_socket_t fd, short what, void *arg) {
  mz_disk_du *d = arg;
  if (d->walk) {
    int rc = mz_treewalk_step(d->walk, STEP_ENTRIES);
    if (rc == 1) {
      mz_timer_in(d->step, 0);
      return;
    }
    const target *t = &d->round[d->next - 1];
    mz_ag_executor *ex = find(d, t);
    if (rc < 0) MZ_DEBUG(MZ_AGENT_MOD, "disk/du: %s", mz_treewalk_error(d->walk));
    if (ex) measured(d, ex, mz_treewalk_bytes(d->walk));
    mz_treewalk_free(d->walk);
    d->walk = NULL;
  }
  while (d->next < d->n) {
    mz_ag_executor *ex = find(d, &d->round[d->next++]);
    if (!ex) continue;
    d->walk = mz_treewalk_start(ex->directory, MZ_WALK_MEASURE);
    mz_timer_in(d->step, 0);
    return;
  }
  round_free(d);
  mz_timer_in(d->tick, d->interval);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  mz_disk_du *d = arg;
  round_free(d);
  size_t cap = 0;
  mz_ag_framework *fw, *ftmp;
  HASH_ITER(hh, d->a->frameworks, fw, ftmp) cap += HASH_COUNT(fw->executors);
  d->round = mz_calloc(cap + 1, sizeof *d->round);
  HASH_ITER(hh, d->a->frameworks, fw, ftmp) {
    mz_ag_executor *ex, *etmp;
    HASH_ITER(hh, fw->executors, ex, etmp) {
      if (!measurable(ex)) continue;
      target *t = &d->round[d->n++];
      t->fw_id = mz_strdup(fw->id);
      t->ex_id = mz_strdup(ex->id);
      snprintf(t->container_id, sizeof t->container_id, "%s", ex->container_id);
    }
  }
  on_step(-1, 0, d);
}

mz_disk_du *mz_disk_du_new(mz_agent *a, double interval, int enforce) {
  mz_disk_du *d = mz_calloc(1, sizeof *d);
  d->a = a;
  d->interval = interval;
  d->enforce = enforce;
  d->tick = evtimer_new(a->base, on_tick, d);
  d->step = evtimer_new(a->base, on_step, d);
  mz_timer_in(d->tick, interval);
  return d;
}

void mz_disk_du_free(mz_disk_du *d) {
  if (!d) return;
  round_free(d);
  event_free(d->tick);
  event_free(d->step);
  free(d);
}
