/* first_fit: an example allocator module for mezzo-master, built out of tree
 * from allocator.h alone:
 *
 *   mezzo-master --allocator=/path/to/libmezzo_first_fit.so
 *
 * Policy: every free agent goes whole to the active, unsuppressed framework
 * that has received the fewest offers so far (ties: the oldest framework). No
 * roles, weights, quota or reservations beyond what the master enforces; a
 * decline filter simply skips that framework on that agent until it expires.
 * It shows the module contract: export `mz_allocator_module` with the API
 * version, keep your own copies of what the master tells you, answer with
 * env.offer() and env.offers_done(). Resources helpers (mz_resources_*) come
 * from the master binary, which exports them. */
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "master/allocator.h"

#define MAX_ITEMS 100000

typedef struct {
  char *id;
  bool active, suppressed;
  unsigned long offers;
  char **filtered; /* agent ids declined with a filter (until revive or expiry) */
  double *until;
  size_t nfiltered;
} ff_fw;

typedef struct {
  char *id;
  mz_resources *total, *free;
  bool active;
} ff_agent;

typedef struct {
  mz_allocator_env env;
  ff_fw *fws;
  size_t nfws;
  ff_agent *agents;
  size_t nagents;
  struct event *ev;
} ff;

static double ff_now(ff *a) {
  if (a->env.now) return a->env.now(a->env.ctx);
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ff_fw *fw_of(ff *a, const char *id) {
  for (size_t i = 0; i < a->nfws; i++)
    if (!strcmp(a->fws[i].id, id)) return &a->fws[i];
  return NULL;
}

static ff_agent *agent_of(ff *a, const char *id) {
  for (size_t i = 0; i < a->nagents; i++)
    if (!strcmp(a->agents[i].id, id)) return &a->agents[i];
  return NULL;
}

static bool is_filtered(ff *a, ff_fw *f, const char *agent) {
  for (size_t i = 0; i < f->nfiltered; i++)
    if (!strcmp(f->filtered[i], agent)) return ff_now(a) < f->until[i];
  return false;
}

static void pass(ff *a) {
  bool any = false;
  for (size_t i = 0; i < a->nagents; i++) {
    ff_agent *ag = &a->agents[i];
    if (!ag->active || ag->free->n == 0) continue;
    ff_fw *best = NULL;
    for (size_t k = 0; k < a->nfws; k++) {
      ff_fw *f = &a->fws[k];
      if (!f->active || f->suppressed || is_filtered(a, f, ag->id)) continue;
      if (!best || f->offers < best->offers) best = f;
    }
    if (!best) continue;
    if (a->env.offer(a->env.ctx, best->id, ag->id, "*", ag->free) == 0) {
      best->offers++;
      mz_resources_clear(ag->free);
      any = true;
    }
  }
  if (any && a->env.offers_done) a->env.offers_done(a->env.ctx);
}

static void on_ev(evutil_socket_t fd, short what, void *arg) { pass(arg); }

static void later(ff *a) {
  if (!a->ev) return;
  double t = a->env.allocation_interval > 0 ? a->env.allocation_interval : 0;
  struct timeval tv = {(time_t)t, (suseconds_t)((t - (double)(time_t)t) * 1e6)};
  event_add(a->ev, &tv);
}

static void *ff_create(const mz_allocator_env *env, char *err, size_t errlen) {
  ff *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->env = *env;
  if (env->base) a->ev = event_new(env->base, -1, 0, on_ev, a);
  (void)err;
  (void)errlen;
  return a;
}

static void ff_destroy(void *p) {
  ff *a = p;
  for (size_t i = 0; i < a->nfws; i++) {
    for (size_t k = 0; k < a->fws[i].nfiltered; k++) free(a->fws[i].filtered[k]);
    free(a->fws[i].filtered);
    free(a->fws[i].until);
    free(a->fws[i].id);
  }
  for (size_t i = 0; i < a->nagents; i++) {
    free(a->agents[i].id);
    mz_resources_free(a->agents[i].total);
    mz_resources_free(a->agents[i].free);
  }
  free(a->fws);
  free(a->agents);
  if (a->ev) event_free(a->ev);
  free(a);
}

static int ff_add_framework(void *p, const char *id, const char *const *roles, size_t nroles,
                            const char *const *suppressed, size_t nsuppressed, bool active) {
  ff *a = p;
  if (fw_of(a, id) || a->nfws >= MAX_ITEMS) return -1;
  a->fws = realloc(a->fws, (a->nfws + 1) * sizeof *a->fws);
  ff_fw *f = &a->fws[a->nfws++];
  memset(f, 0, sizeof *f);
  f->id = strdup(id);
  f->active = active;
  f->suppressed = nsuppressed > 0 && nsuppressed >= nroles;
  later(a);
  return 0;
}

static void ff_remove_framework(void *p, const char *id) {
  ff *a = p;
  ff_fw *f = fw_of(a, id);
  if (!f) return;
  for (size_t k = 0; k < f->nfiltered; k++) free(f->filtered[k]);
  free(f->filtered);
  free(f->until);
  free(f->id);
  *f = a->fws[--a->nfws];
}

static void ff_activate(void *p, const char *id) {
  ff_fw *f = fw_of(p, id);
  if (f) f->active = true;
  later(p);
}
static void ff_deactivate(void *p, const char *id) {
  ff_fw *f = fw_of(p, id);
  if (f) f->active = false;
}
static void ff_suppress(void *p, const char *id, const char *const *roles, size_t n) {
  ff_fw *f = fw_of(p, id);
  if (f) f->suppressed = true;
}
static void ff_revive(void *p, const char *id, const char *const *roles, size_t n) {
  ff_fw *f = fw_of(p, id);
  if (!f) return;
  f->suppressed = false;
  for (size_t k = 0; k < f->nfiltered; k++) free(f->filtered[k]);
  f->nfiltered = 0;
  later(p);
}

static int ff_add_agent(void *p, const char *id, const mz_resources *total) {
  ff *a = p;
  if (agent_of(a, id) || a->nagents >= MAX_ITEMS) return -1;
  a->agents = realloc(a->agents, (a->nagents + 1) * sizeof *a->agents);
  ff_agent *ag = &a->agents[a->nagents++];
  ag->id = strdup(id);
  ag->total = mz_resources_copy(total);
  ag->free = mz_resources_copy(total);
  ag->active = true;
  later(a);
  return 0;
}

static void ff_remove_agent(void *p, const char *id) {
  ff *a = p;
  ff_agent *ag = agent_of(a, id);
  if (!ag) return;
  free(ag->id);
  mz_resources_free(ag->total);
  mz_resources_free(ag->free);
  *ag = a->agents[--a->nagents];
}

static void ff_activate_agent(void *p, const char *id) {
  ff_agent *ag = agent_of(p, id);
  if (ag) ag->active = true;
  later(p);
}
static void ff_deactivate_agent(void *p, const char *id) {
  ff_agent *ag = agent_of(p, id);
  if (ag) ag->active = false;
}

static int ff_add_allocation(void *p, const char *agent, const char *fw, const mz_resources *res) {
  ff_agent *ag = agent_of(p, agent);
  if (!ag) return -1;
  mz_resources *r = mz_resources_copy(res);
  mz_resources_set_alloc_role(r, NULL);
  int rc = mz_resources_subtract(ag->free, r, NULL, 0);
  mz_resources_free(r);
  return rc;
}

static void ff_recover(void *p, const char *agent, const char *fw, const mz_resources *res, double refuse) {
  ff *a = p;
  ff_agent *ag = agent_of(a, agent);
  if (!ag) return;
  mz_resources *r = mz_resources_copy(res);
  mz_resources_set_alloc_role(r, NULL);
  mz_resources_add(ag->free, r, NULL, 0);
  mz_resources_free(r);
  ff_fw *f = fw_of(a, fw);
  if (f && refuse > 0) {
    f->filtered = realloc(f->filtered, (f->nfiltered + 1) * sizeof *f->filtered);
    f->until = realloc(f->until, (f->nfiltered + 1) * sizeof *f->until);
    f->filtered[f->nfiltered] = strdup(agent);
    f->until[f->nfiltered++] = ff_now(a) + refuse;
  }
  later(a);
}

static void ff_request(void *p) { later(p); }

const mz_allocator_ops mz_allocator_module = {
    .version = MZ_ALLOCATOR_API_VERSION,
    .name = "first_fit",
    .create = ff_create,
    .destroy = ff_destroy,
    .add_framework = ff_add_framework,
    .remove_framework = ff_remove_framework,
    .activate_framework = ff_activate,
    .deactivate_framework = ff_deactivate,
    .suppress = ff_suppress,
    .revive = ff_revive,
    .add_agent = ff_add_agent,
    .remove_agent = ff_remove_agent,
    .activate_agent = ff_activate_agent,
    .deactivate_agent = ff_deactivate_agent,
    .add_allocation = ff_add_allocation,
    .recover = ff_recover,
    .request_allocation = ff_request,
};
