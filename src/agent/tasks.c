/* tasks: what the agent does with tasks, between the master link, the executors
 * and the status update manager:
 *   RUN_TASK -> framework/executor records, the task queued, the executor launched
 *               (or the task sent at once to a subscribed one); one killed while it
 *               waited in the link's queue (master_link.c) is answered, not launched;
 *   KILL_TASK -> TASK_KILLED from the agent for a task not yet sent to its executor,
 *               a KILL event otherwise (executors.c escalates);
 *   executor UPDATE -> the task's state, the status update manager, ACKNOWLEDGED back;
 *   ACKNOWLEDGE -> the status update manager; a terminal one completes the task;
 *   SHUTDOWN_FRAMEWORK, FRAMEWORK_MESSAGE, the master's SHUTDOWN.
 * Messages received here are borrowed; what is kept is copied (agent.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "agent/agent.h"
#include "agent/checkpoint.h"
#include "agent/containerizer.h"
#include "agent/gpu.h"
#include "common/log.h"

/* TASK_KILLED's message for a task killed before its executor got it (Mesos:
 * REASON_TASK_KILLED_DURING_LAUNCH); one of a task group takes the group with it. */
#define KILLED_MESSAGE "Killed before it was launched"
#define KILLED_IN_GROUP_MESSAGE "A task within the task group was killed before it was launched"

/* ExecutorInfo.source and FrameworkInfo.role are deprecated in Mesos but still reported. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* ------------------------------------------------------------------ status updates */

static int su_forward(const char *fw_id, const char *executor_id, const Mesos__V1__TaskStatus *st,
                      Mesos__V1__TaskState latest, void *arg) {
  mz_agent *a = arg;
  if (!a->link || !mz_master_link_registered(a->link)) return -1;
  Mezzo__Internal__AgentCall call = MEZZO__INTERNAL__AGENT_CALL__INIT;
  Mezzo__Internal__AgentCall__StatusUpdate su = MEZZO__INTERNAL__AGENT_CALL__STATUS_UPDATE__INIT;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  Mesos__V1__ExecutorID eid = MESOS__V1__EXECUTOR_ID__INIT;
  fid.value = (char *)fw_id;
  su.framework_id = &fid;
  if (executor_id) {
    eid.value = (char *)executor_id;
    su.executor_id = &eid;
  }
  su.status = (Mesos__V1__TaskStatus *)st;
  su.has_latest_state = 1;
  su.latest_state = latest;
  call.type = MEZZO__INTERNAL__AGENT_CALL__TYPE__STATUS_UPDATE;
  call.status_update = &su;
  return mz_master_link_send(a->link, &call);
}

static void su_terminal_acked(const char *fw_id, const char *task_id, void *arg) {
  mz_agent_task_terminal_acked(arg, fw_id, task_id);
}

const mz_su_callbacks mz_agent_su_callbacks = {su_forward, su_terminal_acked};

void mz_agent_status_fill(mz_ag_task *t, Mesos__V1__TaskState state, Mesos__V1__TaskStatus__Source source,
                          const char *message, uint8_t *uuid, Mesos__V1__ExecutorID *eid, Mesos__V1__TaskStatus *st) {
  mesos__v1__task_status__init(st);
  mesos__v1__executor_id__init(eid);
  mz_uuid_generate(uuid);
  st->task_id = t->info->task_id;
  st->state = state;
  st->message = (char *)message;
  st->has_source = 1;
  st->source = source;
  eid->value = t->executor->id;
  st->executor_id = eid;
  st->has_timestamp = 1;
  st->timestamp = mz_now();
  st->has_uuid = 1;
  st->uuid.data = uuid;
  st->uuid.len = MZ_UUID_BYTES;
}

