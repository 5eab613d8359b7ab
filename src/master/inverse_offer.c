/* inverse_offer: see inverse_offer.h. One record per (agent, framework) pair
 * that has had an inverse offer: the outstanding inverse offer's id (if any),
 * the framework's last answer and the time until which its filter holds.
 * Records live in two hashes (by pair and by outstanding offer id) in m->iofs. */
#include "master/inverse_offer.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "common/log.h"
#include "common/util.h"
#include "master/agent.h"
#include "master/events.h"
#include "master/framework.h"
#include "master/maintenance.h"
#include "master/task.h"
#include "mesos/v1/allocator/allocator.pb-c.h"

#define DEFAULT_REFUSE 5.0 /* Filters.refuse_seconds default */

typedef struct rec {
  char *key; /* "<agent id>\x1f<framework id>" */
  char *agent_id, *fw_id;
  char *offer_id; /* outstanding inverse offer, or NULL */
  int status;     /* 0 (no answer) or InverseOfferStatus.Status */
  double answered; /* wall clock of the answer */
  double filter_until; /* monotonic */
  UT_hash_handle hh, hh_id;
} rec;

struct mz_iofs {
  rec *by_key, *by_id;
  size_t outstanding;
  struct event *timer;
};

static struct mz_iofs *state(mz_master *m) {
  if (!m->iofs) m->iofs = mz_calloc(1, sizeof *m->iofs);
  return m->iofs;
}

static char *pair_key(const char *agent_id, const char *fw_id) {
  size_t n = strlen(agent_id) + strlen(fw_id) + 2;
  char *k = mz_malloc(n);
  snprintf(k, n, "%s\x1f%s", agent_id, fw_id);
  return k;
}

static void clear_outstanding(struct mz_iofs *s, rec *r) {
  if (!r->offer_id) return;
  HASH_DELETE(hh_id, s->by_id, r);
  free(r->offer_id);
  r->offer_id = NULL;
  s->outstanding--;
}

static void rec_free(struct mz_iofs *s, rec *r) {
  clear_outstanding(s, r);
  HASH_DELETE(hh, s->by_key, r);
  free(r->key);
  free(r->agent_id);
  free(r->fw_id);
  free(r);
}

static void send_rescind(mz_framework *fw, const char *id) {
  Mesos__V1__Scheduler__Event ev = MESOS__V1__SCHEDULER__EVENT__INIT;
  Mesos__V1__Scheduler__Event__RescindInverseOffer r = MESOS__V1__SCHEDULER__EVENT__RESCIND_INVERSE_OFFER__INIT;
  Mesos__V1__OfferID oid = MESOS__V1__OFFER_ID__INIT;
  oid.value = (char *)id;
  r.inverse_offer_id = &oid;
  ev.has_type = 1;
  ev.type = MESOS__V1__SCHEDULER__EVENT__TYPE__RESCIND_INVERSE_OFFER;
  ev.rescind_inverse_offer = &r;
  mz_event_send(fw, &ev);
}

/* Sends one INVERSE_OFFERS event with one inverse offer for the whole agent. */
static int send_inverse_offer(mz_framework *fw, mz_agent *a, const char *id, Mesos__V1__Unavailability *u) {
  Mesos__V1__InverseOffer io = MESOS__V1__INVERSE_OFFER__INIT;
  Mesos__V1__OfferID oid = MESOS__V1__OFFER_ID__INIT;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  Mesos__V1__URL url = MESOS__V1__URL__INIT;
  Mesos__V1__Address addr = MESOS__V1__ADDRESS__INIT;
  oid.value = (char *)id;
  fid.value = fw->id;
  aid.value = a->id;
  addr.hostname = a->hostname;
  addr.ip = (char *)mz_agent_ip(a);
  addr.port = a->port;
  url.scheme = "http";
  url.address = &addr;
  url.path = "/slave(1)";
  io.id = &oid;
  io.url = &url;
  io.framework_id = &fid;
  io.agent_id = &aid;
  io.unavailability = u;
  Mesos__V1__InverseOffer *list[1] = {&io};
  Mesos__V1__Scheduler__Event ev = MESOS__V1__SCHEDULER__EVENT__INIT;
  Mesos__V1__Scheduler__Event__InverseOffers ios = MESOS__V1__SCHEDULER__EVENT__INVERSE_OFFERS__INIT;
  ios.n_inverse_offers = 1;
  ios.inverse_offers = list;
  ev.has_type = 1;
  ev.type = MESOS__V1__SCHEDULER__EVENT__TYPE__INVERSE_OFFERS;
  ev.inverse_offers = &ios;
  return mz_event_send(fw, &ev);
}

