/* views: the master's state as mesos.v1 / mesos.v1.master protobuf messages,
 * for the v1 operator API (GET_STATE, GET_AGENTS, GET_FRAMEWORKS, GET_TASKS,
 * GET_EXECUTORS, GET_ROLES) and its SUBSCRIBE event stream.
 *
 * Every function returns a freshly built message in which every string,
 * array and sub-message is its own malloc, so the caller releases the whole
 * tree with protobuf_c_message_free_unpacked(msg, NULL). Nothing returned
 * points into the master's state. */
#ifndef MZ_MASTER_VIEWS_H
#define MZ_MASTER_VIEWS_H

#include "master/master.h"
#include "mesos/v1/master/master.pb-c.h"

Mesos__V1__Task *mz_view_task(const mz_task *t);
Mesos__V1__Master__Response__GetAgents__Agent *mz_view_agent(const mz_agent *a);
Mesos__V1__Master__Response__GetFrameworks__Framework *mz_view_framework(const mz_framework *fw);
Mesos__V1__Master__Response__GetAgents *mz_view_agents(const mz_master *m);
Mesos__V1__Master__Response__GetFrameworks *mz_view_frameworks(const mz_master *m);
Mesos__V1__Master__Response__GetTasks *mz_view_tasks(const mz_master *m);
Mesos__V1__Master__Response__GetExecutors *mz_view_executors(const mz_master *m);
Mesos__V1__Master__Response__GetState *mz_view_state(const mz_master *m);

/* Small builders shared with the operator API. */
char *mz_view_strdup(const char *s); /* NULL stays NULL */
Mesos__V1__TimeInfo *mz_view_time(double seconds);

#endif
