/* agents: the emulated agents. Each behaves as mezzo-agent does on the link:
 *   - REGISTER (link_key "a<index>") with --agent_resources and --agent_attributes,
 *     re-REGISTER with its id, tasks (latest states, unacknowledged update
 *     uuids) and frameworks after a lost link; a REGISTERED names its id;
 *     SHUTDOWN (removed by the master) drops its tasks and registers anew;
 *   - PING -> PONG (link-level or per agent, echoing seq and agent_id);
 *   - RUN_TASK: the task "runs" as a timer: TASK_RUNNING is sent at once with a
 *     uuid and kept until its ACKNOWLEDGE; after --task_duration (spread over
 *     +- --task_duration_spread of it, if given) the task ends
 *     TASK_FINISHED (TASK_FAILED with probability --fail_rate). As in Mesos, one
 *     update per task is in flight: a terminal update waits for the previous one's
 *     ACKNOWLEDGE (the resent head carries latest_state); unacknowledged updates
 *     are resent every --update_retry seconds and after every re-registration;
 *   - KILL_TASK -> TASK_KILLED; SHUTDOWN_FRAMEWORK drops that framework's tasks
 *     without updates (the master has already finished them).
 * Registration is paced by --ramp_per_s: a 10 ms ramp timer spends tokens first
 * on agents queued for (re-)registration, then on opening the next link (whose
 * agents then join the queue). An agent not REGISTERED within --register_timeout
 * (refused with an ERROR, or no answer) is queued again.
 *
 * Ownership: agents live in s->agents (an array); tasks are owned by s->tasks
 * (hash) and listed on their agent; framework infos learned from RUN_TASK live
 * in s->fwinfos. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "common/log.h"
#include "common/task_state.h"
#include "common/util.h"
#include "sim/sim.h"

#define RAMP_TICK 0.01
#define MAX_LOGGED_ERRORS 20
#define TASK_KEY_MAX (2 * MZ_ID_MAX + 2)

sim_agent *sim_agent_find(sim *s, const char *id) {
  sim_agent *a = NULL;
  if (id) HASH_FIND_STR(s->agents_by_id, id, a);
  return a;
}

/* ------------------------------------------------------------------ tasks */

static sim_task *task_find(sim *s, const char *fw_id, const char *task_id) {
  char key[TASK_KEY_MAX];
  size_t a = strlen(fw_id), b = strlen(task_id);
  if (a + b + 1 > sizeof key) return NULL;
  memcpy(key, fw_id, a + 1);
  memcpy(key + a + 1, task_id, b);
  sim_task *t = NULL;
  HASH_FIND(hh, s->tasks, key, a + 1 + b, t);
  return t;
}

static void task_free(sim *s, sim_task *t) {
  sim_tq_remove(&s->task_ends[t->end_level], &t->end);
  sim_tq_remove(&s->update_retries, &t->retry);
  HASH_DEL(s->tasks, t);
  DL_DELETE2(t->agent->tasks, t, agent_prev, agent_next);
  t->agent->ntasks--;
  s->live_tasks--;
  free(t->key);
  free(t->name);
  free(t->res);
  free(t);
}

static void new_uuid(sim *s, uint8_t u[16]) {
  uint64_t a = sim_rand(s), b = sim_rand(s);
  memcpy(u, &a, 8);
  memcpy(u + 8, &b, 8);
  u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
  u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* variant */
}

/* Writes the head update (t->head_state, t->uuid) to the master if the agent is registered.
 * first: its first sending (not a retry), which starts the offer latency clock. */
