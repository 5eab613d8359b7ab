/* allocator_simple: the built-in allocator behind allocator.h.
 *
 * Policy: in a pass, every candidate agent (active, with free resources) is
 * offered to the active frameworks in increasing order of their share
 * (allocated cpus / cluster cpus + allocated mem / cluster mem); a framework
 * takes, for its first non-suppressed role that can use them, all the free
 * resources of the agent usable by that role, unless a decline filter covers
 * them. What a framework does not take stays for the next one.
 *
 * Cost: passes are event driven. An incremental pass looks only at the agents
 * whose free pool changed (dirty list); a full pass (framework added, activated
 * or revived) looks at the agents that have something free (free list), never at
 * fully used ones. Filters expire through one deadline queue.
 *
 * Ownership: this file owns every structure below; ids and resources are copies. */
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include <utlist.h>

#include "common/log.h"
#include "common/util.h"
#include "master/allocator.h"
#include "master/timerq.h"

typedef struct afilter afilter;
typedef struct aframework aframework;
typedef struct aagent aagent;

struct afilter {
  char *agent_id; /* key in aframework.filters */
  aframework *fw;
  mz_resources *refused; /* unallocated form */
  mz_timerq_node node;   /* first member would be nicer; we recover the filter with offsetof */
  UT_hash_handle hh;
};

struct aframework {
  char *id;
  char **roles;
  bool *suppressed;
  size_t nroles;
  bool active;
  int64_t cpus, mem; /* allocated, thousandths */
  afilter *filters;  /* hash by agent id */
  double share;      /* computed for a pass */
  UT_hash_handle hh;
};

typedef struct aalloc { /* what one framework holds on one agent (for agent removal) */
  char *fw_id;
  int64_t cpus, mem;
  UT_hash_handle hh;
} aalloc;

struct aagent {
  char *id;
  mz_resources *total, *free; /* unallocated form */
  bool active;
  aalloc *allocs;
  bool dirty, in_free;
  aagent *dprev, *dnext; /* dirty list */
  aagent *fprev, *fnext; /* free list */
  UT_hash_handle hh;
};

typedef struct {
  mz_allocator_env env;
  aframework *frameworks;
  aagent *agents;
  aagent *dirty, *freelist;
  bool full_pass;
  struct event *alloc_ev;
  bool alloc_pending;
  mz_timerq filters;
  size_t nfilters;
  int64_t total_cpus, total_mem;
  uint64_t runs;
} simple;

#include <stddef.h>
#define FILTER_OF(n) ((afilter *)((char *)(n) - offsetof(afilter, node)))

static void schedule(simple *s);

double mz_allocator_refuse_seconds(bool has, double value) {
  if (!has) return MZ_REFUSE_SECONDS_DEFAULT;
  if (isnan(value) || value < 0) return MZ_REFUSE_SECONDS_DEFAULT;
  if (value > MZ_REFUSE_SECONDS_MAX) return MZ_REFUSE_SECONDS_MAX;
  return value;
}

/* ------------------------------------------------------------ helpers */

static void mark_dirty(simple *s, aagent *ag) {
  if (!ag->dirty) {
    ag->dirty = true;
    DL_APPEND2(s->dirty, ag, dprev, dnext);
  }
}

static void update_free_list(simple *s, aagent *ag) {
  bool want = !mz_resources_empty(ag->free);
  if (want && !ag->in_free) {
    DL_APPEND2(s->freelist, ag, fprev, fnext);
    ag->in_free = true;
  } else if (!want && ag->in_free) {
    DL_DELETE2(s->freelist, ag, fprev, fnext);
    ag->in_free = false;
  }
}

static void filter_free(simple *s, afilter *f) {
  mz_timerq_remove(&s->filters, &f->node);
  HASH_DEL(f->fw->filters, f);
  s->nfilters--;
  mz_resources_free(f->refused);
  free(f->agent_id);
  free(f);
}

static void clear_filters(simple *s, aframework *fw) {
  afilter *f, *tmp;
  HASH_ITER(hh, fw->filters, f, tmp) filter_free(s, f);
}

