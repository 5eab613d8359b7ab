/* accept: the ACCEPT and DECLINE calls. ACCEPT validates the offers (an
 * invalid set answers every task with TASK_LOST, or TASK_DROPPED for
 * PARTITION_AWARE frameworks, reason REASON_INVALID_OFFERS), then each LAUNCH /
 * LAUNCH_GROUP against what is left of the offers (TASK_ERROR on failure),
 * sends RUN_TASK to the agent, and returns the unused resources to the
 * allocator under the call's filter (Filters.refuse_seconds, default 5 s).
 * Other operations are refused for now (OPERATION_ERROR when they carry an id).
 * The call message is modified in place (ExecutorInfo.framework_id filled in). */
#ifndef MZ_MASTER_ACCEPT_H
#define MZ_MASTER_ACCEPT_H

#include "master/master.h"

void mz_accept(mz_framework *fw, Mesos__V1__Scheduler__Call__Accept *accept);
void mz_decline(mz_framework *fw, const Mesos__V1__Scheduler__Call__Decline *decline);

#endif
