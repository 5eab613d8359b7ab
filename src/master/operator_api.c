/* operator_api: POST /api/v1 on the master, the v1 operator API
 * (mesos.v1.master.Call / Response), in JSON or protobuf as the request's
 * Content-Type and Accept say, with Mesos's status codes: 200 with a Response
 * for queries, 202 for accepted commands, 400 for a malformed or invalid call,
 * 404 for an unknown framework or agent, 405 / 406 / 415 for the method and
 * media types, and 501 for the calls this master does not implement (volumes,
 * files). The maintenance calls are maintenance.c's. SUBSCRIBE streams events (operator_events.c). */
#include "master/operator_api.h"

#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "common/api_call.h"
#include "common/log.h"
#include "master/agent.h"
#include "master/allocator.h"
#include "master/endpoints.h"
#include "master/maintenance.h"
#include "master/offer.h"
#include "master/framework.h"
#include "master/operator_events.h"
#include "master/pbutil.h"
#include "master/registry_master.h"
#include "master/views.h"
#include "mesos/v1/quota/quota.pb-c.h"

typedef Mesos__V1__Master__Call Call;
typedef Mesos__V1__Master__Response Response;
#define CALL(t) MESOS__V1__MASTER__CALL__TYPE__##t
#define RESP(t) MESOS__V1__MASTER__RESPONSE__TYPE__##t


static void reply_response(mz_http_req *req, mz_content_type ct, Response *r) { mz_api_reply(req, ct, &r->base); }

/* glog verbosity as Mesos reports it: 0 normally, 1 when DEBUG is on. */
static uint32_t glog_level(void) { return mz_log_get_level() == MZ_LOG_DEBUG ? 1 : 0; }

static Mesos__V1__Master__Response__GetMetrics *metrics_view(const mz_master *m) {
  json_t *o = mz_master_metrics_json(m);
  Mesos__V1__Master__Response__GetMetrics *r = mz_malloc(sizeof *r);
  *r = (Mesos__V1__Master__Response__GetMetrics)MESOS__V1__MASTER__RESPONSE__GET_METRICS__INIT;
  r->metrics = mz_malloc((json_object_size(o) + 1) * sizeof *r->metrics);
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    Mesos__V1__Metric *x = mz_malloc(sizeof *x);
    *x = (Mesos__V1__Metric)MESOS__V1__METRIC__INIT;
    x->name = mz_strdup(k);
    x->has_value = 1;
    x->value = json_number_value(v);
    r->metrics[r->n_metrics++] = x;
  }
  json_decref(o);
  return r;
}

static Mesos__V1__Master__Response__GetFlags *flags_view(const mz_master *m) {
  json_t *o = mz_master_flags_json(m);
  Mesos__V1__Master__Response__GetFlags *r = mz_malloc(sizeof *r);
  *r = (Mesos__V1__Master__Response__GetFlags)MESOS__V1__MASTER__RESPONSE__GET_FLAGS__INIT;
  r->flags = mz_malloc((json_object_size(o) + 1) * sizeof *r->flags);
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    Mesos__V1__Flag *f = mz_malloc(sizeof *f);
    *f = (Mesos__V1__Flag)MESOS__V1__FLAG__INIT;
    f->name = mz_strdup(k);
    f->value = mz_strdup(json_is_string(v) ? json_string_value(v) : "");
    r->flags[r->n_flags++] = f;
  }
  json_decref(o);
  return r;
}

static Mesos__V1__Master__Response__GetVersion *version_view(void) {
  Mesos__V1__Master__Response__GetVersion *r = mz_malloc(sizeof *r);
  *r = (Mesos__V1__Master__Response__GetVersion)MESOS__V1__MASTER__RESPONSE__GET_VERSION__INIT;
  r->version_info = mz_malloc(sizeof *r->version_info);
  *r->version_info = (Mesos__V1__VersionInfo)MESOS__V1__VERSION_INFO__INIT;
  r->version_info->version = mz_strdup(MZ_VERSION);
  r->version_info->build_date = mz_strdup(MZ_BUILD_DATE);
  r->version_info->build_user = mz_strdup(MZ_BUILD_USER);
  return r;
}

/* Roles known to the master: every role of a framework, with its frameworks
 * and the resources allocated to it. */
