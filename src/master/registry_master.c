/* registry_master: see registry_master.h. */
#include "master/registry_master.h"

#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "common/flags.h"
#include "common/log.h"
#include "master/agent.h"
#include "master/allocator.h"
#include "master/maintenance.h"
#include "master/operator_api.h"
#include "master/pbutil.h"
#include "master/contender.h"
#include "master/registry.h"
#include "master/registry_zk.h"
#include "mesos/v1/quota/quota.pb-c.h"

/* An agent in the registry that is not registered now. */
typedef struct entry {
  char *id;
  mz_reg_agent_state state; /* ADMITTED (recovered, waiting to re-register), UNREACHABLE or GONE */
  double time;
  uint8_t *data; /* the record as stored */
  size_t len;
  UT_hash_handle hh;
  struct entry *prev, *next; /* expiry order (unreachable and gone only), oldest first */
} entry;

struct mz_registrar {
  const mz_registry_backend *be;
  void *h;
  entry *known; /* hash by id */
  entry *expiring; /* DL list */
  size_t nexpiring, nrecovered;
  struct event *reregister_ev, *gc_ev;
};

static void entry_free(entry *e) {
  free(e->id);
  free(e->data);
  free(e);
}

static entry *find(const mz_master *m, const char *id) {
  entry *e = NULL;
  if (m->registrar && id) HASH_FIND_STR(m->registrar->known, id, e);
  return e;
}

static void forget(struct mz_registrar *r, entry *e) {
  HASH_DEL(r->known, e);
  if (e->state == MZ_REG_AGENT_ADMITTED) r->nrecovered--;
  else {
    DL_DELETE(r->expiring, e);
    r->nexpiring--;
  }
  entry_free(e);
}

/* Adds (or replaces) an entry; takes data. */
static void remember(struct mz_registrar *r, const char *id, mz_reg_agent_state state, double time, uint8_t *data,
                     size_t len) {
  entry *e = NULL;
  HASH_FIND_STR(r->known, id, e);
  if (e) forget(r, e);
  e = mz_calloc(1, sizeof *e);
  e->id = mz_strdup(id);
  e->state = state;
  e->time = time;
  e->data = data;
  e->len = len;
  HASH_ADD_KEYPTR(hh, r->known, e->id, strlen(e->id), e);
  if (state == MZ_REG_AGENT_ADMITTED) {
    r->nrecovered++;
  } else {
    DL_APPEND(r->expiring, e); /* entries arrive in time order (load sorts by time) */
    r->nexpiring++;
  }
}

/* The record of an agent: its AgentInfo with resources = total. malloc'd bytes. */
static uint8_t *pack_record(const Mesos__V1__AgentInfo *info, const char *id, const mz_resources *total, size_t *len) {
  Mesos__V1__AgentInfo *copy = mz_pb_dup(info);
  if (copy->n_resources) {
    for (size_t i = 0; i < copy->n_resources; i++) protobuf_c_message_free_unpacked(&copy->resources[i]->base, NULL);
    free(copy->resources);
  }
  copy->resources = total ? mz_resources_to_proto(total, &copy->n_resources) : NULL;
  if (!total) copy->n_resources = 0;
  if (!copy->id) {
    copy->id = mz_calloc(1, sizeof *copy->id);
    mesos__v1__agent_id__init(copy->id);
  } else {
    free(copy->id->value);
  }
  copy->id->value = mz_strdup(id);
  *len = protobuf_c_message_get_packed_size(&copy->base);
  uint8_t *buf = mz_malloc(*len ? *len : 1);
  protobuf_c_message_pack(&copy->base, buf);
  protobuf_c_message_free_unpacked(&copy->base, NULL);
  return buf;
}

static int apply(mz_master *m, const mz_reg_op *ops, size_t n, char *err, size_t errlen) {
  struct mz_registrar *r = m->registrar;
  if (!r) return 0;
  if (r->be->apply(r->h, ops, n, err, errlen) != 0) {
    MZ_ERROR("master", "registry write failed: %s", err);
    return -1;
  }
  return 0;
}

/* Expiry of unreachable and gone agents: older than --registry_max_agent_age, or
 * beyond --registry_max_agent_count (oldest first). One change. */
