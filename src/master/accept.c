/* accept: the ACCEPT and DECLINE calls (see accept.h). */
#include "master/accept.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "master/agent.h"
#include "master/allocator.h"
#include "master/events.h"
#include "master/executor.h"
#include "master/offer.h"
#include "master/pbutil.h"
#include "master/registry_master.h"
#include "master/task.h"
#include "master/validation.h"

#define OP(t) MESOS__V1__OFFER__OPERATION__TYPE__##t

static void tasks_of(const Mesos__V1__Offer__Operation *op, Mesos__V1__TaskInfo ***tasks, size_t *n) {
  *tasks = NULL;
  *n = 0;
  if (op->has_type && op->type == OP(LAUNCH) && op->launch) {
    *tasks = op->launch->task_infos;
    *n = op->launch->n_task_infos;
  } else if (op->has_type && op->type == OP(LAUNCH_GROUP) && op->launch_group && op->launch_group->task_group) {
    *tasks = op->launch_group->task_group->tasks;
    *n = op->launch_group->task_group->n_tasks;
  }
}

/* Operations this master does not perform (volumes, disks, and any operation that asks
 * for feedback with an id). With an operation id the framework gets an
 * OPERATION_ERROR status; without one the operation is dropped, as in Mesos. */
static void refuse_operation(mz_framework *fw, const Mesos__V1__Offer__Operation *op, const char *agent_id) {
  const char *name = op->has_type ? mz_enum_name(&mesos__v1__offer__operation__type__descriptor, op->type) : "UNKNOWN";
  char msg[256];
  snprintf(msg, sizeof msg, "Operation %s%s is not supported by this master", name,
           op->id ? " with an operation id (operation feedback)" : "");
  MZ_WARN("master", "framework %s: dropping %s operation: %s", fw->id, name, msg);
  if (!op->id) return;
  Mesos__V1__Scheduler__Event ev = MESOS__V1__SCHEDULER__EVENT__INIT;
  Mesos__V1__Scheduler__Event__UpdateOperationStatus up = MESOS__V1__SCHEDULER__EVENT__UPDATE_OPERATION_STATUS__INIT;
  Mesos__V1__OperationStatus st = MESOS__V1__OPERATION_STATUS__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  st.operation_id = op->id;
  st.state = MESOS__V1__OPERATION_STATE__OPERATION_ERROR;
  st.message = msg;
  if (agent_id) {
    aid.value = (char *)agent_id;
    st.agent_id = &aid;
  }
  up.status = &st;
  ev.has_type = 1;
  ev.type = MESOS__V1__SCHEDULER__EVENT__TYPE__UPDATE_OPERATION_STATUS;
  ev.update_operation_status = &up;
  mz_event_send(fw, &ev);
}

/* The agent's total changes from `from` to `to` (allocated form; converted). */
static void convert_total(mz_agent *agent, const mz_resources *from, const mz_resources *to) {
  mz_resources *f = mz_resources_copy(from), *t = mz_resources_copy(to);
  mz_resources_set_alloc_role(f, NULL);
  mz_resources_set_alloc_role(t, NULL);
  char why[256];
  if (mz_resources_subtract(agent->total, f, why, sizeof why) != 0 || mz_resources_add(agent->total, t, why, sizeof why) != 0)
    MZ_ERROR("master", "agent %s: reservation accounting: %s", agent->id, why);
  mz_resources_free(f);
  mz_resources_free(t);
}

/* RESERVE (reserve = true) or UNRESERVE on the offered pool, as Mesos validates them:
 * dynamically reserved resources, for the offers' allocation role, by the framework's
 * principal, contained in what was offered. 0, or -1 with err (the operation is dropped). */