static Mesos__V1__Master__Response__GetRoles *roles_view(const mz_master *m) {
  Mesos__V1__Master__Response__GetRoles *r = mz_malloc(sizeof *r);
  *r = (Mesos__V1__Master__Response__GetRoles)MESOS__V1__MASTER__RESPONSE__GET_ROLES__INIT;
  size_t cap = 0;
  mz_framework *fw, *tmp;
  HASH_ITER(hh, m->frameworks, fw, tmp) {
    for (size_t i = 0; i < fw->nroles; i++) {
      Mesos__V1__Role *role = NULL;
      for (size_t k = 0; k < r->n_roles; k++)
        if (!strcmp(r->roles[k]->name, fw->roles[i])) role = r->roles[k];
      if (!role) {
        if (r->n_roles == cap) {
          cap = cap ? cap * 2 : 8;
          r->roles = mz_realloc(r->roles, cap * sizeof *r->roles);
        }
        role = mz_malloc(sizeof *role);
        *role = (Mesos__V1__Role)MESOS__V1__ROLE__INIT;
        role->name = mz_strdup(fw->roles[i]);
        json_t *w = json_object_get(m->weights, fw->roles[i]);
        role->weight = w ? json_number_value(w) : 1.0;
        r->roles[r->n_roles++] = role;
      }
      role->frameworks = mz_realloc(role->frameworks, (role->n_frameworks + 1) * sizeof *role->frameworks);
      Mesos__V1__FrameworkID *id = mz_malloc(sizeof *id);
      *id = (Mesos__V1__FrameworkID)MESOS__V1__FRAMEWORK_ID__INIT;
      id->value = mz_strdup(fw->id);
      role->frameworks[role->n_frameworks++] = id;
      /* Resources allocated to this role by this framework. */
      mz_resources *mine = mz_resources_new();
      for (size_t e = 0; e < fw->used->n; e++) {
        const mz_resource *res = &fw->used->v[e];
        if (res->alloc_role && !strcmp(res->alloc_role, fw->roles[i])) {
          mz_resources one = {(mz_resource *)res, 1};
          mz_resources_add(mine, &one, NULL, 0);
        }
      }
      mz_resources *all = mz_resources_new();
      if (role->n_resources) {
        mz_resources *prev = mz_resources_from_proto(role->resources, role->n_resources, NULL, 0);
        if (prev) {
          mz_resources_add(all, prev, NULL, 0);
          mz_resources_free(prev);
        }
        mz_resources_proto_free(role->resources, role->n_resources);
        role->resources = NULL;
        role->n_resources = 0;
      }
      mz_resources_add(all, mine, NULL, 0);
      if (all->n) role->resources = mz_resources_to_proto(all, &role->n_resources);
      mz_resources_free(all);
      mz_resources_free(mine);
    }
  }
  return r;
}


/* ------------------------------------------------------- weights and quota */

static Mesos__V1__Master__Response__GetWeights *weights_view(const mz_master *m) {
  Mesos__V1__Master__Response__GetWeights *r = mz_malloc(sizeof *r);
  *r = (Mesos__V1__Master__Response__GetWeights)MESOS__V1__MASTER__RESPONSE__GET_WEIGHTS__INIT;
  r->weight_infos = mz_malloc((json_object_size(m->weights) + 1) * sizeof *r->weight_infos);
  const char *role;
  json_t *v;
  json_object_foreach(m->weights, role, v) {
    Mesos__V1__WeightInfo *w = mz_malloc(sizeof *w);
    *w = (Mesos__V1__WeightInfo)MESOS__V1__WEIGHT_INFO__INIT;
    w->role = mz_strdup(role);
    w->weight = json_number_value(v);
    r->weight_infos[r->n_weight_infos++] = w;
  }
  return r;
}

