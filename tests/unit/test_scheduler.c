/* test_scheduler: libmezzo's scheduler client (src/lib/scheduler.c) against a
 * fake master built on mz_http_server in the same event loop: subscription and
 * stream id, calls on the second connection, auto-acknowledgement, failover
 * after a lost stream, the heartbeat watchdog, a refused SUBSCRIBE, and an
 * unreachable master. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "common/codec.h"
#include "common/http.h"
#include "common/log.h"
#include "common/util.h"
#include "mezzo/scheduler.h"

/* ------------------------------------------------------------------ fake master */

#define MAX_CALLS 64

typedef struct {
  struct event_base *base;
  mz_http_server *srv;
  int port;
  mz_content_type ct;
  mz_http_req *stream;       /* the open SUBSCRIBE stream */
  int subscribes;            /* SUBSCRIBE calls seen */
  char last_sub_fw_id[64];   /* framework_info.id.value of the last SUBSCRIBE ("" if none) */
  int sub_had_stream_header; /* a SUBSCRIBE carried Mesos-Stream-Id (must never) */
  char stream_id[64];        /* current stream id handed out */
  double heartbeat;          /* announced in SUBSCRIBED */
  int refuse_subscribe;      /* answer SUBSCRIBE with 400 */
  int calls[MAX_CALLS];      /* call types seen (non-SUBSCRIBE), in order */
  int ncalls;
  int bad_stream_id;         /* a call arrived with a wrong or missing Mesos-Stream-Id */
  int bad_framework_id;      /* a call arrived without framework_id fw-1 */
  double last_refuse;        /* filters.refuse_seconds of the last DECLINE (-1 if none) */
  uint8_t last_ack_uuid[16];
  int acks;
} fake_master;

static void stream_closed(mz_http_req *r, void *arg) {
  fake_master *m = arg;
  if (m->stream == r) m->stream = NULL;
}

static void send_event(fake_master *m, Mesos__V1__Scheduler__Event *ev) {
  assert_non_null(m->stream);
  size_t len;
  uint8_t *buf = mz_pb_encode(&ev->base, m->ct, &len);
  assert_non_null(buf);
  mz_http_stream_write_record(m->stream, buf, len);
  free(buf);
}

static void fake_handler(mz_http_req *r, void *arg) {
  fake_master *m = arg;
  size_t len;
  const uint8_t *body = mz_http_req_body(r, &len);
  mz_content_type ct;
  if (mz_content_type_parse(mz_http_req_header(r, "content-type"), &ct) != 0) {
    mz_http_reply_error(r, 415, "bad content type");
    return;
  }
  char err[256];
  Mesos__V1__Scheduler__Call *call =
      (Mesos__V1__Scheduler__Call *)mz_pb_decode(&mesos__v1__scheduler__call__descriptor, ct, body, len, err,
                                                 sizeof err);
  if (!call) {
    mz_http_reply_error(r, 400, "%s", err);
    return;
  }
  if (call->type == MESOS__V1__SCHEDULER__CALL__TYPE__SUBSCRIBE) {
    m->subscribes++;
    if (mz_http_req_header(r, "Mesos-Stream-Id")) m->sub_had_stream_header = 1;
    Mesos__V1__FrameworkInfo *fi = call->subscribe ? call->subscribe->framework_info : NULL;
    snprintf(m->last_sub_fw_id, sizeof m->last_sub_fw_id, "%s",
             fi && fi->id && fi->id->value ? fi->id->value : "");
    if (m->refuse_subscribe) {
      protobuf_c_message_free_unpacked(&call->base, NULL);
      mz_http_reply_error(r, 400, "framework_info.user: missing required field");
      return;
    }
    snprintf(m->stream_id, sizeof m->stream_id, "stream-%d", m->subscribes);
    m->ct = ct;
    if (m->stream) mz_http_stream_end(m->stream); /* one subscription per framework */
    m->stream = r;
    mz_http_req_on_close(r, stream_closed, m);
    mz_http_req_add_header(r, "Mesos-Stream-Id", m->stream_id);
    mz_http_stream_start(r, 200, mz_content_type_name(ct));
    Mesos__V1__Scheduler__Event ev = MESOS__V1__SCHEDULER__EVENT__INIT;
    Mesos__V1__Scheduler__Event__Subscribed sub = MESOS__V1__SCHEDULER__EVENT__SUBSCRIBED__INIT;
    Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
    fid.value = "fw-1";
    sub.framework_id = &fid;
    sub.has_heartbeat_interval_seconds = 1;
    sub.heartbeat_interval_seconds = m->heartbeat;
    ev.has_type = 1;
    ev.type = MESOS__V1__SCHEDULER__EVENT__TYPE__SUBSCRIBED;
    ev.subscribed = &sub;
    send_event(m, &ev);
    protobuf_c_message_free_unpacked(&call->base, NULL);
    return;
  }
  const char *sid = mz_http_req_header(r, "mesos-stream-id");
  if (!sid || strcmp(sid, m->stream_id) != 0) m->bad_stream_id = 1;
  if (!call->framework_id || !call->framework_id->value || strcmp(call->framework_id->value, "fw-1") != 0)
    m->bad_framework_id = 1;
  if (m->ncalls < MAX_CALLS) m->calls[m->ncalls++] = call->type;
  if (call->type == MESOS__V1__SCHEDULER__CALL__TYPE__DECLINE && call->decline) {
    m->last_refuse = call->decline->filters && call->decline->filters->has_refuse_seconds
                         ? call->decline->filters->refuse_seconds
                         : -1;
  }
  if (call->type == MESOS__V1__SCHEDULER__CALL__TYPE__ACKNOWLEDGE && call->acknowledge &&
      call->acknowledge->uuid.len == 16) {
    memcpy(m->last_ack_uuid, call->acknowledge->uuid.data, 16);
    m->acks++;
  }
  protobuf_c_message_free_unpacked(&call->base, NULL);
  mz_http_reply(r, 202, NULL, NULL, 0);
}