static void write_head(sim *s, sim_task *t, bool first) {
  sim_agent *a = t->agent;
  if (a->state != SIM_AG_REGISTERED || !t->head_state) return;
  Mezzo__Internal__AgentCall call = MEZZO__INTERNAL__AGENT_CALL__INIT;
  Mezzo__Internal__AgentCall__StatusUpdate su = MEZZO__INTERNAL__AGENT_CALL__STATUS_UPDATE__INIT;
  Mesos__V1__TaskStatus st = MESOS__V1__TASK_STATUS__INIT;
  Mesos__V1__TaskID tid = MESOS__V1__TASK_ID__INIT;
  Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  tid.value = (char *)t->task_id;
  fid.value = (char *)t->fw_id;
  aid.value = a->id;
  st.task_id = &tid;
  st.state = (Mesos__V1__TaskState)t->head_state;
  st.has_source = 1;
  st.source = MESOS__V1__TASK_STATUS__SOURCE__SOURCE_EXECUTOR;
  st.agent_id = &aid;
  st.has_timestamp = 1;
  st.timestamp = mz_now();
  st.has_uuid = 1;
  st.uuid.data = t->uuid;
  st.uuid.len = 16;
  if (t->head_state == MESOS__V1__TASK_STATE__TASK_FAILED) st.message = "mezzo-sim: task failed (--fail_rate)";
  else if (t->head_state == MESOS__V1__TASK_STATE__TASK_KILLED) st.message = "mezzo-sim: task killed";
  su.framework_id = &fid;
  su.status = &st;
  su.has_latest_state = 1;
  su.latest_state = (Mesos__V1__TaskState)(t->pending_state ? t->pending_state : t->state);
  call.type = MEZZO__INTERNAL__AGENT_CALL__TYPE__STATUS_UPDATE;
  call.agent_id = &aid;
  call.status_update = &su;
  if (sim_link_send(a->link, &call) == 0) {
    s->updates_sent++;
    /* Offer latency (frameworks.c): the master learns the task's resources are free now. */
    if (first && mz_task_state_terminal((int)su.latest_state) && a->freed_at == 0) a->freed_at = mz_monotonic();
  }
}

/* A new update for t becomes the head (nothing else unacknowledged). */
static void send_update(sim *s, sim_task *t, int state) {
  t->head_state = state;
  new_uuid(s, t->uuid);
  write_head(s, t, true);
  sim_tq_add(&s->update_retries, &t->retry, s->f.update_retry);
}

/* t reaches a terminal state on the agent. */
static void task_end(sim *s, sim_task *t, int state) {
  sim_tq_remove(&s->task_ends[t->end_level], &t->end);
  t->state = state;
  if (t->head_state) t->pending_state = state; /* goes out once the head is acknowledged */
  else send_update(s, t, state);
}

static void on_task_end(sim_tq_node *n, void *arg) {
  sim *s = arg;
  sim_task *t = SIM_CONTAINER(n, sim_task, end);
  if (mz_task_state_terminal(t->state)) return;
  bool fail = s->f.fail_rate > 0 && sim_rand01(s) < s->f.fail_rate;
  task_end(s, t, fail ? MESOS__V1__TASK_STATE__TASK_FAILED : MESOS__V1__TASK_STATE__TASK_FINISHED);
}

static void on_update_retry(sim_tq_node *n, void *arg) {
  sim *s = arg;
  sim_task *t = SIM_CONTAINER(n, sim_task, retry);
  if (!t->head_state) return;
  write_head(s, t, false);
  sim_tq_add(&s->update_retries, &t->retry, s->f.update_retry);
}

static void learn_framework(sim *s, const Mesos__V1__FrameworkInfo *fi) {
  sim_fwinfo *f = NULL;
  HASH_FIND_STR(s->fwinfos, fi->id->value, f);
  if (f) return;
  size_t n = protobuf_c_message_get_packed_size(&fi->base);
  uint8_t *buf = mz_malloc(n ? n : 1);
  protobuf_c_message_pack(&fi->base, buf);
  Mesos__V1__FrameworkInfo *copy = mesos__v1__framework_info__unpack(NULL, n, buf);
  free(buf);
  if (!copy) return;
  f = mz_calloc(1, sizeof *f);
  f->id = mz_strdup(fi->id->value);
  f->info = copy;
  HASH_ADD_KEYPTR(hh, s->fwinfos, f->id, strlen(f->id), f);
}

/* Resources packed as [u32 length][mesos.v1.Resource bytes]... */
static uint8_t *pack_resources(Mesos__V1__Resource *const *res, size_t n, size_t *len) {
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += 4 + protobuf_c_message_get_packed_size(&res[i]->base);
  uint8_t *buf = mz_malloc(total ? total : 1), *p = buf;
  for (size_t i = 0; i < n; i++) {
    uint32_t l = (uint32_t)protobuf_c_message_get_packed_size(&res[i]->base);
    memcpy(p, &l, 4);
    protobuf_c_message_pack(&res[i]->base, p + 4);
    p += 4 + l;
  }
  *len = total;
  return buf;
}

