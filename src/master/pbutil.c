/* pbutil: see pbutil.h. */
#include "master/pbutil.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

bool mz_pb_equal(const void *a, const void *b) {
  if (!a || !b) return a == b;
  const ProtobufCMessage *x = a, *y = b;
  if (x->descriptor != y->descriptor) return false;
  size_t lx = protobuf_c_message_get_packed_size(x), ly = protobuf_c_message_get_packed_size(y);
  if (lx != ly) return false;
  uint8_t *bx = mz_malloc(lx), *by = mz_malloc(ly);
  protobuf_c_message_pack(x, bx);
  protobuf_c_message_pack(y, by);
  bool eq = memcmp(bx, by, lx) == 0;
  free(bx);
  free(by);
  return eq;
}

const char *mz_enum_name(const ProtobufCEnumDescriptor *d, int value) {
  const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, value);
  return v ? v->name : "UNKNOWN";
}

const char *mz_reason_name(Mesos__V1__TaskStatus__Reason r) {
  return mz_enum_name(&mesos__v1__task_status__reason__descriptor, (int)r);
}

const char *mz_source_name(Mesos__V1__TaskStatus__Source s) {
  return mz_enum_name(&mesos__v1__task_status__source__descriptor, (int)s);
}
