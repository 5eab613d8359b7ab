/* agent: the state of mezzo-agent and the functions its modules call on each other.
 *
 * One mz_agent per process, owned by main.c and by the loop thread. It holds
 * frameworks -> executors -> tasks (uthash tables keyed by id), plus bounded
 * lists of completed tasks, executors and frameworks kept for /state, as Mesos does.
 *
 * Modules (one job each):
 *   agent.c           the tables: create / find / complete / free; protobuf copies
 *   tasks.c           RUN_TASK, KILL_TASK, SHUTDOWN_FRAMEWORK, executor updates, acknowledgements
 *   executors.c       an executor's life: sandbox, launch, registration timeout, kill escalation, exit
 *   direct_command.c  command tasks the agent runs itself, as the command executor would
 *   executor_api.c    POST /api/v1/executor (the Mesos v1 executor HTTP API, server side)
 *   master_link.c     the persistent link to the master (agent.proto)
 *   status_updates.c  per-task ordered queues of status updates, retried until acknowledged
 *   containerizer.h   the launcher interface; launcher_posix.c implements it with sessions
 *                     and cgroups; isolation.c chooses the isolators and drives cgroups
 *   fetcher.c         CommandInfo.uris into the sandbox (run in the container's child)
 *   fetch_async.c     the fetcher in a child of its own, watched by the loop
 *   exec_fetch.c      a task group for a running executor: its URIs fetched before it is sent
 *   files.c           /files/browse, /files/read (confined to sandboxes), /monitor/statistics
 *   sandbox.c         sandbox directories (Mesos's layout)
 *   sandbox_gc.c      which of them the garbage collector (gc.c, treewalk.c) removes, and when
 *   disk_du.c         the disk/du isolator: sandboxes measured, quotas enforced
 *   checkpoint.c      the on-disk layout of checkpointed state (<work_dir>/meta)
 *   recover.c         what is checkpointed when, and the recovery of a restarted agent
 *                     (--recover=reconnect|cleanup): executors re-attached, the rest reported
 *   resources_detect.c this machine's cpus/mem/disk and the default resources
 *   endpoints.c       /health, /state (Mesos /slave(1)/state shape)
 *   main.c            flags, the loop, signals
 *
 * Ownership: every string and protobuf message below is owned by the struct that
 * points at it (protobuf copies are freed with protobuf_c_message_free_unpacked).
 * Executors point at their framework, tasks at their executor (not owning). */
#ifndef MZ_AGENT_H
#define MZ_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uthash.h>
#include <utlist.h>

#include "agent/checkpoint.h"
#include "agent/containerizer.h"
#include "agent/fetcher.h"
#include "agent/isolation.h"
#include "agent/status_updates.h"
#include "common/codec.h"
#include "common/files_http.h"
#include "common/task_state.h"
#include "common/resources.h"
#include "common/util.h"
#include "common/version.h"
#include "mesos/v1/executor/executor.pb-c.h"
#include "mesos/v1/mesos.pb-c.h"
#include "mezzo/agent.pb-c.h"

#define MZ_AGENT_MOD "agent"

#define MZ_AGENT_MAX_STATUSES_PER_TASK 32   /* TaskStatus history kept per task for /state */
#define MZ_AGENT_MAX_COMPLETED_TASKS 200    /* per executor (Mesos: 200) */
#define MZ_AGENT_EXECUTOR_HEARTBEAT 30.0    /* seconds between HEARTBEAT events to executors */

struct event_base;
struct event;
typedef struct mz_http_server mz_http_server;
typedef struct mz_http_req mz_http_req;
typedef struct mz_containerizer mz_containerizer;
typedef struct mz_master_link mz_master_link;

