/* allocator_drf: the built-in allocators behind allocator.h: weighted
 * hierarchical Dominant Resource Fairness ("drf", the default) and strict
 * priority by role weight ("priority").
 *
 * Model. Roles form a tree by their '/'-separated names; a role's own
 * frameworks sit in a "self" leaf under the role's node, next to its sub-roles,
 * so "eng"'s frameworks compete with "eng/ml" inside "eng", and "eng" competes
 * with its siblings by the allocation of its whole subtree. A node's share is
 * its dominant share (max over cpus, mem, disk and gpus of allocated / cluster
 * total) divided by its weight. Inside a leaf, the frameworks of that role
 * compete by their own dominant shares. A framework with several roles
 * (MULTI_ROLE) has one entry (dfr) per role, each competing in its role.
 *
 * A pass gives every candidate agent's free resources to the first eligible
 * framework entry found by walking the tree in ascending share order (for
 * "priority": descending weight first), then moves the entries whose share
 * grew to their new place (binary search + memmove), so a pass costs
 * O(agents x depth x log(frameworks)) plus the memmoves, never
 * agents x frameworks. Eligible means: framework active, role not suppressed,
 * something allocatable to the role (reservations go only to their role and
 * its descendants), not covered by a decline filter, within the quota limits of
 * the role and its ancestors, and not eating into the headroom that unmet quota
 * guarantees of other roles need. Roles below their guarantee are served first
 * (the quota stage). Passes run on events (agent added, resources recovered,
 * framework added, activated or revived, filters expired, weights or quota
 * changed), batched within allocation_interval; an incremental pass visits only
 * the agents whose free pool changed.
 *
 * Accounting invariant, per agent: free + allocated == total, where allocated is
 * what is in offers or used by tasks (the master recovers both through
 * recover()). Ownership: everything here is owned by the allocator; ids and
 * resources are copies. */
#include <dlfcn.h>
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include <utlist.h>

#include "common/idindex.h"
#include "common/log.h"
#include "common/util.h"
#include "master/allocator.h"
#include "master/timerq.h"

enum { K_CPUS, K_MEM, K_DISK, K_GPUS, NK };
static const char *const KNAME[NK] = {"cpus", "mem", "disk", "gpus"};
#define MAX_ROLES 10000

typedef struct dnode dnode;
typedef struct dfw dfw;
typedef struct dfr dfr;
typedef struct dagent dagent;
typedef struct dalloc dalloc;
typedef struct dfilter dfilter;

struct dnode {
  char *name; /* full role name; "" for the root; a self leaf has its role's name */
  bool self;  /* the leaf holding the role's own frameworks */
  dnode *parent;
  dnode *selfleaf; /* role nodes: their self leaf */
  dnode **kids;    /* role nodes: self leaf and sub-roles, sorted during a pass */
  size_t nkids, capkids;
  dfr **fws; /* self leaves: the role's framework entries, sorted during a pass */
  size_t nfws, capfws;
  size_t pos; /* index in parent->kids */
  size_t nlive; /* during a pass: kids (or fws) that can take offers, sorted first */
  bool live;    /* during a pass: some framework below can take offers */
  int64_t alloc[NK];
  double weight; /* role nodes: the operator's weight (default 1); self leaves: 1 */
  bool has_guarantee, has_limit;
  int64_t guarantee[NK], limit[NK]; /* limit -1: none for that kind */
  double key;
  UT_hash_handle hh; /* roles by name (role nodes only) */
};

struct dfr {
  dfw *fw;
  dnode *leaf;
  bool suppressed, gone;
  bool live; /* during a pass: active, not suppressed, not gone */
  int64_t alloc[NK];
  double key;
  size_t pos; /* index in leaf->fws */
};

struct dfilter {
  char *agent_id;
  dfw *fw;
  mz_resources *refused; /* unallocated form */
  double expires;        /* env clock */
  mz_timerq_node node;
  UT_hash_handle hh;
};

struct dfw {
  char *id;
  bool active;
  dfr **roles;
  size_t nroles;
  dfilter *filters; /* by agent id */
  dalloc *allocs;   /* list through fw_prev/fw_next */
  UT_hash_handle hh;
};

struct dalloc {
  dagent *ag;
  dfr *fr;
  int64_t k[NK];
  dalloc *ag_prev, *ag_next, *fw_prev, *fw_next;
};

struct dagent {
  char *id;
  mz_resources *total, *free, *allocated; /* unallocated form */
  int64_t total_k[NK], free_k[NK];
  bool active, reserved; /* reserved: total holds reservations */
  dalloc *allocs;
  bool dirty, in_free;
  dagent *dprev, *dnext, *fprev, *fnext;
  UT_hash_handle hh;
};

static const char *ag_key(const void *ag) { return ((const dagent *)ag)->id; }

typedef struct {
  mz_allocator_env env;
  bool priority;
  dnode *root;
  dnode *roles; /* hash by name */
  size_t nroles;
  dfw *frameworks;
  dagent *agents; /* uthash by id, for iteration */
  mz_idx agent_idx; /* by id, for lookups */
  dagent *dirty, *freelist;
  int64_t total_k[NK], free_k[NK];
  bool full_pass;
  bool quota_any;
  struct event *alloc_ev;
  bool alloc_pending;
  mz_timerq filters;
  size_t nfilters;
  uint64_t runs, offers;
  double last_run_ms;
} drf;

#define FILTER_OF(n) ((dfilter *)((char *)(n) - offsetof(dfilter, node)))

static void schedule(drf *d);

static double now_of(const drf *d) { return d->env.now ? d->env.now(d->env.ctx) : mz_monotonic(); }

/* ------------------------------------------------------------------ helpers */

static int kind_of(const char *name) {
  for (int k = 0; k < NK; k++)
    if (!strcmp(name, KNAME[k])) return k;
  return -1;
}

static void scalars_of(const mz_resources *r, int64_t out[NK]) {
  for (int k = 0; k < NK; k++) out[k] = 0;
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) {
    if (r->v[i].type != MZ_RES_SCALAR) continue;
    int k = kind_of(r->v[i].name);
    if (k >= 0) out[k] += r->v[i].scalar;
  }
}

static bool has_reservations(const mz_resources *r) {
  for (size_t i = 0; i < r->n; i++)
    if (r->v[i].resv != MZ_RESV_NONE) return true;
  return false;
}

