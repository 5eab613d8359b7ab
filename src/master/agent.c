/* agent: see agent.h. */
#include "master/agent.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "common/intern.h"
#include "common/log.h"
#include "master/operator_events.h"
#include "master/agent_link.h"
#include "master/allocator.h"
#include "master/maintenance.h"
#include "master/events.h"
#include "master/executor.h"
#include "master/framework.h"
#include "master/offer.h"
#include "master/pbutil.h"
#include "master/registry_master.h"
#include "master/task.h"

#define MAX_REMOVED_AGENTS 100000 /* ids remembered to refuse re-registration after removal */

typedef struct mz_removed_agent {
  char *id;
  UT_hash_handle hh;
  struct mz_removed_agent *prev, *next;
} mz_removed_agent;

const char *mz_agent_key(const void *a) { return ((const mz_agent *)a)->id; }

mz_agent *mz_agent_find(mz_master *m, const char *id) {
  return id ? mz_idx_get(&m->agent_idx, id) : NULL;
}

const char *mz_agent_ip(const mz_agent *a) { return a->ip[0] ? a->ip : "127.0.0.1"; }

int mz_agent_send(mz_agent *a, Mezzo__Internal__AgentEvent *ev) {
  if (!a->link) return -1;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  aid.value = a->id;
  ev->agent_id = &aid;
  int rc = mz_link_send(a->link, ev);
  ev->agent_id = NULL;
  return rc;
}

static void set_ip(mz_agent *a, mz_link *link) {
  struct in6_addr tmp;
  if (inet_pton(AF_INET, a->hostname, &tmp) == 1 || inet_pton(AF_INET6, a->hostname, &tmp) == 1) {
    mz_strlcpy(a->ip, a->hostname, sizeof a->ip);
  } else if (link && link->peer[0]) {
    mz_strlcpy(a->ip, link->peer, sizeof a->ip);
    char *colon = strrchr(a->ip, ':'); /* "ip:port" */
    if (colon) *colon = 0;
    if (a->ip[0] == '[') { /* "[v6]:port" */
      memmove(a->ip, a->ip + 1, strlen(a->ip));
      char *rb = strchr(a->ip, ']');
      if (rb) *rb = 0;
    }
  }
  free(a->pid);
  size_t n = strlen(mz_agent_ip(a)) + 32;
  a->pid = mz_malloc(n);
  snprintf(a->pid, n, "slave(1)@%s:%d", mz_agent_ip(a), a->port);
}

static void attach(mz_agent *a, mz_link *link) {
  if (a->link == link) return;
  if (a->link) {
    DL_DELETE2(a->link->agents, a, link_prev, link_next);
    a->link->nagents--;
  }
  a->link = link;
  if (link) {
    DL_APPEND2(link->agents, a, link_prev, link_next);
    link->nagents++;
  }
}

static void send_registered(mz_agent *a, const char *link_key) {
  mz_master *m = a->m;
  Mezzo__Internal__AgentEvent ev = MEZZO__INTERNAL__AGENT_EVENT__INIT;
  Mezzo__Internal__AgentEvent__Registered reg = MEZZO__INTERNAL__AGENT_EVENT__REGISTERED__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  aid.value = a->id;
  reg.agent_id = &aid;
  reg.has_ping_interval_seconds = 1;
  reg.ping_interval_seconds = m->flags.agent_ping_timeout;
  ev.type = MEZZO__INTERNAL__AGENT_EVENT__TYPE__REGISTERED;
  ev.registered = &reg;
  ev.link_key = (char *)link_key;
  mz_agent_send(a, &ev);
}

static bool was_removed(mz_master *m, const char *id) {
  mz_removed_agent *r = NULL;
  HASH_FIND_STR(m->removed_agents, id, r);
  return r != NULL;
}

