/* executor_api: the agent's side of the Mesos v1 executor HTTP API,
 * POST /api/v1/executor. SUBSCRIBE answers 200 with a chunked RecordIO stream of
 * Events (SUBSCRIBED first, then LAUNCH for the queued tasks); UPDATE and MESSAGE
 * answer 202; HEARTBEAT 202. Errors as Mesos: 405 for another method, 400 for a
 * missing Content-Type, an undecodable or invalid call, an unknown framework or
 * executor; 415 for an unsupported Content-Type; 406 when Accept allows neither
 * JSON nor protobuf; 403 for calls from an executor that has not subscribed.
 * The stream (mz_http_req) is owned by the http server; the executor record
 * points at it until the connection closes or mz_executor_api_close ends it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "agent/agent.h"
#include "common/api_call.h"
#include "common/http.h"
#include "common/log.h"

#define API_PATH "/api/v1/executor"

void mz_executor_api_close(mz_ag_executor *ex) {
  if (!ex->stream) return;
  mz_http_req *r = ex->stream;
  ex->stream = NULL;
  mz_http_stream_end(r);
}

static void on_stream_close(mz_http_req *r, void *arg) {
  mz_ag_executor *ex = arg;
  if (ex->stream != r) return;
  ex->stream = NULL;
  MZ_INFO(MZ_AGENT_MOD, "executor %s of framework %s disconnected", ex->id, ex->fw->id);
}

static void send_subscribed(mz_agent *a, mz_ag_executor *ex) {
  Mesos__V1__Executor__Event ev = MESOS__V1__EXECUTOR__EVENT__INIT;
  Mesos__V1__Executor__Event__Subscribed sub = MESOS__V1__EXECUTOR__EVENT__SUBSCRIBED__INIT;
  Mesos__V1__ContainerID cid = MESOS__V1__CONTAINER_ID__INIT;
  mz_agent_info_buf info;
  mz_agent_info_fill(a, &info);
  cid.value = ex->container_id;
  sub.executor_info = ex->info;
  sub.framework_info = ex->fw->info;
  sub.agent_info = &info.info;
  sub.container_id = &cid;
  ev.has_type = 1;
  ev.type = MESOS__V1__EXECUTOR__EVENT__TYPE__SUBSCRIBED;
  ev.subscribed = &sub;
  mz_ag_exec_send_event(a, ex, &ev);
  mz_agent_info_release(&info);
}

static void subscribe(mz_agent *a, mz_http_req *r, mz_ag_executor *ex, mz_content_type accept,
                      const Mesos__V1__Executor__Call *call) {
  if (ex->state == MZ_EXEC_TERMINATED) {
    mz_http_reply_error(r, 400, "Executor has terminated");
    return;
  }
  if (ex->stream) {
    MZ_INFO(MZ_AGENT_MOD, "executor %s subscribed again: closing its previous stream", ex->id);
    mz_executor_api_close(ex);
  }
  if (mz_http_stream_start(r, 200, mz_content_type_name(accept)) != 0) return;
  ex->stream = r;
  ex->stream_ct = accept;
  mz_http_req_on_close(r, on_stream_close, ex);
  if (ex->state == MZ_EXEC_REGISTERING) {
    ex->state = MZ_EXEC_RUNNING;
    if (ex->reg_timer) evtimer_del(ex->reg_timer);
  }
  MZ_INFO(MZ_AGENT_MOD, "executor %s of framework %s subscribed (%s, from %s)", ex->id, ex->fw->id,
          mz_content_type_name(accept), mz_http_req_peer(r));
  send_subscribed(a, ex);
  if (call->subscribe) {
    /* Updates the executor sent while disconnected (duplicates are recognized by uuid). */
    for (size_t i = 0; i < call->subscribe->n_unacknowledged_updates; i++) {
      const Mesos__V1__Executor__Call__Update *u = call->subscribe->unacknowledged_updates[i];
      char err[256];
      if (u && u->status && mz_agent_executor_update(a, ex, u->status, err, sizeof err) != 0)
        MZ_WARN(MZ_AGENT_MOD, "executor %s: unacknowledged update dropped: %s", ex->id, err);
    }
  }
  if (ex->recovered && ex->state == MZ_EXEC_RUNNING) mz_agent_executor_reregistered(a, ex, call->subscribe);
  if (ex->state == MZ_EXEC_TERMINATING) {
    Mesos__V1__Executor__Event ev = MESOS__V1__EXECUTOR__EVENT__INIT;
    ev.has_type = 1;
    ev.type = MESOS__V1__EXECUTOR__EVENT__TYPE__SHUTDOWN;
    mz_ag_exec_send_event(a, ex, &ev);
    return;
  }
  mz_ag_exec_flush_queue(a, ex);
}

static void forward_message(mz_agent *a, mz_ag_executor *ex, const ProtobufCBinaryData *data) {
  Mezzo__Internal__AgentCall call = MEZZO__INTERNAL__AGENT_CALL__INIT;
  Mezzo__Internal__AgentCall__ExecutorMessage msg = MEZZO__INTERNAL__AGENT_CALL__EXECUTOR_MESSAGE__INIT;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  Mesos__V1__ExecutorID eid = MESOS__V1__EXECUTOR_ID__INIT;
  fid.value = ex->fw->id;
  eid.value = ex->id;
  msg.framework_id = &fid;
  msg.executor_id = &eid;
  msg.data = *data;
  call.type = MEZZO__INTERNAL__AGENT_CALL__TYPE__EXECUTOR_MESSAGE;
  call.executor_message = &msg;
  if (mz_master_link_send(a->link, &call) != 0)
    MZ_WARN(MZ_AGENT_MOD, "dropping a message from executor %s: not connected to the master", ex->id);
}

