/* events: building scheduler Events and writing them to a framework's
 * subscription stream, one RecordIO record per HTTP chunk, in the content type
 * the framework asked for at SUBSCRIBE. A framework without a stream
 * (disconnected) gets nothing: callers keep what must be resent (task.c keeps
 * unacknowledged updates). Nothing here keeps a pointer to its arguments. */
#ifndef MZ_MASTER_EVENTS_H
#define MZ_MASTER_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "master/master.h"

/* Writes ev on fw's stream. 0, or -1 if fw has no stream or the write failed. */
int mz_event_send(mz_framework *fw, const Mesos__V1__Scheduler__Event *ev);
/* Writes ev on a stream that has no framework (yet): SUBSCRIBE errors. */
int mz_event_send_on(mz_http_req *stream, mz_content_type ct, const Mesos__V1__Scheduler__Event *ev);

int mz_event_update(mz_framework *fw, const Mesos__V1__TaskStatus *status);
int mz_event_rescind(mz_framework *fw, const char *offer_id);
int mz_event_error(mz_framework *fw, const char *message);
int mz_event_heartbeat(mz_framework *fw);
int mz_event_message(mz_framework *fw, const char *agent_id, const char *executor_id, const uint8_t *data,
                     size_t len);
/* executor_id NULL: the agent failed; has_status: executor exit status. */
int mz_event_failure(mz_framework *fw, const char *agent_id, const char *executor_id, int has_status, int status);

#endif
