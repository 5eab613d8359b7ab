/* health: a task's health check (TaskInfo.health_check), run by the command executor
 * as Mesos's health checker does:
 *   - the first check `delay_seconds` after the task started, then every `interval_seconds`;
 *   - each check is a child process: COMMAND runs the CommandInfo (shell or not) with the
 *     task's environment; HTTP connects to 127.0.0.1:<port>, sends GET <path> and succeeds on
 *     one of `statuses` (200-399 when none are given); TCP succeeds when connect() does;
 *     a check running longer than `timeout_seconds` is killed and counts as a failure;
 *   - failures before the first success within `grace_period_seconds` of the start are
 *     ignored; the health is reported when it changes (healthy / unhealthy);
 *   - `consecutive_failures` failures in a row ask for the task to be killed.
 * The checker owns a copy of the HealthCheck and of the environment, its timers and its
 * child; the executor's SIGCHLD handler hands it the check's exit (mz_health_reaped). */
#ifndef MZ_EXECUTOR_HEALTH_H
#define MZ_EXECUTOR_HEALTH_H

#include <stddef.h>
#include <sys/types.h>

#include "mesos/v1/mesos.pb-c.h"

struct event_base;
typedef struct mz_health mz_health;

/* healthy: the new health; kill: consecutive failures reached (kill the task). */
typedef void (*mz_health_cb)(int healthy, int kill, const char *why, void *arg);

/* Validates and starts the checker. NULL with err for a check that cannot run. */
mz_health *mz_health_new(struct event_base *base, const Mesos__V1__HealthCheck *hc, char *const *env,
                         mz_health_cb cb, void *arg, char *err, size_t errlen);
/* 1 when pid was the running check (its result is taken), 0 otherwise. */
int mz_health_reaped(mz_health *h, pid_t pid, int wait_status);
/* No more checks (the task is being killed or has ended); a running check is killed. */
void mz_health_stop(mz_health *h);
void mz_health_free(mz_health *h);

#endif
