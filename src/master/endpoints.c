/* endpoints: see endpoints.h. */
#include "master/endpoints.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "common/log.h"
#include "master/agent.h"
#include "master/allocator.h"
#include "master/registry_master.h"
#include "master/endpoints_more.h"
#include "master/log_files.h"
#include "master/framework.h"
#include "master/snapshot.h"

/* Mesos writes durations as "15secs", "50ms", "2mins"... */
static void format_duration(double s, char *out, size_t len) {
  if (s == 0) snprintf(out, len, "0ns");
  else if (s >= 86400 && fmod(s, 86400) == 0) snprintf(out, len, "%gdays", s / 86400);
  else if (s >= 3600 && fmod(s, 3600) == 0) snprintf(out, len, "%ghrs", s / 3600);
  else if (s >= 60 && fmod(s, 60) == 0) snprintf(out, len, "%gmins", s / 60);
  else if (s >= 1) snprintf(out, len, "%gsecs", s);
  else if (s >= 1e-3) snprintf(out, len, "%gms", s * 1e3);
  else if (s >= 1e-6) snprintf(out, len, "%gus", s * 1e6);
  else snprintf(out, len, "%gns", s * 1e9);
}

json_t *mz_master_flags_json(const mz_master *m) {
  json_t *o = json_object();
  char buf[64];
  for (size_t i = 0; i < m->nflags; i++) {
    const mz_flag *f = &m->flag_table[i];
    switch (f->type) {
      case MZ_FLAG_STRING: {
        const char *v = *(const char **)f->dest;
        if (v) json_object_set_new(o, f->name, json_string(v));
        break;
      }
      case MZ_FLAG_INT:
        snprintf(buf, sizeof buf, "%ld", *(long *)f->dest);
        json_object_set_new(o, f->name, json_string(buf));
        break;
      case MZ_FLAG_DOUBLE:
        snprintf(buf, sizeof buf, "%g", *(double *)f->dest);
        json_object_set_new(o, f->name, json_string(buf));
        break;
      case MZ_FLAG_BOOL:
        json_object_set_new(o, f->name, json_string(*(int *)f->dest ? "true" : "false"));
        break;
      case MZ_FLAG_DURATION:
        format_duration(*(double *)f->dest, buf, sizeof buf);
        json_object_set_new(o, f->name, json_string(buf));
        break;
      case MZ_FLAG_BYTES:
        snprintf(buf, sizeof buf, "%lluB", (unsigned long long)*(uint64_t *)f->dest);
        json_object_set_new(o, f->name, json_string(buf));
        break;
    }
  }
  return o;
}

static json_t *leader_info(const mz_master *m) {
  json_t *o = json_object();
  json_object_set_new(o, "id", json_string(m->id));
  json_object_set_new(o, "pid", json_string(m->pid));
  json_object_set_new(o, "port", json_integer(m->port));
  json_object_set_new(o, "hostname", json_string(m->hostname));
  json_t *addr = json_object();
  json_object_set_new(addr, "hostname", json_string(m->hostname));
  json_object_set_new(addr, "ip", json_string(m->ip));
  json_object_set_new(addr, "port", json_integer(m->port));
  json_object_set_new(o, "address", addr);
  return o;
}

static json_t *slaves_json(const mz_master *m) {
  json_t *a = json_array();
  mz_agent *ag, *tmp;
  HASH_ITER(hh, m->agents, ag, tmp) json_array_append_new(a, mz_agent_json(ag));
  return a;
}

static json_t *frameworks_json(const mz_master *m, bool full) {
  json_t *a = json_array();
  mz_framework *fw, *tmp;
  HASH_ITER(hh, m->frameworks, fw, tmp) json_array_append_new(a, mz_framework_json(fw, full));
  return a;
}

static json_t *completed_json(const mz_master *m, bool full) {
  json_t *a = json_array();
  mz_framework *fw;
  DL_FOREACH2(m->completed_frameworks, fw, done_next) json_array_append_new(a, mz_framework_json(fw, full));
  return a;
}