static void mark_dirty(drf *d, dagent *ag) {
  if (!ag->dirty) {
    ag->dirty = true;
    DL_APPEND2(d->dirty, ag, dprev, dnext);
  }
}

static void update_free_list(drf *d, dagent *ag) {
  bool want = ag->free->n > 0;
  if (want && !ag->in_free) {
    DL_APPEND2(d->freelist, ag, fprev, fnext);
    ag->in_free = true;
  } else if (!want && ag->in_free) {
    DL_DELETE2(d->freelist, ag, fprev, fnext);
    ag->in_free = false;
  }
}

static double node_share(const drf *d, const int64_t alloc[NK]) {
  double s = 0;
  for (int k = 0; k < NK; k++)
    if (d->total_k[k] > 0) {
      double x = (double)alloc[k] / (double)d->total_k[k];
      if (x > s) s = x;
    }
  return s;
}

static double node_key(const drf *d, const dnode *n) {
  double w = n->weight > 0 ? n->weight : 1;
  double share = node_share(d, n->alloc) / w;
  if (d->priority && !n->self) return -w * 1e6 + share; /* heavier roles first, DRF among equals */
  return share;
}

static double fr_key(const drf *d, const dfr *fr) { return node_share(d, fr->alloc); }

/* Sort orders: entries that can take offers first, then ascending key, then name. */
static int cmp_nodes(const void *a, const void *b) {
  const dnode *x = *(dnode *const *)a, *y = *(dnode *const *)b;
  if (x->live != y->live) return x->live ? -1 : 1;
  if (x->key < y->key) return -1;
  if (x->key > y->key) return 1;
  if (x->self != y->self) return x->self ? -1 : 1;
  return strcmp(x->name, y->name);
}

static int cmp_frs(const void *a, const void *b) {
  const dfr *x = *(dfr *const *)a, *y = *(dfr *const *)b;
  if (x->live != y->live) return x->live ? -1 : 1;
  if (x->key < y->key) return -1;
  if (x->key > y->key) return 1;
  return strcmp(x->fw->id, y->fw->id);
}

/* ------------------------------------------------------------------ role tree */

static dnode *node_new(const char *name, bool self, dnode *parent) {
  dnode *n = mz_calloc(1, sizeof *n);
  n->name = mz_strdup(name);
  n->self = self;
  n->parent = parent;
  n->weight = 1.0;
  for (int k = 0; k < NK; k++) n->limit[k] = -1;
  if (parent) {
    if (parent->nkids == parent->capkids) {
      parent->capkids = parent->capkids ? parent->capkids * 2 : 4;
      parent->kids = mz_realloc(parent->kids, parent->capkids * sizeof *parent->kids);
    }
    n->pos = parent->nkids;
    parent->kids[parent->nkids++] = n;
  }
  return n;
}

/* The node of a role, created (with its ancestors) when needed. NULL past MAX_ROLES. */
static dnode *role_node(drf *d, const char *role) {
  dnode *n = NULL;
  HASH_FIND_STR(d->roles, role, n);
  if (n) return n;
  if (d->nroles >= MAX_ROLES) return NULL;
  dnode *parent = d->root;
  const char *slash = strrchr(role, '/');
  if (slash) {
    char *pname = mz_strdup(role);
    pname[slash - role] = 0;
    parent = role_node(d, pname);
    free(pname);
    if (!parent) return NULL;
  }
  n = node_new(role, false, parent);
  n->selfleaf = node_new(role, true, n);
  HASH_ADD_KEYPTR(hh, d->roles, n->name, strlen(n->name), n);
  d->nroles++;
  return n;
}

static void node_free(dnode *n) {
  for (size_t i = 0; i < n->nkids; i++) node_free(n->kids[i]);
  free(n->kids);
  free(n->fws);
  free(n->name);
  free(n);
}

/* Adds delta (per kind) to a framework entry and every node above it. */
static void charge_fr(dfr *fr, const int64_t delta[NK], int sign) {
  for (int k = 0; k < NK; k++) fr->alloc[k] += sign * delta[k];
  for (dnode *n = fr->leaf; n; n = n->parent)
    for (int k = 0; k < NK; k++) n->alloc[k] += sign * delta[k];
}

/* Moves an entry of a sorted array right to its place after its key grew. */
static void reposition_node(dnode **arr, size_t n, size_t i) {
  dnode *x = arr[i];
  size_t lo = i + 1, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cmp_nodes(&arr[mid], &x) < 0) lo = mid + 1;
    else hi = mid;
  }
  size_t dst = lo - 1;
  if (dst == i) return;
  memmove(&arr[i], &arr[i + 1], (dst - i) * sizeof *arr);
  arr[dst] = x;
  for (size_t k = i; k <= dst; k++) arr[k]->pos = k;
}

static void reposition_fr(dfr **arr, size_t n, size_t i) {
  dfr *x = arr[i];
  size_t lo = i + 1, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cmp_frs(&arr[mid], &x) < 0) lo = mid + 1;
    else hi = mid;
  }
  size_t dst = lo - 1;
  if (dst == i) return;
  memmove(&arr[i], &arr[i + 1], (dst - i) * sizeof *arr);
  arr[dst] = x;
  for (size_t k = i; k <= dst; k++) arr[k]->pos = k;
}

/* After fr's allocation grew during a pass: new keys and places along its path. */
static void resort_path(drf *d, dfr *fr) {
  dnode *leaf = fr->leaf;
  fr->key = fr_key(d, fr);
  reposition_fr(leaf->fws, leaf->nlive, fr->pos);
  for (dnode *n = leaf; n->parent; n = n->parent) {
    n->key = node_key(d, n);
    reposition_node(n->parent->kids, n->parent->nlive, n->pos);
  }
}

static void sort_tree(drf *d, dnode *n) {
  n->nlive = 0;
  if (n->self) {
    for (size_t i = 0; i < n->nfws; i++) {
      dfr *fr = n->fws[i];
      fr->key = fr_key(d, fr);
      fr->live = fr->fw->active && !fr->suppressed && !fr->gone;
      n->nlive += fr->live;
    }
    if (n->nfws > 1) qsort(n->fws, n->nfws, sizeof *n->fws, cmp_frs);
    for (size_t i = 0; i < n->nfws; i++) n->fws[i]->pos = i;
    n->live = n->nlive > 0;
    return;
  }
  for (size_t i = 0; i < n->nkids; i++) {
    n->kids[i]->key = node_key(d, n->kids[i]);
    sort_tree(d, n->kids[i]);
    n->nlive += n->kids[i]->live;
  }
  if (n->nkids > 1) qsort(n->kids, n->nkids, sizeof *n->kids, cmp_nodes);
  for (size_t i = 0; i < n->nkids; i++) n->kids[i]->pos = i;
  n->live = n->nlive > 0;
}

