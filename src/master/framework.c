/* framework: see framework.h. */
#include "master/framework.h"

#include <ctype.h>
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "common/intern.h"
#include "common/log.h"
#include "master/operator_events.h"
#include "master/agent.h"
#include "master/allocator.h"
#include "master/events.h"
#include "master/executor.h"
#include "master/offer.h"
#include "master/pbutil.h"
#include "master/task.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* FrameworkInfo.role is deprecated but still used */

mz_framework *mz_framework_find(mz_master *m, const char *id) {
  mz_framework *fw = NULL;
  if (id) HASH_FIND_STR(m->frameworks, id, fw);
  return fw;
}

bool mz_framework_has_role(const mz_framework *fw, const char *role) {
  for (size_t i = 0; i < fw->nroles; i++)
    if (!strcmp(fw->roles[i], role)) return true;
  return false;
}

static bool has_capability(const Mesos__V1__FrameworkInfo *fi, Mesos__V1__FrameworkInfo__Capability__Type t) {
  for (size_t i = 0; i < fi->n_capabilities; i++)
    if (fi->capabilities[i]->has_type && fi->capabilities[i]->type == t) return true;
  return false;
}

static bool role_is_set(const Mesos__V1__FrameworkInfo *fi) { return fi->role && strcmp(fi->role, "*") != 0; }

/* Mesos's FrameworkInfo validation (roles, id, failover timeout) and suppressed roles. */
int mz_framework_validate_info(const Mesos__V1__FrameworkInfo *fi, char *const *suppressed, size_t nsuppressed,
                               char *err, size_t errlen) {
  char why[256];
  bool multi = has_capability(fi, MESOS__V1__FRAMEWORK_INFO__CAPABILITY__TYPE__MULTI_ROLE);
  if (multi) {
    if (role_is_set(fi)) {
      snprintf(err, errlen, "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable");
      return -1;
    }
    for (size_t i = 0; i < fi->n_roles; i++) {
      if (mz_role_valid(fi->roles[i], true, why, sizeof why) != 0) {
        snprintf(err, errlen, "'FrameworkInfo.roles' contains invalid role: %s", why);
        return -1;
      }
      for (size_t j = 0; j < i; j++)
        if (!strcmp(fi->roles[i], fi->roles[j])) {
          snprintf(err, errlen, "'FrameworkInfo.roles' contains duplicate items: %s", fi->roles[i]);
          return -1;
        }
    }
  } else {
    if (fi->n_roles > 0) {
      snprintf(err, errlen, "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable");
      return -1;
    }
    if (fi->role && mz_role_valid(fi->role, true, why, sizeof why) != 0) {
      snprintf(err, errlen, "'FrameworkInfo.role' is not a valid role: %s", why);
      return -1;
    }
  }
  if (fi->id && mz_id_valid(fi->id->value, why, sizeof why) != 0) {
    snprintf(err, errlen, "'FrameworkInfo.id' is invalid: %s", why);
    return -1;
  }
  if (fi->has_failover_timeout && (isnan(fi->failover_timeout) || fi->failover_timeout < 0 ||
                                   fi->failover_timeout > 1e12)) {
    snprintf(err, errlen, "Illegal 'FrameworkInfo.failover_timeout': %g", fi->failover_timeout);
    return -1;
  }
  for (size_t i = 0; i < nsuppressed; i++) {
    bool found = false;
    if (multi) {
      for (size_t j = 0; j < fi->n_roles; j++) found |= !strcmp(suppressed[i], fi->roles[j]);
    } else {
      found = !strcmp(suppressed[i], fi->role ? fi->role : "*");
    }
    if (!found) {
      snprintf(err, errlen, "Suppressed role '%s' is not contained in the set of roles", suppressed[i]);
      return -1;
    }
  }
  return 0;
}

