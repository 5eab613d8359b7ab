/* default: the default executor; see default.h for what it does.
 *
 * Tasks are kept in one list (dtask), each with its group number, its child's pid
 * (a process group of its own, from command.c), its health checker, and whether
 * its terminal update was sent. Ownership: D owns the mz_executor, every dtask
 * and its TaskInfo copy; nothing is shared with the command executor's main.c. */
#include "executor/default.h"
#include "executor/process.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <utlist.h>

#include "common/codec.h"
#include "common/log.h"
#include "common/util.h"
#include "executor/command.h"
#include "executor/health.h"
#include "mezzo/executor.h"

#define MOD "default-executor"
#define DEFAULT_KILL_GRACE 3.0     /* as the command executor */
#define TERMINAL_ACK_TIMEOUT 10.0  /* exit anyway if the agent never acknowledges */
#define MAX_TASKS 1024             /* live and finished tasks kept by one executor */

typedef struct dtask {
  Mesos__V1__TaskInfo *info; /* owned copy */
  unsigned group;
  pid_t pid;                 /* 0: not started (or failed to) */
  int exited, killed, terminal;
  int killed_by_health_check;
  double kill_deadline;      /* monotonic; when SIGKILL follows SIGTERM */
  mz_health *health;
  struct dtask *next;
} dtask;

static struct {
  mz_exec_process p; /* loop, client, timers, signal events (process.h) */
  dtask *tasks;
  size_t ntasks;
  unsigned groups;
  int exit_code, shutting_down, exiting;
} D;

static const mz_exec_process_spec spec; /* below, with the callbacks it names */

static void finish(int code) {
  D.exit_code = code;
  event_base_loopexit(D.p.base, NULL);
}

static const char *state_name(Mesos__V1__TaskState s) {
  const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&mesos__v1__task_state__descriptor, s);
  return v ? v->name : "?";
}

/* Done when nothing is live and the agent has every terminal update. */
static void maybe_exit(void) {
  if (!D.ntasks && !D.shutting_down) return;
  dtask *t;
  LL_FOREACH(D.tasks, t) {
    if (!t->terminal) return;
  }
  if (mz_executor_unacknowledged(D.p.ex) == 0) {
    MZ_INFO(MOD, "every task is terminal and acknowledged; exiting");
    finish(0);
  } else if (!D.exiting) {
    D.exiting = 1;
    mz_exec_timer_in(D.p.exit_timer, TERMINAL_ACK_TIMEOUT);
  }
}

/* healthy: -1 (unset), 0 or 1; reason: -1 (unset) or a TaskStatus reason. */
static void send_update(dtask *t, Mesos__V1__TaskState state, const char *message, int healthy, int reason) {
  Mesos__V1__TaskStatus st = MESOS__V1__TASK_STATUS__INIT;
  st.task_id = t->info->task_id;
  st.state = state;
  st.message = (char *)message;
  if (healthy >= 0) {
    st.has_healthy = 1;
    st.healthy = healthy;
  }
  if (reason >= 0) {
    st.has_reason = 1;
    st.reason = (Mesos__V1__TaskStatus__Reason)reason;
  }
  int terminal = state == MESOS__V1__TASK_STATE__TASK_FINISHED || state == MESOS__V1__TASK_STATE__TASK_FAILED ||
                 state == MESOS__V1__TASK_STATE__TASK_KILLED || state == MESOS__V1__TASK_STATE__TASK_ERROR;
  if (terminal) t->terminal = 1;
  char err[256];
  if (mz_executor_update(D.p.ex, &st, NULL, err, sizeof err) != 0) {
    MZ_ERROR(MOD, "cannot send %s for task %s: %s", state_name(state), t->info->task_id->value, err);
    return;
  }
  MZ_INFO(MOD, "sent %s for task %s%s%s", state_name(state), t->info->task_id->value, message ? ": " : "",
          message ? message : "");
}

/* ------------------------------------------------------------------ kill */

