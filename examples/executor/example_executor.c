/* example_executor: a small custom executor written against libmezzo's public
 * executor client (include/mezzo/executor.h), as a framework author would.
 *
 * Started by the agent for an ExecutorInfo of type CUSTOM whose command names
 * this binary. It subscribes to the agent (MESOS_* environment), then:
 *   LAUNCH   -> TASK_RUNNING; if the task's `data` holds a shell command it is run
 *               (`sh -c data`) and the task ends TASK_FINISHED / TASK_FAILED with it;
 *               without data the task runs until it is killed;
 *   KILL     -> the task's command is killed (SIGKILL to its process group) and the
 *               task ends TASK_KILLED;
 *   MESSAGE  -> echoed back to the scheduler as "echo:<data>";
 *   SHUTDOWN -> every task is killed, then the executor exits once the agent has
 *               acknowledged the updates (or after 5 s).
 * Everything runs on one libevent loop; the task table is a small fixed array. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "mezzo/executor.h"

#define MAX_TASKS 64
#define MAX_ECHO 65536

typedef struct {
  Mesos__V1__TaskID id; /* id.value owned */
  pid_t pid;            /* 0: no command */
  int terminal, killed;
} task;

static struct event_base *base;
static mz_executor *ex;
static task tasks[MAX_TASKS];
static size_t ntasks;
static int shutting_down, subscribed_once;
static struct event *exit_timer;

static void update(task *t, Mesos__V1__TaskState state, const char *message) {
  Mesos__V1__TaskStatus st = MESOS__V1__TASK_STATUS__INIT;
  st.task_id = &t->id;
  st.state = state;
  st.message = (char *)message;
  if (state != MESOS__V1__TASK_STATE__TASK_RUNNING) t->terminal = 1;
  char err[256];
  if (mz_executor_update(ex, &st, NULL, err, sizeof err) != 0)
    fprintf(stderr, "example-executor: update for %s failed: %s\n", t->id.value, err);
}

static task *find(const char *id) {
  for (size_t i = 0; i < ntasks; i++)
    if (!strcmp(tasks[i].id.value, id)) return &tasks[i];
  return NULL;
}

static void maybe_exit(void) {
  if (!shutting_down) return;
  for (size_t i = 0; i < ntasks; i++)
    if (!tasks[i].terminal) return;
  if (mz_executor_unacknowledged(ex) == 0) event_base_loopexit(base, NULL);
}

static void launch(const Mesos__V1__TaskInfo *ti) {
  if (!ti->task_id || !ti->task_id->value || find(ti->task_id->value)) return;
  if (ntasks == MAX_TASKS) {
    fprintf(stderr, "example-executor: too many tasks\n");
    return;
  }
  task *t = &tasks[ntasks++];
  t->id = (Mesos__V1__TaskID)MESOS__V1__TASK_ID__INIT;
  t->id.value = strdup(ti->task_id->value);
  if (ti->has_data && ti->data.len > 0) {
    char *cmd = strndup((const char *)ti->data.data, ti->data.len);
    pid_t p = fork();
    if (p == 0) {
      setpgid(0, 0);
      signal(SIGPIPE, SIG_DFL);
      execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
      _exit(127);
    }
    free(cmd);
    if (p < 0) {
      update(t, MESOS__V1__TASK_STATE__TASK_FAILED, "fork failed");
      return;
    }
    setpgid(p, p);
    t->pid = p;
  }
  printf("example-executor: running task %s\n", t->id.value);
  fflush(stdout);
  update(t, MESOS__V1__TASK_STATE__TASK_RUNNING, NULL);
}

static void kill_task(task *t) {
  if (t->terminal) return;
  if (t->pid) {
    t->killed = 1;
    kill(-t->pid, SIGKILL); /* TASK_KILLED once it is reaped */
  } else {
    update(t, MESOS__V1__TASK_STATE__TASK_KILLED, "Killed by the example executor");
  }
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg) {
  int st;
  pid_t p;
  while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
    for (size_t i = 0; i < ntasks; i++) {
      task *t = &tasks[i];
      if (t->pid != p || t->terminal) continue;
      if (t->killed)
        update(t, MESOS__V1__TASK_STATE__TASK_KILLED, "Killed by the example executor");
      else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        update(t, MESOS__V1__TASK_STATE__TASK_FINISHED, "Command exited with status 0");
      else
        update(t, MESOS__V1__TASK_STATE__TASK_FAILED, "Command failed");
    }
  }
  maybe_exit();
}