void mz_agent_generate_update(mz_agent *a, mz_ag_task *t, Mesos__V1__TaskState state, int has_reason,
                              Mesos__V1__TaskStatus__Reason reason, const char *message) {
  Mesos__V1__TaskStatus st;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  Mesos__V1__ExecutorID eid;
  uint8_t uuid[MZ_UUID_BYTES];
  mz_agent_status_fill(t, state, MESOS__V1__TASK_STATUS__SOURCE__SOURCE_AGENT, message, uuid, &eid, &st);
  st.has_reason = has_reason;
  st.reason = reason;
  if (a->agent_id) {
    aid.value = a->agent_id;
    st.agent_id = &aid;
  }
  mz_agent_task_record_status(t, &st);
  mz_ag_executor *ex = t->executor;
  if (mz_task_state_terminal(state) && (ex->state == MZ_EXEC_RUNNING || ex->state == MZ_EXEC_REGISTERING))
    mz_agent_gpus_task_ended(a, t); /* a task that ends before it runs gives its GPUs back too */
  MZ_INFO(MZ_AGENT_MOD, "%s for task %s of framework %s (from the agent)%s%s", mz_task_state_name(state), t->id,
          t->executor->fw->id, message ? ": " : "", message ? message : "");
  if (t->executor->fw->removing) return;
  char err[256];
  int rc = mz_su_update(a->su, t->executor->fw->id, t->executor->id, &st, err, sizeof err);
  if (rc < 0)
    MZ_WARN(MZ_AGENT_MOD, "update for task %s dropped: %s", t->id, err);
  else if (rc == 0)
    mz_ag_ckpt_update(a, t, &st);
}

int mz_agent_executor_update(mz_agent *a, mz_ag_executor *ex, const Mesos__V1__TaskStatus *st, char *err,
                             size_t errlen) {
  if (!st->task_id || !st->task_id->value) {
    snprintf(err, errlen, "'update.status.task_id' is missing");
    return -1;
  }
  if (!st->has_uuid || st->uuid.len != MZ_UUID_BYTES) {
    snprintf(err, errlen, "Expecting 'uuid' to be present (16 bytes)");
    return -1;
  }
  if (st->state == MESOS__V1__TASK_STATE__TASK_STAGING) {
    snprintf(err, errlen, "Received TASK_STAGING from executor");
    return -1;
  }
  if (st->executor_id && st->executor_id->value && strcmp(st->executor_id->value, ex->id) != 0) {
    snprintf(err, errlen, "ExecutorID in Call: %s does not match ExecutorID in TaskStatus: %s", ex->id,
             st->executor_id->value);
    return -1;
  }
  mz_ag_task *t;
  HASH_FIND_STR(ex->launched, st->task_id->value, t);
  int known_completed = 0;
  if (!t) {
    mz_ag_task *c;
    DL_FOREACH(ex->completed, c) {
      if (!strcmp(c->id, st->task_id->value)) known_completed = 1;
    }
    if (!known_completed) {
      snprintf(err, errlen, "Task %s is not known to executor %s", st->task_id->value, ex->id);
      return -1;
    }
  }
  if (t) {
    /* An update sent again by an executor that did not see its acknowledgement. */
    for (size_t i = 0; i < t->nstatuses; i++) {
      const Mesos__V1__TaskStatus *old = t->statuses[i];
      if (old->has_uuid && old->uuid.len == st->uuid.len && !memcmp(old->uuid.data, st->uuid.data, st->uuid.len)) {
        t = NULL;
        break;
      }
    }
  }
  if (t) {
    /* A shallow copy completed with what the agent knows. */
    Mesos__V1__TaskStatus s = *st;
    Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
    Mesos__V1__ExecutorID eid = MESOS__V1__EXECUTOR_ID__INIT;
    if (!s.agent_id && a->agent_id) {
      aid.value = a->agent_id;
      s.agent_id = &aid;
    }
    if (!s.executor_id) {
      eid.value = ex->id;
      s.executor_id = &eid;
    }
    if (!s.has_source) {
      s.has_source = 1;
      s.source = MESOS__V1__TASK_STATUS__SOURCE__SOURCE_EXECUTOR;
    }
    if (!s.has_timestamp) {
      s.has_timestamp = 1;
      s.timestamp = mz_now();
    }
    /* A task that died because its container went over its memory limit is reported
     * with the limitation (as Mesos does), and the container is destroyed. */
    char limit_msg[512];
    if ((s.state == MESOS__V1__TASK_STATE__TASK_FAILED || s.state == MESOS__V1__TASK_STATE__TASK_KILLED) &&
        mz_containerizer_limitation(a->containerizer, ex->container_id, limit_msg, sizeof limit_msg) == 1) {
      s.state = MESOS__V1__TASK_STATE__TASK_FAILED;
      s.has_reason = 1;
      s.reason = MESOS__V1__TASK_STATUS__REASON__REASON_CONTAINER_LIMITATION_MEMORY;
      s.message = limit_msg;
      s.has_source = 1;
      s.source = MESOS__V1__TASK_STATUS__SOURCE__SOURCE_AGENT;
      mz_containerizer_destroy(a->containerizer, ex->container_id, 0);
    }
    int rc = 0;
    char suerr[256] = "";
    if (!ex->fw->removing)
      rc = mz_su_update(a->su, ex->fw->id, ex->id, &s, suerr, sizeof suerr);
    if (rc == 0) {
      mz_ag_ckpt_update(a, t, &s);
      mz_agent_task_record_status(t, &s);
      if (mz_task_state_terminal(s.state)) {
        mz_agent_gpus_task_ended(a, t); /* its GPUs go back (gpu.h) */
        mz_ag_exec_update_limits(a, ex);  /* its cpus too */
      }
      MZ_INFO(MZ_AGENT_MOD, "%s for task %s of framework %s from executor %s%s%s", mz_task_state_name(s.state),
              t->id, ex->fw->id, ex->id, s.message ? ": " : "", s.message ? s.message : "");
    } else if (rc < 0) {
      MZ_WARN(MZ_AGENT_MOD, "update from executor %s dropped: %s", ex->id, suerr);
    }
  }
  /* The agent has taken responsibility for the update: tell the executor. */
  Mesos__V1__Executor__Event ev = MESOS__V1__EXECUTOR__EVENT__INIT;
  Mesos__V1__Executor__Event__Acknowledged ack = MESOS__V1__EXECUTOR__EVENT__ACKNOWLEDGED__INIT;
  ev.has_type = 1;
  ev.type = MESOS__V1__EXECUTOR__EVENT__TYPE__ACKNOWLEDGED;
  ack.task_id = st->task_id;
  ack.uuid = st->uuid;
  ev.acknowledged = &ack;
  mz_ag_exec_send_event(a, ex, &ev);
  return 0;
}