static void kill_one(dtask *t, double grace) {
  if (t->terminal) return;
  if (!t->pid || t->exited) {
    /* Never started: nothing to wait for. */
    t->killed = 1;
    send_update(t, MESOS__V1__TASK_STATE__TASK_KILLED, "Killed before it started", -1, -1);
    return;
  }
  double now = mz_monotonic();
  if (grace < 0) grace = 0;
  if (t->killed) {
    if (now + grace < t->kill_deadline) t->kill_deadline = now + grace;
  } else {
    t->killed = 1;
    mz_health_stop(t->health);
    MZ_INFO(MOD, "killing task %s (process group %d) with a grace period of %.3gs", t->info->task_id->value,
            (int)t->pid, grace);
    mz_command_signal(t->pid, grace == 0 ? SIGKILL : SIGTERM);
    t->kill_deadline = now + grace;
  }
  /* One escalation timer for all: the earliest deadline. */
  double next = -1;
  dtask *x;
  LL_FOREACH(D.tasks, x) {
    if (x->killed && x->pid && !x->exited && (next < 0 || x->kill_deadline < next)) next = x->kill_deadline;
  }
  if (next >= 0) mz_exec_timer_in(D.p.escalate, next - now);
}

static void on_escalate(evutil_socket_t fd, short what, void *arg) {
  double now = mz_monotonic();
  double next = -1;
  dtask *t;
  LL_FOREACH(D.tasks, t) {
    if (!t->killed || !t->pid || t->exited) continue;
    if (t->kill_deadline <= now + 0.001) {
      MZ_INFO(MOD, "task %s did not stop within its grace period: SIGKILL", t->info->task_id->value);
      mz_command_signal(t->pid, SIGKILL);
    } else if (next < 0 || t->kill_deadline < next) {
      next = t->kill_deadline;
    }
  }
  if (next >= 0) mz_exec_timer_in(D.p.escalate, next - now);
}

/* Kills every live task of a group but `except` (which may be NULL). */
static void kill_group(unsigned group, dtask *except, const Mesos__V1__KillPolicy *override) {
  dtask *t;
  LL_FOREACH(D.tasks, t) {
    if (t->group != group || t == except || t->terminal || t->killed) continue;
    kill_one(t, mz_exec_policy_grace(override, mz_exec_policy_grace(t->info->kill_policy, DEFAULT_KILL_GRACE)));
  }
}

/* ------------------------------------------------------------------ launch */

static void on_health(int healthy, int kill, const char *why, void *arg) {
  dtask *t = arg;
  if (t->killed || t->exited || t->terminal) return;
  MZ_INFO(MOD, "task %s is %s (%s)", t->info->task_id->value, healthy ? "healthy" : "unhealthy", why);
  send_update(t, MESOS__V1__TASK_STATE__TASK_RUNNING, NULL, healthy,
              MESOS__V1__TASK_STATUS__REASON__REASON_TASK_HEALTH_CHECK_STATUS_UPDATED);
  if (kill) {
    MZ_WARN(MOD, "task %s failed its health checks: killing its group", t->info->task_id->value);
    t->killed_by_health_check = 1;
    kill_one(t, mz_exec_policy_grace(t->info->kill_policy, DEFAULT_KILL_GRACE));
    kill_group(t->group, t, NULL);
  }
}

/* Starts one task's command; on failure the task is FAILED (the caller kills the group). */
static int start_task(dtask *t) {
  char err[256], msg[320];
  if (!t->info->command) {
    send_update(t, MESOS__V1__TASK_STATE__TASK_FAILED, "A task of a task group needs a command", -1,
                MESOS__V1__TASK_STATUS__REASON__REASON_TASK_INVALID);
    return -1;
  }
  char **env = mz_command_task_env(t->info);
  if (t->info->health_check) {
    t->health = mz_health_new(D.p.base, t->info->health_check, env, on_health, t, err, sizeof err);
    if (!t->health) {
      mz_command_strv_free(env);
      snprintf(msg, sizeof msg, "Invalid health check: %s", err);
      send_update(t, MESOS__V1__TASK_STATE__TASK_FAILED, msg, -1, -1);
      return -1;
    }
  }
  int rc = mz_command_spawn_env(t->info->command, env, &t->pid, err, sizeof err);
  mz_command_strv_free(env);
  if (rc != 0) {
    t->pid = 0;
    mz_health_free(t->health);
    t->health = NULL;
    snprintf(msg, sizeof msg, "Failed to launch the command: %s", err);
    send_update(t, MESOS__V1__TASK_STATE__TASK_FAILED, msg, -1, -1);
    return -1;
  }
  MZ_INFO(MOD, "started task %s of group %u as pid %d: %s", t->info->task_id->value, t->group, (int)t->pid,
          t->info->command->value ? t->info->command->value : "");
  send_update(t, MESOS__V1__TASK_STATE__TASK_RUNNING, NULL, -1, -1);
  return 0;
}

