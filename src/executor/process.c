/* process: see process.h. */
#include "executor/process.h"

#include <signal.h>
#include <stdio.h>

#include "common/log.h"

int mz_exec_process_init(mz_exec_process *p, const mz_exec_process_spec *s) {
  char err[256];
  if (mz_executor_config_from_env(&p->cfg, err, sizeof err) != 0) {
    fprintf(stderr, "%s: %s\n", s->prog, err);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  p->base = event_base_new();
  if (!p->base) {
    fprintf(stderr, "%s: cannot create the event loop\n", s->prog);
    return 1;
  }
  p->ex = mz_executor_new(p->base, &p->cfg, &s->cbs, NULL, err, sizeof err);
  if (!p->ex) {
    fprintf(stderr, "%s: %s\n", s->prog, err);
    event_base_free(p->base);
    p->base = NULL;
    return 1;
  }
  p->escalate = evtimer_new(p->base, s->on_escalate, NULL);
  p->exit_timer = evtimer_new(p->base, s->on_exit_timer, NULL);
  p->resubscribe = evtimer_new(p->base, s->on_resubscribe, NULL);
  p->sigchld = evsignal_new(p->base, SIGCHLD, s->on_sigchld, NULL);
  p->sigterm = evsignal_new(p->base, SIGTERM, s->on_stop_signal, NULL);
  p->sigint = evsignal_new(p->base, SIGINT, s->on_stop_signal, NULL);
  evsignal_add(p->sigchld, NULL);
  evsignal_add(p->sigterm, NULL);
  evsignal_add(p->sigint, NULL);
  return 0;
}

int mz_exec_process_run(mz_exec_process *p, const mz_exec_process_spec *s) {
  char err[256];
  MZ_INFO(s->module, "%s %s of framework %s subscribing to the agent at %s:%d", s->what, p->cfg.executor_id,
          p->cfg.framework_id, p->cfg.agent_host, p->cfg.agent_port);
  if (mz_executor_subscribe(p->ex, err, sizeof err) != 0) {
    MZ_ERROR(s->module, "cannot subscribe: %s", err);
    return -1;
  }
  event_base_dispatch(p->base);
  return 0;
}

void mz_exec_process_free(mz_exec_process *p) {
  mz_executor_free(p->ex);
  event_free(p->escalate);
  event_free(p->exit_timer);
  event_free(p->resubscribe);
  event_free(p->sigchld);
  event_free(p->sigterm);
  event_free(p->sigint);
  event_base_free(p->base);
}

double mz_exec_policy_grace(const Mesos__V1__KillPolicy *kp, double def) {
  if (kp && kp->grace_period) return (double)kp->grace_period->nanoseconds / 1e9;
  return def;
}
