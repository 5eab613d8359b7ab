/* task_state: see task_state.h. */
#include "common/task_state.h"

#include "mesos/v1/mesos.pb-c.h"

const char *mz_task_state_name(int state) {
  const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&mesos__v1__task_state__descriptor, state);
  return v ? v->name : "TASK_STATE_UNKNOWN_VALUE";
}

const char *mz_task_reason_name(int reason) {
  const ProtobufCEnumValue *v =
      protobuf_c_enum_descriptor_get_value(&mesos__v1__task_status__reason__descriptor, reason);
  return v ? v->name : "REASON_UNKNOWN_VALUE";
}

int mz_task_state_terminal(int state) {
  switch (state) {
    case MESOS__V1__TASK_STATE__TASK_FINISHED:
    case MESOS__V1__TASK_STATE__TASK_FAILED:
    case MESOS__V1__TASK_STATE__TASK_KILLED:
    case MESOS__V1__TASK_STATE__TASK_ERROR:
    case MESOS__V1__TASK_STATE__TASK_LOST:
    case MESOS__V1__TASK_STATE__TASK_DROPPED:
    case MESOS__V1__TASK_STATE__TASK_GONE:
    case MESOS__V1__TASK_STATE__TASK_GONE_BY_OPERATOR:
      return 1;
    default:
      return 0;
  }
}