static int reservation_op(mz_framework *fw, mz_agent *agent, const char *role, bool reserve,
                          Mesos__V1__Resource *const *msgs, size_t n, mz_resources *available, char *err,
                          size_t errlen) {
  const char *what = reserve ? "RESERVE" : "UNRESERVE";
  char why[512];
  if (n == 0) {
    snprintf(err, errlen, "Invalid %s operation: no resources", what);
    return -1;
  }
  mz_resources *res = mz_resources_from_proto(msgs, n, why, sizeof why);
  if (!res) {
    snprintf(err, errlen, "Invalid %s operation: %s", what, why);
    return -1;
  }
  const char *fw_principal = fw->info->principal;
  for (size_t i = 0; i < res->n; i++) {
    const mz_resource *e = &res->v[i];
    if (e->resv != MZ_RESV_DYNAMIC) {
      snprintf(err, errlen, "Invalid %s operation: resource '%s' is not dynamically reserved", what, e->name);
      goto fail;
    }
    if (strcmp(e->role, role) != 0) {
      snprintf(err, errlen, "Invalid %s operation: reservation role '%s' does not match the allocation role '%s'", what,
               e->role, role);
      goto fail;
    }
    if (reserve && fw_principal && (!e->principal || strcmp(e->principal, fw_principal) != 0)) {
      snprintf(err, errlen, "Invalid RESERVE operation: the reservation's principal '%s' does not match the "
               "framework's principal '%s'", e->principal ? e->principal : "", fw_principal);
      goto fail;
    }
  }
  mz_resources_set_alloc_role(res, role);
  mz_resources *plain = mz_resources_with_reservation(res, "*", MZ_RESV_NONE, NULL);
  mz_resources *from = reserve ? plain : res, *to = reserve ? res : plain;
  if (!plain || !mz_resources_contains(available, from)) {
    snprintf(err, errlen, "Invalid %s operation: %s resources are not contained in the offered resources", what,
             reserve ? "the unreserved" : "the reserved");
    mz_resources_free(plain);
    goto fail;
  }
  mz_master *m = fw->m;
  if (!m->alloc_ops->update_allocation ||
      m->alloc_ops->update_allocation(m->alloc, agent->id, fw->id, from, to) != 0) {
    snprintf(err, errlen, "Invalid %s operation: the allocator cannot apply it", what);
    mz_resources_free(plain);
    goto fail;
  }
  mz_resources_subtract(available, from, NULL, 0);
  mz_resources_add(available, to, NULL, 0);
  convert_total(agent, from, to);
  char *txt = mz_resources_format(to);
  MZ_INFO("master", "framework %s: %s on agent %s: %s", fw->id, what, agent->id, txt ? txt : "");
  free(txt);
  mz_resources_free(plain);
  mz_resources_free(res);
  return 0;
fail:
  mz_resources_free(res);
  return -1;
}

/* Sets ExecutorInfo.framework_id where the framework left it out (heap objects:
 * the call is freed with protobuf_c_message_free_unpacked). */
static void inject_framework_id(mz_framework *fw, Mesos__V1__ExecutorInfo *e) {
  if (!e || e->framework_id) return;
  e->framework_id = mz_calloc(1, sizeof *e->framework_id);
  mesos__v1__framework_id__init(e->framework_id);
  e->framework_id->value = mz_strdup(fw->id);
}

