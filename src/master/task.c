/* task: see task.h. */
#include "master/task.h"

#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "common/intern.h"
#include "common/log.h"
#include "master/maintenance.h"
#include "master/operator_events.h"
#include "master/allocator.h"
#include "master/events.h"
#include "master/executor.h"
#include "master/pbutil.h"

static bool terminal_or_unreachable(Mesos__V1__TaskState s) {
  return mz_task_state_terminal(s) || s == MESOS__V1__TASK_STATE__TASK_UNREACHABLE;
}

static void gauge(mz_master *m, Mesos__V1__TaskState s, long delta) {
  if ((int)s >= 0 && (int)s < MZ_TASK_STATE_SLOTS) m->task_gauge[s] += delta;
}

static void count_terminal(mz_master *m, Mesos__V1__TaskState s) {
  switch (s) {
    case MESOS__V1__TASK_STATE__TASK_FINISHED: m->metrics.tasks_finished++; break;
    case MESOS__V1__TASK_STATE__TASK_FAILED: m->metrics.tasks_failed++; break;
    case MESOS__V1__TASK_STATE__TASK_KILLED: m->metrics.tasks_killed++; break;
    case MESOS__V1__TASK_STATE__TASK_LOST: m->metrics.tasks_lost++; break;
    case MESOS__V1__TASK_STATE__TASK_ERROR: m->metrics.tasks_error++; break;
    case MESOS__V1__TASK_STATE__TASK_DROPPED: m->metrics.tasks_dropped++; break;
    case MESOS__V1__TASK_STATE__TASK_GONE: m->metrics.tasks_gone++; break;
    case MESOS__V1__TASK_STATE__TASK_GONE_BY_OPERATOR: m->metrics.tasks_gone_by_operator++; break;
    default: break;
  }
}

static void push_status(mz_task *t, Mesos__V1__TaskState s, double ts) {
  /* As Mesos: a repeated state replaces the last entry instead of adding one. */
  if (t->nstatuses > 0 && t->statuses[t->nstatuses - 1].state == s) {
    t->statuses[t->nstatuses - 1].timestamp = ts;
    return;
  }
  if (t->nstatuses == MZ_MAX_STATUSES_PER_TASK) {
    memmove(&t->statuses[0], &t->statuses[1], sizeof t->statuses[0] * (MZ_MAX_STATUSES_PER_TASK - 1));
    t->nstatuses--;
  }
  t->statuses[t->nstatuses].state = s;
  t->statuses[t->nstatuses].timestamp = ts;
  t->nstatuses++;
}

mz_task *mz_task_add(mz_framework *fw, mz_agent *agent, const char *task_id, const char *name,
                     const char *executor_id, mz_resources *res, const char *role, const char *user,
                     Mesos__V1__TaskState state) {
  mz_master *m = fw->m;
  mz_task *t = mz_calloc(1, sizeof *t);
  t->id = mz_strdup(task_id);
  t->name = mz_strdup(name ? name : "");
  t->framework_id = mz_intern_ref(fw->iid);
  t->agent_id = mz_intern_ref(agent->iid);
  t->executor_id = executor_id ? mz_strdup(executor_id) : NULL;
  t->role = mz_intern(role ? role : "*");
  t->user = user ? mz_intern(user) : NULL;
  t->fw = fw;
  t->agent = agent;
  t->state = state;
  t->resources = res ? res : mz_resources_new();
  push_status(t, state, mz_now());
  HASH_ADD_KEYPTR(hh, fw->tasks, t->id, strlen(t->id), t);
  mz_idx_put(&fw->task_idx, t);
  fw->ntasks++;
  DL_APPEND2(agent->tasks, t, agent_prev, agent_next);
  agent->ntasks++;
  char err[256];
  if (mz_resources_add_scalars(fw->used, t->resources, err, sizeof err) != 0 ||
      mz_resources_add(agent->used, t->resources, err, sizeof err) != 0)
    MZ_ERROR("master", "cannot account resources of task %s: %s", t->id, err);
  if (t->executor_id) {
    mz_executor *ex = mz_executor_find(agent, fw->id, t->executor_id);
    if (ex) ex->ntasks++;
  }
  gauge(m, state, +1);
  if (terminal_or_unreachable(state)) t->freed = true; /* adopted in a final state: nothing held */
  mz_opevent_task_added(m, t);
  return t;
}

