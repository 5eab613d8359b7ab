/* executor: executors the master knows to run on agents (custom executors and
 * task-group executors; command tasks have none at this level). An executor's
 * resources are charged when its first task is launched and recovered when its
 * last live task ends (the agent link reports no executor exits; see DESIGN
 * notes in agent.proto), or when its agent or framework goes away.
 *
 * The agent owns its executors (hash by "<framework id>\x1f<executor id>"); the
 * framework lists them. */
#ifndef MZ_MASTER_EXECUTOR_H
#define MZ_MASTER_EXECUTOR_H

#include <jansson.h>

#include "master/master.h"

mz_executor *mz_executor_find(mz_agent *agent, const char *framework_id, const char *executor_id);
/* Adds an executor (info copied; res allocated form, taken; may be NULL) to agent and fw (fw may be NULL). */
mz_executor *mz_executor_add(mz_agent *agent, mz_framework *fw, const char *framework_id,
                             const Mesos__V1__ExecutorInfo *info, mz_resources *res);
/* Unlinks and frees; recover: give its resources back to the allocator. */
void mz_executor_remove(mz_executor *ex, bool recover);
/* Mesos /master/state executor object. */
json_t *mz_executor_json(const mz_executor *ex);

#endif
