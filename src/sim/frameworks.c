/* frameworks: M emulated frameworks, each a real scheduler API subscription
 * through libmezzo's client (include/mezzo/scheduler.h), acknowledging every
 * update (auto_acknowledge).
 *
 * Offers. For each offer a framework launches as many tasks of --task_resources
 * as fit (capped by --tasks_per_offer and by what is left of --max_tasks), in
 * one ACCEPT (LAUNCH) with Filters.refuse_seconds = --refuse_seconds for what it
 * leaves. With --tasks_per_s, launches draw from one token bucket shared by all
 * frameworks; an offer that fits tasks but finds no token is held (up to
 * --offer_hold seconds, then declined), and held offers are served first, every
 * 10 ms, as tokens come. An offer nothing fits in is declined with
 * --refuse_seconds (with 60 s at least once --max_tasks are all launched).
 *
 * Measures (stats.c turns them into the summary and report):
 *   launch latency: from the moment the framework hands its ACCEPT to libmezzo
 *     (mz_scheduler_launch) to the moment it receives that task's TASK_RUNNING.
 *     It includes the wait of the call behind this framework's earlier calls
 *     (libmezzo sends one call at a time on its calls connection), the master's
 *     work, the agent's RUN_TASK -> TASK_RUNNING and the update's way back.
 *   offer latency, per agent: from the moment an emulated agent writes a status
 *     update that tells the master a task is over (its latest_state is terminal:
 *     the master frees the task's resources on reading it) to the moment any
 *     framework receives an offer for that agent. If several tasks end on the
 *     agent before that offer, the clock runs from the first one; an offer then
 *     ends it, whether or not it holds the freed resources (an offer made just
 *     before the task ended, still in flight, ends it too: the figure can only be
 *     too low by the time an offer spends between the master and the
 *     framework's callback, i.e. when the frameworks sit on offers). Declines
 *     set refuse filters that delay re-offers: run with enough demand (no
 *     --tasks_per_s cap, --max_tasks unlimited) to measure the master alone.
 *   launched, running, finished, failed, killed, lost per second of the window.
 *
 * Ownership: s->fws is an array owned by the sim; each framework owns its
 * mz_scheduler and its held offers; s->launches (hash by task number) owns one
 * record per launched task until its terminal update arrives. */
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "common/log.h"
#include "common/util.h"
#include "common/zk.h"
#include "mezzo/scheduler.h"
#include "sim/sim.h"

#define HOLD_TICK 0.01
#define DONE_REFUSE_SECONDS 60.0
#define MAX_TASKS_PER_ACCEPT 1000
#define MAX_DECLINES_PER_CALL 1000
#define ZK_SUBSCRIBE_RETRY 0.05 /* seconds: first re-subscription backoff with a zk:// master */
#define TASK_ID_PREFIX "sim-"
#define RECONCILE_RESEND 0.1 /* seconds before an incomplete reconciliation is asked again */

typedef struct held_offer {
  char *offer_id, *agent_id; /* owned */
  uint64_t fit;
  double received;
  struct held_offer *prev, *next;
} held_offer;

struct sim_framework {
  sim *s;
  uint32_t index;
  mz_scheduler *sch;
  held_offer *held;
  size_t nheld;
  bool subscribed_once;
  /* After a re-subscription (master failover): implicit reconciliation, resent
   * until the master reports as many tasks as this sim has running (one
   * framework: all of them), then a "framework_reconciled" event. */
  unsigned subscriptions;
  /* Declines gathered during one OFFERS event (or one hold tick) and sent as one
   * DECLINE call: libmezzo sends one call at a time, so a decline per offer would
   * queue everything else (a reconciliation after a failover) behind thousands. */
  char **dec_ids;
  size_t ndec, dec_cap;
  double dec_refuse;
  bool recon_pending;
  size_t recon_got, recon_expect;
  double recon_sent;
};

typedef struct sim_launch {
  uint64_t n;
  double accepted;
  bool running;
  UT_hash_handle hh;
} sim_launch;

static void held_free(sim_framework *fw, held_offer *h) {
  DL_DELETE(fw->held, h);
  fw->nheld--;
  free(h->offer_id);
  free(h->agent_id);
  free(h);
}