void mz_agent_acknowledge(mz_agent *a, const Mezzo__Internal__AgentEvent__Acknowledge *ack) {
  if (!ack || !ack->framework_id || !ack->framework_id->value || !ack->task_id || !ack->task_id->value) {
    MZ_WARN(MZ_AGENT_MOD, "ACKNOWLEDGE without framework or task id");
    return;
  }
  char err[256];
  /* Checkpointed first when it is the one awaited (the head): a terminal acknowledgement
   * completes the task and may free its executor. */
  mz_ag_task *t = mz_agent_task(a, ack->framework_id->value, ack->task_id->value);
  const Mesos__V1__TaskStatus *head = mz_su_head(a->su, ack->framework_id->value, ack->task_id->value);
  if (t && head && head->uuid.len == ack->uuid.len && ack->uuid.len == MZ_UUID_BYTES &&
      !memcmp(head->uuid.data, ack->uuid.data, MZ_UUID_BYTES))
    mz_ag_ckpt_ack(a, t, ack->uuid.data);
  if (mz_su_acknowledge(a->su, ack->framework_id->value, ack->task_id->value, ack->uuid.data, ack->uuid.len, err,
                        sizeof err) != 0)
    MZ_WARN(MZ_AGENT_MOD, "ignoring an acknowledgement: %s", err);
}

void mz_agent_task_terminal_acked(mz_agent *a, const char *fw_id, const char *task_id) {
  mz_ag_task *t = mz_agent_task(a, fw_id, task_id);
  if (!t) return;
  mz_ag_executor *ex = t->executor;
  MZ_INFO(MZ_AGENT_MOD, "task %s of framework %s completed (%s acknowledged)", task_id, fw_id,
          mz_task_state_name(t->state));
  mz_agent_task_complete(a, t);
  mz_agent_gc_executor(a, ex);
}

/* ------------------------------------------------------------------ RUN_TASK */

