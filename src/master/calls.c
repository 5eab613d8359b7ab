/* calls: see calls.h. */
#include "master/calls.h"

#include <stdio.h>
#include <string.h>
#include <utlist.h>

#include "common/log.h"
#include "master/registry_master.h"
#include "master/operator_events.h"
#include "master/agent.h"
#include "master/allocator.h"
#include "master/framework.h"
#include "master/pbutil.h"
#include "master/task.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* FrameworkInfo.role */

void mz_call_teardown(mz_framework *fw) {
  fw->m->metrics.messages_unregister_framework++;
  mz_framework_remove(fw, "the framework sent TEARDOWN");
}

static void reconcile_one(mz_framework *fw, const char *task_id, const char *agent_id) {
  mz_master *m = fw->m;
  mz_task *t = mz_task_find(fw, task_id);
  if (t) {
    mz_status_send(fw, t->id, t->agent_id, t->executor_id, t->has_update_state ? t->update_state : t->state,
                   MESOS__V1__TASK_STATUS__REASON__REASON_RECONCILIATION, "Reconciliation: Latest task state", false);
    return;
  }
  mz_agent *a = agent_id ? mz_agent_find(m, agent_id) : NULL;
  if (a) {
    mz_status_send(fw, task_id, agent_id, NULL,
                   fw->partition_aware ? MESOS__V1__TASK_STATE__TASK_GONE : MESOS__V1__TASK_STATE__TASK_LOST,
                   MESOS__V1__TASK_STATUS__REASON__REASON_RECONCILIATION, "Reconciliation: Task is unknown to the agent",
                   false);
    return;
  }
  if (agent_id && mz_registrar_is_unreachable(m, agent_id)) { /* its agent is partitioned away */
    mz_status_send(fw, task_id, agent_id, NULL,
                   fw->partition_aware ? MESOS__V1__TASK_STATE__TASK_UNREACHABLE : MESOS__V1__TASK_STATE__TASK_LOST,
                   MESOS__V1__TASK_STATUS__REASON__REASON_RECONCILIATION, "Reconciliation: Task is unreachable", false);
    return;
  }
  mz_status_send(fw, task_id, agent_id, NULL,
                 fw->partition_aware ? MESOS__V1__TASK_STATE__TASK_UNKNOWN : MESOS__V1__TASK_STATE__TASK_LOST,
                 MESOS__V1__TASK_STATUS__REASON__REASON_RECONCILIATION, "Reconciliation: Task is unknown", false);
}

void mz_call_reconcile(mz_framework *fw, const Mesos__V1__Scheduler__Call__Reconcile *rec) {
  fw->m->metrics.messages_reconcile_tasks++;
  if (rec->n_tasks == 0) {
    MZ_INFO("master", "implicit reconciliation for framework %s (%zu tasks)", fw->id, fw->ntasks);
    mz_task *t, *tmp;
    HASH_ITER(hh, fw->tasks, t, tmp) reconcile_one(fw, t->id, t->agent_id);
    DL_FOREACH2(fw->unreachable_list, t, done_next) /* on agents partitioned away */
      mz_status_send(fw, t->id, t->agent_id, t->executor_id, MESOS__V1__TASK_STATE__TASK_UNREACHABLE,
                     MESOS__V1__TASK_STATUS__REASON__REASON_RECONCILIATION, "Reconciliation: Task is unreachable",
                     false);
    return;
  }
  MZ_INFO("master", "explicit reconciliation of %zu task(s) for framework %s", rec->n_tasks, fw->id);
  for (size_t i = 0; i < rec->n_tasks; i++) {
    const Mesos__V1__Scheduler__Call__Reconcile__Task *rt = rec->tasks[i];
    if (!rt->task_id || !rt->task_id->value) continue;
    reconcile_one(fw, rt->task_id->value, rt->agent_id ? rt->agent_id->value : NULL);
  }
}