static int update_weights(mz_master *m, const Mesos__V1__Master__Call__UpdateWeights *uw, char *err, size_t errlen) {
  if (!uw || uw->n_weight_infos == 0) {
    snprintf(err, errlen, "Expecting 'update_weights.weight_infos' to be present");
    return -1;
  }
  char why[256];
  for (size_t i = 0; i < uw->n_weight_infos; i++) {
    const Mesos__V1__WeightInfo *w = uw->weight_infos[i];
    if (!w->role || mz_role_valid(w->role, false, why, sizeof why) != 0) {
      snprintf(err, errlen, "Invalid role in 'weight_infos': %s", w->role ? why : "missing");
      return -1;
    }
    if (!(w->weight > 0) || isinf(w->weight)) {
      snprintf(err, errlen, "Invalid weight %g of role '%s': it must be positive", w->weight, w->role);
      return -1;
    }
  }
  if (!m->alloc_ops->update_weights) {
    snprintf(err, errlen, "The allocator '%s' does not support weights", m->alloc_ops->name);
    return -1;
  }
  const char **roles = mz_calloc(uw->n_weight_infos, sizeof *roles);
  double *weights = mz_calloc(uw->n_weight_infos, sizeof *weights);
  for (size_t i = 0; i < uw->n_weight_infos; i++) {
    roles[i] = uw->weight_infos[i]->role;
    weights[i] = uw->weight_infos[i]->weight;
  }
  if (mz_registrar_set_weights(m, roles, weights, uw->n_weight_infos, err, errlen) != 0) { /* recorded first */
    free(roles);
    free(weights);
    return -1;
  }
  for (size_t i = 0; i < uw->n_weight_infos; i++) {
    json_object_set_new(m->weights, roles[i], json_real(weights[i]));
    MZ_INFO("master", "weight of role %s set to %g", roles[i], weights[i]);
  }
  m->alloc_ops->update_weights(m->alloc, roles, weights, uw->n_weight_infos);
  free(roles);
  free(weights);
  return 0;
}

/* A quota map ("cpus" -> 2.0) as scalar resources. NULL with err for non-scalar names or bad values. */
static mz_resources *quota_map(Mesos__V1__Quota__QuotaConfig__GuaranteesEntry *const *entries, size_t n,
                               const char *what, const char *role, char *err, size_t errlen) {
  mz_resources *r = mz_resources_new();
  for (size_t i = 0; i < n; i++) {
    const char *name = entries[i]->key;
    double v = entries[i]->value ? entries[i]->value->value : -1;
    char why[256];
    if (!name || mz_resource_name_valid(name, why, sizeof why) != 0) {
      snprintf(err, errlen, "Invalid %s of role '%s': bad resource name", what, role);
      goto fail;
    }
    int64_t th = 0;
    if (!(v >= 0) || mz_scalar_from_double(v, &th, NULL, 0) != 0) {
      snprintf(err, errlen, "Invalid %s of role '%s': '%s' must be a non-negative number", what, role, name);
      goto fail;
    }
    mz_resource e = {.name = (char *)name, .type = MZ_RES_SCALAR, .role = "*", .resv = MZ_RESV_NONE, .scalar = th};
    if (mz_resources_add_entry(r, &e, why, sizeof why) != 0) {
      snprintf(err, errlen, "Invalid %s of role '%s': %s", what, role, why);
      goto fail;
    }
  }
  return r;
fail:
  mz_resources_free(r);
  return NULL;
}

