/* recover: the agent's checkpointing and its recovery after a restart.
 *
 * What is checkpointed (checkpoint.h), for frameworks with FrameworkInfo.checkpoint:
 * the FrameworkInfo at RUN_TASK, the ExecutorInfo before its launch and its pid after
 * (with the GPUs its container holds, and again when they change),
 * each TaskInfo when it arrives, each status update once the status update manager
 * has taken it, each acknowledgement. The AgentInfo at every registration. An
 * executor's checkpoint is removed when it completes, a framework's with its last
 * executor.
 *
 * Recovery (--recover=reconnect) at start: the checkpoint is loaded; the agent takes
 * its old id back; for every executor, if its process still runs (same pid and
 * start time) the containerizer adopts its container, which takes back its GPUs, and
 * the executor waits to subscribe again; otherwise its live tasks get a terminal
 * update from the agent (and its GPUs stay free).
 * A task the re-subscribed executor never got is sent again; the tasks of a task
 * group (their group number is checkpointed) go again together in one LAUNCH_GROUP,
 * their URIs fetched first (Mesos instead reports such tasks TASK_LOST/TASK_DROPPED,
 * REASON_SLAVE_RESTARTED, since it does not checkpoint TaskInfo; a TODO there wants
 * them relaunched, which a TaskInfo checkpoint allows).
 * Updates checkpointed and not acknowledged go back in the status update manager
 * (resent once registered, in order per task). Containers not recovered are
 * destroyed: those the journal records, and, when no other agent uses the cgroups
 * root (main.c took its lock alone, cgroups_lock.h), those found there unrecorded
 * (a work directory removed, a crash before the record). After every recovered
 * executor re-subscribed, or after --executor_reregistration_timeout, the missing
 * ones are destroyed (their tasks TASK_FAILED for the command executor, TASK_LOST /
 * TASK_GONE for others, as Mesos) and the agent re-registers with the master under
 * its old id with what runs.
 *
 * Everything here works on the agent's tables (agent.h); the loaded checkpoint
 * tree is freed before mz_agent_recover returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "agent/agent.h"
#include "agent/checkpoint.h"
#include "agent/containerizer.h"
#include "agent/gpu.h"
#include "agent/treewalk.h"
#include "common/log.h"

#define RECOVER_DESTROY_WAIT 10.0 /* seconds to wait for the containers not recovered to die */

/* ------------------------------------------------------------------ checkpointing */

int mz_agent_checkpointing(const mz_ag_framework *fw) {
  return fw && fw->info && fw->info->has_checkpoint && fw->info->checkpoint;
}

static int run_of(mz_agent *a, const mz_ag_executor *ex, mz_ckpt_run *r) {
  if (!a->agent_id || !mz_agent_checkpointing(ex->fw)) return -1;
  r->work_dir = a->work_dir;
  r->agent_id = a->agent_id;
  r->fw_id = ex->fw->id;
  r->executor_id = ex->id;
  r->container_id = ex->container_id;
  return 0;
}

void mz_ag_ckpt_agent(mz_agent *a) {
  if (!a->agent_id) return;
  mz_agent_info_buf b;
  mz_agent_info_fill(a, &b);
  char err[512];
  if (mz_ckpt_agent(a->work_dir, &b.info, err, sizeof err) != 0)
    MZ_WARN(MZ_AGENT_MOD, "cannot checkpoint the agent's info: %s", err);
  mz_agent_info_release(&b);
}

void mz_ag_ckpt_framework(mz_agent *a, mz_ag_framework *fw) {
  if (!a->agent_id || !mz_agent_checkpointing(fw)) return;
  char err[512];
  if (mz_ckpt_framework(a->work_dir, a->agent_id, fw->info, err, sizeof err) != 0)
    MZ_WARN(MZ_AGENT_MOD, "cannot checkpoint framework %s: %s", fw->id, err);
}

void mz_ag_ckpt_executor(mz_agent *a, mz_ag_executor *ex) {
  mz_ckpt_run r;
  if (run_of(a, ex, &r) != 0) return;
  char err[512];
  if (mz_ckpt_executor(&r, ex->info, err, sizeof err) != 0)
    MZ_WARN(MZ_AGENT_MOD, "cannot checkpoint executor %s: %s", ex->id, err);
}