void mz_call_kill(mz_framework *fw, const Mesos__V1__Scheduler__Call__Kill *kill) {
  mz_master *m = fw->m;
  m->metrics.messages_kill_task++;
  const char *tid = kill->task_id->value;
  const char *aid = kill->agent_id ? kill->agent_id->value : NULL;
  mz_task *t = mz_task_find(fw, tid);
  if (!t) {
    MZ_WARN("master", "cannot kill unknown task %s of framework %s; reconciling", tid, fw->id);
    reconcile_one(fw, tid, aid);
    return;
  }
  if (aid && strcmp(aid, t->agent_id) != 0) {
    MZ_WARN("master", "cannot kill task %s of framework %s: it is on agent %s, not %s", tid, fw->id, t->agent_id, aid);
    return;
  }
  if (!t->agent || !t->agent->connected) {
    MZ_WARN("master", "cannot kill task %s of framework %s now: agent %s is disconnected", tid, fw->id, t->agent_id);
    return;
  }
  Mezzo__Internal__AgentEvent ev = MEZZO__INTERNAL__AGENT_EVENT__INIT;
  Mezzo__Internal__AgentEvent__KillTask kt = MEZZO__INTERNAL__AGENT_EVENT__KILL_TASK__INIT;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  fid.value = fw->id;
  kt.framework_id = &fid;
  kt.task_id = kill->task_id;
  kt.kill_policy = kill->kill_policy;
  ev.type = MEZZO__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK;
  ev.kill_task = &kt;
  MZ_INFO("master", "telling agent %s to kill task %s of framework %s", t->agent_id, tid, fw->id);
  mz_agent_send(t->agent, &ev);
}

/* The link has no executor shutdown: every live task of the executor is killed,
 * and the agent ends an executor that has no task left. */
void mz_call_shutdown(mz_framework *fw, const Mesos__V1__Scheduler__Call__Shutdown *sh) {
  mz_master *m = fw->m;
  m->metrics.messages_shutdown_executor++;
  mz_agent *a = mz_agent_find(m, sh->agent_id->value);
  if (!a || !a->connected) {
    MZ_WARN("master", "cannot shut down executor %s of framework %s: agent %s is not connected",
            sh->executor_id->value, fw->id, sh->agent_id->value);
    return;
  }
  mz_task *t, *tmp;
  DL_FOREACH_SAFE2(a->tasks, t, tmp, agent_next) {
    if (t->fw != fw || !t->executor_id || strcmp(t->executor_id, sh->executor_id->value) != 0) continue;
    if (mz_task_state_terminal(t->state)) continue;
    Mesos__V1__Scheduler__Call__Kill k = MESOS__V1__SCHEDULER__CALL__KILL__INIT;
    Mesos__V1__TaskID tid = MESOS__V1__TASK_ID__INIT;
    tid.value = t->id;
    k.task_id = &tid;
    mz_call_kill(fw, &k);
  }
}

static void set_suppressed(mz_framework *fw, char *const *roles, size_t n, bool value) {
  for (size_t i = 0; i < fw->nroles; i++) {
    if (n == 0) fw->suppressed[i] = value;
    for (size_t j = 0; j < n; j++)
      if (!strcmp(fw->roles[i], roles[j])) fw->suppressed[i] = value;
  }
}

void mz_call_revive(mz_framework *fw, const Mesos__V1__Scheduler__Call__Revive *rev) {
  mz_master *m = fw->m;
  m->metrics.messages_revive_offers++;
  size_t n = rev ? rev->n_roles : 0;
  char *const *roles = rev ? rev->roles : NULL;
  set_suppressed(fw, roles, n, false);
  MZ_INFO("master", "framework %s revives offers", fw->id);
  m->alloc_ops->revive(m->alloc, fw->id, (const char *const *)roles, n);
}

