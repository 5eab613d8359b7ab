/* scheduler: libmezzo's client of the Mesos v1 scheduler HTTP API; see
 * include/mezzo/scheduler.h for the contract.
 *
 * Connections: each subscription attempt gets a fresh mz_http_client (the API
 * asks for a new connection when re-subscribing) whose one request is the
 * SUBSCRIBE with its streamed RecordIO answer; `calls` carries every other call.
 * A stream that is given up is never torn down from inside one of its own
 * callbacks: its client moves to the `dying` list and a zero-delay event frees it
 * from the top of the loop. Callbacks of a call that is not the current
 * subscription (s->sub_call) are ignored.
 *
 * A zk:// master: a detector (common/zk_detector.h) follows the leading master;
 * nothing is sent until it reports one, and whenever the leader changes the
 * connections move to it and the scheduler subscribes again with its framework
 * id (as after a 307 redirect).
 *
 * Ownership: the mz_scheduler owns its FrameworkInfo copy (protobuf-c unpacked
 * layout), the strings, the clients, the timers, the record decoder and one
 * sch_call context per call in flight (freed when it completes or with the
 * scheduler). */
#include "mezzo/scheduler.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <utlist.h>

#include "common/http.h"
#include "common/codec.h"
#include "common/log.h"
#include "common/recordio.h"
#include "common/util.h"
#include "common/zk_detector.h"

#define SCH_MOD "scheduler-lib"
#define SCH_MAX_ERROR_TEXT 2048 /* bytes of a refused SUBSCRIBE's body kept for the message */
#define SCH_PIPELINE 256        /* calls on the wire at once on each calls connection */
#define SCH_MAX_REDIRECTS 8     /* 307s followed in a row before backing off */
#define SCH_HOST_MAX 256

typedef struct sch_call {
  mz_scheduler *s;
  mz_scheduler_done_cb done;
  void *arg;
  char what[32];
  struct sch_call *prev, *next;
} sch_call;

typedef struct sch_dying {
  mz_http_client *client;
  struct sch_dying *next;
} sch_dying;

struct mz_scheduler {
  struct event_base *base;
  char host[SCH_HOST_MAX];
  int port;
  char master[SCH_HOST_MAX + 8];
  Mesos__V1__FrameworkInfo *info; /* owned copy */
  mz_scheduler_callbacks cbs;
  void *arg;
  mz_scheduler_options opts;

  mz_http_client *sub;   /* client of the current subscription attempt */
  mz_http_call *sub_call;
  unsigned generation;   /* bumped whenever the current stream is given up */
  mz_recordio_decoder *dec;
  int sub_status;
  char *sub_errtext;
  size_t sub_errlen;
  char pending_stream_id[MZ_SCHEDULER_STREAM_ID_MAX + 1];
  char location[SCH_HOST_MAX + 64];
  int redirects;

  mz_http_client *calls; /* every call but ACKNOWLEDGE, in order */
  mz_http_client *acks;  /* ACKNOWLEDGE calls, on a connection of their own so they never queue behind ACCEPTs */
  sch_call *inflight;
  sch_dying *dying;
  struct event *reap_ev;

  int running;    /* started, not stopped: subscribe again after a loss */
  int subscribed; /* the current stream reached SUBSCRIBED */
  char *framework_id;
  char stream_id[MZ_SCHEDULER_STREAM_ID_MAX + 1];
  double heartbeat;
  unsigned nsubs;
  double backoff;
  struct event *watchdog;
  struct event *retry_ev;
  mz_detector *detector; /* zk:// master; NULL otherwise */
  int has_leader;        /* with a detector: a leader is known (host/port valid) */
};

/* ------------------------------------------------------------------ helpers */

/* "host:port", "http://host:port", "http://host:port/path", "[v6]:port" -> host, port. */
static void set_master(mz_scheduler *s, const char *host, int port) {
  mz_strlcpy(s->host, host, sizeof s->host);
  s->port = port;
  snprintf(s->master, sizeof s->master, "%s:%d", host, port);
}

static const char *ct_name(const mz_scheduler *s) { return mz_content_type_name(s->opts.content_type); }

static void reap_cb(evutil_socket_t fd, short what, void *arg) {
  mz_scheduler *s = arg;
  sch_dying *d, *t;
  LL_FOREACH_SAFE(s->dying, d, t) {
    LL_DELETE(s->dying, d);
    mz_http_client_free(d->client);
    free(d);
  }
}

/* Gives up the current subscription stream (no more callbacks from it). Safe from its callbacks. */
static void drop_stream(mz_scheduler *s) {
  s->generation++;
  if (s->sub) {
    sch_dying *d = mz_calloc(1, sizeof *d);
    d->client = s->sub;
    LL_PREPEND(s->dying, d);
    event_active(s->reap_ev, EV_TIMEOUT, 0);
  }
  s->sub = NULL;
  s->sub_call = NULL;
  s->subscribed = 0;
  s->stream_id[0] = 0;
  if (s->watchdog) event_del(s->watchdog);
}

static void arm_watchdog(mz_scheduler *s) {
  double base = s->opts.heartbeat_override > 0 ? s->opts.heartbeat_override : s->heartbeat;
  double t = base * MZ_SCHEDULER_MISSED_HEARTBEATS;
  struct timeval tv = {(time_t)t, (suseconds_t)((t - (double)(time_t)t) * 1e6)};
  event_add(s->watchdog, &tv);
}