static void prune(mz_master *m) {
  struct mz_registrar *r = m->registrar;
  if (!r) return;
  double max_age = m->flags.registry_max_agent_age;
  long max_count = m->flags.registry_max_agent_count;
  double now = mz_now();
  size_t n = 0, left = r->nexpiring;
  for (entry *e = r->expiring; e; e = e->next) {
    bool too_many = max_count >= 0 && (long)left > max_count;
    bool too_old = max_age > 0 && now - e->time > max_age;
    if (!too_many && !too_old) break;
    n++;
    left--;
  }
  if (n == 0) return;
  mz_reg_op *ops = mz_calloc(n, sizeof *ops);
  size_t i = 0;
  for (entry *e = r->expiring; e && i < n; e = e->next, i++) {
    ops[i].type = MZ_REG_DELETE_AGENT;
    ops[i].id = e->id;
  }
  char err[512];
  if (apply(m, ops, n, err, sizeof err) == 0) {
    for (i = 0; i < n; i++) {
      entry *e = r->expiring;
      MZ_INFO("master", "registry: forgetting %s agent %s", e->state == MZ_REG_AGENT_GONE ? "gone" : "unreachable", e->id);
      forget(r, e);
    }
  }
  free(ops);
}

static void on_gc(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  prune(arg);
}

/* The re-registration timeout after recovery: recorded agents that did not come back are unreachable. */
static void on_reregister_timeout(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  mz_master *m = arg;
  struct mz_registrar *r = m->registrar;
  if (r->nrecovered == 0) return;
  size_t n = 0;
  mz_reg_op *ops = mz_calloc(r->nrecovered, sizeof *ops);
  double now = mz_now();
  entry *e, *tmp;
  HASH_ITER(hh, r->known, e, tmp) {
    if (e->state != MZ_REG_AGENT_ADMITTED) continue;
    ops[n] = (mz_reg_op){.type = MZ_REG_PUT_AGENT, .id = e->id, .state = MZ_REG_AGENT_UNREACHABLE, .time = now,
                         .data = e->data, .len = e->len};
    n++;
  }
  char err[512];
  if (apply(m, ops, n, err, sizeof err) != 0) {
    free(ops);
    struct timeval tv = {1, 0}; /* try again soon */
    event_add(r->reregister_ev, &tv);
    return;
  }
  MZ_WARN("master", "%zu agent(s) did not re-register within %gs of the master's recovery: marked unreachable", n,
          m->flags.agent_reregister_timeout);
  free(ops);
  HASH_ITER(hh, r->known, e, tmp) {
    if (e->state != MZ_REG_AGENT_ADMITTED) continue;
    uint8_t *data = e->data;
    e->data = NULL;
    char *id = mz_strdup(e->id);
    size_t len = e->len;
    remember(r, id, MZ_REG_AGENT_UNREACHABLE, now, data, len); /* replaces e */
    free(id);
  }
  prune(m);
}

static void arm(struct event *ev, double t) {
  if (t < 0 || isnan(t)) t = 0;
  struct timeval tv = {(time_t)t, (suseconds_t)((t - floor(t)) * 1e6)};
  event_add(ev, &tv);
}

