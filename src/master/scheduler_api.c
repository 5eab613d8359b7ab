/* scheduler_api: see scheduler_api.h. */
#include "master/scheduler_api.h"

#include <stdio.h>
#include <string.h>

#include "common/api_call.h"
#include "common/log.h"
#include "master/accept.h"
#include "master/calls.h"
#include "master/framework.h"
#include "master/inverse_offer.h"
#include "master/pbutil.h"
#include "master/status_update.h"
#include "master/validation.h"

#define CALL(t) MESOS__V1__SCHEDULER__CALL__TYPE__##t

static void bad_request(mz_master *m, mz_http_req *req, const char *fmt_prefix, const char *msg) {
  m->metrics.invalid_scheduler_calls++;
  mz_http_reply_error(req, 400, "%s%s", fmt_prefix, msg);
}

static void handle(mz_http_req *req, void *arg) {
  mz_master *m = arg;
  mz_content_type ct;
  if (mz_api_post_content_type(req, &ct) != 0) return;
  Mesos__V1__Scheduler__Call *call =
      (Mesos__V1__Scheduler__Call *)mz_api_decode_body(req, &mesos__v1__scheduler__call__descriptor, ct);
  if (!call) {
    m->metrics.invalid_scheduler_calls++;
    return;
  }
  char err[1024];
  if (mz_validate_call(call, err, sizeof err) != 0) {
    bad_request(m, req, "Failed to validate scheduler::Call: ", err);
    goto done;
  }

  if (call->type == CALL(SUBSCRIBE)) {
    mz_content_type accept;
    if (mz_api_accept(req, MZ_CT_JSON, &accept) != 0) goto done;
    if (mz_http_req_header(req, "Mesos-Stream-Id")) {
      bad_request(m, req, "", "Subscribe calls should not include the 'Mesos-Stream-Id' header");
      goto done;
    }
    mz_framework_subscribe(m, req, accept, call->subscribe);
    goto done;
  }

  mz_framework *fw = mz_framework_find(m, call->framework_id->value);
  if (!fw || !fw->connected) {
    mz_http_reply_error(req, 403, "Framework is not subscribed");
    goto done;
  }
  const char *sid = mz_http_req_header(req, "Mesos-Stream-Id");
  if (!sid) {
    bad_request(m, req, "", "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
    goto done;
  }
  if (strcmp(sid, fw->stream_id) != 0) {
    mz_http_reply_error(req, 403,
                        "The stream ID '%.128s' included in this request didn't match the stream ID currently "
                        "associated with framework ID %s",
                        sid, fw->id);
    goto done;
  }

  switch (call->type) {
    case CALL(TEARDOWN): mz_call_teardown(fw); break;
    case CALL(ACCEPT): mz_accept(fw, call->accept); break;
    case CALL(DECLINE): mz_decline(fw, call->decline); break;
    case CALL(REVIVE): mz_call_revive(fw, call->revive); break;
    case CALL(SUPPRESS): mz_call_suppress(fw, call->suppress); break;
    case CALL(KILL): mz_call_kill(fw, call->kill); break;
    case CALL(SHUTDOWN): mz_call_shutdown(fw, call->shutdown); break;
    case CALL(ACKNOWLEDGE): mz_status_acknowledge(fw, call->acknowledge); break;
    case CALL(RECONCILE): mz_call_reconcile(fw, call->reconcile); break;
    case CALL(MESSAGE): mz_call_message(fw, call->message); break;
    case CALL(ACCEPT_INVERSE_OFFERS):
      mz_iofs_answer(fw, call->accept_inverse_offers->inverse_offer_ids,
                     call->accept_inverse_offers->n_inverse_offer_ids, call->accept_inverse_offers->filters, true);
      break;
    case CALL(DECLINE_INVERSE_OFFERS):
      mz_iofs_answer(fw, call->decline_inverse_offers->inverse_offer_ids,
                     call->decline_inverse_offers->n_inverse_offer_ids, call->decline_inverse_offers->filters, false);
      break;
    case CALL(UPDATE_FRAMEWORK):
      if (mz_call_update_framework(fw, call->update_framework, err, sizeof err) != 0) {
        bad_request(m, req, "", err);
      } else {
        mz_http_reply(req, 200, NULL, NULL, 0);
      }
      goto done;
    default:
      /* REQUEST, operation reconciliation and acknowledgement: nothing to do here. */
      MZ_INFO("master", "framework %s: %s call has no effect on this master", fw->id,
              mz_enum_name(&mesos__v1__scheduler__call__type__descriptor, call->type));
      break;
  }
  mz_http_reply(req, 202, NULL, NULL, 0);
done:
  protobuf_c_message_free_unpacked(&call->base, NULL);
}

void mz_scheduler_api_route(mz_master *m) {
  mz_http_server_route(m->http, MZ_SCHEDULER_API_PATH, MZ_HTTP_ROUTE_BULK, handle, m);
  /* where Mesos's scheduler library posts: the master pid's id, then the path */
  mz_http_server_route(m->http, "/master" MZ_SCHEDULER_API_PATH, MZ_HTTP_ROUTE_BULK, handle, m);
}