void mz_framework_set_roles(mz_framework *fw) {
  for (size_t i = 0; i < fw->nroles; i++) free(fw->roles[i]);
  free(fw->roles);
  free(fw->suppressed);
  const Mesos__V1__FrameworkInfo *fi = fw->info;
  fw->multi_role = has_capability(fi, MESOS__V1__FRAMEWORK_INFO__CAPABILITY__TYPE__MULTI_ROLE);
  fw->partition_aware = has_capability(fi, MESOS__V1__FRAMEWORK_INFO__CAPABILITY__TYPE__PARTITION_AWARE);
  if (fw->multi_role) {
    fw->nroles = fi->n_roles;
    fw->roles = mz_calloc(fw->nroles ? fw->nroles : 1, sizeof *fw->roles);
    for (size_t i = 0; i < fw->nroles; i++) fw->roles[i] = mz_strdup(fi->roles[i]);
  } else {
    fw->nroles = 1;
    fw->roles = mz_calloc(1, sizeof *fw->roles);
    fw->roles[0] = mz_strdup(fi->role && *fi->role ? fi->role : "*");
  }
  fw->suppressed = mz_calloc(fw->nroles ? fw->nroles : 1, sizeof *fw->suppressed);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  mz_framework *fw = arg;
  if (fw->connected) mz_event_heartbeat(fw);
}

static void on_failover_timeout(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  mz_framework *fw = arg;
  if (fw->connected) return;
  MZ_INFO("master", "framework %s did not re-subscribe within its failover timeout", fw->id);
  mz_framework_remove(fw, "failover timeout elapsed");
}

static mz_framework *framework_new(mz_master *m, const Mesos__V1__FrameworkInfo *info, const char *id) {
  mz_framework *fw = mz_calloc(1, sizeof *fw);
  mz_idx_init(&fw->task_idx, mz_task_key);
  fw->m = m;
  fw->id = mz_strdup(id);
  fw->iid = mz_intern(id);
  fw->info = mz_pb_dup(info);
  if (!fw->info->id) {
    fw->info->id = mz_calloc(1, sizeof *fw->info->id);
    mesos__v1__framework_id__init(fw->info->id);
  } else {
    free(fw->info->id->value);
  }
  fw->info->id->value = mz_strdup(id);
  mz_framework_set_roles(fw);
  fw->used = mz_resources_new();
  fw->offered = mz_resources_new();
  fw->registered_time = fw->reregistered_time = mz_now();
  fw->heartbeat_ev = event_new(m->base, -1, EV_PERSIST, on_heartbeat, fw);
  fw->failover_ev = event_new(m->base, -1, 0, on_failover_timeout, fw);
  HASH_ADD_KEYPTR(hh, m->frameworks, fw->id, strlen(fw->id), fw);
  m->nframeworks++;
  return fw;
}

mz_framework *mz_framework_recover(mz_master *m, const Mesos__V1__FrameworkInfo *info, const char *id) {
  mz_framework *fw = mz_framework_find(m, id);
  if (fw) return fw;
  Mesos__V1__FrameworkInfo empty = MESOS__V1__FRAMEWORK_INFO__INIT;
  empty.user = (char *)"";
  empty.name = (char *)"";
  fw = framework_new(m, info ? info : &empty, id);
  fw->recovered = true;
  const char *const *roles = (const char *const *)fw->roles;
  m->alloc_ops->add_framework(m->alloc, fw->id, roles, fw->nroles, NULL, 0, false);
  MZ_INFO("master", "recovered framework %s from an agent's re-registration", fw->id);
  return fw;
}

void mz_framework_close_stream(mz_framework *fw) {
  if (!fw->stream) return;
  mz_http_req_on_close(fw->stream, NULL, NULL);
  mz_http_stream_end(fw->stream);
  fw->stream = NULL;
}

/* Offers of a framework that is going away or failing over: resources back, no filter. */
static void discard_offers(mz_framework *fw, bool rescind) {
  mz_offer *o, *tmp;
  DL_FOREACH_SAFE2(fw->offers, o, tmp, fw_next) {
    if (rescind) mz_offer_rescind(o);
    else mz_offer_discard(o, 0);
  }
}

