/* master_link: the agent's one persistent connection to the master
 * (proto/mezzo/agent.proto): POST /api/v1/mezzo/agent whose chunked request body
 * is a RecordIO stream of AgentCalls and whose streamed response is a RecordIO
 * stream of AgentEvents, in protobuf (default) or JSON (--link_content_type).
 *
 * It sends REGISTER as soon as the request is out (with the agent id, tasks,
 * executors and frameworks when re-registering), answers PING with PONG, passes
 * the other events to tasks.c, and when the connection fails, the master refuses
 * the registration or pings stop coming (5 ping intervals), connects again after
 * a jittered exponential backoff (--registration_backoff_factor doubling, capped at
 * 10 s). Unacknowledged status updates are sent again after every REGISTERED.
 *
 * Events that act on tasks and frameworks (RUN_TASK, KILL_TASK, FRAMEWORK_MESSAGE,
 * SHUTDOWN_FRAMEWORK) are handled in order from a queue, LINK_DRAIN_SLICE's worth
 * per turn of the event loop, while ACKNOWLEDGE and PING are handled as soon as they
 * are read: in a burst of launches the master's stream holds thousands of RUN_TASKs
 * ahead of the framework's acknowledgements, and each task's next status update
 * (RUNNING after STARTING, then its terminal one) waits for the acknowledgement of
 * the one before, as in Mesos, whose agent also acknowledges while its containerizer
 * launches. An acknowledgement never concerns a queued task: it answers an update
 * the agent sent, which only a handled RUN_TASK makes. Every other event (REGISTERED,
 * SHUTDOWN, ERROR) is handled after the queue, which is also emptied before a
 * REGISTER goes out, so that a re-registration lists every task the master sent.
 * A KILL_TASK for a task whose RUN_TASK is still queued is answered without a
 * launch (kill_queued_run); a SHUTDOWN_FRAMEWORK drops the framework's queued
 * RUN_TASKs (drop_queued_runs). The queue holds at most LINK_QUEUE_MAX events: beyond
 * that the oldest is handled at once, as without a queue.
 *
 * With --master=zk://..., a detector (common/zk_detector.h) finds the leading
 * master; the link connects to it once known, and whenever the leader changes
 * it drops the connection and re-registers with the new one after a random
 * delay of up to --registration_backoff_factor (as Mesos's agents do).
 *
 * Ownership: the link owns its HTTP client, the call in flight, the decoder,
 * its timers and the detector; the agent owns the link. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "agent/agent.h"
#include "agent/checkpoint.h"
#include "common/http.h"
#include "common/log.h"
#include "common/recordio.h"
#include "common/zk_detector.h"

#define LINK_PATH "/api/v1/mezzo/agent"
#define LINK_MOD "agent-link"
#define LINK_MAX_EVENT_BYTES (64u << 20)
#define LINK_BACKOFF_CAP 10.0
#define LINK_CONNECT_TIMEOUT 10.0
#define LINK_PING_TIMEOUTS 5 /* missed ping intervals before the master is considered gone */
#define LINK_MAX_ERROR_TEXT 512
#define LINK_MAX_REDIRECTS 8 /* 307s followed in a row (then the usual backoff) */
#define LINK_QUEUE_MAX 8192  /* events held back at most (see the top) */
#define LINK_DRAIN_SLICE 0.01 /* seconds of queued events handled per loop turn (at least one) */

/* An event held back (see the top), decoded. */
typedef struct queued_event {
  Mezzo__Internal__AgentEvent *ev;
  int killed; /* a RUN_TASK one of whose tasks a later KILL_TASK named */
  struct queued_event *next;
} queued_event;

/* The queued RUN_TASKs' tasks, by framework and task id, for kill_queued_run: a
 * task group's every task names its one RUN_TASK. The first RUN_TASK of a task
 * (the one that makes it) holds its name. */
typedef struct queued_task {
  char *key; /* the framework id, a NUL, the task id */
  size_t keylen;
  queued_event *q;
  UT_hash_handle hh;
} queued_task;