static void on_filter_expired(mz_timerq_node *n, void *arg) {
  simple *s = arg;
  afilter *f = FILTER_OF(n);
  aagent *ag = NULL;
  HASH_FIND_STR(s->agents, f->agent_id, ag);
  f->node.queued = false;
  filter_free(s, f);
  if (ag) {
    mark_dirty(s, ag);
    schedule(s);
  }
}

static void charge(simple *s, aagent *ag, const char *fw_id, int64_t cpus, int64_t mem) {
  aframework *fw = NULL;
  HASH_FIND_STR(s->frameworks, fw_id, fw);
  if (fw) {
    fw->cpus += cpus;
    fw->mem += mem;
    if (fw->cpus < 0) fw->cpus = 0;
    if (fw->mem < 0) fw->mem = 0;
  }
  if (!ag) return;
  aalloc *al = NULL;
  HASH_FIND_STR(ag->allocs, fw_id, al);
  if (!al) {
    if (cpus <= 0 && mem <= 0) return;
    al = mz_calloc(1, sizeof *al);
    al->fw_id = mz_strdup(fw_id);
    HASH_ADD_KEYPTR(hh, ag->allocs, al->fw_id, strlen(al->fw_id), al);
  }
  al->cpus += cpus;
  al->mem += mem;
  if (al->cpus <= 0 && al->mem <= 0) {
    HASH_DEL(ag->allocs, al);
    free(al->fw_id);
    free(al);
  }
}

static double share_of(const simple *s, const aframework *fw) {
  double sh = 0;
  if (s->total_cpus > 0) sh += (double)fw->cpus / (double)s->total_cpus;
  if (s->total_mem > 0) sh += (double)fw->mem / (double)s->total_mem;
  return sh;
}

/* ------------------------------------------------------------ the pass */

static bool filtered(aframework *fw, const char *agent_id, const mz_resources *res) {
  afilter *f = NULL;
  HASH_FIND_STR(fw->filters, agent_id, f);
  return f && mz_resources_contains(f->refused, res);
}

static int cmp_share(const void *a, const void *b) {
  const aframework *x = *(aframework *const *)a, *y = *(aframework *const *)b;
  if (x->share < y->share) return -1;
  if (x->share > y->share) return 1;
  return strcmp(x->id, y->id);
}

/* Offers what is free on ag to the frameworks in order; returns how many offers were made. */
static size_t allocate_agent(simple *s, aagent *ag, aframework **order, size_t n) {
  size_t made = 0;
  for (size_t i = 0; i < n && !mz_resources_empty(ag->free); i++) {
    aframework *fw = order[i];
    for (size_t r = 0; r < fw->nroles; r++) {
      if (fw->suppressed[r]) continue;
      mz_resources *res = mz_resources_allocatable_to(ag->free, fw->roles[r]);
      if (!res || mz_resources_empty(res) || filtered(fw, ag->id, res)) {
        mz_resources_free(res);
        continue;
      }
      if (s->env.offer(s->env.ctx, fw->id, ag->id, fw->roles[r], res) != 0) {
        mz_resources_free(res);
        break; /* the master refused this framework on this agent: next framework */
      }
      char err[256];
      if (mz_resources_subtract(ag->free, res, err, sizeof err) != 0)
        MZ_ERROR("allocator", "offered resources not in the free pool of agent %s: %s", ag->id, err);
      int64_t cpus = mz_resources_scalar(res, "cpus"), mem = mz_resources_scalar(res, "mem");
      charge(s, ag, fw->id, cpus, mem);
      mz_resources_free(res);
      made++;
      fw->share = share_of(s, fw);
      break; /* one offer per framework per agent */
    }
  }
  update_free_list(s, ag);
  return made;
}