static void count_agents(const mz_master *m, size_t *active, size_t *connected) {
  *active = *connected = 0;
  mz_agent *a, *tmp;
  HASH_ITER(hh, m->agents, a, tmp) {
    if (a->active) (*active)++;
    if (a->connected) (*connected)++;
  }
}

static void base_fields(const mz_master *m, mz_jw *w) {
  mz_jw_kstring(w, "version", MZ_VERSION);
  mz_jw_kstring(w, "build_date", MZ_BUILD_DATE);
  mz_jw_kreal(w, "build_time", m->start_time); /* no reproducible build stamp: start time */
  mz_jw_kstring(w, "build_user", MZ_BUILD_USER);
  mz_jw_kreal(w, "start_time", m->start_time);
  mz_jw_kreal(w, "elected_time", m->elected_time);
  mz_jw_kstring(w, "id", m->id);
  mz_jw_kstring(w, "pid", m->pid);
  mz_jw_kstring(w, "hostname", m->hostname);
  mz_jw_key(w, "capabilities");
  mz_jw_array(w);
  mz_jw_array_end(w);
}

static void empty_array(mz_jw *w, const char *key) {
  mz_jw_key(w, key);
  mz_jw_array(w);
  mz_jw_array_end(w);
}

/* Mesos's /master/state, written as it is produced: the tasks of a large
 * cluster are never all in memory as a tree. */
static void state_write(const mz_master *m, mz_jw *w) {
  mz_jw_object(w);
  base_fields(m, w);
  size_t active, connected;
  count_agents(m, &active, &connected);
  mz_jw_kint(w, "activated_slaves", (int64_t)active);
  mz_jw_kint(w, "deactivated_slaves", (int64_t)(m->nagents - active));
  mz_jw_kint(w, "unreachable_slaves", (int64_t)mz_registrar_unreachable_count(m));
  mz_jw_kstring(w, "leader", m->pid);
  mz_jw_key(w, "leader_info");
  mz_jw_json_new(w, leader_info(m));
  if (m->flags.cluster) mz_jw_kstring(w, "cluster", m->flags.cluster);
  if (m->flags.log_dir) mz_jw_kstring(w, "log_dir", m->flags.log_dir);
  mz_jw_key(w, "flags");
  mz_jw_json_new(w, mz_master_flags_json(m));
  mz_jw_key(w, "slaves");
  mz_jw_array(w);
  mz_agent *ag, *atmp;
  HASH_ITER(hh, m->agents, ag, atmp) mz_agent_write(w, ag);
  mz_jw_array_end(w);
  empty_array(w, "recovered_slaves");
  mz_jw_key(w, "frameworks");
  mz_jw_array(w);
  mz_framework *fw, *ftmp;
  HASH_ITER(hh, m->frameworks, fw, ftmp) mz_framework_write(w, fw, true);
  mz_jw_array_end(w);
  mz_jw_key(w, "completed_frameworks");
  mz_jw_array(w);
  DL_FOREACH2(m->completed_frameworks, fw, done_next) mz_framework_write(w, fw, true);
  mz_jw_array_end(w);
  empty_array(w, "orphan_tasks");
  empty_array(w, "unregistered_frameworks");
  mz_jw_object_end(w);
}

/* /master/state: from a forked snapshot, so that a large cluster's state never
 * blocks the loop (snapshot.h). */
static void handle_state(mz_http_req *req, void *arg) {
  if (!mz_http_only_get(req)) return;
  mz_snapshot_reply(arg, req, state_write);
}

static void handle_frameworks(mz_http_req *req, void *arg) {
  if (!mz_http_only_get(req)) return;
  const mz_master *m = arg;
  json_t *o = json_object();
  json_object_set_new(o, "frameworks", frameworks_json(m, true));
  json_object_set_new(o, "completed_frameworks", completed_json(m, true));
  json_object_set_new(o, "unregistered_frameworks", json_array());
  mz_http_reply_json(req, o);
}

static void handle_slaves(mz_http_req *req, void *arg) {
  if (!mz_http_only_get(req)) return;
  const mz_master *m = arg;
  json_t *o = json_object();
  json_object_set_new(o, "slaves", slaves_json(m));
  json_object_set_new(o, "recovered_slaves", json_array());
  mz_http_reply_json(req, o);
}