typedef struct mz_agent_flags {
  const char *master;
  const char *ip;
  long port;
  const char *advertise_ip;
  const char *hostname;
  const char *work_dir;
  const char *resources;
  const char *attributes;
  const char *default_role;
  const char *launcher_dir;
  const char *log_dir;
  const char *logging_level;
  const char *link_content_type;
  double executor_registration_timeout;
  double executor_shutdown_grace_period;
  double registration_backoff_factor;
  double status_update_retry_interval_min;
  double status_update_retry_interval_max;
  long max_completed_executors_per_framework;
  long max_completed_frameworks;
  const char *isolation;             /* --isolation (NULL: detected) */
  const char *cgroups_root;
  int cgroups_enable_cfs;
  long cgroups_limit_pids;
  int switch_user;
  int executor_fork_server;          /* --executor_fork_server (mezzo's own; default true) */
  long executor_fork_servers;        /* how many (mezzo's own; 0: one per CPU online, at most 4, set at start) */
  int direct_command_tasks;          /* --direct_command_tasks (mezzo's own; default true): direct_command.c */
  int http_executor_domain_sockets;  /* serve executors on a Unix socket too (default true; Mesos's false) */
  const char *domain_socket_location; /* its path (default <work_dir>/agent.sock) */
  const char *fetcher_cache_dir;
  const char *executor_environment_variables; /* JSON object; parsed into mz_agent.executor_env */
  uint64_t fetcher_cache_size;       /* bytes the cache's entries hold at most (default 2GB) */
  double fetcher_stall_timeout;      /* a download under 1 byte/s this long fails (default 1mins) */
  double gc_delay;                   /* sandboxes that are done go this long after (default 1weeks) */
  double gc_disk_headroom;           /* ... sooner as the disk fills (gc.h; default 0.1) */
  double disk_watch_interval;        /* how often the disk usage is read (default 1mins) */
  double container_disk_watch_interval; /* disk/du: how often sandboxes are measured (default 15secs) */
  int enforce_container_disk_quota;  /* disk/du: destroy a container over its disk resources */
  const char *recover;                   /* --recover: reconnect (default) or cleanup */
  double recovery_timeout;               /* how long executors wait for a dead agent (default 15mins) */
  double executor_reregistration_timeout; /* how long a restarted agent waits for its executors (2secs) */
} mz_agent_flags;

typedef struct mz_ag_framework mz_ag_framework;
typedef struct mz_ag_executor mz_ag_executor;
typedef struct mz_ag_task mz_ag_task;

struct mz_ag_task {
  char *id;
  Mesos__V1__TaskInfo *info;         /* owned */
  Mesos__V1__TaskState state;        /* the latest state the agent knows */
  Mesos__V1__TaskStatus **statuses;  /* owned copies, oldest first, bounded */
  size_t nstatuses;
  int kill_requested;
  unsigned group;                    /* 0: a single task; else its task group's number in the executor */
  int fetching;                      /* 1 while its group's URIs are fetched for a running executor (queued) */
  mz_ag_executor *executor;
  UT_hash_handle hh;                 /* in its executor's queued or launched hash */
  UT_hash_handle hh_fw;              /* in its framework's live_tasks, while queued or launched */
  mz_ag_task *prev, *next;           /* in the executor's completed list */
};

typedef enum {
  MZ_EXEC_REGISTERING = 0, /* launched, not subscribed yet */
  MZ_EXEC_RUNNING,         /* subscribed */
  MZ_EXEC_TERMINATING,     /* being destroyed */
  MZ_EXEC_TERMINATED       /* its process exited; waits for its tasks' updates to be acknowledged */
} mz_exec_state;

struct mz_ag_executor {
  char *id;
  struct mz_agent *agent;
  mz_ag_framework *fw;
  Mesos__V1__ExecutorInfo *info;     /* owned; generated for command executors */
  int command;                       /* 1: the command executor (mezzo-executor) */
  int direct;                        /* 1: a command task the agent runs itself (direct_command.c): no process
                                        but the command's, which is pid; it takes no executor calls */
  int default_executor;              /* 1: the default executor (mezzo-executor --default), for task groups */
  unsigned next_group;               /* numbers the task groups given to this executor */
  char container_id[MZ_UUID_STR];
  char *directory;                   /* the run's sandbox */
  mz_exec_state state;
  pid_t pid;
  double launched_at;                /* wall clock */
  double cpus_limit;                 /* the container's limits (0: none), for /monitor/statistics */
  uint64_t mem_limit_bytes;
  int disk_measured;                 /* disk/du (disk_du.c): its sandbox's disk use was measured */
  uint64_t disk_used_bytes, disk_limit_bytes;
  mz_http_req *stream;               /* the SUBSCRIBE stream, NULL when not connected */
  mz_content_type stream_ct;
  mz_ag_task *queued;                /* hash: given by the master, not yet sent (LAUNCH) */
  mz_ag_task *launched;              /* hash: sent to the executor */
  mz_ag_task *completed;             /* list: terminal and acknowledged */
  size_t ncompleted;
  struct event *reg_timer;           /* executor_registration_timeout */
  struct event *kill_timer;          /* escalation: destroy the container if a killed task lingers */
  /* What happens to tasks still live when the process exits (set before a destroy). */
  int term_set;
  Mesos__V1__TaskState term_state;
  Mesos__V1__TaskStatus__Reason term_reason;
  char *term_message;
  int recovered;                     /* 1: recovered from a checkpoint, not re-subscribed yet */
  struct mz_ag_fetch *fetches;       /* list: task groups whose URIs are being fetched (exec_fetch.c) */
  UT_hash_handle hh;
  mz_ag_executor *prev, *next;       /* in the framework's completed list */
};