/* The ExecutorInfo Mesos generates for a command task: the executor's id is the task's. */
static Mesos__V1__ExecutorInfo *command_executor_info(mz_agent *a, const char *fw_id,
                                                      const Mesos__V1__TaskInfo *task) {
  Mesos__V1__ExecutorInfo info = MESOS__V1__EXECUTOR_INFO__INIT;
  Mesos__V1__ExecutorID eid = MESOS__V1__EXECUTOR_ID__INIT;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  Mesos__V1__CommandInfo cmd = MESOS__V1__COMMAND_INFO__INIT;
  eid.value = task->task_id->value;
  fid.value = (char *)fw_id;
  info.executor_id = &eid;
  info.framework_id = &fid;
  info.has_type = 1;
  info.type = MESOS__V1__EXECUTOR_INFO__TYPE__DEFAULT;
  char path[4200];
  snprintf(path, sizeof path, "%s/mezzo-executor", a->launcher_dir);
  cmd.value = path;
  cmd.has_shell = 1;
  cmd.shell = 0;
  info.command = &cmd;
  const char *c = task->command && task->command->value ? task->command->value : "";
  size_t n = strlen(task->task_id->value) + strlen(c) + 64;
  char *name = mz_malloc(n);
  snprintf(name, n, "Command Executor (Task: %s) (Command: sh -c '%.256s%s')", task->task_id->value, c,
           strlen(c) > 256 ? "..." : "");
  info.name = name;
  info.source = task->task_id->value;
  Mesos__V1__ExecutorInfo *copy = mz_pb_dup(&info.base);
  free(name);
  return copy;
}

/* Adds a task that cannot run to an executor record and fails it at once. */
static void refuse_task(mz_agent *a, mz_ag_executor *ex, const Mesos__V1__TaskInfo *task, Mesos__V1__TaskState state,
                        Mesos__V1__TaskStatus__Reason reason, const char *message) {
  mz_ag_task *t = mz_agent_task_new(ex, task);
  if (!t) return;
  mz_ag_ckpt_task(a, t);
  mz_agent_generate_update(a, t, state, 1, reason, message);
}

static void checkpoint_group(mz_agent *a, mz_ag_executor *ex, unsigned group) {
  mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->queued, t, tmp)
    if (t->group == group) mz_ag_ckpt_task(a, t);
}

/* A task group for a running executor whose container cannot get its GPUs: every
 * task of it fails (Mesos: a failed container update), the executor runs on. */
static void fail_new_group(mz_agent *a, mz_ag_executor *ex, unsigned group, const char *why) {
  MZ_WARN(MZ_AGENT_MOD, "task group %u of executor %s of framework %s: %s", group, ex->id, ex->fw->id, why);
  mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->queued, t, tmp) {
    if (t->group != group || mz_task_state_terminal(t->state)) continue;
    mz_agent_generate_update(a, t, MESOS__V1__TASK_STATE__TASK_FAILED, 1,
                             MESOS__V1__TASK_STATUS__REASON__REASON_CONTAINER_UPDATE_FAILED, why);
  }
}

