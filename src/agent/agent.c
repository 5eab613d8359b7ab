/* agent: the agent's tables of frameworks -> executors -> tasks (see agent.h),
 * their creation, lookup, completion (into bounded lists kept for /state) and
 * release; and small protobuf helpers shared by the agent's modules. */
#include "agent/agent.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <utlist.h>

#include "agent/containerizer.h"
#include "common/log.h"

void mz_pb_free(void *m) {
  if (m) protobuf_c_message_free_unpacked((ProtobufCMessage *)m, NULL);
}

void mz_agent_info_fill(mz_agent *a, mz_agent_info_buf *b) {
  memset(b, 0, sizeof *b);
  mesos__v1__agent_info__init(&b->info);
  mesos__v1__agent_id__init(&b->id);
  b->info.hostname = a->hostname;
  b->info.has_port = 1;
  b->info.port = a->port;
  if (a->agent_id) {
    b->id.value = a->agent_id;
    b->info.id = &b->id;
  }
  b->res = mz_resources_to_proto(a->resources, &b->nres);
  b->info.n_resources = b->res ? b->nres : 0;
  b->info.resources = b->res;
  b->info.n_attributes = a->nattributes;
  b->info.attributes = a->attributes;
}

void mz_agent_info_release(mz_agent_info_buf *b) {
  if (b->res) mz_resources_proto_free(b->res, b->nres);
  b->res = NULL;
}

/* ------------------------------------------------------------------ frameworks */

mz_ag_framework *mz_agent_framework(mz_agent *a, const char *id) {
  mz_ag_framework *fw;
  HASH_FIND_STR(a->frameworks, id, fw);
  return fw;
}

mz_ag_framework *mz_agent_framework_add(mz_agent *a, const Mesos__V1__FrameworkInfo *info) {
  mz_ag_framework *fw = mz_agent_framework(a, info->id->value);
  if (fw) {
    /* Keep the newest FrameworkInfo (capabilities may have changed). */
    Mesos__V1__FrameworkInfo *copy = mz_pb_dup(&info->base);
    if (copy) {
      mz_pb_free(fw->info);
      fw->info = copy;
    }
    return fw;
  }
  fw = mz_calloc(1, sizeof *fw);
  fw->info = mz_pb_dup(&info->base);
  if (!fw->info) {
    free(fw);
    return NULL;
  }
  fw->id = mz_strdup(info->id->value);
  HASH_ADD_KEYPTR(hh, a->frameworks, fw->id, strlen(fw->id), fw);
  MZ_INFO(MZ_AGENT_MOD, "added framework %s (%s)", fw->id, info->name ? info->name : "");
  return fw;
}

/* ------------------------------------------------------------------ executors */

mz_ag_executor *mz_agent_executor(mz_ag_framework *fw, const char *id) {
  mz_ag_executor *ex;
  HASH_FIND_STR(fw->executors, id, ex);
  return ex;
}

mz_ag_executor *mz_agent_executor_add(mz_agent *a, mz_ag_framework *fw, const Mesos__V1__ExecutorInfo *info,
                                      int command) {
  mz_ag_executor *ex = mz_calloc(1, sizeof *ex);
  ex->info = mz_pb_dup(&info->base);
  if (!ex->info) {
    free(ex);
    return NULL;
  }
  ex->id = mz_strdup(info->executor_id->value);
  ex->agent = a;
  ex->fw = fw;
  ex->command = command;
  ex->default_executor = !command && info->has_type && info->type == MESOS__V1__EXECUTOR_INFO__TYPE__DEFAULT &&
                         !info->command;
  mz_uuid_string(ex->container_id);
  ex->state = MZ_EXEC_REGISTERING;
  HASH_ADD_KEYPTR(hh, fw->executors, ex->id, strlen(ex->id), ex);
  return ex;
}

/* ------------------------------------------------------------------ tasks */

mz_ag_task *mz_agent_task(mz_agent *a, const char *fw_id, const char *task_id) {
  mz_ag_framework *fw = mz_agent_framework(a, fw_id);
  if (!fw) return NULL;
  mz_ag_task *t;
  HASH_FIND(hh_fw, fw->live_tasks, task_id, strlen(task_id), t);
  return t;
}

mz_ag_task *mz_agent_task_new(mz_ag_executor *ex, const Mesos__V1__TaskInfo *info) {
  mz_ag_task *t = mz_calloc(1, sizeof *t);
  t->info = mz_pb_dup(&info->base);
  if (!t->info) {
    free(t);
    return NULL;
  }
  t->id = mz_strdup(info->task_id->value);
  t->state = MESOS__V1__TASK_STATE__TASK_STAGING;
  t->executor = ex;
  HASH_ADD_KEYPTR(hh, ex->queued, t->id, strlen(t->id), t);
  HASH_ADD_KEYPTR(hh_fw, ex->fw->live_tasks, t->id, strlen(t->id), t);
  return t;
}