/* Tasks of --task_resources that fit in the offer. */
static uint64_t tasks_fit(sim *s, const Mesos__V1__Offer *o) {
  char err[256];
  mz_resources *r = mz_resources_from_proto(o->resources, o->n_resources, err, sizeof err);
  if (!r) return 0;
  uint64_t fit = UINT64_MAX;
  for (size_t i = 0; i < s->task_res->n; i++) {
    const char *name = s->task_res->v[i].name;
    int64_t need = mz_resources_scalar(s->task_res, name);
    if (need <= 0) continue;
    int64_t have = mz_resources_scalar(r, name);
    uint64_t k = have > 0 ? (uint64_t)(have / need) : 0;
    if (k < fit) fit = k;
  }
  mz_resources_free(r);
  return fit == UINT64_MAX ? 0 : fit;
}

static void refill(sim *s) {
  if (s->f.tasks_per_s <= 0) return;
  double now = mz_monotonic();
  double cap = s->f.tasks_per_s * 0.1 > 1 ? s->f.tasks_per_s * 0.1 : 1;
  s->tokens += (now - s->tokens_last) * s->f.tasks_per_s;
  if (s->tokens > cap) s->tokens = cap;
  s->tokens_last = now;
}

static void decline_flush(sim_framework *fw) {
  if (!fw->ndec) return;
  char err[256];
  if (mz_scheduler_decline(fw->sch, (const char *const *)fw->dec_ids, fw->ndec, fw->dec_refuse, err, sizeof err) != 0)
    MZ_WARN("sim", "framework %u: cannot decline: %s", fw->index, err);
  else fw->s->win.declines += fw->ndec;
  for (size_t i = 0; i < fw->ndec; i++) free(fw->dec_ids[i]);
  fw->ndec = 0;
}

static void decline(sim_framework *fw, const char *offer_id, double refuse) {
  if (fw->ndec && (fw->dec_refuse != refuse || fw->ndec >= MAX_DECLINES_PER_CALL)) decline_flush(fw);
  if (fw->ndec == fw->dec_cap)
    fw->dec_ids = mz_realloc(fw->dec_ids, (fw->dec_cap = fw->dec_cap ? fw->dec_cap * 2 : 64) * sizeof *fw->dec_ids);
  fw->dec_ids[fw->ndec++] = mz_strdup(offer_id);
  fw->dec_refuse = refuse;
}

static void launch(sim_framework *fw, const char *offer_id, const char *agent_id, uint64_t n) {
  sim *s = fw->s;
  Mesos__V1__TaskInfo *tasks = mz_calloc(n, sizeof *tasks);
  Mesos__V1__TaskInfo **tp = mz_calloc(n, sizeof *tp);
  Mesos__V1__TaskID *tids = mz_calloc(n, sizeof *tids);
  char (*ids)[32] = mz_calloc(n, sizeof *ids);
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  Mesos__V1__CommandInfo cmd = MESOS__V1__COMMAND_INFO__INIT;
  aid.value = (char *)agent_id;
  cmd.value = "true";
  cmd.has_shell = 1;
  cmd.shell = 1;
  uint64_t first = s->next_task;
  for (uint64_t i = 0; i < n; i++) {
    snprintf(ids[i], sizeof ids[i], TASK_ID_PREFIX "%" PRIu64, first + i);
    mesos__v1__task_info__init(&tasks[i]);
    mesos__v1__task_id__init(&tids[i]);
    tids[i].value = ids[i];
    tasks[i].name = "sim-task";
    tasks[i].task_id = &tids[i];
    tasks[i].agent_id = &aid;
    tasks[i].n_resources = s->n_task_res_pb;
    tasks[i].resources = s->task_res_pb;
    tasks[i].command = &cmd;
    tp[i] = &tasks[i];
  }
  char err[256];
  double now = mz_monotonic();
  if (mz_scheduler_launch(fw->sch, &offer_id, 1, tp, n, s->f.refuse_seconds, err, sizeof err) != 0) {
    MZ_WARN("sim", "framework %u: cannot launch: %s", fw->index, err);
  } else {
    s->next_task += n;
    s->total_launched += n;
    s->win.launched += n;
    s->win.accepts++;
    for (uint64_t i = 0; i < n; i++) {
      sim_launch *l = mz_calloc(1, sizeof *l);
      l->n = first + i;
      l->accepted = now;
      HASH_ADD(hh, s->launches, n, sizeof l->n, l);
    }
  }
  free(tasks);
  free(tp);
  free(tids);
  free(ids);
}

