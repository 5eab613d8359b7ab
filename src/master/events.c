/* events: see events.h. */
#include "master/events.h"

#include <stdlib.h>

#include "common/log.h"

int mz_event_send_on(mz_http_req *stream, mz_content_type ct, const Mesos__V1__Scheduler__Event *ev) {
  if (!stream) return -1;
  size_t len = 0;
  uint8_t *buf = mz_pb_encode(&ev->base, ct, &len);
  if (!buf) return -1;
  int rc = mz_http_stream_write_record(stream, buf, len);
  free(buf);
  return rc;
}

int mz_event_send(mz_framework *fw, const Mesos__V1__Scheduler__Event *ev) {
  if (!fw->stream) {
    fw->m->metrics.dropped_events++;
    return -1;
  }
  int rc = mz_event_send_on(fw->stream, fw->ct, ev);
  if (rc == 0) fw->m->metrics.events_sent++;
  else fw->m->metrics.dropped_events++;
  return rc;
}

int mz_event_update(mz_framework *fw, const Mesos__V1__TaskStatus *status) {
  Mesos__V1__Scheduler__Event ev = MESOS__V1__SCHEDULER__EVENT__INIT;
  Mesos__V1__Scheduler__Event__Update up = MESOS__V1__SCHEDULER__EVENT__UPDATE__INIT;
  up.status = (Mesos__V1__TaskStatus *)status;
  ev.has_type = 1;
  ev.type = MESOS__V1__SCHEDULER__EVENT__TYPE__UPDATE;
  ev.update = &up;
  return mz_event_send(fw, &ev);
}

int mz_event_rescind(mz_framework *fw, const char *offer_id) {
  Mesos__V1__Scheduler__Event ev = MESOS__V1__SCHEDULER__EVENT__INIT;
  Mesos__V1__Scheduler__Event__Rescind r = MESOS__V1__SCHEDULER__EVENT__RESCIND__INIT;
  Mesos__V1__OfferID oid = MESOS__V1__OFFER_ID__INIT;
  oid.value = (char *)offer_id;
  r.offer_id = &oid;
  ev.has_type = 1;
  ev.type = MESOS__V1__SCHEDULER__EVENT__TYPE__RESCIND;
  ev.rescind = &r;
  return mz_event_send(fw, &ev);
}

int mz_event_error(mz_framework *fw, const char *message) {
  Mesos__V1__Scheduler__Event ev = MESOS__V1__SCHEDULER__EVENT__INIT;
  Mesos__V1__Scheduler__Event__Error e = MESOS__V1__SCHEDULER__EVENT__ERROR__INIT;
  e.message = (char *)message;
  ev.has_type = 1;
  ev.type = MESOS__V1__SCHEDULER__EVENT__TYPE__ERROR;
  ev.error = &e;
  return mz_event_send(fw, &ev);
}

int mz_event_heartbeat(mz_framework *fw) {
  Mesos__V1__Scheduler__Event ev = MESOS__V1__SCHEDULER__EVENT__INIT;
  ev.has_type = 1;
  ev.type = MESOS__V1__SCHEDULER__EVENT__TYPE__HEARTBEAT;
  return mz_event_send(fw, &ev);
}

int mz_event_message(mz_framework *fw, const char *agent_id, const char *executor_id, const uint8_t *data,
                     size_t len) {
  Mesos__V1__Scheduler__Event ev = MESOS__V1__SCHEDULER__EVENT__INIT;
  Mesos__V1__Scheduler__Event__Message msg = MESOS__V1__SCHEDULER__EVENT__MESSAGE__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  Mesos__V1__ExecutorID eid = MESOS__V1__EXECUTOR_ID__INIT;
  aid.value = (char *)agent_id;
  eid.value = (char *)executor_id;
  msg.agent_id = &aid;
  msg.executor_id = &eid;
  msg.data.data = (uint8_t *)data;
  msg.data.len = len;
  ev.has_type = 1;
  ev.type = MESOS__V1__SCHEDULER__EVENT__TYPE__MESSAGE;
  ev.message = &msg;
  return mz_event_send(fw, &ev);
}

int mz_event_failure(mz_framework *fw, const char *agent_id, const char *executor_id, int has_status, int status) {
  Mesos__V1__Scheduler__Event ev = MESOS__V1__SCHEDULER__EVENT__INIT;
  Mesos__V1__Scheduler__Event__Failure f = MESOS__V1__SCHEDULER__EVENT__FAILURE__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  Mesos__V1__ExecutorID eid = MESOS__V1__EXECUTOR_ID__INIT;
  if (agent_id) {
    aid.value = (char *)agent_id;
    f.agent_id = &aid;
  }
  if (executor_id) {
    eid.value = (char *)executor_id;
    f.executor_id = &eid;
  }
  if (has_status) {
    f.has_status = 1;
    f.status = status;
  }
  ev.has_type = 1;
  ev.type = MESOS__V1__SCHEDULER__EVENT__TYPE__FAILURE;
  ev.failure = &f;
  return mz_event_send(fw, &ev);
}
