/* process: see process.h. */
#include "executor/process.h"

#include <signal.h>
#include <stdio.h>

#include "common/codec.h"
#include "common/log.h"

#define SUBSCRIBE_ATTEMPTS 10 /* before the first SUBSCRIBED */

int mz_exec_process_init(mz_exec_process *p, const mz_exec_process_spec *s) {
  char err[256];
  if (mz_executor_config_from_env(&p->cfg, err, sizeof err) != 0) {
    fprintf(stderr, "%s: %s\n", s->prog, err);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  /* EVENT_* variables of the task's environment are not the executor's settings (and
   * libevent would ask for the process's ids once per variable it looks up). */
  struct event_config *ec = event_config_new();
  if (ec) event_config_set_flag(ec, EVENT_BASE_FLAG_IGNORE_ENV);
  p->base = ec ? event_base_new_with_config(ec) : NULL;
  if (ec) event_config_free(ec);
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
  if (p->fw) protobuf_c_message_free_unpacked(&p->fw->base, NULL);
  p->fw = NULL;
}

bool mz_exec_process_common_event(mz_exec_process *p, const mz_exec_process_spec *s,
                                  const Mesos__V1__Executor__Event *ev) {
  switch (ev->type) {
    case MESOS__V1__EXECUTOR__EVENT__TYPE__SUBSCRIBED:
      p->ever_subscribed = 1;
      MZ_INFO(s->module, "subscribed to agent %s as %s %s of framework %s",
              mz_executor_agent_id(p->ex) ? mz_executor_agent_id(p->ex) : "?", s->what, p->cfg.executor_id,
              p->cfg.framework_id);
      if (ev->subscribed && ev->subscribed->framework_info) {
        if (p->fw) protobuf_c_message_free_unpacked(&p->fw->base, NULL);
        p->fw = mz_pb_dup(&ev->subscribed->framework_info->base);
      }
      return true;
    case MESOS__V1__EXECUTOR__EVENT__TYPE__MESSAGE:
      MZ_INFO(s->module, "framework message of %zu bytes (ignored by the %s)", ev->message ? ev->message->data.len : 0,
              s->what);
      return true;
    case MESOS__V1__EXECUTOR__EVENT__TYPE__ERROR:
      MZ_ERROR(s->module, "error from the agent: %s", ev->error && ev->error->message ? ev->error->message : "?");
      return true;
    default:
      return false;
  }
}

void mz_exec_timer_in(struct event *ev, double seconds) {
  if (seconds < 0) seconds = 0;
  struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
  evtimer_del(ev);
  evtimer_add(ev, &tv);
}

bool mz_exec_process_retry(mz_exec_process *p, const mz_exec_process_spec *s, const char *reason) {
  if (p->ever_subscribed || ++p->attempts >= SUBSCRIBE_ATTEMPTS) return false;
  double delay = 0.1 * (1 << (p->attempts < 4 ? p->attempts : 4));
  MZ_WARN(s->module, "subscription failed (%s); retrying in %.1fs", reason, delay);
  mz_exec_timer_in(p->resubscribe, delay);
  return true;
}

int mz_exec_process_resubscribe(mz_exec_process *p, const mz_exec_process_spec *s) {
  char err[256];
  if (mz_executor_subscribe(p->ex, err, sizeof err) == 0) return 0;
  MZ_ERROR(s->module, "cannot subscribe: %s", err);
  return -1;
}

double mz_exec_policy_grace(const Mesos__V1__KillPolicy *kp, double def) {
  if (kp && kp->grace_period) return (double)kp->grace_period->nanoseconds / 1e9;
  return def;
}