static int subscribe_now(mz_scheduler *s, char *err, size_t errlen);

/* The two calls connections to the current master: calls are pipelined (HTTP/1.1,
 * answered in order), so a busy framework is not held to one call per round trip. */
static void open_call_clients(mz_scheduler *s) {
  s->calls = mz_http_client_new(s->base, s->host, s->port);
  s->acks = mz_http_client_new(s->base, s->host, s->port);
  if (s->calls) {
    mz_http_client_set_timeout(s->calls, s->opts.call_timeout);
    mz_http_client_set_pipeline(s->calls, SCH_PIPELINE);
  }
  if (s->acks) {
    mz_http_client_set_timeout(s->acks, s->opts.call_timeout);
    mz_http_client_set_pipeline(s->acks, SCH_PIPELINE);
  }
}

/* Points the calls connections at another master (the old ones are reaped at the
 * top of the loop; calls in flight on them are dropped). */
static void move_to(mz_scheduler *s, const char *host, int port) {
  set_master(s, host, port);
  sch_dying *d = mz_calloc(1, sizeof *d);
  d->client = s->calls;
  LL_PREPEND(s->dying, d);
  sch_dying *d2 = mz_calloc(1, sizeof *d2);
  d2->client = s->acks;
  LL_PREPEND(s->dying, d2);
  event_active(s->reap_ev, EV_TIMEOUT, 0);
  open_call_clients(s);
  sch_call *sc, *tmp;
  DL_FOREACH_SAFE(s->inflight, sc, tmp) { /* dropped with the old client */
    DL_DELETE(s->inflight, sc);
    free(sc);
  }
}

static void retry_cb(evutil_socket_t fd, short what, void *arg) {
  mz_scheduler *s = arg;
  if (!s->running || s->sub_call) return;
  if (s->detector) { /* follow the detector's latest word, whatever callbacks were missed */
    const mz_leader *l = mz_detector_leader(s->detector);
    if (!l) return; /* subscribes once a leader is reported */
    if (strcmp(l->host, s->host) != 0 || l->port != s->port) {
      MZ_INFO(SCH_MOD, "leading master is now %s:%d", l->host, l->port);
      move_to(s, l->host, l->port);
    }
  }
  char err[256];
  if (subscribe_now(s, err, sizeof err) != 0) {
    MZ_WARN(SCH_MOD, "cannot subscribe to %s: %s", s->master, err);
    /* try again later */
    double t = s->backoff;
    struct timeval tv = {(time_t)t, (suseconds_t)((t - (double)(time_t)t) * 1e6)};
    event_add(s->retry_ev, &tv);
  }
}

static void schedule_retry(mz_scheduler *s, double delay) {
  struct timeval tv = {(time_t)delay, (suseconds_t)((delay - (double)(time_t)delay) * 1e6)};
  event_add(s->retry_ev, &tv);
}

/* The stream was lost while running: report, then retry after the backoff. */
static void stream_lost(mz_scheduler *s, const char *reason) {
  int was = s->subscribed;
  drop_stream(s);
  if (!s->running) return;
  if (s->opts.no_reconnect) s->running = 0;
  MZ_INFO(SCH_MOD, "framework %s: subscription to %s lost: %s", s->framework_id ? s->framework_id : "(new)",
          s->master, reason);
  unsigned gen = s->generation;
  if (s->cbs.on_disconnected) s->cbs.on_disconnected(s, reason, was, s->arg);
  if (!s->running || gen != s->generation || s->sub_call) return;
  /* Doubling backoff with jitter in [0.5, 1] of the step. */
  double delay = s->backoff * (0.5 + 0.5 * ((double)(random() % 1000) / 1000.0));
  s->backoff *= 2;
  if (s->backoff > s->opts.backoff_max) s->backoff = s->opts.backoff_max;
  schedule_retry(s, delay);
}

static void fail_stopped(mz_scheduler *s, const char *message) {
  drop_stream(s);
  int was_running = s->running;
  s->running = 0;
  event_del(s->retry_ev);
  MZ_WARN(SCH_MOD, "framework %s: %s", s->framework_id ? s->framework_id : "(new)", message);
  if (was_running && s->cbs.on_error) s->cbs.on_error(s, message, s->arg);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg) {
  mz_scheduler *s = arg;
  char reason[128];
  double base = s->opts.heartbeat_override > 0 ? s->opts.heartbeat_override : s->heartbeat;
  snprintf(reason, sizeof reason, "no event from the master for %.1f s (%d heartbeats)",
           base * MZ_SCHEDULER_MISSED_HEARTBEATS, MZ_SCHEDULER_MISSED_HEARTBEATS);
  stream_lost(s, reason);
}

/* The detector's report: subscribe (again) to the new leader. */
static void on_leader(void *arg, const mz_leader *l) {
  mz_scheduler *s = arg;
  if (!l) {
    s->has_leader = 0;
    return;
  }
  int same = s->has_leader && !strcmp(s->host, l->host) && s->port == l->port;
  s->has_leader = 1;
  if (same && (s->subscribed || s->sub_call)) return;
  MZ_INFO(SCH_MOD, "framework %s: leading master is %s:%d", s->framework_id ? s->framework_id : "(new)", l->host,
          l->port);
  int was = s->subscribed;
  drop_stream(s);
  move_to(s, l->host, l->port);
  if (!s->running) return;
  s->redirects = 0;
  s->backoff = s->opts.backoff_min;
  unsigned gen = s->generation;
  if (was && s->cbs.on_disconnected) s->cbs.on_disconnected(s, "a new master was elected", 1, s->arg);
  if (!s->running || gen != s->generation || s->sub_call) return;
  event_del(s->retry_ev);
  schedule_retry(s, 0);
}