struct mz_master_link {
  mz_agent *a;
  mz_http_client *client;
  mz_http_call *call;
  mz_recordio_decoder *dec;
  mz_content_type ct;
  int status;     /* of the link request; 0 until the answer's head */
  char location[MZ_HTTP_HOST_MAX + 64]; /* of a 307: a master that does not lead names the leader */
  int redirects;  /* 307s followed in a row */
  int registered;
  char errtext[LINK_MAX_ERROR_TEXT + 1];
  size_t errlen;
  double backoff; /* upper bound of the next delay */
  double ping_interval, last_ping;
  struct event *retry, *connect_timer, *ping_check;
  char link_key[MZ_UUID_STR];
  Mesos__V1__AgentID aid;
  mz_detector *detector; /* --master=zk://...: NULL otherwise */
  queued_event *queue, **queue_end; /* events held back, oldest first */
  size_t queued;
  queued_task *queued_tasks;        /* the queued RUN_TASKs' tasks (queued_task) */
  int draining;                     /* within drain_queue: no nested draining */
  struct event *drain;              /* a zero-delay timer: the next slice of the queue */
};

static double jitter(void) {
  uint8_t b[MZ_UUID_BYTES];
  mz_uuid_generate(b);
  uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
  return (double)v / 4294967296.0;
}

static void lost(mz_master_link *l, const char *why);
static void follow(mz_master_link *l, const char *host, int port, double delay);

/* ------------------------------------------------------------------ sending */

static int write_call(mz_master_link *l, Mezzo__Internal__AgentCall *call) {
  if (!l->call) return -1;
  size_t len;
  uint8_t *buf = mz_pb_encode(&call->base, l->ct, &len);
  if (!buf) return -1;
  int rc = mz_http_call_write_record(l->call, buf, len);
  free(buf);
  return rc;
}

int mz_master_link_send(mz_master_link *l, Mezzo__Internal__AgentCall *call) {
  if (!l || !l->call) return -1;
  int needs_registration = call->type != MEZZO__INTERNAL__AGENT_CALL__TYPE__REGISTER &&
                           call->type != MEZZO__INTERNAL__AGENT_CALL__TYPE__PONG;
  if (needs_registration && !l->registered) return -1;
  if (!call->agent_id && l->a->agent_id) {
    mesos__v1__agent_id__init(&l->aid);
    l->aid.value = l->a->agent_id;
    call->agent_id = &l->aid;
  }
  return write_call(l, call);
}

int mz_master_link_registered(const mz_master_link *l) { return l && l->registered; }

static Mesos__V1__Task *task_message(mz_agent *a, const mz_ag_framework *fw, const mz_ag_executor *ex,
                                     const mz_ag_task *t, Mesos__V1__FrameworkID *fid, Mesos__V1__AgentID *aid,
                                     Mesos__V1__ExecutorID *eid) {
  Mesos__V1__Task *m = mz_calloc(1, sizeof *m);
  mesos__v1__task__init(m);
  m->name = t->info->name ? t->info->name : "";
  m->task_id = t->info->task_id;
  m->framework_id = fid;
  if (!ex->command) m->executor_id = eid;
  m->agent_id = aid;
  m->state = t->state;
  m->n_resources = t->info->n_resources;
  m->resources = t->info->resources;
  m->kill_policy = t->info->kill_policy;
  m->labels = t->info->labels;
  const Mesos__V1__TaskStatus *head = mz_su_head(a->su, fw->id, t->id);
  if (head) {
    m->has_status_update_state = 1;
    m->status_update_state = head->state;
    m->has_status_update_uuid = 1;
    m->status_update_uuid = head->uuid;
  }
  return m;
}

