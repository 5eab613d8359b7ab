/* endpoints: the agent's read-only HTTP endpoints.
 *   GET /health                      200, empty body (as Mesos)
 *   GET /state, /slave(1)/state      (and their .json forms) the agent's state in the
 *                                    shape of Mesos's /slave(1)/state: id, pid, hostname,
 *                                    resources, attributes, master_hostname, flags,
 *                                    frameworks -> executors -> tasks / queued_tasks /
 *                                    completed_tasks, completed_frameworks, version, start_time.
 *   GET /flags                       {"flags": {name: value}}
 *   GET /version                     {"version", "build_date", "build_user"}
 * Each also under /slave(1)/, as Mesos serves them; JSON bodies honour ?jsonp=.
 * Built with jansson from the agent's tables on every request; nothing is kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/agent.h"
#include "common/http.h"
#include "common/log.h"

/* ExecutorInfo.source and FrameworkInfo.role are deprecated in Mesos but still reported. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static json_t *resources_summary(Mesos__V1__Resource *const *res, size_t n) {
  char err[256];
  mz_resources *r = mz_resources_from_proto(res, n, err, sizeof err);
  if (!r) r = mz_resources_new();
  json_t *j = mz_resources_summary_json(r);
  mz_resources_free(r);
  return j ? j : json_object();
}

static json_t *task_json(mz_agent *a, const mz_ag_task *t) {
  json_t *j = json_object();
  const mz_ag_executor *ex = t->executor;
  json_object_set_new(j, "id", json_string(t->id));
  json_object_set_new(j, "name", json_string(t->info->name ? t->info->name : ""));
  json_object_set_new(j, "framework_id", json_string(ex->fw->id));
  json_object_set_new(j, "executor_id", json_string(ex->command ? "" : ex->id));
  json_object_set_new(j, "slave_id", json_string(a->agent_id ? a->agent_id : ""));
  json_object_set_new(j, "state", json_string(mz_task_state_name(t->state)));
  json_object_set_new(j, "resources", resources_summary(t->info->resources, t->info->n_resources));
  json_t *sts = json_array();
  for (size_t i = 0; i < t->nstatuses; i++) {
    const Mesos__V1__TaskStatus *st = t->statuses[i];
    json_t *s = json_object();
    json_object_set_new(s, "state", json_string(mz_task_state_name(st->state)));
    json_object_set_new(s, "timestamp", json_real(st->has_timestamp ? st->timestamp : 0));
    json_array_append_new(sts, s);
  }
  json_object_set_new(j, "statuses", sts);
  if (t->info->command) {
    json_t *cmd = mz_pb_to_json(&t->info->command->base);
    if (cmd) json_object_set_new(j, "command", cmd);
  }
  if (t->info->labels) {
    json_t *l = mz_pb_to_json(&t->info->labels->base);
    if (l) json_object_set_new(j, "labels", json_object_get(l, "labels") ? json_incref(json_object_get(l, "labels"))
                                                                         : json_array());
    json_decref(l);
  }
  return j;
}

static json_t *executor_json(mz_agent *a, const mz_ag_executor *ex) {
  json_t *j = json_object();
  json_object_set_new(j, "id", json_string(ex->id));
  json_object_set_new(j, "name", json_string(ex->info->name ? ex->info->name : ""));
  json_object_set_new(j, "source", json_string(ex->info->source ? ex->info->source : ""));
  json_object_set_new(j, "container", json_string(ex->container_id));
  json_object_set_new(j, "directory", json_string(ex->directory ? ex->directory : ""));
  json_object_set_new(j, "type", json_string(ex->command ? "COMMAND" : "CUSTOM"));
  /* Resources of the executor plus its live tasks, as Mesos reports them. */
  char err[256];
  mz_resources *total = mz_resources_from_proto(ex->info->resources, ex->info->n_resources, err, sizeof err);
  if (!total) total = mz_resources_new();
  json_t *tasks = json_array(), *queued = json_array(), *completed = json_array();
  const mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->launched, t, tmp) {
    json_array_append_new(mz_task_state_terminal(t->state) ? completed : tasks, task_json(a, t));
    mz_resources *r = mz_resources_from_proto(t->info->resources, t->info->n_resources, err, sizeof err);
    if (r && !mz_task_state_terminal(t->state)) mz_resources_add(total, r, err, sizeof err);
    mz_resources_free(r);
  }
  HASH_ITER(hh, ex->queued, t, tmp) {
    json_array_append_new(mz_task_state_terminal(t->state) ? completed : queued, task_json(a, t));
  }
  DL_FOREACH(ex->completed, t) json_array_append_new(completed, task_json(a, t));
  json_t *sum = mz_resources_summary_json(total);
  json_object_set_new(j, "resources", sum ? sum : json_object());
  mz_resources_free(total);
  json_object_set_new(j, "tasks", tasks);
  json_object_set_new(j, "queued_tasks", queued);
  json_object_set_new(j, "completed_tasks", completed);
  return j;
}