static void leaf_add(dnode *leaf, dfr *fr) {
  if (leaf->nfws == leaf->capfws) {
    leaf->capfws = leaf->capfws ? leaf->capfws * 2 : 4;
    leaf->fws = mz_realloc(leaf->fws, leaf->capfws * sizeof *leaf->fws);
  }
  fr->pos = leaf->nfws;
  leaf->fws[leaf->nfws++] = fr;
}

static void leaf_remove(dnode *leaf, dfr *fr) {
  for (size_t i = 0; i < leaf->nfws; i++)
    if (leaf->fws[i] == fr) {
      memmove(&leaf->fws[i], &leaf->fws[i + 1], (leaf->nfws - i - 1) * sizeof *leaf->fws);
      leaf->nfws--;
      for (size_t k = i; k < leaf->nfws; k++) leaf->fws[k]->pos = k;
      return;
    }
}

/* ------------------------------------------------------------------ filters */

static void filter_free(drf *d, dfilter *f) {
  mz_timerq_remove(&d->filters, &f->node);
  HASH_DEL(f->fw->filters, f);
  d->nfilters--;
  mz_resources_free(f->refused);
  free(f->agent_id);
  free(f);
}

static void clear_filters(drf *d, dfw *fw) {
  dfilter *f, *tmp;
  HASH_ITER(hh, fw->filters, f, tmp) filter_free(d, f);
}

static void on_filter_expired(mz_timerq_node *n, void *arg) {
  drf *d = arg;
  dfilter *f = FILTER_OF(n);
  f->node.queued = false;
  dagent *ag = NULL;
  ag = mz_idx_get(&d->agent_idx, f->agent_id);
  filter_free(d, f);
  if (ag) {
    mark_dirty(d, ag);
    schedule(d);
  }
}

/* True when a live decline filter of fw covers res on agent_id. Expired ones are dropped. */
static bool filtered(drf *d, dfw *fw, const char *agent_id, const mz_resources *res) {
  if (!fw->filters) return false;
  dfilter *f = NULL;
  HASH_FIND_STR(fw->filters, agent_id, f);
  if (!f) return false;
  if (now_of(d) >= f->expires) {
    filter_free(d, f);
    return false;
  }
  return mz_resources_contains(f->refused, res);
}

/* ------------------------------------------------------------- allocations */

static dalloc *find_alloc(dagent *ag, dfr *fr) {
  for (dalloc *a = ag->allocs; a; a = a->ag_next)
    if (a->fr == fr) return a;
  return NULL;
}

static void alloc_drop(dfw *fw, dalloc *a) {
  DL_DELETE2(a->ag->allocs, a, ag_prev, ag_next);
  DL_DELETE2(fw->allocs, a, fw_prev, fw_next);
  free(a);
}

static void alloc_charge(dagent *ag, dfr *fr, const int64_t k[NK], int sign) {
  dalloc *a = find_alloc(ag, fr);
  if (!a) {
    if (sign < 0) return;
    a = mz_calloc(1, sizeof *a);
    a->ag = ag;
    a->fr = fr;
    DL_APPEND2(ag->allocs, a, ag_prev, ag_next);
    DL_APPEND2(fr->fw->allocs, a, fw_prev, fw_next);
  }
  int64_t applied[NK];
  bool empty = true;
  for (int i = 0; i < NK; i++) {
    int64_t v = sign * k[i];
    if (a->k[i] + v < 0) v = -a->k[i];
    a->k[i] += v;
    applied[i] = v;
    if (a->k[i] != 0) empty = false;
  }
  charge_fr(fr, applied, 1);
  if (empty && sign < 0) alloc_drop(fr->fw, a);
}

static dfr *fr_of(dfw *fw, const char *role) {
  for (size_t i = 0; i < fw->nroles; i++)
    if (!strcmp(fw->roles[i]->leaf->name, role)) return fw->roles[i];
  return NULL;
}

/* ------------------------------------------------------------------ the pass */

typedef enum { STAGE_QUOTA, STAGE_REST } stage_t;

/* Headroom of fr's role under the quota limits of it and its ancestors (-1: unlimited). */
static void limit_headroom(const dfr *fr, int64_t out[NK]) {
  for (int k = 0; k < NK; k++) out[k] = -1;
  for (dnode *n = fr->leaf->parent; n && n->parent; n = n->parent) {
    if (!n->has_limit) continue;
    for (int k = 0; k < NK; k++) {
      if (n->limit[k] < 0) continue;
      int64_t h = n->limit[k] - n->alloc[k];
      if (h < 0) h = 0;
      if (out[k] < 0 || h < out[k]) out[k] = h;
    }
  }
}

/* Guarantee still unmet by fr's role (or its nearest ancestor with a guarantee); false if none. */
static bool guarantee_headroom(const dfr *fr, int64_t out[NK]) {
  for (dnode *n = fr->leaf->parent; n && n->parent; n = n->parent) {
    if (!n->has_guarantee) continue;
    bool unmet = false;
    for (int k = 0; k < NK; k++) {
      out[k] = n->guarantee[k] > n->alloc[k] ? n->guarantee[k] - n->alloc[k] : 0;
      if (out[k] > 0) unmet = true;
    }
    return unmet;
  }
  return false;
}

/* Unmet guarantees of roles other than fr's (and its ancestors'): what must stay free. */
static void reserved_headroom(const drf *d, const dfr *fr, int64_t out[NK]) {
  for (int k = 0; k < NK; k++) out[k] = 0;
  if (!d->quota_any) return;
  dnode *n, *tmp;
  HASH_ITER(hh, d->roles, n, tmp) {
    if (!n->has_guarantee) continue;
    bool mine = false;
    for (dnode *p = fr->leaf->parent; p; p = p->parent)
      if (p == n) mine = true;
    if (mine) continue;
    for (int k = 0; k < NK; k++)
      if (n->guarantee[k] > n->alloc[k]) out[k] += n->guarantee[k] - n->alloc[k];
  }
}

