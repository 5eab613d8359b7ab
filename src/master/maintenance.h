/* maintenance: the operator's maintenance of agents and machines, as Mesos's.
 *
 * Agent level (DEACTIVATE_AGENT, REACTIVATE_AGENT, DRAIN_AGENT, MARK_AGENT_GONE):
 * a deactivated agent gets no offers (its outstanding offers are rescinded) but
 * keeps its tasks; draining also kills every task on it (with the call's
 * max_grace_period as kill grace) and moves it from DRAINING to DRAINED once
 * no task is left, then (mark_gone) marks it gone; reactivating ends both. The
 * state lives on the agent (mz_agent.deactivated, drain_state), survives its
 * re-registration, and is recorded in the registry ("maintenance/agent/<id>")
 * before it is acted on, so that it also survives a master restart.
 *
 * Machine level (maintenance primitives): one schedule of windows (machines +
 * unavailability). A machine in the schedule is DRAINING: offers of its agents
 * carry the unavailability and frameworks using them get inverse offers
 * (inverse_offer.c). START_MAINTENANCE takes DRAINING machines DOWN: their
 * agents are told to shut down and removed, and no agent of theirs may
 * register while DOWN. STOP_MAINTENANCE brings DOWN machines UP and removes
 * them from the schedule. The schedule and every machine's mode are recorded
 * ("maintenance/schedule", "maintenance/machines") before the master acts.
 *
 * A machine id matches an agent when each field it has matches: hostname (not
 * case-sensitive) the agent's hostname, ip the agent's IP.
 *
 * State: m->maint (struct mz_maint, owned here, freed by mz_maintenance_free).
 * Views returned are malloc'd messages: free with protobuf_c_message_free_unpacked. */
#ifndef MZ_MASTER_MAINTENANCE_H
#define MZ_MASTER_MAINTENANCE_H

#include <stdbool.h>

#include "master/master.h"
#include "master/registry.h"
#include "mesos/v1/maintenance/maintenance.pb-c.h"
#include "mesos/v1/mesos.pb-c.h"

#define MZ_MAINT_MAX_MACHINES 10000 /* machines in one schedule */
#define MZ_MAINT_MAX_WINDOWS 10000

/* ------------------------------------------------------------ agent level */

/* Each records the agent's new state first; 0, or -1 with err (nothing done). */
int mz_maintenance_deactivate(mz_agent *a, char *err, size_t errlen);
int mz_maintenance_reactivate(mz_agent *a, char *err, size_t errlen);
/* grace < 0: the tasks' own kill policies. */
int mz_maintenance_drain(mz_agent *a, double grace, bool mark_gone, char *err, size_t errlen);
/* A task of a (draining) agent reached a terminal state: DRAINING -> DRAINED when none is left. */
void mz_maintenance_task_ended(mz_agent *a);
/* DrainInfo for views (malloc'd, free with protobuf_c_message_free_unpacked), NULL when not draining. */
Mesos__V1__DrainInfo *mz_maintenance_drain_info(const mz_agent *a);
/* The agent's recorded drain / deactivation is forgotten (it was marked gone). */
void mz_maintenance_forget_agent(mz_master *m, const char *agent_id);
/* An agent (re-)entered m->agents (after a master restart, or back from being
 * unreachable): its recorded drain or deactivation is applied again. */
void mz_maintenance_agent_added(mz_agent *a);

/* ---------------------------------------------------------- machine level */

/* Each returns an HTTP status: 200 done, 400 invalid (err says why, nothing
 * changed), 503 the registry could not record it. */
int mz_maintenance_update_schedule(mz_master *m, const Mesos__V1__Maintenance__Schedule *s, char *err, size_t errlen);
int mz_maintenance_start(mz_master *m, Mesos__V1__MachineID *const *ids, size_t n, char *err, size_t errlen);
int mz_maintenance_stop(mz_master *m, Mesos__V1__MachineID *const *ids, size_t n, char *err, size_t errlen);

/* The schedule (an empty one when there is none). */
Mesos__V1__Maintenance__Schedule *mz_maintenance_schedule_view(mz_master *m);
/* Draining machines with the frameworks' inverse offer responses, down machines. */
Mesos__V1__Maintenance__ClusterStatus *mz_maintenance_status_view(mz_master *m);

/* Mode of the agent's machine: 0 when it is in no schedule, else
 * MESOS__V1__MACHINE_INFO__MODE__DRAINING or __DOWN. */
int mz_maintenance_agent_mode(const mz_agent *a);
/* The unavailability of the agent's machine (a copy), or NULL. */
Mesos__V1__Unavailability *mz_maintenance_unavailability(const mz_agent *a);
/* Whether an agent with this hostname and ip is on a DOWN machine (refused). */
bool mz_maintenance_refuses(mz_master *m, const char *hostname, const char *ip);

/* The registry's named values at recovery (the registrar calls it). */
void mz_maintenance_recover(mz_master *m, const mz_reg_value *values, size_t n);
/* Frees m->maint (master shutdown). */
void mz_maintenance_free(mz_master *m);

#endif