void mz_ag_ckpt_executor_pid(mz_agent *a, mz_ag_executor *ex) {
  mz_ckpt_run r;
  if (run_of(a, ex, &r) != 0 || ex->pid <= 0) return;
  char err[512];
  if (mz_ckpt_executor_pid(&r, ex->pid, mz_proc_starttime(ex->pid), err, sizeof err) != 0)
    MZ_WARN(MZ_AGENT_MOD, "cannot checkpoint the pid of executor %s: %s", ex->id, err);
}

void mz_ag_ckpt_executor_gpus(mz_agent *a, mz_ag_executor *ex, const mz_ckpt_gpu *gpus, size_t n) {
  mz_ckpt_run r;
  if (run_of(a, ex, &r) != 0) return;
  char err[512];
  if (mz_ckpt_executor_gpus(&r, gpus, n, err, sizeof err) != 0)
    MZ_WARN(MZ_AGENT_MOD, "cannot checkpoint the GPUs of executor %s: %s", ex->id, err);
}

void mz_ag_ckpt_task(mz_agent *a, mz_ag_task *t) {
  mz_ckpt_run r;
  if (run_of(a, t->executor, &r) != 0) return;
  char err[512];
  if (mz_ckpt_task(&r, t->info, t->group, err, sizeof err) != 0)
    MZ_WARN(MZ_AGENT_MOD, "cannot checkpoint task %s: %s", t->id, err);
}

void mz_ag_ckpt_update(mz_agent *a, mz_ag_task *t, const Mesos__V1__TaskStatus *st) {
  mz_ckpt_run r;
  if (run_of(a, t->executor, &r) != 0) return;
  char err[512];
  if (mz_ckpt_task_update(&r, t->id, st, err, sizeof err) != 0)
    MZ_WARN(MZ_AGENT_MOD, "cannot checkpoint an update of task %s: %s", t->id, err);
}

void mz_ag_ckpt_ack(mz_agent *a, mz_ag_task *t, const uint8_t *uuid) {
  mz_ckpt_run r;
  if (run_of(a, t->executor, &r) != 0) return;
  char err[512];
  if (mz_ckpt_task_ack(&r, t->id, uuid, err, sizeof err) != 0)
    MZ_WARN(MZ_AGENT_MOD, "cannot checkpoint an acknowledgement for task %s: %s", t->id, err);
}

void mz_ag_ckpt_executor_done(mz_agent *a, mz_ag_executor *ex) {
  if (!a->agent_id || !mz_agent_checkpointing(ex->fw)) return;
  mz_ckpt_remove_executor(a->work_dir, a->agent_id, ex->fw->id, ex->id);
}

void mz_ag_ckpt_framework_done(mz_agent *a, mz_ag_framework *fw) {
  if (!a->agent_id || !mz_agent_checkpointing(fw)) return;
  mz_ckpt_remove_framework(a->work_dir, a->agent_id, fw->id);
}

/* ------------------------------------------------------------------ recovery */

static int is_command_executor(const Mesos__V1__ExecutorInfo *info) {
  /* command_executor_info (tasks.c): type DEFAULT with our own command. */
  return info->has_type && info->type == MESOS__V1__EXECUTOR_INFO__TYPE__DEFAULT && info->command != NULL;
}

static int partition_aware(const mz_ag_framework *fw) {
  for (size_t i = 0; i < fw->info->n_capabilities; i++) {
    const Mesos__V1__FrameworkInfo__Capability *c = fw->info->capabilities[i];
    if (c->has_type && c->type == MESOS__V1__FRAMEWORK_INFO__CAPABILITY__TYPE__PARTITION_AWARE) return 1;
  }
  return 0;
}

/* What the live tasks of an executor that is gone become (Mesos: TASK_FAILED for the
 * command executor, else TASK_GONE for partition-aware frameworks, TASK_LOST for others). */
static Mesos__V1__TaskState gone_state(const mz_ag_executor *ex) {
  if (ex->command) return MESOS__V1__TASK_STATE__TASK_FAILED;
  return partition_aware(ex->fw) ? MESOS__V1__TASK_STATE__TASK_GONE : MESOS__V1__TASK_STATE__TASK_LOST;
}