static int known_task(const char *id) {
  dtask *t;
  LL_FOREACH(D.tasks, t) {
    if (!strcmp(t->info->task_id->value, id)) return 1;
  }
  return 0;
}

static void launch_group(const Mesos__V1__TaskGroupInfo *g) {
  if (D.shutting_down) return;
  unsigned group = ++D.groups;
  dtask *added[64], **mine = added;
  size_t n = 0;
  if (g->n_tasks > 64) mine = mz_calloc(g->n_tasks, sizeof *mine);
  for (size_t i = 0; i < g->n_tasks; i++) {
    const Mesos__V1__TaskInfo *ti = g->tasks[i];
    if (!ti || !ti->task_id || !ti->task_id->value || known_task(ti->task_id->value)) continue;
    if (D.ntasks >= MAX_TASKS) {
      MZ_ERROR(MOD, "too many tasks (%d): task %s ignored", MAX_TASKS, ti->task_id->value);
      continue;
    }
    dtask *t = mz_calloc(1, sizeof *t);
    t->info = mz_pb_dup(&ti->base);
    if (!t->info) {
      free(t);
      continue;
    }
    t->group = group;
    LL_APPEND(D.tasks, t);
    D.ntasks++;
    mine[n++] = t;
  }
  MZ_INFO(MOD, "launching task group %u of %zu task(s)", group, n);
  /* All start together: STARTING for each first, then the commands. */
  for (size_t i = 0; i < n; i++) send_update(mine[i], MESOS__V1__TASK_STATE__TASK_STARTING, NULL, -1, -1);
  int failed = 0;
  for (size_t i = 0; i < n && !failed; i++) {
    if (start_task(mine[i]) != 0) failed = 1;
  }
  if (failed) kill_group(group, NULL, NULL);
  if (mine != added) free(mine);
  maybe_exit();
}

/* ------------------------------------------------------------------ children */

static dtask *by_pid(pid_t p) {
  dtask *t;
  LL_FOREACH(D.tasks, t) {
    if (t->pid == p && !t->exited) return t;
  }
  return NULL;
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg) {
  for (;;) {
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p <= 0) break;
    int taken = 0;
    dtask *x;
    LL_FOREACH(D.tasks, x) {
      if (x->health && mz_health_reaped(x->health, p, st)) taken = 1;
    }
    if (taken) continue;
    dtask *t = by_pid(p);
    if (!t) continue;
    t->exited = 1;
    mz_health_stop(t->health);
    mz_command_signal(t->pid, SIGKILL); /* whatever it left in its group */
    char msg[256];
    mz_command_describe_exit(st, msg, sizeof msg);
    Mesos__V1__TaskState state = mz_command_end_state(st, t->killed);
    MZ_INFO(MOD, "task %s: %s (pid %d)", t->info->task_id->value, msg, (int)p);
    send_update(t, state, msg, t->killed_by_health_check ? 0 : -1, -1);
    /* As Mesos: a task that fails (or is killed) takes its whole group down. */
    if (state != MESOS__V1__TASK_STATE__TASK_FINISHED) kill_group(t->group, t, NULL);
  }
  maybe_exit();
}

static void shutdown_all(const char *why) {
  MZ_INFO(MOD, "shutting down: %s", why);
  D.shutting_down = 1;
  double limit = D.p.cfg.shutdown_grace_period - 1.0; /* leave the agent time before it destroys us */
  dtask *t;
  LL_FOREACH(D.tasks, t) {
    if (t->terminal || t->killed) continue;
    double grace = mz_exec_policy_grace(t->info->kill_policy, DEFAULT_KILL_GRACE);
    if (grace > limit) grace = limit > 0 ? limit : 0;
    kill_one(t, grace);
  }
  maybe_exit();
}

/* ------------------------------------------------------------------ events */