struct mz_ag_framework {
  char *id;
  Mesos__V1__FrameworkInfo *info;    /* owned */
  mz_ag_executor *executors;         /* hash */
  mz_ag_task *live_tasks;            /* hash (hh_fw): every queued or launched task of its executors, by id */
  mz_ag_executor *completed;         /* list, bounded */
  size_t ncompleted;
  int removing;                      /* SHUTDOWN_FRAMEWORK: no more updates go to the master */
  UT_hash_handle hh;
  mz_ag_framework *prev, *next;      /* in the agent's completed list */
};

typedef struct mz_agent {
  struct event_base *base;
  mz_agent_flags flags;
  mz_files_ops files; /* the /files endpoints' view of the sandboxes (files.c) */
  char *hostname;
  char *endpoint_ip;                 /* ip that executors and /state use to reach us */
  int port;                          /* the bound port */
  char *work_dir;                    /* absolute */
  char *launcher_dir;                /* absolute */
  mz_resources *resources;           /* total */
  Mesos__V1__Attribute **attributes;
  size_t nattributes;
  char *agent_id;                    /* NULL until registered */
  char *master_host;
  int master_port;
  double start_time;

  mz_http_server *http;
  mz_http_server *executor_socket_http; /* --http_executor_domain_sockets: the executor socket's server */
  char *executor_socket;                /* its path, MESOS_DOMAIN_SOCKET; NULL without one */
  mz_containerizer *containerizer;
  mz_isolation isolation;            /* the isolators in use (isolation.h) */
  int cgroups_locks[MZ_CGC_N];       /* the locks on the isolation's bases (cgroups_lock.h); -1: none */
  int cgroups_sole;                  /* no other agent held any at start: recovery sweeps the bases */
  mz_master_link *link;
  mz_su_manager *su;
  struct mz_gc *gc;                  /* sandboxes that are done, removed later (gc.h, sandbox_gc.c) */
  int fetch_cache_ready;             /* the fetcher cache was emptied and its lock made (fetch_cache.h) */
  struct json_t *executor_env;       /* --executor_environment_variables (NULL: the agent's is inherited) */
  struct mz_disk_du *disk_du;        /* with the disk/du isolator (disk_du.c) */
  struct event *heartbeat_timer;
  struct event *recovery_timer;      /* --executor_reregistration_timeout after a recovery */
  int recovering;                    /* 1 until recovered executors are back or timed out */

  mz_ag_framework *frameworks;       /* hash */
  mz_ag_framework *completed_frameworks; /* list, bounded */
  size_t ncompleted_frameworks;
  int shutting_down;
} mz_agent;

/* ---------------------------------------------------------------- agent.c */
mz_ag_framework *mz_agent_framework(mz_agent *a, const char *id);
mz_ag_framework *mz_agent_framework_add(mz_agent *a, const Mesos__V1__FrameworkInfo *info);
mz_ag_executor *mz_agent_executor(mz_ag_framework *fw, const char *id);
mz_ag_executor *mz_agent_executor_add(mz_agent *a, mz_ag_framework *fw, const Mesos__V1__ExecutorInfo *info,
                                      int command);
/* Finds a task (queued or launched) of a framework, and its executor. */
mz_ag_task *mz_agent_task(mz_agent *a, const char *fw_id, const char *task_id);
mz_ag_task *mz_agent_task_new(mz_ag_executor *ex, const Mesos__V1__TaskInfo *info);
void mz_agent_task_record_status(mz_ag_task *t, const Mesos__V1__TaskStatus *st);
/* Moves a task out of queued/launched into the executor's completed list. */
void mz_agent_task_complete(mz_agent *a, mz_ag_task *t);
/* Drops an executor that is TERMINATED with no live task into the completed list,
 * and the framework when it has no executor left. Safe to call at any time. */
