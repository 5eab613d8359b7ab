/* validation: see validation.h. */
#include "master/validation.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/executor.h"
#include "master/offer.h"
#include "master/pbutil.h"
#include "master/task.h"

#define CALL(t) MESOS__V1__SCHEDULER__CALL__TYPE__##t

static int fail(char *err, size_t errlen, const char *msg) {
  snprintf(err, errlen, "%s", msg);
  return -1;
}

int mz_validate_call(const Mesos__V1__Scheduler__Call *c, char *err, size_t errlen) {
  if (!c->has_type) return fail(err, errlen, "Expecting 'type' to be present");
  if (c->type == CALL(SUBSCRIBE)) {
    if (!c->subscribe) return fail(err, errlen, "Expecting 'subscribe' to be present");
    const Mesos__V1__FrameworkInfo *fi = c->subscribe->framework_info;
    const char *a = fi && fi->id ? fi->id->value : NULL;
    const char *b = c->framework_id ? c->framework_id->value : NULL;
    if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
      return fail(err, errlen, "'framework_id' differs from 'subscribe.framework_info.id'");
    return 0;
  }
  if (!c->framework_id || !c->framework_id->value) return fail(err, errlen, "Expecting 'framework_id' to be present");
  switch (c->type) {
    case CALL(TEARDOWN):
    case CALL(REVIVE):
    case CALL(SUPPRESS):
      return 0;
    case CALL(ACCEPT):
      return c->accept ? 0 : fail(err, errlen, "Expecting 'accept' to be present");
    case CALL(DECLINE):
      return c->decline ? 0 : fail(err, errlen, "Expecting 'decline' to be present");
    case CALL(ACCEPT_INVERSE_OFFERS):
      return c->accept_inverse_offers ? 0 : fail(err, errlen, "Expecting 'accept_inverse_offers' to be present");
    case CALL(DECLINE_INVERSE_OFFERS):
      return c->decline_inverse_offers ? 0 : fail(err, errlen, "Expecting 'decline_inverse_offers' to be present");
    case CALL(KILL):
      return c->kill ? 0 : fail(err, errlen, "Expecting 'kill' to be present");
    case CALL(SHUTDOWN):
      return c->shutdown ? 0 : fail(err, errlen, "Expecting 'shutdown' to be present");
    case CALL(ACKNOWLEDGE):
      if (!c->acknowledge) return fail(err, errlen, "Expecting 'acknowledge' to be present");
      if (c->acknowledge->uuid.len != MZ_UUID_BYTES) {
        snprintf(err, errlen, "Not a valid UUID: 'acknowledge.uuid' must be %d bytes, got %zu", MZ_UUID_BYTES,
                 c->acknowledge->uuid.len);
        return -1;
      }
      return 0;
    case CALL(ACKNOWLEDGE_OPERATION_STATUS):
      if (!c->acknowledge_operation_status)
        return fail(err, errlen, "Expecting 'acknowledge_operation_status' to be present");
      if (c->acknowledge_operation_status->uuid.len != MZ_UUID_BYTES)
        return fail(err, errlen, "Not a valid UUID: 'acknowledge_operation_status.uuid' must be 16 bytes");
      if (!c->acknowledge_operation_status->agent_id) return fail(err, errlen, "Expecting 'agent_id' to be present");
      return 0;
    case CALL(RECONCILE):
      return c->reconcile ? 0 : fail(err, errlen, "Expecting 'reconcile' to be present");
    case CALL(RECONCILE_OPERATIONS):
      return c->reconcile_operations ? 0 : fail(err, errlen, "Expecting 'reconcile_operations' to be present");
    case CALL(MESSAGE):
      return c->message ? 0 : fail(err, errlen, "Expecting 'message' to be present");
    case CALL(REQUEST):
      return c->request ? 0 : fail(err, errlen, "Expecting 'request' to be present");
    case CALL(UPDATE_FRAMEWORK): {
      if (!c->update_framework) return fail(err, errlen, "Expecting 'update_framework' to be present");
      const Mesos__V1__FrameworkInfo *fi = c->update_framework->framework_info;
      if (!fi || !fi->id || strcmp(fi->id->value, c->framework_id->value) != 0)
        return fail(err, errlen, "'framework_id' differs from 'update_framework.framework_info.id'");
      return 0;
    }
    default:
      snprintf(err, errlen, "Unknown call type %d", (int)c->type);
      return -1;
  }
}