void mz_agent_remember_removed(mz_master *m, const char *id) {
  if (was_removed(m, id)) return;
  mz_removed_agent *r = mz_calloc(1, sizeof *r);
  r->id = mz_strdup(id);
  HASH_ADD_KEYPTR(hh, m->removed_agents, r->id, strlen(r->id), r);
  DL_APPEND(m->removed_order, r);
  if (++m->nremoved_agents > MAX_REMOVED_AGENTS) {
    mz_removed_agent *old = m->removed_order;
    DL_DELETE(m->removed_order, old);
    HASH_DEL(m->removed_agents, old);
    free(old->id);
    free(old);
    m->nremoved_agents--;
  }
}

/* Frameworks named by the agent, by id (NULL if absent). */
static const Mesos__V1__FrameworkInfo *reported_framework(const Mezzo__Internal__AgentCall__Register *reg,
                                                          const char *id) {
  for (size_t i = 0; i < reg->n_frameworks; i++) {
    const Mesos__V1__FrameworkInfo *fi = reg->frameworks[i];
    if (fi && fi->id && fi->id->value && !strcmp(fi->id->value, id)) return fi;
  }
  return NULL;
}

static const char *role_of(const mz_resources *r) {
  for (size_t i = 0; i < r->n; i++)
    if (r->v[i].alloc_role) return r->v[i].alloc_role;
  return NULL;
}

/* Resources reported by the agent for a task or executor, in allocated form. */
static mz_resources *reported_resources(mz_framework *fw, Mesos__V1__Resource *const *res, size_t n) {
  char err[256];
  mz_resources *r = mz_resources_from_proto(res, n, err, sizeof err);
  if (!r) return mz_resources_new();
  if (!role_of(r)) mz_resources_set_alloc_role(r, fw->nroles ? fw->roles[0] : "*");
  return r;
}

static void adopt_executors(mz_agent *a, const Mezzo__Internal__AgentCall__Register *reg) {
  mz_master *m = a->m;
  for (size_t i = 0; i < reg->n_executors; i++) {
    const Mesos__V1__ExecutorInfo *ei = reg->executors[i];
    if (!ei->executor_id || !ei->framework_id || !ei->framework_id->value) continue;
    const char *fid = ei->framework_id->value;
    if (mz_executor_find(a, fid, ei->executor_id->value)) continue;
    mz_framework *fw = mz_framework_find(m, fid);
    if (!fw) fw = mz_framework_recover(m, reported_framework(reg, fid), fid);
    mz_resources *res = reported_resources(fw, ei->resources, ei->n_resources);
    if (m->alloc_ops->add_allocation(m->alloc, a->id, fid, res) != 0)
      MZ_WARN("master", "agent %s: executor %s resources exceed the agent's free resources", a->id,
              ei->executor_id->value);
    mz_executor_add(a, fw, fid, ei, res);
    MZ_INFO("master", "agent %s: adopted executor %s of framework %s", a->id, ei->executor_id->value, fid);
  }
}

