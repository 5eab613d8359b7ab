/* executor: see executor.h. */
#include "master/executor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "common/log.h"
#include "master/allocator.h"
#include "master/pbutil.h"

static char *make_key(const char *framework_id, const char *executor_id) {
  size_t a = strlen(framework_id), b = strlen(executor_id);
  char *k = mz_malloc(a + b + 2);
  memcpy(k, framework_id, a);
  k[a] = '\x1f';
  memcpy(k + a + 1, executor_id, b + 1);
  return k;
}

mz_executor *mz_executor_find(mz_agent *agent, const char *framework_id, const char *executor_id) {
  if (!agent || !framework_id || !executor_id) return NULL;
  char *k = make_key(framework_id, executor_id);
  mz_executor *ex = NULL;
  HASH_FIND_STR(agent->executors, k, ex);
  free(k);
  return ex;
}

mz_executor *mz_executor_add(mz_agent *agent, mz_framework *fw, const char *framework_id,
                             const Mesos__V1__ExecutorInfo *info, mz_resources *res) {
  mz_executor *ex = mz_calloc(1, sizeof *ex);
  const char *eid = info->executor_id && info->executor_id->value ? info->executor_id->value : "";
  ex->key = make_key(framework_id, eid);
  ex->id = mz_strdup(eid);
  ex->framework_id = mz_strdup(framework_id);
  ex->agent = agent;
  ex->fw = fw;
  ex->info = mz_pb_dup(info);
  ex->resources = res ? res : mz_resources_new();
  HASH_ADD_KEYPTR(hh, agent->executors, ex->key, strlen(ex->key), ex);
  char err[256];
  if (mz_resources_add(agent->used, ex->resources, err, sizeof err) != 0)
    MZ_WARN("master", "executor %s: agent usage: %s", ex->id, err);
  if (fw) {
    DL_APPEND2(fw->executors, ex, fw_prev, fw_next);
    if (mz_resources_add_scalars(fw->used, ex->resources, err, sizeof err) != 0)
      MZ_WARN("master", "executor %s: framework usage: %s", ex->id, err);
  }
  return ex;
}

void mz_executor_remove(mz_executor *ex, bool recover) {
  mz_agent *agent = ex->agent;
  mz_master *m = agent->m;
  char err[256];
  HASH_DEL(agent->executors, ex);
  if (mz_resources_subtract(agent->used, ex->resources, err, sizeof err) != 0)
    MZ_WARN("master", "executor %s: agent usage: %s", ex->id, err);
  if (ex->fw) {
    DL_DELETE2(ex->fw->executors, ex, fw_prev, fw_next);
    if (mz_resources_subtract_scalars(ex->fw->used, ex->resources, err, sizeof err) != 0)
      MZ_WARN("master", "executor %s: framework usage: %s", ex->id, err);
  }
  if (recover && !mz_resources_empty(ex->resources))
    m->alloc_ops->recover(m->alloc, agent->id, ex->framework_id, ex->resources, 0);
  protobuf_c_message_free_unpacked(&ex->info->base, NULL);
  mz_resources_free(ex->resources);
  free(ex->key);
  free(ex->id);
  free(ex->framework_id);
  free(ex);
}

json_t *mz_executor_json(const mz_executor *ex) {
  json_t *o = json_object();
  json_object_set_new(o, "executor_id", json_string(ex->id));
  json_object_set_new(o, "name", json_string(ex->info->name ? ex->info->name : ""));
  json_object_set_new(o, "framework_id", json_string(ex->framework_id));
  json_t *cmd = json_object();
  if (ex->info->command) {
    Mesos__V1__CommandInfo *c = ex->info->command;
    json_object_set_new(cmd, "shell", json_boolean(!c->has_shell || c->shell));
    if (c->value) json_object_set_new(cmd, "value", json_string(c->value));
    json_t *argv = json_array();
    for (size_t i = 0; i < c->n_arguments; i++) json_array_append_new(argv, json_string(c->arguments[i]));
    json_object_set_new(cmd, "argv", argv);
    json_object_set_new(cmd, "uris", json_array());
  }
  json_object_set_new(o, "command", cmd);
  json_object_set_new(o, "resources", mz_resources_summary_json(ex->resources));
  if (ex->resources->n > 0 && ex->resources->v[0].alloc_role)
    json_object_set_new(o, "role", json_string(ex->resources->v[0].alloc_role));
  if (ex->info->has_type)
    json_object_set_new(o, "type", json_string(mz_enum_name(&mesos__v1__executor_info__type__descriptor, ex->info->type)));
  json_object_set_new(o, "slave_id", json_string(ex->agent->id));
  return o;
}