static int recover(mz_master *m, const mz_reg_state *s, char *err, size_t errlen) {
  struct mz_registrar *r = m->registrar;
  /* Weights and quota: the registry's values win over --weights. */
  if (s->nweights) {
    if (!m->alloc_ops->update_weights) {
      snprintf(err, errlen, "the registry holds weights but allocator '%s' does not support them", m->alloc_ops->name);
      return -1;
    }
    const char **roles = mz_calloc(s->nweights, sizeof *roles);
    double *w = mz_calloc(s->nweights, sizeof *w);
    for (size_t i = 0; i < s->nweights; i++) {
      roles[i] = s->weights[i].role;
      w[i] = s->weights[i].weight;
      json_object_set_new(m->weights, roles[i], json_real(w[i]));
    }
    m->alloc_ops->update_weights(m->alloc, roles, w, s->nweights);
    free(roles);
    free(w);
  }
  for (size_t i = 0; i < s->nquotas; i++) {
    json_error_t je;
    json_t *cfg = json_loads(s->quotas[i].config, 0, &je);
    char why[256];
    ProtobufCMessage *q = cfg ? mz_pb_from_json(&mesos__v1__quota__quota_config__descriptor, cfg, why, sizeof why) : NULL;
    if (!q) {
      MZ_ERROR("master", "registry: ignoring unreadable quota of role %s", s->quotas[i].role);
      json_decref(cfg);
      continue;
    }
    Mesos__V1__Quota__QuotaConfig *qc = (Mesos__V1__Quota__QuotaConfig *)q;
    if (m->alloc_ops->update_quota && mz_operator_restore_quota(m, qc, why, sizeof why) == 0)
      json_object_set_new(m->quotas, s->quotas[i].role, cfg);
    else {
      MZ_ERROR("master", "registry: cannot restore the quota of role %s: %s", s->quotas[i].role, why);
      json_decref(cfg);
    }
    protobuf_c_message_free_unpacked(q, NULL);
  }
  double now = mz_now();
  for (size_t i = 0; i < s->nagents; i++) {
    const mz_reg_agent *a = &s->agents[i];
    if (a->state != MZ_REG_AGENT_ADMITTED && a->state != MZ_REG_AGENT_UNREACHABLE && a->state != MZ_REG_AGENT_GONE)
      continue;
    uint8_t *data = mz_malloc(a->len ? a->len : 1);
    memcpy(data, a->data, a->len);
    remember(r, a->id, a->state, a->time > now ? now : a->time, data, a->len);
    if (a->state == MZ_REG_AGENT_GONE) mz_agent_remember_removed(m, a->id);
  }
  mz_maintenance_recover(m, s->values, s->nvalues); /* maintenance schedule, machines, agents' drains */
  MZ_INFO("master", "registry recovered: %zu agent(s) to re-register, %zu unreachable or gone, %zu weight(s), "
          "%zu quota(s)", r->nrecovered, r->nexpiring, s->nweights, s->nquotas);
  return 0;
}

/* A follower's read-ahead of the ZooKeeper registry (mz_registrar_prefetch): the
 * backend handle that will serve the registrar once this master is elected. One
 * master per process, so one handle. */
static void *prefetched;

#define PREFETCH_QUIET 0.5 /* seconds a changed registry must stay unchanged before it is read again in full */

static bool zk_registry(const mz_master *m) {
  bool zk = m->flags.zk && *m->flags.zk;
  const char *name = m->flags.registry && *m->flags.registry ? m->flags.registry : zk ? "zk" : "sqlite";
  return zk && !strcmp(name, "zk");
}

void mz_registrar_prefetch(mz_master *m) {
  if (m->leading || m->registrar || !zk_registry(m)) return;
  char err[512];
  if (!prefetched && !(prefetched = mz_registry_zk.open(m->flags.zk, err, sizeof err))) {
    MZ_WARN("master", "registry: cannot read ahead: %s", err);
    return;
  }
  if (mz_registry_zk_prefetch(prefetched, PREFETCH_QUIET, err, sizeof err) != 0)
    MZ_WARN("master", "registry: cannot read ahead: %s", err);
}

int mz_registrar_start(mz_master *m, char *err, size_t errlen) {
  bool zk = m->flags.zk && *m->flags.zk;
  const char *name = m->flags.registry && *m->flags.registry ? m->flags.registry : zk ? "zk" : "sqlite";
  const mz_registry_backend *be = mz_registry_backend_find(name);
  if (!be) {
    snprintf(err, errlen, "unknown --registry '%s' (expecting zk, sqlite or in_memory)", name);
    return -1;
  }
  if (be == &mz_registry_zk && !zk) {
    snprintf(err, errlen, "--registry=zk needs --zk");
    return -1;
  }
  char path[4200];
  if (be == &mz_registry_zk) mz_strlcpy(path, m->flags.zk, sizeof path);
  else snprintf(path, sizeof path, "%s/registry.db", m->flags.work_dir && *m->flags.work_dir ? m->flags.work_dir : ".");
  void *h = be == &mz_registry_zk && prefetched ? prefetched : be->open(path, err, errlen);
  prefetched = NULL;
  if (!h) return -1;
  if (be == &mz_registry_zk && m->contender) {
    /* Every write checks this leader's election znode: a deposed leader cannot write. */
    mz_zk_url u;
    char guard[MZ_ZK_PATH_MAX + 300];
    if (mz_zk_parse_url(m->flags.zk, &u, err, errlen) == 0 && *mz_contender_znode(m->contender)) {
      snprintf(guard, sizeof guard, "%s/%s", u.path, mz_contender_znode(m->contender));
      mz_registry_zk_guard(h, guard);
    }
  }
  MZ_INFO("master", "registry: %s (%s)%s", be->name, be == &mz_registry_in_memory ? "nothing kept" : path,
          be == &mz_registry_zk ? ", shared by the masters; loaded now that this master leads" : "");
  struct mz_registrar *r = mz_calloc(1, sizeof *r);
  r->be = be;
  r->h = h;
  m->registrar = r;
  mz_reg_state s;
  if (be->load(h, &s, err, errlen) != 0) return -1;
  int rc = recover(m, &s, err, errlen);
  mz_reg_state_free(&s);
  if (rc != 0) return -1;
  r->reregister_ev = event_new(m->base, -1, 0, on_reregister_timeout, m);
  r->gc_ev = event_new(m->base, -1, EV_PERSIST, on_gc, m);
  if (!r->reregister_ev || !r->gc_ev) {
    snprintf(err, errlen, "cannot create the registry's timers");
    return -1;
  }
  if (r->nrecovered) arm(r->reregister_ev, m->flags.agent_reregister_timeout);
  arm(r->gc_ev, m->flags.registry_gc_interval > 0 ? m->flags.registry_gc_interval : 900);
  prune(m);
  return 0;
}