/* Tasks the agent reports: known ones stay, unknown ones are adopted. */
static void adopt_tasks(mz_agent *a, const Mezzo__Internal__AgentCall__Register *reg, bool was_unreachable) {
  mz_master *m = a->m;
  for (size_t i = 0; i < reg->n_tasks; i++) {
    const Mesos__V1__Task *rt = reg->tasks[i];
    if (!rt->task_id || !rt->framework_id || !rt->task_id->value || !rt->framework_id->value) continue;
    const char *fid = rt->framework_id->value;
    char err[256];
    if (mz_id_valid(rt->task_id->value, err, sizeof err) != 0 || mz_id_valid(fid, err, sizeof err) != 0) continue;
    mz_framework *fw = mz_framework_find(m, fid);
    if (!fw) fw = mz_framework_recover(m, reported_framework(reg, fid), fid);
    mz_task *t = mz_task_find(fw, rt->task_id->value);
    if (t) {
      if (t->agent != a) MZ_WARN("master", "task %s reported by agent %s but known on agent %s", t->id, a->id, t->agent_id);
      continue;
    }
    mz_task *gone = mz_task_find_unreachable(fw, rt->task_id->value);
    if (gone) mz_task_forget_unreachable(fw, gone); /* back with its agent: live again below */
    mz_resources *res = reported_resources(fw, rt->resources, rt->n_resources);
    const char *role = role_of(res);
    bool final = mz_task_state_terminal(rt->state) || rt->state == MESOS__V1__TASK_STATE__TASK_UNREACHABLE;
    if (!final && m->alloc_ops->add_allocation(m->alloc, a->id, fid, res) != 0)
      MZ_WARN("master", "agent %s: task %s resources exceed the agent's free resources", a->id, rt->task_id->value);
    const char *eid = rt->executor_id && rt->executor_id->value && *rt->executor_id->value ? rt->executor_id->value : NULL;
    t = mz_task_add(fw, a, rt->task_id->value, rt->name, eid, res, role, rt->user, rt->state);
    if (rt->has_status_update_state && rt->has_status_update_uuid) {
      /* Nothing to resend: the agent retries its own unacknowledged updates. */
    }
    MZ_INFO("master", "agent %s: adopted task %s of framework %s in %s", a->id, t->id, fid,
            mz_task_state_name(t->state));
    /* Back from a partition: partition-aware frameworks learn the state the agent reports (Mesos). */
    if (was_unreachable && fw->partition_aware && !final)
      mz_status_send(fw, t->id, a->id, t->executor_id, t->state, MESOS__V1__TASK_STATUS__REASON__REASON_AGENT_REREGISTERED,
                     "Agent re-registered after being unreachable", false);
  }
}

/* Tasks the master has on the agent that the agent did not report are gone. */
static void reconcile_missing(mz_agent *a, const Mezzo__Internal__AgentCall__Register *reg) {
  mz_task *t, *tmp;
  DL_FOREACH_SAFE2(a->tasks, t, tmp, agent_next) {
    bool found = false;
    for (size_t i = 0; i < reg->n_tasks && !found; i++) {
      const Mesos__V1__Task *rt = reg->tasks[i];
      found = rt->task_id && rt->framework_id && rt->task_id->value && rt->framework_id->value &&
              !strcmp(rt->task_id->value, t->id) && !strcmp(rt->framework_id->value, t->framework_id);
    }
    if (found) continue;
    if (mz_task_state_terminal(t->state)) {
      mz_task_remove(t);
      continue;
    }
    Mesos__V1__TaskState st = t->fw->partition_aware ? MESOS__V1__TASK_STATE__TASK_DROPPED : MESOS__V1__TASK_STATE__TASK_LOST;
    mz_task_transition(t, st, MESOS__V1__TASK_STATUS__REASON__REASON_RECONCILIATION,
                       "Task is unknown to the agent at its re-registration");
  }
  mz_executor *ex, *etmp;
  HASH_ITER(hh, a->executors, ex, etmp) {
    bool found = false;
    for (size_t i = 0; i < reg->n_executors && !found; i++) {
      const Mesos__V1__ExecutorInfo *ei = reg->executors[i];
      found = ei->executor_id && ei->framework_id && !strcmp(ei->executor_id->value, ex->id) &&
              !strcmp(ei->framework_id->value, ex->framework_id);
    }
    if (!found && ex->ntasks == 0) mz_executor_remove(ex, true);
  }
}

static void cancel_marking(mz_agent *a) {
  if (!a->marking) return;
  DL_DELETE2(a->m->unreachable_queue, a, mark_prev, mark_next);
  a->marking = false;
  a->m->metrics.slave_unreachable_canceled++;
  MZ_INFO("master", "agent %s came back: no longer to be marked unreachable", a->id);
}

