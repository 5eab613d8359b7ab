/* pbutil: small protobuf-c helpers for the master: deep copies and equality of
 * messages (through the wire format), and TaskState / Reason / Source names. */
#ifndef MZ_MASTER_PBUTIL_H
#define MZ_MASTER_PBUTIL_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "common/codec.h" /* mz_pb_dup */
#include "common/task_state.h" /* mz_task_state_name */
#include "mesos/v1/mesos.pb-c.h"

/* Same descriptor and same serialized bytes. */
bool mz_pb_equal(const void *a, const void *b);

const char *mz_reason_name(Mesos__V1__TaskStatus__Reason r);
const char *mz_source_name(Mesos__V1__TaskStatus__Source s);
/* "mesos.v1.scheduler.Call.Type" value name, or "UNKNOWN". */
const char *mz_enum_name(const ProtobufCEnumDescriptor *d, int value);

#endif
