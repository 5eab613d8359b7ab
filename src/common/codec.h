/* codec: one generic JSON <-> protobuf-c mapping driven by the message
 * descriptors, with the mapping Mesos uses on its HTTP APIs:
 *   - JSON keys are the .proto field names (snake_case, not camelCase);
 *   - enums are written by value name, and read by name (or by number);
 *   - bytes are base64 (standard alphabet, with padding);
 *   - 64-bit integers are written as JSON numbers and read from numbers or decimal strings;
 *   - repeated fields are arrays; a field set to null is absent; unknown fields are ignored;
 *   - a missing required field, a wrong JSON type, an unknown enum name or an
 *     out-of-range number is an error whose message names the field path
 *     ("framework_info.user: missing required field").
 * Messages returned by the decoders are laid out exactly as protobuf-c's
 * unpack lays them out: free them with protobuf_c_message_free_unpacked(m, NULL). */
#ifndef MZ_CODEC_H
#define MZ_CODEC_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { MZ_CT_JSON = 0, MZ_CT_PROTOBUF = 1 } mz_content_type;

#define MZ_CT_JSON_NAME "application/json"
#define MZ_CT_PROTOBUF_NAME "application/x-protobuf"

/* Content-Type of a request: NULL, empty or unsupported -> -1 (callers answer 415).
 * Accepts parameters ("application/json; charset=utf-8"). 0 or -1. */
int mz_content_type_parse(const char *header, mz_content_type *out);
/* Accept header: NULL, empty or "*" + "/" + "*" -> def; else the first supported type listed; -1 if none (406). */
int mz_accept_parse(const char *header, mz_content_type def, mz_content_type *out);
const char *mz_content_type_name(mz_content_type ct);

/* Message -> JSON object (new reference); NULL only on allocation failure. */
json_t *mz_pb_to_json(const ProtobufCMessage *msg);
/* JSON object -> message; NULL with a message in err. */
ProtobufCMessage *mz_pb_from_json(const ProtobufCMessageDescriptor *desc, const json_t *json, char *err,
                                  size_t errlen);

/* Serializes msg as JSON (compact, one line, no trailing newline) or protobuf into a
 * malloc'd buffer; *len receives its length. NULL on allocation failure. */
uint8_t *mz_pb_encode(const ProtobufCMessage *msg, mz_content_type ct, size_t *len);
/* Parses buf as JSON text or protobuf bytes into a message of type desc; NULL with err. */
ProtobufCMessage *mz_pb_decode(const ProtobufCMessageDescriptor *desc, mz_content_type ct, const uint8_t *buf,
                               size_t len, char *err, size_t errlen);

/* Deep copy of a message through the wire format, laid out as unpack lays it out
 * (free with protobuf_c_message_free_unpacked(copy, NULL)). NULL only if msg is
 * NULL; out of memory aborts, as everywhere in mezzo. */
void *mz_pb_dup(const void *msg);

/* Base64 helpers used by the codec (standard alphabet, padded). Returned buffers are malloc'd. */
char *mz_base64_encode(const uint8_t *data, size_t len);
uint8_t *mz_base64_decode(const char *text, size_t *out_len); /* NULL if malformed */

#endif