/* Launches what it can on an offer: 1 when done with it (launched or declined), 0 when it must wait for tokens. */
static int serve(sim_framework *fw, const char *offer_id, const char *agent_id, uint64_t fit, bool may_hold) {
  sim *s = fw->s;
  uint64_t left = UINT64_MAX;
  if (s->f.max_tasks > 0) left = s->total_launched >= (uint64_t)s->f.max_tasks ? 0 : (uint64_t)s->f.max_tasks - s->total_launched;
  if (left == 0) {
    decline(fw, offer_id, s->f.refuse_seconds > DONE_REFUSE_SECONDS ? s->f.refuse_seconds : DONE_REFUSE_SECONDS);
    return 1;
  }
  uint64_t want = fit;
  if (s->f.tasks_per_offer > 0 && want > (uint64_t)s->f.tasks_per_offer) want = (uint64_t)s->f.tasks_per_offer;
  if (want > left) want = left;
  if (want > MAX_TASKS_PER_ACCEPT) want = MAX_TASKS_PER_ACCEPT;
  if (want == 0) {
    decline(fw, offer_id, s->f.refuse_seconds);
    return 1;
  }
  if (s->f.tasks_per_s > 0) {
    refill(s);
    uint64_t avail = s->tokens >= 1 ? (uint64_t)s->tokens : 0;
    if (avail == 0) {
      if (may_hold) return 0;
      decline(fw, offer_id, s->f.refuse_seconds);
      return 1;
    }
    if (want > avail) want = avail;
    s->tokens -= (double)want;
  }
  launch(fw, offer_id, agent_id, want);
  return 1;
}

/* ------------------------------------------------------------------ callbacks */

static void reconcile(sim_framework *fw) {
  sim *s = fw->s;
  size_t running = 0;
  for (sim_launch *l = s->launches; l; l = l->hh.next)
    if (l->running) running++;
  fw->recon_expect = s->nfws > 1 ? running / s->nfws : running;
  fw->recon_got = 0;
  fw->recon_sent = mz_monotonic();
  char err[256];
  if (mz_scheduler_reconcile(fw->sch, NULL, NULL, 0, err, sizeof err) != 0)
    MZ_WARN("sim", "framework %u: RECONCILE: %s", fw->index, err);
}

static void on_subscribed(mz_scheduler *sch, const Mesos__V1__Scheduler__Event__Subscribed *ev, void *arg) {
  (void)sch;
  (void)ev;
  sim_framework *fw = arg;
  fw->subscriptions++;
  sim_event("framework_subscribed fw=%u n=%u", fw->index, fw->subscriptions);
  if (!fw->subscribed_once) {
    fw->subscribed_once = true;
    fw->s->subscribed++;
  } else {
    fw->recon_pending = true;
    reconcile(fw);
  }
}

static void on_offers(mz_scheduler *sch, Mesos__V1__Offer *const *offers, size_t n, void *arg) {
  (void)sch;
  sim_framework *fw = arg;
  sim *s = fw->s;
  double now = mz_monotonic();
  for (size_t i = 0; i < n; i++) {
    const Mesos__V1__Offer *o = offers[i];
    if (!o->id || !o->id->value || !o->agent_id || !o->agent_id->value) continue;
    s->win.offers++;
    sim_agent *a = sim_agent_find(s, o->agent_id->value);
    if (a && a->freed_at > 0) {
      sim_hist_add(&s->win.offer, (now - a->freed_at) * 1000.0);
      a->freed_at = 0;
    }
    uint64_t fit = tasks_fit(s, o);
    bool may_hold = s->f.offer_hold > 0 && !fw->held; /* held offers go first: queue behind them */
    if (fw->held && s->f.offer_hold > 0) {
      held_offer *h = mz_calloc(1, sizeof *h);
      h->offer_id = mz_strdup(o->id->value);
      h->agent_id = mz_strdup(o->agent_id->value);
      h->fit = fit;
      h->received = now;
      DL_APPEND(fw->held, h);
      fw->nheld++;
      continue;
    }
    if (!serve(fw, o->id->value, o->agent_id->value, fit, may_hold)) {
      held_offer *h = mz_calloc(1, sizeof *h);
      h->offer_id = mz_strdup(o->id->value);
      h->agent_id = mz_strdup(o->agent_id->value);
      h->fit = fit;
      h->received = now;
      DL_APPEND(fw->held, h);
      fw->nheld++;
    }
  }
  decline_flush(fw);
}

