/* agent_link: see agent_link.h. */
#include "master/agent_link.h"

#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "common/api_call.h"
#include "common/log.h"
#include "common/recordio.h"
#include "master/agent.h"
#include "master/events.h"
#include "master/framework.h"
#include "master/status_update.h"

/* A link is freed only when no decoder callback is running on it: the guard
 * lives beside the link in one allocation. */
typedef struct {
  int busy;
  bool dead;
} link_guard;

typedef struct {
  mz_link link; /* first: a mz_link * is the box */
  link_guard guard;
} link_box;

static link_guard *guard_of(mz_link *l) { return &((link_box *)l)->guard; }

static void destroy(mz_link *l) {
  mz_master *m = l->m;
  DL_DELETE(m->links, l);
  m->nlinks--;
  if (l->ping_ev) event_free(l->ping_ev);
  if (l->dec) mz_recordio_decoder_free(l->dec);
  free((link_box *)l);
}

/* The link is over: its agents are disconnected. end_stream: we close it (else the peer did). */
static void link_close(mz_link *l, bool end_stream, const char *why) {
  if (!l->req) return;
  MZ_INFO("master", "agent link %s (%s) closed: %s (%zu agent(s))", l->id, l->peer, why, l->nagents);
  mz_http_req *req = l->req;
  l->req = NULL;
  event_del(l->ping_ev);
  mz_http_req_on_close(req, NULL, NULL);
  mz_http_req_on_body(req, NULL, NULL);
  if (end_stream) mz_http_stream_end(req);
  while (l->agents) mz_agent_disconnect(l->agents);
}

static void link_kill(mz_link *l, bool end_stream, const char *why) {
  link_guard *g = guard_of(l);
  if (g->dead) return;
  link_close(l, end_stream, why);
  g->dead = true;
  if (g->busy == 0) destroy(l);
}

int mz_link_send(mz_link *l, const Mezzo__Internal__AgentEvent *ev) {
  if (!l->req) return -1;
  size_t len = 0;
  uint8_t *buf = mz_pb_encode(&ev->base, l->ct, &len);
  if (!buf) return -1;
  int rc = mz_http_stream_write_record(l->req, buf, len);
  free(buf);
  return rc;
}

void mz_link_send_error(mz_link *l, const char *link_key, const char *agent_id, const char *message) {
  MZ_WARN("master", "agent link %s: %s%s%s", l->id, agent_id ? agent_id : "", agent_id ? ": " : "", message);
  Mezzo__Internal__AgentEvent ev = MEZZO__INTERNAL__AGENT_EVENT__INIT;
  Mezzo__Internal__AgentEvent__Error e = MEZZO__INTERNAL__AGENT_EVENT__ERROR__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  e.message = (char *)message;
  ev.type = MEZZO__INTERNAL__AGENT_EVENT__TYPE__ERROR;
  ev.error = &e;
  ev.link_key = (char *)link_key;
  if (agent_id) {
    aid.value = (char *)agent_id;
    ev.agent_id = &aid;
  }
  mz_link_send(l, &ev);
}

static void on_ping_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  mz_link *l = arg;
  mz_master *m = l->m;
  if (l->ping_outstanding && ++l->misses >= m->flags.max_agent_ping_timeouts) {
    char why[128];
    snprintf(why, sizeof why, "no PONG to %ld PING(s)", l->misses);
    /* Its agents failed their health checks: disconnected, then marked unreachable. */
    size_t n = 0;
    mz_agent **failed = mz_calloc(l->nagents ? l->nagents : 1, sizeof *failed), *a;
    DL_FOREACH2(l->agents, a, link_next) failed[n++] = a;
    link_kill(l, true, why); /* l may be freed here */
    for (size_t i = 0; i < n; i++) mz_agent_schedule_unreachable(failed[i]);
    free(failed);
    return;
  }
  Mezzo__Internal__AgentEvent ev = MEZZO__INTERNAL__AGENT_EVENT__INIT;
  Mezzo__Internal__AgentEvent__Ping p = MEZZO__INTERNAL__AGENT_EVENT__PING__INIT;
  p.has_seq = 1;
  p.seq = ++l->ping_seq;
  ev.type = MEZZO__INTERNAL__AGENT_EVENT__TYPE__PING;
  ev.ping = &p;
  l->ping_outstanding = true;
  mz_link_send(l, &ev);
}