static mz_ag_task *recover_task(mz_agent *a, mz_ag_executor *ex, const mz_ckpt_task_state *ts) {
  mz_ag_task *t = mz_agent_task_new(ex, ts->info); /* queued */
  if (!t) return NULL;
  t->group = ts->group;
  if (t->group > ex->next_group) ex->next_group = t->group; /* later groups get new numbers */
  HASH_DEL(ex->queued, t);
  HASH_ADD_KEYPTR(hh, ex->launched, t->id, strlen(t->id), t);
  char err[256];
  for (size_t i = 0; i < ts->nupdates; i++) {
    const Mesos__V1__TaskStatus *st = ts->updates[i];
    if (!st->task_id || !st->task_id->value) continue;
    mz_agent_task_record_status(t, st);
    if (mz_su_update(a->su, ex->fw->id, ex->id, st, err, sizeof err) < 0)
      MZ_WARN(MZ_AGENT_MOD, "recovered update of task %s not queued: %s", t->id, err);
  }
  /* The acknowledgements, in order: each one takes the head of the task's stream. A
   * terminal one completes the task (mz_agent_task_terminal_acked). */
  for (size_t i = 0; i < ts->nacks; i++) {
    if (mz_su_acknowledge(a->su, ex->fw->id, t->id, ts->acks[i], MZ_CKPT_UUID_BYTES, err, sizeof err) != 0)
      MZ_DEBUG(MZ_AGENT_MOD, "recovered acknowledgement of task %s ignored: %s", t->id, err);
  }
  return t;
}

static void recover_executor(mz_agent *a, mz_ag_framework *fw, const mz_ckpt_executor_state *es, int *waiting) {
  if (!es->container_id) {
    MZ_WARN(MZ_AGENT_MOD, "executor %s of framework %s has no recorded run: not recovered",
            es->info->executor_id->value, fw->id);
    mz_ckpt_remove_executor(a->work_dir, a->agent_id, fw->id, es->info->executor_id->value);
    return;
  }
  mz_ag_executor *ex = mz_agent_executor_add(a, fw, es->info, is_command_executor(es->info));
  if (!ex) return;
  snprintf(ex->container_id, sizeof ex->container_id, "%s", es->container_id);
  ex->directory = mz_sandbox_path(a->work_dir, a->agent_id, fw->id, ex->id, ex->container_id);
  ex->launched_at = mz_now();
  ex->state = MZ_EXEC_REGISTERING;
  size_t live = 0;
  for (size_t i = 0; i < es->ntasks; i++) {
    mz_ag_task *t = recover_task(a, ex, &es->tasks[i]);
    if (t && !mz_task_state_terminal(t->state)) live++;
  }
  if (es->pid > 0 && mz_containerizer_adopt(a->containerizer, ex->container_id, es->pid, es->starttime, ex) == 0) {
    ex->pid = es->pid;
    ex->recovered = 1;
    (*waiting)++;
    mz_agent_gpus_recover(a, ex, es->gpus, es->ngpus); /* the GPUs stay its own */
    MZ_INFO(MZ_AGENT_MOD, "recovered executor %s of framework %s (pid %d, %zu live task%s): waiting for it to "
            "subscribe again", ex->id, fw->id, (int)ex->pid, live, live == 1 ? "" : "s");
    return;
  }
  /* Its process is gone: what it ran ended while the agent was down. */
  if (es->pid > 0)
    MZ_INFO(MZ_AGENT_MOD, "executor %s of framework %s (pid %d) terminated while the agent was down", ex->id, fw->id,
            (int)es->pid);
  else /* its tasks were refused or killed before it was launched, or the agent died launching it */
    MZ_INFO(MZ_AGENT_MOD, "executor %s of framework %s had not started when the agent went down", ex->id, fw->id);
  ex->state = MZ_EXEC_TERMINATED;
  ex->pid = 0;
  mz_ag_task *t, *tmp;
  mz_ag_task *tables[2] = {ex->queued, ex->launched};
  for (int i = 0; i < 2; i++) {
    HASH_ITER(hh, tables[i], t, tmp) {
      if (mz_task_state_terminal(t->state)) continue;
      mz_agent_generate_update(a, t, gone_state(ex), 1, MESOS__V1__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED,
                               "Executor terminated while the agent was down");
    }
  }
  mz_agent_gc_executor(a, ex);
}

static int keep_none(const char *id, void *arg) { return 0; }

/* The ids of the containers destroyed at start, for the gc (sandbox_gc.c). */
typedef struct {
  char **ids;
  size_t n;
} destroyed_ids;

static int keep_none_noted(const char *id, void *arg) {
  destroyed_ids *d = arg;
  d->ids = mz_realloc(d->ids, (d->n + 1) * sizeof *d->ids);
  d->ids[d->n++] = mz_strdup(id);
  return 0;
}