static void on_stream_closed(mz_http_req *req, void *arg) {
  (void)req;
  mz_framework *fw = arg;
  mz_master *m = fw->m;
  fw->stream = NULL;
  fw->connected = false;
  MZ_INFO("master", "framework %s (%s) disconnected", fw->id, fw->info->name);
  event_del(fw->heartbeat_ev);
  if (fw->active) {
    fw->active = false;
    m->alloc_ops->deactivate_framework(m->alloc, fw->id);
  }
  discard_offers(fw, false); /* nobody to tell */
  fw->unregistered_time = mz_now();
  double t = fw->info->has_failover_timeout ? fw->info->failover_timeout : 0;
  if (t < 0 || isnan(t)) t = 0;
  struct timeval tv = {(time_t)t, (suseconds_t)((t - floor(t)) * 1e6)};
  event_add(fw->failover_ev, &tv);
}

static void send_subscribed(mz_framework *fw) {
  mz_master *m = fw->m;
  Mesos__V1__Scheduler__Event ev = MESOS__V1__SCHEDULER__EVENT__INIT;
  Mesos__V1__Scheduler__Event__Subscribed sub = MESOS__V1__SCHEDULER__EVENT__SUBSCRIBED__INIT;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  fid.value = fw->id;
  sub.framework_id = &fid;
  sub.has_heartbeat_interval_seconds = 1;
  sub.heartbeat_interval_seconds = m->flags.heartbeat_interval;
  sub.master_info = m->info;
  ev.has_type = 1;
  ev.type = MESOS__V1__SCHEDULER__EVENT__TYPE__SUBSCRIBED;
  ev.subscribed = &sub;
  mz_event_send(fw, &ev);
}

static void refuse(mz_http_req *req, mz_content_type ct, const char *message) {
  MZ_INFO("master", "refusing subscription from %s: %s", mz_http_req_peer(req), message);
  Mesos__V1__Scheduler__Event ev = MESOS__V1__SCHEDULER__EVENT__INIT;
  Mesos__V1__Scheduler__Event__Error e = MESOS__V1__SCHEDULER__EVENT__ERROR__INIT;
  e.message = (char *)message;
  ev.has_type = 1;
  ev.type = MESOS__V1__SCHEDULER__EVENT__TYPE__ERROR;
  ev.error = &e;
  char sid[MZ_UUID_STR];
  mz_uuid_string(sid);
  mz_http_req_add_header(req, "Mesos-Stream-Id", sid);
  if (mz_http_stream_start(req, 200, mz_content_type_name(ct)) != 0) return;
  mz_event_send_on(req, ct, &ev);
  mz_http_stream_end(req);
}

