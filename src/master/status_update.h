/* status_update: status updates from agents to frameworks and their
 * acknowledgements back. An update is applied to the task (task.c), stamped
 * with its agent_id, and forwarded on the framework's stream; one with a uuid is
 * kept until the framework ACKNOWLEDGEs it (resent when a disconnected
 * framework re-subscribes), and the acknowledgement goes to the agent as an
 * AgentEvent ACKNOWLEDGE. */
#ifndef MZ_MASTER_STATUS_UPDATE_H
#define MZ_MASTER_STATUS_UPDATE_H

#include "master/master.h"

/* STATUS_UPDATE from agent a. The message is not kept (copied where needed). */
void mz_status_update(mz_agent *a, Mezzo__Internal__AgentCall__StatusUpdate *su);

/* The framework's ACKNOWLEDGE call (uuid already checked to be 16 bytes). */
void mz_status_acknowledge(mz_framework *fw, const Mesos__V1__Scheduler__Call__Acknowledge *ack);

#endif