static int update_quota(mz_master *m, const Mesos__V1__Master__Call__UpdateQuota *uq, char *err, size_t errlen) {
  if (!uq || uq->n_quota_configs == 0) {
    snprintf(err, errlen, "Expecting 'update_quota.quota_configs' to be present");
    return -1;
  }
  if (!m->alloc_ops->update_quota) {
    snprintf(err, errlen, "The allocator '%s' does not support quota", m->alloc_ops->name);
    return -1;
  }
  size_t n = uq->n_quota_configs;
  mz_resources **g = mz_calloc(n, sizeof *g), **l = mz_calloc(n, sizeof *l);
  int rc = -1;
  char why[256];
  for (size_t i = 0; i < n; i++) {
    const Mesos__V1__Quota__QuotaConfig *q = uq->quota_configs[i];
    if (mz_role_valid(q->role, false, why, sizeof why) != 0) {
      snprintf(err, errlen, "Invalid 'QuotaConfig.role': %s", why);
      goto done;
    }
    for (size_t j = 0; j < i; j++)
      if (!strcmp(uq->quota_configs[j]->role, q->role)) {
        snprintf(err, errlen, "Duplicate 'QuotaConfig.role' '%s'", q->role);
        goto done;
      }
    g[i] = quota_map(q->guarantees, q->n_guarantees, "guarantee", q->role, err, errlen);
    if (!g[i]) goto done;
    l[i] = quota_map((Mesos__V1__Quota__QuotaConfig__GuaranteesEntry *const *)q->limits, q->n_limits, "limit",
                     q->role, err, errlen);
    if (!l[i]) goto done;
    for (size_t k = 0; k < l[i]->n; k++) {
      int64_t gv = mz_resources_scalar(g[i], l[i]->v[k].name);
      if (gv > l[i]->v[k].scalar) {
        snprintf(err, errlen, "Invalid QuotaConfig of role '%s': the guarantee of '%s' exceeds its limit", q->role,
                 l[i]->v[k].name);
        goto done;
      }
    }
  }
  /* Guarantees beyond the cluster's resources need `force`, as in Mesos. */
  if (!(uq->has_force && uq->force)) {
    static const char *const kinds[] = {"cpus", "mem", "disk", "gpus"};
    for (size_t k = 0; k < 4; k++) {
      int64_t want = 0, have = 0;
      for (size_t i = 0; i < n; i++) want += mz_resources_scalar(g[i], kinds[k]);
      const char *role;
      json_t *cfg;
      json_object_foreach(m->quotas, role, cfg) {
        bool replaced = false;
        for (size_t i = 0; i < n; i++) replaced |= !strcmp(uq->quota_configs[i]->role, role);
        if (replaced) continue;
        json_t *gv = json_object_get(json_object_get(json_object_get(cfg, "guarantees"), kinds[k]), "value");
        int64_t th = 0;
        if (gv && mz_scalar_from_double(json_number_value(gv), &th, NULL, 0) == 0) want += th;
      }
      mz_agent *a, *tmp;
      HASH_ITER(hh, m->agents, a, tmp) have += mz_resources_scalar(a->total, kinds[k]);
      if (want > have) {
        snprintf(err, errlen, "Total quota guarantees of '%s' (%.3f) exceed the cluster's total (%.3f); use 'force'",
                 kinds[k], (double)want / MZ_SCALAR_UNIT, (double)have / MZ_SCALAR_UNIT);
        goto done;
      }
    }
  }
  { /* recorded first, all roles in one change */
    const char **qroles = mz_calloc(n, sizeof *qroles);
    json_t **cfgs = mz_calloc(n, sizeof *cfgs);
    for (size_t i = 0; i < n; i++) {
      const Mesos__V1__Quota__QuotaConfig *q = uq->quota_configs[i];
      qroles[i] = q->role;
      cfgs[i] = q->n_guarantees == 0 && q->n_limits == 0 ? NULL : mz_pb_to_json(&q->base);
    }
    int prc = mz_registrar_set_quotas(m, qroles, cfgs, n, err, errlen);
    for (size_t i = 0; i < n; i++) json_decref(cfgs[i]);
    free(cfgs);
    free(qroles);
    if (prc != 0) goto done;
  }
  for (size_t i = 0; i < n; i++) {
    const Mesos__V1__Quota__QuotaConfig *q = uq->quota_configs[i];
    if (m->alloc_ops->update_quota(m->alloc, q->role, g[i], l[i], err, errlen) != 0) goto done;
    if (q->n_guarantees == 0 && q->n_limits == 0) json_object_del(m->quotas, q->role);
    else json_object_set_new(m->quotas, q->role, mz_pb_to_json(&q->base));
    MZ_INFO("master", "quota of role %s updated", q->role);
  }
  rc = 0;
done:
  for (size_t i = 0; i < n; i++) {
    mz_resources_free(g[i]);
    mz_resources_free(l[i]);
  }
  free(g);
  free(l);
  return rc;
}

int mz_operator_restore_quota(mz_master *m, const Mesos__V1__Quota__QuotaConfig *q, char *err, size_t errlen) {
  if (!m->alloc_ops->update_quota) {
    snprintf(err, errlen, "The allocator '%s' does not support quota", m->alloc_ops->name);
    return -1;
  }
  mz_resources *g = quota_map(q->guarantees, q->n_guarantees, "guarantee", q->role, err, errlen);
  mz_resources *l = g ? quota_map((Mesos__V1__Quota__QuotaConfig__GuaranteesEntry *const *)q->limits, q->n_limits,
                                  "limit", q->role, err, errlen)
                      : NULL;
  int rc = g && l ? m->alloc_ops->update_quota(m->alloc, q->role, g, l, err, errlen) : -1;
  mz_resources_free(g);
  mz_resources_free(l);
  return rc;
}

