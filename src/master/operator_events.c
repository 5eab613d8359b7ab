/* operator_events: see operator_events.h. Subscribers are a DL list on the
 * master (m->opsubs); each owns its heartbeat timer. */
#include "master/operator_events.h"

#include <event2/event.h>
#include <stdlib.h>
#include <utlist.h>

#include "common/log.h"
#include "master/pbutil.h"
#include "master/views.h"

struct mz_opsub {
  mz_master *m;
  mz_http_req *req;
  mz_content_type ct;
  struct event *heartbeat;
  struct mz_opsub *prev, *next;
};

typedef Mesos__V1__Master__Event Ev;
#define EVT(t) MESOS__V1__MASTER__EVENT__TYPE__##t

static void sub_free(struct mz_opsub *s) {
  DL_DELETE(s->m->opsubs, s);
  s->m->nopsubs--;
  if (s->heartbeat) event_free(s->heartbeat);
  free(s);
}

static void on_close(mz_http_req *req, void *arg) {
  struct mz_opsub *s = arg;
  MZ_INFO("master", "operator subscriber %s went away", mz_http_req_peer(req));
  sub_free(s);
}

/* Writes ev to s; drops s if its peer does not keep up. */
static void send_to(struct mz_opsub *s, const Ev *ev) {
  size_t len;
  uint8_t *buf = mz_pb_encode(&ev->base, s->ct, &len);
  if (!buf) return;
  int rc = mz_http_stream_write_record(s->req, buf, len);
  free(buf);
  if (rc != 0 || mz_http_stream_backlog(s->req) > MZ_OPERATOR_MAX_BACKLOG) {
    MZ_WARN("master", "dropping operator subscriber %s: %s", mz_http_req_peer(s->req),
            rc ? "stream closed" : "too far behind");
    mz_http_req *req = s->req;
    mz_http_req_on_close(req, NULL, NULL);
    sub_free(s);
    mz_http_stream_end(req);
  }
}

static void broadcast(mz_master *m, const Ev *ev) {
  struct mz_opsub *s, *tmp;
  DL_FOREACH_SAFE(m->opsubs, s, tmp) send_to(s, ev);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg) {
  struct mz_opsub *s = arg;
  Ev ev = MESOS__V1__MASTER__EVENT__INIT;
  ev.has_type = 1;
  ev.type = EVT(HEARTBEAT);
  send_to(s, &ev);
}

void mz_opevents_subscribe(mz_master *m, mz_http_req *req, mz_content_type ct) {
  if (m->nopsubs >= MZ_OPERATOR_MAX_SUBSCRIBERS) {
    mz_http_reply_error(req, 503, "Too many operator subscribers (limit %d)", MZ_OPERATOR_MAX_SUBSCRIBERS);
    return;
  }
  struct mz_opsub *s = mz_calloc(1, sizeof *s);
  s->m = m;
  s->req = req;
  s->ct = ct;
  s->heartbeat = event_new(m->base, -1, EV_PERSIST, on_heartbeat, s);
  DL_APPEND(m->opsubs, s);
  m->nopsubs++;
  mz_http_req_on_close(req, on_close, s);
  mz_http_stream_start(req, 200, mz_content_type_name(ct));
  Ev ev = MESOS__V1__MASTER__EVENT__INIT;
  ev.has_type = 1;
  ev.type = EVT(SUBSCRIBED);
  Mesos__V1__Master__Event__Subscribed sub = MESOS__V1__MASTER__EVENT__SUBSCRIBED__INIT;
  sub.get_state = mz_view_state(m);
  sub.has_heartbeat_interval_seconds = 1;
  sub.heartbeat_interval_seconds = MZ_OPERATOR_HEARTBEAT;
  ev.subscribed = &sub;
  MZ_INFO("master", "operator subscriber %s", mz_http_req_peer(req));
  struct timeval tv = {(time_t)MZ_OPERATOR_HEARTBEAT, 0};
  event_add(s->heartbeat, &tv);
  send_to(s, &ev); /* may drop s */
  protobuf_c_message_free_unpacked(&sub.get_state->base, NULL);
}

void mz_opevents_free(mz_master *m) {
  while (m->opsubs) {
    struct mz_opsub *s = m->opsubs;
    mz_http_req *req = s->req;
    mz_http_req_on_close(req, NULL, NULL);
    sub_free(s);
    mz_http_stream_end(req);
  }
}