/* Sends RUN_TASK with the resources in allocated form (swapped in, then restored). */
static void send_run_task(mz_framework *fw, mz_agent *agent, Mesos__V1__TaskInfo *task, Mesos__V1__TaskGroupInfo *group,
                          Mesos__V1__ExecutorInfo *executor, const mz_resources *task_res, mz_resources **group_res,
                          const char *role) {
  Mezzo__Internal__AgentEvent ev = MEZZO__INTERNAL__AGENT_EVENT__INIT;
  Mezzo__Internal__AgentEvent__RunTask rt = MEZZO__INTERNAL__AGENT_EVENT__RUN_TASK__INIT;
  rt.framework = fw->info;
  rt.task = task;
  rt.task_group = group;
  rt.executor = executor;
  ev.type = MEZZO__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK;
  ev.run_task = &rt;

  /* Executor resources with the allocation role. */
  Mesos__V1__Resource **eold = NULL, **enew = NULL;
  size_t eold_n = 0, enew_n = 0;
  if (executor) {
    char err[128];
    mz_resources *er = mz_validate_resources(executor->resources, executor->n_resources, role, err, sizeof err);
    if (er) {
      enew = mz_resources_to_proto(er, &enew_n);
      mz_resources_free(er);
      eold = executor->resources;
      eold_n = executor->n_resources;
      executor->resources = enew;
      executor->n_resources = enew_n;
    }
  }
  size_t nt = group ? group->n_tasks : 1;
  Mesos__V1__TaskInfo **tasks = group ? group->tasks : &task;
  Mesos__V1__Resource ***told = mz_calloc(nt, sizeof *told), ***tnew = mz_calloc(nt, sizeof *tnew);
  size_t *told_n = mz_calloc(nt, sizeof *told_n), *tnew_n = mz_calloc(nt, sizeof *tnew_n);
  for (size_t i = 0; i < nt; i++) {
    const mz_resources *r = group ? group_res[i] : task_res;
    tnew[i] = mz_resources_to_proto(r, &tnew_n[i]);
    told[i] = tasks[i]->resources;
    told_n[i] = tasks[i]->n_resources;
    tasks[i]->resources = tnew[i];
    tasks[i]->n_resources = tnew_n[i];
  }
  if (mz_agent_send(agent, &ev) != 0)
    MZ_WARN("master", "could not send RUN_TASK to agent %s (link gone); the task will be reconciled", agent->id);

  for (size_t i = 0; i < nt; i++) {
    tasks[i]->resources = told[i];
    tasks[i]->n_resources = told_n[i];
    mz_resources_proto_free(tnew[i], tnew_n[i]);
  }
  free(told);
  free(tnew);
  free(told_n);
  free(tnew_n);
  if (executor && enew) {
    executor->resources = eold;
    executor->n_resources = eold_n;
    mz_resources_proto_free(enew, enew_n);
  }
}

static void launch(mz_framework *fw, mz_agent *agent, const char *role, Mesos__V1__TaskInfo *t,
                   mz_resources *available) {
  mz_master *m = fw->m;
  char err[1024];
  inject_framework_id(fw, t->executor);
  mz_resources *tr = NULL, *er = NULL;
  const char *tid = t->task_id ? t->task_id->value : "";
  if (mz_validate_task(fw, agent, t, available, role, &tr, &er, err, sizeof err) != 0) {
    mz_status_send(fw, tid, agent->id, t->executor ? t->executor->executor_id->value : NULL,
                   MESOS__V1__TASK_STATE__TASK_ERROR, MESOS__V1__TASK_STATUS__REASON__REASON_TASK_INVALID, err, true);
    return;
  }
  char why[256];
  if (mz_resources_subtract(available, tr, why, sizeof why) != 0 ||
      (er && mz_resources_subtract(available, er, why, sizeof why) != 0))
    MZ_ERROR("master", "launch accounting: %s", why);
  const char *eid = NULL;
  if (t->executor) {
    eid = t->executor->executor_id->value;
    if (er) mz_executor_add(agent, fw, fw->id, t->executor, er);
  }
  mz_task_add(fw, agent, tid, t->name, eid, mz_resources_copy(tr), role,
              t->command && t->command->user ? t->command->user : fw->info->user, MESOS__V1__TASK_STATE__TASK_STAGING);
  MZ_INFO("master", "launching task %s of framework %s on agent %s%s", tid, fw->id, agent->id,
          t->executor ? (er ? " with a new executor" : " on its existing executor") : "");
  send_run_task(fw, agent, t, NULL, t->executor, tr, NULL, role);
  mz_resources_free(tr);
  (void)m;
}

