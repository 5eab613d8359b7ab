/* endpoints: the master's read-only HTTP endpoints, in Mesos's shapes:
 * GET /health (200, empty), /master/state and /state, /master/frameworks,
 * /master/slaves, /master/flags, /version, and /metrics/snapshot (a flat JSON
 * object of numbers with Mesos's metric names), and the /files endpoints over its log
 * (log_files.h). The answers are built from the
 * master's state at the moment of the request; nothing is cached. */
#ifndef MZ_MASTER_ENDPOINTS_H
#define MZ_MASTER_ENDPOINTS_H

#include <jansson.h>

#include "master/master.h"

void mz_endpoints_route(mz_master *m);

/* The /metrics/snapshot object and the /master/flags "flags" object (new references). */
json_t *mz_master_metrics_json(const mz_master *m);
json_t *mz_master_flags_json(const mz_master *m);

#endif