static Mesos__V1__Resource **unpack_resources(const uint8_t *buf, size_t len, size_t *n) {
  size_t cap = 4, k = 0;
  Mesos__V1__Resource **v = mz_calloc(cap, sizeof *v);
  size_t off = 0;
  while (off + 4 <= len) {
    uint32_t l;
    memcpy(&l, buf + off, 4);
    if (off + 4 + l > len) break;
    Mesos__V1__Resource *r = mesos__v1__resource__unpack(NULL, l, buf + off + 4);
    off += 4 + l;
    if (!r) continue;
    if (k == cap) v = mz_realloc(v, (cap *= 2) * sizeof *v);
    v[k++] = r;
  }
  *n = k;
  return v;
}

static void run_one(sim *s, sim_agent *a, const char *fw_id, const Mesos__V1__TaskInfo *ti) {
  char err[300];
  if (!ti->task_id || !ti->task_id->value || mz_id_valid(ti->task_id->value, err, sizeof err) != 0) {
    MZ_WARN("sim", "agent %s: RUN_TASK with an invalid task id: ignored", a->id);
    return;
  }
  if (task_find(s, fw_id, ti->task_id->value)) {
    MZ_WARN("sim", "agent %s: RUN_TASK for existing task %s: ignored", a->id, ti->task_id->value);
    return;
  }
  size_t fl = strlen(fw_id), tl = strlen(ti->task_id->value);
  sim_task *t = mz_calloc(1, sizeof *t);
  t->keylen = fl + 1 + tl;
  t->key = mz_malloc(t->keylen + 1);
  memcpy(t->key, fw_id, fl + 1);
  memcpy(t->key + fl + 1, ti->task_id->value, tl + 1);
  t->fw_id = t->key;
  t->task_id = t->key + fl + 1;
  t->agent = a;
  t->name = mz_strdup(ti->name ? ti->name : "");
  t->res = pack_resources(ti->resources, ti->n_resources, &t->res_len);
  t->state = MESOS__V1__TASK_STATE__TASK_RUNNING;
  HASH_ADD_KEYPTR(hh, s->tasks, t->key, t->keylen, t);
  DL_APPEND2(a->tasks, t, agent_prev, agent_next);
  a->ntasks++;
  s->live_tasks++;
  send_update(s, t, MESOS__V1__TASK_STATE__TASK_RUNNING);
  /* A spread of durations keeps the first fill's tasks from finishing (and being
   * relaunched) all at once, every task duration, for the whole run. */
  double spread = s->f.task_duration_spread;
  t->end_level = spread > 0 ? (uint8_t)(sim_rand(s) % SIM_DURATION_LEVELS) : 0;
  double frac = spread > 0 ? 1 - spread + 2 * spread * t->end_level / (SIM_DURATION_LEVELS - 1) : 1;
  sim_tq_add(&s->task_ends[t->end_level], &t->end, s->f.task_duration * frac);
}

static void run_task(sim *s, sim_agent *a, const Mezzo__Internal__AgentEvent__RunTask *rt) {
  char err[300];
  if (!rt->framework || !rt->framework->id || !rt->framework->id->value ||
      mz_id_valid(rt->framework->id->value, err, sizeof err) != 0) {
    MZ_WARN("sim", "agent %s: RUN_TASK without a valid framework id: ignored", a->id);
    return;
  }
  learn_framework(s, rt->framework);
  const char *fw_id = rt->framework->id->value;
  if (rt->task) run_one(s, a, fw_id, rt->task);
  else if (rt->task_group)
    for (size_t i = 0; i < rt->task_group->n_tasks; i++) run_one(s, a, fw_id, rt->task_group->tasks[i]);
}

static void kill_task(sim *s, sim_agent *a, const Mezzo__Internal__AgentEvent__KillTask *kt) {
  if (!kt->framework_id || !kt->framework_id->value || !kt->task_id || !kt->task_id->value) return;
  sim_task *t = task_find(s, kt->framework_id->value, kt->task_id->value);
  if (!t || t->agent != a || mz_task_state_terminal(t->state)) return;
  task_end(s, t, MESOS__V1__TASK_STATE__TASK_KILLED);
}

