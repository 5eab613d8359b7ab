/* sim: mezzo-sim, one process and one libevent loop that emulates N agents and
 * M frameworks against a real mezzo-master, to measure it at scale (issue 4).
 *
 *   agents.c      the emulated agents: registration, tasks run as timers, status
 *                 updates kept until acknowledged, KILL_TASK, SHUTDOWN_FRAMEWORK
 *   links.c       the agent<->master links (proto/mezzo/agent.proto), one per
 *                 agent or one per group of agents (multiplexed), with reconnects
 *   frameworks.c  M scheduler API subscriptions through libmezzo's client
 *                 (with --master=zk://..., the agents' links follow the leader
 *                 found by common/zk_detector.c, the frameworks libmezzo's own)
 *   stats.c       latency histograms, counters, the summary line and JSON report
 *   tq.c          deadline queues (one timer for many same-delay deadlines)
 *   main.c        flags, file descriptor limit, signals, the loop
 *
 * Ownership: the sim owns everything: the agent and link arrays, the tasks (a
 * hash by framework id + task id, each also on its agent's list), the framework
 * array and every timer. Nothing here is shared with another thread. */
#ifndef MZ_SIM_H
#define MZ_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "common/codec.h"
#include "common/resources.h"
#include "mesos/v1/mesos.pb-c.h"
#include "mezzo/agent.pb-c.h"

struct event_base;
struct event;
typedef struct sim sim;

/* ------------------------------------------------------------------ timer queue */
/* Nodes are embedded in the objects they time and kept in deadline order; one
 * libevent timer is armed for the earliest. Insertion walks from the tail, so it
 * is O(1) when every node of a queue uses the same delay (task durations, update
 * retries, registration timeouts), which is how the sim uses them. */
/* Task durations take one of this many values, evenly spaced over
 * task_duration x [1 - spread, 1 + spread]; each has its own FIFO queue. */
#define SIM_DURATION_LEVELS 16

typedef struct sim_tq_node {
  double deadline;
  struct sim_tq_node *prev, *next;
  bool queued;
} sim_tq_node;

typedef void (*sim_tq_cb)(sim_tq_node *node, void *arg);

typedef struct {
  struct event *ev;
  sim_tq_node *head, *tail;
  sim_tq_cb cb;
  void *arg;
  double armed_for;
  size_t n;
} sim_tq;

int sim_tq_init(sim_tq *q, struct event_base *base, sim_tq_cb cb, void *arg);
void sim_tq_free(sim_tq *q);
void sim_tq_add(sim_tq *q, sim_tq_node *node, double delay);
void sim_tq_remove(sim_tq *q, sim_tq_node *node);

#define SIM_CONTAINER(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* ------------------------------------------------------------------ flags */
typedef struct {
  const char *master;
  long agents;
  long agents_per_link;
  long links;
  const char *agent_resources;
  const char *agent_attributes;
  double ramp_per_s;
  long frameworks;
  const char *task_resources;
  double task_duration;
  double task_duration_spread; /* durations spread uniformly over task_duration x (1 +- spread) */
  double fail_rate;
  double tasks_per_s;
  long max_tasks;
  long tasks_per_offer;
  double refuse_seconds;
  double offer_hold;
  double duration;
  int exit_when_done;
  const char *report;
  const char *source_ips;
  long conns_per_source;
  const char *role;
  const char *link_content_type;
  const char *logging_level;
  double progress_interval;
  double register_timeout;
  double update_retry;
  double zk_session_timeout;
} sim_flags;

/* ------------------------------------------------------------------ stats */
#define SIM_HIST_BUCKETS 1000
typedef struct {
  uint64_t count;
  double sum, max;
  uint32_t b[SIM_HIST_BUCKETS];
} sim_hist;

void sim_hist_add(sim_hist *h, double ms);
double sim_hist_pct(const sim_hist *h, double p); /* ms; 0 when empty */

typedef struct {
  double start; /* mz_monotonic() of the window's start */
  uint64_t launched, running, finished, failed, killed, lost, other_terminal;
  uint64_t offers, accepts, declines;
  sim_hist launch;
  sim_hist offer;
} sim_window;

/* ------------------------------------------------------------------ agents */
enum { SIM_AG_IDLE = 0, SIM_AG_QUEUED, SIM_AG_REGISTERING, SIM_AG_REGISTERED };

typedef struct sim_task sim_task;
typedef struct sim_link sim_link;

typedef struct sim_agent {
  sim *s;
  uint32_t index;
  uint8_t state;
  bool ever_registered;
  char *id; /* owned; NULL until the first REGISTERED */
  sim_link *link;
  sim_task *tasks; /* utlist DL via agent_prev/agent_next */
  uint32_t ntasks;
  double freed_at;   /* see frameworks.c (offer latency); 0 when nothing freed since the last offer */
  sim_tq_node timer; /* registration timeout or delayed retry */
  struct sim_agent *qprev, *qnext; /* registration queue */
  UT_hash_handle hh; /* s->agents_by_id, keyed by id */
} sim_agent;

struct sim_task {
  char *key;        /* owned: "<framework id>\0<task id>" (keylen = both + 1) */
  size_t keylen;
  const char *fw_id, *task_id; /* point into key */
  sim_agent *agent;
  sim_task *agent_prev, *agent_next;
  int state;        /* latest state (RUNNING or terminal) */
  int head_state;   /* state of the update waiting for its ACKNOWLEDGE; 0 = none */
  int pending_state;/* terminal update queued behind the unacknowledged head; 0 = none */
  uint8_t uuid[16]; /* uuid of the head update */
  char *name;       /* owned */
  uint8_t *res;     /* owned: packed mesos.v1.Resource records (len-prefixed), for re-registration */
  size_t res_len;
  sim_tq_node end;   /* task end (task_duration), in task_ends[end_level] */
  uint8_t end_level;
  sim_tq_node retry; /* resend of the unacknowledged head */
  UT_hash_handle hh;
};