static void fake_start(fake_master *m, struct event_base *base) {
  memset(m, 0, sizeof *m);
  m->base = base;
  m->heartbeat = 15;
  m->last_refuse = -2;
  m->srv = mz_http_server_new(base, NULL);
  assert_non_null(m->srv);
  char err[256];
  assert_int_equal(mz_http_server_listen(m->srv, "127.0.0.1", 0, err, sizeof err), 0);
  m->port = mz_http_server_port(m->srv);
  mz_http_server_route(m->srv, MZ_SCHEDULER_ENDPOINT_PATH, 0, fake_handler, m);
}

/* ------------------------------------------------------------------ scheduler side */

typedef struct {
  fake_master *m;
  int subscribed, offers, updates, errors, disconnects, teardown_status;
  int disconnected_after_sub;
  char error[512];
  char reason[512];
  int decline_offers;
} sched_state;

static void on_subscribed(mz_scheduler *s, const Mesos__V1__Scheduler__Event__Subscribed *ev, void *arg) {
  sched_state *st = arg;
  st->subscribed++;
}

static void on_offers(mz_scheduler *s, Mesos__V1__Offer *const *offers, size_t n, void *arg) {
  sched_state *st = arg;
  st->offers += (int)n;
  char err[256];
  for (size_t i = 0; i < n && st->decline_offers; i++) {
    const char *id = offers[i]->id->value;
    assert_int_equal(mz_scheduler_decline(s, &id, 1, 7.5, err, sizeof err), 0);
  }
}

static void on_update(mz_scheduler *s, const Mesos__V1__TaskStatus *status, void *arg) {
  sched_state *st = arg;
  st->updates++;
}

static void on_error(mz_scheduler *s, const char *message, void *arg) {
  sched_state *st = arg;
  st->errors++;
  snprintf(st->error, sizeof st->error, "%s", message);
}

static void on_disconnected(mz_scheduler *s, const char *reason, int subscribed_before, void *arg) {
  sched_state *st = arg;
  st->disconnects++;
  if (subscribed_before) st->disconnected_after_sub++;
  snprintf(st->reason, sizeof st->reason, "%s", reason);
}

static void on_teardown(mz_scheduler *s, int status, const char *body, void *arg) {
  sched_state *st = arg;
  st->teardown_status = status;
}

static const mz_scheduler_callbacks CBS = {
    .on_subscribed = on_subscribed,
    .on_offers = on_offers,
    .on_update = on_update,
    .on_error = on_error,
    .on_disconnected = on_disconnected,
};