static void finish_recovery(mz_agent *a) {
  if (!a->recovering) return;
  a->recovering = 0;
  if (a->recovery_timer) evtimer_del(a->recovery_timer);
  char msg[160];
  snprintf(msg, sizeof msg, "Executor did not re-register within %gsecs after the agent restarted",
           a->flags.executor_reregistration_timeout);
  mz_ag_framework *fw, *ftmp;
  HASH_ITER(hh, a->frameworks, fw, ftmp) {
    mz_ag_executor *ex, *etmp;
    HASH_ITER(hh, fw->executors, ex, etmp) {
      if (!ex->recovered) continue;
      ex->recovered = 0;
      MZ_WARN(MZ_AGENT_MOD, "executor %s of framework %s: %s; destroying it", ex->id, fw->id, msg);
      mz_ag_exec_shutdown(a, ex, 0, gone_state(ex),
                          MESOS__V1__TASK_STATUS__REASON__REASON_EXECUTOR_REREGISTRATION_TIMEOUT, msg);
    }
  }
  MZ_INFO(MZ_AGENT_MOD, "recovery done; registering with the master as agent %s", a->agent_id ? a->agent_id : "?");
  mz_master_link_start(a->link);
}

static void on_recovery_timeout(evutil_socket_t fd, short what, void *arg) { finish_recovery(arg); }

/* When no other agent uses the cgroups (main.c, cgroups_lock.h), destroys the
 * containers found there that no journal of this agent records (left by an agent
 * whose work directory was removed with its journal) and the free sets of reuse
 * that other pids left. Returns how many containers. */
static int destroy_unrecorded(mz_agent *a) {
  if (!a->cgroups_sole || !a->containerizer) return 0;
  mz_cg_sweep_others_free_sets(&a->isolation);
  char **ids;
  size_t n = mz_cg_list(&a->isolation, &ids);
  int found = mz_containerizer_destroy_unrecorded(a->containerizer, ids, n, RECOVER_DESTROY_WAIT);
  for (size_t i = 0; i < n; i++) free(ids[i]);
  free(ids);
  if (found > 0)
    MZ_INFO(MZ_AGENT_MOD, "destroyed %d container%s found in the cgroups that no run of this agent recorded", found,
            found == 1 ? "" : "s");
  return found;
}

static int cleanup(mz_agent *a, const mz_ckpt_state *s) {
  int n = mz_containerizer_recover_except(a->containerizer, RECOVER_DESTROY_WAIT, keep_none, NULL);
  n += destroy_unrecorded(a);
  MZ_INFO(MZ_AGENT_MOD, "--recover=cleanup: destroyed %d container%s of agent %s left by an earlier run; "
          "forgetting its checkpoint and exiting", n, n == 1 ? "" : "s", s->agent_id);
  char dir[4200], err[600];
  snprintf(dir, sizeof dir, "%s/meta/slaves", a->work_dir);
  if (mz_rmtree_now(dir, err, sizeof err) != 0) MZ_WARN(MZ_AGENT_MOD, "cannot remove %s: %s", dir, err);
  return 1;
}

