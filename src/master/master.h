/* master: the state of mezzo-master and its lifecycle.
 *
 * One mz_master owns everything below, on one libevent loop thread (no locks):
 *   frameworks  hash by id (mz_framework, framework.c), plus a bounded list of
 *               completed frameworks (kept for /master/state);
 *   agents      hash by id (mz_agent, agent.c), each on at most one link;
 *   links       the agent connections (mz_link, agent_link.c); one link carries
 *               any number of agents;
 *   offers      hash by id (mz_offer, offer.c), also listed on their framework
 *               and their agent;
 *   tasks       hashed by id in their framework, listed on their agent (task.c);
 *   executors   hashed by "<framework id>\x1f<executor id>" in their agent and
 *               listed on their framework;
 *   allocator   behind a table of functions (allocator.h), it owns the free pool
 *               of every agent and decides who is offered what.
 * Every object is freed by the module that owns its kind; pointers between
 * objects are borrowed and cleared when the target goes away.
 *
 * Timers: one deadline queue per constant-delay timeout (offer timeouts, agent
 * removal after disconnection), so nothing ever scans all agents or offers on a
 * timer; per-framework events for heartbeats and failover timeouts. */
#ifndef MZ_MASTER_MASTER_H
#define MZ_MASTER_MASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "common/idindex.h"
#include "common/codec.h"
#include "common/files_http.h"
#include "common/flags.h"
#include "common/http.h"
#include "common/resources.h"
#include "common/util.h"
#include "common/version.h"
#include "master/timerq.h"
#include "mesos/v1/mesos.pb-c.h"
#include "mesos/v1/scheduler/scheduler.pb-c.h"
#include "mezzo/agent.pb-c.h"

struct event_base;
struct event;
struct mz_allocator_ops;

#define MZ_MASTER_HEARTBEAT_DEFAULT 15.0
#define MZ_MAX_STATUSES_PER_TASK 64 /* kept per task for /master/state */
#define MZ_TASK_STATE_SLOTS 32

typedef struct mz_master mz_master;
typedef struct mz_framework mz_framework;
typedef struct mz_agent mz_agent;
typedef struct mz_task mz_task;
typedef struct mz_offer mz_offer;
typedef struct mz_executor mz_executor;
typedef struct mz_link mz_link;

/* Flag values (strings point into argv/environ or to literals). */
typedef struct {
  const char *ip;
  long port;
  const char *hostname;
  const char *advertise_ip;
  const char *work_dir;
  const char *log_dir;
  const char *logging_level;
  const char *allocator;
  const char *weights; /* --weights "role=w,..." */
  const char *cluster;
  double allocation_interval;    /* batching of event-driven allocation */
  double offer_timeout;          /* 0: offers never time out */
  double agent_ping_timeout;     /* link PING period */
  long max_agent_ping_timeouts;  /* missed PINGs before a link is dead */
  double agent_reregister_timeout; /* after a restart, recorded agents that did not re-register are unreachable */
  const char *agent_removal_rate_limit; /* "N/duration": agents failing health checks marked at most this fast */
  const char *registry;                 /* registry backend: sqlite (<work_dir>/registry.db) or in_memory */
  double registry_max_agent_age;        /* unreachable / gone agents forgotten after this */
  long registry_max_agent_count;        /* at most this many unreachable / gone agents kept */
  double registry_gc_interval;          /* how often expiry runs */
  double heartbeat_interval;     /* scheduler HEARTBEAT period (Mesos: 15 s) */
  long max_completed_frameworks;
  long max_completed_tasks_per_framework;
  long max_unreachable_tasks_per_framework;
  long max_frameworks;
  long max_agents;
  long max_links;
  const char *zk;            /* --zk=zk://host:port,.../path: contend for leadership (NULL: standalone) */
  long quorum;               /* --quorum (validated; the registry stays SQLite per master) */
  double zk_session_timeout; /* --zk_session_timeout (default 10 s) */
} mz_master_flags;

