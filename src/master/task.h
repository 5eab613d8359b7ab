/* task: the master's view of a task and its state machine.
 *
 * A task is created in TASK_STAGING when the master sends it to its agent (or in
 * the state its agent reports when adopted at re-registration), moves through
 * the states its status updates carry (STARTING, RUNNING, KILLING, ...), and on
 * its first terminal (FINISHED, FAILED, KILLED, LOST, ERROR, DROPPED, GONE...)
 * or UNREACHABLE state gives its resources back to the allocator, as Mesos does
 * when the terminal update reaches the master. The task itself stays live until
 * the framework acknowledges that terminal update (or at once for updates the
 * master generates, which carry no uuid), then moves to its framework's bounded
 * list of completed tasks.
 *
 * The framework owns its tasks (hash by id); agents only list them. */
#ifndef MZ_MASTER_TASK_H
#define MZ_MASTER_TASK_H

#include <jansson.h>
#include <stdbool.h>

#include "common/jsonw.h"
#include "common/task_state.h" /* mz_task_state_terminal */
#include "master/master.h"

/* Adds a live task to fw and agent, charging res (allocated form; taken) to both.
 * executor_id NULL for command tasks. Does not talk to the allocator. */
mz_task *mz_task_add(mz_framework *fw, mz_agent *agent, const char *task_id, const char *name,
                     const char *executor_id, mz_resources *res, const char *role, const char *user,
                     Mesos__V1__TaskState state);
/* The id of an object of this kind (its index key, common/idindex.h). */
const char *mz_task_key(const void *obj);
mz_task *mz_task_find(mz_framework *fw, const char *task_id);

/* Applies a status update: the new state is *latest if given, else status->state.
 * On the first terminal/unreachable state the resources go back to the allocator. */
void mz_task_update(mz_task *t, const Mesos__V1__TaskStatus *status, const Mesos__V1__TaskState *latest);

/* Forwards an update to the task's framework: an update with a uuid is remembered
 * as the one awaiting acknowledgement (resent when the framework re-subscribes). */
void mz_task_forward(mz_framework *fw, mz_task *t, const Mesos__V1__TaskStatus *status);

/* The framework acknowledged uuid for t: clears the pending update; removes the
 * task if that update was terminal. Returns true if uuid matched the pending one. */
bool mz_task_acknowledged(mz_task *t, const uint8_t *uuid, size_t len);

/* A master-generated update (SOURCE_MASTER, no uuid) for a live task: applied,
 * forwarded and, when terminal, the task is removed. */
void mz_task_transition(mz_task *t, Mesos__V1__TaskState state, Mesos__V1__TaskStatus__Reason reason,
                        const char *message);

/* Sends a master-generated update (SOURCE_MASTER, no uuid) for a task that the
 * master does not track (invalid launches, reconciliation). count: bump the
 * tasks_<state> counters as Mesos does for dropped launches. */
void mz_status_send(mz_framework *fw, const char *task_id, const char *agent_id, const char *executor_id,
                    Mesos__V1__TaskState state, Mesos__V1__TaskStatus__Reason reason, const char *message,
                    bool count);

/* Moves a live task to its framework's completed list (recovering its resources
 * first if still held) and unlinks it from its agent. */
void mz_task_remove(mz_task *t);
/* Frees a task that is linked nowhere (completed list eviction, shutdown). */
void mz_task_free(mz_task *t);

/* Mesos /master/state task object. */
json_t *mz_task_json(const mz_task *t);
/* The same object, written to a streaming writer (/master/state). */
void mz_task_write(mz_jw *w, const mz_task *t);
/* A task of fw kept as unreachable (framework.h), or NULL; forgetting frees it. */
mz_task *mz_task_find_unreachable(mz_framework *fw, const char *task_id);
void mz_task_forget_unreachable(mz_framework *fw, mz_task *t);

#endif
