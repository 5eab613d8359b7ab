/* maintenance: the operator's agent-level maintenance calls, as Mesos's
 * DEACTIVATE_AGENT, REACTIVATE_AGENT, DRAIN_AGENT and MARK_AGENT_GONE:
 * a deactivated agent gets no offers (its outstanding offers are rescinded) but
 * keeps its tasks; draining also kills every task on it (with the call's
 * max_grace_period as kill grace) and moves it from DRAINING to DRAINED once
 * no task is left, then (mark_gone) marks it gone; reactivating ends both. The
 * state lives on the agent (mz_agent.deactivated, drain_state) and survives its
 * re-registration. */
#ifndef MZ_MASTER_MAINTENANCE_H
#define MZ_MASTER_MAINTENANCE_H

#include <stdbool.h>

#include "master/master.h"
#include "mesos/v1/mesos.pb-c.h"

void mz_maintenance_deactivate(mz_agent *a);
void mz_maintenance_reactivate(mz_agent *a);
/* grace < 0: the tasks' own kill policies. */
void mz_maintenance_drain(mz_agent *a, double grace, bool mark_gone);
/* A task of a (draining) agent reached a terminal state: DRAINING -> DRAINED when none is left. */
void mz_maintenance_task_ended(mz_agent *a);
/* DrainInfo for views (malloc'd, free with protobuf_c_message_free_unpacked), NULL when not draining. */
Mesos__V1__DrainInfo *mz_maintenance_drain_info(const mz_agent *a);

#endif