static void acknowledge(sim *s, sim_agent *a, const Mezzo__Internal__AgentEvent__Acknowledge *ack) {
  if (!ack->framework_id || !ack->framework_id->value || !ack->task_id || !ack->task_id->value) return;
  sim_task *t = task_find(s, ack->framework_id->value, ack->task_id->value);
  if (!t || t->agent != a || !t->head_state || ack->uuid.len != 16 || memcmp(ack->uuid.data, t->uuid, 16) != 0)
    return;
  s->acks_received++;
  int acked = t->head_state;
  t->head_state = 0;
  sim_tq_remove(&s->update_retries, &t->retry);
  if (mz_task_state_terminal(acked)) {
    task_free(s, t);
  } else if (t->pending_state) {
    int st = t->pending_state;
    t->pending_state = 0;
    send_update(s, t, st);
  }
}

static void shutdown_framework(sim *s, sim_agent *a, const char *fw_id) {
  sim_task *t, *tmp;
  DL_FOREACH_SAFE2(a->tasks, t, tmp, agent_next)
  if (!strcmp(t->fw_id, fw_id)) task_free(s, t);
}

/* ------------------------------------------------------------------ registration */

static void regq_remove(sim *s, sim_agent *a) {
  if (a->state != SIM_AG_QUEUED) return;
  DL_DELETE2(s->regq, a, qprev, qnext);
  s->nregq--;
  a->state = SIM_AG_IDLE;
}

static void regq_push(sim *s, sim_agent *a) {
  if (a->state == SIM_AG_QUEUED) return;
  if (a->state == SIM_AG_REGISTERED) s->registered--;
  sim_tq_remove(&s->reg_timeouts, &a->timer);
  a->state = SIM_AG_QUEUED;
  DL_APPEND2(s->regq, a, qprev, qnext);
  s->nregq++;
}

void sim_agent_link_up(sim_agent *a) { regq_push(a->s, a); }

void sim_agent_link_down(sim_agent *a) {
  sim *s = a->s;
  regq_remove(s, a);
  if (a->state == SIM_AG_REGISTERED) s->registered--;
  a->state = SIM_AG_IDLE;
  sim_tq_remove(&s->reg_timeouts, &a->timer);
}

static void send_register(sim *s, sim_agent *a) {
  char key[24], host[32];
  snprintf(key, sizeof key, "a%u", a->index);
  snprintf(host, sizeof host, "sim-%u", a->index);
  Mezzo__Internal__AgentCall call = MEZZO__INTERNAL__AGENT_CALL__INIT;
  Mezzo__Internal__AgentCall__Register reg = MEZZO__INTERNAL__AGENT_CALL__REGISTER__INIT;
  Mesos__V1__AgentInfo info = MESOS__V1__AGENT_INFO__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  info.hostname = host;
  info.has_port = 1;
  info.port = 5051;
  info.n_resources = s->n_agent_res_pb;
  info.resources = s->agent_res_pb;
  info.n_attributes = s->nattrs;
  info.attributes = s->attrs;
  reg.agent_info = &info;
  reg.version = "mezzo-sim";

  /* Re-registration: what runs here. Messages borrow the tasks' strings. */
  size_t nt = a->id ? a->ntasks : 0;
  Mesos__V1__Task *tasks = mz_calloc(nt + 1, sizeof *tasks);
  Mesos__V1__Task **tp = mz_calloc(nt + 1, sizeof *tp);
  Mesos__V1__TaskID *tids = mz_calloc(nt + 1, sizeof *tids);
  Mesos__V1__FrameworkID *fids = mz_calloc(nt + 1, sizeof *fids);
  Mesos__V1__FrameworkInfo **fws = mz_calloc(nt + 1, sizeof *fws);
  Mesos__V1__Resource ***res = mz_calloc(nt + 1, sizeof *res);
  size_t *nres = mz_calloc(nt + 1, sizeof *nres);
  size_t nfw = 0, k = 0;
  if (a->id) {
    aid.value = a->id;
    info.id = &aid;
    call.agent_id = &aid;
    sim_task *t;
    DL_FOREACH2(a->tasks, t, agent_next) {
      mesos__v1__task__init(&tasks[k]);
      mesos__v1__task_id__init(&tids[k]);
      mesos__v1__framework_id__init(&fids[k]);
      tids[k].value = (char *)t->task_id;
      fids[k].value = (char *)t->fw_id;
      tasks[k].name = t->name;
      tasks[k].task_id = &tids[k];
      tasks[k].framework_id = &fids[k];
      tasks[k].agent_id = &aid;
      tasks[k].state = (Mesos__V1__TaskState)t->state;
      res[k] = unpack_resources(t->res, t->res_len, &nres[k]);
      tasks[k].resources = res[k];
      tasks[k].n_resources = nres[k];
      if (t->head_state) {
        tasks[k].has_status_update_state = 1;
        tasks[k].status_update_state = (Mesos__V1__TaskState)t->head_state;
        tasks[k].has_status_update_uuid = 1;
        tasks[k].status_update_uuid.data = t->uuid;
        tasks[k].status_update_uuid.len = 16;
      }
      tp[k] = &tasks[k];
      bool seen = false;
      for (size_t i = 0; i < nfw && !seen; i++) seen = !strcmp(fws[i]->id->value, t->fw_id);
      sim_fwinfo *f = NULL;
      if (!seen) HASH_FIND_STR(s->fwinfos, t->fw_id, f);
      if (f) fws[nfw++] = f->info;
      k++;
    }
  }
  reg.n_tasks = k;
  reg.tasks = tp;
  reg.n_frameworks = nfw;
  reg.frameworks = fws;
  call.type = MEZZO__INTERNAL__AGENT_CALL__TYPE__REGISTER;
  call.link_key = key;
  call.register_ = &reg;
  int rc = sim_link_send(a->link, &call);
  for (size_t i = 0; i < k; i++) {
    for (size_t j = 0; j < nres[i]; j++) mesos__v1__resource__free_unpacked(res[i][j], NULL);
    free(res[i]);
  }
  free(res);
  free(nres);
  free(tasks);
  free(tp);
  free(tids);
  free(fids);
  free(fws);
  if (rc != 0) {
    a->state = SIM_AG_IDLE; /* the link is down; it queues the agent again when it is back */
    return;
  }
  a->state = SIM_AG_REGISTERING;
  sim_tq_add(&s->reg_timeouts, &a->timer, s->f.register_timeout);
}