static json_t *framework_json(mz_agent *a, const mz_ag_framework *fw) {
  json_t *j = json_object();
  const Mesos__V1__FrameworkInfo *fi = fw->info;
  json_object_set_new(j, "id", json_string(fw->id));
  json_object_set_new(j, "name", json_string(fi->name ? fi->name : ""));
  json_object_set_new(j, "user", json_string(fi->user ? fi->user : ""));
  json_object_set_new(j, "failover_timeout", json_real(fi->has_failover_timeout ? fi->failover_timeout : 0));
  json_object_set_new(j, "checkpoint", json_boolean(fi->has_checkpoint && fi->checkpoint));
  json_object_set_new(j, "hostname", json_string(fi->hostname ? fi->hostname : ""));
  json_object_set_new(j, "role", json_string(fi->n_roles ? fi->roles[0] : (fi->role ? fi->role : "*")));
  json_t *roles = json_array();
  for (size_t i = 0; i < fi->n_roles; i++) json_array_append_new(roles, json_string(fi->roles[i]));
  json_object_set_new(j, "roles", roles);
  json_t *exs = json_array(), *done = json_array();
  const mz_ag_executor *ex, *tmp;
  HASH_ITER(hh, fw->executors, ex, tmp) json_array_append_new(exs, executor_json(a, ex));
  DL_FOREACH(fw->completed, ex) json_array_append_new(done, executor_json(a, ex));
  json_object_set_new(j, "executors", exs);
  json_object_set_new(j, "completed_executors", done);
  return j;
}

static void set_str(json_t *o, const char *k, const char *v) {
  if (v) json_object_set_new(o, k, json_string(v));
}

static void set_num(json_t *o, const char *k, double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%g", v);
  json_object_set_new(o, k, json_string(buf));
}

/* A duration flag, as "<seconds>secs". */
static void set_secs(json_t *o, const char *k, double seconds) {
  char buf[64];
  snprintf(buf, sizeof buf, "%gsecs", seconds);
  json_object_set_new(o, k, json_string(buf));
}

json_t *mz_agent_flags_json(const mz_agent *a) {
  const mz_agent_flags *f = &a->flags;
  json_t *j = json_object();
  set_str(j, "master", f->master);
  set_str(j, "ip", f->ip);
  set_num(j, "port", (double)f->port);
  set_str(j, "advertise_ip", f->advertise_ip);
  set_str(j, "hostname", a->hostname);
  set_str(j, "work_dir", a->work_dir);
  set_str(j, "resources", f->resources);
  set_str(j, "attributes", f->attributes);
  set_str(j, "default_role", f->default_role);
  set_str(j, "launcher_dir", a->launcher_dir);
  set_str(j, "log_dir", f->log_dir);
  set_str(j, "logging_level", f->logging_level);
  set_str(j, "link_content_type", f->link_content_type);
  char buf[64];
  set_secs(j, "executor_registration_timeout", f->executor_registration_timeout);
  set_secs(j, "executor_shutdown_grace_period", f->executor_shutdown_grace_period);
  set_secs(j, "registration_backoff_factor", f->registration_backoff_factor);
  set_secs(j, "status_update_retry_interval_min", f->status_update_retry_interval_min);
  set_secs(j, "status_update_retry_interval_max", f->status_update_retry_interval_max);
  set_num(j, "max_completed_executors_per_framework", (double)f->max_completed_executors_per_framework);
  set_num(j, "max_completed_frameworks", (double)f->max_completed_frameworks);
  set_str(j, "fetcher_cache_dir", f->fetcher_cache_dir);
  set_str(j, "executor_environment_variables", f->executor_environment_variables);
  set_secs(j, "fetcher_stall_timeout", f->fetcher_stall_timeout);
  snprintf(buf, sizeof buf, "%lluB", (unsigned long long)f->fetcher_cache_size);
  set_str(j, "fetcher_cache_size", buf);
  set_secs(j, "container_disk_watch_interval", f->container_disk_watch_interval);
  set_str(j, "enforce_container_disk_quota", f->enforce_container_disk_quota ? "true" : "false");
  set_str(j, "executor_fork_server", f->executor_fork_server ? "true" : "false");
  set_num(j, "executor_fork_servers", (double)f->executor_fork_servers);
  set_str(j, "direct_command_tasks", f->direct_command_tasks ? "true" : "false");
  set_secs(j, "gc_delay", f->gc_delay);
  set_num(j, "gc_disk_headroom", f->gc_disk_headroom);
  set_secs(j, "disk_watch_interval", f->disk_watch_interval);
  set_str(j, "http_executor_domain_sockets", f->http_executor_domain_sockets ? "true" : "false");
  set_str(j, "domain_socket_location", a->executor_socket);
  return j;
}