static void run_pass(simple *s) {
  s->alloc_pending = false;
  s->runs++;
  bool full = s->full_pass;
  s->full_pass = false;

  size_t n = HASH_COUNT(s->frameworks), k = 0;
  aframework **order = n ? mz_calloc(n, sizeof *order) : NULL;
  aframework *fw, *ftmp;
  HASH_ITER(hh, s->frameworks, fw, ftmp) {
    if (!fw->active) continue;
    bool any = false;
    for (size_t r = 0; r < fw->nroles; r++) any |= !fw->suppressed[r];
    if (!any) continue;
    fw->share = share_of(s, fw);
    order[k++] = fw;
  }
  if (k > 1) qsort(order, k, sizeof *order, cmp_share);

  size_t offers = 0;
  if (k > 0) {
    if (full) {
      aagent *ag, *next;
      DL_FOREACH_SAFE2(s->freelist, ag, next, fnext) {
        if (ag->active && allocate_agent(s, ag, order, k) > 0) {
          offers++;
          if (k > 1) qsort(order, k, sizeof *order, cmp_share);
        }
      }
    } else {
      aagent *ag, *next;
      DL_FOREACH_SAFE2(s->dirty, ag, next, dnext) {
        if (ag->active && !mz_resources_empty(ag->free) && allocate_agent(s, ag, order, k) > 0) {
          offers++;
          if (k > 1) qsort(order, k, sizeof *order, cmp_share);
        }
      }
    }
  }
  /* Everything dirty has now been considered. */
  aagent *ag, *next;
  DL_FOREACH_SAFE2(s->dirty, ag, next, dnext) {
    DL_DELETE2(s->dirty, ag, dprev, dnext);
    ag->dirty = false;
  }
  free(order);
  if (offers) MZ_DEBUG("allocator", "allocation pass (%s): %zu offers", full ? "full" : "incremental", offers);
  s->env.offers_done(s->env.ctx);
}

static void on_alloc(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  run_pass(arg);
}

static void schedule(simple *s) {
  if (s->alloc_pending) return;
  s->alloc_pending = true;
  double d = s->env.allocation_interval;
  if (!(d >= 0)) d = 0;
  struct timeval tv = {(time_t)d, (suseconds_t)((d - floor(d)) * 1e6)};
  event_add(s->alloc_ev, &tv);
}

static void request_full(simple *s) {
  s->full_pass = true;
  schedule(s);
}

/* ------------------------------------------------------------ the interface */

static void *s_create(const mz_allocator_env *env, char *err, size_t errlen) {
  simple *s = mz_calloc(1, sizeof *s);
  s->env = *env;
  s->alloc_ev = event_new(env->base, -1, 0, on_alloc, s);
  if (!s->alloc_ev || mz_timerq_init(&s->filters, env->base, on_filter_expired, s) != 0) {
    snprintf(err, errlen, "cannot create allocator timers");
    if (s->alloc_ev) event_free(s->alloc_ev);
    free(s);
    return NULL;
  }
  return s;
}

static void fw_free(simple *s, aframework *fw) {
  clear_filters(s, fw);
  for (size_t i = 0; i < fw->nroles; i++) free(fw->roles[i]);
  free(fw->roles);
  free(fw->suppressed);
  free(fw->id);
  free(fw);
}

static void agent_free(aagent *ag) {
  aalloc *al, *tmp;
  HASH_ITER(hh, ag->allocs, al, tmp) {
    HASH_DEL(ag->allocs, al);
    free(al->fw_id);
    free(al);
  }
  mz_resources_free(ag->total);
  mz_resources_free(ag->free);
  free(ag->id);
  free(ag);
}

static void s_destroy(void *a) {
  simple *s = a;
  if (!s) return;
  aframework *fw, *ft;
  HASH_ITER(hh, s->frameworks, fw, ft) {
    HASH_DEL(s->frameworks, fw);
    fw_free(s, fw);
  }
  aagent *ag, *at;
  HASH_ITER(hh, s->agents, ag, at) {
    HASH_DEL(s->agents, ag);
    agent_free(ag);
  }
  mz_timerq_free(&s->filters);
  event_free(s->alloc_ev);
  free(s);
}

static aframework *find_fw(simple *s, const char *id) {
  aframework *fw = NULL;
  HASH_FIND_STR(s->frameworks, id, fw);
  return fw;
}

static aagent *find_agent(simple *s, const char *id) {
  aagent *ag = NULL;
  HASH_FIND_STR(s->agents, id, ag);
  return ag;
}