int mz_validate_offers(mz_master *m, mz_framework *fw, Mesos__V1__OfferID *const *ids, size_t n, char *err,
                       size_t errlen) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < i; j++)
      if (!strcmp(ids[i]->value, ids[j]->value)) {
        snprintf(err, errlen, "Duplicate offer %s in offer list", ids[i]->value);
        return -1;
      }
  for (size_t i = 0; i < n; i++) {
    if (!mz_offer_find(m, ids[i]->value)) {
      snprintf(err, errlen, "Offer %s is no longer valid", ids[i]->value);
      return -1;
    }
  }
  for (size_t i = 0; i < n; i++) {
    mz_offer *o = mz_offer_find(m, ids[i]->value);
    if (o->fw != fw) {
      snprintf(err, errlen, "Offer %s has invalid framework %s while framework %s is expected", o->id, o->fw->id,
               fw->id);
      return -1;
    }
  }
  mz_offer *first = mz_offer_find(m, ids[0]->value);
  for (size_t i = 1; i < n; i++) {
    mz_offer *o = mz_offer_find(m, ids[i]->value);
    if (strcmp(o->role, first->role) != 0) {
      snprintf(err, errlen,
               "Aggregated offers must be allocated to the same role. Offer %s uses role '%s' but another is using "
               "role '%s'",
               o->id, o->role, first->role);
      return -1;
    }
  }
  for (size_t i = 1; i < n; i++) {
    mz_offer *o = mz_offer_find(m, ids[i]->value);
    if (o->agent != first->agent) {
      snprintf(err, errlen, "Aggregated offers must belong to one single agent. Offer %s uses agent %s and agent %s",
               o->id, o->agent->id, first->agent->id);
      return -1;
    }
  }
  return 0;
}

mz_resources *mz_validate_resources(Mesos__V1__Resource *const *res, size_t n, const char *role, char *err,
                                    size_t errlen) {
  char why[512];
  mz_resources *r = mz_resources_from_proto(res, n, why, sizeof why);
  if (!r) {
    snprintf(err, errlen, "%s", why);
    return NULL;
  }
  for (size_t i = 0; i < r->n; i++) {
    if (r->v[i].alloc_role && strcmp(r->v[i].alloc_role, role) != 0) {
      snprintf(err, errlen, "resource '%s' is allocated to role '%s' but the offers are allocated to role '%s'",
               r->v[i].name, r->v[i].alloc_role, role);
      mz_resources_free(r);
      return NULL;
    }
  }
  mz_resources_set_alloc_role(r, role);
  return r;
}

static char *fmt(const mz_resources *r) {
  char *s = mz_resources_format(r);
  return s ? s : mz_strdup("");
}

static int not_contained(const char *what, const mz_resources *total, const mz_resources *available, char *err,
                         size_t errlen) {
  char *a = fmt(total), *b = fmt(available);
  snprintf(err, errlen, "Total resources %s required by %s more than available %s", a, what, b);
  free(a);
  free(b);
  return -1;
}

/* gpus: whole GPUs only (Mesos's validateGpus), and only for frameworks with the
 * GPU_RESOURCES capability. */
static int validate_gpus(const mz_framework *fw, const mz_resources *r, const char *what, char *err, size_t errlen) {
  int64_t gpus = mz_resources_scalar(r, "gpus");
  if (gpus == 0) return 0;
  if (gpus % MZ_SCALAR_UNIT != 0) {
    snprintf(err, errlen, "Invalid 'gpus' resource: The 'gpus' resource must be an unsigned integer (%s uses %g)", what,
             (double)gpus / MZ_SCALAR_UNIT);
    return -1;
  }
  for (size_t i = 0; fw->info && i < fw->info->n_capabilities; i++)
    if (fw->info->capabilities[i]->has_type &&
        fw->info->capabilities[i]->type == MESOS__V1__FRAMEWORK_INFO__CAPABILITY__TYPE__GPU_RESOURCES)
      return 0;
  snprintf(err, errlen, "%s uses gpus:%g but framework %s does not have the GPU_RESOURCES capability", what,
           (double)gpus / MZ_SCALAR_UNIT, fw->id);
  return -1;
}

/* Checks shared by task and task-group tasks (Mesos validateTask). */
static int validate_task_common(mz_framework *fw, mz_agent *agent, const Mesos__V1__TaskInfo *t, char *err,
                                size_t errlen) {
  char why[300];
  if (!t->task_id || mz_id_valid(t->task_id->value, why, sizeof why) != 0) {
    snprintf(err, errlen, "Task has an invalid TaskID: %s", t->task_id ? why : "missing");
    return -1;
  }
  if (mz_task_find(fw, t->task_id->value)) {
    snprintf(err, errlen, "Task has duplicate ID: %s", t->task_id->value);
    return -1;
  }
  if (!t->agent_id || !t->agent_id->value || strcmp(t->agent_id->value, agent->id) != 0) {
    snprintf(err, errlen, "Task uses invalid agent %s while agent %s is expected",
             t->agent_id && t->agent_id->value ? t->agent_id->value : "(none)", agent->id);
    return -1;
  }
  if (t->kill_policy && t->kill_policy->grace_period && t->kill_policy->grace_period->nanoseconds < 0)
    return fail(err, errlen, "Task's 'kill_policy.grace_period' must be non-negative");
  if (t->max_completion_time && t->max_completion_time->nanoseconds < 0)
    return fail(err, errlen, "Task's `max_completion_time` must be non-negative");
  if (t->n_resources == 0) return fail(err, errlen, "Task uses no resources");
  return 0;
}

