/* status_updates: the agent's status update manager, as in Mesos. Per task an
 * ordered queue (a stream) of the status updates it got; only the head is sent
 * to the master, again and again with a growing backoff (10 s doubling up to
 * 10 min by default), until the master relays the framework's ACKNOWLEDGE of
 * that uuid; then the next one goes. A stream ends when its terminal update is
 * acknowledged. Each STATUS_UPDATE carries latest_state: the state of the newest
 * update queued for the task.
 *
 * Ownership: the manager owns deep copies of every queued TaskStatus and the
 * ids; callers keep theirs. */
#ifndef MZ_STATUS_UPDATES_H
#define MZ_STATUS_UPDATES_H

#include <stddef.h>
#include <stdint.h>

#include "mesos/v1/mesos.pb-c.h"

struct event_base;
typedef struct mz_su_manager mz_su_manager;

typedef struct {
  /* Sends one update to the master: 0 if sent, -1 if it could not be (not
   * registered): it is tried again at the next retry or resend. */
  int (*forward)(const char *fw_id, const char *executor_id, const Mesos__V1__TaskStatus *st,
                 Mesos__V1__TaskState latest_state, void *arg);
  /* A task's terminal update was acknowledged: its stream is gone. */
  void (*terminal_acked)(const char *fw_id, const char *task_id, void *arg);
} mz_su_callbacks;

mz_su_manager *mz_su_new(struct event_base *base, const mz_su_callbacks *cbs, void *arg);
void mz_su_free(mz_su_manager *m);
/* Retry backoff: first retry after min seconds, doubling up to max. */
void mz_su_set_backoff(mz_su_manager *m, double min, double max);

/* Queues a copy of st (which must carry a 16-byte uuid) and sends it if it is the
 * head. executor_id may be NULL. 0 queued, 1 duplicate uuid (ignored), -1 refused
 * with err (no uuid, or the task's terminal update is already queued). */
int mz_su_update(mz_su_manager *m, const char *fw_id, const char *executor_id, const Mesos__V1__TaskStatus *st,
                 char *err, size_t errlen);
/* The framework acknowledged uuid for the task. 0 if it was the head (the next
 * update is sent at once), -1 with err otherwise (unknown task, not the head). */
int mz_su_acknowledge(mz_su_manager *m, const char *fw_id, const char *task_id, const uint8_t *uuid, size_t len,
                      char *err, size_t errlen);
/* Sends every stream's head now and restarts its backoff (after (re-)registering). */
void mz_su_resend_all(mz_su_manager *m);
/* Forgets every stream of a framework (or of all frameworks when fw_id is NULL). */
void mz_su_drop_framework(mz_su_manager *m, const char *fw_id);
/* The update being sent for a task (the head), or NULL when none is pending. */
const Mesos__V1__TaskStatus *mz_su_head(const mz_su_manager *m, const char *fw_id, const char *task_id);
/* Updates queued, all tasks together. */
size_t mz_su_pending(const mz_su_manager *m);

#endif