/* The agent a call names, registered on this link; else an ERROR and NULL. */
static mz_agent *call_agent(mz_link *l, const Mezzo__Internal__AgentCall *call) {
  mz_master *m = l->m;
  const char *id = call->agent_id ? call->agent_id->value : NULL;
  if (!id || !*id) {
    m->metrics.invalid_agent_calls++;
    mz_link_send_error(l, call->link_key, NULL, "Expecting 'agent_id' to be present");
    return NULL;
  }
  mz_agent *a = mz_agent_find(m, id);
  if (!a) {
    m->metrics.invalid_agent_calls++;
    mz_link_send_error(l, call->link_key, id, "Agent is not registered");
    return NULL;
  }
  if (a->link != l) {
    m->metrics.invalid_agent_calls++;
    mz_link_send_error(l, call->link_key, id, "Agent is not registered on this link; re-register first");
    return NULL;
  }
  return a;
}

static void dispatch(mz_link *l, const Mezzo__Internal__AgentCall *call) {
  mz_master *m = l->m;
  switch (call->type) {
    case MEZZO__INTERNAL__AGENT_CALL__TYPE__REGISTER:
      mz_agent_register(l, call);
      return;
    case MEZZO__INTERNAL__AGENT_CALL__TYPE__PONG:
      l->ping_outstanding = false;
      l->misses = 0;
      return;
    case MEZZO__INTERNAL__AGENT_CALL__TYPE__STATUS_UPDATE: {
      mz_agent *a = call_agent(l, call);
      if (!a) return;
      if (!call->status_update) {
        m->metrics.invalid_agent_calls++;
        mz_link_send_error(l, call->link_key, a->id, "Expecting 'status_update' to be present");
        return;
      }
      mz_status_update(a, call->status_update);
      return;
    }
    case MEZZO__INTERNAL__AGENT_CALL__TYPE__EXECUTOR_MESSAGE: {
      mz_agent *a = call_agent(l, call);
      if (!a) return;
      const Mezzo__Internal__AgentCall__ExecutorMessage *em = call->executor_message;
      m->metrics.messages_executor_to_framework++;
      if (!em) {
        m->metrics.invalid_agent_calls++;
        mz_link_send_error(l, call->link_key, a->id, "Expecting 'executor_message' to be present");
        return;
      }
      mz_framework *fw = mz_framework_find(m, em->framework_id->value);
      if (!fw || !fw->connected) {
        m->metrics.invalid_executor_to_framework_messages++;
        MZ_WARN("master", "dropping executor message for %s framework %s", fw ? "disconnected" : "unknown",
                em->framework_id->value);
        return;
      }
      m->metrics.valid_executor_to_framework_messages++;
      mz_event_message(fw, a->id, em->executor_id->value, em->data.data, em->data.len);
      return;
    }
    case MEZZO__INTERNAL__AGENT_CALL__TYPE__UNREGISTER: {
      mz_agent *a = call_agent(l, call);
      if (!a) return;
      mz_agent_remove(a, true, "the agent unregistered");
      return;
    }
    default:
      m->metrics.invalid_agent_calls++;
      mz_link_send_error(l, call->link_key, NULL, "Unknown AgentCall type");
      return;
  }
}

