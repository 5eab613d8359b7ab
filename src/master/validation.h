/* validation: the master's checks of scheduler calls, in Mesos's order and
 * with Mesos's messages: a call's required parts (answered 400), the offers of
 * an ACCEPT (tasks answered TASK_LOST / TASK_DROPPED, REASON_INVALID_OFFERS),
 * and each task or task group of a launch (TASK_ERROR, REASON_TASK_INVALID /
 * REASON_TASK_GROUP_INVALID). Nothing here changes master state; resources
 * returned are new values owned by the caller. */
#ifndef MZ_MASTER_VALIDATION_H
#define MZ_MASTER_VALIDATION_H

#include <stddef.h>

#include "master/master.h"

/* Minimums Mesos enforces on task group executors. */
#define MZ_MIN_CPUS 10  /* 0.01 in thousandths */
#define MZ_MIN_MEM 32000 /* 32 MB in thousandths */

/* A call's structure (after decoding): type present and known, the member for
 * its type present, framework_id present (all but SUBSCRIBE) and consistent with
 * subscribe.framework_info.id, acknowledge uuids of 16 bytes. 0, or -1 with err. */
int mz_validate_call(const Mesos__V1__Scheduler__Call *call, char *err, size_t errlen);

/* The offers of an ACCEPT: unique, outstanding, of fw, one role, one agent. */
int mz_validate_offers(mz_master *m, mz_framework *fw, Mesos__V1__OfferID *const *ids, size_t n, char *err,
                       size_t errlen);

/* Resources of a task or executor in allocated form for role: entries with no
 * allocation role get role; another allocation role is an error. NULL with err. */
mz_resources *mz_validate_resources(Mesos__V1__Resource *const *res, size_t n, const char *role, char *err,
                                    size_t errlen);

/* A LAUNCH task against what is left of the offers (available, allocated form).
 * On success *task_res is the task's resources and *exec_res the resources of an
 * executor to launch with it (NULL when it is a command task or its executor
 * already runs on the agent). The executor must already carry framework_id. */
int mz_validate_task(mz_framework *fw, mz_agent *agent, const Mesos__V1__TaskInfo *task,
                     const mz_resources *available, const char *role, mz_resources **task_res,
                     mz_resources **exec_res, char *err, size_t errlen);

/* A LAUNCH_GROUP: every task, the executor, and the total against available.
 * On success task_res[i] (array of group->n_tasks, filled) and *exec_res as above. */
int mz_validate_task_group(mz_framework *fw, mz_agent *agent, const Mesos__V1__ExecutorInfo *executor,
                           const Mesos__V1__TaskGroupInfo *group, const mz_resources *available, const char *role,
                           mz_resources **task_res, mz_resources **exec_res, char *err, size_t errlen);

#endif
