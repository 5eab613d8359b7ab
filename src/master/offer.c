/* offer: see offer.h. */
#include "master/offer.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "common/log.h"
#include "master/agent.h"
#include "master/allocator.h"
#include "master/events.h"
#include "master/framework.h"
#include "master/maintenance.h"
#include "master/pbutil.h"

#define MAX_OFFERS_PER_EVENT 1024

const char *mz_offer_key(const void *o) { return ((const mz_offer *)o)->id; }

mz_offer *mz_offer_find(mz_master *m, const char *id) {
  return id ? mz_idx_get(&m->offer_idx, id) : NULL;
}

mz_offer *mz_offer_on_agent(mz_agent *agent, mz_framework *fw) {
  mz_offer *o;
  DL_FOREACH2(agent->offers, o, ag_next) {
    if (o->fw == fw) return o;
  }
  return NULL;
}

int mz_offer_make(mz_master *m, const char *fw_id, const char *agent_id, const char *role, const mz_resources *res) {
  mz_framework *fw = mz_framework_find(m, fw_id);
  mz_agent *agent = mz_agent_find(m, agent_id);
  if (!fw || !agent || !fw->active || !fw->connected || !agent->active || !agent->connected) return -1;
  if (!mz_framework_has_role(fw, role)) return -1;
  if (mz_offer_on_agent(agent, fw)) return -1;

  mz_offer *o = mz_calloc(1, sizeof *o);
  o->id = mz_master_new_offer_id(m);
  o->fw = fw;
  o->agent = agent;
  o->role = mz_strdup(role);
  o->resources = mz_resources_copy(res);
  mz_resources_set_alloc_role(o->resources, role);
  o->created = mz_now();
  HASH_ADD_KEYPTR(hh, m->offers, o->id, strlen(o->id), o);
  mz_idx_put(&m->offer_idx, o);
  m->noffers++;
  DL_APPEND2(fw->offers, o, fw_prev, fw_next);
  fw->noffers++;
  DL_APPEND2(agent->offers, o, ag_prev, ag_next);
  char err[256];
  if (mz_resources_add_scalars(fw->offered, o->resources, err, sizeof err) != 0 ||
      mz_resources_add(agent->offered, o->resources, err, sizeof err) != 0)
    MZ_ERROR("master", "offer %s: cannot account offered resources: %s", o->id, err);
  if (m->flags.offer_timeout > 0) mz_timerq_add(&m->offer_timeouts, &o->timeout, m->flags.offer_timeout);

  /* Batch it for mz_offers_flush. */
  o->batch_next = fw->batch;
  fw->batch = o;
  if (!fw->in_batch) {
    fw->in_batch = true;
    fw->batch_next = m->offer_batch;
    m->offer_batch = fw;
  }
  return 0;
}

static Mesos__V1__Offer *offer_proto(const mz_offer *o) {
  Mesos__V1__Offer *p = mz_calloc(1, sizeof *p);
  mesos__v1__offer__init(p);
  p->id = mz_calloc(1, sizeof *p->id);
  mesos__v1__offer_id__init(p->id);
  p->id->value = mz_strdup(o->id);
  p->framework_id = mz_calloc(1, sizeof *p->framework_id);
  mesos__v1__framework_id__init(p->framework_id);
  p->framework_id->value = mz_strdup(o->fw->id);
  p->agent_id = mz_calloc(1, sizeof *p->agent_id);
  mesos__v1__agent_id__init(p->agent_id);
  p->agent_id->value = mz_strdup(o->agent->id);
  p->hostname = mz_strdup(o->agent->hostname);

  p->url = mz_calloc(1, sizeof *p->url);
  mesos__v1__url__init(p->url);
  p->url->scheme = mz_strdup("http");
  p->url->address = mz_calloc(1, sizeof *p->url->address);
  mesos__v1__address__init(p->url->address);
  p->url->address->hostname = mz_strdup(o->agent->hostname);
  p->url->address->ip = mz_strdup(mz_agent_ip(o->agent));
  p->url->address->port = o->agent->port;
  p->url->path = mz_strdup("/slave(1)");

  size_t n = 0;
  p->resources = mz_resources_to_proto(o->resources, &n);
  p->n_resources = n;

  /* Attributes: copies of the agent's. */
  Mesos__V1__AgentInfo *ai = o->agent->info;
  if (ai && ai->n_attributes) {
    p->attributes = mz_calloc(ai->n_attributes, sizeof *p->attributes);
    for (size_t i = 0; i < ai->n_attributes; i++) p->attributes[i] = mz_pb_dup(ai->attributes[i]);
    p->n_attributes = ai->n_attributes;
  }

  /* Executors of this framework already on the agent (the agent's own few, not
   * all of the framework's: that would be O(cluster) per offer). */
  size_t nex = 0;
  mz_executor *ex, *etmp;
  HASH_ITER(hh, o->agent->executors, ex, etmp) {
    if (ex->fw == o->fw) nex++;
  }
  if (nex) {
    p->executor_ids = mz_calloc(nex, sizeof *p->executor_ids);
    HASH_ITER(hh, o->agent->executors, ex, etmp) {
      if (ex->fw != o->fw) continue;
      Mesos__V1__ExecutorID *e = mz_calloc(1, sizeof *e);
      mesos__v1__executor_id__init(e);
      e->value = mz_strdup(ex->id);
      p->executor_ids[p->n_executor_ids++] = e;
    }
  }

  p->unavailability = mz_maintenance_unavailability(o->agent); /* its machine's maintenance, if scheduled */

  p->allocation_info = mz_calloc(1, sizeof *p->allocation_info);
  mesos__v1__resource__allocation_info__init(p->allocation_info);
  p->allocation_info->role = mz_strdup(o->role);
  return p;
}