/* Frameworks holding resources on the agent (tasks, executors or offers), each once. */
static size_t users(mz_agent *a, mz_framework ***out) {
  mz_framework **v = NULL;
  size_t n = 0, cap = 0;
#define ADD(f)                                                                      \
  do {                                                                              \
    mz_framework *f_ = (f);                                                         \
    bool seen_ = !f_;                                                               \
    for (size_t i_ = 0; i_ < n && !seen_; i_++) seen_ = v[i_] == f_;                \
    if (!seen_) {                                                                   \
      if (n == cap) v = mz_realloc(v, (cap = cap ? cap * 2 : 4) * sizeof *v);      \
      v[n++] = f_;                                                                  \
    }                                                                               \
  } while (0)
  mz_task *t;
  DL_FOREACH2(a->tasks, t, agent_next)
  if (!mz_task_state_terminal(t->state)) ADD(t->fw);
  mz_executor *ex, *etmp;
  HASH_ITER(hh, a->executors, ex, etmp) ADD(ex->fw);
  mz_offer *o;
  DL_FOREACH2(a->offers, o, ag_next) ADD(o->fw);
#undef ADD
  *out = v;
  return n;
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  mz_iofs_run(arg);
}

void mz_iofs_run(mz_master *m) {
  struct mz_iofs *s = state(m);
  if (!s->timer) {
    s->timer = event_new(m->base, -1, EV_PERSIST, on_timer, m);
    const double p = MZ_IOFS_PERIOD;
    struct timeval tv = {(time_t)p, (suseconds_t)((p - (double)(time_t)p) * 1e6)};
    if (s->timer) event_add(s->timer, &tv);
  }
  /* Records of frameworks or agents that went away. */
  rec *r, *tmp;
  HASH_ITER(hh, s->by_key, r, tmp) {
    mz_framework *fw = mz_framework_find(m, r->fw_id);
    if (fw && mz_agent_find(m, r->agent_id)) continue;
    if (fw && r->offer_id) send_rescind(fw, r->offer_id);
    rec_free(s, r);
  }
  if (!m->maint) return;
  double now = mz_monotonic();
  mz_agent *a, *atmp;
  HASH_ITER(hh, m->agents, a, atmp) {
    if (mz_maintenance_agent_mode(a) != MESOS__V1__MACHINE_INFO__MODE__DRAINING) continue;
    mz_framework **fws;
    size_t n = users(a, &fws);
    Mesos__V1__Unavailability *u = n ? mz_maintenance_unavailability(a) : NULL;
    for (size_t i = 0; i < n && u; i++) {
      mz_framework *fw = fws[i];
      if (!fw->active || !fw->connected) continue;
      char *key = pair_key(a->id, fw->id);
      rec *x = NULL;
      HASH_FIND_STR(s->by_key, key, x);
      if (x && (x->offer_id || x->filter_until > now)) {
        free(key);
        continue;
      }
      if (!x) {
        x = mz_calloc(1, sizeof *x);
        x->key = key;
        x->agent_id = mz_strdup(a->id);
        x->fw_id = mz_strdup(fw->id);
        HASH_ADD_KEYPTR(hh, s->by_key, x->key, strlen(x->key), x);
      } else {
        free(key);
      }
      x->offer_id = mz_master_new_offer_id(m);
      HASH_ADD_KEYPTR(hh_id, s->by_id, x->offer_id, strlen(x->offer_id), x);
      s->outstanding++;
      if (send_inverse_offer(fw, a, x->offer_id, u) == 0)
        MZ_INFO("master", "inverse offer %s to framework %s for agent %s (%s)", x->offer_id, fw->id, a->id,
                a->hostname);
    }
    if (u) protobuf_c_message_free_unpacked(&u->base, NULL);
    free(fws);
  }
}