static void send_register(mz_master_link *l) {
  mz_agent *a = l->a;
  mz_uuid_string(l->link_key);
  Mezzo__Internal__AgentCall call = MEZZO__INTERNAL__AGENT_CALL__INIT;
  Mezzo__Internal__AgentCall__Register reg = MEZZO__INTERNAL__AGENT_CALL__REGISTER__INIT;
  mz_agent_info_buf info;
  mz_agent_info_fill(a, &info);
  reg.agent_info = &info.info;
  reg.version = MZ_VERSION;

  /* What runs here, when re-registering. Submessages are borrowed from the tables;
   * the arrays and the per-task wrappers are freed below. */
  size_t nfw = HASH_COUNT(a->frameworks), ntasks = 0, nex = 0;
  mz_ag_framework *fw, *ftmp;
  mz_ag_executor *ex, *etmp;
  HASH_ITER(hh, a->frameworks, fw, ftmp) {
    HASH_ITER(hh, fw->executors, ex, etmp) {
      ntasks += mz_agent_live_tasks(ex);
      nex++;
    }
  }
  Mesos__V1__FrameworkInfo **fws = mz_calloc(nfw + 1, sizeof *fws);
  Mesos__V1__ExecutorInfo **exs = mz_calloc(nex + 1, sizeof *exs);
  Mesos__V1__Task **tasks = mz_calloc(ntasks + 1, sizeof *tasks);
  Mesos__V1__FrameworkID *fids = mz_calloc(nfw + 1, sizeof *fids);
  Mesos__V1__ExecutorID *eids = mz_calloc(nex + 1, sizeof *eids);
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  aid.value = a->agent_id;
  size_t i = 0, j = 0, k = 0;
  if (a->agent_id) {
    HASH_ITER(hh, a->frameworks, fw, ftmp) {
      if (fw->removing) continue;
      fws[i] = fw->info;
      mesos__v1__framework_id__init(&fids[i]);
      fids[i].value = fw->id;
      HASH_ITER(hh, fw->executors, ex, etmp) {
        mesos__v1__executor_id__init(&eids[j]);
        eids[j].value = ex->id;
        /* As Mesos, command executors are implied by their tasks. */
        if (!ex->command && ex->state != MZ_EXEC_TERMINATED) exs[reg.n_executors++] = ex->info;
        mz_ag_task *t, *ttmp;
        HASH_ITER(hh, ex->queued, t, ttmp) tasks[k++] = task_message(a, fw, ex, t, &fids[i], &aid, &eids[j]);
        HASH_ITER(hh, ex->launched, t, ttmp) tasks[k++] = task_message(a, fw, ex, t, &fids[i], &aid, &eids[j]);
        j++;
      }
      i++;
    }
  }
  reg.n_frameworks = i;
  reg.frameworks = fws;
  reg.executors = exs;
  reg.n_tasks = k;
  reg.tasks = tasks;
  call.type = MEZZO__INTERNAL__AGENT_CALL__TYPE__REGISTER;
  call.link_key = l->link_key;
  call.register_ = &reg;
  if (a->agent_id) {
    aid.value = a->agent_id;
    call.agent_id = &aid;
  }
  int rc = write_call(l, &call);
  MZ_INFO(LINK_MOD, "%s with the master at %s:%d (%zu frameworks, %zu tasks)%s",
          a->agent_id ? "re-registering" : "registering", a->master_host, a->master_port, i, k,
          rc ? ": write failed" : "");
  for (size_t x = 0; x < k; x++) free(tasks[x]);
  free(tasks);
  free(fws);
  free(exs);
  free(fids);
  free(eids);
  mz_agent_info_release(&info);
}

/* ------------------------------------------------------------------ events */

static void on_registered(mz_master_link *l, const Mezzo__Internal__AgentEvent *ev) {
  mz_agent *a = l->a;
  if (!ev->registered || !ev->registered->agent_id || !ev->registered->agent_id->value ||
      !ev->registered->agent_id->value[0]) {
    MZ_WARN(LINK_MOD, "REGISTERED without an agent id: ignored");
    return;
  }
  if (ev->link_key && strcmp(ev->link_key, l->link_key) != 0) {
    MZ_WARN(LINK_MOD, "REGISTERED for another link key (%s): ignored", ev->link_key);
    return;
  }
  const char *id = ev->registered->agent_id->value;
  char err[300];
  if (mz_id_valid(id, err, sizeof err) != 0) {
    MZ_ERROR(LINK_MOD, "the master gave an invalid agent id: %s", err);
    return;
  }
  if (a->agent_id && strcmp(a->agent_id, id) != 0) {
    MZ_WARN(LINK_MOD, "the master gave a new agent id %s (was %s)", id, a->agent_id);
  }
  if (!a->agent_id || strcmp(a->agent_id, id) != 0) {
    free(a->agent_id);
    a->agent_id = mz_strdup(id);
  }
  l->registered = 1;
  mz_ag_ckpt_agent(a);
  l->backoff = a->flags.registration_backoff_factor;
  l->ping_interval = ev->registered->has_ping_interval_seconds ? ev->registered->ping_interval_seconds : 0;
  l->last_ping = mz_monotonic();
  if (l->ping_interval > 0) {
    evtimer_del(l->ping_check);
    mz_timer_in(l->ping_check, l->ping_interval);
  }
  MZ_INFO(LINK_MOD, "registered with the master as agent %s", a->agent_id);
  mz_su_resend_all(a->su);
}