/* ------------------------------------------------------------------ lifecycle */

mz_scheduler *mz_scheduler_new(struct event_base *base, const char *master, const Mesos__V1__FrameworkInfo *info,
                               const mz_scheduler_callbacks *cbs, void *arg, const mz_scheduler_options *opts,
                               char *err, size_t errlen) {
  char host[SCH_HOST_MAX];
  int port;
  if (!base || !info || !cbs) {
    snprintf(err, errlen, "mz_scheduler_new: missing event base, framework info or callbacks");
    return NULL;
  }
  int zk = mz_zk_is_url(master);
  if (zk) {
    mz_zk_url url;
    if (mz_zk_parse_url(master, &url, err, errlen) != 0) return NULL;
    mz_strlcpy(host, "0.0.0.0", sizeof host); /* unused until the detector reports the leader */
    port = 1;
  } else if (mz_http_parse_address(master, host, sizeof host, &port) != 0) {
    snprintf(err, errlen, "master address: expected HOST:PORT or zk://host:port,.../path, got '%s'",
             master ? master : "");
    return NULL;
  }
  if (!info->user || !info->name) {
    snprintf(err, errlen, "framework info: user and name are required");
    return NULL;
  }
  mz_scheduler *s = mz_calloc(1, sizeof *s);
  s->base = base;
  set_master(s, host, port);
  s->info = mz_pb_dup(&info->base);
  s->cbs = *cbs;
  s->arg = arg;
  if (opts) s->opts = *opts;
  else s->opts.content_type = MZ_CT_PROTOBUF;
  if (s->opts.backoff_min <= 0) s->opts.backoff_min = 0.5;
  if (s->opts.backoff_max <= 0) s->opts.backoff_max = 15;
  if (s->opts.backoff_max < s->opts.backoff_min) s->opts.backoff_max = s->opts.backoff_min;
  if (s->opts.call_timeout <= 0) s->opts.call_timeout = 75;
  s->backoff = s->opts.backoff_min;
  s->heartbeat = MZ_SCHEDULER_DEFAULT_HEARTBEAT;
  if (info->id && info->id->value && *info->id->value) s->framework_id = mz_strdup(info->id->value);
  open_call_clients(s);
  s->watchdog = evtimer_new(base, watchdog_cb, s);
  s->retry_ev = evtimer_new(base, retry_cb, s);
  s->reap_ev = event_new(base, -1, 0, reap_cb, s);
  if (!s->info || !s->calls || !s->acks || !s->watchdog || !s->retry_ev || !s->reap_ev) {
    snprintf(err, errlen, "mz_scheduler_new: out of resources");
    mz_scheduler_free(s);
    return NULL;
  }
  if (zk) {
    s->detector = mz_detector_new(base, master, MZ_ZK_DEFAULT_SESSION_TIMEOUT, on_leader, s, err, errlen);
    if (!s->detector) {
      mz_scheduler_free(s);
      return NULL;
    }
  }
  return s;
}

void mz_scheduler_free(mz_scheduler *s) {
  if (!s) return;
  mz_detector_free(s->detector);
  if (s->sub) mz_http_client_free(s->sub);
  if (s->calls) mz_http_client_free(s->calls); /* drops pending calls without callbacks */
  if (s->acks) mz_http_client_free(s->acks);
  sch_dying *d, *dt;
  LL_FOREACH_SAFE(s->dying, d, dt) {
    mz_http_client_free(d->client);
    free(d);
  }
  sch_call *c, *ct;
  DL_FOREACH_SAFE(s->inflight, c, ct) {
    DL_DELETE(s->inflight, c);
    free(c);
  }
  if (s->watchdog) event_free(s->watchdog);
  if (s->retry_ev) event_free(s->retry_ev);
  if (s->reap_ev) event_free(s->reap_ev);
  if (s->dec) mz_recordio_decoder_free(s->dec);
  if (s->info) protobuf_c_message_free_unpacked(&s->info->base, NULL);
  free(s->sub_errtext);
  free(s->framework_id);
  free(s);
}

int mz_scheduler_start(mz_scheduler *s, char *err, size_t errlen) {
  if (s->sub_call || s->subscribed) {
    snprintf(err, errlen, "already subscribing or subscribed");
    return -1;
  }
  s->running = 1;
  s->redirects = 0;
  event_del(s->retry_ev);
  if (subscribe_now(s, err, errlen) != 0) {
    s->running = 0;
    return -1;
  }
  return 0;
}

void mz_scheduler_stop(mz_scheduler *s) {
  s->running = 0;
  event_del(s->retry_ev);
  drop_stream(s);
}

int mz_scheduler_subscribed(const mz_scheduler *s) { return s->subscribed; }
const char *mz_scheduler_framework_id(const mz_scheduler *s) { return s->framework_id; }
const char *mz_scheduler_stream_id(const mz_scheduler *s) { return s->subscribed ? s->stream_id : NULL; }
double mz_scheduler_heartbeat_interval(const mz_scheduler *s) { return s->heartbeat; }
const char *mz_scheduler_master(const mz_scheduler *s) { return s->master; }
unsigned mz_scheduler_subscriptions(const mz_scheduler *s) { return s->nsubs; }