static void launch_group(mz_framework *fw, mz_agent *agent, const char *role, Mesos__V1__Offer__Operation__LaunchGroup *lg,
                         mz_resources *available) {
  char err[1024];
  Mesos__V1__TaskGroupInfo *g = lg->task_group;
  Mesos__V1__ExecutorInfo *e = lg->executor;
  inject_framework_id(fw, e);
  for (size_t i = 0; i < g->n_tasks; i++) inject_framework_id(fw, g->tasks[i]->executor);
  mz_resources **tr = mz_calloc(g->n_tasks ? g->n_tasks : 1, sizeof *tr);
  mz_resources *er = NULL;
  if (mz_validate_task_group(fw, agent, e, g, available, role, tr, &er, err, sizeof err) != 0) {
    for (size_t i = 0; i < g->n_tasks; i++) {
      const Mesos__V1__TaskInfo *t = g->tasks[i];
      mz_status_send(fw, t->task_id ? t->task_id->value : "", agent->id, e->executor_id ? e->executor_id->value : NULL,
                     MESOS__V1__TASK_STATE__TASK_ERROR, MESOS__V1__TASK_STATUS__REASON__REASON_TASK_GROUP_INVALID, err,
                     true);
    }
    free(tr);
    return;
  }
  char why[256];
  if (er) {
    if (mz_resources_subtract(available, er, why, sizeof why) != 0) MZ_ERROR("master", "launch accounting: %s", why);
    mz_executor_add(agent, fw, fw->id, e, er);
  }
  for (size_t i = 0; i < g->n_tasks; i++) {
    Mesos__V1__TaskInfo *t = g->tasks[i];
    if (mz_resources_subtract(available, tr[i], why, sizeof why) != 0) MZ_ERROR("master", "launch accounting: %s", why);
    mz_task_add(fw, agent, t->task_id->value, t->name, e->executor_id->value, mz_resources_copy(tr[i]), role,
                fw->info->user, MESOS__V1__TASK_STATE__TASK_STAGING);
  }
  MZ_INFO("master", "launching task group of %zu task(s) of framework %s on agent %s (executor %s)", g->n_tasks,
          fw->id, agent->id, e->executor_id->value);
  send_run_task(fw, agent, NULL, g, e, NULL, tr, role);
  for (size_t i = 0; i < g->n_tasks; i++) mz_resources_free(tr[i]);
  free(tr);
}