static void handle_flags(mz_http_req *req, void *arg) {
  if (!mz_http_only_get(req)) return;
  json_t *o = json_object();
  json_object_set_new(o, "flags", mz_master_flags_json(arg));
  mz_http_reply_json(req, o);
}

static void handle_version(mz_http_req *req, void *arg) {
  (void)arg;
  if (mz_http_only_get(req)) mz_http_reply_json(req, mz_version_json());
}

static void handle_health(mz_http_req *req, void *arg) {
  (void)arg;
  if (!mz_http_only_get(req)) return;
  mz_http_reply(req, 200, NULL, NULL, 0);
}

static void set_num(json_t *o, const char *k, double v) { json_object_set_new(o, k, json_real(v)); }

static void resource_metrics(const mz_master *m, json_t *o) {
  static const char *const names[] = {"cpus", "mem", "disk", "gpus"};
  int64_t total[4] = {0}, used[4] = {0};
  mz_agent *a, *atmp;
  HASH_ITER(hh, m->agents, a, atmp) {
    for (int i = 0; i < 4; i++) total[i] += mz_resources_scalar(a->total, names[i]);
  }
  mz_framework *fw, *ftmp;
  HASH_ITER(hh, m->frameworks, fw, ftmp) {
    for (int i = 0; i < 4; i++) used[i] += mz_resources_scalar(fw->used, names[i]);
  }
  char key[64];
  for (int i = 0; i < 4; i++) {
    double t = (double)total[i] / MZ_SCALAR_UNIT, u = (double)used[i] / MZ_SCALAR_UNIT;
    snprintf(key, sizeof key, "master/%s_total", names[i]);
    set_num(o, key, t);
    snprintf(key, sizeof key, "master/%s_used", names[i]);
    set_num(o, key, u);
    snprintf(key, sizeof key, "master/%s_percent", names[i]);
    set_num(o, key, t > 0 ? u / t : 0);
    snprintf(key, sizeof key, "master/%s_revocable_total", names[i]);
    set_num(o, key, 0);
    snprintf(key, sizeof key, "master/%s_revocable_used", names[i]);
    set_num(o, key, 0);
    snprintf(key, sizeof key, "master/%s_revocable_percent", names[i]);
    set_num(o, key, 0);
  }
}