/* ------------------------------------------------------------------ events */

static void handle_subscribed(mz_scheduler *s, const Mesos__V1__Scheduler__Event__Subscribed *sub) {
  if (!sub || !sub->framework_id || !sub->framework_id->value) {
    MZ_WARN(SCH_MOD, "SUBSCRIBED without a framework id from %s; ignored", s->master);
    return;
  }
  if (!s->framework_id || strcmp(s->framework_id, sub->framework_id->value) != 0) {
    free(s->framework_id);
    s->framework_id = mz_strdup(sub->framework_id->value);
  }
  s->heartbeat = sub->has_heartbeat_interval_seconds && sub->heartbeat_interval_seconds > 0
                     ? sub->heartbeat_interval_seconds
                     : MZ_SCHEDULER_DEFAULT_HEARTBEAT;
  memcpy(s->stream_id, s->pending_stream_id, sizeof s->stream_id);
  s->subscribed = 1;
  s->nsubs++;
  s->backoff = s->opts.backoff_min;
  s->redirects = 0;
  MZ_INFO(SCH_MOD, "framework %s subscribed to %s (stream %s, heartbeat %.1f s)", s->framework_id, s->master,
          s->stream_id, s->heartbeat);
}

/* Returns non-zero when the stream this record came from was given up meanwhile. */
static int dispatch(mz_scheduler *s, const Mesos__V1__Scheduler__Event *ev) {
  unsigned gen = s->generation;
#define GONE() (gen != s->generation)
  if (s->cbs.on_event) {
    s->cbs.on_event(s, ev, s->arg);
    if (GONE()) return 1;
  }
  if (!ev->has_type) return 0;
  switch (ev->type) {
    case MESOS__V1__SCHEDULER__EVENT__TYPE__SUBSCRIBED:
      handle_subscribed(s, ev->subscribed);
      if (s->subscribed) arm_watchdog(s); /* now with the announced heartbeat interval */
      if (s->subscribed && s->cbs.on_subscribed) s->cbs.on_subscribed(s, ev->subscribed, s->arg);
      break;
    case MESOS__V1__SCHEDULER__EVENT__TYPE__OFFERS:
      if (ev->offers && s->cbs.on_offers) s->cbs.on_offers(s, ev->offers->offers, ev->offers->n_offers, s->arg);
      break;
    case MESOS__V1__SCHEDULER__EVENT__TYPE__RESCIND:
      if (ev->rescind && s->cbs.on_rescind) s->cbs.on_rescind(s, ev->rescind->offer_id, s->arg);
      break;
    case MESOS__V1__SCHEDULER__EVENT__TYPE__UPDATE:
      if (!ev->update || !ev->update->status) break;
      if (s->cbs.on_update) s->cbs.on_update(s, ev->update->status, s->arg);
      if (!GONE() && s->opts.auto_acknowledge && s->subscribed) {
        char err[256];
        if (mz_scheduler_acknowledge(s, ev->update->status, err, sizeof err) != 0)
          MZ_WARN(SCH_MOD, "cannot acknowledge an update: %s", err);
      }
      break;
    case MESOS__V1__SCHEDULER__EVENT__TYPE__MESSAGE:
      if (ev->message && s->cbs.on_message) s->cbs.on_message(s, ev->message, s->arg);
      break;
    case MESOS__V1__SCHEDULER__EVENT__TYPE__FAILURE:
      if (ev->failure && s->cbs.on_failure) s->cbs.on_failure(s, ev->failure, s->arg);
      break;
    case MESOS__V1__SCHEDULER__EVENT__TYPE__ERROR: {
      char msg[1024];
      snprintf(msg, sizeof msg, "error from the master: %s",
               ev->error && ev->error->message ? ev->error->message : "(no message)");
      fail_stopped(s, msg);
      return 1;
    }
    case MESOS__V1__SCHEDULER__EVENT__TYPE__HEARTBEAT:
    default:
      break;
  }
  return GONE();
#undef GONE
}

static int on_record(void *arg, const uint8_t *rec, size_t len) {
  mz_scheduler *s = arg;
  char err[256];
  arm_watchdog(s);
  Mesos__V1__Scheduler__Event *ev = (Mesos__V1__Scheduler__Event *)mz_pb_decode(
      &mesos__v1__scheduler__event__descriptor, s->opts.content_type, rec, len, err, sizeof err);
  if (!ev) {
    MZ_WARN(SCH_MOD, "dropping an undecodable event from %s: %s", s->master, err);
    return 0;
  }
  if (!s->subscribed && ev->has_type && ev->type != MESOS__V1__SCHEDULER__EVENT__TYPE__SUBSCRIBED &&
      ev->type != MESOS__V1__SCHEDULER__EVENT__TYPE__ERROR) {
    MZ_WARN(SCH_MOD, "event before SUBSCRIBED from %s; ignored", s->master);
    protobuf_c_message_free_unpacked(&ev->base, NULL);
    return 0;
  }
  int stop = dispatch(s, ev);
  protobuf_c_message_free_unpacked(&ev->base, NULL);
  return stop;
}