/* Counters of /metrics/snapshot (gauges are computed when asked). */
typedef struct {
  uint64_t tasks_finished, tasks_failed, tasks_killed, tasks_lost, tasks_error, tasks_dropped, tasks_gone,
      tasks_gone_by_operator;
  uint64_t task_lost_invalid_offers, task_lost_agent_removed;
  uint64_t messages_register_framework, messages_reregister_framework, messages_unregister_framework;
  uint64_t messages_launch_tasks, messages_decline_offers, messages_revive_offers, messages_suppress_offers;
  uint64_t messages_kill_task, messages_status_update, messages_status_update_acknowledgement;
  uint64_t messages_reconcile_tasks, messages_framework_to_executor, messages_executor_to_framework;
  uint64_t messages_register_slave, messages_reregister_slave, messages_unregister_slave;
  uint64_t messages_shutdown_executor;
  uint64_t valid_status_updates, invalid_status_updates;
  uint64_t valid_status_update_acknowledgements, invalid_status_update_acknowledgements;
  uint64_t valid_framework_to_executor_messages, invalid_framework_to_executor_messages;
  uint64_t valid_executor_to_framework_messages, invalid_executor_to_framework_messages;
  uint64_t invalid_scheduler_calls, invalid_agent_calls;
  uint64_t slave_registrations, slave_reregistrations, slave_removals;
  uint64_t slave_unreachable_scheduled, slave_unreachable_completed, slave_unreachable_canceled;
  uint64_t recovery_slave_removals;
  uint64_t offers_sent, offers_accepted, offers_declined, offers_rescinded, offers_expired;
  uint64_t events_sent, dropped_events;
} mz_master_metrics;

struct mz_master {
  struct event_base *base;
  mz_master_flags flags;
  const mz_flag *flag_table; /* for the "flags" object of /master/state */
  size_t nflags;
  mz_http_server *http;
  mz_files_ops files; /* /files over the master's log (log_files.c) */

  char id[MZ_UUID_STR];
  char hostname[256];
  char ip[64]; /* advertised */
  int port;
  char pid[400]; /* "master@ip:port" */
  double start_time, elected_time; /* wall clock */
  double start_mono;
  Mesos__V1__MasterInfo *info; /* owned (pb), sent in SUBSCRIBED */

  uint64_t next_framework, next_agent, next_offer;

  mz_framework *frameworks; /* hash by id: registered (connected or not) */
  size_t nframeworks;
  mz_framework *completed_frameworks; /* DL list (oldest first), bounded */
  size_t ncompleted_frameworks;
  mz_agent *agents; /* hash by id (iteration); lookups through agent_idx */
  mz_idx agent_idx;
  size_t nagents;
  mz_offer *offers; /* hash by id (iteration); lookups through offer_idx */
  mz_idx offer_idx;
  size_t noffers;
  struct mz_removed_agent *removed_agents; /* hash of ids of removed agents (bounded, oldest evicted) */
  struct mz_removed_agent *removed_order;  /* DL list, oldest first */
  size_t nremoved_agents;
  mz_link *links; /* DL list */
  size_t nlinks;
  mz_framework *offer_batch; /* frameworks with offers not yet sent (singly linked via batch_next) */
  struct json_t *weights; /* role -> weight, as set by --weights and UPDATE_WEIGHTS */
  struct json_t *quotas;  /* role -> mesos.v1.quota.QuotaConfig (JSON form), from UPDATE_QUOTA */
  struct mz_opsub *opsubs; /* operator API SUBSCRIBE streams (operator_events.c) */
  size_t nopsubs;

  const struct mz_allocator_ops *alloc_ops;
  void *alloc;