void mz_registrar_stop(mz_master *m) {
  struct mz_registrar *r = m->registrar;
  if (prefetched) mz_registry_zk.close(prefetched);
  prefetched = NULL;
  if (!r) return;
  if (r->reregister_ev) event_free(r->reregister_ev);
  if (r->gc_ev) event_free(r->gc_ev);
  entry *e, *tmp;
  HASH_ITER(hh, r->known, e, tmp) {
    HASH_DEL(r->known, e);
    entry_free(e);
  }
  r->be->close(r->h);
  free(r);
  m->registrar = NULL;
}

mz_resources *mz_registrar_known_total(mz_master *m, const char *id, bool *unreachable) {
  entry *e = find(m, id);
  if (!e || e->state == MZ_REG_AGENT_GONE) return NULL;
  if (unreachable) *unreachable = e->state == MZ_REG_AGENT_UNREACHABLE;
  Mesos__V1__AgentInfo *info = mesos__v1__agent_info__unpack(NULL, e->len, e->data);
  if (!info) return NULL;
  mz_resources *total = mz_resources_from_proto(info->resources, info->n_resources, NULL, 0);
  mesos__v1__agent_info__free_unpacked(info, NULL);
  return total;
}

bool mz_registrar_is_unreachable(mz_master *m, const char *id) {
  entry *e = find(m, id);
  return e && e->state == MZ_REG_AGENT_UNREACHABLE;
}

size_t mz_registrar_recovered_count(const mz_master *m) { return m->registrar ? m->registrar->nrecovered : 0; }

size_t mz_registrar_unreachable_count(const mz_master *m) {
  size_t n = 0;
  entry *e, *tmp;
  if (m->registrar) HASH_ITER(hh, m->registrar->known, e, tmp) n += e->state == MZ_REG_AGENT_UNREACHABLE;
  return n;
}

int mz_registrar_admit(mz_master *m, const char *id, const Mesos__V1__AgentInfo *info, const mz_resources *total,
                       char *err, size_t errlen) {
  size_t len;
  uint8_t *data = pack_record(info, id, total, &len);
  entry *known = find(m, id);
  if (known && known->state == MZ_REG_AGENT_ADMITTED && known->len == len && !memcmp(known->data, data, len)) {
    /* Recovered and unchanged: already recorded as admitted (no write on the failover path). */
    forget(m->registrar, known);
    free(data);
    return 0;
  }
  mz_reg_op op = {.type = MZ_REG_PUT_AGENT, .id = id, .state = MZ_REG_AGENT_ADMITTED, .time = mz_now(),
                  .data = data, .len = len};
  int rc = apply(m, &op, 1, err, errlen);
  free(data);
  if (rc == 0) {
    entry *e = find(m, id);
    if (e) forget(m->registrar, e);
  }
  return rc;
}