static Mesos__V1__Master__Response__GetQuota *quota_view(const mz_master *m) {
  Mesos__V1__Master__Response__GetQuota *r = mz_malloc(sizeof *r);
  *r = (Mesos__V1__Master__Response__GetQuota)MESOS__V1__MASTER__RESPONSE__GET_QUOTA__INIT;
  r->status = mz_malloc(sizeof *r->status);
  *r->status = (Mesos__V1__Quota__QuotaStatus)MESOS__V1__QUOTA__QUOTA_STATUS__INIT;
  r->status->configs = mz_malloc((json_object_size(m->quotas) + 1) * sizeof *r->status->configs);
  const char *role;
  json_t *cfg;
  json_object_foreach(m->quotas, role, cfg) {
    char err[256];
    ProtobufCMessage *q = mz_pb_from_json(&mesos__v1__quota__quota_config__descriptor, cfg, err, sizeof err);
    if (q) r->status->configs[r->status->n_configs++] = (Mesos__V1__Quota__QuotaConfig *)q;
  }
  return r;
}

/* ----------------------------------------------------------- reservations */

/* RESERVE_RESOURCES / UNRESERVE_RESOURCES: dynamic reservations on an agent's
 * unallocated resources (offers holding them are rescinded first). Returns an
 * HTTP status (202 on success) with err set otherwise. */
static int operator_reservation(mz_master *m, const Mesos__V1__AgentID *aid, Mesos__V1__Resource *const *msgs,
                                size_t n, bool reserve, char *err, size_t errlen) {
  const char *what = reserve ? "RESERVE_RESOURCES" : "UNRESERVE_RESOURCES";
  if (!aid) {
    snprintf(err, errlen, "Expecting 'agent_id' to be present");
    return 400;
  }
  mz_agent *a = mz_agent_find(m, aid->value);
  if (!a) {
    snprintf(err, errlen, "Unknown agent %s", aid->value);
    return 404;
  }
  if (n == 0) {
    snprintf(err, errlen, "Invalid %s: no resources", what);
    return 400;
  }
  char why[512];
  mz_resources *res = mz_resources_from_proto(msgs, n, why, sizeof why);
  if (!res) {
    snprintf(err, errlen, "Invalid %s: %s", what, why);
    return 400;
  }
  int status = 400;
  mz_resources *plain = NULL, *free_now = NULL;
  for (size_t i = 0; i < res->n; i++) {
    if (res->v[i].resv != MZ_RESV_DYNAMIC) {
      snprintf(err, errlen, "Invalid %s: resource '%s' is not a dynamic reservation", what, res->v[i].name);
      goto done;
    }
    if (res->v[i].alloc_role) {
      snprintf(err, errlen, "Invalid %s: resource '%s' must not carry allocation_info", what, res->v[i].name);
      goto done;
    }
  }
  plain = mz_resources_with_reservation(res, "*", MZ_RESV_NONE, NULL);
  const mz_resources *from = reserve ? plain : res, *to = reserve ? res : plain;
  for (int attempt = 0; attempt < 2; attempt++) {
    mz_resources_free(free_now);
    free_now = mz_resources_copy(a->total);
    mz_resources *held = mz_resources_copy(a->used);
    mz_resources_add(held, a->offered, NULL, 0);
    mz_resources_set_alloc_role(held, NULL);
    mz_resources_subtract(free_now, held, NULL, 0);
    mz_resources_free(held);
    if (mz_resources_contains(free_now, from)) break;
    if (attempt == 0) { /* offers may hold them: take the agent's offers back and look again */
      mz_offer *o, *otmp;
      DL_FOREACH_SAFE2(a->offers, o, otmp, ag_next) mz_offer_rescind(o);
      continue;
    }
    snprintf(err, errlen, "Invalid %s: the resources are not available on agent %s", what, a->id);
    status = 409;
    goto done;
  }
  mz_resources_subtract(a->total, from, NULL, 0);
  mz_resources_add(a->total, to, NULL, 0);
  if (mz_registrar_update_agent(a) != 0) { /* recorded before anyone is told */
    mz_resources_subtract(a->total, to, NULL, 0);
    mz_resources_add(a->total, from, NULL, 0);
    snprintf(err, errlen, "Failed to record the reservation in the registry");
    status = 503;
    goto done;
  }
  if (m->alloc_ops->update_agent) m->alloc_ops->update_agent(m->alloc, a->id, a->total);
  char *txt = mz_resources_format(to);
  MZ_INFO("master", "operator %s on agent %s: %s", reserve ? "reserved" : "unreserved", a->id, txt ? txt : "");
  free(txt);
  status = 202;
done:
  mz_resources_free(free_now);
  mz_resources_free(plain);
  mz_resources_free(res);
  return status;
}

