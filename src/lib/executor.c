/* executor: libmezzo's client of the Mesos v1 executor HTTP API; see
 * include/mezzo/executor.h for the contract.
 *
 * Two mz_http_clients to the agent: `sub` carries the SUBSCRIBE request whose
 * streamed response is the RecordIO event stream, `calls` carries UPDATE and
 * MESSAGE (each answered 202). The mz_executor owns both clients, the record
 * decoder, its copies of the config strings, the unacknowledged updates
 * (deep copies of the TaskStatus sent) and the unacknowledged tasks (deep copies
 * of the TaskInfos received in LAUNCH / LAUNCH_GROUP). */
#include "mezzo/executor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <utlist.h>

#include "common/codec.h"
#include "common/flags.h"
#include "common/http.h"
#include "common/log.h"
#include "common/recordio.h"
#include "common/util.h"

#define EX_MOD "executor-lib"
#define EX_MAX_EVENT_BYTES (64u << 20) /* one event record at most */
#define EX_MAX_ERROR_TEXT 1024         /* bytes of a refused SUBSCRIBE's body kept for the message */
#define EX_DEFAULT_RECOVERY_TIMEOUT (15 * 60.0)
/* Calls written at once on the calls connection: updates sent in one turn (a command
 * executor's TASK_STARTING and TASK_RUNNING) reach the agent together. */
#define EX_PIPELINE 16
#define EX_RECONNECT_MIN 0.2           /* seconds between attempts to reach a restarting agent, */
#define EX_RECONNECT_JITTER 0.3        /* plus up to this much */

typedef struct ex_update {
  uint8_t uuid[MZ_UUID_BYTES];
  Mesos__V1__TaskStatus *status; /* owned deep copy */
  struct ex_update *next;
} ex_update;

typedef struct ex_task {
  Mesos__V1__TaskInfo *task; /* owned deep copy */
  struct ex_task *next;
} ex_task;

struct mz_executor {
  struct event_base *base;
  char *host, *framework_id, *executor_id;
  int port;
  mz_content_type ct;
  mz_executor_callbacks cbs;
  void *arg;

  mz_http_client *sub;   /* the subscription connection */
  mz_http_client *calls; /* every other call */
  mz_http_call *sub_call;
  mz_recordio_decoder *dec;
  int sub_status;   /* HTTP status of the SUBSCRIBE answer, 0 until known */
  char *sub_errtext; /* body of a refused SUBSCRIBE (bounded) */
  size_t sub_errlen;
  int subscribed;
  char *agent_id;
  int checkpoint, ever_subscribed;
  double recovery_timeout;
  double disconnected_since; /* monotonic; 0 while connected */
  struct event *reconnect;

  ex_update *updates; /* unacknowledged, in the order sent */
  ex_task *tasks;     /* unacknowledged tasks */
};

/* ------------------------------------------------------------------ helpers */

static void on_reconnect(evutil_socket_t fd, short what, void *arg);

static void fill_ids(mz_executor *ex, Mesos__V1__Executor__Call *call, Mesos__V1__ExecutorID *eid,
                     Mesos__V1__FrameworkID *fid) {
  eid->value = ex->executor_id;
  fid->value = ex->framework_id;
  call->executor_id = eid;
  call->framework_id = fid;
}

static const char *ct_name(const mz_executor *ex) { return mz_content_type_name(ex->ct); }

/* ------------------------------------------------------------------ config */