  mz_timerq offer_timeouts;  /* mz_offer.timeout */
  mz_timerq agent_removals;  /* mz_agent.removal */
  struct mz_registrar *registrar; /* registry_master.c */
  struct mz_maint *maint;         /* maintenance schedule and machines (maintenance.c); NULL until used */
  struct mz_iofs *iofs;           /* inverse offers (inverse_offer.c); NULL until used */
  mz_agent *unreachable_queue;    /* agents waiting to be marked unreachable (rate limit), DL via mark_prev/next */
  struct event *unreachable_ev;   /* fires when the next may be marked */
  double removal_interval;        /* seconds between markings (--agent_removal_rate_limit); 0: no limit */
  double next_removal;            /* monotonic time the next marking is permitted */
  mz_master_metrics metrics;
  long task_gauge[MZ_TASK_STATE_SLOTS]; /* live tasks per state (index: TaskState) */
  struct event *sigint_ev, *sigterm_ev;
  bool stopping;
  /* Leadership (--zk; contender.c): a standalone master always leads. Followers
   * answer requests with 307 to the leader (or 503 while there is none). */
  struct mz_contender *contender;
  bool leading;
  char leader_host[256]; /* "" while no other master is known to lead */
  int leader_port;
  int exit_code; /* main's exit status once the loop stops (1: leadership lost) */
};

struct mz_task {
  char *id; /* key in framework->tasks */
  char *name;
  /* Interned (common/intern.h): shared by the many tasks of a framework or agent. */
  const char *framework_id;
  const char *agent_id;
  char *executor_id; /* NULL for command tasks */
  const char *role;
  const char *user;
  mz_framework *fw; /* NULL once completed */
  mz_agent *agent;  /* NULL once completed or when the agent is gone */
  Mesos__V1__TaskState state;         /* latest state known */
  bool has_update_state;              /* latest forwarded update that needs an ack */
  Mesos__V1__TaskState update_state;
  uint8_t update_uuid[MZ_UUID_BYTES];
  uint8_t *pending;               /* owned: that update, packed (resent on re-subscription) */
  size_t pending_len;
  mz_resources *resources;        /* allocated form (alloc role set) */
  bool freed;                     /* resources already returned to the allocator */
  struct { Mesos__V1__TaskState state; double timestamp; } statuses[MZ_MAX_STATUSES_PER_TASK];
  size_t nstatuses;
  UT_hash_handle hh;                  /* framework->tasks */
  mz_task *agent_prev, *agent_next;   /* agent->tasks */
  mz_task *done_prev, *done_next;     /* framework->completed_tasks */
};

struct mz_executor {
  char *key; /* "<framework id>\x1f<executor id>": agent->executors */
  char *id;
  char *framework_id;
  mz_agent *agent;
  mz_framework *fw;
  Mesos__V1__ExecutorInfo *info; /* owned */
  mz_resources *resources;       /* allocated form; counted as used */
  size_t ntasks;                 /* live tasks on it */
  UT_hash_handle hh;
  mz_executor *fw_prev, *fw_next;
};

struct mz_framework {
  char *id;
  const char *iid; /* id, interned (common/intern.h): its tasks take references */
  mz_master *m;
  Mesos__V1__FrameworkInfo *info; /* owned, id set */
  char **roles; /* effective roles (roles[] if MULTI_ROLE, else {role}) */
  size_t nroles;
  bool *suppressed; /* per role */
  bool partition_aware, multi_role;
  bool active, connected, recovered, completed;
  mz_http_req *stream; /* the SUBSCRIBE response; NULL when disconnected */
  char stream_id[MZ_UUID_STR];
  mz_content_type ct;
  double registered_time, reregistered_time, unregistered_time;
  mz_task *tasks; /* hash by id (iteration); lookups through task_idx */
  mz_idx task_idx;
  size_t ntasks;
  mz_task *completed_tasks; /* DL list, oldest first, bounded */
  size_t ncompleted_tasks;
  /* Tasks of a partition-aware framework on agents marked unreachable: kept (hash by
   * id through hh, DL list oldest first through done_prev/next, bounded by
   * --max_unreachable_tasks_per_framework) for reconciliation and /master/state,
   * until their agent comes back with them or they age out. */
  mz_task *unreachable_tasks, *unreachable_list;
  size_t nunreachable_tasks;
  mz_offer *offers; /* DL list */
  size_t noffers;
  mz_executor *executors; /* DL list */
  mz_resources *used, *offered; /* scalars only: sums over agents (ranges of different agents must not merge) */
  struct event *heartbeat_ev, *failover_ev;
  uint64_t offers_sent, offers_accepted, offers_declined, offers_rescinded;
  mz_offer *batch; /* offers of the current allocation not yet sent */
  mz_framework *batch_next;
  bool in_batch;
  UT_hash_handle hh;
  mz_framework *done_prev, *done_next; /* master->completed_frameworks */
};

