/* endpoints_more: more of the master's HTTP endpoints that Mesos tools read,
 * in Mesos's JSON shapes, plus two the web UI and the CLI need:
 *   GET  /master/state-summary   agents and frameworks with task-state counts
 *   GET  /master/tasks           ?limit=&offset=&order=asc|desc&framework_id=&task_id=
 *   GET  /master/roles           every known role: weight, quota, allocated/offered/reserved
 *   GET  /master/redirect        307 to the leading master (this one)
 *   POST /master/teardown        form body frameworkId=ID
 *   GET  /metrics                /metrics/snapshot in Prometheus text format
 *   GET  /master/maintenance/schedule  the maintenance schedule (JSON Schedule);
 *   POST /master/maintenance/schedule  replaces it (maintenance.c validates)
 *   GET  /master/maintenance/status    draining machines with inverse offer answers, down machines
 *   POST /master/machine/down|up       a JSON array of MachineIDs: START / STOP_MAINTENANCE
 *   GET  /agent/<agent id>/<path>  a proxy to the agent's /state, /files/browse,
 *                                  /files/read and /monitor/statistics, so that a
 *                                  browser (same origin) and the CLI need only the
 *                                  master's address.
 * Bad input is answered with a 4xx and a text message. Proxied calls in flight
 * are owned by this module (a list) and cancelled by mz_endpoints_more_free. */
#ifndef MZ_MASTER_ENDPOINTS_MORE_H
#define MZ_MASTER_ENDPOINTS_MORE_H

#include "master/master.h"

#define MZ_TASKS_DEFAULT_LIMIT 100
#define MZ_PROXY_TIMEOUT 15.0
#define MZ_PROXY_MAX_INFLIGHT 256
#define MZ_TEARDOWN_MAX_BODY 4096

/* Registers the routes above (called from mz_endpoints_route). */
void mz_endpoints_more_route(mz_master *m);
/* Cancels proxied calls still in flight (master shutdown). */
void mz_endpoints_more_free(mz_master *m);

/* Prometheus text of a flat JSON object of numbers (malloc'd, NUL-terminated). */
char *mz_metrics_prometheus(const struct json_t *metrics, size_t *len);

#endif