static void on_ping(mz_master_link *l, const Mezzo__Internal__AgentEvent *ev) {
  l->last_ping = mz_monotonic();
  Mezzo__Internal__AgentCall call = MEZZO__INTERNAL__AGENT_CALL__INIT;
  Mezzo__Internal__AgentCall__Pong pong = MEZZO__INTERNAL__AGENT_CALL__PONG__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  if (ev->ping && ev->ping->has_seq) {
    pong.has_seq = 1;
    pong.seq = ev->ping->seq;
  }
  call.type = MEZZO__INTERNAL__AGENT_CALL__TYPE__PONG;
  call.pong = &pong;
  if (ev->agent_id && ev->agent_id->value) {
    aid.value = ev->agent_id->value;
    call.agent_id = &aid;
  } else {
    call.agent_id = NULL; /* link-level */
  }
  write_call(l, &call);
}

/* Every event but REGISTERED and link-level ones names this agent. */
static int for_this_agent(const mz_master_link *l, const Mezzo__Internal__AgentEvent *ev) {
  const mz_agent *a = l->a;
  return ev->type == MEZZO__INTERNAL__AGENT_EVENT__TYPE__REGISTERED || !ev->agent_id || !ev->agent_id->value ||
         (a->agent_id && strcmp(ev->agent_id->value, a->agent_id) == 0);
}

/* killed: see queued_event (RUN_TASK only). */
static void dispatch(mz_master_link *l, const Mezzo__Internal__AgentEvent *ev, int killed) {
  mz_agent *a = l->a;
  if (!for_this_agent(l, ev)) {
    MZ_WARN(LINK_MOD, "event for agent %s, not this one (%s): ignored", ev->agent_id->value,
            a->agent_id ? a->agent_id : "unregistered");
    return;
  }
  switch (ev->type) {
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__REGISTERED:
      on_registered(l, ev);
      break;
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__PING:
      on_ping(l, ev);
      break;
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK:
      if (ev->run_task) mz_agent_run_task(a, ev->run_task, killed);
      break;
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK:
      if (ev->kill_task) mz_agent_kill_task(a, ev->kill_task);
      break;
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__ACKNOWLEDGE:
      if (ev->acknowledge) mz_agent_acknowledge(a, ev->acknowledge);
      break;
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__FRAMEWORK_MESSAGE:
      if (ev->framework_message) mz_agent_framework_message(a, ev->framework_message);
      break;
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN_FRAMEWORK:
      if (ev->shutdown_framework && ev->shutdown_framework->framework_id &&
          ev->shutdown_framework->framework_id->value)
        mz_agent_shutdown_framework(a, ev->shutdown_framework->framework_id->value);
      break;
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__ERROR:
      MZ_ERROR(LINK_MOD, "error from the master: %s",
               ev->error && ev->error->message ? ev->error->message : "(no message)");
      if (!l->registered) lost(l, "registration refused");
      break;
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN:
      l->registered = 0;
      mz_agent_master_shutdown(a);
      send_register(l);
      break;
    default:
      MZ_WARN(LINK_MOD, "unknown event type %d: ignored", (int)ev->type);
      break;
  }
}

/* ------------------------------------------------------------------ the queue (see the top) */

/* The key of a task in queued_tasks (malloc'd). */
static char *task_key(const char *fw_id, const char *task_id, size_t *len) {
  size_t nf = strlen(fw_id), nt = strlen(task_id);
  char *key = mz_malloc(nf + 1 + nt + 1);
  memcpy(key, fw_id, nf + 1);
  memcpy(key + nf + 1, task_id, nt + 1);
  *len = nf + 1 + nt;
  return key;
}

/* The framework id of a RUN_TASK; NULL for another event or a missing id. */
static const char *run_framework(const Mezzo__Internal__AgentEvent *ev) {
  const Mezzo__Internal__AgentEvent__RunTask *rt = ev->run_task;
  if (ev->type != MEZZO__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK || !rt || !rt->framework || !rt->framework->id)
    return NULL;
  return rt->framework->id->value;
}