void mz_agent_run_task(mz_agent *a, const Mezzo__Internal__AgentEvent__RunTask *rt, int killed) {
  char err[300];
  if (!a->agent_id) {
    MZ_WARN(MZ_AGENT_MOD, "RUN_TASK before registration: ignored");
    return;
  }
  if (!rt->framework || !rt->framework->id || !rt->framework->id->value ||
      mz_id_valid(rt->framework->id->value, err, sizeof err) != 0) {
    MZ_WARN(MZ_AGENT_MOD, "RUN_TASK with a missing or invalid framework id: ignored");
    return;
  }
  const char *fw_id = rt->framework->id->value;
  Mesos__V1__TaskInfo *const *tasks;
  size_t ntasks;
  Mesos__V1__TaskInfo *single[1];
  if (rt->task) {
    single[0] = rt->task;
    tasks = single;
    ntasks = 1;
  } else if (rt->task_group && rt->task_group->n_tasks > 0) {
    tasks = rt->task_group->tasks;
    ntasks = rt->task_group->n_tasks;
  } else {
    MZ_WARN(MZ_AGENT_MOD, "RUN_TASK for framework %s without a task: ignored", fw_id);
    return;
  }
  for (size_t i = 0; i < ntasks; i++) {
    const Mesos__V1__TaskInfo *t = tasks[i];
    if (!t->task_id || !t->task_id->value || mz_id_valid(t->task_id->value, err, sizeof err) != 0) {
      MZ_WARN(MZ_AGENT_MOD, "RUN_TASK for framework %s with an invalid task id: ignored", fw_id);
      return;
    }
    if (mz_agent_task(a, fw_id, t->task_id->value)) {
      MZ_WARN(MZ_AGENT_MOD, "RUN_TASK: task %s of framework %s already exists: ignored", t->task_id->value, fw_id);
      return;
    }
  }
  mz_ag_framework *fw = mz_agent_framework_add(a, rt->framework);
  if (!fw) return;
  fw->removing = 0;
  mz_ag_ckpt_framework(a, fw);

  /* Which executor: the given one (custom / task group), or the command executor. */
  const Mesos__V1__ExecutorInfo *given = rt->executor ? rt->executor : (rt->task ? rt->task->executor : NULL);
  Mesos__V1__ExecutorInfo *generated = NULL;
  int command = 0;
  if (!given) {
    generated = command_executor_info(a, fw_id, tasks[0]);
    if (!generated) return;
    given = generated;
    command = 1;
  }
  if (!given->executor_id || !given->executor_id->value ||
      mz_id_valid(given->executor_id->value, err, sizeof err) != 0) {
    MZ_WARN(MZ_AGENT_MOD, "RUN_TASK for framework %s with an invalid executor id: ignored", fw_id);
    mz_pb_free(generated);
    return;
  }
  mz_ag_executor *ex = mz_agent_executor(fw, given->executor_id->value);
  int fresh = 0;
  if (!ex) {
    ex = mz_agent_executor_add(a, fw, given, command);
    fresh = 1;
  }
  mz_pb_free(generated);
  if (!ex) return;
  if (fresh) mz_ag_ckpt_executor(a, ex);

  if (killed) {
    /* Killed while it waited in the link's queue: answered by the agent, never
     * launched, as Mesos's agent answers the kill of a pending task. */
    MZ_INFO(MZ_AGENT_MOD, "%s of framework %s killed before it was launched", rt->task_group ? "task group" : "task",
            fw_id);
    for (size_t i = 0; i < ntasks; i++)
      refuse_task(a, ex, tasks[i], MESOS__V1__TASK_STATE__TASK_KILLED,
                  MESOS__V1__TASK_STATUS__REASON__REASON_TASK_KILLED_DURING_LAUNCH,
                  rt->task_group ? KILLED_IN_GROUP_MESSAGE : KILLED_MESSAGE);
    if (fresh) {
      ex->state = MZ_EXEC_TERMINATED;
      mz_agent_gc_executor(a, ex);
    }
    return;
  }

  if (rt->task_group) {
    /* A task group: every task is queued under the same group number and sent to the
     * executor in one LAUNCH_GROUP (executors.c); the default executor runs them. */
    if (!fresh && (ex->state == MZ_EXEC_TERMINATING || ex->state == MZ_EXEC_TERMINATED)) {
      for (size_t i = 0; i < ntasks; i++)
        refuse_task(a, ex, tasks[i], MESOS__V1__TASK_STATE__TASK_FAILED,
                    MESOS__V1__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED, "The executor is terminating");
      return;
    }
    unsigned group = ++ex->next_group;
    for (size_t i = 0; i < ntasks; i++) {
      mz_ag_task *t = mz_agent_task_new(ex, tasks[i]);
      if (t) t->group = group;
    }
    char gpu_err[256] = "";
    int gpus_ok = fresh || mz_agent_gpus_grow(a, ex, group, gpu_err, sizeof gpu_err) == 0;
    checkpoint_group(a, ex, group);
    MZ_INFO(MZ_AGENT_MOD, "got a task group of %zu task(s) of framework %s for executor %s", ntasks, fw_id, ex->id);
    if (fresh) {
      mz_ag_exec_launch(a, ex); /* the group's URIs are fetched by the container's child */
      return;
    }
    if (!gpus_ok) {
      fail_new_group(a, ex, group, gpu_err);
      return;
    }
    mz_ag_exec_fetch_group(a, ex, group); /* holds the group back while its URIs come */
    mz_ag_exec_flush_queue(a, ex);
    return;
  }
  const Mesos__V1__TaskInfo *task = tasks[0];
  if (command && (!task->command || !task->command->value)) {
    refuse_task(a, ex, task, MESOS__V1__TASK_STATE__TASK_FAILED, MESOS__V1__TASK_STATUS__REASON__REASON_TASK_INVALID,
                "A task without an executor needs a command");
    ex->state = MZ_EXEC_TERMINATED;
    mz_agent_gc_executor(a, ex);
    return;
  }
  if (!fresh && (ex->state == MZ_EXEC_TERMINATING || ex->state == MZ_EXEC_TERMINATED)) {
    refuse_task(a, ex, task, MESOS__V1__TASK_STATE__TASK_FAILED,
                MESOS__V1__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED, "The executor is terminating");
    return;
  }
  mz_ag_task *t = mz_agent_task_new(ex, task);
  if (!t) return;
  mz_ag_ckpt_task(a, t);
  char gpu_err[256];
  if (!fresh && mz_agent_gpus_grow(a, ex, 0, gpu_err, sizeof gpu_err) != 0) {
    MZ_WARN(MZ_AGENT_MOD, "task %s of framework %s: %s", t->id, fw_id, gpu_err);
    mz_agent_generate_update(a, t, MESOS__V1__TASK_STATE__TASK_FAILED, 1,
                             MESOS__V1__TASK_STATUS__REASON__REASON_CONTAINER_UPDATE_FAILED, gpu_err);
    return;
  }
  MZ_INFO(MZ_AGENT_MOD, "got task %s (%s) of framework %s for executor %s", t->id, task->name ? task->name : "",
          fw_id, ex->id);
  if (fresh)
    mz_ag_exec_launch(a, ex);
  else
    mz_ag_exec_flush_queue(a, ex);
}