/* Lowers the scalar entries of kind k in r (only the unreserved ones if
 * unreserved_only) so that they hold at most max in total. */
static void cut_kind(mz_resources *r, int k, int64_t max, bool unreserved_only) {
  int64_t have = 0;
  for (size_t i = 0; i < r->n; i++)
    if (r->v[i].type == MZ_RES_SCALAR && !strcmp(r->v[i].name, KNAME[k]) &&
        (!unreserved_only || r->v[i].resv == MZ_RESV_NONE))
      have += r->v[i].scalar;
  int64_t excess = have - max;
  for (size_t i = r->n; i-- > 0 && excess > 0;) {
    mz_resource *e = &r->v[i];
    if (e->type != MZ_RES_SCALAR || strcmp(e->name, KNAME[k]) != 0) continue;
    if (unreserved_only && e->resv != MZ_RESV_NONE) continue;
    int64_t take = e->scalar < excess ? e->scalar : excess;
    e->scalar -= take;
    excess -= take;
  }
  mz_resources_drop_empty(r);
}

/* Tries to offer what ag has for fr's role; true if an offer was made. */
static bool try_offer(drf *d, dagent *ag, dfr *fr, stage_t stage) {
  dfw *fw = fr->fw;
  if (!fw->active || fr->suppressed || fr->gone) return false;
  /* Agents with GPUs only go to frameworks that can use them (Mesos's GPU_RESOURCES rule). */
  if (ag->total_k[K_GPUS] > 0 && d->env.gpu_capable && !d->env.gpu_capable(d->env.ctx, fw->id)) return false;
  const char *role = fr->leaf->name;
  int64_t cap[NK];
  for (int k = 0; k < NK; k++) cap[k] = -1;
  bool cut = false;
  if (stage == STAGE_QUOTA) {
    int64_t g[NK];
    if (!guarantee_headroom(fr, g)) return false;
    /* Guaranteed kinds up to the guarantee; the rest comes along. */
    dnode *q = fr->leaf->parent;
    while (q && q->parent && !q->has_guarantee) q = q->parent;
    for (int k = 0; k < NK; k++)
      if (q && q->guarantee[k] > 0) cap[k] = g[k];
  }
  int64_t lim[NK];
  limit_headroom(fr, lim);
  for (int k = 0; k < NK; k++)
    if (lim[k] >= 0 && (cap[k] < 0 || lim[k] < cap[k])) cap[k] = lim[k];
  /* Unreserved resources that unmet guarantees of other roles need stay free. */
  int64_t room[NK];
  for (int k = 0; k < NK; k++) room[k] = -1;
  if (stage == STAGE_REST && d->quota_any) {
    int64_t keep[NK];
    reserved_headroom(d, fr, keep);
    for (int k = 0; k < NK; k++) {
      if (keep[k] <= 0) continue;
      room[k] = d->free_k[k] - keep[k];
      if (room[k] < 0) room[k] = 0;
    }
  }

  /* What may go to this role: everything (no reservations), or the role's share. */
  mz_resources *res = ag->free;
  bool owned = false;
  if (ag->reserved) {
    res = mz_resources_allocatable_to(ag->free, role);
    owned = true;
  }
  int64_t have[NK];
  scalars_of(res, have);
  for (int k = 0; k < NK; k++) {
    bool over_cap = cap[k] >= 0 && have[k] > cap[k];
    bool over_room = room[k] >= 0 && have[k] > room[k];
    if (!over_cap && !over_room) continue;
    if (over_cap && cap[k] == 0 && k <= K_MEM) { /* no cpus or no mem to give: useless offer */
      if (owned) mz_resources_free(res);
      return false;
    }
    if (!owned) {
      res = mz_resources_copy(res);
      owned = true;
    }
    if (over_cap) cut_kind(res, k, cap[k], false);
    if (over_room) cut_kind(res, k, room[k], true);
    cut = true;
  }
  if (cut) { /* a cut that took every cpu or all memory leaves a useless offer */
    int64_t after[NK];
    scalars_of(res, after);
    if ((have[K_CPUS] > 0 && after[K_CPUS] == 0) || (have[K_MEM] > 0 && after[K_MEM] == 0)) {
      mz_resources_free(res);
      return false;
    }
  }
  /* Mesos's default --min_allocatable_resources (cpus:0.01|mem:32): leftovers
   * with neither (a few ports, some disk) are not worth an offer. */
  int64_t got[NK];
  scalars_of(res, got);
  bool allocatable = got[K_CPUS] >= MZ_SCALAR_UNIT / 100 || got[K_MEM] >= 32 * MZ_SCALAR_UNIT;
  if (res->n == 0 || !allocatable || filtered(d, fw, ag->id, res)) {
    if (owned) mz_resources_free(res);
    return false;
  }
  if (d->env.offer(d->env.ctx, fw->id, ag->id, role, res) != 0) {
    if (owned) mz_resources_free(res);
    return false;
  }
  d->offers++;
  int64_t k_off[NK];
  scalars_of(res, k_off);
  if (!owned && ag->allocated->n == 0) {
    /* The whole pool, nothing allocated yet: swap instead of copying. */
    mz_resources *tmp = ag->allocated;
    ag->allocated = ag->free;
    ag->free = tmp;
  } else if (!owned) {
    /* The whole pool (res aliases ag->free): merge the smaller list into the
     * larger one so that few entries are copied. */
    if (ag->free->n > ag->allocated->n) {
      mz_resources *tmp = ag->allocated;
      ag->allocated = ag->free;
      ag->free = tmp;
    }
    mz_resources_add(ag->allocated, ag->free, NULL, 0);
    mz_resources_clear(ag->free);
  } else {
    mz_resources_add(ag->allocated, res, NULL, 0);
    if (mz_resources_subtract(ag->free, res, NULL, 0) != 0) MZ_ERROR("allocator", "agent %s: offer not free", ag->id);
  }
  for (int k = 0; k < NK; k++) {
    ag->free_k[k] -= k_off[k];
    d->free_k[k] -= k_off[k];
  }
  alloc_charge(ag, fr, k_off, 1);
  if (owned) mz_resources_free(res);
  resort_path(d, fr);
  return true;
}

