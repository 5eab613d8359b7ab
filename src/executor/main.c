/* mezzo-executor: the command executor. Started by the agent in a task's sandbox
 * with the MESOS_* environment, it subscribes to the agent over the v1 executor
 * API (libmezzo's mz_executor), runs the one command task it is given, reports
 * TASK_STARTING, TASK_RUNNING and a terminal state, kills the command on KILL or
 * SHUTDOWN (SIGTERM to its process group, SIGKILL after the grace period), and
 * exits once the agent has acknowledged the terminal update (or after a timeout).
 *
 * State lives in one static struct owned by the loop thread: the mz_executor, a
 * copy of the TaskInfo and FrameworkInfo, the child's pid and the timers. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/codec.h"
#include "common/log.h"
#include "common/util.h"
#include "executor/command.h"
#include "executor/default.h"
#include "executor/fork_server.h"
#include "executor/process.h"
#include "executor/health.h"
#include "mezzo/executor.h"

#define MOD "executor"
#define DEFAULT_KILL_GRACE 3.0       /* Mesos's command executor default */
#define TERMINAL_ACK_TIMEOUT 10.0    /* exit anyway if the agent never acknowledges */

static struct {
  mz_exec_process p; /* loop, client, timers, signal events (process.h) */
  Mesos__V1__TaskInfo *task;      /* owned copy, NULL until LAUNCH */
  pid_t pid;                      /* the command, 0 when not running */
  int launched, killed, exited;
  double kill_deadline;           /* monotonic time of the SIGKILL escalation */
  int terminal_sent;
  uint8_t terminal_uuid[MZ_UUID_BYTES];
  int exit_code;
  mz_health *health;              /* the task's health checker, NULL without one */
  int killed_by_health_check;
} X;

static const mz_exec_process_spec spec; /* below, with the callbacks it names */

static void finish(int code) {
  X.exit_code = code;
  event_base_loopexit(X.p.base, NULL);
}

/* Sends an update for task_id; terminal ones are remembered for the exit. */
/* healthy: -1 (not set), 0 or 1; reason: -1 (not set) or a TaskStatus reason. */
static void send_update_full(const Mesos__V1__TaskID *task_id, Mesos__V1__TaskState state, const char *message,
                             int terminal, int healthy, int reason) {
  Mesos__V1__TaskStatus st = MESOS__V1__TASK_STATUS__INIT;
  st.task_id = (Mesos__V1__TaskID *)task_id;
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
  uint8_t uuid[MZ_UUID_BYTES];
  char err[256];
  if (mz_executor_update(X.p.ex, &st, uuid, err, sizeof err) != 0) {
    MZ_ERROR(MOD, "cannot send %s for task %s: %s", protobuf_c_enum_descriptor_get_value(
                                                        &mesos__v1__task_state__descriptor, state)->name,
             task_id->value, err);
    if (terminal) finish(1);
    return;
  }
  MZ_INFO(MOD, "sent %s for task %s%s%s",
          protobuf_c_enum_descriptor_get_value(&mesos__v1__task_state__descriptor, state)->name, task_id->value,
          message ? ": " : "", message ? message : "");
  if (terminal && X.task && !strcmp(task_id->value, X.task->task_id->value)) {
    X.terminal_sent = 1;
    memcpy(X.terminal_uuid, uuid, MZ_UUID_BYTES);
    mz_exec_timer_in(X.p.exit_timer, TERMINAL_ACK_TIMEOUT);
  }
}

static void send_update(const Mesos__V1__TaskID *task_id, Mesos__V1__TaskState state, const char *message,
                        int terminal) {
  send_update_full(task_id, state, message, terminal, -1, -1);
}

static int framework_has_killing_state(void) {
  if (!X.p.fw) return 0;
  for (size_t i = 0; i < X.p.fw->n_capabilities; i++) {
    const Mesos__V1__FrameworkInfo__Capability *c = X.p.fw->capabilities[i];
    if (c->has_type && c->type == MESOS__V1__FRAMEWORK_INFO__CAPABILITY__TYPE__TASK_KILLING_STATE) return 1;
  }
  return 0;
}

