/* mezzo/scheduler.h: libmezzo's client of the Mesos v1 scheduler HTTP API
 * (POST /api/v1/scheduler on the master), for the mezzo CLI, the simulator and
 * frameworks written in C.
 *
 * One mz_scheduler is one framework instance. It SUBSCRIBEs on its own
 * connection and reads the RecordIO event stream from it, keeping the
 * Mesos-Stream-Id of the subscription and the framework id it was given; every
 * other call goes over a second connection, carrying that Mesos-Stream-Id.
 * A 307 answer to SUBSCRIBE is followed to the leader named in Location.
 * If the stream is lost (connection closed or refused, a 5xx, or no event for
 * 5 x the heartbeat interval announced in SUBSCRIBED), on_disconnected runs and
 * the scheduler subscribes again after a backoff (doubling from
 * backoff_min up to backoff_max) with its framework id set (failover), unless
 * reconnection is turned off or mz_scheduler_stop was called. An ERROR event, or
 * a 4xx answer to SUBSCRIBE, runs on_error and stops the scheduler (no retry).
 *
 * Everything runs on the caller's libevent loop; no threads. Events are handed
 * to the callbacks as decoded protobuf-c messages valid only during the call.
 * Ownership: mz_scheduler_new copies the FrameworkInfo and every string it is
 * given; the helpers copy what they send, so callers keep ownership of their
 * arguments. mz_scheduler_free must not be called from one of its callbacks
 * (stop the loop, or defer it to a timer). */
#ifndef MEZZO_SCHEDULER_H
#define MEZZO_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "common/codec.h"
#include "mesos/v1/mesos.pb-c.h"
#include "mesos/v1/scheduler/scheduler.pb-c.h"

struct event_base;

typedef struct mz_scheduler mz_scheduler;

#define MZ_SCHEDULER_ENDPOINT_PATH "/api/v1/scheduler"
#define MZ_SCHEDULER_STREAM_ID_MAX 128          /* Mesos: the stream id is at most 128 bytes */
#define MZ_SCHEDULER_DEFAULT_HEARTBEAT 15.0     /* seconds, when SUBSCRIBED announces none */
#define MZ_SCHEDULER_MISSED_HEARTBEATS 5        /* events missed before the stream counts as lost */
#define MZ_SCHEDULER_MAX_EVENT_BYTES (64u << 20) /* one event record at most */

typedef struct {
  /* SUBSCRIBED: the framework id is also kept (mz_scheduler_framework_id). */
  void (*on_subscribed)(mz_scheduler *s, const Mesos__V1__Scheduler__Event__Subscribed *ev, void *arg);
  void (*on_offers)(mz_scheduler *s, Mesos__V1__Offer *const *offers, size_t n, void *arg);
  void (*on_rescind)(mz_scheduler *s, const Mesos__V1__OfferID *offer_id, void *arg);
  /* UPDATE: with auto_acknowledge, an update carrying a uuid is acknowledged once this returns. */
  void (*on_update)(mz_scheduler *s, const Mesos__V1__TaskStatus *status, void *arg);
  void (*on_message)(mz_scheduler *s, const Mesos__V1__Scheduler__Event__Message *ev, void *arg);
  void (*on_failure)(mz_scheduler *s, const Mesos__V1__Scheduler__Event__Failure *ev, void *arg);
  /* ERROR event or SUBSCRIBE refused (4xx): the scheduler is stopped when this runs. */
  void (*on_error)(mz_scheduler *s, const char *message, void *arg);
  /* The subscription failed or the stream was lost. subscribed_before: 1 if this stream
   * had reached SUBSCRIBED. A retry follows unless the scheduler is stopped (from here
   * with mz_scheduler_stop, or because reconnection is off). */
  void (*on_disconnected)(mz_scheduler *s, const char *reason, int subscribed_before, void *arg);
  /* Every event as it arrives, before the typed callback (HEARTBEAT included). Optional. */
  void (*on_event)(mz_scheduler *s, const Mesos__V1__Scheduler__Event *ev, void *arg);
} mz_scheduler_callbacks;

typedef struct {
  mz_content_type content_type; /* of calls and events; default MZ_CT_PROTOBUF */
  int auto_acknowledge;         /* acknowledge every update with a uuid after on_update (default 0) */
  int no_reconnect;             /* 1: do not subscribe again after a lost stream (default 0: reconnect) */
  double backoff_min;           /* seconds before the first retry (default 0.5) */
  double backoff_max;           /* cap of the doubling backoff (default 15) */
  double call_timeout;          /* seconds for a non-SUBSCRIBE call's answer (default 75) */
  double heartbeat_override;    /* > 0: watchdog interval base instead of the announced one (tests) */
} mz_scheduler_options;

/* Answer to one call: status 202/200 on success, another HTTP status with the body
 * as text, or 0 with the connection error in body. */
typedef void (*mz_scheduler_done_cb)(mz_scheduler *s, int status, const char *body, void *arg);