/* Walks the tree in order; true once an offer was made on ag. */
/* Walks the entries that can take offers, in order; true once an offer was made on ag. */
static bool walk(drf *d, dnode *n, dagent *ag, stage_t stage) {
  if (n->self) {
    for (size_t i = 0; i < n->nlive; i++)
      if (try_offer(d, ag, n->fws[i], stage)) return true;
    return false;
  }
  for (size_t i = 0; i < n->nlive; i++)
    if (walk(d, n->kids[i], ag, stage)) return true;
  return false;
}

static bool has_unreserved(const mz_resources *r) {
  for (size_t i = 0; i < r->n; i++)
    if (r->v[i].resv == MZ_RESV_NONE) return true;
  return false;
}

/* When only reservations are left on ag, only the subtrees of their roles can
 * use them: walk those instead of every framework. */
static bool walk_reserved(drf *d, dagent *ag, stage_t stage) {
  for (size_t i = 0; i < ag->free->n; i++) {
    const char *role = ag->free->v[i].role;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(ag->free->v[j].role, role);
    if (seen) continue;
    dnode *n = NULL;
    HASH_FIND_STR(d->roles, role, n);
    if (n && n->live && walk(d, n, ag, stage)) return true;
  }
  return false;
}

static void allocate_agent(drf *d, dagent *ag, stage_t stage) {
  if (!ag->active || !d->root->live) return;
  /* Several offers can come from one agent when reservations or limits split it. */
  for (int guard = 0; ag->free->n > 0 && guard < 64; guard++) {
    bool made = (!ag->reserved || has_unreserved(ag->free)) ? walk(d, d->root, ag, stage)
                                                            : walk_reserved(d, ag, stage);
    if (!made) break;
  }
}

static bool unmet_guarantees(const drf *d) {
  if (!d->quota_any) return false;
  dnode *n, *tmp;
  HASH_ITER(hh, d->roles, n, tmp) {
    if (!n->has_guarantee) continue;
    for (int k = 0; k < NK; k++)
      if (n->guarantee[k] > n->alloc[k]) return true;
  }
  return false;
}

static void run_pass(drf *d) {
  double t0 = mz_monotonic();
  d->alloc_pending = false;
  bool full = d->full_pass;
  d->full_pass = false;
  sort_tree(d, d->root);
  size_t before = d->offers;
  bool quota = unmet_guarantees(d);
  if (full) {
    if (quota) {
      dagent *ag, *tmp;
      DL_FOREACH_SAFE2(d->freelist, ag, tmp, fnext) allocate_agent(d, ag, STAGE_QUOTA);
    }
    dagent *ag, *tmp;
    DL_FOREACH_SAFE2(d->freelist, ag, tmp, fnext) {
      allocate_agent(d, ag, STAGE_REST);
      update_free_list(d, ag);
    }
    /* The dirty list is covered by a full pass. */
    DL_FOREACH_SAFE2(d->dirty, ag, tmp, dnext) {
      DL_DELETE2(d->dirty, ag, dprev, dnext);
      ag->dirty = false;
      update_free_list(d, ag);
    }
  } else {
    dagent *ag, *tmp;
    if (quota)
      DL_FOREACH2(d->dirty, ag, dnext) allocate_agent(d, ag, STAGE_QUOTA);
    DL_FOREACH_SAFE2(d->dirty, ag, tmp, dnext) {
      DL_DELETE2(d->dirty, ag, dprev, dnext);
      ag->dirty = false;
      allocate_agent(d, ag, STAGE_REST);
      update_free_list(d, ag);
    }
  }
  d->runs++;
  d->last_run_ms = (mz_monotonic() - t0) * 1e3;
  if (d->offers > before && d->env.offers_done) d->env.offers_done(d->env.ctx);
}

static void on_alloc(evutil_socket_t fd, short what, void *arg) { run_pass(arg); }

static void schedule(drf *d) {
  if (d->alloc_pending || !d->alloc_ev) return;
  d->alloc_pending = true;
  double t = d->env.allocation_interval > 0 ? d->env.allocation_interval : 0;
  struct timeval tv = {(time_t)t, (suseconds_t)((t - floor(t)) * 1e6)};
  event_add(d->alloc_ev, &tv);
}

static void full_pass(drf *d) {
  d->full_pass = true;
  schedule(d);
}

mz_resources *mz_drf_agent_free(void *a, const char *agent_id) {
  drf *d = a;
  dagent *ag = NULL;
  ag = mz_idx_get(&d->agent_idx, agent_id);
  return ag ? mz_resources_copy(ag->free) : NULL;
}

void mz_drf_run_now(void *a) {
  drf *d = a;
  if (d->alloc_ev) event_del(d->alloc_ev);
  d->full_pass = true;
  run_pass(d);
}

/* ---------------------------------------------------------------- interface */

static void *d_create_common(const mz_allocator_env *env, bool priority, char *err, size_t errlen) {
  drf *d = mz_calloc(1, sizeof *d);
  d->env = *env;
  d->priority = priority;
  d->root = node_new("", false, NULL);
  mz_idx_init(&d->agent_idx, ag_key);
  if (env->base) {
    d->alloc_ev = event_new(env->base, -1, 0, on_alloc, d);
    if (mz_timerq_init(&d->filters, env->base, on_filter_expired, d) != 0) {
      snprintf(err, errlen, "cannot create the allocator's timers");
      if (d->alloc_ev) event_free(d->alloc_ev);
      node_free(d->root);
      free(d);
      return NULL;
    }
  }
  return d;
}

static void *d_create(const mz_allocator_env *env, char *err, size_t errlen) {
  return d_create_common(env, false, err, errlen);
}
static void *p_create(const mz_allocator_env *env, char *err, size_t errlen) {
  return d_create_common(env, true, err, errlen);
}

static void fw_free(drf *d, dfw *fw) {
  clear_filters(d, fw);
  while (fw->allocs) {
    dalloc *a = fw->allocs;
    int64_t neg[NK];
    for (int k = 0; k < NK; k++) neg[k] = a->k[k];
    charge_fr(a->fr, neg, -1);
    alloc_drop(fw, a);
  }
  for (size_t i = 0; i < fw->nroles; i++) {
    if (!fw->roles[i]->gone) leaf_remove(fw->roles[i]->leaf, fw->roles[i]);
    free(fw->roles[i]);
  }
  free(fw->roles);
  free(fw->id);
  free(fw);
}