static void sub_on_headers(mz_http_call *c, int status, void *arg) {
  mz_scheduler *s = arg;
  if (c != s->sub_call) return;
  s->sub_status = status;
  s->pending_stream_id[0] = 0;
  s->location[0] = 0;
  if (status == 200) {
    const char *sid = mz_http_call_header(c, "Mesos-Stream-Id");
    if (sid && mz_strlcpy(s->pending_stream_id, sid, sizeof s->pending_stream_id) < 0) {
      MZ_WARN(SCH_MOD, "Mesos-Stream-Id from %s longer than %d bytes", s->master, MZ_SCHEDULER_STREAM_ID_MAX);
      s->pending_stream_id[0] = 0;
    }
  } else if (status == 307) {
    const char *loc = mz_http_call_header(c, "Location");
    if (loc) mz_strlcpy(s->location, loc, sizeof s->location);
  }
}

static void sub_on_data(mz_http_call *c, const uint8_t *data, size_t len, void *arg) {
  mz_scheduler *s = arg;
  if (c != s->sub_call) return;
  if (s->sub_status != 200) {
    size_t room = SCH_MAX_ERROR_TEXT - s->sub_errlen;
    if (len > room) len = room;
    if (!len) return;
    s->sub_errtext = mz_realloc(s->sub_errtext, s->sub_errlen + len + 1);
    memcpy(s->sub_errtext + s->sub_errlen, data, len);
    s->sub_errlen += len;
    s->sub_errtext[s->sub_errlen] = '\0';
    return;
  }
  char err[256];
  int rc = mz_recordio_feed(s->dec, data, len, on_record, s, err, sizeof err);
  if (rc < 0 && c == s->sub_call) {
    char reason[320];
    snprintf(reason, sizeof reason, "bad event stream: %s", err);
    stream_lost(s, reason);
  }
}

static void sub_on_complete(mz_http_call *c, int status, const uint8_t *body, size_t len, const char *err,
                            void *arg) {
  mz_scheduler *s = arg;
  if (c != s->sub_call) return;
  s->sub_call = NULL;
  char reason[SCH_MAX_ERROR_TEXT + 128];
  if (status == 0) {
    snprintf(reason, sizeof reason, "%s", err ? err : "connection closed");
    stream_lost(s, reason);
  } else if (status == 200) {
    stream_lost(s, "the master closed the event stream");
  } else if (status == 307) {
    char host[SCH_HOST_MAX];
    int port;
    if (s->location[0] && mz_http_parse_address(s->location, host, sizeof host, &port) == 0 &&
        s->redirects < SCH_MAX_REDIRECTS) {
      MZ_INFO(SCH_MOD, "%s redirects to the leading master %s:%d", s->master, host, port);
      s->redirects++;
      drop_stream(s);
      move_to(s, host, port);
      schedule_retry(s, 0);
    } else {
      snprintf(reason, sizeof reason, "307 redirect with an unusable Location '%s'", s->location);
      stream_lost(s, reason);
    }
  } else if (status >= 400 && status < 500) {
    snprintf(reason, sizeof reason, "SUBSCRIBE refused with %d: %s", status, s->sub_errtext ? s->sub_errtext : "");
    fail_stopped(s, reason);
  } else {
    snprintf(reason, sizeof reason, "SUBSCRIBE answered %d: %s", status, s->sub_errtext ? s->sub_errtext : "");
    stream_lost(s, reason);
  }
}

static int subscribe_now(mz_scheduler *s, char *err, size_t errlen) {
  if (s->detector && !s->has_leader) return 0; /* subscribes once the detector reports a leader */
  Mesos__V1__Scheduler__Call call = MESOS__V1__SCHEDULER__CALL__INIT;
  Mesos__V1__Scheduler__Call__Subscribe sub = MESOS__V1__SCHEDULER__CALL__SUBSCRIBE__INIT;
  Mesos__V1__FrameworkInfo fi = *s->info; /* shallow: only the id differs */
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  call.has_type = 1;
  call.type = MESOS__V1__SCHEDULER__CALL__TYPE__SUBSCRIBE;
  if (s->framework_id) {
    fid.value = s->framework_id;
    fi.id = &fid;
    call.framework_id = &fid;
  }
  sub.framework_info = &fi;
  call.subscribe = &sub;
  size_t len;
  uint8_t *body = mz_pb_encode(&call.base, s->opts.content_type, &len);
  if (!body) {
    snprintf(err, errlen, "cannot encode SUBSCRIBE");
    return -1;
  }
  drop_stream(s);
  s->sub = mz_http_client_new(s->base, s->host, s->port);
  if (!s->sub) {
    free(body);
    snprintf(err, errlen, "cannot create an HTTP client for %s", s->master);
    return -1;
  }
  mz_http_client_set_timeout(s->sub, 0); /* the stream lives as long as the subscription; the watchdog guards it */
  if (s->dec) mz_recordio_decoder_free(s->dec);
  s->dec = mz_recordio_decoder_new(MZ_SCHEDULER_MAX_EVENT_BYTES);
  free(s->sub_errtext);
  s->sub_errtext = NULL;
  s->sub_errlen = 0;
  s->sub_status = 0;
  const char *headers[] = {"Content-Type", ct_name(s), "Accept", ct_name(s), "Connection", "keep-alive", NULL};
  static const mz_http_call_cbs cbs = {sub_on_complete, sub_on_headers, sub_on_data};
  s->sub_call = mz_http_client_request(s->sub, "POST", MZ_SCHEDULER_ENDPOINT_PATH, headers, body, (ssize_t)len,
                                       &cbs, s);
  free(body);
  if (!s->sub_call) {
    snprintf(err, errlen, "cannot send SUBSCRIBE to %s", s->master);
    return -1;
  }
  /* Until SUBSCRIBED arrives the watchdog bounds the wait as well. */
  arm_watchdog(s);
  MZ_DEBUG(SCH_MOD, "SUBSCRIBE sent to %s%s%s", s->master, s->framework_id ? " as framework " : "",
           s->framework_id ? s->framework_id : "");
  return 0;
}

