/* allocator: the interface between the master and a resource allocator, as a
 * table of functions so that another allocator (DRF, a dlopen'd module) can be
 * swapped in by name (--allocator).
 *
 * The allocator owns the free pool: it keeps, per agent, the total resources and
 * what is allocated (offered or used) per framework, and per framework its roles,
 * suppression and decline filters. The master tells it about every change
 * (frameworks and agents coming and going, resources recovered from offers and
 * finished tasks) and the allocator answers, from its own timers, by calling
 * env.offer() for each offer it wants made and env.offers_done() at the end of
 * an allocation pass. Allocation is event driven (an agent added, resources
 * recovered, a framework added, activated or revived, a filter expired) and
 * batched within allocation_interval.
 *
 * Resources crossing this interface are in "allocated" form where they belong to
 * a framework (alloc role set) and unallocated otherwise; the allocator copies
 * what it keeps, and never keeps a pointer to a caller's value. Ids are copied.
 *
 * Modules: a shared object loaded with --allocator=/path/to/module.so exports
 * `const mz_allocator_ops mz_allocator_module` with version ==
 * MZ_ALLOCATOR_API_VERSION; it may call the mz_resources_* functions, which the
 * master exports. Optional entries may be NULL. */
#ifndef MZ_MASTER_ALLOCATOR_H
#define MZ_MASTER_ALLOCATOR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/resources.h"

struct event_base;
struct json_t;

#define MZ_ALLOCATOR_API_VERSION 1

typedef struct {
  struct event_base *base;
  double allocation_interval; /* seconds; batching window for event-driven passes */
  /* Asks the master to make an offer of res (unallocated form) on agent_id to
   * framework_id for role. Returns 0 if the offer was made (the resources are
   * then allocated to the framework until recovered), -1 if the master refused
   * (e.g. the framework already holds an offer on that agent): the resources stay free. */
  int (*offer)(void *ctx, const char *framework_id, const char *agent_id, const char *role, const mz_resources *res);
  /* End of a pass: the master sends the batched OFFERS events. */
  void (*offers_done)(void *ctx);
  void *ctx;
  /* Clock for decline filters, in seconds (NULL: mz_monotonic). Tests inject their own. */
  double (*now)(void *ctx);
  /* Whether the framework has the GPU_RESOURCES capability (NULL: all have). As in
   * Mesos, agents with gpus are offered only to frameworks that have it. */
  bool (*gpu_capable)(void *ctx, const char *framework_id);
} mz_allocator_env;

typedef struct mz_allocator_ops {
  int version; /* MZ_ALLOCATOR_API_VERSION */
  const char *name;
  void *(*create)(const mz_allocator_env *env, char *err, size_t errlen);
  void (*destroy)(void *a);

  /* Frameworks. roles: the framework's roles; suppressed: roles initially suppressed. */
  int (*add_framework)(void *a, const char *fw_id, const char *const *roles, size_t nroles,
                       const char *const *suppressed, size_t nsuppressed, bool active);
  void (*remove_framework)(void *a, const char *fw_id);
  void (*activate_framework)(void *a, const char *fw_id);
  void (*deactivate_framework)(void *a, const char *fw_id);
  /* roles NULL/0: every role of the framework. Revive also clears decline filters. */
  void (*suppress)(void *a, const char *fw_id, const char *const *roles, size_t nroles);
  void (*revive)(void *a, const char *fw_id, const char *const *roles, size_t nroles);

  /* Agents: total in unallocated form. */
  int (*add_agent)(void *a, const char *agent_id, const mz_resources *total);
  void (*remove_agent)(void *a, const char *agent_id);
  void (*activate_agent)(void *a, const char *agent_id);
  void (*deactivate_agent)(void *a, const char *agent_id);

  /* Resources found in use on an agent (tasks reported on re-registration): taken
   * out of the free pool and charged to the framework. 0, or -1 if they do not fit. */
  int (*add_allocation)(void *a, const char *agent_id, const char *fw_id, const mz_resources *res);
  /* Resources of a framework returned to the free pool (an offer's unused part, a
   * finished task). refuse_seconds > 0 adds a decline filter: the framework is not
   * offered a subset of these resources on this agent before it expires. */
  void (*recover)(void *a, const char *agent_id, const char *fw_id, const mz_resources *res, double refuse_seconds);

  /* Asks for an allocation pass soon (within allocation_interval). */
  void (*request_allocation)(void *a);
  /* Adds allocator figures to a /metrics/snapshot object (may be NULL). */
  void (*metrics)(void *a, struct json_t *obj);

  /* Optional (NULL where a module does not support them). */
  /* New roles (MULTI_ROLE UPDATE_FRAMEWORK) and suppressed roles of a framework. */
  void (*update_framework)(void *a, const char *fw_id, const char *const *roles, size_t nroles,
                           const char *const *suppressed, size_t nsuppressed);
  /* New total of an agent (dynamic reservations changed it), unallocated form. */
  void (*update_agent)(void *a, const char *agent_id, const mz_resources *total);
  /* Resources allocated to fw_id on agent_id as `from` are now `to` (the same amounts,
   * reserved or unreserved: RESERVE / UNRESERVE in an ACCEPT); the agent's total
   * changes the same way. Allocated form. 0, or -1 if from was not allocated. */
  int (*update_allocation)(void *a, const char *agent_id, const char *fw_id, const mz_resources *from,
                           const mz_resources *to);
  /* Role weights (default 1). */
  void (*update_weights)(void *a, const char *const *roles, const double *weights, size_t n);
  /* Quota of a role: guarantee and limit (scalars by name; NULL or empty = none). 0 or -1 with err. */
  int (*update_quota)(void *a, const char *role, const mz_resources *guarantee, const mz_resources *limit,
                      char *err, size_t errlen);
  /* {"<role>": {"weight": w, "allocated": {...}, "quota": {"guarantee": {...}, "limit": {...}}}, ...}
   * for every role known (new reference). */
  struct json_t *(*roles_json)(void *a);
} mz_allocator_ops;

/* The built-in allocators: weighted hierarchical DRF (the default) and strict
 * priority by role weight (allocator_drf.c). */
extern const mz_allocator_ops mz_allocator_drf;
extern const mz_allocator_ops mz_allocator_priority;
/* Runs a full allocation pass of a drf/priority allocator now (tests, benchmark). */
void mz_drf_run_now(void *allocator);
/* A copy of an agent's free pool in a drf/priority allocator (tests); NULL if unknown. */
mz_resources *mz_drf_agent_free(void *allocator, const char *agent_id);

/* Looks an allocator up by name ("drf", "priority"; "" or NULL = drf),
 * or loads a module when name contains a '/' (dlopen). NULL with err. */
const mz_allocator_ops *mz_allocator_load(const char *name, char *err, size_t errlen);

/* "eng=2,ops=1.5" -> roles and weights (malloc'd arrays, free with mz_weights_free). 0 or -1 with err. */
int mz_weights_parse(const char *text, char ***roles, double **weights, size_t *n, char *err, size_t errlen);
void mz_weights_free(char **roles, double *weights, size_t n);

/* Mesos caps Filters.refuse_seconds at one year; NaN or negative -> the 5 s default. */
#define MZ_REFUSE_SECONDS_DEFAULT 5.0
#define MZ_REFUSE_SECONDS_MAX 31536000.0
double mz_allocator_refuse_seconds(bool has, double value);

#endif