/* ------------------------------------------------------------------ KILL_TASK */

/* A task not yet sent to its executor is killed by the agent; as in Mesos, one of a
 * task group takes its whole group with it (the group is launched whole or not at all). */
static void kill_queued(mz_agent *a, mz_ag_executor *ex, mz_ag_task *t) {
  if (!t->group) {
    t->kill_requested = 1;
    mz_agent_generate_update(a, t, MESOS__V1__TASK_STATE__TASK_KILLED, 1,
                             MESOS__V1__TASK_STATUS__REASON__REASON_TASK_KILLED_DURING_LAUNCH,
                             KILLED_MESSAGE);
    return;
  }
  mz_ag_task *g, *tmp;
  HASH_ITER(hh, ex->queued, g, tmp) {
    if (g->group != t->group || mz_task_state_terminal(g->state)) continue;
    g->kill_requested = 1;
    mz_agent_generate_update(a, g, MESOS__V1__TASK_STATE__TASK_KILLED, 1,
                             MESOS__V1__TASK_STATUS__REASON__REASON_TASK_KILLED_DURING_LAUNCH,
                             KILLED_IN_GROUP_MESSAGE);
  }
}

void mz_agent_kill_task(mz_agent *a, const Mezzo__Internal__AgentEvent__KillTask *kt) {
  if (!kt->framework_id || !kt->framework_id->value || !kt->task_id || !kt->task_id->value) {
    MZ_WARN(MZ_AGENT_MOD, "KILL_TASK without framework or task id");
    return;
  }
  mz_ag_task *t = mz_agent_task(a, kt->framework_id->value, kt->task_id->value);
  if (!t) {
    MZ_WARN(MZ_AGENT_MOD, "KILL_TASK for unknown task %s of framework %s", kt->task_id->value,
            kt->framework_id->value);
    return;
  }
  if (mz_task_state_terminal(t->state)) {
    MZ_INFO(MZ_AGENT_MOD, "KILL_TASK for task %s which is already %s", t->id, mz_task_state_name(t->state));
    return;
  }
  mz_ag_executor *ex = t->executor;
  mz_ag_task *q;
  HASH_FIND_STR(ex->queued, t->id, q);
  if (q == t) {
    kill_queued(a, ex, t);
    /* An executor left with nothing to run is not needed. */
    size_t live = 0;
    mz_ag_task *x, *tmp;
    HASH_ITER(hh, ex->queued, x, tmp) live += !mz_task_state_terminal(x->state);
    HASH_ITER(hh, ex->launched, x, tmp) live += !mz_task_state_terminal(x->state);
    if (live == 0 && ex->state != MZ_EXEC_TERMINATED)
      mz_ag_exec_shutdown(a, ex, 0, MESOS__V1__TASK_STATE__TASK_KILLED,
                          MESOS__V1__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED, "Executor shut down");
    return;
  }
  mz_ag_exec_kill_task(a, ex, t, kt->kill_policy);
}