static void on_reg_timeout(sim_tq_node *n, void *arg) {
  sim *s = arg;
  sim_agent *a = SIM_CONTAINER(n, sim_agent, timer);
  if (a->state != SIM_AG_REGISTERING) return;
  MZ_WARN("sim", "agent %u: no REGISTERED within %.0fs; registering again", a->index, s->f.register_timeout);
  regq_push(s, a);
}

static void on_ramp(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sim *s = arg;
  double now = mz_monotonic();
  double cap = s->f.ramp_per_s * 0.05 + 1;
  s->ramp_tokens += (now - s->ramp_last) * s->f.ramp_per_s;
  if (s->ramp_tokens > cap) s->ramp_tokens = cap;
  s->ramp_last = now;
  while (s->ramp_tokens >= 1 && !s->stopping) {
    if (s->regq) {
      sim_agent *a = s->regq;
      DL_DELETE2(s->regq, a, qprev, qnext);
      s->nregq--;
      a->state = SIM_AG_IDLE;
      send_register(s, a);
      s->ramp_tokens -= 1;
    } else if (s->next_link < s->nlinks) {
      sim_link_open(&s->links[s->next_link++]); /* queues its agents */
      if (s->f.agents_per_link == 1 && !s->regq) s->ramp_tokens -= 1; /* a failed open still costs */
    } else {
      break;
    }
  }
}

/* ------------------------------------------------------------------ events */

static void send_pong(sim_link *l, const Mezzo__Internal__AgentEvent *ev) {
  Mezzo__Internal__AgentCall call = MEZZO__INTERNAL__AGENT_CALL__INIT;
  Mezzo__Internal__AgentCall__Pong pong = MEZZO__INTERNAL__AGENT_CALL__PONG__INIT;
  Mesos__V1__AgentID aid = MESOS__V1__AGENT_ID__INIT;
  if (ev->ping && ev->ping->has_seq) {
    pong.has_seq = 1;
    pong.seq = ev->ping->seq;
  }
  if (ev->agent_id && ev->agent_id->value) {
    aid.value = ev->agent_id->value;
    call.agent_id = &aid;
  }
  call.type = MEZZO__INTERNAL__AGENT_CALL__TYPE__PONG;
  call.pong = &pong;
  sim_link_send(l, &call);
}