json_t *mz_agent_state_json(mz_agent *a) {
  json_t *j = json_object();
  char pid[300];
  snprintf(pid, sizeof pid, "slave(1)@%s:%d", a->endpoint_ip, a->port);
  json_object_set_new(j, "version", json_string(MZ_VERSION));
  json_object_set_new(j, "start_time", json_real(a->start_time));
  json_object_set_new(j, "id", json_string(a->agent_id ? a->agent_id : ""));
  json_object_set_new(j, "pid", json_string(pid));
  json_object_set_new(j, "hostname", json_string(a->hostname));
  json_t *res = mz_resources_summary_json(a->resources);
  json_object_set_new(j, "resources", res ? res : json_object());
  json_t *attrs = mz_attributes_json(a->attributes, a->nattributes);
  json_object_set_new(j, "attributes", attrs ? attrs : json_object());
  json_object_set_new(j, "master_hostname", json_string(a->master_host));
  if (a->flags.log_dir) json_object_set_new(j, "log_dir", json_string(a->flags.log_dir));
  json_object_set_new(j, "flags", mz_agent_flags_json(a));
  json_t *fws = json_array(), *done = json_array();
  const mz_ag_framework *fw, *tmp;
  HASH_ITER(hh, a->frameworks, fw, tmp) json_array_append_new(fws, framework_json(a, fw));
  DL_FOREACH(a->completed_frameworks, fw) json_array_append_new(done, framework_json(a, fw));
  json_object_set_new(j, "frameworks", fws);
  json_object_set_new(j, "completed_frameworks", done);
  return j;
}

static void handle_health(mz_http_req *r, void *arg) { mz_http_reply(r, 200, "text/plain", "", 0); }

static void handle_state(mz_http_req *r, void *arg) {
  if (mz_http_only_get(r)) mz_http_reply_jsonp(r, mz_agent_state_json(arg));
}

static void handle_flags(mz_http_req *r, void *arg) {
  if (!mz_http_only_get(r)) return;
  json_t *j = json_object();
  json_object_set_new(j, "flags", mz_agent_flags_json(arg));
  mz_http_reply_jsonp(r, j);
}

static void handle_version(mz_http_req *r, void *arg) {
  if (mz_http_only_get(r)) mz_http_reply_jsonp(r, mz_version_json());
}

void mz_agent_route(mz_http_server *s, const char *path, void (*h)(mz_http_req *, void *), mz_agent *a) {
  char alias[128];
  mz_http_server_route(s, path, 0, h, a);
  snprintf(alias, sizeof alias, "/slave(1)%s", path);
  mz_http_server_route(s, alias, 0, h, a);
}

void mz_endpoints_register(mz_agent *a, mz_http_server *s) {
  mz_agent_route(s, "/health", handle_health, a);
  mz_agent_route(s, "/state", handle_state, a);
  mz_agent_route(s, "/state.json", handle_state, a);
  mz_agent_route(s, "/flags", handle_flags, a);
  mz_agent_route(s, "/version", handle_version, a);
}
