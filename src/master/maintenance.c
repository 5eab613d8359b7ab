/* maintenance: see maintenance.h. */
#include "master/maintenance.h"

#include <event2/event.h>
#include <stdlib.h>
#include <utlist.h>

#include "common/log.h"
#include "common/util.h"
#include "master/agent.h"
#include "master/allocator.h"
#include "master/offer.h"
#include "master/operator_events.h"
#include "master/task.h"

void mz_maintenance_deactivate(mz_agent *a) {
  mz_master *m = a->m;
  a->deactivated = true;
  if (a->active) {
    a->active = false;
    m->alloc_ops->deactivate_agent(m->alloc, a->id);
  }
  mz_offer *o, *tmp;
  DL_FOREACH_SAFE2(a->offers, o, tmp, ag_next) mz_offer_rescind(o);
  MZ_INFO("master", "agent %s (%s) deactivated", a->id, a->hostname);
}

void mz_maintenance_reactivate(mz_agent *a) {
  mz_master *m = a->m;
  a->deactivated = false;
  a->drain_state = 0;
  a->drain_mark_gone = false;
  if (a->connected && !a->active) {
    a->active = true;
    m->alloc_ops->activate_agent(m->alloc, a->id);
  }
  MZ_INFO("master", "agent %s (%s) reactivated", a->id, a->hostname);
}

static bool has_live_tasks(const mz_agent *a) {
  const mz_task *t;
  DL_FOREACH2(a->tasks, t, agent_next)
  if (!mz_task_state_terminal(t->state)) return true;
  return false;
}

/* DRAINED once no live task is left; mark_gone then removes the agent (deferred
 * to the loop: this may run inside a task update that still uses the agent). */
static void on_drained_gone(evutil_socket_t fd, short what, void *arg) {
  mz_master *m = arg;
  mz_agent *a, *tmp;
  HASH_ITER(hh, m->agents, a, tmp)
  if (a->drain_state == MESOS__V1__DRAIN_STATE__DRAINED && a->drain_mark_gone)
    mz_agent_mark_gone(a, "drained with mark_gone");
}

void mz_maintenance_task_ended(mz_agent *a) {
  if (!a || a->drain_state != MESOS__V1__DRAIN_STATE__DRAINING || has_live_tasks(a)) return;
  a->drain_state = MESOS__V1__DRAIN_STATE__DRAINED;
  MZ_INFO("master", "agent %s (%s) drained", a->id, a->hostname);
  if (a->drain_mark_gone) event_base_once(a->m->base, -1, EV_TIMEOUT, on_drained_gone, a->m, NULL);
}

void mz_maintenance_drain(mz_agent *a, double grace, bool mark_gone) {
  mz_maintenance_deactivate(a);
  a->drain_state = MESOS__V1__DRAIN_STATE__DRAINING;
  a->drain_grace = grace;
  a->drain_mark_gone = mark_gone;
  MZ_INFO("master", "draining agent %s (%s)", a->id, a->hostname);
  Mesos__V1__DurationInfo d = MESOS__V1__DURATION_INFO__INIT;
  Mesos__V1__KillPolicy kp = MESOS__V1__KILL_POLICY__INIT;
  if (grace >= 0) {
    d.nanoseconds = (int64_t)(grace * 1e9);
    kp.grace_period = &d;
  }
  mz_task *t;
  DL_FOREACH2(a->tasks, t, agent_next) {
    if (mz_task_state_terminal(t->state) || !a->connected) continue;
    Mezzo__Internal__AgentEvent ev = MEZZO__INTERNAL__AGENT_EVENT__INIT;
    Mezzo__Internal__AgentEvent__KillTask kt = MEZZO__INTERNAL__AGENT_EVENT__KILL_TASK__INIT;
    Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
    Mesos__V1__TaskID tid = MESOS__V1__TASK_ID__INIT;
    fid.value = t->framework_id;
    tid.value = t->id;
    kt.framework_id = &fid;
    kt.task_id = &tid;
    if (grace >= 0) kt.kill_policy = &kp;
    ev.type = MEZZO__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK;
    ev.kill_task = &kt;
    mz_agent_send(a, &ev);
  }
  mz_maintenance_task_ended(a); /* nothing running: drained at once */
}

Mesos__V1__DrainInfo *mz_maintenance_drain_info(const mz_agent *a) {
  if (!a->drain_state) return NULL;
  Mesos__V1__DrainInfo *di = mz_malloc(sizeof *di);
  *di = (Mesos__V1__DrainInfo)MESOS__V1__DRAIN_INFO__INIT;
  di->state = (Mesos__V1__DrainState)a->drain_state;
  di->config = mz_malloc(sizeof *di->config);
  *di->config = (Mesos__V1__DrainConfig)MESOS__V1__DRAIN_CONFIG__INIT;
  if (a->drain_grace >= 0) {
    di->config->max_grace_period = mz_malloc(sizeof *di->config->max_grace_period);
    *di->config->max_grace_period = (Mesos__V1__DurationInfo)MESOS__V1__DURATION_INFO__INIT;
    di->config->max_grace_period->nanoseconds = (int64_t)(a->drain_grace * 1e9);
  }
  di->config->has_mark_gone = 1;
  di->config->mark_gone = a->drain_mark_gone;
  return di;
}