void mz_framework_subscribe(mz_master *m, mz_http_req *req, mz_content_type ct,
                            const Mesos__V1__Scheduler__Call__Subscribe *sub) {
  const Mesos__V1__FrameworkInfo *fi = sub->framework_info;
  char err[512];
  bool reregister = fi->id && fi->id->value && *fi->id->value;
  if (reregister) m->metrics.messages_reregister_framework++;
  else m->metrics.messages_register_framework++;

  if (mz_framework_validate_info(fi, sub->suppressed_roles, sub->n_suppressed_roles, err, sizeof err) != 0) {
    refuse(req, ct, err);
    return;
  }

  mz_framework *fw = NULL;
  if (reregister) {
    fw = mz_framework_find(m, fi->id->value);
    if (!fw) {
      mz_framework *c;
      DL_FOREACH2(m->completed_frameworks, c, done_next) {
        if (!strcmp(c->id, fi->id->value)) {
          refuse(req, ct, "Framework has been removed");
          return;
        }
      }
    }
  }
  if (!fw && (long)m->nframeworks >= m->flags.max_frameworks) {
    refuse(req, ct, "Too many frameworks");
    return;
  }

  char stream_id[MZ_UUID_STR];
  mz_uuid_string(stream_id);
  mz_http_req_add_header(req, "Mesos-Stream-Id", stream_id);
  if (mz_http_stream_start(req, 200, mz_content_type_name(ct)) != 0) return;

  bool failover = false;
  if (fw) {
    /* Failover or re-subscription: the newest stream wins. */
    failover = true;
    if (fw->connected && fw->stream) {
      mz_event_error(fw, "Framework failed over");
      mz_framework_close_stream(fw);
    }
    event_del(fw->failover_ev);
    discard_offers(fw, false);
    /* Fields that may change on re-subscription, roles included (the allocator follows). */
    protobuf_c_message_free_unpacked(&fw->info->base, NULL);
    fw->info = mz_pb_dup(fi);
    mz_framework_set_roles(fw);
    if (m->alloc_ops->update_framework)
      m->alloc_ops->update_framework(m->alloc, fw->id, (const char *const *)fw->roles, fw->nroles,
                                     (const char *const *)sub->suppressed_roles, sub->n_suppressed_roles);
    fw->recovered = false;
    fw->reregistered_time = mz_now();
  } else {
    char *id = reregister ? mz_strdup(fi->id->value) : mz_master_new_framework_id(m);
    fw = framework_new(m, fi, id);
    free(id);
    const char *const *roles = (const char *const *)fw->roles;
    m->alloc_ops->add_framework(m->alloc, fw->id, roles, fw->nroles, (const char *const *)sub->suppressed_roles,
                                sub->n_suppressed_roles, false);
  }
  for (size_t i = 0; i < fw->nroles; i++) {
    fw->suppressed[i] = false;
    for (size_t j = 0; j < sub->n_suppressed_roles; j++)
      if (!strcmp(fw->roles[i], sub->suppressed_roles[j])) fw->suppressed[i] = true;
  }

  fw->stream = req;
  fw->ct = ct;
  mz_strlcpy(fw->stream_id, stream_id, sizeof fw->stream_id);
  fw->connected = true;
  fw->active = true;
  mz_http_req_on_close(req, on_stream_closed, fw);
  send_subscribed(fw);

  if (failover) {
    /* Suppression as given now; then activation asks for an allocation. */
    const char *const *roles = (const char *const *)fw->roles;
    m->alloc_ops->revive(m->alloc, fw->id, roles, fw->nroles);
    if (sub->n_suppressed_roles)
      m->alloc_ops->suppress(m->alloc, fw->id, (const char *const *)sub->suppressed_roles, sub->n_suppressed_roles);
  }
  m->alloc_ops->activate_framework(m->alloc, fw->id);

  double hb = m->flags.heartbeat_interval;
  struct timeval tv = {(time_t)hb, (suseconds_t)((hb - floor(hb)) * 1e6)};
  event_add(fw->heartbeat_ev, &tv);

  /* Updates still awaiting acknowledgement are sent again on the new stream. */
  mz_task *t, *tmp;
  HASH_ITER(hh, fw->tasks, t, tmp) {
    if (!t->pending) continue;
    Mesos__V1__TaskStatus *st = mesos__v1__task_status__unpack(NULL, t->pending_len, t->pending);
    if (!st) continue; /* packed by us: only out of memory */
    mz_event_update(fw, st);
    mesos__v1__task_status__free_unpacked(st, NULL);
  }
  if (failover) mz_opevent_framework_updated(m, fw);
  else mz_opevent_framework_added(m, fw);
  MZ_INFO("master", "%s framework %s (%s) user=%s stream=%s", failover ? "re-subscribed" : "subscribed", fw->id,
          fw->info->name, fw->info->user, fw->stream_id);
}