void mz_accept(mz_framework *fw, Mesos__V1__Scheduler__Call__Accept *acc) {
  mz_master *m = fw->m;
  char err[1024];
  for (size_t i = 0; i < acc->n_operations; i++) {
    const Mesos__V1__Offer__Operation *op = acc->operations[i];
    if (op->has_type && op->type == OP(LAUNCH)) {
      if (op->launch && op->launch->n_task_infos > 0) m->metrics.messages_launch_tasks++;
      else m->metrics.messages_decline_offers++;
    }
  }
  int bad = 0;
  if (acc->n_offer_ids == 0) bad = (snprintf(err, sizeof err, "No offers specified"), 1);
  else bad = mz_validate_offers(m, fw, acc->offer_ids, acc->n_offer_ids, err, sizeof err) != 0;

  if (bad) {
    for (size_t i = 0; i < acc->n_offer_ids; i++) {
      mz_offer *o = mz_offer_find(m, acc->offer_ids[i]->value);
      if (o && o->fw == fw) mz_offer_discard(o, 0);
    }
    MZ_WARN("master", "ACCEPT of framework %s used invalid offers: %s", fw->id, err);
    char msg[1200];
    snprintf(msg, sizeof msg, "Task launched with invalid offers: %s", err);
    Mesos__V1__TaskState st = fw->partition_aware ? MESOS__V1__TASK_STATE__TASK_DROPPED : MESOS__V1__TASK_STATE__TASK_LOST;
    for (size_t i = 0; i < acc->n_operations; i++) {
      const Mesos__V1__Offer__Operation *op = acc->operations[i];
      Mesos__V1__TaskInfo **tasks;
      size_t n;
      tasks_of(op, &tasks, &n);
      if (!op->has_type || (op->type != OP(LAUNCH) && op->type != OP(LAUNCH_GROUP))) {
        refuse_operation(fw, op, NULL);
        continue;
      }
      for (size_t k = 0; k < n; k++) {
        const Mesos__V1__TaskInfo *t = tasks[k];
        mz_status_send(fw, t->task_id ? t->task_id->value : "",
                       t->agent_id && t->agent_id->value ? t->agent_id->value : NULL, NULL, st,
                       MESOS__V1__TASK_STATUS__REASON__REASON_INVALID_OFFERS, msg, true);
      }
    }
    return;
  }

  /* Valid offers: one agent, one role. Their resources become the pool of this call. */
  mz_offer *first = mz_offer_find(m, acc->offer_ids[0]->value);
  mz_agent *agent = first->agent;
  char *role = mz_strdup(first->role);
  mz_resources *available = mz_resources_new();
  for (size_t i = 0; i < acc->n_offer_ids; i++) {
    mz_offer *o = mz_offer_find(m, acc->offer_ids[i]->value);
    char why[256];
    mz_resources_add(available, o->resources, why, sizeof why);
    mz_resources_subtract_scalars(fw->offered, o->resources, why, sizeof why);
    mz_resources_subtract(agent->offered, o->resources, why, sizeof why);
    fw->offers_accepted++;
    m->metrics.offers_accepted++;
    mz_offer_remove(o);
  }

  for (size_t i = 0; i < acc->n_operations; i++) {
    Mesos__V1__Offer__Operation *op = acc->operations[i];
    if (!op->has_type) continue;
    if ((op->type == OP(LAUNCH) || op->type == OP(LAUNCH_GROUP)) && op->id) {
      Mesos__V1__TaskInfo **tasks;
      size_t n;
      tasks_of(op, &tasks, &n);
      const char *m2 = op->type == OP(LAUNCH) ? "The `id` field cannot be set on LAUNCH operations"
                                              : "The `id` field cannot be set on LAUNCH_GROUP operations";
      for (size_t k = 0; k < n; k++)
        mz_status_send(fw, tasks[k]->task_id ? tasks[k]->task_id->value : "", agent->id, NULL,
                       MESOS__V1__TASK_STATE__TASK_ERROR,
                       op->type == OP(LAUNCH) ? MESOS__V1__TASK_STATUS__REASON__REASON_TASK_INVALID
                                              : MESOS__V1__TASK_STATUS__REASON__REASON_TASK_GROUP_INVALID,
                       m2, true);
      continue;
    }
    switch (op->type) {
      case OP(LAUNCH):
        if (!op->launch) break;
        for (size_t k = 0; k < op->launch->n_task_infos; k++) launch(fw, agent, role, op->launch->task_infos[k], available);
        break;
      case OP(LAUNCH_GROUP):
        if (!op->launch_group || !op->launch_group->executor || !op->launch_group->task_group) break;
        launch_group(fw, agent, role, op->launch_group, available);
        break;
      case OP(RESERVE):
      case OP(UNRESERVE): {
        if (op->id) { /* operation feedback needs agent support this cluster does not have */
          refuse_operation(fw, op, agent->id);
          break;
        }
        bool reserve = op->type == OP(RESERVE);
        Mesos__V1__Resource *const *res = reserve ? (op->reserve ? op->reserve->resources : NULL)
                                                  : (op->unreserve ? op->unreserve->resources : NULL);
        size_t nres = reserve ? (op->reserve ? op->reserve->n_resources : 0)
                              : (op->unreserve ? op->unreserve->n_resources : 0);
        if (reservation_op(fw, agent, role, reserve, res, nres, available, err, sizeof err) != 0)
          MZ_WARN("master", "framework %s: dropping operation: %s", fw->id, err);
        else
          mz_registrar_update_agent(agent); /* the agent's total changed: recorded */
        break;
      }
      case OP(UNKNOWN):
        MZ_WARN("master", "framework %s: ignoring an UNKNOWN operation", fw->id);
        break;
      default:
        refuse_operation(fw, op, agent->id);
        break;
    }
  }

  /* What no task took goes back, under the call's filter. */
  double refuse = mz_allocator_refuse_seconds(acc->filters && acc->filters->has_refuse_seconds,
                                              acc->filters ? acc->filters->refuse_seconds : 0);
  m->alloc_ops->recover(m->alloc, agent->id, fw->id, available, refuse);
  mz_resources_free(available);
  free(role);
}

void mz_decline(mz_framework *fw, const Mesos__V1__Scheduler__Call__Decline *dec) {
  mz_master *m = fw->m;
  m->metrics.messages_decline_offers++;
  double refuse = mz_allocator_refuse_seconds(dec->filters && dec->filters->has_refuse_seconds,
                                              dec->filters ? dec->filters->refuse_seconds : 0);
  for (size_t i = 0; i < dec->n_offer_ids; i++) {
    mz_offer *o = mz_offer_find(m, dec->offer_ids[i]->value);
    if (!o || o->fw != fw) {
      MZ_WARN("master", "framework %s declined offer %s which is no longer valid", fw->id, dec->offer_ids[i]->value);
      continue;
    }
    fw->offers_declined++;
    m->metrics.offers_declined++;
    mz_offer_discard(o, refuse);
  }
}
