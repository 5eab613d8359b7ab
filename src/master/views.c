/* views: see views.h. */
#include "master/views.h"

#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "common/resources.h"
#include "common/util.h"
#include "master/maintenance.h"
#include "master/pbutil.h"
#include "master/task.h"

char *mz_view_strdup(const char *s) { return s ? mz_strdup(s) : NULL; }

/* FrameworkID, AgentID, TaskID, ExecutorID...: one required string "value". */
static void *id_msg(const ProtobufCMessageDescriptor *d, const char *value) {
  ProtobufCMessage *m = mz_calloc(1, d->sizeof_message);
  protobuf_c_message_init(d, m);
  *(char **)((char *)m + d->fields[0].offset) = mz_strdup(value ? value : "");
  return m;
}

#define FRAMEWORK_ID(v) ((Mesos__V1__FrameworkID *)id_msg(&mesos__v1__framework_id__descriptor, (v)))
#define AGENT_ID(v) ((Mesos__V1__AgentID *)id_msg(&mesos__v1__agent_id__descriptor, (v)))
#define TASK_ID(v) ((Mesos__V1__TaskID *)id_msg(&mesos__v1__task_id__descriptor, (v)))
#define EXECUTOR_ID(v) ((Mesos__V1__ExecutorID *)id_msg(&mesos__v1__executor_id__descriptor, (v)))

Mesos__V1__TimeInfo *mz_view_time(double seconds) {
  Mesos__V1__TimeInfo *t = mz_malloc(sizeof *t);
  *t = (Mesos__V1__TimeInfo)MESOS__V1__TIME_INFO__INIT;
  t->nanoseconds = (int64_t)(seconds * 1e9);
  return t;
}

static Mesos__V1__Resource **resources(const mz_resources *r, size_t *n) {
  if (!r || r->n == 0) {
    *n = 0;
    return NULL;
  }
  return mz_resources_to_proto(r, n);
}

static void *xrealloc_array(void *arr, size_t n, size_t size) { return mz_realloc(arr, (n ? n : 1) * size); }

Mesos__V1__Task *mz_view_task(const mz_task *t) {
  Mesos__V1__Task *m = mz_malloc(sizeof *m);
  *m = (Mesos__V1__Task)MESOS__V1__TASK__INIT;
  m->name = mz_strdup(t->name ? t->name : "");
  m->task_id = TASK_ID(t->id);
  m->framework_id = FRAMEWORK_ID(t->framework_id);
  if (t->executor_id) m->executor_id = EXECUTOR_ID(t->executor_id);
  m->agent_id = AGENT_ID(t->agent_id);
  m->state = t->state;
  m->resources = resources(t->resources, &m->n_resources);
  if (t->nstatuses) {
    m->statuses = mz_malloc(t->nstatuses * sizeof *m->statuses);
    for (size_t i = 0; i < t->nstatuses; i++) {
      Mesos__V1__TaskStatus *s = mz_malloc(sizeof *s);
      *s = (Mesos__V1__TaskStatus)MESOS__V1__TASK_STATUS__INIT;
      s->task_id = TASK_ID(t->id);
      s->state = t->statuses[i].state;
      s->has_timestamp = 1;
      s->timestamp = t->statuses[i].timestamp;
      s->agent_id = AGENT_ID(t->agent_id);
      m->statuses[i] = s;
    }
    m->n_statuses = t->nstatuses;
  }
  if (t->has_update_state) {
    m->has_status_update_state = 1;
    m->status_update_state = t->update_state;
    m->has_status_update_uuid = 1;
    m->status_update_uuid.data = mz_malloc(MZ_UUID_BYTES);
    memcpy(m->status_update_uuid.data, t->update_uuid, MZ_UUID_BYTES);
    m->status_update_uuid.len = MZ_UUID_BYTES;
  }
  if (t->user) m->user = mz_strdup(t->user);
  return m;
}