/* Runs the loop until cond(arg) holds or 10 s pass; returns cond's final value. */
static int run_until(struct event_base *base, int (*cond)(void *), void *arg) {
  double deadline = mz_monotonic() + 10;
  while (!cond(arg) && mz_monotonic() < deadline) {
    struct timeval tv = {0, 10000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
  }
  return cond(arg);
}

static sched_state *g;
static int c_subscribed(void *a) { return g->subscribed >= *(int *)a; }
static int c_ncalls(void *a) { return g->m->ncalls >= *(int *)a; }
static int c_teardown(void *a) { return g->teardown_status != 0; }
static int c_errors(void *a) { return g->errors > 0; }
static int c_disconnects(void *a) { return g->disconnects >= *(int *)a; }
static int c_acks(void *a) { return g->m->acks >= *(int *)a; }
static int c_updates(void *a) { return g->updates >= *(int *)a; }

static mz_scheduler *new_sched(struct event_base *base, fake_master *m, sched_state *st, mz_content_type ct,
                               int auto_ack, double heartbeat_override) {
  memset(st, 0, sizeof *st);
  st->m = m;
  g = st;
  Mesos__V1__FrameworkInfo fi = MESOS__V1__FRAMEWORK_INFO__INIT;
  fi.user = "tester";
  fi.name = "unit";
  mz_scheduler_options opts = {0};
  opts.content_type = ct;
  opts.auto_acknowledge = auto_ack;
  opts.backoff_min = 0.05;
  opts.backoff_max = 0.2;
  opts.heartbeat_override = heartbeat_override;
  char addr[64], err[256];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", m->port);
  mz_scheduler *s = mz_scheduler_new(base, addr, &fi, &CBS, st, &opts, err, sizeof err);
  assert_non_null(s);
  return s;
}

static void offers_event(fake_master *m, const char *offer_id) {
  Mesos__V1__Scheduler__Event ev = MESOS__V1__SCHEDULER__EVENT__INIT;
  Mesos__V1__Scheduler__Event__Offers offers = MESOS__V1__SCHEDULER__EVENT__OFFERS__INIT;
  Mesos__V1__Offer o = MESOS__V1__OFFER__INIT;
  Mesos__V1__OfferID oid = MESOS__V1__OFFER_ID__INIT;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  oid.value = (char *)offer_id;
  fid.value = "fw-1";
  aid.value = "agent-1";
  o.id = &oid;
  o.framework_id = &fid;
  o.agent_id = &aid;
  o.hostname = "localhost";
  Mesos__V1__Offer *op[1] = {&o};
  offers.offers = op;
  offers.n_offers = 1;
  ev.has_type = 1;
  ev.type = MESOS__V1__SCHEDULER__EVENT__TYPE__OFFERS;
  ev.offers = &offers;
  send_event(m, &ev);
}

static void update_event(fake_master *m, const uint8_t *uuid) {
  Mesos__V1__Scheduler__Event ev = MESOS__V1__SCHEDULER__EVENT__INIT;
  Mesos__V1__Scheduler__Event__Update up = MESOS__V1__SCHEDULER__EVENT__UPDATE__INIT;
  Mesos__V1__TaskStatus ts = MESOS__V1__TASK_STATUS__INIT;
  Mesos__V1__TaskID tid = MESOS__V1__TASK_ID__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  tid.value = "t1";
  aid.value = "agent-1";
  ts.task_id = &tid;
  ts.agent_id = &aid;
  ts.state = MESOS__V1__TASK_STATE__TASK_RUNNING;
  if (uuid) {
    ts.has_uuid = 1;
    ts.uuid.data = (uint8_t *)uuid;
    ts.uuid.len = 16;
  }
  up.status = &ts;
  ev.has_type = 1;
  ev.type = MESOS__V1__SCHEDULER__EVENT__TYPE__UPDATE;
  ev.update = &up;
  send_event(m, &ev);
}

static void teardown_all(struct event_base *base, fake_master *m, mz_scheduler *s) {
  mz_scheduler_free(s);
  mz_http_server_free(m->srv);
  /* Let freed connections' deferred callbacks drain. */
  event_base_loop(base, EVLOOP_NONBLOCK);
  event_base_free(base);
}

/* ------------------------------------------------------------------ tests */

static void subscribe_calls_and_teardown(mz_content_type ct) {
  struct event_base *base = event_base_new();
  fake_master m;
  fake_start(&m, base);
  sched_state st;
  mz_scheduler *s = new_sched(base, &m, &st, ct, 0, 0);
  char err[256];
  assert_null(mz_scheduler_framework_id(s));
  assert_int_equal(mz_scheduler_decline(s, (const char *[]){"x"}, 1, 1, err, sizeof err), -1); /* not subscribed */
  assert_int_equal(mz_scheduler_start(s, err, sizeof err), 0);
  int one = 1;
  assert_true(run_until(base, c_subscribed, &one));
  assert_string_equal(mz_scheduler_framework_id(s), "fw-1");
  assert_string_equal(mz_scheduler_stream_id(s), "stream-1");
  assert_int_equal(m.sub_had_stream_header, 0);
  assert_string_equal(m.last_sub_fw_id, "");

  st.decline_offers = 1;
  offers_event(&m, "offer-1");
  assert_true(run_until(base, c_ncalls, &one));
  assert_int_equal(st.offers, 1);
  assert_int_equal(m.calls[0], MESOS__V1__SCHEDULER__CALL__TYPE__DECLINE);
  assert_true(m.last_refuse > 7.49 && m.last_refuse < 7.51);

  assert_int_equal(mz_scheduler_kill(s, "t1", "agent-1", err, sizeof err), 0);
  assert_int_equal(mz_scheduler_reconcile(s, NULL, NULL, 0, err, sizeof err), 0);
  assert_int_equal(mz_scheduler_suppress(s, NULL, 0, err, sizeof err), 0);
  assert_int_equal(mz_scheduler_revive(s, NULL, 0, err, sizeof err), 0);
  assert_int_equal(mz_scheduler_teardown(s, on_teardown, &st, err, sizeof err), 0);
  assert_true(run_until(base, c_teardown, NULL));
  assert_int_equal(st.teardown_status, 202);
  assert_int_equal(m.ncalls, 6);
  assert_int_equal(m.calls[1], MESOS__V1__SCHEDULER__CALL__TYPE__KILL);
  assert_int_equal(m.calls[2], MESOS__V1__SCHEDULER__CALL__TYPE__RECONCILE);
  assert_int_equal(m.calls[3], MESOS__V1__SCHEDULER__CALL__TYPE__SUPPRESS);
  assert_int_equal(m.calls[4], MESOS__V1__SCHEDULER__CALL__TYPE__REVIVE);
  assert_int_equal(m.calls[5], MESOS__V1__SCHEDULER__CALL__TYPE__TEARDOWN);
  assert_int_equal(m.bad_stream_id, 0);
  assert_int_equal(m.bad_framework_id, 0);
  teardown_all(base, &m, s);
}

static void test_protobuf(void **state) { subscribe_calls_and_teardown(MZ_CT_PROTOBUF); }
static void test_json(void **state) { subscribe_calls_and_teardown(MZ_CT_JSON); }

static void test_auto_acknowledge(void **state) {
  struct event_base *base = event_base_new();
  fake_master m;
  fake_start(&m, base);
  sched_state st;
  mz_scheduler *s = new_sched(base, &m, &st, MZ_CT_PROTOBUF, 1, 0);
  char err[256];
  assert_int_equal(mz_scheduler_start(s, err, sizeof err), 0);
  int one = 1, two = 2;
  assert_true(run_until(base, c_subscribed, &one));
  uint8_t uuid[16];
  mz_uuid_generate(uuid);
  update_event(&m, NULL); /* no uuid: must not be acknowledged */
  update_event(&m, uuid);
  assert_true(run_until(base, c_updates, &two));
  assert_true(run_until(base, c_acks, &one));
  assert_int_equal(m.acks, 1);
  assert_memory_equal(m.last_ack_uuid, uuid, 16);
  assert_int_equal(m.bad_stream_id, 0);
  teardown_all(base, &m, s);
}

static void test_failover_after_lost_stream(void **state) {
  struct event_base *base = event_base_new();
  fake_master m;
  fake_start(&m, base);
  sched_state st;
  mz_scheduler *s = new_sched(base, &m, &st, MZ_CT_PROTOBUF, 0, 0);
  char err[256];
  assert_int_equal(mz_scheduler_start(s, err, sizeof err), 0);
  int one = 1, two = 2;
  assert_true(run_until(base, c_subscribed, &one));
  mz_http_stream_end(m.stream); /* the master drops the stream */
  m.stream = NULL;
  assert_true(run_until(base, c_subscribed, &two));
  assert_int_equal(st.disconnected_after_sub, 1);
  assert_string_equal(m.last_sub_fw_id, "fw-1"); /* re-subscribed as the same framework */
  assert_string_equal(mz_scheduler_stream_id(s), "stream-2");
  assert_int_equal(mz_scheduler_subscriptions(s), 2);
  assert_int_equal(mz_scheduler_revive(s, NULL, 0, err, sizeof err), 0);
  assert_true(run_until(base, c_ncalls, &one));
  assert_int_equal(m.bad_stream_id, 0); /* the call carried the new stream id */
  teardown_all(base, &m, s);
}

static void test_heartbeat_watchdog(void **state) {
  struct event_base *base = event_base_new();
  fake_master m;
  fake_start(&m, base);
  m.heartbeat = 0.05; /* announced; the fake never sends HEARTBEAT */
  sched_state st;
  mz_scheduler *s = new_sched(base, &m, &st, MZ_CT_JSON, 0, 0);
  char err[256];
  assert_int_equal(mz_scheduler_start(s, err, sizeof err), 0);
  int one = 1, two = 2;
  assert_true(run_until(base, c_subscribed, &one));
  assert_true(mz_scheduler_heartbeat_interval(s) < 0.06);
  assert_true(run_until(base, c_subscribed, &two)); /* 5 missed heartbeats: reconnect */
  assert_true(st.disconnects >= 1);
  assert_non_null(strstr(st.reason, "no event"));
  assert_string_equal(m.last_sub_fw_id, "fw-1");
  teardown_all(base, &m, s);
}

static void test_subscribe_refused(void **state) {
  struct event_base *base = event_base_new();
  fake_master m;
  fake_start(&m, base);
  m.refuse_subscribe = 1;
  sched_state st;
  mz_scheduler *s = new_sched(base, &m, &st, MZ_CT_JSON, 0, 0);
  char err[256];
  assert_int_equal(mz_scheduler_start(s, err, sizeof err), 0);
  assert_true(run_until(base, c_errors, NULL));
  assert_non_null(strstr(st.error, "400"));
  assert_non_null(strstr(st.error, "missing required field"));
  /* No retry after a 4xx. */
  struct timeval tv = {0, 300000};
  event_base_loopexit(base, &tv);
  event_base_dispatch(base);
  assert_int_equal(m.subscribes, 1);
  teardown_all(base, &m, s);
}

static void test_unreachable_master(void **state) {
  struct event_base *base = event_base_new();
  fake_master m;
  fake_start(&m, base);
  int port = m.port;
  mz_http_server_free(m.srv); /* nobody listens there now */
  m.srv = mz_http_server_new(base, NULL);
  m.port = port;
  sched_state st;
  mz_scheduler *s = new_sched(base, &m, &st, MZ_CT_PROTOBUF, 0, 0);
  char err[256];
  assert_int_equal(mz_scheduler_start(s, err, sizeof err), 0);
  int two = 2;
  assert_true(run_until(base, c_disconnects, &two)); /* it keeps retrying with backoff */
  assert_int_equal(st.disconnected_after_sub, 0);
  assert_int_equal(mz_scheduler_subscriptions(s), 0);
  mz_scheduler_stop(s);
  teardown_all(base, &m, s);
}

static void test_bad_arguments(void **state) {
  struct event_base *base = event_base_new();
  Mesos__V1__FrameworkInfo fi = MESOS__V1__FRAMEWORK_INFO__INIT;
  fi.user = "u";
  fi.name = "n";
  char err[256];
  assert_null(mz_scheduler_new(base, "nonsense", &fi, &CBS, NULL, NULL, err, sizeof err));
  assert_non_null(strstr(err, "HOST:PORT"));
  assert_null(mz_scheduler_new(base, "host:0", &fi, &CBS, NULL, NULL, err, sizeof err));
  fi.user = NULL;
  assert_null(mz_scheduler_new(base, "host:5050", &fi, &CBS, NULL, NULL, err, sizeof err));
  fi.user = "u";
  mz_scheduler *s = mz_scheduler_new(base, "http://localhost:5050/", &fi, &CBS, NULL, NULL, err, sizeof err);
  assert_non_null(s);
  assert_string_equal(mz_scheduler_master(s), "localhost:5050");
  mz_scheduler_free(s);
  assert_string_equal(mz_task_state_name(MESOS__V1__TASK_STATE__TASK_FINISHED), "TASK_FINISHED");
  assert_true(mz_task_state_terminal(MESOS__V1__TASK_STATE__TASK_FAILED));
  assert_false(mz_task_state_terminal(MESOS__V1__TASK_STATE__TASK_RUNNING));
  event_base_free(base);
}

int main(void) {
  mz_log_set_level(MZ_LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_protobuf),
      cmocka_unit_test(test_json),
      cmocka_unit_test(test_auto_acknowledge),
      cmocka_unit_test(test_failover_after_lost_stream),
      cmocka_unit_test(test_heartbeat_watchdog),
      cmocka_unit_test(test_subscribe_refused),
      cmocka_unit_test(test_unreachable_master),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