/* Adds (add) or removes a queued RUN_TASK's tasks to or from queued_tasks. */
static void index_run(mz_master_link *l, queued_event *q, int add) {
  const char *fw_id = run_framework(q->ev);
  if (!fw_id) return;
  const Mezzo__Internal__AgentEvent__RunTask *rt = q->ev->run_task;
  size_t n = rt->task ? 1 : rt->task_group ? rt->task_group->n_tasks : 0;
  for (size_t i = 0; i < n; i++) {
    const Mesos__V1__TaskInfo *t = rt->task ? rt->task : rt->task_group->tasks[i];
    if (!t || !t->task_id || !t->task_id->value) continue;
    size_t len;
    char *key = task_key(fw_id, t->task_id->value, &len);
    queued_task *e;
    HASH_FIND(hh, l->queued_tasks, key, len, e);
    if (add && !e) {
      e = mz_malloc(sizeof *e);
      e->key = key;
      e->keylen = len;
      e->q = q;
      HASH_ADD_KEYPTR(hh, l->queued_tasks, e->key, e->keylen, e);
      continue;
    }
    if (!add && e && e->q == q) {
      HASH_DEL(l->queued_tasks, e);
      free(e->key);
      free(e);
    }
    free(key);
  }
}

static void handle(mz_master_link *l, Mezzo__Internal__AgentEvent *ev, int killed) {
  dispatch(l, ev, killed);
  protobuf_c_message_free_unpacked(&ev->base, NULL);
}

/* Handles the oldest queued event. */
static void handle_oldest(mz_master_link *l) {
  queued_event *q = l->queue;
  l->queue = q->next;
  if (!l->queue) l->queue_end = &l->queue;
  l->queued--;
  index_run(l, q, 0);
  Mezzo__Internal__AgentEvent *ev = q->ev;
  int killed = q->killed;
  free(q);
  handle(l, ev, killed);
}

/* Handles queued events, in order: all of them (all), or for about LINK_DRAIN_SLICE
 * (then the drain timer takes the rest on the next loop turn). Events an event's
 * handler queues (none do) would wait for the next slice. */
static void drain_queue(mz_master_link *l, int all) {
  if (l->draining) return;
  l->draining = 1;
  double until = mz_monotonic() + LINK_DRAIN_SLICE;
  while (l->queue && !l->a->shutting_down) {
    handle_oldest(l);
    if (!all && mz_monotonic() >= until) break;
  }
  l->draining = 0;
  if (l->queue && !l->a->shutting_down) mz_timer_in(l->drain, 0);
}

static void on_drain(evutil_socket_t fd, short what, void *arg) { drain_queue(arg, 0); }

static void free_queue(mz_master_link *l) {
  while (l->queue) {
    queued_event *q = l->queue;
    l->queue = q->next;
    protobuf_c_message_free_unpacked(&q->ev->base, NULL);
    free(q);
  }
  l->queue_end = &l->queue;
  l->queued = 0;
  queued_task *e, *tmp;
  HASH_ITER(hh, l->queued_tasks, e, tmp) {
    HASH_DEL(l->queued_tasks, e);
    free(e->key);
    free(e);
  }
}

static int queued_type(Mezzo__Internal__AgentEvent__Type t) {
  return t == MEZZO__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK || t == MEZZO__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK ||
         t == MEZZO__INTERNAL__AGENT_EVENT__TYPE__FRAMEWORK_MESSAGE ||
         t == MEZZO__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN_FRAMEWORK;
}

/* A KILL_TASK whose task's RUN_TASK still waits in the queue marks that RUN_TASK
 * killed, and is done with: the agent answers the task (or its whole group) with
 * TASK_KILLED in its turn and launches nothing, as Mesos's agent does with a pending
 * task. 1 if it did. */
static int kill_queued_run(mz_master_link *l, const Mezzo__Internal__AgentEvent *ev) {
  const Mezzo__Internal__AgentEvent__KillTask *kt = ev->kill_task;
  if (!for_this_agent(l, ev) || !kt || !kt->framework_id || !kt->framework_id->value || !kt->task_id ||
      !kt->task_id->value)
    return 0;
  const char *fw_id = kt->framework_id->value, *task_id = kt->task_id->value;
  /* A known task is killed in its turn (a queued RUN_TASK of it again is ignored). */
  if (mz_agent_task(l->a, fw_id, task_id)) return 0;
  size_t len;
  char *key = task_key(fw_id, task_id, &len);
  queued_task *e;
  HASH_FIND(hh, l->queued_tasks, key, len, e);
  free(key);
  if (!e || !for_this_agent(l, e->q->ev)) return 0;
  if (!e->q->killed) MZ_INFO(LINK_MOD, "task %s of framework %s killed while its launch waited", task_id, fw_id);
  e->q->killed = 1;
  return 1;
}