void mz_agent_gc_executor(mz_agent *a, mz_ag_executor *ex);
void mz_agent_free_state(mz_agent *a);
size_t mz_agent_live_tasks(const mz_ag_executor *ex);
/* This agent's AgentInfo (hostname, port, id when known, resources, attributes),
 * built in a caller-owned buffer that borrows from the agent; release frees what it made. */
typedef struct {
  Mesos__V1__AgentInfo info;
  Mesos__V1__AgentID id;
  struct Mesos__V1__Resource **res;
  size_t nres;
} mz_agent_info_buf;
void mz_agent_info_fill(mz_agent *a, mz_agent_info_buf *b);
void mz_agent_info_release(mz_agent_info_buf *b);
/* (Deep copies: mz_pb_dup in common/codec.h.) */
void mz_pb_free(void *m); /* NULL-safe protobuf_c_message_free_unpacked */

/* ---------------------------------------------------------------- tasks.c */
/* killed: a KILL_TASK for one of its tasks came while it waited in the link's queue
 * (master_link.c); every task of it is then answered TASK_KILLED, none launched. */
void mz_agent_run_task(mz_agent *a, const Mezzo__Internal__AgentEvent__RunTask *rt, int killed);
void mz_agent_kill_task(mz_agent *a, const Mezzo__Internal__AgentEvent__KillTask *kt);
void mz_agent_shutdown_framework(mz_agent *a, const char *fw_id);
void mz_agent_framework_message(mz_agent *a, const Mezzo__Internal__AgentEvent__FrameworkMessage *fm);
void mz_agent_acknowledge(mz_agent *a, const Mezzo__Internal__AgentEvent__Acknowledge *ack);
/* An UPDATE from an executor. 0, or -1 with a message for a 400. */
int mz_agent_executor_update(mz_agent *a, mz_ag_executor *ex, const Mesos__V1__TaskStatus *st, char *err,
                             size_t errlen);
/* A TaskStatus of task t (borrowing t's ids) in st: state, source, message (borrowed),
 * its executor's id in eid, a fresh uuid in uuid (MZ_UUID_BYTES), the time now. */
void mz_agent_status_fill(mz_ag_task *t, Mesos__V1__TaskState state, Mesos__V1__TaskStatus__Source source,
                          const char *message, uint8_t *uuid, Mesos__V1__ExecutorID *eid, Mesos__V1__TaskStatus *st);
/* A status generated by the agent (source SOURCE_AGENT) for task t. */
void mz_agent_generate_update(mz_agent *a, mz_ag_task *t, Mesos__V1__TaskState state,
                              int has_reason, Mesos__V1__TaskStatus__Reason reason, const char *message);
/* The status update manager got the framework's acknowledgement of a task's terminal update. */
void mz_agent_task_terminal_acked(mz_agent *a, const char *fw_id, const char *task_id);
/* Master sent SHUTDOWN: kill everything and forget the agent id. */
void mz_agent_master_shutdown(mz_agent *a);
/* The status update manager's callbacks (arg: the mz_agent). */
extern const mz_su_callbacks mz_agent_su_callbacks;

/* ---------------------------------------------------------------- executors.c */
/* --executor_environment_variables: a JSON object of names to strings (Mesos's
 * check: only string values). 0 with *out (a new reference), or -1 with err. */
int mz_ag_executor_env_parse(const char *text, struct json_t **out, char *err, size_t errlen);
/* Mesos's os::host_default_path(): the PATH of executors given an environment without one. */
#define MZ_HOST_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* 1 when an executor inherits this entry ("NAME=value") of the agent's environment:
 * all but the agent's own MEZZO_* settings (MEZZO_EXECUTOR_* are the executor's). */
int mz_ag_env_inherited(const char *entry);
/* Creates the run's sandbox and starts the executor process. On failure the
 * executor is marked terminated and its tasks get TASK_FAILED. */
void mz_ag_exec_launch(mz_agent *a, mz_ag_executor *ex);
/* Sets the container's limits to the executor's resources plus its live tasks'
 * (custom and default executors, whose tasks come and go): cpus follow, memory
 * only grows, as in Mesos. */