void mz_agent_task_record_status(mz_ag_task *t, const Mesos__V1__TaskStatus *st) {
  Mesos__V1__TaskStatus *copy = mz_pb_dup(&st->base);
  if (!copy) return;
  t->state = st->state;
  if (t->nstatuses == MZ_AGENT_MAX_STATUSES_PER_TASK) {
    /* Keep the first (how it started) and the newest ones. */
    mz_pb_free(t->statuses[1]);
    memmove(&t->statuses[1], &t->statuses[2], (t->nstatuses - 2) * sizeof *t->statuses);
    t->nstatuses--;
  }
  t->statuses = mz_realloc(t->statuses, (t->nstatuses + 1) * sizeof *t->statuses);
  t->statuses[t->nstatuses++] = copy;
}

static void task_free(mz_ag_task *t) {
  for (size_t i = 0; i < t->nstatuses; i++) mz_pb_free(t->statuses[i]);
  free(t->statuses);
  mz_pb_free(t->info);
  free(t->id);
  free(t);
}

static int in_hash(mz_ag_task *head, mz_ag_task *t) {
  mz_ag_task *f;
  HASH_FIND_STR(head, t->id, f);
  return f == t;
}

void mz_agent_task_complete(mz_agent *a, mz_ag_task *t) {
  mz_ag_executor *ex = t->executor;
  if (in_hash(ex->launched, t))
    HASH_DEL(ex->launched, t);
  else if (in_hash(ex->queued, t))
    HASH_DEL(ex->queued, t);
  else
    return;
  HASH_DELETE(hh_fw, ex->fw->live_tasks, t);
  DL_APPEND(ex->completed, t);
  ex->ncompleted++;
  while (ex->ncompleted > MZ_AGENT_MAX_COMPLETED_TASKS) {
    mz_ag_task *old = ex->completed;
    DL_DELETE(ex->completed, old);
    ex->ncompleted--;
    task_free(old);
  }
}

size_t mz_agent_live_tasks(const mz_ag_executor *ex) {
  return HASH_COUNT(ex->queued) + HASH_COUNT(ex->launched);
}

/* ------------------------------------------------------------------ completion */

static void executor_free(mz_ag_executor *ex) {
  mz_ag_exec_release(ex);
  mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->queued, t, tmp) {
    HASH_DEL(ex->queued, t);
    HASH_DELETE(hh_fw, ex->fw->live_tasks, t);
    task_free(t);
  }
  HASH_ITER(hh, ex->launched, t, tmp) {
    HASH_DEL(ex->launched, t);
    HASH_DELETE(hh_fw, ex->fw->live_tasks, t);
    task_free(t);
  }
  DL_FOREACH_SAFE(ex->completed, t, tmp) {
    DL_DELETE(ex->completed, t);
    task_free(t);
  }
  mz_pb_free(ex->info);
  free(ex->term_message);
  free(ex->directory);
  free(ex->id);
  free(ex);
}

static void framework_free(mz_ag_framework *fw) {
  mz_ag_executor *ex, *tmp;
  HASH_ITER(hh, fw->executors, ex, tmp) {
    HASH_DEL(fw->executors, ex);
    executor_free(ex);
  }
  DL_FOREACH_SAFE(fw->completed, ex, tmp) {
    DL_DELETE(fw->completed, ex);
    executor_free(ex);
  }
  mz_pb_free(fw->info);
  free(fw->id);
  free(fw);
}

void mz_agent_gc_executor(mz_agent *a, mz_ag_executor *ex) {
  if (ex->state != MZ_EXEC_TERMINATED || mz_agent_live_tasks(ex) > 0) return;
  mz_ag_framework *fw = ex->fw;
  mz_ag_exec_release(ex);
  mz_ag_ckpt_executor_done(a, ex);
  HASH_DEL(fw->executors, ex);
  DL_APPEND(fw->completed, ex);
  fw->ncompleted++;
  mz_sandbox_gc_done(a, ex, HASH_COUNT(fw->executors) == 0);
  long max = a->flags.max_completed_executors_per_framework;
  while (fw->ncompleted > (size_t)(max < 0 ? 0 : max)) {
    mz_ag_executor *old = fw->completed;
    DL_DELETE(fw->completed, old);
    fw->ncompleted--;
    executor_free(old);
  }
  MZ_INFO(MZ_AGENT_MOD, "executor %s of framework %s completed", ex->id, fw->id);
  if (HASH_COUNT(fw->executors) > 0) return;
  mz_ag_ckpt_framework_done(a, fw);
  HASH_DEL(a->frameworks, fw);
  DL_APPEND(a->completed_frameworks, fw);
  a->ncompleted_frameworks++;
  long fmax = a->flags.max_completed_frameworks;
  while (a->ncompleted_frameworks > (size_t)(fmax < 0 ? 0 : fmax)) {
    mz_ag_framework *old = a->completed_frameworks;
    DL_DELETE(a->completed_frameworks, old);
    a->ncompleted_frameworks--;
    framework_free(old);
  }
  MZ_INFO(MZ_AGENT_MOD, "framework %s has no executor left", fw->id);
}

void mz_agent_free_state(mz_agent *a) {
  mz_ag_framework *fw, *tmp;
  HASH_ITER(hh, a->frameworks, fw, tmp) {
    HASH_DEL(a->frameworks, fw);
    framework_free(fw);
  }
  DL_FOREACH_SAFE(a->completed_frameworks, fw, tmp) {
    DL_DELETE(a->completed_frameworks, fw);
    framework_free(fw);
  }
  a->ncompleted_frameworks = 0;
}