/* ------------------------------------------------------------------ calls */

static void call_on_complete(mz_http_call *c, int status, const uint8_t *body, size_t len, const char *err,
                             void *arg) {
  sch_call *sc = arg;
  mz_scheduler *s = sc->s;
  DL_DELETE(s->inflight, sc);
  char text[1024];
  if (status == 0) {
    snprintf(text, sizeof text, "%s", err ? err : "connection closed");
  } else {
    size_t n = len < sizeof text - 1 ? len : sizeof text - 1;
    if (body && n) memcpy(text, body, n);
    text[n] = 0;
  }
  if (status != 202 && status != 200)
    MZ_WARN(SCH_MOD, "%s call to %s answered %d: %s", sc->what, s->master, status, text);
  if (sc->done) sc->done(s, status, text, sc->arg);
  free(sc);
}

int mz_scheduler_call(mz_scheduler *s, Mesos__V1__Scheduler__Call *call, mz_scheduler_done_cb done, void *arg,
                      char *err, size_t errlen) {
  if (!s->subscribed || !s->framework_id) {
    snprintf(err, errlen, "not subscribed to %s", s->master);
    return -1;
  }
  if (call->has_type && call->type == MESOS__V1__SCHEDULER__CALL__TYPE__SUBSCRIBE) {
    snprintf(err, errlen, "SUBSCRIBE goes through mz_scheduler_start");
    return -1;
  }
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  Mesos__V1__FrameworkID *saved = call->framework_id;
  if (!call->framework_id) {
    fid.value = s->framework_id;
    call->framework_id = &fid;
  }
  size_t len;
  uint8_t *body = mz_pb_encode(&call->base, s->opts.content_type, &len);
  call->framework_id = saved;
  const ProtobufCEnumValue *tv =
      protobuf_c_enum_descriptor_get_value(&mesos__v1__scheduler__call__type__descriptor, call->type);
  const char *what = tv ? tv->name : "UNKNOWN";
  if (!body) {
    snprintf(err, errlen, "cannot encode %s", what);
    return -1;
  }
  sch_call *sc = mz_calloc(1, sizeof *sc);
  sc->s = s;
  sc->done = done;
  sc->arg = arg;
  mz_strlcpy(sc->what, what, sizeof sc->what);
  const char *headers[] = {"Content-Type", ct_name(s), "Accept", ct_name(s), "Mesos-Stream-Id", s->stream_id, NULL};
  static const mz_http_call_cbs cbs = {call_on_complete, NULL, NULL};
  mz_http_call *c =
      mz_http_client_request(call->type == MESOS__V1__SCHEDULER__CALL__TYPE__ACKNOWLEDGE ? s->acks : s->calls, "POST",
                             MZ_SCHEDULER_ENDPOINT_PATH, headers, body, (ssize_t)len, &cbs, sc);
  free(body);
  if (!c) {
    free(sc);
    snprintf(err, errlen, "cannot send %s to %s", what, s->master);
    return -1;
  }
  DL_APPEND(s->inflight, sc);
  return 0;
}

/* Builds an array of n OfferIDs (and pointers to them) on the heap. */
static Mesos__V1__OfferID **offer_ids_new(const char *const *ids, size_t n, Mesos__V1__OfferID **store) {
  Mesos__V1__OfferID *v = mz_calloc(n + 1, sizeof *v);
  Mesos__V1__OfferID **p = mz_calloc(n + 1, sizeof *p);
  for (size_t i = 0; i < n; i++) {
    mesos__v1__offer_id__init(&v[i]);
    v[i].value = (char *)ids[i];
    p[i] = &v[i];
  }
  *store = v;
  return p;
}

static int check_ids(const char *const *ids, size_t n, const char *what, char *err, size_t errlen) {
  if (n == 0) {
    snprintf(err, errlen, "no %s given", what);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    if (!ids[i] || !*ids[i]) {
      snprintf(err, errlen, "%s %zu is empty", what, i);
      return -1;
    }
  }
  return 0;
}

int mz_scheduler_accept(mz_scheduler *s, const char *const *offer_ids, size_t n_offers,
                        Mesos__V1__Offer__Operation *const *ops, size_t n_ops, double refuse_seconds, char *err,
                        size_t errlen) {
  if (check_ids(offer_ids, n_offers, "offer id", err, errlen) != 0) return -1;
  Mesos__V1__Scheduler__Call call = MESOS__V1__SCHEDULER__CALL__INIT;
  Mesos__V1__Scheduler__Call__Accept acc = MESOS__V1__SCHEDULER__CALL__ACCEPT__INIT;
  Mesos__V1__Filters filters = MESOS__V1__FILTERS__INIT;
  Mesos__V1__OfferID *store;
  call.has_type = 1;
  call.type = MESOS__V1__SCHEDULER__CALL__TYPE__ACCEPT;
  acc.offer_ids = offer_ids_new(offer_ids, n_offers, &store);
  acc.n_offer_ids = n_offers;
  acc.operations = (Mesos__V1__Offer__Operation **)ops;
  acc.n_operations = n_ops;
  if (refuse_seconds >= 0) {
    filters.has_refuse_seconds = 1;
    filters.refuse_seconds = refuse_seconds;
    acc.filters = &filters;
  }
  call.accept = &acc;
  int rc = mz_scheduler_call(s, &call, NULL, NULL, err, errlen);
  free(acc.offer_ids);
  free(store);
  return rc;
}