/* A SHUTDOWN_FRAMEWORK drops the framework's RUN_TASKs still queued: the master
 * has removed the framework and its tasks, and Mesos's agent, too, runs no task of a
 * framework it is shutting down. The SHUTDOWN_FRAMEWORK itself is queued as usual. */
static void drop_queued_runs(mz_master_link *l, const Mezzo__Internal__AgentEvent *ev) {
  const Mezzo__Internal__AgentEvent__ShutdownFramework *sf = ev->shutdown_framework;
  if (!for_this_agent(l, ev) || !sf || !sf->framework_id || !sf->framework_id->value) return;
  size_t dropped = 0;
  for (queued_event **pq = &l->queue; *pq;) {
    queued_event *q = *pq;
    const char *fw_id = run_framework(q->ev);
    if (!fw_id || strcmp(fw_id, sf->framework_id->value) != 0) {
      pq = &q->next;
      continue;
    }
    *pq = q->next;
    if (l->queue_end == &q->next) l->queue_end = pq;
    l->queued--;
    index_run(l, q, 0);
    protobuf_c_message_free_unpacked(&q->ev->base, NULL);
    free(q);
    dropped++;
  }
  if (dropped)
    MZ_INFO(LINK_MOD, "dropped %zu launch(es) of framework %s, which is shut down, before they ran", dropped,
            sf->framework_id->value);
}

static int on_record(void *arg, const uint8_t *rec, size_t len) {
  mz_master_link *l = arg;
  char err[300];
  Mezzo__Internal__AgentEvent *ev = (Mezzo__Internal__AgentEvent *)mz_pb_decode(
      &mezzo__internal__agent_event__descriptor, l->ct, rec, len, err, sizeof err);
  if (!ev) {
    MZ_WARN(LINK_MOD, "undecodable event from the master: %s", err);
    return 0;
  }
  mz_http_call *before = l->call;
  if (ev->type == MEZZO__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK && kill_queued_run(l, ev)) {
    protobuf_c_message_free_unpacked(&ev->base, NULL);
  } else if (queued_type(ev->type)) {
    if (ev->type == MEZZO__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN_FRAMEWORK) drop_queued_runs(l, ev);
    if (l->queued >= LINK_QUEUE_MAX) handle_oldest(l);
    queued_event *q = mz_malloc(sizeof *q);
    q->ev = ev;
    q->killed = 0;
    q->next = NULL;
    *l->queue_end = q;
    l->queue_end = &q->next;
    l->queued++;
    index_run(l, q, 1);
    if (!evtimer_pending(l->drain, NULL)) mz_timer_in(l->drain, 0);
  } else {
    if (ev->type != MEZZO__INTERNAL__AGENT_EVENT__TYPE__ACKNOWLEDGE &&
        ev->type != MEZZO__INTERNAL__AGENT_EVENT__TYPE__PING)
      drain_queue(l, 1);
    handle(l, ev, 0);
  }
  return l->call == before ? 0 : 1; /* the link was dropped: stop feeding */
}

/* ------------------------------------------------------------------ connection */

static void on_headers(mz_http_call *c, int status, void *arg) {
  mz_master_link *l = arg;
  l->status = status;
  evtimer_del(l->connect_timer);
  if (status == 200) {
    l->redirects = 0;
    MZ_INFO(LINK_MOD, "connected to the master at %s:%d", l->a->master_host, l->a->master_port);
  } else if (status == 307) {
    const char *loc = mz_http_call_header(c, "Location");
    mz_strlcpy(l->location, loc ? loc : "", sizeof l->location);
  }
}

static void on_data(mz_http_call *c, const uint8_t *data, size_t len, void *arg) {
  mz_master_link *l = arg;
  if (l->status != 200) {
    size_t room = LINK_MAX_ERROR_TEXT - l->errlen;
    if (len > room) len = room;
    memcpy(l->errtext + l->errlen, data, len);
    l->errlen += len;
    l->errtext[l->errlen] = '\0';
    return;
  }
  char err[300];
  if (mz_recordio_feed(l->dec, data, len, on_record, l, err, sizeof err) < 0) lost(l, err);
}