Mesos__V1__Master__Response__GetAgents__Agent *mz_view_agent(const mz_agent *a) {
  Mesos__V1__Master__Response__GetAgents__Agent *m = mz_malloc(sizeof *m);
  *m = (Mesos__V1__Master__Response__GetAgents__Agent)MESOS__V1__MASTER__RESPONSE__GET_AGENTS__AGENT__INIT;
  m->agent_info = mz_pb_dup(a->info);
  m->active = a->active;
  m->version = mz_strdup(a->version ? a->version : "");
  m->pid = mz_view_strdup(a->pid);
  m->registered_time = mz_view_time(a->registered_time);
  if (a->reregistered_time != a->registered_time) m->reregistered_time = mz_view_time(a->reregistered_time);
  m->total_resources = resources(a->total, &m->n_total_resources);
  m->allocated_resources = resources(a->used, &m->n_allocated_resources);
  m->offered_resources = resources(a->offered, &m->n_offered_resources);
  m->has_deactivated = 1;
  m->deactivated = a->deactivated;
  m->drain_info = mz_maintenance_drain_info(a);
  return m;
}

static size_t count_offers(const mz_framework *fw) {
  size_t n = 0;
  const mz_offer *o;
  DL_FOREACH2(fw->offers, o, fw_next) n++;
  return n;
}

static Mesos__V1__Offer *offer_view(const mz_offer *o) {
  Mesos__V1__Offer *m = mz_malloc(sizeof *m);
  *m = (Mesos__V1__Offer)MESOS__V1__OFFER__INIT;
  m->id = id_msg(&mesos__v1__offer_id__descriptor, o->id);
  m->framework_id = FRAMEWORK_ID(o->fw->id);
  m->agent_id = AGENT_ID(o->agent->id);
  m->hostname = mz_strdup(o->agent->hostname ? o->agent->hostname : "");
  m->resources = resources(o->resources, &m->n_resources);
  if (o->role) {
    m->allocation_info = mz_malloc(sizeof *m->allocation_info);
    *m->allocation_info = (Mesos__V1__Resource__AllocationInfo)MESOS__V1__RESOURCE__ALLOCATION_INFO__INIT;
    m->allocation_info->role = mz_strdup(o->role);
  }
  return m;
}

Mesos__V1__Master__Response__GetFrameworks__Framework *mz_view_framework(const mz_framework *fw) {
  Mesos__V1__Master__Response__GetFrameworks__Framework *m = mz_malloc(sizeof *m);
  *m = (Mesos__V1__Master__Response__GetFrameworks__Framework)
      MESOS__V1__MASTER__RESPONSE__GET_FRAMEWORKS__FRAMEWORK__INIT;
  m->framework_info = mz_pb_dup(fw->info);
  m->active = fw->active;
  m->connected = fw->connected;
  m->recovered = fw->recovered;
  if (fw->registered_time > 0) m->registered_time = mz_view_time(fw->registered_time);
  if (fw->reregistered_time > 0 && fw->reregistered_time != fw->registered_time)
    m->reregistered_time = mz_view_time(fw->reregistered_time);
  if (fw->unregistered_time > 0) m->unregistered_time = mz_view_time(fw->unregistered_time);
  size_t no = count_offers(fw);
  if (no) {
    m->offers = mz_malloc(no * sizeof *m->offers);
    const mz_offer *o;
    DL_FOREACH2(fw->offers, o, fw_next) m->offers[m->n_offers++] = offer_view(o);
  }
  m->allocated_resources = resources(fw->used, &m->n_allocated_resources);
  m->offered_resources = resources(fw->offered, &m->n_offered_resources);
  return m;
}

Mesos__V1__Master__Response__GetAgents *mz_view_agents(const mz_master *m) {
  Mesos__V1__Master__Response__GetAgents *r = mz_malloc(sizeof *r);
  *r = (Mesos__V1__Master__Response__GetAgents)MESOS__V1__MASTER__RESPONSE__GET_AGENTS__INIT;
  r->agents = mz_malloc((m->nagents ? m->nagents : 1) * sizeof *r->agents);
  mz_agent *a, *tmp;
  HASH_ITER(hh, m->agents, a, tmp) r->agents[r->n_agents++] = mz_view_agent(a);
  return r;
}