void mz_call_suppress(mz_framework *fw, const Mesos__V1__Scheduler__Call__Suppress *sup) {
  mz_master *m = fw->m;
  m->metrics.messages_suppress_offers++;
  size_t n = sup ? sup->n_roles : 0;
  char *const *roles = sup ? sup->roles : NULL;
  set_suppressed(fw, roles, n, true);
  MZ_INFO("master", "framework %s suppresses offers", fw->id);
  m->alloc_ops->suppress(m->alloc, fw->id, (const char *const *)roles, n);
}

void mz_call_message(mz_framework *fw, const Mesos__V1__Scheduler__Call__Message *msg) {
  mz_master *m = fw->m;
  m->metrics.messages_framework_to_executor++;
  mz_agent *a = mz_agent_find(m, msg->agent_id->value);
  if (!a || !a->connected) {
    MZ_WARN("master", "dropping framework message of %s for agent %s: not connected", fw->id, msg->agent_id->value);
    m->metrics.invalid_framework_to_executor_messages++;
    return;
  }
  Mezzo__Internal__AgentEvent ev = MEZZO__INTERNAL__AGENT_EVENT__INIT;
  Mezzo__Internal__AgentEvent__FrameworkMessage fm = MEZZO__INTERNAL__AGENT_EVENT__FRAMEWORK_MESSAGE__INIT;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  fid.value = fw->id;
  fm.framework_id = &fid;
  fm.executor_id = msg->executor_id;
  fm.data = msg->data;
  ev.type = MEZZO__INTERNAL__AGENT_EVENT__TYPE__FRAMEWORK_MESSAGE;
  ev.framework_message = &fm;
  if (mz_agent_send(a, &ev) == 0) m->metrics.valid_framework_to_executor_messages++;
  else m->metrics.invalid_framework_to_executor_messages++;
}

int mz_call_update_framework(mz_framework *fw, const Mesos__V1__Scheduler__Call__UpdateFramework *up, char *err,
                             size_t errlen) {
  const Mesos__V1__FrameworkInfo *fi = up->framework_info;
  const Mesos__V1__FrameworkInfo *cur = fw->info;
  if ((fi->principal == NULL) != (cur->principal == NULL) ||
      (fi->principal && strcmp(fi->principal, cur->principal) != 0)) {
    snprintf(err, errlen, "Changing framework's principal is not allowed.");
    return -1;
  }
  if (strcmp(fi->user ? fi->user : "", cur->user ? cur->user : "") != 0) {
    snprintf(err, errlen, "Updating 'FrameworkInfo.user' is unsupported");
    return -1;
  }
  if ((fi->has_checkpoint && fi->checkpoint) != (cur->has_checkpoint && cur->checkpoint)) {
    snprintf(err, errlen, "Updating 'FrameworkInfo.checkpoint' is unsupported");
    return -1;
  }
  if (mz_framework_validate_info(fi, up->suppressed_roles, up->n_suppressed_roles, err, errlen) != 0) return -1;
  /* Everything else is taken, roles included: the allocator follows. */
  Mesos__V1__FrameworkInfo *next = mz_pb_dup(fi);
  protobuf_c_message_free_unpacked(&fw->info->base, NULL);
  fw->info = next;
  mz_framework_set_roles(fw);
  if (up->n_suppressed_roles) set_suppressed(fw, up->suppressed_roles, up->n_suppressed_roles, true);
  mz_master *m = fw->m;
  if (m->alloc_ops->update_framework) {
    m->alloc_ops->update_framework(m->alloc, fw->id, (const char *const *)fw->roles, fw->nroles,
                                   (const char *const *)up->suppressed_roles, up->n_suppressed_roles);
  } else {
    m->alloc_ops->revive(m->alloc, fw->id, NULL, 0);
    if (up->n_suppressed_roles)
      m->alloc_ops->suppress(m->alloc, fw->id, (const char *const *)up->suppressed_roles, up->n_suppressed_roles);
  }
  mz_opevent_framework_updated(m, fw);
  return 0;
}