void mz_opevent_task_added(mz_master *m, const mz_task *t) {
  if (!m->opsubs) return;
  Ev ev = MESOS__V1__MASTER__EVENT__INIT;
  ev.has_type = 1;
  ev.type = EVT(TASK_ADDED);
  Mesos__V1__Master__Event__TaskAdded ta = MESOS__V1__MASTER__EVENT__TASK_ADDED__INIT;
  ta.task = mz_view_task(t);
  ev.task_added = &ta;
  broadcast(m, &ev);
  protobuf_c_message_free_unpacked(&ta.task->base, NULL);
}

void mz_opevent_task_updated(mz_master *m, const mz_task *t, const Mesos__V1__TaskStatus *status) {
  if (!m->opsubs) return;
  Ev ev = MESOS__V1__MASTER__EVENT__INIT;
  ev.has_type = 1;
  ev.type = EVT(TASK_UPDATED);
  Mesos__V1__Master__Event__TaskUpdated tu = MESOS__V1__MASTER__EVENT__TASK_UPDATED__INIT;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  fid.value = (char *)t->framework_id; /* only read */
  tu.framework_id = &fid;
  tu.status = (Mesos__V1__TaskStatus *)status;
  tu.state = t->state;
  ev.task_updated = &tu;
  broadcast(m, &ev);
}

void mz_opevent_agent_added(mz_master *m, const mz_agent *a) {
  if (!m->opsubs) return;
  Ev ev = MESOS__V1__MASTER__EVENT__INIT;
  ev.has_type = 1;
  ev.type = EVT(AGENT_ADDED);
  Mesos__V1__Master__Event__AgentAdded aa = MESOS__V1__MASTER__EVENT__AGENT_ADDED__INIT;
  aa.agent = mz_view_agent(a);
  ev.agent_added = &aa;
  broadcast(m, &ev);
  protobuf_c_message_free_unpacked(&aa.agent->base, NULL);
}

void mz_opevent_agent_removed(mz_master *m, const char *agent_id) {
  if (!m->opsubs) return;
  Ev ev = MESOS__V1__MASTER__EVENT__INIT;
  ev.has_type = 1;
  ev.type = EVT(AGENT_REMOVED);
  Mesos__V1__Master__Event__AgentRemoved ar = MESOS__V1__MASTER__EVENT__AGENT_REMOVED__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  aid.value = (char *)agent_id;
  ar.agent_id = &aid;
  ev.agent_removed = &ar;
  broadcast(m, &ev);
}

static void framework_event(mz_master *m, const mz_framework *fw, bool added) {
  if (!m->opsubs) return;
  Ev ev = MESOS__V1__MASTER__EVENT__INIT;
  ev.has_type = 1;
  Mesos__V1__Master__Event__FrameworkAdded fa = MESOS__V1__MASTER__EVENT__FRAMEWORK_ADDED__INIT;
  Mesos__V1__Master__Event__FrameworkUpdated fu = MESOS__V1__MASTER__EVENT__FRAMEWORK_UPDATED__INIT;
  Mesos__V1__Master__Response__GetFrameworks__Framework *view = mz_view_framework(fw);
  if (added) {
    ev.type = EVT(FRAMEWORK_ADDED);
    fa.framework = view;
    ev.framework_added = &fa;
  } else {
    ev.type = EVT(FRAMEWORK_UPDATED);
    fu.framework = view;
    ev.framework_updated = &fu;
  }
  broadcast(m, &ev);
  protobuf_c_message_free_unpacked(&view->base, NULL);
}

void mz_opevent_framework_added(mz_master *m, const mz_framework *fw) { framework_event(m, fw, true); }
void mz_opevent_framework_updated(mz_master *m, const mz_framework *fw) { framework_event(m, fw, false); }

void mz_opevent_framework_removed(mz_master *m, const mz_framework *fw) {
  if (!m->opsubs) return;
  Ev ev = MESOS__V1__MASTER__EVENT__INIT;
  ev.has_type = 1;
  ev.type = EVT(FRAMEWORK_REMOVED);
  Mesos__V1__Master__Event__FrameworkRemoved fr = MESOS__V1__MASTER__EVENT__FRAMEWORK_REMOVED__INIT;
  fr.framework_info = fw->info;
  ev.framework_removed = &fr;
  broadcast(m, &ev);
}