void mz_ag_exec_update_limits(mz_agent *a, mz_ag_executor *ex);
/* The disk resources of the executor and its live tasks, in bytes (disk/du's quota). */
uint64_t mz_ag_exec_disk_limit(const mz_ag_executor *ex);
/* Sends LAUNCH for every queued task (executor subscribed). */
void mz_ag_exec_flush_queue(mz_agent *a, mz_ag_executor *ex);
/* Sends one event on the executor's stream (no-op when not subscribed). 0 or -1. */
int mz_ag_exec_send_event(mz_agent *a, mz_ag_executor *ex, const Mesos__V1__Executor__Event *ev);
/* Asks the executor to kill a launched task; arms the escalation timer. */
void mz_ag_exec_kill_task(mz_agent *a, mz_ag_executor *ex, mz_ag_task *t, const Mesos__V1__KillPolicy *override);
/* Stops the executor: SHUTDOWN event, then destroys the container after the shutdown
 * grace period (0: now). What its live tasks become is given by state/reason/message. */
void mz_ag_exec_shutdown(mz_agent *a, mz_ag_executor *ex, double grace, Mesos__V1__TaskState state,
                          Mesos__V1__TaskStatus__Reason reason, const char *message);
/* The containerizer reaped the executor's process. */
void mz_ag_exec_exited(mz_agent *a, mz_ag_executor *ex, int wait_status, const char *launch_error, int limited,
                       const char *limit_message);
/* Frees the timers and stream of an executor (the record itself is freed by agent.c). */
void mz_ag_exec_release(mz_ag_executor *ex);
void mz_ag_exec_heartbeat_all(mz_agent *a);

/* The agent's settings of a fetch request (its commands set): --fetcher_stall_timeout,
 * and the fetcher cache when one of its URIs asks for it: the cache's dir for the
 * container's user (user, uid, gid when switch_user; made here, see fetch_cache.h)
 * goes in dir. When that dir cannot be made the URIs are fetched without the cache
 * (logged). */
void mz_ag_fetch_setup(mz_agent *a, mz_fetch_request *req, int switch_user, const char *user, uid_t uid, gid_t gid,
                       char *dir, size_t dirlen);

/* The user a container runs as (the agent is root, --switch_user): spec's switch_user,
 * uid, gid and groups (*groups malloc'd, the caller frees). 0, or -1 with err. */
int mz_ag_resolve_user(const char *user, mz_launch_spec *spec, gid_t **groups, char *err, size_t errlen);

/* ---------------------------------------------------------------- direct_command.c */
/* 1 when the command executor ex (with its one task queued) is run by the agent itself:
 * --direct_command_tasks, a framework that does not checkpoint (whose executors end
 * with the agent anyway), a task with a command and no health check, no pid namespace. */
int mz_ag_direct_eligible(mz_agent *a, const mz_ag_executor *ex);
/* The environment of ex's task's command (its argv: mz_command_argv, task_command.h):
 * exec_env (the executor's, borrowed) with the task's PORT variables and its
 * CommandInfo's over it, as the command executor gives them; malloc'd
 * (mz_command_strv_free). NULL with err. */
char **mz_ag_direct_env(const mz_ag_executor *ex, char *const *exec_env, char *err, size_t errlen);
/* Its command was launched (ex->pid): the task is launched, TASK_STARTING is sent, and
 * TASK_RUNNING once the exec is seen. */
void mz_ag_direct_started(mz_agent *a, mz_ag_executor *ex);
/* KILL_TASK: TASK_KILLING (for frameworks with TASK_KILLING_STATE), SIGTERM to the
 * container, SIGKILL after the grace period (override, the task's kill policy, 3s). */
void mz_ag_direct_kill(mz_agent *a, mz_ag_executor *ex, mz_ag_task *t, const Mesos__V1__KillPolicy *override);
/* The grace a shutdown gives the command: its kill policy's, within the executor's
 * shutdown grace less 1s, as the command executor's. */
double mz_ag_direct_shutdown_grace(mz_agent *a, const mz_ag_executor *ex, double shutdown_grace);
/* Its command ended: the task's terminal update as the command executor words it, unless
 * the container hit a limit, was shut down, or could not be set up (the caller reports
 * those). */
void mz_ag_direct_exited(mz_agent *a, mz_ag_executor *ex, int wait_status, const char *launch_error);

/* ---------------------------------------------------------------- exec_fetch.c */
/* A task group (its tasks queued under `group`) for an executor already launched:
 * when its tasks have URIs they are marked fetching, which holds them back in
 * mz_ag_exec_flush_queue, and fetched into the executor's sandbox by a child
 * (fetch_async.h); then the group is sent, or every live task of it gets TASK_FAILED
 * naming the URI. Nothing to fetch: nothing is done. */
