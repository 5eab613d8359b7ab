/* direct_command: command tasks that the agent runs itself, without a command
 * executor process (--direct_command_tasks, mezzo's own, default true).
 *
 * Mesos runs every command task under a command executor: one more process per task,
 * which subscribes to the agent, gets the task, starts the command, reports its states
 * and exits once its last update is acknowledged. Here the agent does that for a task
 * whose framework does not checkpoint (its executors end with the agent anyway) and
 * that has no health check (the executor runs those): the container's first process
 * is the command itself (asked of the executor fork server, which execs it), and the
 * agent reports, as the command executor would (source SOURCE_EXECUTOR, the executor's
 * id, its messages):
 *   TASK_STARTING at launch, TASK_RUNNING once the exec is seen (its error pipe closed),
 *   TASK_FAILED "Failed to launch the command: <path>: <why>" when the exec failed,
 *   TASK_FINISHED / TASK_FAILED "Command exited with status N" or "... signal S" at its
 *   end, TASK_KILLED when it was killed, TASK_KILLING first for frameworks with that
 *   capability.
 * Kills signal the whole container (SIGTERM, SIGKILL after the grace period), shutdowns
 * too; memory limits, launch failures and shutdowns are reported as for any executor
 * (executors.c). The command has PR_SET_PDEATHSIG SIGKILL: it goes with the agent, as
 * an executor of a framework that does not checkpoint takes its command with it; what it
 * leaves is destroyed at the agent's next start (the container journal). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "common/log.h"
#include "common/task_command.h"

#define DEFAULT_KILL_GRACE 3.0 /* the command executor's default, as in Mesos */

static mz_ag_task *the_task(const mz_ag_executor *ex) {
  mz_ag_task *t = ex->launched ? ex->launched : ex->queued;
  return t;
}

int mz_ag_direct_eligible(mz_agent *a, const mz_ag_executor *ex) {
  if (!a->flags.direct_command_tasks || !ex->command || a->isolation.pid_ns || mz_agent_checkpointing(ex->fw))
    return 0;
  const mz_ag_task *t = ex->queued;
  if (!t || t->hh.next || ex->launched) return 0; /* one task, not yet launched */
  const Mesos__V1__TaskInfo *info = t->info;
  return info->command && info->command->value && *info->command->value && !info->health_check;
}

char **mz_ag_direct_env(const mz_ag_executor *ex, char *const *exec_env, char *err, size_t errlen) {
  const Mesos__V1__TaskInfo *info = the_task(ex)->info;
  char **ports = mz_command_task_env(info);
  char **env = mz_command_env(exec_env, info->command, ports, err, errlen);
  mz_command_strv_free(ports);
  return env;
}

/* An update as the command executor sends it. */
static void update(mz_agent *a, mz_ag_executor *ex, mz_ag_task *t, Mesos__V1__TaskState state, const char *message) {
  Mesos__V1__TaskStatus st;
  Mesos__V1__ExecutorID eid;
  uint8_t uuid[MZ_UUID_BYTES];
  mz_agent_status_fill(t, state, MESOS__V1__TASK_STATUS__SOURCE__SOURCE_EXECUTOR, message, uuid, &eid, &st);
  char err[256];
  if (mz_agent_executor_update(a, ex, &st, err, sizeof err) != 0)
    MZ_WARN(MZ_AGENT_MOD, "task %s of framework %s: %s", t->id, ex->fw->id, err);
}

static void on_exec(void *owner) {
  mz_ag_executor *ex = owner;
  mz_ag_task *t = the_task(ex);
  if (t && t->state == MESOS__V1__TASK_STATE__TASK_STARTING)
    update(ex->agent, ex, t, MESOS__V1__TASK_STATE__TASK_RUNNING, NULL);
}

void mz_ag_direct_started(mz_agent *a, mz_ag_executor *ex) {
  mz_ag_task *t = ex->queued;
  ex->state = MZ_EXEC_RUNNING;
  HASH_DEL(ex->queued, t);
  HASH_ADD_KEYPTR(hh, ex->launched, t->id, strlen(t->id), t);
  update(a, ex, t, MESOS__V1__TASK_STATE__TASK_STARTING, NULL);
  if (mz_containerizer_watch_exec(a->containerizer, ex->container_id, on_exec) != 0) on_exec(ex);
}

static int has_killing_state(const mz_ag_framework *fw) {
  for (size_t i = 0; i < fw->info->n_capabilities; i++) {
    const Mesos__V1__FrameworkInfo__Capability *c = fw->info->capabilities[i];
    if (c->has_type && c->type == MESOS__V1__FRAMEWORK_INFO__CAPABILITY__TYPE__TASK_KILLING_STATE) return 1;
  }
  return 0;
}

static double policy_grace(const Mesos__V1__KillPolicy *p, double def) {
  return p && p->grace_period ? (double)p->grace_period->nanoseconds / 1e9 : def;
}

void mz_ag_direct_kill(mz_agent *a, mz_ag_executor *ex, mz_ag_task *t, const Mesos__V1__KillPolicy *override) {
  if (ex->state != MZ_EXEC_RUNNING || mz_task_state_terminal(t->state) ||
      t->state == MESOS__V1__TASK_STATE__TASK_KILLING)
    return; /* a kill is under way, or the end is */
  double grace = policy_grace(override, policy_grace(t->info->kill_policy, DEFAULT_KILL_GRACE));
  if (grace < 0) grace = 0;
  if (has_killing_state(ex->fw)) update(a, ex, t, MESOS__V1__TASK_STATE__TASK_KILLING, NULL);
  MZ_INFO(MZ_AGENT_MOD, "killing task %s of framework %s (container %s) with a grace period of %gs", t->id,
          ex->fw->id, ex->container_id, grace);
  mz_containerizer_destroy(a->containerizer, ex->container_id, grace);
}

double mz_ag_direct_shutdown_grace(mz_agent *a, const mz_ag_executor *ex, double shutdown_grace) {
  const mz_ag_task *t = the_task(ex);
  double grace = policy_grace(t ? t->info->kill_policy : NULL, DEFAULT_KILL_GRACE);
  if (grace > shutdown_grace - 1.0) grace = shutdown_grace - 1.0;
  return grace > 0 ? grace : 0;
}

void mz_ag_direct_exited(mz_agent *a, mz_ag_executor *ex, int wait_status, const char *launch_error) {
  mz_ag_task *t = ex->launched;
  if (!t || mz_task_state_terminal(t->state)) return;
  static const char exec_failed[] = MZ_COMMAND_EXEC_FAILED ": ";
  if (launch_error) {
    if (!strncmp(launch_error, exec_failed, sizeof exec_failed - 1))
      update(a, ex, t, MESOS__V1__TASK_STATE__TASK_FAILED, launch_error);
    return; /* any other launch error: the container's (executors.c) */
  }
  if (t->state == MESOS__V1__TASK_STATE__TASK_STARTING) /* it ended before its exec was seen */
    update(a, ex, t, MESOS__V1__TASK_STATE__TASK_RUNNING, NULL);
  char msg[256];
  mz_command_describe_exit(wait_status, msg, sizeof msg);
  update(a, ex, t, mz_command_end_state(wait_status, t->kill_requested), msg);
}