const char *mz_task_key(const void *t) { return ((const mz_task *)t)->id; }

mz_task *mz_task_find(mz_framework *fw, const char *task_id) {
  return fw && task_id ? mz_idx_get(&fw->task_idx, task_id) : NULL;
}

/* Gives the task's resources back (once). */
static void pending_clear(mz_task *t) {
  free(t->pending);
  t->pending = NULL;
  t->pending_len = 0;
}

static void release(mz_task *t) {
  if (t->freed) return;
  t->freed = true;
  mz_master *m = t->fw ? t->fw->m : t->agent ? t->agent->m : NULL;
  if (!m) return;
  char err[256];
  if (t->fw && mz_resources_subtract_scalars(t->fw->used, t->resources, err, sizeof err) != 0)
    MZ_WARN("master", "task %s: framework usage: %s", t->id, err);
  if (t->agent) {
    if (mz_resources_subtract(t->agent->used, t->resources, err, sizeof err) != 0)
      MZ_WARN("master", "task %s: agent usage: %s", t->id, err);
    m->alloc_ops->recover(m->alloc, t->agent->id, t->framework_id, t->resources, 0);
    if (t->executor_id) {
      mz_executor *ex = mz_executor_find(t->agent, t->framework_id, t->executor_id);
      if (ex && ex->ntasks > 0 && --ex->ntasks == 0) mz_executor_remove(ex, true);
    }
    mz_maintenance_task_ended(t->agent);
  }
}

void mz_task_update(mz_task *t, const Mesos__V1__TaskStatus *status, const Mesos__V1__TaskState *latest) {
  mz_master *m = t->fw->m;
  Mesos__V1__TaskState next = latest ? *latest : status->state;
  bool to_final = !terminal_or_unreachable(t->state) && terminal_or_unreachable(next);
  if (!mz_task_state_terminal(t->state) && t->state != next) {
    gauge(m, t->state, -1);
    gauge(m, next, +1);
    t->state = next;
  }
  push_status(t, status->state, status->has_timestamp ? status->timestamp : mz_now());
  MZ_INFO("master", "task %s of framework %s: %s (update %s)", t->id, t->framework_id,
          mz_task_state_name(t->state), mz_task_state_name(status->state));
  if (to_final) {
    release(t);
    /* As Mesos: counted under the state the task ends in, which an older update
     * carrying the latest state (an agent behind on acknowledgements) names. */
    count_terminal(m, next);
  }
  mz_opevent_task_updated(m, t, status);
}

void mz_task_forward(mz_framework *fw, mz_task *t, const Mesos__V1__TaskStatus *status) {
  if (t && status->has_uuid) {
    t->has_update_state = true;
    t->update_state = status->state;
    memset(t->update_uuid, 0, sizeof t->update_uuid);
    memcpy(t->update_uuid, status->uuid.data, status->uuid.len < MZ_UUID_BYTES ? status->uuid.len : MZ_UUID_BYTES);
    /* Kept packed: it is read back only if the framework re-subscribes before acknowledging. */
    pending_clear(t);
    t->pending_len = protobuf_c_message_get_packed_size(&status->base);
    t->pending = mz_malloc(t->pending_len ? t->pending_len : 1);
    protobuf_c_message_pack(&status->base, t->pending);
  }
  if (fw && fw->connected) mz_event_update(fw, status);
}