/* ------------------------------------------------------------------ frameworks */

void mz_agent_shutdown_framework(mz_agent *a, const char *fw_id) {
  mz_ag_framework *fw = mz_agent_framework(a, fw_id);
  if (!fw) {
    MZ_WARN(MZ_AGENT_MOD, "SHUTDOWN_FRAMEWORK for unknown framework %s", fw_id);
    return;
  }
  MZ_INFO(MZ_AGENT_MOD, "shutting down framework %s", fw_id);
  fw->removing = 1;
  mz_su_drop_framework(a->su, fw_id);
  mz_ag_executor *ex, *tmp;
  HASH_ITER(hh, fw->executors, ex, tmp) {
    if (ex->state == MZ_EXEC_TERMINATED) {
      /* Nothing runs; its tasks wait for acknowledgements that will not come. */
      mz_ag_task *t, *ttmp;
      HASH_ITER(hh, ex->queued, t, ttmp) mz_agent_task_complete(a, t);
      HASH_ITER(hh, ex->launched, t, ttmp) mz_agent_task_complete(a, t);
      mz_agent_gc_executor(a, ex);
      continue;
    }
    double grace = ex->info->shutdown_grace_period ? (double)ex->info->shutdown_grace_period->nanoseconds / 1e9
                                                   : a->flags.executor_shutdown_grace_period;
    mz_ag_exec_shutdown(a, ex, grace, MESOS__V1__TASK_STATE__TASK_KILLED,
                        MESOS__V1__TASK_STATUS__REASON__REASON_FRAMEWORK_REMOVED, "Framework shut down");
  }
}

void mz_agent_framework_message(mz_agent *a, const Mezzo__Internal__AgentEvent__FrameworkMessage *fm) {
  if (!fm->framework_id || !fm->framework_id->value || !fm->executor_id || !fm->executor_id->value) return;
  mz_ag_framework *fw = mz_agent_framework(a, fm->framework_id->value);
  mz_ag_executor *ex = fw ? mz_agent_executor(fw, fm->executor_id->value) : NULL;
  if (!ex || !ex->stream) {
    MZ_WARN(MZ_AGENT_MOD, "dropping a framework message for executor %s of framework %s: not %s",
            fm->executor_id->value, fm->framework_id->value,
            !ex ? "running here" : ex->direct ? "an executor process (a direct command task, which ignores them)"
                                              : "subscribed");
    return;
  }
  Mesos__V1__Executor__Event ev = MESOS__V1__EXECUTOR__EVENT__INIT;
  Mesos__V1__Executor__Event__Message msg = MESOS__V1__EXECUTOR__EVENT__MESSAGE__INIT;
  ev.has_type = 1;
  ev.type = MESOS__V1__EXECUTOR__EVENT__TYPE__MESSAGE;
  msg.data = fm->data;
  ev.message = &msg;
  mz_ag_exec_send_event(a, ex, &ev);
}

void mz_agent_master_shutdown(mz_agent *a) {
  MZ_WARN(MZ_AGENT_MOD, "the master asked this agent to shut down: killing every task and registering anew");
  mz_ag_framework *fw, *tmp;
  HASH_ITER(hh, a->frameworks, fw, tmp) {
    fw->removing = 1;
    mz_ag_executor *ex, *etmp;
    HASH_ITER(hh, fw->executors, ex, etmp) {
      if (ex->state == MZ_EXEC_TERMINATED) {
        mz_ag_task *t, *ttmp;
        HASH_ITER(hh, ex->queued, t, ttmp) mz_agent_task_complete(a, t);
        HASH_ITER(hh, ex->launched, t, ttmp) mz_agent_task_complete(a, t);
        mz_agent_gc_executor(a, ex);
      } else {
        mz_ag_exec_shutdown(a, ex, 0, MESOS__V1__TASK_STATE__TASK_KILLED,
                            MESOS__V1__TASK_STATUS__REASON__REASON_AGENT_REMOVED, "The agent was removed");
      }
    }
  }
  mz_su_drop_framework(a->su, NULL);
  mz_ckpt_forget_agent(a->work_dir);
  free(a->agent_id);
  a->agent_id = NULL;
}