/* Executor checks shared by LAUNCH and LAUNCH_GROUP (Mesos executor::internal::validate). */
static int validate_executor_common(mz_framework *fw, mz_agent *agent, const Mesos__V1__ExecutorInfo *e, char *err,
                                    size_t errlen) {
  char why[300];
  if (!e->executor_id || mz_id_valid(e->executor_id->value, why, sizeof why) != 0) {
    snprintf(err, errlen, "Executor has an invalid ExecutorID: %s", e->executor_id ? why : "missing");
    return -1;
  }
  if (e->has_type && e->type == MESOS__V1__EXECUTOR_INFO__TYPE__DEFAULT && e->command)
    return fail(err, errlen, "'ExecutorInfo.command' must not be set for 'DEFAULT' executor");
  if (e->has_type && e->type == MESOS__V1__EXECUTOR_INFO__TYPE__CUSTOM && !e->command)
    return fail(err, errlen, "'ExecutorInfo.command' must be set for 'CUSTOM' executor");
  if (!e->framework_id) return fail(err, errlen, "'ExecutorInfo.framework_id' must be set");
  if (strcmp(e->framework_id->value, fw->id) != 0) {
    snprintf(err, errlen, "ExecutorInfo has an invalid FrameworkID (Actual: %s vs Expected: %s)",
             e->framework_id->value, fw->id);
    return -1;
  }
  if (e->shutdown_grace_period && e->shutdown_grace_period->nanoseconds < 0)
    return fail(err, errlen, "ExecutorInfo's 'shutdown_grace_period' must be non-negative");
  mz_executor *ex = mz_executor_find(agent, fw->id, e->executor_id->value);
  if (ex && !mz_pb_equal(ex->info, e)) {
    snprintf(err, errlen,
             "ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID '%s'",
             e->executor_id->value);
    return -1;
  }
  return 0;
}

int mz_validate_task(mz_framework *fw, mz_agent *agent, const Mesos__V1__TaskInfo *t, const mz_resources *available,
                     const char *role, mz_resources **task_res, mz_resources **exec_res, char *err, size_t errlen) {
  *task_res = *exec_res = NULL;
  char why[512];
  if (validate_task_common(fw, agent, t, err, errlen) != 0) return -1;
  mz_resources *tr = mz_validate_resources(t->resources, t->n_resources, role, why, sizeof why);
  if (!tr) {
    snprintf(err, errlen, "Task uses invalid resources: %s", why);
    return -1;
  }
  if (mz_resources_empty(tr)) {
    mz_resources_free(tr);
    return fail(err, errlen, "Task uses no resources");
  }
  if ((t->executor != NULL) == (t->command != NULL)) {
    mz_resources_free(tr);
    return fail(err, errlen, "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present");
  }
  mz_resources *total = mz_resources_copy(tr);
  mz_resources *er = NULL;
  if (t->executor) {
    const Mesos__V1__ExecutorInfo *e = t->executor;
    if (validate_executor_common(fw, agent, e, err, errlen) != 0) goto fail;
    if (e->has_type && e->type != MESOS__V1__EXECUTOR_INFO__TYPE__CUSTOM) {
      fail(err, errlen, "'ExecutorInfo.type' must be 'CUSTOM'");
      goto fail;
    }
    if (!e->command) {
      fail(err, errlen, "'ExecutorInfo.command' must be set");
      goto fail;
    }
    if (!mz_executor_find(agent, fw->id, e->executor_id->value)) {
      er = mz_validate_resources(e->resources, e->n_resources, role, why, sizeof why);
      if (!er) {
        snprintf(err, errlen, "Executor uses invalid resources: %s", why);
        goto fail;
      }
      if (mz_resources_add(total, er, why, sizeof why) != 0) {
        snprintf(err, errlen, "Invalid task and executor resources: %s", why);
        goto fail;
      }
    }
  }
  if (validate_gpus(fw, total, "Task and its executor", err, errlen) != 0) goto fail;
  if (!mz_resources_contains(available, total)) {
    not_contained("task and its executor is", total, available, err, errlen);
    goto fail;
  }
  mz_resources_free(total);
  *task_res = tr;
  *exec_res = er;
  return 0;
fail:
  mz_resources_free(tr);
  mz_resources_free(er);
  mz_resources_free(total);
  return -1;
}