void mz_ag_exec_fetch_group(mz_agent *a, mz_ag_executor *ex, unsigned group);
/* Stops the fetches of an executor that exited or is freed (its tasks' fates are
 * decided by the caller). */
void mz_ag_exec_fetch_cancel_all(mz_ag_executor *ex);

/* ---------------------------------------------------------------- recover.c */
/* At start, after the containerizer, status update manager and master link exist and
 * before the loop runs. --recover=reconnect: reads the checkpoint (checkpoint.h), takes
 * back the agent id, frameworks, executors whose process still runs (adopted by the
 * containerizer), tasks and their unacknowledged updates; reports the tasks of
 * executors that died; destroys every container not recovered. When executors were
 * recovered, a->recovering is set and the master link is started once they have all
 * re-subscribed or --executor_reregistration_timeout passed (the rest are destroyed);
 * otherwise the caller starts the link. --recover=cleanup: destroys everything an
 * earlier run left, forgets the checkpoint and returns 1 (the agent exits, as Mesos's).
 * 0 otherwise. */
int mz_agent_recover(mz_agent *a);
/* A recovered executor subscribed again with the tasks and updates it has not seen
 * acknowledged (borrowed); tasks it never got are queued to be sent again. */
void mz_agent_executor_reregistered(mz_agent *a, mz_ag_executor *ex, const Mesos__V1__Executor__Call__Subscribe *sub);
/* 1 when what this framework runs is checkpointed (FrameworkInfo.checkpoint). */
int mz_agent_checkpointing(const mz_ag_framework *fw);
/* Checkpoint writes (no-ops for frameworks that don't checkpoint; failures are logged). */
void mz_ag_ckpt_agent(mz_agent *a);
void mz_ag_ckpt_framework(mz_agent *a, mz_ag_framework *fw);
void mz_ag_ckpt_executor(mz_agent *a, mz_ag_executor *ex);
void mz_ag_ckpt_executor_pid(mz_agent *a, mz_ag_executor *ex);
/* The GPUs its container holds (gpu.c makes the list: mz_agent_gpus_checkpoint). */
void mz_ag_ckpt_executor_gpus(mz_agent *a, mz_ag_executor *ex, const mz_ckpt_gpu *gpus, size_t n);
void mz_ag_ckpt_task(mz_agent *a, mz_ag_task *t);
void mz_ag_ckpt_update(mz_agent *a, mz_ag_task *t, const Mesos__V1__TaskStatus *st);
void mz_ag_ckpt_ack(mz_agent *a, mz_ag_task *t, const uint8_t *uuid);
/* The executor (or framework) completed: its checkpoint is removed. */
void mz_ag_ckpt_executor_done(mz_agent *a, mz_ag_executor *ex);
void mz_ag_ckpt_framework_done(mz_agent *a, mz_ag_framework *fw);

/* ---------------------------------------------------------------- executor_api.c */
/* POST /api/v1/executor, also under /slave(1). */
void mz_executor_api_register(mz_agent *a, mz_http_server *s);
/* Serves executors on the Unix domain socket at path (mode 0666), as Mesos's
 * --http_executor_domain_sockets does: /api/v1/executor and /api/v1 only (also under
 * /slave(1)), any other path gets 403. Sets a->executor_socket_http and a->executor_socket. 0 or -1 with err. */
int mz_executor_socket_open(mz_agent *a, const char *path, char *err, size_t errlen);
void mz_executor_socket_close(mz_agent *a);
/* Ends the executor's subscription stream, if any. */
void mz_executor_api_close(mz_ag_executor *ex);

/* ---------------------------------------------------------------- endpoints.c */
void mz_endpoints_register(mz_agent *a, mz_http_server *s);
/* Routes path and its Mesos alias /slave(1)<path> to h. */
void mz_agent_route(mz_http_server *s, const char *path, void (*h)(mz_http_req *r, void *arg), mz_agent *a);
/* The /state document (new reference). */
struct json_t *mz_agent_state_json(mz_agent *a);
/* The agent's flags as {name: "value"} (new reference), as /state shows them. */
struct json_t *mz_agent_flags_json(const mz_agent *a);

/* ---------------------------------------------------------------- files.c */
/* GET /monitor/statistics, /containers, and the /files endpoints (common/files_http.h) over
 * a->files, which serves the sandboxes and MZ_AGENT_LOG_PATH. */