/* Starts (or shortens) the kill of the running command. */
static void kill_task(double grace) {
  if (!X.pid || X.exited) return;
  if (grace < 0) grace = 0;
  double now = mz_monotonic();
  if (X.killed) {
    /* A second kill may only bring the escalation closer. */
    if (now + grace < X.kill_deadline) {
      X.kill_deadline = now + grace;
      evtimer_del(X.p.escalate);
      mz_exec_timer_in(X.p.escalate, grace);
    }
    return;
  }
  X.killed = 1;
  mz_health_stop(X.health);
  if (framework_has_killing_state()) send_update(X.task->task_id, MESOS__V1__TASK_STATE__TASK_KILLING, NULL, 0);
  MZ_INFO(MOD, "killing task %s (process group %d) with a grace period of %.3gs", X.task->task_id->value,
          (int)X.pid, grace);
  if (grace == 0) {
    mz_command_signal(X.pid, SIGKILL);
    return;
  }
  mz_command_signal(X.pid, SIGTERM);
  X.kill_deadline = now + grace;
  mz_exec_timer_in(X.p.escalate, grace);
}

static void on_escalate(evutil_socket_t fd, short what, void *arg) {
  if (X.pid && !X.exited) {
    MZ_INFO(MOD, "task %s did not stop within its grace period: SIGKILL", X.task->task_id->value);
    mz_command_signal(X.pid, SIGKILL);
  }
}

/* The health checker's verdicts: reported as TASK_RUNNING with `healthy`, and a
 * task failing its check too many times in a row is killed (as Mesos does). */
static void on_health(int healthy, int kill, const char *why, void *arg) {
  if (!X.task || X.killed || X.exited) return;
  MZ_INFO(MOD, "task %s is %s (%s)", X.task->task_id->value, healthy ? "healthy" : "unhealthy", why);
  send_update_full(X.task->task_id, MESOS__V1__TASK_STATE__TASK_RUNNING, NULL, 0, healthy,
                   MESOS__V1__TASK_STATUS__REASON__REASON_TASK_HEALTH_CHECK_STATUS_UPDATED);
  if (kill) {
    MZ_WARN(MOD, "task %s failed %u health checks in a row: killing it", X.task->task_id->value,
            X.task->health_check->consecutive_failures);
    X.killed_by_health_check = 1;
    kill_task(mz_exec_policy_grace(X.task->kill_policy, DEFAULT_KILL_GRACE));
  }
}

static void launch(const Mesos__V1__TaskInfo *task) {
  if (X.task) {
    send_update(task->task_id, MESOS__V1__TASK_STATE__TASK_FAILED,
                "Attempted to run multiple tasks using a command executor", 0);
    return;
  }
  X.task = mz_pb_dup(&task->base);
  if (!X.task) {
    MZ_ERROR(MOD, "cannot copy task %s", task->task_id->value);
    finish(1);
    return;
  }
  X.launched = 1;
  if (!task->command) {
    send_update(task->task_id, MESOS__V1__TASK_STATE__TASK_FAILED, "The task has no command", 1);
    return;
  }
  send_update(X.task->task_id, MESOS__V1__TASK_STATE__TASK_STARTING, NULL, 0);
  char err[256];
  char **task_env = mz_command_task_env(X.task);
  mz_health *health = NULL;
  if (X.task->health_check) {
    health = mz_health_new(X.p.base, X.task->health_check, task_env, on_health, NULL, err, sizeof err);
    if (!health) {
      mz_command_strv_free(task_env);
      char msg[320];
      snprintf(msg, sizeof msg, "Invalid health check: %s", err);
      send_update(X.task->task_id, MESOS__V1__TASK_STATE__TASK_FAILED, msg, 1);
      return;
    }
  }
  int spawned = mz_command_spawn_env(X.task->command, task_env, &X.pid, err, sizeof err);
  mz_command_strv_free(task_env);
  if (spawned != 0) {
    mz_health_free(health);
    char msg[320];
    snprintf(msg, sizeof msg, "Failed to launch the command: %s", err);
    send_update(X.task->task_id, MESOS__V1__TASK_STATE__TASK_FAILED, msg, 1);
    return;
  }
  X.health = health;
  MZ_INFO(MOD, "started task %s as pid %d: %s%s", X.task->task_id->value, (int)X.pid, X.task->command->value,
          health ? " (health checked)" : "");
  send_update(X.task->task_id, MESOS__V1__TASK_STATE__TASK_RUNNING, NULL, 0);
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg) {
  for (;;) {
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p <= 0) break;
    if (mz_health_reaped(X.health, p, st)) continue;
    if (p != X.pid || X.exited) continue;
    X.exited = 1;
    mz_health_stop(X.health);
    evtimer_del(X.p.escalate);
    mz_command_signal(X.pid, SIGKILL); /* whatever the command left behind in its group */
    char msg[256];
    mz_command_describe_exit(st, msg, sizeof msg);
    Mesos__V1__TaskState state = mz_command_end_state(st, X.killed);
    MZ_INFO(MOD, "%s (pid %d)", msg, (int)p);
    send_update_full(X.task->task_id, state, msg, 1, X.killed_by_health_check ? 0 : -1, -1);
  }
}