void mz_framework_remove(mz_framework *fw, const char *why) {
  mz_master *m = fw->m;
  MZ_INFO("master", "removing framework %s (%s): %s", fw->id, fw->info->name, why);
  if (fw->stream) mz_framework_close_stream(fw);
  fw->connected = false;
  if (fw->active) m->alloc_ops->deactivate_framework(m->alloc, fw->id);
  fw->active = false;
  event_del(fw->heartbeat_ev);
  event_del(fw->failover_ev);
  discard_offers(fw, false);

  /* Agents running something of this framework are told to shut it down. */
  char msg[512];
  snprintf(msg, sizeof msg, "Framework %s removed", fw->id);
  mz_agent **told = NULL;
  size_t ntold = 0, cap = 0;
  mz_task *t, *tmp;
  HASH_ITER(hh, fw->tasks, t, tmp) {
    mz_agent *a = t->agent;
    if (a) {
      bool seen = false;
      for (size_t i = 0; i < ntold && !seen; i++) seen = told[i] == a;
      if (!seen) {
        if (ntold == cap) told = mz_realloc(told, (cap = cap ? cap * 2 : 8) * sizeof *told);
        told[ntold++] = a;
      }
    }
    if (!mz_task_state_terminal(t->state)) {
      Mesos__V1__TaskStatus st = MESOS__V1__TASK_STATUS__INIT;
      Mesos__V1__TaskID tid = MESOS__V1__TASK_ID__INIT;
      tid.value = t->id;
      st.task_id = &tid;
      st.state = MESOS__V1__TASK_STATE__TASK_KILLED;
      st.has_source = 1;
      st.source = MESOS__V1__TASK_STATUS__SOURCE__SOURCE_MASTER;
      st.has_reason = 1;
      st.reason = MESOS__V1__TASK_STATUS__REASON__REASON_FRAMEWORK_REMOVED;
      st.message = msg;
      st.has_timestamp = 1;
      st.timestamp = mz_now();
      mz_task_update(t, &st, NULL);
    }
    mz_task_remove(t);
  }
  mz_executor *ex, *etmp;
  DL_FOREACH_SAFE2(fw->executors, ex, etmp, fw_next) {
    bool seen = false;
    for (size_t i = 0; i < ntold && !seen; i++) seen = told[i] == ex->agent;
    if (!seen) {
      if (ntold == cap) told = mz_realloc(told, (cap = cap ? cap * 2 : 8) * sizeof *told);
      told[ntold++] = ex->agent;
    }
    mz_executor_remove(ex, true);
  }
  for (size_t i = 0; i < ntold; i++) {
    Mezzo__Internal__AgentEvent ev = MEZZO__INTERNAL__AGENT_EVENT__INIT;
    Mezzo__Internal__AgentEvent__ShutdownFramework sf = MEZZO__INTERNAL__AGENT_EVENT__SHUTDOWN_FRAMEWORK__INIT;
    Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
    fid.value = fw->id;
    sf.framework_id = &fid;
    ev.type = MEZZO__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN_FRAMEWORK;
    ev.shutdown_framework = &sf;
    mz_agent_send(told[i], &ev);
  }
  free(told);

  m->alloc_ops->remove_framework(m->alloc, fw->id);
  mz_opevent_framework_removed(m, fw);
  HASH_DEL(m->frameworks, fw);
  m->nframeworks--;
  fw->completed = true;
  fw->unregistered_time = mz_now();
  DL_APPEND2(m->completed_frameworks, fw, done_prev, done_next);
  m->ncompleted_frameworks++;
  long max = m->flags.max_completed_frameworks;
  while (m->ncompleted_frameworks > 0 && (long)m->ncompleted_frameworks > (max < 0 ? 0 : max)) {
    mz_framework *old = m->completed_frameworks;
    DL_DELETE2(m->completed_frameworks, old, done_prev, done_next);
    m->ncompleted_frameworks--;
    mz_framework_free(old);
  }
}

void mz_framework_free(mz_framework *fw) {
  if (!fw) return;
  mz_task *t, *tmp;
  HASH_ITER(hh, fw->tasks, t, tmp) {
    HASH_DEL(fw->tasks, t);
    mz_task_free(t);
  }
  mz_idx_free(&fw->task_idx);
  DL_FOREACH_SAFE2(fw->completed_tasks, t, tmp, done_next) {
    DL_DELETE2(fw->completed_tasks, t, done_prev, done_next);
    mz_task_free(t);
  }
  DL_FOREACH_SAFE2(fw->unreachable_list, t, tmp, done_next) mz_task_forget_unreachable(fw, t);
  if (fw->heartbeat_ev) event_free(fw->heartbeat_ev);
  if (fw->failover_ev) event_free(fw->failover_ev);
  for (size_t i = 0; i < fw->nroles; i++) free(fw->roles[i]);
  free(fw->roles);
  free(fw->suppressed);
  if (fw->info) protobuf_c_message_free_unpacked(&fw->info->base, NULL);
  mz_resources_free(fw->used);
  mz_resources_free(fw->offered);
  free(fw->id);
  mz_intern_release(fw->iid);
  free(fw);
}