int mz_scheduler_launch(mz_scheduler *s, const char *const *offer_ids, size_t n_offers,
                        Mesos__V1__TaskInfo *const *tasks, size_t n_tasks, double refuse_seconds, char *err,
                        size_t errlen) {
  if (n_tasks == 0) {
    snprintf(err, errlen, "no tasks to launch");
    return -1;
  }
  Mesos__V1__Offer__Operation op = MESOS__V1__OFFER__OPERATION__INIT;
  Mesos__V1__Offer__Operation__Launch launch = MESOS__V1__OFFER__OPERATION__LAUNCH__INIT;
  op.has_type = 1;
  op.type = MESOS__V1__OFFER__OPERATION__TYPE__LAUNCH;
  launch.task_infos = (Mesos__V1__TaskInfo **)tasks;
  launch.n_task_infos = n_tasks;
  op.launch = &launch;
  Mesos__V1__Offer__Operation *ops[1] = {&op};
  return mz_scheduler_accept(s, offer_ids, n_offers, ops, 1, refuse_seconds, err, errlen);
}

int mz_scheduler_decline(mz_scheduler *s, const char *const *offer_ids, size_t n_offers, double refuse_seconds,
                         char *err, size_t errlen) {
  if (check_ids(offer_ids, n_offers, "offer id", err, errlen) != 0) return -1;
  Mesos__V1__Scheduler__Call call = MESOS__V1__SCHEDULER__CALL__INIT;
  Mesos__V1__Scheduler__Call__Decline dec = MESOS__V1__SCHEDULER__CALL__DECLINE__INIT;
  Mesos__V1__Filters filters = MESOS__V1__FILTERS__INIT;
  Mesos__V1__OfferID *store;
  call.has_type = 1;
  call.type = MESOS__V1__SCHEDULER__CALL__TYPE__DECLINE;
  dec.offer_ids = offer_ids_new(offer_ids, n_offers, &store);
  dec.n_offer_ids = n_offers;
  if (refuse_seconds >= 0) {
    filters.has_refuse_seconds = 1;
    filters.refuse_seconds = refuse_seconds;
    dec.filters = &filters;
  }
  call.decline = &dec;
  int rc = mz_scheduler_call(s, &call, NULL, NULL, err, errlen);
  free(dec.offer_ids);
  free(store);
  return rc;
}

int mz_scheduler_acknowledge(mz_scheduler *s, const Mesos__V1__TaskStatus *status, char *err, size_t errlen) {
  if (!status->has_uuid || status->uuid.len == 0) return 0;
  if (!status->task_id || !status->task_id->value || !status->agent_id || !status->agent_id->value) {
    snprintf(err, errlen, "update to acknowledge lacks task_id or agent_id");
    return -1;
  }
  Mesos__V1__Scheduler__Call call = MESOS__V1__SCHEDULER__CALL__INIT;
  Mesos__V1__Scheduler__Call__Acknowledge ack = MESOS__V1__SCHEDULER__CALL__ACKNOWLEDGE__INIT;
  call.has_type = 1;
  call.type = MESOS__V1__SCHEDULER__CALL__TYPE__ACKNOWLEDGE;
  ack.agent_id = status->agent_id;
  ack.task_id = status->task_id;
  ack.uuid = status->uuid;
  call.acknowledge = &ack;
  return mz_scheduler_call(s, &call, NULL, NULL, err, errlen);
}

int mz_scheduler_kill(mz_scheduler *s, const char *task_id, const char *agent_id, char *err, size_t errlen) {
  if (!task_id || !*task_id) {
    snprintf(err, errlen, "KILL needs a task id");
    return -1;
  }
  Mesos__V1__Scheduler__Call call = MESOS__V1__SCHEDULER__CALL__INIT;
  Mesos__V1__Scheduler__Call__Kill kill = MESOS__V1__SCHEDULER__CALL__KILL__INIT;
  Mesos__V1__TaskID tid = MESOS__V1__TASK_ID__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  call.has_type = 1;
  call.type = MESOS__V1__SCHEDULER__CALL__TYPE__KILL;
  tid.value = (char *)task_id;
  kill.task_id = &tid;
  if (agent_id) {
    aid.value = (char *)agent_id;
    kill.agent_id = &aid;
  }
  call.kill = &kill;
  return mz_scheduler_call(s, &call, NULL, NULL, err, errlen);
}