static void handle(mz_http_req *req, void *arg) {
  mz_master *m = arg;
  mz_content_type ct, accept;
  if (mz_api_post_content_type(req, &ct) != 0 || mz_api_accept(req, ct, &accept) != 0) return;
  Call *call = (Call *)mz_api_decode_body(req, &mesos__v1__master__call__descriptor, ct);
  if (!call) return;
  char err[1024];
  if (!call->has_type || call->type == CALL(UNKNOWN)) {
    mz_http_reply_error(req, 400, "Expecting 'type' to be present");
    goto done;
  }

  Response r = MESOS__V1__MASTER__RESPONSE__INIT;
  r.has_type = 1;
  switch (call->type) {
    case CALL(GET_HEALTH): {
      Mesos__V1__Master__Response__GetHealth h = MESOS__V1__MASTER__RESPONSE__GET_HEALTH__INIT;
      h.healthy = 1;
      r.type = RESP(GET_HEALTH);
      r.get_health = &h;
      reply_response(req, accept, &r);
      break;
    }
    case CALL(GET_FLAGS):
      r.type = RESP(GET_FLAGS);
      r.get_flags = flags_view(m);
      reply_response(req, accept, &r);
      protobuf_c_message_free_unpacked(&r.get_flags->base, NULL);
      break;
    case CALL(GET_VERSION):
      r.type = RESP(GET_VERSION);
      r.get_version = version_view();
      reply_response(req, accept, &r);
      protobuf_c_message_free_unpacked(&r.get_version->base, NULL);
      break;
    case CALL(GET_METRICS):
      r.type = RESP(GET_METRICS);
      r.get_metrics = metrics_view(m);
      reply_response(req, accept, &r);
      protobuf_c_message_free_unpacked(&r.get_metrics->base, NULL);
      break;
    case CALL(GET_LOGGING_LEVEL): {
      Mesos__V1__Master__Response__GetLoggingLevel l = MESOS__V1__MASTER__RESPONSE__GET_LOGGING_LEVEL__INIT;
      l.level = glog_level();
      r.type = RESP(GET_LOGGING_LEVEL);
      r.get_logging_level = &l;
      reply_response(req, accept, &r);
      break;
    }
    case CALL(SET_LOGGING_LEVEL): {
      const Mesos__V1__Master__Call__SetLoggingLevel *s = call->set_logging_level;
      if (mz_api_set_logging_level(m->base, "master", s ? s->level : 0, s ? s->duration : NULL, err, sizeof err) != 0) {
        mz_http_reply_error(req, 400, "%s", err);
        break;
      }
      mz_http_reply(req, 202, NULL, NULL, 0);
      break;
    }
    case CALL(GET_STATE):
      r.type = RESP(GET_STATE);
      r.get_state = mz_view_state(m);
      reply_response(req, accept, &r);
      protobuf_c_message_free_unpacked(&r.get_state->base, NULL);
      break;
    case CALL(GET_AGENTS):
      r.type = RESP(GET_AGENTS);
      r.get_agents = mz_view_agents(m);
      reply_response(req, accept, &r);
      protobuf_c_message_free_unpacked(&r.get_agents->base, NULL);
      break;
    case CALL(GET_FRAMEWORKS):
      r.type = RESP(GET_FRAMEWORKS);
      r.get_frameworks = mz_view_frameworks(m);
      reply_response(req, accept, &r);
      protobuf_c_message_free_unpacked(&r.get_frameworks->base, NULL);
      break;
    case CALL(GET_EXECUTORS):
      r.type = RESP(GET_EXECUTORS);
      r.get_executors = mz_view_executors(m);
      reply_response(req, accept, &r);
      protobuf_c_message_free_unpacked(&r.get_executors->base, NULL);
      break;
    case CALL(GET_TASKS):
      r.type = RESP(GET_TASKS);
      r.get_tasks = mz_view_tasks(m);
      reply_response(req, accept, &r);
      protobuf_c_message_free_unpacked(&r.get_tasks->base, NULL);
      break;
    case CALL(GET_ROLES):
      r.type = RESP(GET_ROLES);
      r.get_roles = roles_view(m);
      reply_response(req, accept, &r);
      protobuf_c_message_free_unpacked(&r.get_roles->base, NULL);
      break;
    case CALL(GET_MASTER): {
      Mesos__V1__Master__Response__GetMaster gm = MESOS__V1__MASTER__RESPONSE__GET_MASTER__INIT;
      gm.master_info = m->info;
      gm.has_start_time = gm.has_elected_time = 1;
      gm.start_time = m->start_time;
      gm.elected_time = m->elected_time;
      r.type = RESP(GET_MASTER);
      r.get_master = &gm;
      reply_response(req, accept, &r);
      break;
    }
    case CALL(TEARDOWN): {
      if (!call->teardown || !call->teardown->framework_id) {
        mz_http_reply_error(req, 400, "Expecting 'teardown.framework_id' to be present");
        break;
      }
      mz_framework *fw = mz_framework_find(m, call->teardown->framework_id->value);
      if (!fw) {
        mz_http_reply_error(req, 404, "Framework %s not found", call->teardown->framework_id->value);
        break;
      }
      MZ_INFO("master", "operator tears down framework %s", fw->id);
      mz_framework_remove(fw, "torn down by the operator");
      mz_http_reply(req, 200, NULL, NULL, 0);
      break;
    }
    case CALL(GET_WEIGHTS):
      r.type = RESP(GET_WEIGHTS);
      r.get_weights = weights_view(m);
      reply_response(req, accept, &r);
      protobuf_c_message_free_unpacked(&r.get_weights->base, NULL);
      break;
    case CALL(UPDATE_WEIGHTS):
      if (update_weights(m, call->update_weights, err, sizeof err) != 0) mz_http_reply_error(req, 400, "%s", err);
      else mz_http_reply(req, 202, NULL, NULL, 0);
      break;
    case CALL(GET_QUOTA):
      r.type = RESP(GET_QUOTA);
      r.get_quota = quota_view(m);
      reply_response(req, accept, &r);
      protobuf_c_message_free_unpacked(&r.get_quota->base, NULL);
      break;
    case CALL(UPDATE_QUOTA):
      if (update_quota(m, call->update_quota, err, sizeof err) != 0) mz_http_reply_error(req, 400, "%s", err);
      else mz_http_reply(req, 200, NULL, NULL, 0);
      break;
    case CALL(RESERVE_RESOURCES):
    case CALL(UNRESERVE_RESOURCES): {
      bool reserve = call->type == CALL(RESERVE_RESOURCES);
      const Mesos__V1__AgentID *aid = reserve ? (call->reserve_resources ? call->reserve_resources->agent_id : NULL)
                                              : (call->unreserve_resources ? call->unreserve_resources->agent_id : NULL);
      Mesos__V1__Resource *const *res = reserve ? (call->reserve_resources ? call->reserve_resources->resources : NULL)
                                                : (call->unreserve_resources ? call->unreserve_resources->resources : NULL);
      size_t nres = reserve ? (call->reserve_resources ? call->reserve_resources->n_resources : 0)
                            : (call->unreserve_resources ? call->unreserve_resources->n_resources : 0);
      int st = operator_reservation(m, aid, res, nres, reserve, err, sizeof err);
      if (st == 202) mz_http_reply(req, 202, NULL, NULL, 0);
      else mz_http_reply_error(req, st, "%s", err);
      break;
    }
    case CALL(DEACTIVATE_AGENT):
    case CALL(REACTIVATE_AGENT):
    case CALL(DRAIN_AGENT):
    case CALL(MARK_AGENT_GONE): {
      const Mesos__V1__AgentID *aid =
          call->type == CALL(DEACTIVATE_AGENT) ? (call->deactivate_agent ? call->deactivate_agent->agent_id : NULL)
          : call->type == CALL(REACTIVATE_AGENT) ? (call->reactivate_agent ? call->reactivate_agent->agent_id : NULL)
          : call->type == CALL(DRAIN_AGENT)      ? (call->drain_agent ? call->drain_agent->agent_id : NULL)
                                                 : (call->mark_agent_gone ? call->mark_agent_gone->agent_id : NULL);
      if (!aid) {
        mz_http_reply_error(req, 400, "Expecting 'agent_id' to be present");
        break;
      }
      mz_agent *a = mz_agent_find(m, aid->value);
      if (!a) {
        mz_http_reply_error(req, 404, "Unknown agent %s", aid->value);
        break;
      }
      int mrc = 0;
      if (call->type == CALL(DEACTIVATE_AGENT)) {
        mrc = mz_maintenance_deactivate(a, err, sizeof err);
      } else if (call->type == CALL(REACTIVATE_AGENT)) {
        if (!a->deactivated) {
          mz_http_reply_error(req, 400, "Agent %s is not deactivated", a->id);
          break;
        }
        mrc = mz_maintenance_reactivate(a, err, sizeof err);
      } else if (call->type == CALL(DRAIN_AGENT)) {
        double grace = -1;
        const Mesos__V1__Master__Duration *g = call->drain_agent->max_grace_period;
        if (g) {
          grace = (double)(g->has_seconds ? g->seconds : 0) + (double)(g->has_nanos ? g->nanos : 0) / 1e9;
          if (grace < 0) {
            mz_http_reply_error(req, 400, "'drain_agent.max_grace_period' must not be negative");
            break;
          }
        }
        mrc = mz_maintenance_drain(a, grace, call->drain_agent->has_mark_gone && call->drain_agent->mark_gone, err,
                                   sizeof err);
      } else {
        mz_maintenance_forget_agent(m, a->id);
        mz_agent_mark_gone(a, "MARK_AGENT_GONE");
      }
      if (mrc != 0) mz_http_reply_error(req, 503, "Failed to record the agent's maintenance: %s", err);
      else mz_http_reply(req, 200, NULL, NULL, 0);
      break;
    }
    case CALL(GET_MAINTENANCE_SCHEDULE): {
      Mesos__V1__Master__Response__GetMaintenanceSchedule gs =
          MESOS__V1__MASTER__RESPONSE__GET_MAINTENANCE_SCHEDULE__INIT;
      gs.schedule = mz_maintenance_schedule_view(m);
      r.type = RESP(GET_MAINTENANCE_SCHEDULE);
      r.get_maintenance_schedule = &gs;
      reply_response(req, accept, &r);
      protobuf_c_message_free_unpacked(&gs.schedule->base, NULL);
      break;
    }
    case CALL(GET_MAINTENANCE_STATUS): {
      Mesos__V1__Master__Response__GetMaintenanceStatus gs = MESOS__V1__MASTER__RESPONSE__GET_MAINTENANCE_STATUS__INIT;
      gs.status = mz_maintenance_status_view(m);
      r.type = RESP(GET_MAINTENANCE_STATUS);
      r.get_maintenance_status = &gs;
      reply_response(req, accept, &r);
      protobuf_c_message_free_unpacked(&gs.status->base, NULL);
      break;
    }
    case CALL(UPDATE_MAINTENANCE_SCHEDULE):
    case CALL(START_MAINTENANCE):
    case CALL(STOP_MAINTENANCE): {
      int st;
      if (call->type == CALL(UPDATE_MAINTENANCE_SCHEDULE)) {
        if (!call->update_maintenance_schedule || !call->update_maintenance_schedule->schedule) {
          mz_http_reply_error(req, 400, "Expecting 'update_maintenance_schedule.schedule' to be present");
          break;
        }
        st = mz_maintenance_update_schedule(m, call->update_maintenance_schedule->schedule, err, sizeof err);
      } else if (call->type == CALL(START_MAINTENANCE)) {
        if (!call->start_maintenance) {
          mz_http_reply_error(req, 400, "Expecting 'start_maintenance' to be present");
          break;
        }
        st = mz_maintenance_start(m, call->start_maintenance->machines, call->start_maintenance->n_machines, err,
                                  sizeof err);
      } else {
        if (!call->stop_maintenance) {
          mz_http_reply_error(req, 400, "Expecting 'stop_maintenance' to be present");
          break;
        }
        st = mz_maintenance_stop(m, call->stop_maintenance->machines, call->stop_maintenance->n_machines, err,
                                 sizeof err);
      }
      if (st == 200) mz_http_reply(req, 200, NULL, NULL, 0);
      else mz_http_reply_error(req, st, "%s", err);
      break;
    }
    case CALL(SUBSCRIBE):
      mz_opevents_subscribe(m, req, accept);
      break;
    default:
      mz_http_reply_error(req, 501, "%s is not supported by this master",
                          mz_enum_name(&mesos__v1__master__call__type__descriptor, call->type));
      break;
  }
done:
  protobuf_c_message_free_unpacked(&call->base, NULL);
}

/* Also at /master/api/v1, where Mesos's own clients post (the id of the master's pid
 * before the path). */
void mz_operator_api_route(mz_master *m) {
  mz_http_server_route(m->http, "/api/v1", 0, handle, m);
  mz_http_server_route(m->http, "/master/api/v1", 0, handle, m);
}

void mz_operator_api_free(void) {
  mz_api_logging_level_free();
}