static void on_complete(mz_http_call *c, int status, const uint8_t *body, size_t len, const char *err, void *arg) {
  mz_master_link *l = arg;
  char why[LINK_MAX_ERROR_TEXT + 64];
  if (status == 0)
    snprintf(why, sizeof why, "%s", err ? err : "connection closed");
  else if (status != 200)
    snprintf(why, sizeof why, "the master answered %d: %s", status, l->errtext);
  else
    snprintf(why, sizeof why, "the master ended the stream");
  l->call = NULL; /* freed by the client after this returns */
  char host[MZ_HTTP_HOST_MAX];
  int port;
  if (status == 307 && l->redirects < LINK_MAX_REDIRECTS &&
      mz_http_parse_address(l->location, host, sizeof host, &port) == 0) {
    /* A master that does not lead names the leader, as Mesos's do: go there. */
    l->redirects++;
    MZ_INFO(LINK_MOD, "%s:%d is not the leading master; following it to %s:%d", l->a->master_host,
            l->a->master_port, host, port);
    follow(l, host, port, 0);
    return;
  }
  lost(l, why);
}

static void connect_now(mz_master_link *l) {
  if (l->call || !l->client) return; /* no client: no leader known yet (zk://) */
  if (l->dec) mz_recordio_decoder_free(l->dec);
  l->dec = mz_recordio_decoder_new(LINK_MAX_EVENT_BYTES);
  l->status = 0;
  l->errlen = 0;
  l->errtext[0] = '\0';
  const char *ct = mz_content_type_name(l->ct);
  const char *headers[] = {"Content-Type", ct, "Accept", ct, NULL};
  static const mz_http_call_cbs cbs = {on_complete, on_headers, on_data};
  l->call = mz_http_client_request(l->client, "POST", LINK_PATH, headers, NULL, -1, &cbs, l);
  if (!l->call) {
    lost(l, "cannot start the request");
    return;
  }
  mz_timer_in(l->connect_timer, LINK_CONNECT_TIMEOUT);
  drain_queue(l, 1); /* what the master sent before goes in the registration */
  send_register(l);
}

static void on_retry(evutil_socket_t fd, short what, void *arg) { connect_now(arg); }

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg) {
  mz_master_link *l = arg;
  if (l->call && l->status == 0) lost(l, "no answer from the master");
}

static void on_ping_check(evutil_socket_t fd, short what, void *arg) {
  mz_master_link *l = arg;
  if (!l->registered || l->ping_interval <= 0) return;
  if (mz_monotonic() - l->last_ping > LINK_PING_TIMEOUTS * l->ping_interval) {
    lost(l, "no PING from the master");
    return;
  }
  mz_timer_in(l->ping_check, l->ping_interval);
}

static void lost(mz_master_link *l, const char *why) {
  if (l->call) {
    mz_http_call *c = l->call;
    l->call = NULL;
    mz_http_call_cancel(c);
  }
  l->registered = 0;
  evtimer_del(l->connect_timer);
  evtimer_del(l->ping_check);
  if (l->a->shutting_down) return;
  double b = l->backoff > 0 ? l->backoff : 0.1;
  double delay = b / 2 + jitter() * b / 2;
  l->backoff = b * 2 > LINK_BACKOFF_CAP ? LINK_BACKOFF_CAP : b * 2;
  MZ_WARN(LINK_MOD, "link to the master lost (%s); reconnecting in %.2fs", why, delay);
  evtimer_del(l->retry);
  mz_timer_in(l->retry, delay);
}

/* Drops the link's request, timers and client (no master to talk to for now). */
static void detach(mz_master_link *l) {
  if (l->call) {
    mz_http_call *c = l->call;
    l->call = NULL;
    mz_http_call_cancel(c);
  }
  evtimer_del(l->connect_timer);
  evtimer_del(l->ping_check);
  evtimer_del(l->retry);
  l->registered = 0;
  if (l->client) mz_http_client_free(l->client);
  l->client = NULL;
}