void mz_framework_write(mz_jw *w, const mz_framework *fw, bool full) {
  const Mesos__V1__FrameworkInfo *fi = fw->info;
  mz_jw_object(w);
  mz_jw_kstring(w, "id", fw->id);
  mz_jw_kstring(w, "name", fi->name ? fi->name : "");
  mz_jw_key(w, "used_resources");
  mz_resources_summary_write(w, fw->used);
  mz_jw_key(w, "offered_resources");
  mz_resources_summary_write(w, fw->offered);
  mz_jw_key(w, "capabilities");
  mz_jw_array(w);
  for (size_t i = 0; i < fi->n_capabilities; i++)
    if (fi->capabilities[i]->has_type)
      mz_jw_string(w, mz_enum_name(&mesos__v1__framework_info__capability__type__descriptor,
                                   fi->capabilities[i]->type));
  mz_jw_array_end(w);
  mz_jw_kstring(w, "hostname", fi->hostname ? fi->hostname : "");
  mz_jw_kstring(w, "webui_url", fi->webui_url ? fi->webui_url : "");
  mz_jw_kbool(w, "active", fw->active);
  mz_jw_kbool(w, "connected", fw->connected);
  mz_jw_kbool(w, "recovered", fw->recovered);
  mz_jw_kstring(w, "user", fi->user ? fi->user : "");
  mz_jw_kreal(w, "failover_timeout", fi->has_failover_timeout ? fi->failover_timeout : 0);
  mz_jw_kbool(w, "checkpoint", fi->has_checkpoint && fi->checkpoint);
  mz_jw_kreal(w, "registered_time", fw->registered_time);
  mz_jw_kreal(w, "unregistered_time", fw->unregistered_time);
  if (fw->reregistered_time != fw->registered_time) mz_jw_kreal(w, "reregistered_time", fw->reregistered_time);
  if (fi->principal) mz_jw_kstring(w, "principal", fi->principal);
  mz_resources *total = mz_resources_copy(fw->used);
  char err[128];
  mz_resources_add(total, fw->offered, err, sizeof err);
  mz_jw_key(w, "resources");
  mz_resources_summary_write(w, total);
  mz_resources_free(total);
  mz_jw_kstring(w, "role", fw->nroles ? fw->roles[0] : "*");
  mz_jw_key(w, "roles");
  mz_jw_array(w);
  for (size_t i = 0; i < fw->nroles; i++) mz_jw_string(w, fw->roles[i]);
  mz_jw_array_end(w);
  if (!full) {
    mz_jw_kint(w, "task_count", (int64_t)fw->ntasks);
    mz_jw_kint(w, "offer_count", (int64_t)fw->noffers);
    mz_jw_object_end(w);
    return;
  }
  mz_jw_key(w, "tasks");
  mz_jw_array(w);
  mz_task *t, *tmp;
  HASH_ITER(hh, fw->tasks, t, tmp) mz_task_write(w, t);
  mz_jw_array_end(w);
  mz_jw_key(w, "unreachable_tasks");
  mz_jw_array(w);
  DL_FOREACH2(fw->unreachable_list, t, done_next) mz_task_write(w, t);
  mz_jw_array_end(w);
  mz_jw_key(w, "completed_tasks");
  mz_jw_array(w);
  DL_FOREACH2(fw->completed_tasks, t, done_next) mz_task_write(w, t);
  mz_jw_array_end(w);
  mz_jw_key(w, "offers");
  mz_jw_array(w);
  mz_offer *of;
  DL_FOREACH2(fw->offers, of, fw_next) mz_jw_json_new(w, mz_offer_json(of));
  mz_jw_array_end(w);
  mz_jw_key(w, "executors");
  mz_jw_array(w);
  mz_executor *ex;
  DL_FOREACH2(fw->executors, ex, fw_next) mz_jw_json_new(w, mz_executor_json(ex));
  mz_jw_array_end(w);
  mz_jw_object_end(w);
}

static void framework_write_full(mz_jw *w, const void *fw) { mz_framework_write(w, fw, true); }
static void framework_write_brief(mz_jw *w, const void *fw) { mz_framework_write(w, fw, false); }

json_t *mz_framework_json(const mz_framework *fw, bool full) {
  return mz_jw_to_json(full ? framework_write_full : framework_write_brief, fw);
}