int mz_registrar_update_agent(mz_agent *a) {
  size_t len;
  uint8_t *data = pack_record(a->info, a->id, a->total, &len);
  mz_reg_op op = {.type = MZ_REG_PUT_AGENT, .id = a->id, .state = MZ_REG_AGENT_ADMITTED, .time = a->registered_time,
                  .data = data, .len = len};
  char err[512];
  int rc = apply(a->m, &op, 1, err, sizeof err);
  free(data);
  return rc;
}

int mz_registrar_mark_unreachable(mz_master *m, mz_agent *const *agents, size_t n, char *err, size_t errlen) {
  if (n == 0) return 0;
  mz_reg_op *ops = mz_calloc(n, sizeof *ops);
  uint8_t **data = mz_calloc(n, sizeof *data);
  double now = mz_now();
  for (size_t i = 0; i < n; i++) {
    size_t len;
    data[i] = pack_record(agents[i]->info, agents[i]->id, agents[i]->total, &len);
    ops[i] = (mz_reg_op){.type = MZ_REG_PUT_AGENT, .id = agents[i]->id, .state = MZ_REG_AGENT_UNREACHABLE,
                         .time = now, .data = data[i], .len = len};
  }
  int rc = apply(m, ops, n, err, errlen);
  for (size_t i = 0; i < n; i++) {
    if (rc == 0 && m->registrar) remember(m->registrar, agents[i]->id, MZ_REG_AGENT_UNREACHABLE, now, data[i], ops[i].len);
    else free(data[i]);
  }
  free(data);
  free(ops);
  if (rc == 0) prune(m);
  return rc;
}

int mz_registrar_mark_gone(mz_agent *a, char *err, size_t errlen) {
  mz_master *m = a->m;
  size_t len;
  uint8_t *data = pack_record(a->info, a->id, a->total, &len);
  double now = mz_now();
  mz_reg_op op = {.type = MZ_REG_PUT_AGENT, .id = a->id, .state = MZ_REG_AGENT_GONE, .time = now, .data = data, .len = len};
  int rc = apply(m, &op, 1, err, errlen);
  if (rc == 0 && m->registrar) {
    remember(m->registrar, a->id, MZ_REG_AGENT_GONE, now, data, len);
    prune(m);
  } else {
    free(data);
  }
  return rc;
}

int mz_registrar_set_weights(mz_master *m, const char *const *roles, const double *weights, size_t n, char *err,
                             size_t errlen) {
  mz_reg_op *ops = mz_calloc(n ? n : 1, sizeof *ops);
  for (size_t i = 0; i < n; i++) ops[i] = (mz_reg_op){.type = MZ_REG_PUT_WEIGHT, .id = roles[i], .weight = weights[i]};
  int rc = apply(m, ops, n, err, errlen);
  free(ops);
  return rc;
}

int mz_registrar_set_quotas(mz_master *m, const char *const *roles, json_t *const *cfgs, size_t n, char *err,
                            size_t errlen) {
  mz_reg_op *ops = mz_calloc(n ? n : 1, sizeof *ops);
  char **texts = mz_calloc(n ? n : 1, sizeof *texts);
  for (size_t i = 0; i < n; i++) {
    texts[i] = cfgs[i] ? json_dumps(cfgs[i], JSON_COMPACT) : NULL;
    ops[i] = (mz_reg_op){.type = MZ_REG_PUT_QUOTA, .id = roles[i], .text = texts[i]};
  }
  int rc = apply(m, ops, n, err, errlen);
  for (size_t i = 0; i < n; i++) free(texts[i]);
  free(texts);
  free(ops);
  return rc;
}

int mz_registrar_put_values(mz_master *m, const char *const *keys, const char *const *texts, size_t n, char *err,
                            size_t errlen) {
  mz_reg_op *ops = mz_calloc(n ? n : 1, sizeof *ops);
  for (size_t i = 0; i < n; i++) ops[i] = (mz_reg_op){.type = MZ_REG_PUT_VALUE, .id = keys[i], .text = texts[i]};
  int rc = apply(m, ops, n, err, errlen);
  free(ops);
  return rc;
}

int mz_parse_rate_limit(const char *text, double *interval) {
  if (!text || !*text) return -1;
  char *end = NULL;
  double n = strtod(text, &end);
  if (end == text || *end != '/' || !(n > 0) || isinf(n)) return -1;
  double d;
  if (mz_parse_duration(end + 1, &d) != 0 || !(d > 0)) return -1;
  *interval = d / n;
  return 0;
}