/* master: "host:port" (an "http://" prefix and a trailing "/" are accepted), or
 * "zk://host1:port1,host2:port2/path": the leading master is found through
 * ZooKeeper and followed when it changes (re-subscribing with the framework id). info must
 * have user and name set; info->id, if set, makes the first SUBSCRIBE a failover.
 * opts may be NULL (defaults). Nothing is sent until mz_scheduler_start.
 * NULL with a message in err on bad arguments. */
mz_scheduler *mz_scheduler_new(struct event_base *base, const char *master, const Mesos__V1__FrameworkInfo *info,
                               const mz_scheduler_callbacks *cbs, void *arg, const mz_scheduler_options *opts,
                               char *err, size_t errlen);
/* Cancels every connection and timer (no callbacks) and frees. NULL is fine. */
void mz_scheduler_free(mz_scheduler *s);

/* Sends SUBSCRIBE (asynchronous). 0, or -1 if already subscribing or subscribed. */
int mz_scheduler_start(mz_scheduler *s, char *err, size_t errlen);
/* Closes the event stream and stops retrying; calls already queued still go out.
 * Safe from a callback. */
void mz_scheduler_stop(mz_scheduler *s);

int mz_scheduler_subscribed(const mz_scheduler *s);
const char *mz_scheduler_framework_id(const mz_scheduler *s); /* NULL before the first SUBSCRIBED */
const char *mz_scheduler_stream_id(const mz_scheduler *s);    /* NULL while not subscribed */
double mz_scheduler_heartbeat_interval(const mz_scheduler *s);
const char *mz_scheduler_master(const mz_scheduler *s);       /* "host:port" now in use */
/* Number of subscriptions made so far (1 after the first SUBSCRIBED, 2 after a failover...). */
unsigned mz_scheduler_subscriptions(const mz_scheduler *s);

/* Sends any call: framework_id is filled in when unset. done may be NULL (failures are
 * logged). 0, or -1 with err when not subscribed or the call cannot be encoded/sent. */
int mz_scheduler_call(mz_scheduler *s, Mesos__V1__Scheduler__Call *call, mz_scheduler_done_cb done, void *arg,
                      char *err, size_t errlen);

/* refuse_seconds < 0 leaves Filters unset (the master's default, 5 s). */
int mz_scheduler_accept(mz_scheduler *s, const char *const *offer_ids, size_t n_offers,
                        Mesos__V1__Offer__Operation *const *ops, size_t n_ops, double refuse_seconds, char *err,
                        size_t errlen);
/* ACCEPT with one LAUNCH operation of the given tasks. */
int mz_scheduler_launch(mz_scheduler *s, const char *const *offer_ids, size_t n_offers,
                        Mesos__V1__TaskInfo *const *tasks, size_t n_tasks, double refuse_seconds, char *err,
                        size_t errlen);
int mz_scheduler_decline(mz_scheduler *s, const char *const *offer_ids, size_t n_offers, double refuse_seconds,
                         char *err, size_t errlen);
/* ACKNOWLEDGE the update (needs agent_id, task_id and uuid); 0 without sending anything
 * when the status has no uuid (such updates must not be acknowledged). */
int mz_scheduler_acknowledge(mz_scheduler *s, const Mesos__V1__TaskStatus *status, char *err, size_t errlen);
int mz_scheduler_kill(mz_scheduler *s, const char *task_id, const char *agent_id /* may be NULL */, char *err,
                      size_t errlen);
/* RECONCILE: n == 0 asks for every task (implicit reconciliation); agent_ids may be NULL. */
int mz_scheduler_reconcile(mz_scheduler *s, const char *const *task_ids, const char *const *agent_ids, size_t n,
                           char *err, size_t errlen);
/* REVIVE / SUPPRESS: n_roles == 0 means every role of the framework. */
int mz_scheduler_revive(mz_scheduler *s, const char *const *roles, size_t n_roles, char *err, size_t errlen);
int mz_scheduler_suppress(mz_scheduler *s, const char *const *roles, size_t n_roles, char *err, size_t errlen);
int mz_scheduler_shutdown_executor(mz_scheduler *s, const char *executor_id, const char *agent_id, char *err,
                                   size_t errlen);
int mz_scheduler_message(mz_scheduler *s, const char *agent_id, const char *executor_id, const void *data,
                         size_t len, char *err, size_t errlen);
/* TEARDOWN; done (may be NULL) runs with the master's answer. The scheduler is stopped
 * (no reconnection) once the call is queued. */
int mz_scheduler_teardown(mz_scheduler *s, mz_scheduler_done_cb done, void *arg, char *err, size_t errlen);

/* Name of a task state ("TASK_RUNNING") or reason ("REASON_COMMAND_EXECUTOR_FAILED"), and
 * whether a state is terminal (src/common/task_state.c, shared with the master and agent). */
const char *mz_task_state_name(int state);
const char *mz_task_reason_name(int reason);
int mz_task_state_terminal(int state);

#endif