/* The detector found a new leader (or none): follow it. */
static void on_leader(void *arg, const mz_leader *leader) {
  mz_master_link *l = arg;
  mz_agent *a = l->a;
  l->registered = 0;
  l->redirects = 0;
  if (!leader) {
    detach(l);
    MZ_WARN(LINK_MOD, "no leading master; waiting for one to be elected");
    return;
  }
  double delay = jitter() * a->flags.registration_backoff_factor;
  MZ_INFO(LINK_MOD, "new leading master %s:%d; (re-)registering in %.2fs", leader->host, leader->port, delay);
  follow(l, leader->host, leader->port, delay);
}

/* Points the link at host:port and (re-)registers there after delay seconds. */
static void follow(mz_master_link *l, const char *host, int port, double delay) {
  mz_agent *a = l->a;
  detach(l);
  char *h = mz_strdup(host); /* host may be a->master_host's own text */
  free(a->master_host);
  a->master_host = h;
  a->master_port = port;
  l->client = mz_http_client_new(a->base, a->master_host, a->master_port);
  if (!l->client) {
    MZ_ERROR(LINK_MOD, "cannot create an HTTP client for %s:%d", a->master_host, a->master_port);
    return;
  }
  mz_http_client_set_timeout(l->client, 0);
  if (a->shutting_down) return;
  l->backoff = a->flags.registration_backoff_factor;
  mz_timer_in(l->retry, delay);
}

mz_master_link *mz_master_link_new(mz_agent *a, char *err, size_t errlen) {
  mz_master_link *l = mz_calloc(1, sizeof *l);
  l->a = a;
  const char *ct = a->flags.link_content_type;
  if (!ct || !*ct || !strcmp(ct, "protobuf") || !strcmp(ct, MZ_CT_PROTOBUF_NAME)) {
    l->ct = MZ_CT_PROTOBUF;
  } else if (!strcmp(ct, "json") || !strcmp(ct, MZ_CT_JSON_NAME)) {
    l->ct = MZ_CT_JSON;
  } else {
    snprintf(err, errlen, "flag --link_content_type: expected %s or %s, got '%s'", MZ_CT_PROTOBUF_NAME,
             MZ_CT_JSON_NAME, ct);
    free(l);
    return NULL;
  }
  l->backoff = a->flags.registration_backoff_factor;
  l->retry = evtimer_new(a->base, on_retry, l);
  l->connect_timer = evtimer_new(a->base, on_connect_timeout, l);
  l->ping_check = evtimer_new(a->base, on_ping_check, l);
  l->drain = evtimer_new(a->base, on_drain, l);
  l->queue_end = &l->queue;
  if (mz_zk_is_url(a->flags.master)) {
    l->detector = mz_detector_new(a->base, a->flags.master, MZ_ZK_DEFAULT_SESSION_TIMEOUT, on_leader, l, err, errlen);
    if (!l->detector) {
      mz_master_link_free(l);
      return NULL;
    }
    return l;
  }
  l->client = mz_http_client_new(a->base, a->master_host, a->master_port);
  if (!l->client) {
    snprintf(err, errlen, "cannot create an HTTP client for %s:%d", a->master_host, a->master_port);
    mz_master_link_free(l);
    return NULL;
  }
  mz_http_client_set_timeout(l->client, 0); /* the link lives forever; liveness comes from PINGs */
  return l;
}

void mz_master_link_start(mz_master_link *l) { connect_now(l); }

void mz_master_link_unregister(mz_master_link *l) {
  /* The agent leaves for good (and kills what it runs): a later start is a new agent. */
  mz_ckpt_forget_agent(l->a->work_dir);
  if (!l->call) return;
  if (l->a->agent_id) {
    Mezzo__Internal__AgentCall call = MEZZO__INTERNAL__AGENT_CALL__INIT;
    call.type = MEZZO__INTERNAL__AGENT_CALL__TYPE__UNREGISTER;
    Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
    aid.value = l->a->agent_id;
    call.agent_id = &aid;
    write_call(l, &call);
    MZ_INFO(LINK_MOD, "unregistering agent %s", l->a->agent_id);
  }
  mz_http_call_end(l->call);
}

void mz_master_link_free(mz_master_link *l) {
  if (!l) return;
  mz_detector_free(l->detector);
  if (l->client) mz_http_client_free(l->client); /* drops the call without callbacks */
  if (l->dec) mz_recordio_decoder_free(l->dec);
  event_free(l->retry);
  event_free(l->connect_timer);
  event_free(l->ping_check);
  free_queue(l);
  event_free(l->drain);
  free(l);
}
