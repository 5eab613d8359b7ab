/* operator_events: the v1 operator API's SUBSCRIBE stream on the master.
 *
 * A subscriber gets SUBSCRIBED (the whole state, as GET_STATE) and then one
 * event per change: TASK_ADDED, TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED,
 * FRAMEWORK_ADDED, FRAMEWORK_UPDATED, FRAMEWORK_REMOVED, and a HEARTBEAT every
 * MZ_OPERATOR_HEARTBEAT seconds. The master calls the mz_opevent_* hooks where
 * the changes happen; with no subscriber they cost one pointer test. A
 * subscriber whose unread backlog passes MZ_OPERATOR_MAX_BACKLOG is dropped
 * (it can subscribe again and get a fresh snapshot). */
#ifndef MZ_MASTER_OPERATOR_EVENTS_H
#define MZ_MASTER_OPERATOR_EVENTS_H

#include "common/codec.h"
#include "master/master.h"

#define MZ_OPERATOR_HEARTBEAT 15.0
#define MZ_OPERATOR_MAX_BACKLOG (64u << 20)
#define MZ_OPERATOR_MAX_SUBSCRIBERS 1024

/* Starts the stream on req (a validated SUBSCRIBE call): replies itself. */
void mz_opevents_subscribe(mz_master *m, mz_http_req *req, mz_content_type ct);
/* Ends every stream (master shutdown). */
void mz_opevents_free(mz_master *m);

void mz_opevent_task_added(mz_master *m, const mz_task *t);
void mz_opevent_task_updated(mz_master *m, const mz_task *t, const Mesos__V1__TaskStatus *status);
void mz_opevent_agent_added(mz_master *m, const mz_agent *a);
void mz_opevent_agent_removed(mz_master *m, const char *agent_id);
void mz_opevent_framework_added(mz_master *m, const mz_framework *fw);
void mz_opevent_framework_updated(mz_master *m, const mz_framework *fw);
void mz_opevent_framework_removed(mz_master *m, const mz_framework *fw);

#endif