void mz_iofs_reset_agent(mz_master *m, const char *agent_id) {
  if (!m->iofs) return;
  struct mz_iofs *s = m->iofs;
  rec *r, *tmp;
  HASH_ITER(hh, s->by_key, r, tmp) {
    if (strcmp(r->agent_id, agent_id) != 0) continue;
    if (r->offer_id) {
      mz_framework *fw = mz_framework_find(m, r->fw_id);
      if (fw) {
        MZ_INFO("master", "rescinding inverse offer %s of framework %s", r->offer_id, fw->id);
        send_rescind(fw, r->offer_id);
      }
    }
    rec_free(s, r);
  }
}

void mz_iofs_answer(mz_framework *fw, Mesos__V1__OfferID *const *ids, size_t n, const Mesos__V1__Filters *filters,
                    bool accept) {
  mz_master *m = fw->m;
  const char *what = accept ? "ACCEPT_INVERSE_OFFERS" : "DECLINE_INVERSE_OFFERS";
  if (n == 0) {
    MZ_WARN("master", "%s of framework %s: No inverse offers specified", what, fw->id);
    return;
  }
  double refuse = DEFAULT_REFUSE;
  if (filters && filters->has_refuse_seconds) {
    refuse = filters->refuse_seconds;
    if (!(refuse >= 0)) refuse = DEFAULT_REFUSE; /* negative or NaN: the default, as Mesos */
    if (refuse > MZ_IOFS_MAX_REFUSE) refuse = MZ_IOFS_MAX_REFUSE;
  }
  struct mz_iofs *s = state(m);
  for (size_t i = 0; i < n; i++) {
    const char *id = ids[i] && ids[i]->value ? ids[i]->value : "";
    rec *r = NULL;
    HASH_FIND(hh_id, s->by_id, id, strlen(id), r);
    if (!r || strcmp(r->fw_id, fw->id) != 0) {
      MZ_WARN("master", "%s of framework %s: ignoring inverse offer %.128s: it is no longer valid", what, fw->id, id);
      continue;
    }
    clear_outstanding(s, r);
    r->status = accept ? MESOS__V1__ALLOCATOR__INVERSE_OFFER_STATUS__STATUS__ACCEPT
                       : MESOS__V1__ALLOCATOR__INVERSE_OFFER_STATUS__STATUS__DECLINE;
    r->answered = mz_now();
    r->filter_until = mz_monotonic() + refuse;
    MZ_INFO("master", "framework %s %s the inverse offer %s for agent %s", fw->id, accept ? "accepted" : "declined",
            id, r->agent_id);
  }
}

void mz_iofs_statuses(mz_master *m, const char *agent_id, Mesos__V1__Maintenance__ClusterStatus__DrainingMachine *dm) {
  if (!m->iofs) return;
  rec *r, *tmp;
  HASH_ITER(hh, m->iofs->by_key, r, tmp) {
    if (!r->status || strcmp(r->agent_id, agent_id) != 0) continue;
    Mesos__V1__Allocator__InverseOfferStatus *st = mz_malloc(sizeof *st);
    *st = (Mesos__V1__Allocator__InverseOfferStatus)MESOS__V1__ALLOCATOR__INVERSE_OFFER_STATUS__INIT;
    st->status = (Mesos__V1__Allocator__InverseOfferStatus__Status)r->status;
    st->framework_id = mz_malloc(sizeof *st->framework_id);
    *st->framework_id = (Mesos__V1__FrameworkID)MESOS__V1__FRAMEWORK_ID__INIT;
    st->framework_id->value = mz_strdup(r->fw_id);
    st->timestamp = mz_malloc(sizeof *st->timestamp);
    *st->timestamp = (Mesos__V1__TimeInfo)MESOS__V1__TIME_INFO__INIT;
    st->timestamp->nanoseconds = (int64_t)(r->answered * 1e9);
    dm->statuses = mz_realloc(dm->statuses, (dm->n_statuses + 1) * sizeof *dm->statuses);
    dm->statuses[dm->n_statuses++] = st;
  }
}

size_t mz_iofs_outstanding(const mz_master *m) { return m->iofs ? m->iofs->outstanding : 0; }

void mz_iofs_free(mz_master *m) {
  struct mz_iofs *s = m->iofs;
  if (!s) return;
  rec *r, *tmp;
  HASH_ITER(hh, s->by_key, r, tmp) rec_free(s, r);
  if (s->timer) event_free(s->timer);
  free(s);
  m->iofs = NULL;
}