static void agent_free(drf *d, dagent *ag) {
  while (ag->allocs) {
    dalloc *a = ag->allocs;
    int64_t neg[NK];
    for (int k = 0; k < NK; k++) neg[k] = a->k[k];
    charge_fr(a->fr, neg, -1);
    alloc_drop(a->fr->fw, a);
  }
  if (ag->dirty) DL_DELETE2(d->dirty, ag, dprev, dnext);
  if (ag->in_free) DL_DELETE2(d->freelist, ag, fprev, fnext);
  mz_resources_free(ag->total);
  mz_resources_free(ag->free);
  mz_resources_free(ag->allocated);
  free(ag->id);
  free(ag);
}

static void d_destroy(void *a) {
  drf *d = a;
  if (!d) return;
  dfw *fw, *ftmp;
  HASH_ITER(hh, d->frameworks, fw, ftmp) {
    HASH_DEL(d->frameworks, fw);
    fw_free(d, fw);
  }
  dagent *ag, *atmp;
  HASH_ITER(hh, d->agents, ag, atmp) {
    HASH_DEL(d->agents, ag);
    agent_free(d, ag);
  }
  mz_idx_free(&d->agent_idx);
  HASH_CLEAR(hh, d->roles);
  node_free(d->root);
  if (d->alloc_ev) {
    event_free(d->alloc_ev);
    mz_timerq_free(&d->filters);
  }
  free(d);
}

static dfw *fw_find(drf *d, const char *id) {
  dfw *fw = NULL;
  if (id) HASH_FIND_STR(d->frameworks, id, fw);
  return fw;
}

static bool in_list(const char *s, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(s, list[i])) return true;
  return false;
}

static int set_roles(drf *d, dfw *fw, const char *const *roles, size_t nroles, const char *const *suppressed,
                     size_t nsuppressed) {
  /* Entries for roles no longer held are kept (their allocations run out) but not offered. */
  for (size_t i = 0; i < fw->nroles; i++) {
    dfr *fr = fw->roles[i];
    if (!fr->gone && !in_list(fr->leaf->name, roles, nroles)) {
      fr->gone = true;
      leaf_remove(fr->leaf, fr);
    }
  }
  for (size_t i = 0; i < nroles; i++) {
    dfr *fr = fr_of(fw, roles[i]);
    if (!fr) {
      dnode *n = role_node(d, roles[i]);
      if (!n) return -1;
      fr = mz_calloc(1, sizeof *fr);
      fr->fw = fw;
      fr->leaf = n->selfleaf;
      fw->roles = mz_realloc(fw->roles, (fw->nroles + 1) * sizeof *fw->roles);
      fw->roles[fw->nroles++] = fr;
      leaf_add(fr->leaf, fr);
    } else if (fr->gone) {
      fr->gone = false;
      leaf_add(fr->leaf, fr);
    }
    fr->suppressed = in_list(roles[i], suppressed, nsuppressed);
  }
  return 0;
}

static int d_add_framework(void *a, const char *fw_id, const char *const *roles, size_t nroles,
                           const char *const *suppressed, size_t nsuppressed, bool active) {
  drf *d = a;
  if (fw_find(d, fw_id)) return -1;
  dfw *fw = mz_calloc(1, sizeof *fw);
  fw->id = mz_strdup(fw_id);
  fw->active = active;
  HASH_ADD_KEYPTR(hh, d->frameworks, fw->id, strlen(fw->id), fw);
  if (set_roles(d, fw, roles, nroles, suppressed, nsuppressed) != 0) {
    HASH_DEL(d->frameworks, fw);
    fw_free(d, fw);
    return -1;
  }
  if (active) full_pass(d);
  return 0;
}

static void d_update_framework(void *a, const char *fw_id, const char *const *roles, size_t nroles,
                               const char *const *suppressed, size_t nsuppressed) {
  drf *d = a;
  dfw *fw = fw_find(d, fw_id);
  if (!fw) return;
  set_roles(d, fw, roles, nroles, suppressed, nsuppressed);
  full_pass(d);
}

static void d_remove_framework(void *a, const char *fw_id) {
  drf *d = a;
  dfw *fw = fw_find(d, fw_id);
  if (!fw) return;
  HASH_DEL(d->frameworks, fw);
  fw_free(d, fw);
}

static void d_activate_framework(void *a, const char *fw_id) {
  drf *d = a;
  dfw *fw = fw_find(d, fw_id);
  if (!fw) return;
  fw->active = true;
  full_pass(d);
}

static void d_deactivate_framework(void *a, const char *fw_id) {
  dfw *fw = fw_find(a, fw_id);
  if (fw) fw->active = false;
}

static void set_suppressed(dfw *fw, const char *const *roles, size_t nroles, bool value) {
  for (size_t i = 0; i < fw->nroles; i++)
    if (nroles == 0 || in_list(fw->roles[i]->leaf->name, roles, nroles)) fw->roles[i]->suppressed = value;
}

static void d_suppress(void *a, const char *fw_id, const char *const *roles, size_t nroles) {
  dfw *fw = fw_find(a, fw_id);
  if (fw) set_suppressed(fw, roles, nroles, true);
}

static void d_revive(void *a, const char *fw_id, const char *const *roles, size_t nroles) {
  drf *d = a;
  dfw *fw = fw_find(d, fw_id);
  if (!fw) return;
  set_suppressed(fw, roles, nroles, false);
  clear_filters(d, fw);
  full_pass(d);
}

static dagent *ag_find(drf *d, const char *id) {
  dagent *ag = NULL;
  if (id) ag = mz_idx_get(&d->agent_idx, id);
  return ag;
}

static void totals_add(drf *d, const int64_t k[NK], int sign) {
  for (int i = 0; i < NK; i++) d->total_k[i] += sign * k[i];
}

static int d_add_agent(void *a, const char *agent_id, const mz_resources *total) {
  drf *d = a;
  if (ag_find(d, agent_id)) return -1;
  dagent *ag = mz_calloc(1, sizeof *ag);
  ag->id = mz_strdup(agent_id);
  ag->total = mz_resources_copy(total);
  mz_resources_set_alloc_role(ag->total, NULL);
  ag->free = mz_resources_copy(ag->total);
  ag->allocated = mz_resources_new();
  ag->active = true;
  ag->reserved = has_reservations(ag->total);
  scalars_of(ag->total, ag->total_k);
  memcpy(ag->free_k, ag->total_k, sizeof ag->free_k);
  totals_add(d, ag->total_k, 1);
  for (int k = 0; k < NK; k++) d->free_k[k] += ag->free_k[k];
  HASH_ADD_KEYPTR(hh, d->agents, ag->id, strlen(ag->id), ag);
  mz_idx_put(&d->agent_idx, ag);
  update_free_list(d, ag);
  mark_dirty(d, ag);
  schedule(d);
  return 0;
}