int mz_executor_config_from_env(mz_executor_config *cfg, char *err, size_t errlen) {
  static char host[256];
  memset(cfg, 0, sizeof *cfg);
  cfg->shutdown_grace_period = 5.0;
  cfg->use_protobuf = 1;
  cfg->framework_id = getenv("MESOS_FRAMEWORK_ID");
  cfg->executor_id = getenv("MESOS_EXECUTOR_ID");
  const char *endpoint = getenv("MESOS_AGENT_ENDPOINT");
  if (!cfg->framework_id || !*cfg->framework_id) {
    snprintf(err, errlen, "MESOS_FRAMEWORK_ID is not set");
    return -1;
  }
  if (!cfg->executor_id || !*cfg->executor_id) {
    snprintf(err, errlen, "MESOS_EXECUTOR_ID is not set");
    return -1;
  }
  if (!endpoint || !*endpoint) {
    snprintf(err, errlen, "MESOS_AGENT_ENDPOINT is not set");
    return -1;
  }
  const char *colon = strrchr(endpoint, ':');
  char *end;
  errno = 0;
  long port = colon ? strtol(colon + 1, &end, 10) : 0;
  if (!colon || colon == endpoint || (size_t)(colon - endpoint) >= sizeof host || errno || *end || port <= 0 ||
      port > 65535) {
    snprintf(err, errlen, "MESOS_AGENT_ENDPOINT: expected host:port, got '%s'", endpoint);
    return -1;
  }
  memcpy(host, endpoint, (size_t)(colon - endpoint));
  host[colon - endpoint] = '\0';
  cfg->agent_host = host;
  cfg->agent_port = (int)port;
  cfg->agent_socket = getenv("MESOS_DOMAIN_SOCKET"); /* its length: mz_executor_new */
  if (cfg->agent_socket && !*cfg->agent_socket) cfg->agent_socket = NULL;
  cfg->directory = getenv("MESOS_DIRECTORY");
  cfg->sandbox = getenv("MESOS_SANDBOX");
  const char *grace = getenv("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD");
  if (grace && *grace && mz_parse_duration(grace, &cfg->shutdown_grace_period) != 0) {
    snprintf(err, errlen, "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: invalid duration '%s'", grace);
    return -1;
  }
  const char *ckpt = getenv("MESOS_CHECKPOINT");
  cfg->checkpoint = ckpt && (!strcmp(ckpt, "1") || !strcmp(ckpt, "true"));
  const char *rt = getenv("MESOS_RECOVERY_TIMEOUT");
  if (rt && *rt && mz_parse_duration(rt, &cfg->recovery_timeout) != 0) {
    snprintf(err, errlen, "MESOS_RECOVERY_TIMEOUT: invalid duration '%s'", rt);
    return -1;
  }
  const char *ct = getenv("MEZZO_EXECUTOR_CONTENT_TYPE");
  if (ct && *ct) {
    if (!strcmp(ct, "json") || !strcmp(ct, MZ_CT_JSON_NAME)) {
      cfg->use_protobuf = 0;
    } else if (!strcmp(ct, "protobuf") || !strcmp(ct, MZ_CT_PROTOBUF_NAME)) {
      cfg->use_protobuf = 1;
    } else {
      snprintf(err, errlen, "MEZZO_EXECUTOR_CONTENT_TYPE: expected json or protobuf, got '%s'", ct);
      return -1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ lifecycle */

mz_executor *mz_executor_new(struct event_base *base, const mz_executor_config *cfg,
                             const mz_executor_callbacks *cbs, void *arg, char *err, size_t errlen) {
  if (!base || !cfg || !cbs || !cbs->on_event || !cfg->agent_host || !cfg->framework_id || !cfg->executor_id ||
      cfg->agent_port <= 0 || cfg->agent_port > 65535) {
    snprintf(err, errlen, "mz_executor_new: missing agent endpoint, framework id, executor id or callbacks");
    return NULL;
  }
  mz_executor *ex = mz_calloc(1, sizeof *ex);
  ex->base = base;
  ex->host = mz_strdup(cfg->agent_host);
  ex->port = cfg->agent_port;
  ex->framework_id = mz_strdup(cfg->framework_id);
  ex->executor_id = mz_strdup(cfg->executor_id);
  ex->ct = cfg->use_protobuf ? MZ_CT_PROTOBUF : MZ_CT_JSON;
  ex->cbs = *cbs;
  ex->arg = arg;
  ex->checkpoint = cfg->checkpoint;
  ex->recovery_timeout = cfg->recovery_timeout > 0 ? cfg->recovery_timeout : EX_DEFAULT_RECOVERY_TIMEOUT;
  ex->reconnect = evtimer_new(base, on_reconnect, ex);
  ex->sub = mz_http_client_new(base, ex->host, ex->port);
  ex->calls = mz_http_client_new(base, ex->host, ex->port);
  if (!ex->sub || !ex->calls) {
    snprintf(err, errlen, "mz_executor_new: cannot create HTTP clients");
    mz_executor_free(ex);
    return NULL;
  }
  if (cfg->agent_socket && (mz_http_client_set_unix_path(ex->sub, cfg->agent_socket) != 0 ||
                            mz_http_client_set_unix_path(ex->calls, cfg->agent_socket) != 0)) {
    snprintf(err, errlen, "the agent's socket (MESOS_DOMAIN_SOCKET) '%s' must have 1 to %d characters",
             cfg->agent_socket, MZ_UNIX_PATH_MAX - 1);
    mz_executor_free(ex);
    return NULL;
  }
  mz_http_client_set_timeout(ex->sub, 0); /* the event stream lives as long as the executor */
  mz_http_client_set_timeout(ex->calls, 30);
  mz_http_client_set_pipeline(ex->calls, EX_PIPELINE);
  return ex;
}

void mz_executor_free(mz_executor *ex) {
  if (!ex) return;
  if (ex->sub) mz_http_client_free(ex->sub); /* drops the pending calls without callbacks */
  if (ex->calls) mz_http_client_free(ex->calls);
  if (ex->dec) mz_recordio_decoder_free(ex->dec);
  if (ex->reconnect) event_free(ex->reconnect);
  ex_update *u, *ut;
  LL_FOREACH_SAFE(ex->updates, u, ut) {
    protobuf_c_message_free_unpacked(&u->status->base, NULL);
    free(u);
  }
  ex_task *t, *tt;
  LL_FOREACH_SAFE(ex->tasks, t, tt) {
    protobuf_c_message_free_unpacked(&t->task->base, NULL);
    free(t);
  }
  free(ex->sub_errtext);
  free(ex->agent_id);
  free(ex->host);
  free(ex->framework_id);
  free(ex->executor_id);
  free(ex);
}

int mz_executor_subscribed(const mz_executor *ex) { return ex->subscribed; }
const char *mz_executor_agent_id(const mz_executor *ex) { return ex->agent_id; }
const char *mz_executor_framework_id(const mz_executor *ex) { return ex->framework_id; }
const char *mz_executor_id(const mz_executor *ex) { return ex->executor_id; }

size_t mz_executor_unacknowledged(const mz_executor *ex) {
  size_t n = 0;
  const ex_update *u;
  LL_FOREACH(ex->updates, u) n++;
  return n;
}

int mz_executor_is_unacknowledged(const mz_executor *ex, const uint8_t uuid[16]) {
  const ex_update *u;
  LL_FOREACH(ex->updates, u) {
    if (!memcmp(u->uuid, uuid, MZ_UUID_BYTES)) return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------ events */

static void remember_task(mz_executor *ex, const Mesos__V1__TaskInfo *task) {
  if (!task || !task->task_id) return;
  ex_task *t = mz_calloc(1, sizeof *t);
  t->task = mz_pb_dup(&task->base);
  if (!t->task) {
    free(t);
    return;
  }
  LL_APPEND(ex->tasks, t);
}

static void on_acknowledged(mz_executor *ex, const Mesos__V1__Executor__Event__Acknowledged *ack) {
  if (!ack || !ack->task_id || ack->uuid.len != MZ_UUID_BYTES) return;
  ex_update *u, *ut;
  LL_FOREACH_SAFE(ex->updates, u, ut) {
    if (!memcmp(u->uuid, ack->uuid.data, MZ_UUID_BYTES)) {
      LL_DELETE(ex->updates, u);
      protobuf_c_message_free_unpacked(&u->status->base, NULL);
      free(u);
      break;
    }
  }
  /* One acknowledged update acknowledges its task. */
  ex_task *t, *tt;
  LL_FOREACH_SAFE(ex->tasks, t, tt) {
    if (t->task->task_id && ack->task_id->value && !strcmp(t->task->task_id->value, ack->task_id->value)) {
      LL_DELETE(ex->tasks, t);
      protobuf_c_message_free_unpacked(&t->task->base, NULL);
      free(t);
    }
  }
}

static int on_record(void *arg, const uint8_t *rec, size_t len) {
  mz_executor *ex = arg;
  char err[256];
  Mesos__V1__Executor__Event *ev =
      (Mesos__V1__Executor__Event *)mz_pb_decode(&mesos__v1__executor__event__descriptor, ex->ct, rec, len, err,
                                                  sizeof err);
  if (!ev) {
    MZ_WARN(EX_MOD, "executor %s: dropping an undecodable event: %s", ex->executor_id, err);
    return 0;
  }
  switch (ev->type) {
    case MESOS__V1__EXECUTOR__EVENT__TYPE__SUBSCRIBED:
      ex->subscribed = 1;
      ex->ever_subscribed = 1;
      if (ex->disconnected_since > 0)
        MZ_INFO(EX_MOD, "executor %s: subscribed again after %.1fs without the agent", ex->executor_id,
                mz_monotonic() - ex->disconnected_since);
      ex->disconnected_since = 0;
      if (ev->subscribed && ev->subscribed->agent_info && ev->subscribed->agent_info->id &&
          ev->subscribed->agent_info->id->value) {
        free(ex->agent_id);
        ex->agent_id = mz_strdup(ev->subscribed->agent_info->id->value);
      }
      break;
    case MESOS__V1__EXECUTOR__EVENT__TYPE__LAUNCH:
      if (ev->launch) remember_task(ex, ev->launch->task);
      break;
    case MESOS__V1__EXECUTOR__EVENT__TYPE__LAUNCH_GROUP:
      if (ev->launch_group && ev->launch_group->task_group) {
        for (size_t i = 0; i < ev->launch_group->task_group->n_tasks; i++)
          remember_task(ex, ev->launch_group->task_group->tasks[i]);
      }
      break;
    case MESOS__V1__EXECUTOR__EVENT__TYPE__ACKNOWLEDGED:
      on_acknowledged(ex, ev->acknowledged);
      break;
    default:
      break;
  }
  ex->cbs.on_event(ex, ev, ex->arg);
  protobuf_c_message_free_unpacked(&ev->base, NULL);
  return 0;
}

/* The subscription ended (status: of the SUBSCRIBE answer, 0 if none). A checkpointing
 * executor that was subscribed keeps trying to reach its (restarting) agent until the
 * recovery timeout; otherwise, or after it, the caller is told. */
static void sub_lost(mz_executor *ex, const char *reason, int status) {
  ex->sub_call = NULL;
  ex->subscribed = 0;
  if (ex->checkpoint && ex->ever_subscribed && !(status >= 400 && status < 500)) {
    double now = mz_monotonic();
    if (ex->disconnected_since <= 0) {
      ex->disconnected_since = now;
      MZ_WARN(EX_MOD, "executor %s: lost the agent (%s); reconnecting for up to %gs", ex->executor_id, reason,
              ex->recovery_timeout);
    }
    if (now - ex->disconnected_since < ex->recovery_timeout) {
      uint8_t r[MZ_UUID_BYTES];
      mz_uuid_generate(r);
      double delay = EX_RECONNECT_MIN + EX_RECONNECT_JITTER * (double)r[0] / 255.0;
      struct timeval tv = {0, (suseconds_t)(delay * 1e6)};
      evtimer_add(ex->reconnect, &tv);
      return;
    }
    MZ_ERROR(EX_MOD, "executor %s: the agent did not come back within the recovery timeout (%gs)", ex->executor_id,
             ex->recovery_timeout);
  }
  if (ex->cbs.on_disconnected) ex->cbs.on_disconnected(ex, reason, ex->arg);
}

static void sub_on_headers(mz_http_call *c, int status, void *arg) {
  mz_executor *ex = arg;
  ex->sub_status = status;
}

static void sub_on_data(mz_http_call *c, const uint8_t *data, size_t len, void *arg) {
  mz_executor *ex = arg;
  if (ex->sub_status != 200) {
    size_t room = EX_MAX_ERROR_TEXT - ex->sub_errlen;
    if (len > room) len = room;
    if (!len) return;
    ex->sub_errtext = mz_realloc(ex->sub_errtext, ex->sub_errlen + len + 1);
    memcpy(ex->sub_errtext + ex->sub_errlen, data, len);
    ex->sub_errlen += len;
    ex->sub_errtext[ex->sub_errlen] = '\0';
    return;
  }
  char err[256];
  if (mz_recordio_feed(ex->dec, data, len, on_record, ex, err, sizeof err) < 0) {
    MZ_WARN(EX_MOD, "executor %s: bad event stream from the agent: %s", ex->executor_id, err);
    mz_http_call_cancel(c); /* no on_complete after a cancel: report here */
    sub_lost(ex, err, 0);
  }
}

static void sub_on_complete(mz_http_call *c, int status, const uint8_t *body, size_t len, const char *err,
                            void *arg) {
  mz_executor *ex = arg;
  char reason[EX_MAX_ERROR_TEXT + 64];
  if (status == 0)
    snprintf(reason, sizeof reason, "connection to the agent failed: %s", err ? err : "closed");
  else if (status != 200)
    snprintf(reason, sizeof reason, "SUBSCRIBE refused with %d: %s", status, ex->sub_errtext ? ex->sub_errtext : "");
  else
    snprintf(reason, sizeof reason, "the agent ended the event stream");
  sub_lost(ex, reason, status);
}

/* ------------------------------------------------------------------ calls */

static void on_reconnect(evutil_socket_t fd, short what, void *arg) {
  mz_executor *ex = arg;
  char err[256];
  if (ex->sub_call) return;
  if (mz_executor_subscribe(ex, err, sizeof err) != 0) sub_lost(ex, err, 0);
}

int mz_executor_subscribe(mz_executor *ex, char *err, size_t errlen) {
  if (ex->sub_call) {
    snprintf(err, errlen, "already subscribed or subscribing");
    return -1;
  }
  Mesos__V1__Executor__Call call = MESOS__V1__EXECUTOR__CALL__INIT;
  Mesos__V1__ExecutorID eid = MESOS__V1__EXECUTOR_ID__INIT;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  fill_ids(ex, &call, &eid, &fid);
  call.has_type = 1;
  call.type = MESOS__V1__EXECUTOR__CALL__TYPE__SUBSCRIBE;

  Mesos__V1__Executor__Call__Subscribe sub = MESOS__V1__EXECUTOR__CALL__SUBSCRIBE__INIT;
  size_t nt = 0, nu = 0;
  const ex_task *t;
  const ex_update *u;
  LL_FOREACH(ex->tasks, t) nt++;
  LL_FOREACH(ex->updates, u) nu++;
  Mesos__V1__TaskInfo **tasks = mz_calloc(nt + 1, sizeof *tasks);
  Mesos__V1__Executor__Call__Update *upd = mz_calloc(nu + 1, sizeof *upd);
  Mesos__V1__Executor__Call__Update **updp = mz_calloc(nu + 1, sizeof *updp);
  size_t i = 0;
  LL_FOREACH(ex->tasks, t) tasks[i++] = t->task;
  i = 0;
  LL_FOREACH(ex->updates, u) {
    mesos__v1__executor__call__update__init(&upd[i]);
    upd[i].status = u->status;
    updp[i] = &upd[i];
    i++;
  }
  sub.n_unacknowledged_tasks = nt;
  sub.unacknowledged_tasks = tasks;
  sub.n_unacknowledged_updates = nu;
  sub.unacknowledged_updates = updp;
  call.subscribe = &sub;

  size_t len;
  uint8_t *body = mz_pb_encode(&call.base, ex->ct, &len);
  free(tasks);
  free(upd);
  free(updp);
  if (!body) {
    snprintf(err, errlen, "cannot encode SUBSCRIBE");
    return -1;
  }
  if (ex->dec) mz_recordio_decoder_free(ex->dec);
  ex->dec = mz_recordio_decoder_new(EX_MAX_EVENT_BYTES);
  free(ex->sub_errtext);
  ex->sub_errtext = NULL;
  ex->sub_errlen = 0;
  ex->sub_status = 0;
  const char *headers[] = {"Content-Type", ct_name(ex), "Accept", ct_name(ex), "Connection", "keep-alive", NULL};
  static const mz_http_call_cbs cbs = {sub_on_complete, sub_on_headers, sub_on_data};
  ex->sub_call = mz_http_client_request(ex->sub, "POST", MZ_EXECUTOR_ENDPOINT_PATH, headers, body, (ssize_t)len,
                                        &cbs, ex);
  free(body);
  if (!ex->sub_call) {
    snprintf(err, errlen, "cannot send SUBSCRIBE to %s:%d", ex->host, ex->port);
    return -1;
  }
  return 0;
}

static void call_on_complete(mz_http_call *c, int status, const uint8_t *body, size_t len, const char *err,
                             void *arg) {
  const char *what = arg;
  if (status == 202) return;
  if (status == 0)
    MZ_WARN(EX_MOD, "%s call failed: %s", what, err ? err : "connection closed");
  else
    MZ_WARN(EX_MOD, "%s call answered %d: %.*s", what, status, (int)(len > 512 ? 512 : len),
            body ? (const char *)body : "");
}

static int send_call(mz_executor *ex, Mesos__V1__Executor__Call *call, const char *what, char *err, size_t errlen) {
  size_t len;
  uint8_t *body = mz_pb_encode(&call->base, ex->ct, &len);
  if (!body) {
    snprintf(err, errlen, "cannot encode %s", what);
    return -1;
  }
  const char *headers[] = {"Content-Type", ct_name(ex), "Accept", ct_name(ex), NULL};
  static const mz_http_call_cbs cbs = {call_on_complete, NULL, NULL};
  mz_http_call *c =
      mz_http_client_request(ex->calls, "POST", MZ_EXECUTOR_ENDPOINT_PATH, headers, body, (ssize_t)len, &cbs,
                             (void *)what);
  free(body);
  if (!c) {
    snprintf(err, errlen, "cannot send %s to %s:%d", what, ex->host, ex->port);
    return -1;
  }
  return 0;
}

int mz_executor_update(mz_executor *ex, const Mesos__V1__TaskStatus *status, uint8_t uuid_out[16], char *err,
                       size_t errlen) {
  if (!status || !status->task_id || !status->task_id->value) {
    snprintf(err, errlen, "an update needs a task id");
    return -1;
  }
  Mesos__V1__TaskStatus *st = mz_pb_dup(&status->base);
  if (!st) {
    snprintf(err, errlen, "cannot copy the status");
    return -1;
  }
  /* Complete the copy; its fields are all owned by protobuf-c's allocator, so what we
   * add is allocated the same way (malloc) and freed by free_unpacked. */
  ex_update *u = mz_calloc(1, sizeof *u);
  mz_uuid_generate(u->uuid);
  if (st->has_uuid) free(st->uuid.data);
  st->has_uuid = 1;
  st->uuid.len = MZ_UUID_BYTES;
  st->uuid.data = mz_malloc(MZ_UUID_BYTES);
  memcpy(st->uuid.data, u->uuid, MZ_UUID_BYTES);
  st->has_source = 1;
  st->source = MESOS__V1__TASK_STATUS__SOURCE__SOURCE_EXECUTOR;
  st->has_timestamp = 1;
  st->timestamp = mz_now();
  if (!st->executor_id) {
    st->executor_id = mz_malloc(sizeof *st->executor_id);
    mesos__v1__executor_id__init(st->executor_id);
    st->executor_id->value = mz_strdup(ex->executor_id);
  }
  if (!st->agent_id && ex->agent_id) {
    st->agent_id = mz_malloc(sizeof *st->agent_id);
    mesos__v1__agent_id__init(st->agent_id);
    st->agent_id->value = mz_strdup(ex->agent_id);
  }
  u->status = st;

  Mesos__V1__Executor__Call call = MESOS__V1__EXECUTOR__CALL__INIT;
  Mesos__V1__ExecutorID eid = MESOS__V1__EXECUTOR_ID__INIT;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  fill_ids(ex, &call, &eid, &fid);
  call.has_type = 1;
  call.type = MESOS__V1__EXECUTOR__CALL__TYPE__UPDATE;
  Mesos__V1__Executor__Call__Update upd = MESOS__V1__EXECUTOR__CALL__UPDATE__INIT;
  upd.status = st;
  call.update = &upd;
  if (send_call(ex, &call, "UPDATE", err, errlen) != 0) {
    protobuf_c_message_free_unpacked(&st->base, NULL);
    free(u);
    return -1;
  }
  LL_APPEND(ex->updates, u);
  if (uuid_out) memcpy(uuid_out, u->uuid, MZ_UUID_BYTES);
  return 0;
}

int mz_executor_message(mz_executor *ex, const void *data, size_t len, char *err, size_t errlen) {
  Mesos__V1__Executor__Call call = MESOS__V1__EXECUTOR__CALL__INIT;
  Mesos__V1__ExecutorID eid = MESOS__V1__EXECUTOR_ID__INIT;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  fill_ids(ex, &call, &eid, &fid);
  call.has_type = 1;
  call.type = MESOS__V1__EXECUTOR__CALL__TYPE__MESSAGE;
  Mesos__V1__Executor__Call__Message msg = MESOS__V1__EXECUTOR__CALL__MESSAGE__INIT;
  msg.data.data = (uint8_t *)data;
  msg.data.len = len;
  call.message = &msg;
  return send_call(ex, &call, "MESSAGE", err, errlen);
}