static void reregister(mz_agent *a, mz_link *link, const Mezzo__Internal__AgentCall *call, bool was_unreachable) {
  mz_master *m = a->m;
  const Mezzo__Internal__AgentCall__Register *reg = call->register_;
  m->metrics.messages_reregister_slave++;
  m->metrics.slave_reregistrations++;
  attach(a, link);
  mz_timerq_remove(&m->agent_removals, &a->removal);
  cancel_marking(a);
  if (reg->version) {
    free(a->version);
    a->version = mz_strdup(reg->version);
  }
  set_ip(a, link);
  a->reregistered_time = mz_now();
  bool was_connected = a->connected;
  a->connected = true;
  a->active = !a->deactivated; /* a drained or deactivated agent stays so */
  send_registered(a, call->link_key);
  reconcile_missing(a, reg);
  adopt_executors(a, reg);
  adopt_tasks(a, reg, was_unreachable);
  if (!was_connected && a->active) m->alloc_ops->activate_agent(m->alloc, a->id);
  MZ_INFO("master", "agent %s (%s) re-registered on link %s with %zu task(s)", a->id, a->hostname, link->id,
          a->ntasks);
}

static mz_agent *agent_new(mz_master *m, const char *id, const Mesos__V1__AgentInfo *info, mz_resources *total) {
  mz_agent *a = mz_calloc(1, sizeof *a);
  a->m = m;
  a->id = mz_strdup(id);
  a->iid = mz_intern(id);
  a->info = mz_pb_dup(info);
  if (!a->info->id) {
    a->info->id = mz_calloc(1, sizeof *a->info->id);
    mesos__v1__agent_id__init(a->info->id);
  } else {
    free(a->info->id->value);
  }
  a->info->id->value = mz_strdup(id);
  a->hostname = mz_strdup(info->hostname);
  a->port = info->has_port ? info->port : 5051;
  a->total = total;
  a->used = mz_resources_new();
  a->offered = mz_resources_new();
  a->registered_time = a->reregistered_time = mz_now();
  HASH_ADD_KEYPTR(hh, m->agents, a->id, strlen(a->id), a);
  mz_idx_put(&m->agent_idx, a);
  m->nagents++;
  return a;
}