static void send_offers(mz_framework *fw, mz_offer **list, size_t n) {
  Mesos__V1__Scheduler__Event ev = MESOS__V1__SCHEDULER__EVENT__INIT;
  Mesos__V1__Scheduler__Event__Offers offers = MESOS__V1__SCHEDULER__EVENT__OFFERS__INIT;
  Mesos__V1__Offer **protos = mz_calloc(n, sizeof *protos);
  for (size_t i = 0; i < n; i++) {
    protos[i] = offer_proto(list[i]);
    list[i]->sent = true;
  }
  offers.n_offers = n;
  offers.offers = protos;
  ev.has_type = 1;
  ev.type = MESOS__V1__SCHEDULER__EVENT__TYPE__OFFERS;
  ev.offers = &offers;
  if (mz_event_send(fw, &ev) == 0) {
    fw->offers_sent += n;
    fw->m->metrics.offers_sent += n;
  }
  for (size_t i = 0; i < n; i++) protobuf_c_message_free_unpacked(&protos[i]->base, NULL);
  free(protos);
}

void mz_offers_flush(mz_master *m) {
  mz_framework *fw = m->offer_batch;
  m->offer_batch = NULL;
  while (fw) {
    mz_framework *next = fw->batch_next;
    fw->batch_next = NULL;
    fw->in_batch = false;
    /* The batch list is newest first; send in creation order. */
    size_t n = 0;
    for (mz_offer *o = fw->batch; o; o = o->batch_next) n++;
    mz_offer **list = mz_calloc(n ? n : 1, sizeof *list);
    size_t i = n;
    for (mz_offer *o = fw->batch; o; o = o->batch_next) list[--i] = o;
    for (size_t k = 0; k < n; k++) list[k]->batch_next = NULL;
    fw->batch = NULL;
    for (size_t off = 0; off < n; off += MAX_OFFERS_PER_EVENT) {
      size_t cnt = n - off < MAX_OFFERS_PER_EVENT ? n - off : MAX_OFFERS_PER_EVENT;
      send_offers(fw, list + off, cnt);
    }
    if (n) MZ_INFO("master", "sent %zu offer(s) to framework %s", n, fw->id);
    free(list);
    fw = next;
  }
}

/* Takes o out of its framework's pending batch (only while a pass is being flushed). */
static void unbatch(mz_offer *o) {
  mz_framework *fw = o->fw;
  mz_offer **pp = &fw->batch;
  while (*pp) {
    if (*pp == o) {
      *pp = o->batch_next;
      o->batch_next = NULL;
      return;
    }
    pp = &(*pp)->batch_next;
  }
}

void mz_offer_remove(mz_offer *o) {
  mz_master *m = o->fw->m;
  unbatch(o);
  mz_timerq_remove(&m->offer_timeouts, &o->timeout);
  HASH_DEL(m->offers, o);
  mz_idx_del(&m->offer_idx, o->id);
  m->noffers--;
  DL_DELETE2(o->fw->offers, o, fw_prev, fw_next);
  o->fw->noffers--;
  DL_DELETE2(o->agent->offers, o, ag_prev, ag_next);
  mz_resources_free(o->resources);
  free(o->role);
  free(o->id);
  free(o);
}

void mz_offer_discard(mz_offer *o, double refuse_seconds) {
  mz_master *m = o->fw->m;
  char err[256];
  if (mz_resources_subtract_scalars(o->fw->offered, o->resources, err, sizeof err) != 0)
    MZ_WARN("master", "offer %s: framework offered: %s", o->id, err);
  if (mz_resources_subtract(o->agent->offered, o->resources, err, sizeof err) != 0)
    MZ_WARN("master", "offer %s: agent offered: %s", o->id, err);
  m->alloc_ops->recover(m->alloc, o->agent->id, o->fw->id, o->resources, refuse_seconds);
  mz_offer_remove(o);
}

void mz_offer_rescind(mz_offer *o) {
  mz_master *m = o->fw->m;
  MZ_INFO("master", "rescinding offer %s of framework %s on agent %s", o->id, o->fw->id, o->agent->id);
  if (o->sent) mz_event_rescind(o->fw, o->id); /* an offer never sent needs no RESCIND */
  o->fw->offers_rescinded++;
  m->metrics.offers_rescinded++;
  mz_offer_discard(o, 0);
}

void mz_offer_timeout_cb(mz_timerq_node *node, void *arg) {
  (void)arg;
  mz_offer *o = (mz_offer *)((char *)node - offsetof(mz_offer, timeout));
  o->fw->m->metrics.offers_expired++;
  MZ_INFO("master", "offer %s expired after --offer_timeout", o->id);
  mz_offer_rescind(o);
}

json_t *mz_offer_json(const mz_offer *o) {
  json_t *obj = json_object();
  json_object_set_new(obj, "id", json_string(o->id));
  json_object_set_new(obj, "framework_id", json_string(o->fw->id));
  json_t *ai = json_object();
  json_object_set_new(ai, "role", json_string(o->role));
  json_object_set_new(obj, "allocation_info", ai);
  json_object_set_new(obj, "slave_id", json_string(o->agent->id));
  json_object_set_new(obj, "resources", mz_resources_summary_json(o->resources));
  return obj;
}