static int on_record(void *arg, const uint8_t *rec, size_t len) {
  mz_link *l = arg;
  if (!l->req) return 1;
  char err[512];
  ProtobufCMessage *msg = mz_pb_decode(&mezzo__internal__agent_call__descriptor, l->ct, rec, len, err, sizeof err);
  if (!msg) {
    l->m->metrics.invalid_agent_calls++;
    char text[600];
    snprintf(text, sizeof text, "Failed to decode AgentCall: %s", err);
    mz_link_send_error(l, NULL, NULL, text);
    return 0;
  }
  dispatch(l, (Mezzo__Internal__AgentCall *)msg);
  protobuf_c_message_free_unpacked(msg, NULL);
  return l->req ? 0 : 1;
}

static void on_body(mz_http_req *req, const uint8_t *data, size_t len, void *arg) {
  (void)req;
  mz_link *l = arg;
  if (!l->req) return;
  if (!data) {
    link_kill(l, true, "the agent ended its request");
    return;
  }
  link_guard *g = guard_of(l);
  g->busy++;
  char err[256];
  int rc = mz_recordio_feed(l->dec, data, len, on_record, l, err, sizeof err);
  g->busy--;
  if (rc < 0 && l->req) {
    char text[300];
    snprintf(text, sizeof text, "RecordIO framing error: %s", err);
    mz_link_send_error(l, NULL, NULL, text);
    link_kill(l, true, "framing error");
    return;
  }
  if (g->dead && g->busy == 0) destroy(l);
}

static void on_close(mz_http_req *req, void *arg) {
  (void)req;
  link_kill(arg, false, "connection closed");
}

static void handle(mz_http_req *req, void *arg) {
  mz_master *m = arg;
  mz_content_type ct;
  if (mz_api_post_content_type(req, &ct) != 0) return;
  if ((long)m->nlinks >= m->flags.max_links) {
    mz_http_reply_error(req, 503, "Too many agent links");
    return;
  }
  link_box *box = mz_calloc(1, sizeof *box);
  mz_link *l = &box->link;
  l->m = m;
  mz_uuid_string(l->id);
  l->req = req;
  l->ct = ct;
  mz_strlcpy(l->peer, mz_http_req_peer(req), sizeof l->peer);
  l->dec = mz_recordio_decoder_new(MZ_AGENT_RECORD_MAX);
  l->ping_ev = event_new(m->base, -1, EV_PERSIST, on_ping_timer, l);
  if (!l->dec || !l->ping_ev) {
    if (l->dec) mz_recordio_decoder_free(l->dec);
    if (l->ping_ev) event_free(l->ping_ev);
    free(box);
    mz_http_reply_error(req, 503, "Out of resources for a new agent link");
    return;
  }
  DL_APPEND(m->links, l);
  m->nlinks++;
  mz_http_req_add_header(req, "Mezzo-Link-Id", l->id);
  if (mz_http_stream_start(req, 200, mz_content_type_name(ct)) != 0) {
    l->req = NULL;
    link_kill(l, false, "could not start the reply");
    return;
  }
  mz_http_req_on_close(req, on_close, l);
  mz_http_req_on_body(req, on_body, l);
  double t = m->flags.agent_ping_timeout;
  struct timeval tv = {(time_t)t, (suseconds_t)((t - floor(t)) * 1e6)};
  event_add(l->ping_ev, &tv);
  MZ_INFO("master", "agent link %s opened from %s (%s)", l->id, l->peer, mz_content_type_name(ct));
}

void mz_agent_link_route(mz_master *m) {
  mz_http_server_route(m->http, MZ_AGENT_LINK_PATH, MZ_HTTP_ROUTE_STREAM_BODY | MZ_HTTP_ROUTE_BULK, handle, m);
}

void mz_agent_link_close_all(mz_master *m) {
  while (m->links) {
    mz_link *l = m->links;
    mz_http_req *req = l->req;
    l->req = NULL;
    if (req) {
      mz_http_req_on_close(req, NULL, NULL);
      mz_http_req_on_body(req, NULL, NULL);
      mz_http_stream_end(req);
    }
    while (l->agents) {
      mz_agent *a = l->agents;
      DL_DELETE2(l->agents, a, link_prev, link_next);
      a->link = NULL;
    }
    destroy(l);
  }
}