void mz_agent_register(mz_link *link, const Mezzo__Internal__AgentCall *call) {
  mz_master *m = link->m;
  const char *key = call->link_key;
  char err[512];
  const Mezzo__Internal__AgentCall__Register *reg = call->register_;
  if (!reg || !reg->agent_info) {
    m->metrics.invalid_agent_calls++;
    mz_link_send_error(link, key, NULL, "Expecting 'register' to be present");
    return;
  }
  const Mesos__V1__AgentInfo *info = reg->agent_info;
  if (!info->hostname || !*info->hostname || strlen(info->hostname) > 255) {
    m->metrics.invalid_agent_calls++;
    mz_link_send_error(link, key, NULL, "'AgentInfo.hostname' must be a non-empty name of at most 255 characters");
    return;
  }
  if (info->has_port && (info->port < 0 || info->port > 65535)) {
    m->metrics.invalid_agent_calls++;
    mz_link_send_error(link, key, NULL, "'AgentInfo.port' is out of range");
    return;
  }
  if (m->maint) { /* maintenance: no agent of a DOWN machine may register */
    mz_agent probe = {.hostname = info->hostname};
    set_ip(&probe, link);
    free(probe.pid);
    if (mz_maintenance_refuses(m, info->hostname, mz_agent_ip(&probe))) {
      MZ_WARN("master", "refusing agent %s (%s): its machine is DOWN for maintenance", info->hostname,
              mz_agent_ip(&probe));
      mz_link_send_error(link, key, NULL, "Agent is on a machine that is DOWN for maintenance");
      return;
    }
  }
  mz_resources *total = mz_resources_from_proto(info->resources, info->n_resources, err, sizeof err);
  if (!total) {
    m->metrics.invalid_agent_calls++;
    char msg[600];
    snprintf(msg, sizeof msg, "Invalid agent resources: %s", err);
    mz_link_send_error(link, key, NULL, msg);
    return;
  }
  mz_resources_set_alloc_role(total, NULL);

  const char *id = call->agent_id && call->agent_id->value && *call->agent_id->value ? call->agent_id->value
                   : info->id && info->id->value && *info->id->value                ? info->id->value
                                                                                     : NULL;
  if (id) {
    if (mz_id_valid(id, err, sizeof err) != 0) {
      mz_resources_free(total);
      m->metrics.invalid_agent_calls++;
      char msg[600];
      snprintf(msg, sizeof msg, "Invalid agent id: %s", err);
      mz_link_send_error(link, key, NULL, msg);
      return;
    }
    mz_agent *a = mz_agent_find(m, id);
    if (a) {
      if (!mz_resources_equal(a->total, total))
        MZ_WARN("master", "agent %s re-registered with different resources; keeping the registered ones", id);
      mz_resources_free(total);
      reregister(a, link, call, false);
      return;
    }
    if (was_removed(m, id)) {
      mz_resources_free(total);
      MZ_WARN("master", "agent %s tried to re-register after its removal: telling it to shut down", id);
      Mezzo__Internal__AgentEvent ev = MEZZO__INTERNAL__AGENT_EVENT__INIT;
      Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
      aid.value = (char *)id;
      ev.type = MEZZO__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN;
      ev.agent_id = &aid;
      ev.link_key = (char *)key;
      mz_link_send(link, &ev);
      return;
    }
    if ((long)m->nagents >= m->flags.max_agents) {
      mz_resources_free(total);
      mz_link_send_error(link, key, id, "Too many agents");
      return;
    }
    /* Not registered now: one admitted before the master restarted, one marked
     * unreachable, or one the registry forgot (expired). Recorded as admitted
     * (with the resources the registry knew, reservations included) before it is
     * told it is registered. */
    bool unreachable = false;
    mz_resources *known = mz_registrar_known_total(m, id, &unreachable);
    bool recovered = known && !unreachable;
    if (known) {
      mz_resources_free(total);
      total = known;
    }
    if (mz_registrar_admit(m, id, info, total, err, sizeof err) != 0) {
      mz_resources_free(total);
      mz_link_send_error(link, key, id, "Failed to record the agent in the registry; retry later");
      return;
    }
    MZ_INFO("master", "agent %s re-registering: %s", id,
            recovered ? "recovered from the registry" : unreachable ? "was unreachable" : "unknown to the registry");
    mz_agent *na = agent_new(m, id, info, total);
    if (m->alloc_ops->add_agent(m->alloc, na->id, na->total) != 0)
      MZ_ERROR("master", "allocator refused agent %s", na->id);
    m->alloc_ops->deactivate_agent(m->alloc, na->id);
    na->connected = false;
    reregister(na, link, call, !recovered);
    mz_opevent_agent_added(m, na);
    mz_maintenance_agent_added(na); /* its recorded drain or deactivation, if any */
    return;
  }

  if ((long)m->nagents >= m->flags.max_agents) {
    mz_resources_free(total);
    mz_link_send_error(link, key, NULL, "Too many agents");
    return;
  }
  m->metrics.messages_register_slave++;
  char *nid = mz_master_new_agent_id(m);
  if (mz_registrar_admit(m, nid, info, total, err, sizeof err) != 0) { /* recorded before REGISTERED */
    free(nid);
    mz_resources_free(total);
    mz_link_send_error(link, key, NULL, "Failed to record the agent in the registry; retry later");
    return;
  }
  m->metrics.slave_registrations++;
  mz_agent *a = agent_new(m, nid, info, total);
  free(nid);
  if (reg->version) a->version = mz_strdup(reg->version);
  attach(a, link);
  set_ip(a, link);
  a->connected = true;
  a->active = true;
  send_registered(a, key);
  if (m->alloc_ops->add_agent(m->alloc, a->id, a->total) != 0) MZ_ERROR("master", "allocator refused agent %s", a->id);
  char *res = mz_resources_format(a->total);
  MZ_INFO("master", "registered agent %s (%s) on link %s with %s", a->id, a->hostname, link->id, res ? res : "");
  free(res);
  mz_opevent_agent_added(m, a);
}