int mz_validate_task_group(mz_framework *fw, mz_agent *agent, const Mesos__V1__ExecutorInfo *e,
                           const Mesos__V1__TaskGroupInfo *group, const mz_resources *available, const char *role,
                           mz_resources **task_res, mz_resources **exec_res, char *err, size_t errlen) {
  char why[512];
  size_t n = group->n_tasks;
  for (size_t i = 0; i < n; i++) task_res[i] = NULL;
  *exec_res = NULL;
  mz_resources *total = mz_resources_new(), *er = NULL;
  if (n == 0) {
    fail(err, errlen, "Task group is empty");
    goto fail;
  }
  for (size_t i = 0; i < n; i++) {
    const Mesos__V1__TaskInfo *t = group->tasks[i];
    const char *tid = t->task_id ? t->task_id->value : "";
    if (validate_task_common(fw, agent, t, why, sizeof why) != 0) {
      snprintf(err, errlen, "Task '%s' is invalid: %s", tid, why);
      goto fail;
    }
    for (size_t j = 0; j < i; j++)
      if (group->tasks[j]->task_id && !strcmp(group->tasks[j]->task_id->value, tid)) {
        snprintf(err, errlen, "Task '%s' is invalid: Task has duplicate ID: %s", tid, tid);
        goto fail;
      }
    task_res[i] = mz_validate_resources(t->resources, t->n_resources, role, why, sizeof why);
    if (!task_res[i]) {
      snprintf(err, errlen, "Task '%s' is invalid: Task uses invalid resources: %s", tid, why);
      goto fail;
    }
    if (mz_resources_empty(task_res[i])) {
      snprintf(err, errlen, "Task '%s' is invalid: Task uses no resources", tid);
      goto fail;
    }
    if (mz_resources_add(total, task_res[i], why, sizeof why) != 0) {
      snprintf(err, errlen, "Invalid task group resources: %s", why);
      goto fail;
    }
  }
  if (validate_executor_common(fw, agent, e, err, errlen) != 0) goto fail;
  if (!e->has_type) {
    fail(err, errlen, "'ExecutorInfo.type' must be set");
    goto fail;
  }
  if (e->type == MESOS__V1__EXECUTOR_INFO__TYPE__UNKNOWN) {
    fail(err, errlen, "Unknown executor type");
    goto fail;
  }
  for (size_t i = 0; i < n; i++) {
    const Mesos__V1__TaskInfo *t = group->tasks[i];
    if (t->executor && !mz_pb_equal(t->executor, e)) {
      snprintf(err, errlen, "The `ExecutorInfo` of task '%s' is different from executor '%s'", t->task_id->value,
               e->executor_id->value);
      goto fail;
    }
  }
  er = mz_validate_resources(e->resources, e->n_resources, role, why, sizeof why);
  if (!er) {
    snprintf(err, errlen, "Executor uses invalid resources: %s", why);
    goto fail;
  }
  int64_t cpus = mz_resources_scalar(er, "cpus"), mem = mz_resources_scalar(er, "mem");
  if (cpus < MZ_MIN_CPUS) {
    snprintf(err, errlen, "Executor '%s' uses less CPUs (%.3g) than the minimum required (0.01)",
             e->executor_id->value, (double)cpus / MZ_SCALAR_UNIT);
    goto fail;
  }
  if (mem < MZ_MIN_MEM) {
    snprintf(err, errlen, "Executor '%s' uses less memory (%.3gMB) than the minimum required (32MB)",
             e->executor_id->value, (double)mem / MZ_SCALAR_UNIT);
    goto fail;
  }
  bool has_disk = false;
  for (size_t i = 0; i < er->n; i++) has_disk |= !strcmp(er->v[i].name, "disk");
  if (!has_disk) {
    snprintf(err, errlen, "Executor '%s' uses no disk", e->executor_id->value);
    goto fail;
  }
  if (mz_executor_find(agent, fw->id, e->executor_id->value)) {
    mz_resources_free(er);
    er = NULL;
  } else if (mz_resources_add(total, er, why, sizeof why) != 0) {
    snprintf(err, errlen, "Invalid task group and executor resources: %s", why);
    goto fail;
  }
  if (validate_gpus(fw, total, "Task group and its executor", err, errlen) != 0) goto fail;
  if (!mz_resources_contains(available, total)) {
    not_contained("task group and its executor are", total, available, err, errlen);
    goto fail;
  }
  mz_resources_free(total);
  *exec_res = er;
  return 0;
fail:
  for (size_t i = 0; i < n; i++) {
    mz_resources_free(task_res[i]);
    task_res[i] = NULL;
  }
  mz_resources_free(er);
  mz_resources_free(total);
  return -1;
}