static int s_add_framework(void *a, const char *fw_id, const char *const *roles, size_t nroles,
                           const char *const *suppressed, size_t nsuppressed, bool active) {
  simple *s = a;
  if (find_fw(s, fw_id)) return -1;
  aframework *fw = mz_calloc(1, sizeof *fw);
  fw->id = mz_strdup(fw_id);
  fw->nroles = nroles;
  fw->roles = mz_calloc(nroles ? nroles : 1, sizeof *fw->roles);
  fw->suppressed = mz_calloc(nroles ? nroles : 1, sizeof *fw->suppressed);
  for (size_t i = 0; i < nroles; i++) {
    fw->roles[i] = mz_strdup(roles[i]);
    for (size_t j = 0; j < nsuppressed; j++)
      if (!strcmp(roles[i], suppressed[j])) fw->suppressed[i] = true;
  }
  fw->active = active;
  HASH_ADD_KEYPTR(hh, s->frameworks, fw->id, strlen(fw->id), fw);
  if (active) request_full(s);
  return 0;
}

static void s_remove_framework(void *a, const char *fw_id) {
  simple *s = a;
  aframework *fw = find_fw(s, fw_id);
  if (!fw) return;
  HASH_DEL(s->frameworks, fw);
  fw_free(s, fw);
}

static void s_activate_framework(void *a, const char *fw_id) {
  simple *s = a;
  aframework *fw = find_fw(s, fw_id);
  if (!fw) return;
  fw->active = true;
  request_full(s);
}

static void s_deactivate_framework(void *a, const char *fw_id) {
  aframework *fw = find_fw(a, fw_id);
  if (fw) fw->active = false;
}

static void set_suppressed(aframework *fw, const char *const *roles, size_t n, bool value) {
  for (size_t i = 0; i < fw->nroles; i++) {
    if (n == 0) {
      fw->suppressed[i] = value;
      continue;
    }
    for (size_t j = 0; j < n; j++)
      if (!strcmp(fw->roles[i], roles[j])) fw->suppressed[i] = value;
  }
}

static void s_suppress(void *a, const char *fw_id, const char *const *roles, size_t n) {
  aframework *fw = find_fw(a, fw_id);
  if (fw) set_suppressed(fw, roles, n, true);
}

static void s_revive(void *a, const char *fw_id, const char *const *roles, size_t n) {
  simple *s = a;
  aframework *fw = find_fw(s, fw_id);
  if (!fw) return;
  set_suppressed(fw, roles, n, false);
  clear_filters(s, fw);
  request_full(s);
}

static int s_add_agent(void *a, const char *agent_id, const mz_resources *total) {
  simple *s = a;
  if (find_agent(s, agent_id)) return -1;
  aagent *ag = mz_calloc(1, sizeof *ag);
  ag->id = mz_strdup(agent_id);
  ag->total = mz_resources_copy(total);
  mz_resources_set_alloc_role(ag->total, NULL);
  ag->free = mz_resources_copy(ag->total);
  ag->active = true;
  HASH_ADD_KEYPTR(hh, s->agents, ag->id, strlen(ag->id), ag);
  s->total_cpus += mz_resources_scalar(ag->total, "cpus");
  s->total_mem += mz_resources_scalar(ag->total, "mem");
  update_free_list(s, ag);
  mark_dirty(s, ag);
  schedule(s);
  return 0;
}

static void s_remove_agent(void *a, const char *agent_id) {
  simple *s = a;
  aagent *ag = find_agent(s, agent_id);
  if (!ag) return;
  aalloc *al, *tmp;
  HASH_ITER(hh, ag->allocs, al, tmp) {
    aframework *fw = find_fw(s, al->fw_id);
    if (fw) {
      fw->cpus -= al->cpus;
      fw->mem -= al->mem;
      if (fw->cpus < 0) fw->cpus = 0;
      if (fw->mem < 0) fw->mem = 0;
    }
  }
  s->total_cpus -= mz_resources_scalar(ag->total, "cpus");
  s->total_mem -= mz_resources_scalar(ag->total, "mem");
  if (ag->dirty) DL_DELETE2(s->dirty, ag, dprev, dnext);
  if (ag->in_free) DL_DELETE2(s->freelist, ag, fprev, fnext);
  HASH_DEL(s->agents, ag);
  agent_free(ag);
}

static void s_activate_agent(void *a, const char *agent_id) {
  simple *s = a;
  aagent *ag = find_agent(s, agent_id);
  if (!ag) return;
  ag->active = true;
  mark_dirty(s, ag);
  schedule(s);
}

