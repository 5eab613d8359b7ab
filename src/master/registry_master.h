/* registry_master: the master's registrar. It opens the registry backend
 * (--registry, <work_dir>/registry.db for SQLite), recovers it when the master
 * starts (weights and quota back into the allocator; agents admitted before the
 * restart wait --agent_reregister_timeout to re-register, then are marked
 * unreachable; gone agents stay refused), and records every change BEFORE the
 * master acts on it: admission before REGISTERED, unreachable / gone before the
 * tasks' updates go out, reservations, weights and quota before the reply.
 * It also keeps the agents that are in the registry but not registered now
 * (recovered or unreachable, with their AgentInfo and total resources), and
 * expires unreachable and gone ones after --registry_max_agent_age or beyond
 * --registry_max_agent_count, oldest first.
 *
 * The registrar is owned by the master (m->registrar); entries own their info. */
#ifndef MZ_MASTER_REGISTRY_MASTER_H
#define MZ_MASTER_REGISTRY_MASTER_H

#include <jansson.h>
#include <stdbool.h>

#include "master/master.h"

/* Opens and recovers the registry (after the allocator exists). 0 or -1 with err. */
int mz_registrar_start(mz_master *m, char *err, size_t errlen);
/* A follower with the ZooKeeper registry reads it ahead (call it every second or
 * so while not leading), so that its load when elected costs one round trip when
 * nothing changed since. Blocks while reading; logs failures. */
void mz_registrar_prefetch(mz_master *m);
/* Closes the backend and frees the entries (master shutdown). */
void mz_registrar_stop(mz_master *m);

/* An agent id the registry knows but that is not registered now: its total
 * resources as recorded (a copy, dynamic reservations included), or NULL.
 * *unreachable tells whether it was marked unreachable (else it is one admitted
 * before the master restarted). */
mz_resources *mz_registrar_known_total(mz_master *m, const char *id, bool *unreachable);
/* The agent was marked unreachable and has not come back (reconciliation). */
bool mz_registrar_is_unreachable(mz_master *m, const char *id);
/* Agents admitted before the restart that have not re-registered yet. */
size_t mz_registrar_recovered_count(const mz_master *m);
/* Agents marked unreachable that have not come back (O(unreachable + gone)). */
size_t mz_registrar_unreachable_count(const mz_master *m);

/* Records an admitted agent (new, re-registered after being unreachable or
 * unknown): 0, or -1 with err and nothing recorded (the agent must not be told it
 * is registered). */
int mz_registrar_admit(mz_master *m, const char *id, const Mesos__V1__AgentInfo *info, const mz_resources *total,
                       char *err, size_t errlen);
/* Records an agent's new total (dynamic reservations changed). Logs failures. */
int mz_registrar_update_agent(mz_agent *a);
/* Marks agents unreachable in one change (they are still in m->agents). 0 or -1 with err. */
int mz_registrar_mark_unreachable(mz_master *m, mz_agent *const *agents, size_t n, char *err, size_t errlen);
/* Marks an agent gone (it unregistered). 0 or -1 with err. */
int mz_registrar_mark_gone(mz_agent *a, char *err, size_t errlen);
/* Records role weights. 0 or -1 with err. */
int mz_registrar_set_weights(mz_master *m, const char *const *roles, const double *weights, size_t n, char *err,
                             size_t errlen);
/* Records the quota of roles in one change (cfgs[i]: QuotaConfig JSON, or NULL to
 * remove the role's quota). 0 or -1 with err. */
int mz_registrar_set_quotas(mz_master *m, const char *const *roles, json_t *const *cfgs, size_t n, char *err,
                            size_t errlen);

/* Records named values in one change (texts[i] NULL removes keys[i]), e.g. the
 * maintenance schedule. 0 or -1 with err. */
int mz_registrar_put_values(mz_master *m, const char *const *keys, const char *const *texts, size_t n, char *err,
                            size_t errlen);

/* "N/duration" (Mesos's --agent_removal_rate_limit, e.g. "1/10mins") -> seconds
 * between removals. 0 or -1. */
int mz_parse_rate_limit(const char *text, double *interval);

#endif
