/* process: what both executors in mezzo-executor (the command executor,
 * main.c, and the default executor, default.c) set up the same way: the
 * configuration from the environment the agent gives, the event loop, the v1
 * executor API client, and the timers and signal events each executor handles
 * with its own callbacks. */
#ifndef MZ_EXECUTOR_PROCESS_H
#define MZ_EXECUTOR_PROCESS_H

#include <event2/event.h>

#include "mezzo/executor.h"

typedef struct {
  struct event_base *base;
  mz_executor_config cfg;
  mz_executor *ex;
  struct event *escalate, *exit_timer, *resubscribe, *sigchld, *sigterm, *sigint;
} mz_exec_process;

typedef struct {
  const char *prog;   /* prefix of start-up errors on stderr, e.g. "mezzo-executor" */
  const char *module; /* log module */
  const char *what;   /* "executor", "default executor" (log) */
  mz_executor_callbacks cbs;
  event_callback_fn on_escalate, on_exit_timer, on_resubscribe, on_sigchld, on_stop_signal;
} mz_exec_process_spec;

/* Reads the environment and creates the loop, the client, the timers and the
 * signal events. 0, or 1 (the exit status) with a message on stderr. */
int mz_exec_process_init(mz_exec_process *p, const mz_exec_process_spec *s);
/* Subscribes to the agent and runs the loop until it stops. -1 if subscribing failed (logged). */
int mz_exec_process_run(mz_exec_process *p, const mz_exec_process_spec *s);
/* Frees the client, the events and the loop. */
void mz_exec_process_free(mz_exec_process *p);

/* A KillPolicy's grace period in seconds, or def without one. */
double mz_exec_policy_grace(const Mesos__V1__KillPolicy *kp, double def);

#endif