void mz_agent_disconnect(mz_agent *a) {
  mz_master *m = a->m;
  if (!a->connected && !a->link) return;
  MZ_INFO("master", "agent %s (%s) disconnected", a->id, a->hostname);
  attach(a, NULL);
  a->connected = false;
  if (a->active) {
    a->active = false;
    m->alloc_ops->deactivate_agent(m->alloc, a->id);
  }
  mz_offer *o, *tmp;
  DL_FOREACH_SAFE2(a->offers, o, tmp, ag_next) mz_offer_rescind(o);
  /* Health checks: a disconnected agent that does not come back within the ping
   * budget is marked unreachable, as one that misses its PINGs. */
  if (!a->marking)
    mz_timerq_add(&m->agent_removals, &a->removal,
                  m->flags.agent_ping_timeout * (double)m->flags.max_agent_ping_timeouts);
}

void mz_agent_removal_cb(mz_timerq_node *node, void *arg) {
  (void)arg;
  mz_agent *a = (mz_agent *)((char *)node - offsetof(mz_agent, removal));
  if (a->connected) return;
  mz_agent_schedule_unreachable(a);
}

static void agent_destroy(mz_agent *a) {
  mz_executor *ex, *etmp;
  HASH_ITER(hh, a->executors, ex, etmp) {
    if (ex->fw) DL_DELETE2(ex->fw->executors, ex, fw_prev, fw_next);
    HASH_DEL(a->executors, ex);
    protobuf_c_message_free_unpacked(&ex->info->base, NULL);
    mz_resources_free(ex->resources);
    free(ex->key);
    free(ex->id);
    free(ex->framework_id);
    free(ex);
  }
  if (a->info) protobuf_c_message_free_unpacked(&a->info->base, NULL);
  mz_resources_free(a->total);
  mz_resources_free(a->used);
  mz_resources_free(a->offered);
  free(a->hostname);
  free(a->version);
  free(a->pid);
  free(a->id);
  mz_intern_release(a->iid);
  free(a);
}

/* The agent leaves m->agents: offers rescinded, live tasks moved to pa_state
 * (PARTITION_AWARE frameworks) or TASK_LOST with msg, FAILURE to their frameworks,
 * out of the allocator, freed. The registry already says why. */
static void drop_agent(mz_agent *a, Mesos__V1__TaskState pa_state, const char *msg) {
  mz_master *m = a->m;
  mz_opevent_agent_removed(m, a->id);
  mz_offer *o, *otmp;
  DL_FOREACH_SAFE2(a->offers, o, otmp, ag_next) mz_offer_rescind(o);
  /* Frameworks with tasks here learn of the agent's loss (FAILURE), once each. */
  mz_framework **told = NULL;
  size_t ntold = 0, cap = 0;
  mz_task *t, *tmp;
  DL_FOREACH_SAFE2(a->tasks, t, tmp, agent_next) {
    mz_framework *fw = t->fw;
    bool seen = false;
    for (size_t i = 0; i < ntold && !seen; i++) seen = told[i] == fw;
    if (!seen) {
      if (ntold == cap) told = mz_realloc(told, (cap = cap ? cap * 2 : 8) * sizeof *told);
      told[ntold++] = fw;
    }
    if (mz_task_state_terminal(t->state)) {
      mz_task_remove(t);
      continue;
    }
    Mesos__V1__TaskState st = fw->partition_aware ? pa_state : MESOS__V1__TASK_STATE__TASK_LOST;
    mz_task_transition(t, st, MESOS__V1__TASK_STATUS__REASON__REASON_AGENT_REMOVED, msg);
  }
  for (size_t i = 0; i < ntold; i++)
    if (told[i]->connected) mz_event_failure(told[i], a->id, NULL, 0, 0);
  free(told);

  m->alloc_ops->remove_agent(m->alloc, a->id);
  mz_timerq_remove(&m->agent_removals, &a->removal);
  cancel_marking(a);
  attach(a, NULL);
  HASH_DEL(m->agents, a);
  mz_idx_del(&m->agent_idx, a->id);
  m->nagents--;
  agent_destroy(a);
}

