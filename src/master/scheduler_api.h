/* scheduler_api: POST /api/v1/scheduler (and /master/api/v1/scheduler), the Mesos v1
 * scheduler HTTP API:
 * content negotiation (415 / 406), decoding and call validation (400 with the
 * codec's or the validator's message), SUBSCRIBE (a 200 RecordIO stream with a
 * Mesos-Stream-Id header), and for every other call the framework and stream
 * checks (403) before the call runs and is answered 202 Accepted. */
#ifndef MZ_MASTER_SCHEDULER_API_H
#define MZ_MASTER_SCHEDULER_API_H

#include "master/master.h"

#define MZ_SCHEDULER_API_PATH "/api/v1/scheduler"

void mz_scheduler_api_route(mz_master *m);

#endif