void mz_files_register(mz_agent *a, mz_http_server *s);
#define MZ_AGENT_LOG_PATH "/slave/log" /* Mesos's virtual path of the agent's log file */
/* Confines path (a real path, or Mesos's virtual /frameworks/<fid>/executors/<eid>/runs/latest[/...])
 * to the sandboxes: 0 with real (PATH_MAX bytes) set to the resolved path, or an HTTP status
 * (400 bad path, 403 outside every sandbox or '..', 404 missing) with err. MZ_AGENT_LOG_PATH
 * is the agent's log file, when it logs to one. a->files's resolver. */
int mz_files_resolve(mz_agent *a, const char *path, char *real, char *err, size_t errlen);

/* ---------------------------------------------------------------- operator_api.c */
/* POST /api/v1 (mesos.v1.agent.Call) and GET /metrics/snapshot. */
void mz_agent_operator_api_register(mz_agent *a, mz_http_server *s);
/* POST /api/v1 (and /slave(1)/api/v1) alone (the executor socket serves it). */
void mz_agent_operator_api_route(mz_agent *a, mz_http_server *s);
void mz_agent_operator_api_free(void);

/* ---------------------------------------------------------------- master_link.c */
mz_master_link *mz_master_link_new(mz_agent *a, char *err, size_t errlen);
void mz_master_link_start(mz_master_link *l);
/* Sends one AgentCall (agent_id filled in). 0, or -1 when not connected or registered
 * (REGISTER and PONG only need the connection). */
int mz_master_link_send(mz_master_link *l, Mezzo__Internal__AgentCall *call);
int mz_master_link_registered(const mz_master_link *l);
/* Sends UNREGISTER and ends the request body. */
void mz_master_link_unregister(mz_master_link *l);
void mz_master_link_free(mz_master_link *l);

/* ---------------------------------------------------------------- sandbox.c */
/* <work_dir>/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<container> (malloc'd). */
char *mz_sandbox_path(const char *work_dir, const char *agent_id, const char *fw_id, const char *executor_id,
                      const char *container_id);
/* mkdir -p of the run dir and a `latest` link beside it (the launch makes stdout and stderr). 0 or -1. */
int mz_sandbox_create(const char *dir, char *err, size_t errlen);
/* mkdir -p. 0 or -1. */
int mz_mkdirs(const char *path, mode_t mode, char *err, size_t errlen);
/* Creates dir/name (mode 0644) when missing; an existing file is left as it is. 0 or -1 with err. */
int mz_create_file(const char *dir, const char *name, char *err, size_t errlen);

/* ---------------------------------------------------------------- sandbox_gc.c */
/* An executor is done (mz_agent_gc_executor): its executor dir goes gc_delay from now,
 * and its framework's dir too when framework_done. No-op without a->gc. */
void mz_sandbox_gc_done(mz_agent *a, const mz_ag_executor *ex, int framework_done);
/* A new run is made at dir: the dirs above it are no longer scheduled (the earlier
 * runs beside it are, when their executor dir was). */
void mz_sandbox_gc_in_use(mz_agent *a, const char *dir);
/* At start, after recovery (the n container ids it destroyed given): schedules the dirs
 * of earlier agent ids and what no recovered executor uses (see sandbox_gc.c). */
void mz_sandbox_gc_recovered(mz_agent *a, char *const *destroyed_ids, size_t n);

/* ---------------------------------------------------------------- resources_detect.c */
typedef struct {
  double cpus;
  uint64_t mem_total_bytes;
  uint64_t disk_total_bytes;
} mz_machine_info;

/* cpus online, MemTotal, statvfs(work_dir) size. 0 or -1 with err. */
int mz_detect_machine(const char *work_dir, mz_machine_info *out, char *err, size_t errlen);
/* Mesos's defaults: memory total - min(total/2, 1 GiB) and disk total - min(total/2, 5 GiB), in MB. */
uint64_t mz_default_mem_mb(uint64_t total_bytes);
uint64_t mz_default_disk_mb(uint64_t total_bytes);
/* The agent's total resources: --resources text (may be NULL/empty) plus cpus, mem, disk
 * and ports [31000-32000] for those it doesn't name. NULL with err naming --resources. */
mz_resources *mz_agent_resources(const char *text, const char *default_role, const mz_machine_info *m,
                                 char *err, size_t errlen);

#endif
