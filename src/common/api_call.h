/* api_call: what every v1 API endpoint (scheduler and operator on the master,
 * executor and operator on the agent, the agent link) checks of a request before
 * it reads the call, with Mesos's status codes and messages:
 *   another method than POST           405, with Allow: POST
 *   no Content-Type                    400
 *   a type other than JSON or protobuf 415
 *   a body that does not decode        400 "Failed to parse body into JSON: <why>",
 *                                      "Failed to convert JSON into Call protobuf: <why>" or
 *                                      "Failed to parse body into Call protobuf: <why>"
 *   an Accept that allows neither      406
 * Each function replies the error itself and then returns -1 (or NULL); the caller
 * just returns. */
#ifndef MZ_API_CALL_H
#define MZ_API_CALL_H

#include "common/codec.h"
#include "common/http.h"
#include "mesos/v1/mesos.pb-c.h"

/* The content type of a POST. 0, or -1 after replying 405, 400 or 415. */
int mz_api_post_content_type(mz_http_req *req, mz_content_type *ct);

/* The request's body decoded as desc (free with protobuf_c_message_free_unpacked),
 * or NULL after replying 400. */
ProtobufCMessage *mz_api_decode_body(mz_http_req *req, const ProtobufCMessageDescriptor *desc, mz_content_type ct);

/* The type to answer in, from Accept (def when absent or any). 0, or -1 after replying 406. */
int mz_api_accept(mz_http_req *req, mz_content_type def, mz_content_type *accept);

/* 200 with msg encoded as ct (500 when it cannot be encoded). */
void mz_api_reply(mz_http_req *req, mz_content_type ct, const ProtobufCMessage *msg);

/* SET_LOGGING_LEVEL of the operator APIs (master and agent), as Mesos: level > 0 is
 * DEBUG, 0 the process's own level (INFO when that was DEBUG), for the duration;
 * then the level from before comes back (one timer for the process, on base).
 * module names the process in the log. 0, or -1 with err (the caller answers 400):
 * no duration, or one not in (0, MZ_API_MAX_LOG_SECONDS]. */
#define MZ_API_MAX_LOG_SECONDS 31536000.0 /* a year */
struct event_base;
int mz_api_set_logging_level(struct event_base *base, const char *module, uint32_t level,
                             const Mesos__V1__DurationInfo *duration, char *err, size_t errlen);
/* Frees the revert timer (at exit). */
void mz_api_logging_level_free(void);

#endif