/* The agent an event is for: by link_key "a<index>" (answers to REGISTER) or by agent_id; NULL if not on l. */
static sim_agent *event_agent(sim_link *l, const Mezzo__Internal__AgentEvent *ev, bool by_key) {
  sim *s = l->s;
  sim_agent *a = NULL;
  if (by_key && ev->link_key && ev->link_key[0] == 'a') {
    char *end;
    unsigned long i = strtoul(ev->link_key + 1, &end, 10);
    if (*end == 0 && end != ev->link_key + 1 && i >= l->first && i < (unsigned long)l->first + l->n)
      a = &s->agents[i];
  }
  if (!a && ev->agent_id && ev->agent_id->value) a = sim_agent_find(s, ev->agent_id->value);
  if (a && a->link != l) a = NULL;
  return a;
}

static void on_registered(sim *s, sim_link *l, sim_agent *a, const Mezzo__Internal__AgentEvent *ev) {
  char err[300];
  const Mezzo__Internal__AgentEvent__Registered *r = ev->registered;
  if (!r || !r->agent_id || !r->agent_id->value || mz_id_valid(r->agent_id->value, err, sizeof err) != 0) {
    MZ_WARN("sim", "link %u: REGISTERED without a valid agent id: ignored", l->index);
    return;
  }
  if (a->state != SIM_AG_REGISTERING) return; /* stale answer (a newer REGISTER is queued or out) */
  if (a->id && strcmp(a->id, r->agent_id->value) != 0) {
    HASH_DEL(s->agents_by_id, a);
    free(a->id);
    a->id = NULL;
  }
  if (!a->id) {
    a->id = mz_strdup(r->agent_id->value);
    HASH_ADD_KEYPTR(hh, s->agents_by_id, a->id, strlen(a->id), a);
  }
  sim_tq_remove(&s->reg_timeouts, &a->timer);
  a->state = SIM_AG_REGISTERED;
  s->registered++;
  if (s->registered == (size_t)s->f.agents) sim_event("agents_registered n=%zu", s->registered);
  if (!a->ever_registered) {
    a->ever_registered = true;
    s->ever_registered++;
  }
  if (r->has_ping_interval_seconds && r->ping_interval_seconds > 0) l->ping_interval = r->ping_interval_seconds;
  sim_task *t;
  DL_FOREACH2(a->tasks, t, agent_next) {
    if (!t->head_state) continue;
    write_head(s, t, false);
    sim_tq_add(&s->update_retries, &t->retry, s->f.update_retry);
  }
}

/* The master removed the agent: its tasks are gone; it registers anew. */
static void on_shutdown(sim *s, sim_agent *a) {
  MZ_WARN("sim", "agent %u (%s): SHUTDOWN from the master; registering anew", a->index, a->id ? a->id : "");
  while (a->tasks) task_free(s, a->tasks);
  if (a->id) {
    HASH_DEL(s->agents_by_id, a);
    free(a->id);
    a->id = NULL;
  }
  regq_push(s, a);
}

void sim_agent_event(sim_link *l, const Mezzo__Internal__AgentEvent *ev) {
  sim *s = l->s;
  sim_agent *a;
  switch (ev->type) {
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__PING:
      send_pong(l, ev);
      return;
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__REGISTERED:
      if ((a = event_agent(l, ev, true))) on_registered(s, l, a, ev);
      return;
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__ERROR:
      s->reg_errors++;
      if (s->reg_errors <= MAX_LOGGED_ERRORS)
        MZ_WARN("sim", "link %u: ERROR from the master%s%s: %s", l->index, ev->link_key ? " for " : "",
                ev->link_key ? ev->link_key : "", ev->error && ev->error->message ? ev->error->message : "");
      /* A refused registration is retried when its timeout expires. */
      return;
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN:
      if ((a = event_agent(l, ev, true))) on_shutdown(s, a);
      return;
    default:
      break;
  }
  a = event_agent(l, ev, false);
  if (!a || a->state != SIM_AG_REGISTERED) {
    MZ_DEBUG("sim", "link %u: event %d for an agent not registered on it: ignored", l->index, (int)ev->type);
    return;
  }
  switch (ev->type) {
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__RUN_TASK:
      if (ev->run_task) run_task(s, a, ev->run_task);
      break;
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK:
      if (ev->kill_task) kill_task(s, a, ev->kill_task);
      break;
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__ACKNOWLEDGE:
      if (ev->acknowledge) acknowledge(s, a, ev->acknowledge);
      break;
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN_FRAMEWORK:
      if (ev->shutdown_framework && ev->shutdown_framework->framework_id &&
          ev->shutdown_framework->framework_id->value)
        shutdown_framework(s, a, ev->shutdown_framework->framework_id->value);
      break;
    case MEZZO__INTERNAL__AGENT_EVENT__TYPE__FRAMEWORK_MESSAGE:
      break; /* no executors to deliver to */
    default:
      MZ_DEBUG("sim", "link %u: unknown event type %d: ignored", l->index, (int)ev->type);
      break;
  }
}

