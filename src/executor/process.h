/* process: what both executors in mezzo-executor (the command executor,
 * main.c, and the default executor, default.c) set up the same way: the
 * configuration from the environment the agent gives, the event loop, the v1
 * executor API client, the timers and signal events each executor handles
 * with its own callbacks, the subscription (retried with backoff until the
 * first SUBSCRIBED) and the events both answer alike (SUBSCRIBED, MESSAGE,
 * ERROR). */
#ifndef MZ_EXECUTOR_PROCESS_H
#define MZ_EXECUTOR_PROCESS_H

#include <stdbool.h>

#include <event2/event.h>

#include "mezzo/executor.h"

typedef struct {
  struct event_base *base;
  mz_executor_config cfg;
  mz_executor *ex;
  struct event *escalate, *exit_timer, *resubscribe, *sigchld, *sigterm, *sigint;
  Mesos__V1__FrameworkInfo *fw; /* owned copy from SUBSCRIBED, NULL before */
  int ever_subscribed, attempts;
} mz_exec_process;

typedef struct {
  const char *prog;   /* prefix of start-up errors on stderr, e.g. "mezzo-executor" */
  const char *module; /* log module */
  const char *what;   /* "command executor", "default executor" (log) */
  mz_executor_callbacks cbs;
  event_callback_fn on_escalate, on_exit_timer, on_resubscribe, on_sigchld, on_stop_signal;
} mz_exec_process_spec;

/* Reads the environment and creates the loop, the client, the timers and the
 * signal events. 0, or 1 (the exit status) with a message on stderr. */
int mz_exec_process_init(mz_exec_process *p, const mz_exec_process_spec *s);
/* Subscribes to the agent and runs the loop until it stops. -1 if subscribing failed (logged). */
int mz_exec_process_run(mz_exec_process *p, const mz_exec_process_spec *s);
/* Frees the client, the events, the loop and the FrameworkInfo. */
void mz_exec_process_free(mz_exec_process *p);

/* Handles the events both executors answer alike: SUBSCRIBED (keeps its
 * FrameworkInfo in p->fw), MESSAGE and ERROR (logged). false for any other. */
bool mz_exec_process_common_event(mz_exec_process *p, const mz_exec_process_spec *s,
                                  const Mesos__V1__Executor__Event *ev);
/* Until the first SUBSCRIBED a failed subscription is tried again, with backoff,
 * up to 10 times: true if the resubscribe timer is now armed for that. */
bool mz_exec_process_retry(mz_exec_process *p, const mz_exec_process_spec *s, const char *reason);
/* The resubscribe timer's work: -1 if subscribing failed at once (logged). */
int mz_exec_process_resubscribe(mz_exec_process *p, const mz_exec_process_spec *s);
/* (Re)arms ev to fire in seconds (negative: now). */
void mz_exec_timer_in(struct event *ev, double seconds);

/* A KillPolicy's grace period in seconds, or def without one. */
double mz_exec_policy_grace(const Mesos__V1__KillPolicy *kp, double def);

#endif