static void handle(mz_http_req *r, void *arg) {
  mz_agent *a = arg;
  mz_content_type ct;
  if (mz_api_post_content_type(r, &ct) != 0) return;
  Mesos__V1__Executor__Call *call =
      (Mesos__V1__Executor__Call *)mz_api_decode_body(r, &mesos__v1__executor__call__descriptor, ct);
  if (!call) return;
  char err[512];
  if (!call->has_type || call->type == MESOS__V1__EXECUTOR__CALL__TYPE__UNKNOWN) {
    mz_http_reply_error(r, 400, "Failed to validate Executor::Call: Expecting 'type' to be present");
    goto out;
  }
  if (call->type == MESOS__V1__EXECUTOR__CALL__TYPE__HEARTBEAT) {
    mz_http_reply(r, 202, NULL, NULL, 0);
    goto out;
  }
  if (!call->framework_id || !call->framework_id->value || !call->executor_id || !call->executor_id->value) {
    mz_http_reply_error(r, 400, "Failed to validate Executor::Call: framework_id and executor_id are required");
    goto out;
  }
  mz_content_type accept = MZ_CT_JSON;
  if (call->type == MESOS__V1__EXECUTOR__CALL__TYPE__SUBSCRIBE && mz_api_accept(r, MZ_CT_JSON, &accept) != 0)
    goto out;
  mz_ag_framework *fw = mz_agent_framework(a, call->framework_id->value);
  if (!fw) {
    mz_http_reply_error(r, 400, "Framework cannot be found");
    goto out;
  }
  mz_ag_executor *ex = mz_agent_executor(fw, call->executor_id->value);
  if (!ex) {
    mz_http_reply_error(r, 400, "Executor cannot be found");
    goto out;
  }
  if (ex->direct) {
    mz_http_reply_error(r, 403, "Executor %s is the agent itself (a direct command task): it takes no calls",
                        ex->id);
    goto out;
  }
  if (ex->state == MZ_EXEC_REGISTERING && call->type != MESOS__V1__EXECUTOR__CALL__TYPE__SUBSCRIBE) {
    mz_http_reply_error(r, 403, "Executor is not subscribed");
    goto out;
  }
  switch (call->type) {
    case MESOS__V1__EXECUTOR__CALL__TYPE__SUBSCRIBE:
      subscribe(a, r, ex, accept, call);
      break;
    case MESOS__V1__EXECUTOR__CALL__TYPE__UPDATE:
      if (!call->update || !call->update->status) {
        mz_http_reply_error(r, 400, "Failed to validate Executor::Call: Expecting 'update' to be present");
        break;
      }
      if (mz_agent_executor_update(a, ex, call->update->status, err, sizeof err) != 0) {
        mz_http_reply_error(r, 400, "Failed to validate Executor::Call: %s", err);
        break;
      }
      mz_http_reply(r, 202, NULL, NULL, 0);
      break;
    case MESOS__V1__EXECUTOR__CALL__TYPE__MESSAGE:
      if (!call->message) {
        mz_http_reply_error(r, 400, "Failed to validate Executor::Call: Expecting 'message' to be present");
        break;
      }
      forward_message(a, ex, &call->message->data);
      mz_http_reply(r, 202, NULL, NULL, 0);
      break;
    default:
      mz_http_reply_error(r, 400, "Failed to validate Executor::Call: unknown call type %d", (int)call->type);
      break;
  }
out:
  protobuf_c_message_free_unpacked(&call->base, NULL);
}

/* Also at /slave(1)/api/v1/executor, where Mesos's executor library posts (the id of
 * MESOS_SLAVE_PID before the path). */
void mz_executor_api_register(mz_agent *a, mz_http_server *s) { mz_agent_route(s, API_PATH, handle, a); }

static void refuse_on_socket(mz_http_req *r, void *arg) {
  (void)arg;
  mz_http_reply_error(r, 403, "only %s and /api/v1 (also under /slave(1)) are served on the executor socket",
                      API_PATH);
}

int mz_executor_socket_open(mz_agent *a, const char *path, char *err, size_t errlen) {
  mz_http_server *s = mz_http_server_new(a->base, NULL);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  mz_executor_api_register(a, s);
  mz_agent_operator_api_route(a, s);
  mz_http_server_route(s, "/", MZ_HTTP_ROUTE_PREFIX, refuse_on_socket, NULL);
  if (mz_http_server_listen_unix(s, path, 0666, err, errlen) != 0) {
    mz_http_server_free(s);
    return -1;
  }
  a->executor_socket_http = s;
  a->executor_socket = mz_strdup(path);
  return 0;
}

void mz_executor_socket_close(mz_agent *a) {
  mz_http_server_free(a->executor_socket_http); /* removes the socket's file */
  a->executor_socket_http = NULL;
  free(a->executor_socket);
  a->executor_socket = NULL;
}