static void on_exit_timer(evutil_socket_t fd, short what, void *arg) {
  if (X.p.cfg.checkpoint && !mz_executor_subscribed(X.p.ex)) {
    /* The agent is away (restarting): the update waits for it, up to the recovery timeout. */
    mz_exec_timer_in(X.p.exit_timer, TERMINAL_ACK_TIMEOUT);
    return;
  }
  MZ_WARN(MOD, "the terminal update was not acknowledged within %.0fs; exiting", TERMINAL_ACK_TIMEOUT);
  finish(0);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg) {
  MZ_INFO(MOD, "got signal %d", (int)sig);
  if (X.pid && !X.exited) {
    kill_task(X.task ? mz_exec_policy_grace(X.task->kill_policy, DEFAULT_KILL_GRACE) : DEFAULT_KILL_GRACE);
  } else if (!X.terminal_sent) {
    finish(0);
  }
}

static void on_event(mz_executor *ex, const Mesos__V1__Executor__Event *ev, void *arg) {
  if (mz_exec_process_common_event(&X.p, &spec, ev)) return;
  switch (ev->type) {
    case MESOS__V1__EXECUTOR__EVENT__TYPE__LAUNCH:
      if (ev->launch && ev->launch->task) launch(ev->launch->task);
      break;
    case MESOS__V1__EXECUTOR__EVENT__TYPE__LAUNCH_GROUP:
      MZ_ERROR(MOD, "the command executor cannot run task groups");
      if (ev->launch_group && ev->launch_group->task_group) {
        for (size_t i = 0; i < ev->launch_group->task_group->n_tasks; i++)
          send_update(ev->launch_group->task_group->tasks[i]->task_id, MESOS__V1__TASK_STATE__TASK_FAILED,
                      "The command executor cannot run task groups", 0);
      }
      break;
    case MESOS__V1__EXECUTOR__EVENT__TYPE__KILL:
      if (!ev->kill || !ev->kill->task_id) break;
      if (!X.task || strcmp(ev->kill->task_id->value, X.task->task_id->value) != 0) {
        MZ_WARN(MOD, "KILL for unknown task %s", ev->kill->task_id->value);
        break;
      }
      kill_task(mz_exec_policy_grace(ev->kill->kill_policy, mz_exec_policy_grace(X.task->kill_policy, DEFAULT_KILL_GRACE)));
      break;
    case MESOS__V1__EXECUTOR__EVENT__TYPE__ACKNOWLEDGED:
      if (X.terminal_sent && ev->acknowledged && ev->acknowledged->uuid.len == MZ_UUID_BYTES &&
          !memcmp(ev->acknowledged->uuid.data, X.terminal_uuid, MZ_UUID_BYTES)) {
        MZ_INFO(MOD, "terminal update acknowledged; exiting");
        finish(0);
      }
      break;
    case MESOS__V1__EXECUTOR__EVENT__TYPE__SHUTDOWN: {
      MZ_INFO(MOD, "shutdown requested by the agent");
      if (X.pid && !X.exited) {
        double grace = mz_exec_policy_grace(X.task->kill_policy, DEFAULT_KILL_GRACE);
        double limit = X.p.cfg.shutdown_grace_period - 1.0; /* leave the agent time before it destroys us */
        if (grace > limit) grace = limit > 0 ? limit : 0;
        kill_task(grace);
      } else if (!X.terminal_sent) {
        finish(0);
      }
      break;
    }
    default:
      break;
  }
}