static void on_rescind(mz_scheduler *sch, const Mesos__V1__OfferID *id, void *arg) {
  (void)sch;
  sim_framework *fw = arg;
  if (!id || !id->value) return;
  held_offer *h, *tmp;
  DL_FOREACH_SAFE(fw->held, h, tmp) {
    if (!strcmp(h->offer_id, id->value)) {
      held_free(fw, h);
      return;
    }
  }
}

static uint64_t task_number(const char *task_id, bool *ok) {
  *ok = false;
  size_t pl = strlen(TASK_ID_PREFIX);
  if (!task_id || strncmp(task_id, TASK_ID_PREFIX, pl) != 0) return 0;
  char *end;
  unsigned long long v = strtoull(task_id + pl, &end, 10);
  if (end == task_id + pl || *end) return 0;
  *ok = true;
  return (uint64_t)v;
}

static void on_update(mz_scheduler *sch, const Mesos__V1__TaskStatus *st, void *arg) {
  (void)sch;
  sim_framework *fw = arg;
  sim *s = fw->s;
  bool ok;
  if (st->has_reason && st->reason == MESOS__V1__TASK_STATUS__REASON__REASON_RECONCILIATION) {
    fw->recon_got++;
    return;
  }
  uint64_t n = task_number(st->task_id ? st->task_id->value : NULL, &ok);
  if (!ok) return;
  sim_launch *l = NULL;
  HASH_FIND(hh, s->launches, &n, sizeof n, l);
  if (!l) return; /* a duplicate of a final update, or not ours */
  if (st->state == MESOS__V1__TASK_STATE__TASK_RUNNING) {
    if (!l->running) {
      l->running = true;
      s->win.running++;
      sim_hist_add(&s->win.launch, (mz_monotonic() - l->accepted) * 1000.0);
    }
    return;
  }
  if (!mz_task_state_terminal(st->state)) return;
  switch (st->state) {
    case MESOS__V1__TASK_STATE__TASK_FINISHED: s->win.finished++; break;
    case MESOS__V1__TASK_STATE__TASK_FAILED: s->win.failed++; break;
    case MESOS__V1__TASK_STATE__TASK_KILLED: s->win.killed++; break;
    case MESOS__V1__TASK_STATE__TASK_LOST: s->win.lost++; break;
    default: s->win.other_terminal++; break;
  }
  s->total_terminal++;
  HASH_DEL(s->launches, l);
  free(l);
}

static void on_error(mz_scheduler *sch, const char *message, void *arg) {
  (void)sch;
  sim_framework *fw = arg;
  fw->s->fw_errors++;
  MZ_ERROR("sim", "framework %u: %s", fw->index, message);
}

static void on_disconnected(mz_scheduler *sch, const char *reason, int subscribed_before, void *arg) {
  (void)sch;
  (void)subscribed_before;
  sim_framework *fw = arg;
  MZ_WARN("sim", "framework %u disconnected: %s", fw->index, reason);
  while (fw->held) held_free(fw, fw->held); /* offers die with the subscription */
  for (size_t i = 0; i < fw->ndec; i++) free(fw->dec_ids[i]);
  fw->ndec = 0;
}

/* Every 10 ms: serve held offers with the tokens that came; decline the ones held too long. */
static void on_hold_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sim *s = arg;
  double now = mz_monotonic();
  for (size_t i = 0; i < s->nfws; i++) {
    sim_framework *fw = &s->fws[i];
    if (fw->recon_pending) {
      if (fw->recon_got >= fw->recon_expect) {
        fw->recon_pending = false;
        sim_event("framework_reconciled fw=%u tasks=%zu", fw->index, fw->recon_got);
      } else if (now - fw->recon_sent >= RECONCILE_RESEND) {
        reconcile(fw);
      }
    }
    held_offer *h, *tmp;
    DL_FOREACH_SAFE(fw->held, h, tmp) {
      bool expired = now - h->received >= s->f.offer_hold;
      if (serve(fw, h->offer_id, h->agent_id, h->fit, !expired)) held_free(fw, h);
      else break; /* out of tokens: the rest wait (in order) */
    }
    decline_flush(fw);
  }
}

/* ------------------------------------------------------------------ lifecycle */

