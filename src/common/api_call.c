/* api_call: see api_call.h. */
#include "common/api_call.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"

int mz_api_post_content_type(mz_http_req *req, mz_content_type *ct) {
  if (strcmp(mz_http_req_method(req), "POST") != 0) {
    mz_http_req_add_header(req, "Allow", "POST");
    mz_http_reply_error(req, 405, "Expecting 'POST', received '%s'", mz_http_req_method(req));
    return -1;
  }
  const char *cth = mz_http_req_header(req, "Content-Type");
  if (!cth || !*cth) {
    mz_http_reply_error(req, 400, "Expecting 'Content-Type' to be present");
    return -1;
  }
  if (mz_content_type_parse(cth, ct) != 0) {
    mz_http_reply_error(req, 415, "Expecting 'Content-Type' of %s or %s", MZ_CT_JSON_NAME, MZ_CT_PROTOBUF_NAME);
    return -1;
  }
  return 0;
}

ProtobufCMessage *mz_api_decode_body(mz_http_req *req, const ProtobufCMessageDescriptor *desc, mz_content_type ct) {
  size_t len = 0;
  const uint8_t *body = mz_http_req_body(req, &len);
  char err[1024];
  if (ct == MZ_CT_PROTOBUF) {
    ProtobufCMessage *msg = mz_pb_decode(desc, ct, body, len, err, sizeof err);
    if (!msg) mz_http_reply_error(req, 400, "Failed to parse body into Call protobuf: %s", err);
    return msg;
  }
  json_error_t je;
  json_t *j = json_loadb((const char *)body, len, 0, &je);
  if (!j) {
    mz_http_reply_error(req, 400, "Failed to parse body into JSON: %s (line %d, column %d)", je.text, je.line,
                        je.column);
    return NULL;
  }
  ProtobufCMessage *msg = mz_pb_from_json(desc, j, err, sizeof err);
  json_decref(j);
  if (!msg) mz_http_reply_error(req, 400, "Failed to convert JSON into Call protobuf: %s", err);
  return msg;
}

int mz_api_accept(mz_http_req *req, mz_content_type def, mz_content_type *accept) {
  if (mz_accept_parse(mz_http_req_header(req, "Accept"), def, accept) == 0) return 0;
  mz_http_reply_error(req, 406, "Expecting 'Accept' to allow '%s' or '%s'", MZ_CT_PROTOBUF_NAME, MZ_CT_JSON_NAME);
  return -1;
}

void mz_api_reply(mz_http_req *req, mz_content_type ct, const ProtobufCMessage *msg) {
  size_t len;
  uint8_t *buf = mz_pb_encode(msg, ct, &len);
  if (!buf) {
    mz_http_reply_error(req, 500, "Cannot encode the response");
    return;
  }
  mz_http_reply(req, 200, mz_content_type_name(ct), buf, len);
  free(buf);
}

static struct event *log_revert_ev;
static mz_log_level log_saved;
static const char *log_module;

static void on_log_revert(evutil_socket_t fd, short what, void *arg) {
  mz_log_set_level(log_saved);
  MZ_INFO(log_module, "logging level reverted to %s", mz_log_level_name(log_saved));
}

int mz_api_set_logging_level(struct event_base *base, const char *module, uint32_t level,
                             const Mesos__V1__DurationInfo *duration, char *err, size_t errlen) {
  if (!duration) {
    snprintf(err, errlen, "Expecting 'set_logging_level' with 'level' and 'duration'");
    return -1;
  }
  double secs = (double)duration->nanoseconds / 1e9;
  if (!(secs > 0) || secs > MZ_API_MAX_LOG_SECONDS) {
    snprintf(err, errlen, "'set_logging_level.duration' must be positive and at most a year");
    return -1;
  }
  log_module = module;
  if (!log_revert_ev) {
    log_saved = mz_log_get_level();
    log_revert_ev = evtimer_new(base, on_log_revert, NULL);
  } else if (!evtimer_pending(log_revert_ev, NULL)) {
    log_saved = mz_log_get_level();
  }
  mz_log_set_level(level > 0 ? MZ_LOG_DEBUG : log_saved == MZ_LOG_DEBUG ? MZ_LOG_INFO : log_saved);
  struct timeval tv = {(time_t)secs, (suseconds_t)((secs - (double)(time_t)secs) * 1e6)};
  evtimer_add(log_revert_ev, &tv);
  MZ_INFO(module, "logging level set to %s for %.0f s", mz_log_level_name(mz_log_get_level()), secs);
  return 0;
}

void mz_api_logging_level_free(void) {
  if (log_revert_ev) event_free(log_revert_ev);
  log_revert_ev = NULL;
}