static void on_event(mz_executor *ex, const Mesos__V1__Executor__Event *ev, void *arg) {
  if (mz_exec_process_common_event(&D.p, &spec, ev)) return;
  switch (ev->type) {
    case MESOS__V1__EXECUTOR__EVENT__TYPE__LAUNCH_GROUP:
      if (ev->launch_group && ev->launch_group->task_group) launch_group(ev->launch_group->task_group);
      break;
    case MESOS__V1__EXECUTOR__EVENT__TYPE__LAUNCH: {
      /* The default executor runs task groups only; a single task is a group of one. */
      if (!ev->launch || !ev->launch->task) break;
      Mesos__V1__TaskGroupInfo g = MESOS__V1__TASK_GROUP_INFO__INIT;
      Mesos__V1__TaskInfo *one[1] = {ev->launch->task};
      g.n_tasks = 1;
      g.tasks = one;
      launch_group(&g);
      break;
    }
    case MESOS__V1__EXECUTOR__EVENT__TYPE__KILL: {
      if (!ev->kill || !ev->kill->task_id || !ev->kill->task_id->value) break;
      dtask *t, *found = NULL;
      LL_FOREACH(D.tasks, t) {
        if (!strcmp(t->info->task_id->value, ev->kill->task_id->value)) found = t;
      }
      if (!found) {
        MZ_WARN(MOD, "KILL for unknown task %s", ev->kill->task_id->value);
        break;
      }
      /* As Mesos: killing one task of a group kills the group. */
      kill_one(found, mz_exec_policy_grace(ev->kill->kill_policy, mz_exec_policy_grace(found->info->kill_policy, DEFAULT_KILL_GRACE)));
      kill_group(found->group, found, ev->kill->kill_policy);
      maybe_exit();
      break;
    }
    case MESOS__V1__EXECUTOR__EVENT__TYPE__ACKNOWLEDGED:
      maybe_exit();
      break;
    case MESOS__V1__EXECUTOR__EVENT__TYPE__SHUTDOWN:
      shutdown_all("requested by the agent");
      break;
    default:
      break;
  }
}

static void on_exit_timer(evutil_socket_t fd, short what, void *arg) {
  if (D.p.cfg.checkpoint && !mz_executor_subscribed(D.p.ex)) {
    /* The agent is away (restarting): the updates wait for it, up to the recovery timeout. */
    mz_exec_timer_in(D.p.exit_timer, TERMINAL_ACK_TIMEOUT);
    return;
  }
  MZ_WARN(MOD, "terminal updates not acknowledged within %.0fs; exiting", TERMINAL_ACK_TIMEOUT);
  finish(0);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg) {
  MZ_INFO(MOD, "got signal %d", (int)sig);
  shutdown_all("signal");
  if (!D.ntasks) finish(0);
}

static void on_resubscribe(evutil_socket_t fd, short what, void *arg) {
  if (mz_exec_process_resubscribe(&D.p, &spec) != 0) finish(1);
}

static void kill_everything_now(void) {
  dtask *t;
  LL_FOREACH(D.tasks, t) {
    if (t->pid && !t->exited) mz_command_signal(t->pid, SIGKILL);
  }
}

static void on_disconnected(mz_executor *ex, const char *reason, void *arg) {
  if (mz_exec_process_retry(&D.p, &spec, reason)) return;
  MZ_ERROR(MOD, "disconnected from the agent: %s", reason);
  kill_everything_now();
  finish(D.p.ever_subscribed ? 0 : 1);
}

static const mz_exec_process_spec spec = {
    .prog = "mezzo-executor --default",
    .module = MOD,
    .what = "default executor",
    .cbs = {on_event, on_disconnected},
    .on_escalate = on_escalate,
    .on_exit_timer = on_exit_timer,
    .on_resubscribe = on_resubscribe,
    .on_sigchld = on_sigchld,
    .on_stop_signal = on_stop_signal,
};

int mz_default_executor_main(void) {
  if (mz_exec_process_init(&D.p, &spec) != 0) return 1;
  if (mz_exec_process_run(&D.p, &spec) != 0) D.exit_code = 1;
  kill_everything_now();
  dtask *t, *tmp;
  LL_FOREACH_SAFE(D.tasks, t, tmp) {
    if (t->pid && !t->exited) waitpid(t->pid, NULL, 0);
    mz_health_free(t->health);
    protobuf_c_message_free_unpacked(&t->info->base, NULL);
    LL_DELETE(D.tasks, t);
    free(t);
  }
  mz_exec_process_free(&D.p);
  return D.exit_code;
}