/* ------------------------------------------------------------------ links */
struct sim_link {
  sim *s;
  uint32_t index;
  struct mz_http_client *client;
  struct mz_http_call *call;
  struct mz_recordio_decoder *dec;
  int status;
  bool up;            /* the master answered 200 */
  uint32_t first, n;  /* agents [first, first + n) */
  double backoff;
  double last_event;  /* mz_monotonic() of the last record received */
  double ping_interval;
  sim_tq_node retry;  /* reconnect */
  char errtext[256];
  size_t errlen;
};

/* A framework info the agents learned from RUN_TASK, by id (for re-registration). */
typedef struct sim_fwinfo {
  char *id;
  Mesos__V1__FrameworkInfo *info; /* owned, protobuf-c unpacked layout */
  UT_hash_handle hh;
} sim_fwinfo;

typedef struct sim_framework sim_framework;

struct sim {
  struct event_base *base;
  sim_flags f;
  char host[256];
  int port;
  /* --master=zk://...: the detector follows the leading master; host/port are its
   * address (port 0 until one is known) and every link is re-opened on a change. */
  struct mz_detector *detector;
  bool zk;
  uint64_t leader_changes;
  mz_content_type link_ct;

  /* agents */
  mz_resources *agent_res;
  Mesos__V1__Resource **agent_res_pb;
  size_t n_agent_res_pb;
  Mesos__V1__Attribute **attrs;
  size_t nattrs;
  sim_agent *agents;      /* array of f.agents */
  sim_agent *agents_by_id;
  sim_agent *regq;        /* agents waiting for their (re-)registration, in order */
  size_t nregq;
  double ramp_tokens, ramp_last;
  size_t next_link; /* ramp: the next link to open */
  struct event *ramp_ev;
  sim_tq reg_timeouts;
  sim_tq task_ends[SIM_DURATION_LEVELS]; /* one FIFO per task duration (--task_duration_spread) */
  sim_tq update_retries;
  sim_tq link_retries;
  sim_task *tasks;        /* hash by key */
  sim_fwinfo *fwinfos;
  size_t registered;      /* agents now registered */
  size_t ever_registered;
  size_t live_tasks;      /* tasks the agents hold (running or waiting for an ACKNOWLEDGE) */
  uint64_t link_losses, reg_errors, updates_sent, acks_received;
  uint64_t rng[2];

  /* links */
  sim_link *links;
  size_t nlinks;
  size_t links_up;
  char **sources;         /* source addresses to spread connections over (NULL: none) */
  size_t nsources;

  /* frameworks */
  mz_resources *task_res;
  Mesos__V1__Resource **task_res_pb;
  size_t n_task_res_pb;
  sim_framework *fws;
  size_t nfws;
  struct sim_launch *launches; /* hash by task number */
  uint64_t next_task;
  double tokens, tokens_last;
  uint64_t total_launched, total_terminal;
  size_t subscribed;
  uint64_t fw_errors;
  struct event *hold_ev;

  /* stats */
  sim_window win;
  double started;
  struct event *tick_ev;
  double last_progress;
  bool stopping;
  int exit_code;
};

/* agents.c */
int sim_agents_init(sim *s, char *err, size_t errlen);
void sim_agents_free(sim *s);
void sim_agents_ramp_start(sim *s);
/* Sends REGISTER for every queued agent now, without the ramp's pacing (the
 * agents re-registering with a new leading master all at once). */
void sim_agents_register_queued(sim *s);
/* l was accepted by the master: its queued agents that had registered before re-register now. */
void sim_agents_reregister_link(sim_link *l);
sim_agent *sim_agent_find(sim *s, const char *id);
/* The link carrying a's agents came up: queue every agent of it for (re-)registration. */
void sim_agent_link_up(sim_agent *a);
/* The link went down: the agent is disconnected (its tasks go on). */
void sim_agent_link_down(sim_agent *a);
/* An event for an agent of link l (already decoded; agent routing done here). */
void sim_agent_event(sim_link *l, const Mezzo__Internal__AgentEvent *ev);

/* links.c */
int sim_links_init(sim *s, char *err, size_t errlen);
void sim_links_free(sim *s);
/* The leading master changed (s->host, s->port): every link reconnects to it now. */
void sim_links_retarget(sim *s);
/* Opens l's connection if it is not open (idempotent). */
void sim_link_open(sim_link *l);
sim_link *sim_link_of(sim *s, uint32_t agent_index);
/* Sends one AgentCall over l. 0 or -1 (link not open). */
int sim_link_send(sim_link *l, Mezzo__Internal__AgentCall *call);
void sim_links_check(sim *s); /* once a second: links silent for too long are dropped */

/* frameworks.c */
int sim_frameworks_init(sim *s, char *err, size_t errlen);
int sim_frameworks_start(sim *s, char *err, size_t errlen);
void sim_frameworks_free(sim *s);

/* One "sim: event NAME ... t=<wall clock>" line on stderr, for drivers (bench_failover). */
void sim_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* stats.c */
void sim_window_reset(sim *s);
void sim_print_progress(sim *s);
void sim_print_summary(sim *s);
int sim_write_report(sim *s, const char *path, char *err, size_t errlen);

/* Fast non-cryptographic randomness (uuids of status updates, failure draws). */
uint64_t sim_rand(sim *s);
double sim_rand01(sim *s);

#endif