int sim_frameworks_init(sim *s, char *err, size_t errlen) {
  char e[300];
  s->task_res = mz_resources_parse(s->f.task_resources, NULL, e, sizeof e);
  if (!s->task_res) {
    snprintf(err, errlen, "flag --task_resources: %s", e);
    return -1;
  }
  bool any = false;
  for (size_t i = 0; i < s->task_res->n; i++) {
    if (s->task_res->v[i].type != MZ_RES_SCALAR || s->task_res->v[i].resv != MZ_RESV_NONE) {
      snprintf(err, errlen, "flag --task_resources: only unreserved scalar resources are supported, not '%s'",
               s->task_res->v[i].name);
      return -1;
    }
    any = any || s->task_res->v[i].scalar > 0;
  }
  if (!any) {
    snprintf(err, errlen, "flag --task_resources: a task needs some resource (e.g. cpus:0.1;mem:32)");
    return -1;
  }
  s->task_res_pb = mz_resources_to_proto(s->task_res, &s->n_task_res_pb);
  s->nfws = (size_t)s->f.frameworks;
  s->fws = mz_calloc(s->nfws ? s->nfws : 1, sizeof *s->fws);
  const char *user = getenv("USER");
  static const mz_scheduler_callbacks cbs = {
      .on_subscribed = on_subscribed,
      .on_offers = on_offers,
      .on_rescind = on_rescind,
      .on_update = on_update,
      .on_error = on_error,
      .on_disconnected = on_disconnected,
  };
  mz_scheduler_options opts = {0};
  opts.content_type = MZ_CT_PROTOBUF;
  opts.auto_acknowledge = 1;
  char master[MZ_ZK_URL_MAX + 16];
  /* libmezzo follows the leader itself; a master its detector names may answer 503
   * for a few milliseconds more (it has not taken over yet): retry soon, as the links do. */
  if (s->zk) opts.backoff_min = ZK_SUBSCRIBE_RETRY;
  if (s->zk) mz_strlcpy(master, s->f.master, sizeof master);
  else snprintf(master, sizeof master, "%s:%d", s->host, s->port);
  for (size_t i = 0; i < s->nfws; i++) {
    sim_framework *fw = &s->fws[i];
    fw->s = s;
    fw->index = (uint32_t)i;
    char name[64];
    snprintf(name, sizeof name, "mezzo-sim-%zu", i);
    Mesos__V1__FrameworkInfo fi = MESOS__V1__FRAMEWORK_INFO__INIT;
    fi.user = (char *)(user && *user ? user : "mezzo-sim");
    fi.name = name;
    fi.has_failover_timeout = 1; /* its tasks outlive a master failover and a reconnection */
    fi.failover_timeout = 3600;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    /* The single-role field (deprecated in Mesos, still honoured): no MULTI_ROLE needed. */
    if (s->f.role && *s->f.role && strcmp(s->f.role, "*") != 0) fi.role = (char *)s->f.role;
#pragma GCC diagnostic pop
    fw->sch = mz_scheduler_new(s->base, master, &fi, &cbs, fw, &opts, e, sizeof e);
    if (!fw->sch) {
      snprintf(err, errlen, "framework %zu: %s", i, e);
      return -1;
    }
  }
  s->tokens_last = mz_monotonic();
  s->tokens = 1;
  s->hold_ev = event_new(s->base, -1, EV_PERSIST, on_hold_tick, s);
  if (!s->hold_ev) {
    snprintf(err, errlen, "cannot create a timer");
    return -1;
  }
  struct timeval tv = {0, (suseconds_t)(HOLD_TICK * 1e6)};
  event_add(s->hold_ev, &tv);
  return 0;
}

int sim_frameworks_start(sim *s, char *err, size_t errlen) {
  for (size_t i = 0; i < s->nfws; i++) {
    char e[300];
    if (mz_scheduler_start(s->fws[i].sch, e, sizeof e) != 0) {
      snprintf(err, errlen, "framework %zu: %s", i, e);
      return -1;
    }
  }
  return 0;
}

void sim_frameworks_free(sim *s) {
  for (size_t i = 0; s->fws && i < s->nfws; i++) {
    sim_framework *fw = &s->fws[i];
    while (fw->held) held_free(fw, fw->held);
    for (size_t k = 0; k < fw->ndec; k++) free(fw->dec_ids[k]);
    free(fw->dec_ids);
    mz_scheduler_free(fw->sch);
  }
  free(s->fws);
  s->fws = NULL;
  sim_launch *l, *tmp;
  HASH_ITER(hh, s->launches, l, tmp) {
    HASH_DEL(s->launches, l);
    free(l);
  }
  if (s->hold_ev) event_free(s->hold_ev);
  s->hold_ev = NULL;
  if (s->task_res_pb) mz_resources_proto_free(s->task_res_pb, s->n_task_res_pb);
  mz_resources_free(s->task_res);
}