int mz_agent_recover(mz_agent *a) {
  mz_ckpt_state s;
  char err[512];
  if (mz_ckpt_load(a->work_dir, &s, err, sizeof err) != 0) {
    MZ_WARN(MZ_AGENT_MOD, "the checkpoint cannot be recovered (%s): starting as a new agent", err);
    mz_ckpt_forget_agent(a->work_dir);
    mz_ckpt_state_free(&s);
  }
  int cleanup_mode = a->flags.recover && !strcmp(a->flags.recover, "cleanup");
  if (s.agent_id && cleanup_mode) {
    int rc = cleanup(a, &s);
    mz_ckpt_state_free(&s);
    return rc;
  }
  int waiting = 0, nexec = 0, ntasks = 0;
  if (s.agent_id) {
    a->agent_id = mz_strdup(s.agent_id);
    for (size_t i = 0; i < s.nframeworks; i++) {
      const mz_ckpt_framework_state *fs = &s.frameworks[i];
      if (!fs->nexecutors) {
        mz_ckpt_remove_framework(a->work_dir, a->agent_id, fs->info->id->value);
        continue;
      }
      mz_ag_framework *fw = mz_agent_framework_add(a, fs->info);
      if (!fw) continue;
      for (size_t j = 0; j < fs->nexecutors; j++) {
        recover_executor(a, fw, &fs->executors[j], &waiting);
        nexec++;
        ntasks += (int)fs->executors[j].ntasks;
      }
      /* A framework with nothing left (every executor gone and acknowledged). */
      if (!HASH_COUNT(fw->executors)) mz_ag_ckpt_framework_done(a, fw);
    }
    MZ_INFO(MZ_AGENT_MOD, "recovered agent %s from its checkpoint: %zu framework%s, %d executor%s (%d still "
            "running), %d task%s", a->agent_id, s.nframeworks, s.nframeworks == 1 ? "" : "s", nexec,
            nexec == 1 ? "" : "s", waiting, ntasks, ntasks == 1 ? "" : "s");
  }
  mz_ckpt_state_free(&s);
  /* Whatever was not recovered goes (non-checkpointing frameworks, dead executors). */
  destroyed_ids gone = {NULL, 0};
  int n = mz_containerizer_recover_except(a->containerizer, RECOVER_DESTROY_WAIT, keep_none_noted, &gone);
  if (n > 0) MZ_INFO(MZ_AGENT_MOD, "destroyed %d container%s left by an earlier run", n, n == 1 ? "" : "s");
  destroy_unrecorded(a);
  mz_sandbox_gc_recovered(a, gone.ids, gone.n);
  for (size_t i = 0; i < gone.n; i++) free(gone.ids[i]);
  free(gone.ids);
  if (waiting > 0) {
    a->recovering = 1;
    a->recovery_timer = evtimer_new(a->base, on_recovery_timeout, a);
    mz_timer_in(a->recovery_timer, a->flags.executor_reregistration_timeout);
  }
  return 0;
}

static int executor_knows(const Mesos__V1__Executor__Call__Subscribe *sub, const char *task_id) {
  for (size_t i = 0; sub && i < sub->n_unacknowledged_tasks; i++) {
    const Mesos__V1__TaskInfo *ti = sub->unacknowledged_tasks[i];
    if (ti && ti->task_id && ti->task_id->value && !strcmp(ti->task_id->value, task_id)) return 1;
  }
  return 0;
}

/* A task with no update at all that the executor does not list never reached it:
 * it goes back to the queue (with its group number) and is sent again. */
static void requeue_unknown_tasks(mz_ag_executor *ex, const Mesos__V1__Executor__Call__Subscribe *sub) {
  mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->launched, t, tmp) {
    if (t->nstatuses > 0 || executor_knows(sub, t->id)) continue;
    HASH_DEL(ex->launched, t);
    HASH_ADD_KEYPTR(hh, ex->queued, t->id, strlen(t->id), t);
  }
}

/* The task groups sent again: their URIs may not have been fetched when the agent
 * died (exec_fetch.c was fetching them), so each group with URIs is fetched again
 * before it goes (mz_ag_exec_fetch_group holds it back meanwhile; the fetcher
 * overwrites what an earlier attempt left). The group numbers are collected first:
 * a fetch that cannot start fails its group. */
static void refetch_requeued_groups(mz_agent *a, mz_ag_executor *ex) {
  size_t n = 0;
  unsigned *groups = mz_calloc(HASH_COUNT(ex->queued) + 1, sizeof *groups);
  mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->queued, t, tmp) {
    if (!t->group || t->fetching || mz_task_state_terminal(t->state)) continue;
    size_t i = 0;
    while (i < n && groups[i] != t->group) i++;
    if (i == n) groups[n++] = t->group;
  }
  for (size_t i = 0; i < n; i++) {
    MZ_INFO(MZ_AGENT_MOD, "executor %s of framework %s: task group %u was not delivered before the agent "
            "restarted; it is sent again", ex->id, ex->fw->id, groups[i]);
    mz_ag_exec_fetch_group(a, ex, groups[i]);
  }
  free(groups);
}

void mz_agent_executor_reregistered(mz_agent *a, mz_ag_executor *ex, const Mesos__V1__Executor__Call__Subscribe *sub) {
  ex->recovered = 0;
  MZ_INFO(MZ_AGENT_MOD, "recovered executor %s of framework %s subscribed again", ex->id, ex->fw->id);
  requeue_unknown_tasks(ex, sub);
  refetch_requeued_groups(a, ex);
  if (!a->recovering) return;
  mz_ag_framework *fw, *ftmp;
  HASH_ITER(hh, a->frameworks, fw, ftmp) {
    mz_ag_executor *e, *etmp;
    HASH_ITER(hh, fw->executors, e, etmp) {
      if (e->recovered) return; /* still waiting for one */
    }
  }
  finish_recovery(a);
}
