/* mezzo/executor.h: libmezzo's client of the Mesos v1 executor HTTP API
 * (POST /api/v1/executor on the agent), for mezzo-executor and custom executors.
 *
 * One mz_executor is one executor: it SUBSCRIBEs on one connection and reads the
 * RecordIO event stream from it, and sends UPDATE / MESSAGE calls on a second
 * connection (the API requires calls off the subscription connection). It keeps
 * the updates the agent has not ACKNOWLEDGED yet and the tasks it was given whose
 * updates are all unacknowledged, and sends both again in the next SUBSCRIBE
 * (as the API asks after a disconnection).
 *
 * With checkpointing (MESOS_CHECKPOINT), an executor outlives its agent: once it has
 * been subscribed, a lost connection is retried (every fraction of a second) until
 * the agent comes back or recovery_timeout passes; only then is on_disconnected
 * called. A SUBSCRIBE refused with a 4xx is not retried.
 *
 * Everything runs on the caller's libevent loop; no threads. Events are passed to
 * the caller as decoded protobuf-c messages that are valid only during the callback.
 * Ownership: the mz_executor owns copies of everything it keeps; strings in
 * mz_executor_config are copied by mz_executor_new. */
#ifndef MEZZO_EXECUTOR_H
#define MEZZO_EXECUTOR_H

#include <stddef.h>
#include <stdint.h>

#include "mesos/v1/executor/executor.pb-c.h"

struct event_base;

typedef struct mz_executor mz_executor;

#define MZ_EXECUTOR_ENDPOINT_PATH "/api/v1/executor"

typedef struct {
  const char *agent_host;   /* where the agent serves /api/v1/executor */
  int agent_port;
  const char *framework_id; /* MESOS_FRAMEWORK_ID */
  const char *executor_id;  /* MESOS_EXECUTOR_ID */
  const char *directory;    /* MESOS_DIRECTORY (may be NULL) */
  const char *sandbox;      /* MESOS_SANDBOX (may be NULL) */
  double shutdown_grace_period; /* MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD in seconds (default 5) */
  int checkpoint;           /* MESOS_CHECKPOINT */
  int use_protobuf;         /* 1: application/x-protobuf on the wire, 0: application/json */
  double recovery_timeout;  /* MESOS_RECOVERY_TIMEOUT in seconds (0: the default, 15 minutes) */
  /* MESOS_DOMAIN_SOCKET (may be NULL): the agent's executor socket, used instead of
   * agent_host:agent_port when set (agent flag --http_executor_domain_sockets) */
  const char *agent_socket;
} mz_executor_config;

typedef struct {
  /* Every event from the agent, SUBSCRIBED first. ACKNOWLEDGED events are passed on
   * after the acknowledged update has been dropped from the unacknowledged list.
   * The event is freed after the callback returns; the callback may call
   * mz_executor_free only by deferring it (e.g. event_base_loopbreak). */
  void (*on_event)(mz_executor *ex, const Mesos__V1__Executor__Event *event, void *arg);
  /* The subscription could not be made or the stream ended; reason says why.
   * mz_executor_subscribe may be called again (from here or later). */
  void (*on_disconnected)(mz_executor *ex, const char *reason, void *arg);
} mz_executor_callbacks;

/* Reads MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID, MESOS_AGENT_ENDPOINT (host:port), MESOS_DOMAIN_SOCKET,
 * MESOS_DIRECTORY, MESOS_SANDBOX, MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD, MESOS_CHECKPOINT,
 * MESOS_RECOVERY_TIMEOUT
 * and MEZZO_EXECUTOR_CONTENT_TYPE (json|protobuf, default protobuf) into cfg. The strings
 * point into the environment, or into a static buffer for the agent host. 0, or -1 with
 * a message naming the missing or malformed variable. */
int mz_executor_config_from_env(mz_executor_config *cfg, char *err, size_t errlen);

/* NULL on bad arguments (message in err). */
mz_executor *mz_executor_new(struct event_base *base, const mz_executor_config *cfg,
                             const mz_executor_callbacks *cbs, void *arg, char *err, size_t errlen);
/* Cancels connections (no more callbacks) and frees everything. NULL is fine. */
void mz_executor_free(mz_executor *ex);

/* Sends SUBSCRIBE (with the unacknowledged tasks and updates). Asynchronous: SUBSCRIBED
 * arrives through on_event, failure through on_disconnected. 0, or -1 if already
 * subscribed or subscribing. */
int mz_executor_subscribe(mz_executor *ex, char *err, size_t errlen);
int mz_executor_subscribed(const mz_executor *ex);

/* Sends UPDATE for a copy of status, completed with a fresh uuid, source
 * SOURCE_EXECUTOR, the timestamp, the executor id and the agent id (once known),
 * and keeps it until ACKNOWLEDGED. uuid_out (may be NULL) receives its uuid.
 * 0, or -1 with err (not sent). */
int mz_executor_update(mz_executor *ex, const Mesos__V1__TaskStatus *status, uint8_t uuid_out[16], char *err,
                       size_t errlen);
/* Sends MESSAGE (data to the scheduler; no delivery guarantee). 0 or -1. */
int mz_executor_message(mz_executor *ex, const void *data, size_t len, char *err, size_t errlen);

/* Updates not yet acknowledged by the agent. */
size_t mz_executor_unacknowledged(const mz_executor *ex);
/* 1 if the update with this uuid is still unacknowledged. */
int mz_executor_is_unacknowledged(const mz_executor *ex, const uint8_t uuid[16]);

/* The agent's id from SUBSCRIBED, or NULL before it. */
const char *mz_executor_agent_id(const mz_executor *ex);
const char *mz_executor_framework_id(const mz_executor *ex);
const char *mz_executor_id(const mz_executor *ex);

#endif