static void on_resubscribe(evutil_socket_t fd, short what, void *arg) {
  if (mz_exec_process_resubscribe(&X.p, &spec) != 0) finish(1);
}

static void on_disconnected(mz_executor *ex, const char *reason, void *arg) {
  if (mz_exec_process_retry(&X.p, &spec, reason)) return;
  /* Without checkpointing an executor does not outlive its agent connection; with it,
   * the library tried to reach the agent until the recovery timeout before this. */
  MZ_ERROR(MOD, "disconnected from the agent: %s", reason);
  if (X.pid && !X.exited) mz_command_signal(X.pid, SIGKILL);
  finish(X.p.ever_subscribed ? 0 : 1);
}

static const mz_exec_process_spec spec = {
    .prog = "mezzo-executor",
    .module = MOD,
    .what = "command executor",
    .cbs = {on_event, on_disconnected},
    .on_escalate = on_escalate,
    .on_exit_timer = on_exit_timer,
    .on_resubscribe = on_resubscribe,
    .on_sigchld = on_sigchld,
    .on_stop_signal = on_stop_signal,
};

static int executor_main(int argc, char **argv) {
  char jerr[256];
  if (mz_cgroups_join_from_env(jerr, sizeof jerr) != 0) { /* first: the agent left that to us */
    fprintf(stderr, "mezzo-executor: %s\n", jerr);
    return 1;
  }
  const char *lvl = getenv("MESOS_LOGGING_LEVEL");
  mz_log_level level;
  if (lvl && mz_log_level_parse(lvl, &level) == 0) mz_log_set_level(level);
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: mezzo-executor\n"
           "The command executor, started by mezzo-agent. Reads MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID,\n"
           "MESOS_AGENT_ENDPOINT, MESOS_DIRECTORY, MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD from the environment.\n"
           "With --default it is the default executor, which runs task groups (ExecutorInfo type DEFAULT).\n"
           "With --fork-server it is the agent's executor fork server (started by the agent).\n");
    return 0;
  }
  if (argc > 1 && !strcmp(argv[1], "--default")) return mz_default_executor_main();
  if (argc > 1 && !strcmp(argv[1], "--fork-server")) {
    fprintf(stderr, "mezzo-executor: --fork-server is started by the agent, with its socket at fd %d\n",
            MZ_FORK_SERVER_FD);
    return 1;
  }
  if (mz_exec_process_init(&X.p, &spec) != 0) return 1;
  if (mz_exec_process_run(&X.p, &spec) != 0) X.exit_code = 1;
  if (X.pid && !X.exited) {
    mz_command_signal(X.pid, SIGKILL);
    waitpid(X.pid, NULL, 0);
  }
  mz_health_free(X.health);
  if (X.task) protobuf_c_message_free_unpacked(&X.task->base, NULL);
  mz_exec_process_free(&X.p);
  return X.exit_code;
}

int main(int argc, char **argv) {
  /* The agent's fork server (fork_server.h): its forks run executor_main. */
  if (argc == 2 && !strcmp(argv[1], "--fork-server") && fcntl(MZ_FORK_SERVER_FD, F_GETFD) >= 0)
    return mz_executor_fork_server(MZ_FORK_SERVER_FD, argv, executor_main);
  return executor_main(argc, argv);
}