/* ------------------------------------------------------------------ lifecycle */

int sim_agents_init(sim *s, char *err, size_t errlen) {
  char e[300];
  s->agent_res = mz_resources_parse(s->f.agent_resources, NULL, e, sizeof e);
  if (!s->agent_res) {
    snprintf(err, errlen, "flag --agent_resources: %s", e);
    return -1;
  }
  s->agent_res_pb = mz_resources_to_proto(s->agent_res, &s->n_agent_res_pb);
  s->attrs = mz_attributes_parse(s->f.agent_attributes ? s->f.agent_attributes : "", &s->nattrs, e, sizeof e);
  if (!s->attrs) {
    snprintf(err, errlen, "flag --agent_attributes: %s", e);
    return -1;
  }
  s->agents = mz_calloc((size_t)s->f.agents ? (size_t)s->f.agents : 1, sizeof *s->agents);
  for (long i = 0; i < s->f.agents; i++) {
    s->agents[i].s = s;
    s->agents[i].index = (uint32_t)i;
    s->agents[i].link = sim_link_of(s, (uint32_t)i);
  }
  for (int i = 0; i < SIM_DURATION_LEVELS; i++) {
    if (sim_tq_init(&s->task_ends[i], s->base, on_task_end, s) != 0) {
      snprintf(err, errlen, "cannot create timers");
      return -1;
    }
  }
  if (sim_tq_init(&s->reg_timeouts, s->base, on_reg_timeout, s) != 0 ||
      sim_tq_init(&s->update_retries, s->base, on_update_retry, s) != 0 ||
      !(s->ramp_ev = event_new(s->base, -1, EV_PERSIST, on_ramp, s))) {
    snprintf(err, errlen, "cannot create timers");
    return -1;
  }
  return 0;
}

void sim_agents_reregister_link(sim_link *l) {
  sim *s = l->s;
  for (uint32_t i = 0; i < l->n && !s->stopping; i++) {
    sim_agent *a = &s->agents[l->first + i];
    if (a->state != SIM_AG_QUEUED || !a->ever_registered) continue;
    regq_remove(s, a);
    send_register(s, a);
  }
}

void sim_agents_register_queued(sim *s) {
  while (s->regq && !s->stopping) {
    sim_agent *a = s->regq;
    DL_DELETE2(s->regq, a, qprev, qnext);
    s->nregq--;
    a->state = SIM_AG_IDLE;
    send_register(s, a);
  }
}

void sim_agents_ramp_start(sim *s) {
  s->ramp_last = mz_monotonic();
  s->ramp_tokens = 1;
  struct timeval tv = {0, (suseconds_t)(RAMP_TICK * 1e6)};
  event_add(s->ramp_ev, &tv);
  on_ramp(-1, 0, s);
}

void sim_agents_free(sim *s) {
  sim_task *t, *tmp;
  HASH_ITER(hh, s->tasks, t, tmp) {
    HASH_DEL(s->tasks, t);
    free(t->key);
    free(t->name);
    free(t->res);
    free(t);
  }
  HASH_CLEAR(hh, s->agents_by_id);
  for (long i = 0; s->agents && i < s->f.agents; i++) free(s->agents[i].id);
  free(s->agents);
  s->agents = NULL;
  sim_fwinfo *f, *ftmp;
  HASH_ITER(hh, s->fwinfos, f, ftmp) {
    HASH_DEL(s->fwinfos, f);
    mesos__v1__framework_info__free_unpacked(f->info, NULL);
    free(f->id);
    free(f);
  }
  if (s->ramp_ev) event_free(s->ramp_ev);
  s->ramp_ev = NULL;
  sim_tq_free(&s->reg_timeouts);
  for (int i = 0; i < SIM_DURATION_LEVELS; i++) sim_tq_free(&s->task_ends[i]);
  sim_tq_free(&s->update_retries);
  if (s->agent_res_pb) mz_resources_proto_free(s->agent_res_pb, s->n_agent_res_pb);
  mz_resources_free(s->agent_res);
  if (s->attrs) mz_attributes_free(s->attrs, s->nattrs);
}