Mesos__V1__Master__Response__GetFrameworks *mz_view_frameworks(const mz_master *m) {
  Mesos__V1__Master__Response__GetFrameworks *r = mz_malloc(sizeof *r);
  *r = (Mesos__V1__Master__Response__GetFrameworks)MESOS__V1__MASTER__RESPONSE__GET_FRAMEWORKS__INIT;
  r->frameworks = mz_malloc((m->nframeworks ? m->nframeworks : 1) * sizeof *r->frameworks);
  mz_framework *fw, *tmp;
  HASH_ITER(hh, m->frameworks, fw, tmp) r->frameworks[r->n_frameworks++] = mz_view_framework(fw);
  r->completed_frameworks =
      mz_malloc((m->ncompleted_frameworks ? m->ncompleted_frameworks : 1) * sizeof *r->completed_frameworks);
  DL_FOREACH2(m->completed_frameworks, fw, done_next)
  r->completed_frameworks[r->n_completed_frameworks++] = mz_view_framework(fw);
  return r;
}

static void push_task(Mesos__V1__Task ***arr, size_t *n, size_t *cap, const mz_task *t) {
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 16;
    *arr = xrealloc_array(*arr, *cap, sizeof **arr);
  }
  (*arr)[(*n)++] = mz_view_task(t);
}

static void add_framework_tasks(Mesos__V1__Master__Response__GetTasks *r, const mz_framework *fw, size_t *cap_live,
                                size_t *cap_unreach, size_t *cap_done) {
  mz_task *t, *tmp;
  HASH_ITER(hh, fw->tasks, t, tmp) {
    if (t->state == MESOS__V1__TASK_STATE__TASK_UNREACHABLE)
      push_task(&r->unreachable_tasks, &r->n_unreachable_tasks, cap_unreach, t);
    else
      push_task(&r->tasks, &r->n_tasks, cap_live, t);
  }
  DL_FOREACH2(fw->completed_tasks, t, done_next) push_task(&r->completed_tasks, &r->n_completed_tasks, cap_done, t);
  DL_FOREACH2(fw->unreachable_list, t, done_next)
    push_task(&r->unreachable_tasks, &r->n_unreachable_tasks, cap_unreach, t);
}

Mesos__V1__Master__Response__GetTasks *mz_view_tasks(const mz_master *m) {
  Mesos__V1__Master__Response__GetTasks *r = mz_malloc(sizeof *r);
  *r = (Mesos__V1__Master__Response__GetTasks)MESOS__V1__MASTER__RESPONSE__GET_TASKS__INIT;
  size_t c1 = 0, c2 = 0, c3 = 0;
  mz_framework *fw, *tmp;
  HASH_ITER(hh, m->frameworks, fw, tmp) add_framework_tasks(r, fw, &c1, &c2, &c3);
  DL_FOREACH2(m->completed_frameworks, fw, done_next) add_framework_tasks(r, fw, &c1, &c2, &c3);
  return r;
}

Mesos__V1__Master__Response__GetExecutors *mz_view_executors(const mz_master *m) {
  Mesos__V1__Master__Response__GetExecutors *r = mz_malloc(sizeof *r);
  *r = (Mesos__V1__Master__Response__GetExecutors)MESOS__V1__MASTER__RESPONSE__GET_EXECUTORS__INIT;
  size_t cap = 0;
  mz_agent *a, *atmp;
  HASH_ITER(hh, m->agents, a, atmp) {
    mz_executor *e, *etmp;
    HASH_ITER(hh, a->executors, e, etmp) {
      if (r->n_executors == cap) {
        cap = cap ? cap * 2 : 16;
        r->executors = xrealloc_array(r->executors, cap, sizeof *r->executors);
      }
      Mesos__V1__Master__Response__GetExecutors__Executor *x = mz_malloc(sizeof *x);
      *x = (Mesos__V1__Master__Response__GetExecutors__Executor)
          MESOS__V1__MASTER__RESPONSE__GET_EXECUTORS__EXECUTOR__INIT;
      x->executor_info = mz_pb_dup(e->info);
      x->agent_id = AGENT_ID(a->id);
      r->executors[r->n_executors++] = x;
    }
  }
  return r;
}

Mesos__V1__Master__Response__GetState *mz_view_state(const mz_master *m) {
  Mesos__V1__Master__Response__GetState *r = mz_malloc(sizeof *r);
  *r = (Mesos__V1__Master__Response__GetState)MESOS__V1__MASTER__RESPONSE__GET_STATE__INIT;
  r->get_tasks = mz_view_tasks(m);
  r->get_executors = mz_view_executors(m);
  r->get_frameworks = mz_view_frameworks(m);
  r->get_agents = mz_view_agents(m);
  return r;
}