bool mz_task_acknowledged(mz_task *t, const uint8_t *uuid, size_t len) {
  if (!t->has_update_state || len != MZ_UUID_BYTES || memcmp(uuid, t->update_uuid, MZ_UUID_BYTES) != 0)
    return false;
  bool terminal = mz_task_state_terminal(t->update_state);
  t->has_update_state = false;
  pending_clear(t);
  if (terminal) mz_task_remove(t);
  return true;
}

static void fill_status(Mesos__V1__TaskStatus *st, Mesos__V1__TaskID *tid, Mesos__V1__AgentID *aid,
                        Mesos__V1__ExecutorID *eid, const char *task_id, const char *agent_id,
                        const char *executor_id, Mesos__V1__TaskState state, Mesos__V1__TaskStatus__Reason reason,
                        const char *message) {
  tid->value = (char *)task_id;
  st->task_id = tid;
  st->state = state;
  st->has_source = 1;
  st->source = MESOS__V1__TASK_STATUS__SOURCE__SOURCE_MASTER;
  st->has_reason = 1;
  st->reason = reason;
  st->message = (char *)message;
  st->has_timestamp = 1;
  st->timestamp = mz_now();
  if (agent_id) {
    aid->value = (char *)agent_id;
    st->agent_id = aid;
  }
  if (executor_id) {
    eid->value = (char *)executor_id;
    st->executor_id = eid;
  }
}

void mz_status_send(mz_framework *fw, const char *task_id, const char *agent_id, const char *executor_id,
                    Mesos__V1__TaskState state, Mesos__V1__TaskStatus__Reason reason, const char *message,
                    bool count) {
  Mesos__V1__TaskStatus st = MESOS__V1__TASK_STATUS__INIT;
  Mesos__V1__TaskID tid = MESOS__V1__TASK_ID__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  Mesos__V1__ExecutorID eid = MESOS__V1__EXECUTOR_ID__INIT;
  fill_status(&st, &tid, &aid, &eid, task_id, agent_id, executor_id, state, reason, message);
  if (count) {
    count_terminal(fw->m, state);
    if (state == MESOS__V1__TASK_STATE__TASK_LOST && reason == MESOS__V1__TASK_STATUS__REASON__REASON_INVALID_OFFERS)
      fw->m->metrics.task_lost_invalid_offers++;
  }
  MZ_INFO("master", "sending %s (%s) for task %s of framework %s: %s", mz_task_state_name(state),
          mz_reason_name(reason), task_id, fw->id, message ? message : "");
  if (fw->connected) mz_event_update(fw, &st);
}

void mz_task_transition(mz_task *t, Mesos__V1__TaskState state, Mesos__V1__TaskStatus__Reason reason,
                        const char *message) {
  Mesos__V1__TaskStatus st = MESOS__V1__TASK_STATUS__INIT;
  Mesos__V1__TaskID tid = MESOS__V1__TASK_ID__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  Mesos__V1__ExecutorID eid = MESOS__V1__EXECUTOR_ID__INIT;
  fill_status(&st, &tid, &aid, &eid, t->id, t->agent_id, t->executor_id, state, reason, message);
  mz_framework *fw = t->fw;
  mz_task_update(t, &st, NULL);
  if (state == MESOS__V1__TASK_STATE__TASK_LOST && reason == MESOS__V1__TASK_STATUS__REASON__REASON_AGENT_REMOVED)
    fw->m->metrics.task_lost_agent_removed++;
  /* The pending update (if any) is superseded: the agent will not deliver it now. */
  t->has_update_state = false;
  pending_clear(t);
  if (fw->connected) mz_event_update(fw, &st);
  if (terminal_or_unreachable(state)) mz_task_remove(t);
}

void mz_task_free(mz_task *t) {
  if (!t) return;
  pending_clear(t);
  mz_resources_free(t->resources);
  free(t->id);
  free(t->name);
  mz_intern_release(t->framework_id);
  mz_intern_release(t->agent_id);
  free(t->executor_id);
  mz_intern_release(t->role);
  mz_intern_release(t->user);
  free(t);
}