static void d_remove_agent(void *a, const char *agent_id) {
  drf *d = a;
  dagent *ag = ag_find(d, agent_id);
  if (!ag) return;
  totals_add(d, ag->total_k, -1);
  for (int k = 0; k < NK; k++) d->free_k[k] -= ag->free_k[k];
  HASH_DEL(d->agents, ag);
  mz_idx_del(&d->agent_idx, ag->id);
  agent_free(d, ag);
}

static void d_activate_agent(void *a, const char *agent_id) {
  drf *d = a;
  dagent *ag = ag_find(d, agent_id);
  if (!ag) return;
  ag->active = true;
  mark_dirty(d, ag);
  schedule(d);
}

static void d_deactivate_agent(void *a, const char *agent_id) {
  dagent *ag = ag_find(a, agent_id);
  if (ag) ag->active = false;
}

static void d_update_agent(void *a, const char *agent_id, const mz_resources *total) {
  drf *d = a;
  dagent *ag = ag_find(d, agent_id);
  if (!ag) return;
  mz_resources *t = mz_resources_copy(total);
  mz_resources_set_alloc_role(t, NULL);
  mz_resources *fr = mz_resources_copy(t);
  if (mz_resources_subtract(fr, ag->allocated, NULL, 0) != 0) {
    /* The new total does not hold what is allocated: keep the allocation, free what remains. */
    MZ_WARN("allocator", "agent %s: new total smaller than its allocation", ag->id);
    mz_resources_free(fr);
    fr = mz_resources_copy(t);
  }
  totals_add(d, ag->total_k, -1);
  for (int k = 0; k < NK; k++) d->free_k[k] -= ag->free_k[k];
  mz_resources_free(ag->total);
  mz_resources_free(ag->free);
  ag->total = t;
  ag->free = fr;
  ag->reserved = has_reservations(t);
  scalars_of(ag->total, ag->total_k);
  scalars_of(ag->free, ag->free_k);
  totals_add(d, ag->total_k, 1);
  for (int k = 0; k < NK; k++) d->free_k[k] += ag->free_k[k];
  update_free_list(d, ag);
  mark_dirty(d, ag);
  schedule(d);
}

static int d_update_allocation(void *a, const char *agent_id, const char *fw_id, const mz_resources *from,
                               const mz_resources *to) {
  drf *d = a;
  dagent *ag = ag_find(d, agent_id);
  if (!ag) return -1;
  mz_resources *f = mz_resources_copy(from), *t = mz_resources_copy(to);
  mz_resources_set_alloc_role(f, NULL);
  mz_resources_set_alloc_role(t, NULL);
  int rc = -1;
  mz_resources *alloc = mz_resources_copy(ag->allocated), *total = mz_resources_copy(ag->total);
  if (mz_resources_subtract(alloc, f, NULL, 0) == 0 && mz_resources_add(alloc, t, NULL, 0) == 0 &&
      mz_resources_subtract(total, f, NULL, 0) == 0 && mz_resources_add(total, t, NULL, 0) == 0) {
    mz_resources_free(ag->allocated);
    mz_resources_free(ag->total);
    ag->allocated = alloc;
    ag->total = total;
    alloc = total = NULL;
    ag->reserved = has_reservations(ag->total);
    rc = 0;
  }
  mz_resources_free(alloc);
  mz_resources_free(total);
  mz_resources_free(f);
  mz_resources_free(t);
  (void)fw_id;
  return rc;
}

/* Which framework entry resources in allocated form belong to (their alloc role). */
static dfr *owner(dfw *fw, const mz_resources *res) {
  for (size_t i = 0; i < res->n; i++)
    if (res->v[i].alloc_role) {
      dfr *fr = fr_of(fw, res->v[i].alloc_role);
      if (fr) return fr;
    }
  return fw->nroles ? fw->roles[0] : NULL;
}

static int d_add_allocation(void *a, const char *agent_id, const char *fw_id, const mz_resources *res) {
  drf *d = a;
  dagent *ag = ag_find(d, agent_id);
  dfw *fw = fw_find(d, fw_id);
  if (!ag || !fw) return -1;
  mz_resources *r = mz_resources_copy(res);
  mz_resources_set_alloc_role(r, NULL);
  if (mz_resources_subtract(ag->free, r, NULL, 0) != 0) {
    mz_resources_free(r);
    return -1;
  }
  mz_resources_add(ag->allocated, r, NULL, 0);
  int64_t k[NK];
  scalars_of(r, k);
  for (int i = 0; i < NK; i++) {
    ag->free_k[i] -= k[i];
    d->free_k[i] -= k[i];
  }
  dfr *fr = owner(fw, res);
  if (fr) alloc_charge(ag, fr, k, 1);
  mz_resources_free(r);
  update_free_list(d, ag);
  return 0;
}

static void d_recover(void *a, const char *agent_id, const char *fw_id, const mz_resources *res,
                      double refuse_seconds) {
  drf *d = a;
  dagent *ag = ag_find(d, agent_id);
  if (!ag || !res || res->n == 0) return;
  mz_resources *r = mz_resources_copy(res);
  mz_resources_set_alloc_role(r, NULL);
  if (mz_resources_subtract(ag->allocated, r, NULL, 0) != 0) {
    MZ_WARN("allocator", "agent %s: recovered resources were not allocated; ignored", ag->id);
    mz_resources_free(r);
    return;
  }
  mz_resources_add(ag->free, r, NULL, 0);
  int64_t k[NK];
  scalars_of(r, k);
  for (int i = 0; i < NK; i++) {
    ag->free_k[i] += k[i];
    d->free_k[i] += k[i];
  }
  dfw *fw = fw_find(d, fw_id);
  if (fw) {
    dfr *fr = owner(fw, res);
    if (fr) alloc_charge(ag, fr, k, -1);
    if (refuse_seconds > 0) {
      dfilter *f = NULL;
      HASH_FIND_STR(fw->filters, agent_id, f);
      if (f) filter_free(d, f);
      f = mz_calloc(1, sizeof *f);
      f->agent_id = mz_strdup(agent_id);
      f->fw = fw;
      f->refused = r;
      r = NULL;
      f->expires = now_of(d) + refuse_seconds;
      HASH_ADD_KEYPTR(hh, fw->filters, f->agent_id, strlen(f->agent_id), f);
      d->nfilters++;
      if (d->alloc_ev) mz_timerq_add(&d->filters, &f->node, refuse_seconds);
    }
  }
  mz_resources_free(r);
  update_free_list(d, ag);
  mark_dirty(d, ag);
  schedule(d);
}

