/* status_update: see status_update.h. */
#include "master/status_update.h"

#include <string.h>

#include "common/log.h"
#include "master/agent.h"
#include "master/framework.h"
#include "master/pbutil.h"
#include "master/task.h"

void mz_status_update(mz_agent *a, Mezzo__Internal__AgentCall__StatusUpdate *su) {
  mz_master *m = a->m;
  m->metrics.messages_status_update++;
  Mesos__V1__TaskStatus *st = su->status;
  if (!st || !st->task_id || !st->task_id->value || !su->framework_id || !su->framework_id->value) {
    m->metrics.invalid_status_updates++;
    return;
  }
  if (st->has_uuid && st->uuid.len != MZ_UUID_BYTES) {
    MZ_WARN("master", "ignoring status update for task %s from agent %s: uuid is not 16 bytes", st->task_id->value,
            a->id);
    m->metrics.invalid_status_updates++;
    return;
  }
  /* Stamp the agent (and executor) the update came through; restored before return. */
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  Mesos__V1__AgentID *old_aid = st->agent_id;
  aid.value = a->id;
  st->agent_id = &aid;
  Mesos__V1__ExecutorID *old_eid = st->executor_id;
  if (!st->executor_id && su->executor_id) st->executor_id = su->executor_id;
  bool had_ts = st->has_timestamp;
  if (!st->has_timestamp) {
    st->has_timestamp = 1;
    st->timestamp = mz_now();
  }

  mz_framework *fw = mz_framework_find(m, su->framework_id->value);
  mz_task *t = fw ? mz_task_find(fw, st->task_id->value) : NULL;
  if (t && t->agent != a) {
    MZ_WARN("master", "status update for task %s from agent %s, but the task is on agent %s", t->id, a->id,
            t->agent_id);
    t = NULL;
  }
  if (!fw || !fw->connected)
    MZ_WARN("master", "status update %s for task %s of %s framework %s from agent %s", mz_task_state_name(st->state),
            st->task_id->value, fw ? "disconnected" : "unknown", su->framework_id->value, a->id);
  else
    MZ_INFO("master", "status update %s (%s) for task %s of framework %s from agent %s", mz_task_state_name(st->state),
            st->has_source ? mz_source_name(st->source) : "no source", st->task_id->value, fw->id, a->id);

  if (t) {
    Mesos__V1__TaskState latest = su->latest_state;
    mz_task_update(t, st, su->has_latest_state ? &latest : NULL);
  }
  if (fw) {
    mz_task_forward(fw, t, st);
    if (t && !st->has_uuid && mz_task_state_terminal(t->state)) mz_task_remove(t); /* nothing to acknowledge */
  }
  if (fw && fw->connected && t) m->metrics.valid_status_updates++;
  else m->metrics.invalid_status_updates++;

  st->agent_id = old_aid;
  st->executor_id = old_eid;
  st->has_timestamp = had_ts;
}

void mz_status_acknowledge(mz_framework *fw, const Mesos__V1__Scheduler__Call__Acknowledge *ack) {
  mz_master *m = fw->m;
  m->metrics.messages_status_update_acknowledgement++;
  const char *aid = ack->agent_id ? ack->agent_id->value : NULL;
  mz_agent *a = mz_agent_find(m, aid);
  if (!a || !a->connected) {
    MZ_WARN("master", "cannot forward acknowledgement for task %s of framework %s: agent %s is %s",
            ack->task_id->value, fw->id, aid ? aid : "", a ? "disconnected" : "not registered");
    m->metrics.invalid_status_update_acknowledgements++;
    return;
  }
  mz_task *t = mz_task_find(fw, ack->task_id->value);
  if (t && t->agent == a) mz_task_acknowledged(t, ack->uuid.data, ack->uuid.len);

  Mezzo__Internal__AgentEvent ev = MEZZO__INTERNAL__AGENT_EVENT__INIT;
  Mezzo__Internal__AgentEvent__Acknowledge ac = MEZZO__INTERNAL__AGENT_EVENT__ACKNOWLEDGE__INIT;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  fid.value = fw->id;
  ac.framework_id = &fid;
  ac.task_id = ack->task_id;
  ac.uuid = ack->uuid;
  ev.type = MEZZO__INTERNAL__AGENT_EVENT__TYPE__ACKNOWLEDGE;
  ev.acknowledge = &ac;
  if (mz_agent_send(a, &ev) == 0) m->metrics.valid_status_update_acknowledgements++;
  else m->metrics.invalid_status_update_acknowledgements++;
}