static void on_event(mz_executor *e, const Mesos__V1__Executor__Event *ev, void *arg) {
  char err[256];
  switch (ev->type) {
    case MESOS__V1__EXECUTOR__EVENT__TYPE__SUBSCRIBED:
      subscribed_once = 1;
      printf("example-executor: subscribed as %s\n", mz_executor_id(e));
      fflush(stdout);
      break;
    case MESOS__V1__EXECUTOR__EVENT__TYPE__LAUNCH:
      if (ev->launch && ev->launch->task) launch(ev->launch->task);
      break;
    case MESOS__V1__EXECUTOR__EVENT__TYPE__KILL:
      if (ev->kill && ev->kill->task_id && ev->kill->task_id->value) {
        task *t = find(ev->kill->task_id->value);
        if (t) kill_task(t);
      }
      break;
    case MESOS__V1__EXECUTOR__EVENT__TYPE__MESSAGE: {
      if (!ev->message) break;
      size_t n = ev->message->data.len > MAX_ECHO ? MAX_ECHO : ev->message->data.len;
      char *buf = malloc(n + 5);
      memcpy(buf, "echo:", 5);
      memcpy(buf + 5, ev->message->data.data, n);
      if (mz_executor_message(e, buf, n + 5, err, sizeof err) != 0)
        fprintf(stderr, "example-executor: cannot send a message: %s\n", err);
      free(buf);
      break;
    }
    case MESOS__V1__EXECUTOR__EVENT__TYPE__ACKNOWLEDGED:
      maybe_exit();
      break;
    case MESOS__V1__EXECUTOR__EVENT__TYPE__SHUTDOWN: {
      shutting_down = 1;
      for (size_t i = 0; i < ntasks; i++) kill_task(&tasks[i]);
      struct timeval tv = {5, 0};
      evtimer_add(exit_timer, &tv);
      maybe_exit();
      break;
    }
    default:
      break;
  }
}

static void on_disconnected(mz_executor *e, const char *reason, void *arg) {
  fprintf(stderr, "example-executor: disconnected: %s\n", reason);
  event_base_loopexit(base, NULL);
}

static void on_exit_timer(evutil_socket_t fd, short what, void *arg) { event_base_loopexit(base, NULL); }

int main(void) {
  char err[256];
  mz_executor_config cfg;
  memset(&cfg, 0, sizeof cfg);
  if (mz_executor_config_from_env(&cfg, err, sizeof err) != 0) {
    fprintf(stderr, "example-executor: %s\n", err);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  base = event_base_new();
  static const mz_executor_callbacks cbs = {on_event, on_disconnected};
  ex = mz_executor_new(base, &cfg, &cbs, NULL, err, sizeof err);
  if (!ex) {
    fprintf(stderr, "example-executor: %s\n", err);
    return 1;
  }
  struct event *sigchld = evsignal_new(base, SIGCHLD, on_sigchld, NULL);
  evsignal_add(sigchld, NULL);
  exit_timer = evtimer_new(base, on_exit_timer, NULL);
  int rc = 0;
  if (mz_executor_subscribe(ex, err, sizeof err) != 0) {
    fprintf(stderr, "example-executor: %s\n", err);
    rc = 1;
  } else {
    event_base_dispatch(base);
  }
  for (size_t i = 0; i < ntasks; i++) {
    if (tasks[i].pid && !tasks[i].terminal) kill(-tasks[i].pid, SIGKILL);
    free(tasks[i].id.value);
  }
  mz_executor_free(ex);
  event_free(sigchld);
  event_free(exit_timer);
  event_base_free(base);
  return rc ? rc : (subscribed_once ? 0 : 1);
}