static void d_request_allocation(void *a) { full_pass(a); }

static void d_metrics(void *a, json_t *o) {
  drf *d = a;
  json_object_set_new(o, "allocator/mesos/allocation_runs", json_real((double)d->runs));
  json_object_set_new(o, "allocator/mesos/allocation_run_ms", json_real(d->last_run_ms));
  json_object_set_new(o, "allocator/mesos/offer_filters/active", json_real((double)d->nfilters));
  for (int k = 0; k < NK; k++) {
    char key[96];
    snprintf(key, sizeof key, "allocator/mesos/resources/%s/total", KNAME[k]);
    json_object_set_new(o, key, json_real((double)d->total_k[k] / MZ_SCALAR_UNIT));
    snprintf(key, sizeof key, "allocator/mesos/resources/%s/offered_or_allocated", KNAME[k]);
    json_object_set_new(o, key, json_real((double)(d->total_k[k] - d->free_k[k]) / MZ_SCALAR_UNIT));
  }
  dnode *n, *tmp;
  HASH_ITER(hh, d->roles, n, tmp) {
    char key[MZ_ROLE_NAME_MAX + 64];
    snprintf(key, sizeof key, "allocator/mesos/roles/%s/shares/dominant", n->name);
    json_object_set_new(o, key, json_real(node_share(d, n->alloc)));
  }
}

static void d_update_weights(void *a, const char *const *roles, const double *weights, size_t n) {
  drf *d = a;
  for (size_t i = 0; i < n; i++) {
    dnode *node = role_node(d, roles[i]);
    if (node) node->weight = weights[i] > 0 ? weights[i] : 1.0;
  }
  full_pass(d);
}

static int d_update_quota(void *a, const char *role, const mz_resources *guarantee, const mz_resources *limit,
                          char *err, size_t errlen) {
  drf *d = a;
  dnode *n = role_node(d, role);
  if (!n) {
    snprintf(err, errlen, "too many roles (limit %d)", MAX_ROLES);
    return -1;
  }
  int64_t g[NK], l[NK];
  scalars_of(guarantee, g);
  scalars_of(limit, l);
  n->has_guarantee = false;
  n->has_limit = false;
  for (int k = 0; k < NK; k++) {
    n->guarantee[k] = g[k];
    if (g[k] > 0) n->has_guarantee = true;
    n->limit[k] = -1;
  }
  if (limit)
    for (size_t i = 0; i < limit->n; i++) {
      int k = kind_of(limit->v[i].name);
      if (k >= 0 && limit->v[i].type == MZ_RES_SCALAR) {
        n->limit[k] = l[k];
        n->has_limit = true;
      }
    }
  d->quota_any = false;
  dnode *x, *tmp;
  HASH_ITER(hh, d->roles, x, tmp)
  if (x->has_guarantee) d->quota_any = true;
  full_pass(d);
  return 0;
}

static json_t *kinds_json(const int64_t k[NK], bool skip_unset) {
  json_t *o = json_object();
  for (int i = 0; i < NK; i++) {
    if (skip_unset && k[i] < 0) continue;
    json_object_set_new(o, KNAME[i], json_real((double)k[i] / MZ_SCALAR_UNIT));
  }
  return o;
}

static json_t *d_roles_json(void *a) {
  drf *d = a;
  json_t *out = json_object();
  dnode *n, *tmp;
  HASH_ITER(hh, d->roles, n, tmp) {
    json_t *r = json_object();
    json_object_set_new(r, "weight", json_real(n->weight));
    json_object_set_new(r, "allocated", kinds_json(n->alloc, false));
    json_object_set_new(r, "share", json_real(node_share(d, n->alloc)));
    json_t *fws = json_array();
    for (size_t i = 0; i < n->selfleaf->nfws; i++) json_array_append_new(fws, json_string(n->selfleaf->fws[i]->fw->id));
    json_object_set_new(r, "frameworks", fws);
    if (n->has_guarantee || n->has_limit) {
      json_t *q = json_object();
      if (n->has_guarantee) {
        int64_t g[NK];
        for (int k = 0; k < NK; k++) g[k] = n->guarantee[k] > 0 ? n->guarantee[k] : -1;
        json_object_set_new(q, "guarantee", kinds_json(g, true));
      }
      if (n->has_limit) json_object_set_new(q, "limit", kinds_json(n->limit, true));
      json_object_set_new(r, "quota", q);
    }
    json_object_set_new(out, n->name, r);
  }
  return out;
}

#define DRF_OPS(sym, nm, ctor)                                                                            \
  const mz_allocator_ops sym = {                                                                            \
      .version = MZ_ALLOCATOR_API_VERSION,                                                                  \
      .name = nm,                                                                                           \
      .create = ctor,                                                                                       \
      .destroy = d_destroy,                                                                                 \
      .add_framework = d_add_framework,                                                                     \
      .remove_framework = d_remove_framework,                                                               \
      .activate_framework = d_activate_framework,                                                           \
      .deactivate_framework = d_deactivate_framework,                                                       \
      .suppress = d_suppress,                                                                               \
      .revive = d_revive,                                                                                   \
      .add_agent = d_add_agent,                                                                             \
      .remove_agent = d_remove_agent,                                                                       \
      .activate_agent = d_activate_agent,                                                                   \
      .deactivate_agent = d_deactivate_agent,                                                               \
      .add_allocation = d_add_allocation,                                                                   \
      .recover = d_recover,                                                                                 \
      .request_allocation = d_request_allocation,                                                           \
      .metrics = d_metrics,                                                                                 \
      .update_framework = d_update_framework,                                                               \
      .update_agent = d_update_agent,                                                                       \
      .update_allocation = d_update_allocation,                                                             \
      .update_weights = d_update_weights,                                                                   \
      .update_quota = d_update_quota,                                                                       \
      .roles_json = d_roles_json,                                                                           \
  }

DRF_OPS(mz_allocator_drf, "drf", d_create);
DRF_OPS(mz_allocator_priority, "priority", p_create);