void mz_task_remove(mz_task *t) {
  mz_framework *fw = t->fw;
  mz_master *m = fw->m;
  release(t);
  gauge(m, t->state, -1);
  HASH_DEL(fw->tasks, t);
  mz_idx_del(&fw->task_idx, t->id);
  fw->ntasks--;
  if (t->agent) {
    DL_DELETE2(t->agent->tasks, t, agent_prev, agent_next);
    t->agent->ntasks--;
    t->agent = NULL;
  }
  t->fw = NULL;
  pending_clear(t);
  t->has_update_state = false;
  if (t->state == MESOS__V1__TASK_STATE__TASK_UNREACHABLE) { /* it may come back with its agent */
    HASH_ADD_KEYPTR(hh, fw->unreachable_tasks, t->id, strlen(t->id), t);
    DL_APPEND2(fw->unreachable_list, t, done_prev, done_next);
    fw->nunreachable_tasks++;
    long umax = m->flags.max_unreachable_tasks_per_framework;
    while (fw->nunreachable_tasks > 0 && (long)fw->nunreachable_tasks > (umax < 0 ? 0 : umax))
      mz_task_forget_unreachable(fw, fw->unreachable_list);
    return;
  }
  DL_APPEND2(fw->completed_tasks, t, done_prev, done_next);
  fw->ncompleted_tasks++;
  long max = m->flags.max_completed_tasks_per_framework;
  while (fw->ncompleted_tasks > 0 && (long)fw->ncompleted_tasks > (max < 0 ? 0 : max)) {
    mz_task *old = fw->completed_tasks;
    DL_DELETE2(fw->completed_tasks, old, done_prev, done_next);
    fw->ncompleted_tasks--;
    mz_task_free(old);
  }
}

mz_task *mz_task_find_unreachable(mz_framework *fw, const char *task_id) {
  mz_task *t = NULL;
  if (fw && task_id) HASH_FIND_STR(fw->unreachable_tasks, task_id, t);
  return t;
}

void mz_task_forget_unreachable(mz_framework *fw, mz_task *t) {
  HASH_DEL(fw->unreachable_tasks, t);
  DL_DELETE2(fw->unreachable_list, t, done_prev, done_next);
  fw->nunreachable_tasks--;
  mz_task_free(t);
}

void mz_task_write(mz_jw *w, const mz_task *t) {
  mz_jw_object(w);
  mz_jw_kstring(w, "id", t->id);
  mz_jw_kstring(w, "name", t->name);
  mz_jw_kstring(w, "framework_id", t->framework_id);
  mz_jw_kstring(w, "executor_id", t->executor_id ? t->executor_id : "");
  mz_jw_kstring(w, "slave_id", t->agent_id);
  mz_jw_kstring(w, "agent_id", t->agent_id);
  mz_jw_kstring(w, "state", mz_task_state_name(t->state));
  mz_jw_key(w, "resources");
  mz_resources_summary_write(w, t->resources);
  mz_jw_kstring(w, "role", t->role);
  mz_jw_key(w, "statuses");
  mz_jw_array(w);
  for (size_t i = 0; i < t->nstatuses; i++) {
    mz_jw_object(w);
    mz_jw_kstring(w, "state", mz_task_state_name(t->statuses[i].state));
    mz_jw_kreal(w, "timestamp", t->statuses[i].timestamp);
    mz_jw_object_end(w);
  }
  mz_jw_array_end(w);
  if (t->user) mz_jw_kstring(w, "user", t->user);
  mz_jw_object_end(w);
}

static void task_write(mz_jw *w, const void *t) { mz_task_write(w, t); }

json_t *mz_task_json(const mz_task *t) { return mz_jw_to_json(task_write, t); }