struct mz_agent {
  char *id;
  const char *iid; /* id, interned (common/intern.h): its tasks take references */
  mz_master *m;
  Mesos__V1__AgentInfo *info; /* owned, id set */
  char *hostname;
  int port;
  char *version;
  char *pid; /* "slave(1)@ip:port" */
  char ip[64]; /* as offered to frameworks */
  mz_link *link; /* NULL while disconnected */
  bool active, connected;
  mz_resources *total, *used, *offered;
  mz_task *tasks; /* DL list */
  size_t ntasks;
  mz_offer *offers; /* DL list */
  mz_executor *executors; /* hash */
  double registered_time, reregistered_time;
  mz_timerq_node removal; /* queued while disconnected */
  bool marking;           /* in m->unreachable_queue */
  bool deactivated;       /* DEACTIVATE_AGENT or DRAIN_AGENT: no offers until REACTIVATE_AGENT */
  int drain_state;        /* 0 none, else mesos.v1.DrainState (DRAINING, DRAINED) */
  double drain_grace;     /* DRAIN_AGENT max_grace_period in seconds; < 0: none */
  bool drain_mark_gone;   /* DRAIN_AGENT mark_gone: gone once drained */
  mz_agent *mark_prev, *mark_next;
  UT_hash_handle hh;
  mz_agent *link_prev, *link_next;
};

struct mz_offer {
  char *id;
  mz_framework *fw;
  mz_agent *agent;
  mz_resources *resources; /* allocated form */
  char *role;
  double created;
  mz_timerq_node timeout;
  UT_hash_handle hh;
  mz_offer *fw_prev, *fw_next;
  mz_offer *ag_prev, *ag_next;
  mz_offer *batch_next;
  bool sent; /* included in an OFFERS event */
};

struct mz_link {
  char id[MZ_UUID_STR];
  mz_master *m;
  mz_http_req *req; /* NULL once closed */
  char peer[64];
  mz_content_type ct;
  struct mz_recordio_decoder *dec;
  mz_agent *agents; /* DL list */
  size_t nagents;
  struct event *ping_ev;
  uint64_t ping_seq;
  bool ping_outstanding;
  long misses;
  mz_link *prev, *next;
};

/* Creates the master (flags already parsed): ids, MasterInfo, allocator, HTTP server
 * listening on flags.ip:flags.port, routes. NULL with err. */
mz_master *mz_master_new(struct event_base *base, const mz_master_flags *flags, const mz_flag *table, size_t nflags,
                         char *err, size_t errlen);
/* Closes every stream and link and frees everything. */
void mz_master_free(mz_master *m);

/* Seconds since the master started. */
double mz_master_uptime(const mz_master *m);

/* Next ids: "<master id>-<nnnn>", "<master id>-S<n>", "<master id>-O<n>" (malloc'd). */
char *mz_master_new_framework_id(mz_master *m);
char *mz_master_new_agent_id(mz_master *m);
char *mz_master_new_offer_id(mz_master *m);

#endif