static void s_deactivate_agent(void *a, const char *agent_id) {
  aagent *ag = find_agent(a, agent_id);
  if (ag) ag->active = false;
}

static int s_add_allocation(void *a, const char *agent_id, const char *fw_id, const mz_resources *res) {
  simple *s = a;
  aagent *ag = find_agent(s, agent_id);
  if (!ag) return -1;
  mz_resources *plain = mz_resources_copy(res);
  mz_resources_set_alloc_role(plain, NULL);
  char err[256];
  int rc = mz_resources_subtract(ag->free, plain, err, sizeof err);
  if (rc == 0) charge(s, ag, fw_id, mz_resources_scalar(plain, "cpus"), mz_resources_scalar(plain, "mem"));
  mz_resources_free(plain);
  update_free_list(s, ag);
  return rc;
}

static void s_recover(void *a, const char *agent_id, const char *fw_id, const mz_resources *res, double refuse) {
  simple *s = a;
  aagent *ag = find_agent(s, agent_id);
  mz_resources *plain = mz_resources_copy(res);
  mz_resources_set_alloc_role(plain, NULL);
  charge(s, ag, fw_id, -mz_resources_scalar(plain, "cpus"), -mz_resources_scalar(plain, "mem"));
  if (!ag) {
    mz_resources_free(plain);
    return;
  }
  char err[256];
  if (mz_resources_add(ag->free, plain, err, sizeof err) != 0)
    MZ_ERROR("allocator", "cannot return resources to agent %s: %s", agent_id, err);
  /* Never let the free pool exceed the total (a double recovery would be a bug upstream). */
  if (!mz_resources_contains(ag->total, ag->free)) {
    MZ_ERROR("allocator", "free pool of agent %s exceeds its total; clamping", agent_id);
    mz_resources_free(ag->free);
    ag->free = mz_resources_copy(ag->total);
  }
  update_free_list(s, ag);
  aframework *fw = find_fw(s, fw_id);
  if (fw && refuse > 0 && !mz_resources_empty(plain)) {
    afilter *f = NULL;
    HASH_FIND_STR(fw->filters, agent_id, f);
    if (!f) {
      f = mz_calloc(1, sizeof *f);
      f->agent_id = mz_strdup(agent_id);
      f->fw = fw;
      HASH_ADD_KEYPTR(hh, fw->filters, f->agent_id, strlen(f->agent_id), f);
      s->nfilters++;
    } else {
      mz_resources_free(f->refused);
    }
    f->refused = plain;
    plain = NULL;
    mz_timerq_add(&s->filters, &f->node, refuse);
  }
  mz_resources_free(plain);
  mark_dirty(s, ag);
  schedule(s);
}

static void s_request_allocation(void *a) { request_full(a); }

static void s_metrics(void *a, json_t *obj) {
  simple *s = a;
  if (!obj) return;
  json_object_set_new(obj, "allocator/mezzo/allocation_runs", json_integer((json_int_t)s->runs));
  json_object_set_new(obj, "allocator/mezzo/filters_active", json_integer((json_int_t)s->nfilters));
  size_t nfree = 0;
  aagent *ag;
  DL_COUNT2(s->freelist, ag, nfree, fnext);
  json_object_set_new(obj, "allocator/mezzo/agents_with_free_resources", json_integer((json_int_t)nfree));
}

const mz_allocator_ops mz_allocator_simple = {
    .name = "simple",
    .create = s_create,
    .destroy = s_destroy,
    .add_framework = s_add_framework,
    .remove_framework = s_remove_framework,
    .activate_framework = s_activate_framework,
    .deactivate_framework = s_deactivate_framework,
    .suppress = s_suppress,
    .revive = s_revive,
    .add_agent = s_add_agent,
    .remove_agent = s_remove_agent,
    .activate_agent = s_activate_agent,
    .deactivate_agent = s_deactivate_agent,
    .add_allocation = s_add_allocation,
    .recover = s_recover,
    .request_allocation = s_request_allocation,
    .metrics = s_metrics,
};

const mz_allocator_ops *mz_allocator_find(const char *name) {
  if (!name || !*name || !strcmp(name, "simple") || !strcmp(name, "default")) return &mz_allocator_simple;
  return NULL;
}
