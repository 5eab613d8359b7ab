/* api_call: see api_call.h. */
#include "common/api_call.h"

#include <string.h>

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