int mz_scheduler_reconcile(mz_scheduler *s, const char *const *task_ids, const char *const *agent_ids, size_t n,
                           char *err, size_t errlen) {
  Mesos__V1__Scheduler__Call call = MESOS__V1__SCHEDULER__CALL__INIT;
  Mesos__V1__Scheduler__Call__Reconcile rec = MESOS__V1__SCHEDULER__CALL__RECONCILE__INIT;
  call.has_type = 1;
  call.type = MESOS__V1__SCHEDULER__CALL__TYPE__RECONCILE;
  Mesos__V1__Scheduler__Call__Reconcile__Task *tasks = mz_calloc(n + 1, sizeof *tasks);
  Mesos__V1__Scheduler__Call__Reconcile__Task **tp = mz_calloc(n + 1, sizeof *tp);
  Mesos__V1__TaskID *tids = mz_calloc(n + 1, sizeof *tids);
  Mesos__V1__AgentID *aids = mz_calloc(n + 1, sizeof *aids);
  int rc = -1;
  for (size_t i = 0; i < n; i++) {
    if (!task_ids[i] || !*task_ids[i]) {
      snprintf(err, errlen, "task id %zu is empty", i);
      goto out;
    }
    mesos__v1__scheduler__call__reconcile__task__init(&tasks[i]);
    mesos__v1__task_id__init(&tids[i]);
    tids[i].value = (char *)task_ids[i];
    tasks[i].task_id = &tids[i];
    if (agent_ids && agent_ids[i]) {
      mesos__v1__agent_id__init(&aids[i]);
      aids[i].value = (char *)agent_ids[i];
      tasks[i].agent_id = &aids[i];
    }
    tp[i] = &tasks[i];
  }
  rec.tasks = tp;
  rec.n_tasks = n;
  call.reconcile = &rec;
  rc = mz_scheduler_call(s, &call, NULL, NULL, err, errlen);
out:
  free(tasks);
  free(tp);
  free(tids);
  free(aids);
  return rc;
}

int mz_scheduler_revive(mz_scheduler *s, const char *const *roles, size_t n_roles, char *err, size_t errlen) {
  Mesos__V1__Scheduler__Call call = MESOS__V1__SCHEDULER__CALL__INIT;
  Mesos__V1__Scheduler__Call__Revive rev = MESOS__V1__SCHEDULER__CALL__REVIVE__INIT;
  call.has_type = 1;
  call.type = MESOS__V1__SCHEDULER__CALL__TYPE__REVIVE;
  rev.roles = (char **)roles;
  rev.n_roles = n_roles;
  call.revive = &rev;
  return mz_scheduler_call(s, &call, NULL, NULL, err, errlen);
}

int mz_scheduler_suppress(mz_scheduler *s, const char *const *roles, size_t n_roles, char *err, size_t errlen) {
  Mesos__V1__Scheduler__Call call = MESOS__V1__SCHEDULER__CALL__INIT;
  Mesos__V1__Scheduler__Call__Suppress sup = MESOS__V1__SCHEDULER__CALL__SUPPRESS__INIT;
  call.has_type = 1;
  call.type = MESOS__V1__SCHEDULER__CALL__TYPE__SUPPRESS;
  sup.roles = (char **)roles;
  sup.n_roles = n_roles;
  call.suppress = &sup;
  return mz_scheduler_call(s, &call, NULL, NULL, err, errlen);
}

int mz_scheduler_shutdown_executor(mz_scheduler *s, const char *executor_id, const char *agent_id, char *err,
                                   size_t errlen) {
  if (!executor_id || !*executor_id || !agent_id || !*agent_id) {
    snprintf(err, errlen, "SHUTDOWN needs an executor id and an agent id");
    return -1;
  }
  Mesos__V1__Scheduler__Call call = MESOS__V1__SCHEDULER__CALL__INIT;
  Mesos__V1__Scheduler__Call__Shutdown sh = MESOS__V1__SCHEDULER__CALL__SHUTDOWN__INIT;
  Mesos__V1__ExecutorID eid = MESOS__V1__EXECUTOR_ID__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  call.has_type = 1;
  call.type = MESOS__V1__SCHEDULER__CALL__TYPE__SHUTDOWN;
  eid.value = (char *)executor_id;
  aid.value = (char *)agent_id;
  sh.executor_id = &eid;
  sh.agent_id = &aid;
  call.shutdown = &sh;
  return mz_scheduler_call(s, &call, NULL, NULL, err, errlen);
}

int mz_scheduler_message(mz_scheduler *s, const char *agent_id, const char *executor_id, const void *data,
                         size_t len, char *err, size_t errlen) {
  if (!executor_id || !*executor_id || !agent_id || !*agent_id) {
    snprintf(err, errlen, "MESSAGE needs an executor id and an agent id");
    return -1;
  }
  Mesos__V1__Scheduler__Call call = MESOS__V1__SCHEDULER__CALL__INIT;
  Mesos__V1__Scheduler__Call__Message msg = MESOS__V1__SCHEDULER__CALL__MESSAGE__INIT;
  Mesos__V1__ExecutorID eid = MESOS__V1__EXECUTOR_ID__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  call.has_type = 1;
  call.type = MESOS__V1__SCHEDULER__CALL__TYPE__MESSAGE;
  eid.value = (char *)executor_id;
  aid.value = (char *)agent_id;
  msg.executor_id = &eid;
  msg.agent_id = &aid;
  msg.data.data = (uint8_t *)data;
  msg.data.len = len;
  call.message = &msg;
  return mz_scheduler_call(s, &call, NULL, NULL, err, errlen);
}

int mz_scheduler_teardown(mz_scheduler *s, mz_scheduler_done_cb done, void *arg, char *err, size_t errlen) {
  Mesos__V1__Scheduler__Call call = MESOS__V1__SCHEDULER__CALL__INIT;
  call.has_type = 1;
  call.type = MESOS__V1__SCHEDULER__CALL__TYPE__TEARDOWN;
  if (mz_scheduler_call(s, &call, done, arg, err, errlen) != 0) return -1;
  /* The master closes the stream after a teardown: do not come back. */
  s->running = 0;
  event_del(s->retry_ev);
  return 0;
}