void mz_agent_remove(mz_agent *a, bool unregistered, const char *why) {
  mz_master *m = a->m;
  char err[512];
  if (mz_registrar_mark_gone(a, err, sizeof err) != 0) /* recorded before it is announced */
    MZ_ERROR("master", "agent %s: %s; removing it from memory only", a->id, err);
  MZ_INFO("master", "removing agent %s (%s): %s", a->id, a->hostname, why);
  m->metrics.slave_removals++;
  if (unregistered) m->metrics.messages_unregister_slave++;
  char msg[512];
  snprintf(msg, sizeof msg, "Agent %s (%s) %s", a->id, a->hostname, unregistered ? "unregistered" : "was removed");
  mz_agent_remember_removed(m, a->id);
  drop_agent(a, MESOS__V1__TASK_STATE__TASK_GONE, msg);
}

void mz_agent_mark_gone(mz_agent *a, const char *why) {
  mz_master *m = a->m;
  char err[512];
  if (mz_registrar_mark_gone(a, err, sizeof err) != 0) /* recorded before it is announced */
    MZ_ERROR("master", "agent %s: %s; marking it gone in memory only", a->id, err);
  MZ_INFO("master", "agent %s (%s) marked gone: %s", a->id, a->hostname, why);
  m->metrics.slave_removals++;
  if (a->connected) { /* it must not come back */
    Mezzo__Internal__AgentEvent ev = MEZZO__INTERNAL__AGENT_EVENT__INIT;
    ev.type = MEZZO__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN;
    mz_agent_send(a, &ev);
  }
  char msg[512];
  snprintf(msg, sizeof msg, "Agent %s (%s) was marked gone by the operator", a->id, a->hostname);
  mz_agent_remember_removed(m, a->id);
  drop_agent(a, MESOS__V1__TASK_STATE__TASK_GONE_BY_OPERATOR, msg);
}

/* Marks one agent unreachable: recorded first; then its tasks go UNREACHABLE / LOST. */
static void mark_unreachable(mz_agent *a) {
  mz_master *m = a->m;
  char err[512];
  if (mz_registrar_mark_unreachable(m, &a, 1, err, sizeof err) != 0) {
    MZ_ERROR("master", "cannot mark agent %s unreachable now (%s): trying again in 1s", a->id, err);
    mz_timerq_add(&m->agent_removals, &a->removal, 1.0);
    return;
  }
  MZ_WARN("master", "agent %s (%s) marked unreachable", a->id, a->hostname);
  m->metrics.slave_removals++;
  m->metrics.slave_unreachable_completed++;
  char msg[512];
  snprintf(msg, sizeof msg, "Agent %s (%s) is unreachable", a->id, a->hostname);
  drop_agent(a, MESOS__V1__TASK_STATE__TASK_UNREACHABLE, msg);
}

/* Marks queued agents as fast as the rate limit allows; arms the timer for the rest. */
static void run_unreachable_queue(mz_master *m) {
  while (m->unreachable_queue) {
    double now = mz_monotonic();
    if (m->removal_interval > 0 && now < m->next_removal) {
      double t = m->next_removal - now;
      struct timeval tv = {(time_t)t, (suseconds_t)((t - floor(t)) * 1e6)};
      event_add(m->unreachable_ev, &tv);
      return;
    }
    mz_agent *a = m->unreachable_queue;
    DL_DELETE2(m->unreachable_queue, a, mark_prev, mark_next);
    a->marking = false;
    if (m->removal_interval > 0) m->next_removal = now + m->removal_interval;
    mark_unreachable(a);
  }
}

void mz_agent_unreachable_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  run_unreachable_queue(arg);
}

void mz_agent_schedule_unreachable(mz_agent *a) {
  mz_master *m = a->m;
  if (a->marking) return;
  mz_timerq_remove(&m->agent_removals, &a->removal);
  a->marking = true;
  m->metrics.slave_unreachable_scheduled++;
  DL_APPEND2(m->unreachable_queue, a, mark_prev, mark_next);
  if (m->removal_interval > 0)
    MZ_INFO("master", "agent %s failed health checks: to be marked unreachable (rate limit %s)", a->id,
            m->flags.agent_removal_rate_limit);
  run_unreachable_queue(m);
}