json_t *mz_master_metrics_json(const mz_master *m) {
  const mz_master_metrics *x = &m->metrics;
  json_t *o = json_object();
  set_num(o, "master/uptime_secs", mz_master_uptime(m));
  set_num(o, "master/elected", 1);
  size_t active, connected;
  count_agents(m, &active, &connected);
  set_num(o, "master/slaves_active", (double)active);
  set_num(o, "master/slaves_inactive", (double)(m->nagents - active));
  set_num(o, "master/slaves_connected", (double)connected);
  set_num(o, "master/slaves_disconnected", (double)(m->nagents - connected));
  set_num(o, "master/slaves_unreachable", 0);
  size_t fa = 0, fc = 0;
  mz_framework *fw, *ftmp;
  HASH_ITER(hh, m->frameworks, fw, ftmp) {
    if (fw->active) fa++;
    if (fw->connected) fc++;
  }
  set_num(o, "master/frameworks_active", (double)fa);
  set_num(o, "master/frameworks_inactive", (double)(m->nframeworks - fa));
  set_num(o, "master/frameworks_connected", (double)fc);
  set_num(o, "master/frameworks_disconnected", (double)(m->nframeworks - fc));
  set_num(o, "master/outstanding_offers", (double)m->noffers);

#define GAUGE(name, st) set_num(o, "master/tasks_" name, (double)m->task_gauge[MESOS__V1__TASK_STATE__TASK_##st])
  GAUGE("staging", STAGING);
  GAUGE("starting", STARTING);
  GAUGE("running", RUNNING);
  GAUGE("killing", KILLING);
  GAUGE("unreachable", UNREACHABLE);
#undef GAUGE
  set_num(o, "master/tasks_finished", (double)x->tasks_finished);
  set_num(o, "master/tasks_failed", (double)x->tasks_failed);
  set_num(o, "master/tasks_killed", (double)x->tasks_killed);
  set_num(o, "master/tasks_lost", (double)x->tasks_lost);
  set_num(o, "master/tasks_error", (double)x->tasks_error);
  set_num(o, "master/tasks_dropped", (double)x->tasks_dropped);
  set_num(o, "master/tasks_gone", (double)x->tasks_gone);
  set_num(o, "master/tasks_gone_by_operator", (double)x->tasks_gone_by_operator);
  set_num(o, "master/task_lost/source_master/reason_invalid_offers", (double)x->task_lost_invalid_offers);
  set_num(o, "master/task_lost/source_master/reason_slave_removed", (double)x->task_lost_agent_removed);
  resource_metrics(m, o);

#define C(name) set_num(o, "master/" #name, (double)x->name)
  C(messages_register_framework);
  C(messages_reregister_framework);
  C(messages_unregister_framework);
  C(messages_launch_tasks);
  C(messages_decline_offers);
  C(messages_revive_offers);
  C(messages_suppress_offers);
  C(messages_kill_task);
  C(messages_status_update);
  C(messages_status_update_acknowledgement);
  C(messages_reconcile_tasks);
  C(messages_framework_to_executor);
  C(messages_executor_to_framework);
  C(messages_register_slave);
  C(messages_reregister_slave);
  C(messages_unregister_slave);
  C(messages_shutdown_executor);
  C(valid_status_updates);
  C(invalid_status_updates);
  C(valid_status_update_acknowledgements);
  C(invalid_status_update_acknowledgements);
  C(valid_framework_to_executor_messages);
  C(invalid_framework_to_executor_messages);
  C(valid_executor_to_framework_messages);
  C(invalid_executor_to_framework_messages);
  C(invalid_scheduler_calls);
  C(invalid_agent_calls);
  C(slave_registrations);
  C(slave_reregistrations);
  C(slave_removals);
  C(offers_sent);
  C(offers_accepted);
  C(offers_declined);
  C(offers_rescinded);
  C(offers_expired);
  C(events_sent);
  C(dropped_events);
#undef C
  set_num(o, "master/dropped_messages", (double)x->dropped_events);
  set_num(o, "master/agent_links", (double)m->nlinks);
  set_num(o, "master/http_connections", (double)mz_http_server_connections(m->http));
  if (m->alloc_ops->metrics) m->alloc_ops->metrics(m->alloc, o);
  return o;
}

static void handle_metrics(mz_http_req *req, void *arg) {
  if (!mz_http_only_get(req)) return;
  mz_http_reply_json(req, mz_master_metrics_json(arg));
}

void mz_endpoints_route(mz_master *m) {
  mz_http_server_route(m->http, "/health", 0, handle_health, m);
  mz_http_server_route(m->http, "/master/health", 0, handle_health, m);
  mz_http_server_route(m->http, "/master/state", 0, handle_state, m);
  mz_http_server_route(m->http, "/state", 0, handle_state, m);
  mz_http_server_route(m->http, "/master/state.json", 0, handle_state, m);
  mz_http_server_route(m->http, "/master/frameworks", 0, handle_frameworks, m);
  mz_http_server_route(m->http, "/frameworks", 0, handle_frameworks, m);
  mz_http_server_route(m->http, "/master/slaves", 0, handle_slaves, m);
  mz_http_server_route(m->http, "/slaves", 0, handle_slaves, m);
  mz_http_server_route(m->http, "/master/flags", 0, handle_flags, m);
  mz_http_server_route(m->http, "/flags", 0, handle_flags, m);
  mz_http_server_route(m->http, "/version", 0, handle_version, m);
  mz_http_server_route(m->http, "/metrics/snapshot", 0, handle_metrics, m);
  mz_endpoints_more_route(m); /* state-summary, tasks, roles, redirect, teardown, /metrics, agent proxy, web UI */
  mz_master_files_route(m);   /* the /files endpoints over /master/log */
}