void mz_agent_free(mz_agent *a) {
  mz_task *t, *tmp;
  DL_FOREACH_SAFE2(a->tasks, t, tmp, agent_next) t->agent = NULL;
  agent_destroy(a);
}

void mz_agent_forget_removed(mz_master *m) {
  mz_removed_agent *r, *tmp;
  HASH_ITER(hh, m->removed_agents, r, tmp) {
    HASH_DEL(m->removed_agents, r);
    free(r->id);
    free(r);
  }
  m->removed_order = NULL;
  m->nremoved_agents = 0;
}

void mz_agent_write(mz_jw *w, const mz_agent *a) {
  mz_jw_object(w);
  mz_jw_kstring(w, "id", a->id);
  mz_jw_kstring(w, "pid", a->pid ? a->pid : "");
  mz_jw_kstring(w, "hostname", a->hostname);
  mz_jw_kint(w, "port", a->port);
  mz_jw_kreal(w, "registered_time", a->registered_time);
  if (a->reregistered_time != a->registered_time) mz_jw_kreal(w, "reregistered_time", a->reregistered_time);
  mz_jw_key(w, "resources");
  mz_resources_summary_write(w, a->total);
  mz_jw_key(w, "used_resources");
  mz_resources_summary_write(w, a->used);
  mz_jw_key(w, "offered_resources");
  mz_resources_summary_write(w, a->offered);
  mz_jw_key(w, "reserved_resources");
  mz_jw_object(w);
  for (size_t i = 0; i < a->total->n; i++) {
    const char *role = a->total->v[i].role;
    if (a->total->v[i].resv == MZ_RESV_NONE) continue;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = a->total->v[j].resv != MZ_RESV_NONE && !strcmp(a->total->v[j].role, role);
    if (seen) continue;
    mz_resources *r = mz_resources_reserved_to(a->total, role);
    mz_jw_key(w, role);
    mz_resources_summary_write(w, r);
    mz_resources_free(r);
  }
  mz_jw_object_end(w);
  mz_resources *unres = mz_resources_reserved_to(a->total, "*");
  mz_jw_key(w, "unreserved_resources");
  mz_resources_summary_write(w, unres);
  mz_resources_free(unres);
  mz_jw_key(w, "attributes");
  if (a->info->n_attributes) mz_jw_json_new(w, mz_attributes_json(a->info->attributes, a->info->n_attributes));
  else {
    mz_jw_object(w);
    mz_jw_object_end(w);
  }
  mz_jw_kbool(w, "active", a->active);
  mz_jw_kbool(w, "deactivated", a->deactivated);
  if (a->drain_state) {
    mz_jw_key(w, "drain_info");
    mz_jw_object(w);
    mz_jw_kstring(w, "state", a->drain_state == MESOS__V1__DRAIN_STATE__DRAINED ? "DRAINED" : "DRAINING");
    mz_jw_key(w, "config");
    mz_jw_object(w);
    mz_jw_kbool(w, "mark_gone", a->drain_mark_gone);
    if (a->drain_grace >= 0) {
      mz_jw_key(w, "max_grace_period");
      mz_jw_object(w);
      mz_jw_kint(w, "nanoseconds", (int64_t)(a->drain_grace * 1e9));
      mz_jw_object_end(w);
    }
    mz_jw_object_end(w);
    mz_jw_object_end(w);
  }
  mz_jw_kbool(w, "connected", a->connected);
  mz_jw_kstring(w, "version", a->version ? a->version : "");
  mz_jw_key(w, "capabilities");
  mz_jw_array(w);
  mz_jw_array_end(w);
  mz_jw_object_end(w);
}

static void agent_write(mz_jw *w, const void *a) { mz_agent_write(w, a); }

json_t *mz_agent_json(const mz_agent *a) { return mz_jw_to_json(agent_write, a); }
