/* maintenance: see maintenance.h. */
#include "master/maintenance.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utlist.h>

#include "common/codec.h"
#include "common/log.h"
#include "common/util.h"
#include "master/agent.h"
#include "master/allocator.h"
#include "master/inverse_offer.h"
#include "master/offer.h"
#include "master/operator_events.h"
#include "master/registry_master.h"
#include "master/task.h"

#define KEY_SCHEDULE "maintenance/schedule"
#define KEY_MACHINES "maintenance/machines"
#define KEY_AGENT_PREFIX "maintenance/agent/"

/* A machine in the schedule (UP machines are not kept). */
typedef struct machine {
  char *hostname; /* lower case, "" when absent */
  char *ip;       /* "" when absent */
  int mode;       /* MESOS__V1__MACHINE_INFO__MODE__DRAINING or __DOWN */
  Mesos__V1__Unavailability *u; /* owned */
  struct machine *next;
} machine;

/* An agent's recorded drain / deactivation (a mirror of the registry's
 * "maintenance/agent/<id>" values), applied again when the agent re-enters
 * m->agents after a master restart or after being unreachable. */
typedef struct saved_agent {
  char *id;
  bool deactivated, mark_gone;
  int drain_state;
  double grace;
  UT_hash_handle hh;
} saved_agent;

struct mz_maint {
  Mesos__V1__Maintenance__Schedule *schedule; /* owned; NULL: none */
  machine *machines;
  size_t nmachines;
  saved_agent *saved;
};

static struct mz_maint *maint(mz_master *m) {
  if (!m->maint) m->maint = mz_calloc(1, sizeof *m->maint);
  return m->maint;
}

/* ------------------------------------------------------------ agent level */

static char *agent_key(const char *id) {
  size_t n = strlen(KEY_AGENT_PREFIX) + strlen(id) + 1;
  char *k = mz_malloc(n);
  snprintf(k, n, "%s%s", KEY_AGENT_PREFIX, id);
  return k;
}

static void saved_free(saved_agent *s) {
  free(s->id);
  free(s);
}

/* Mirrors an agent's record in mt->saved (nothing to keep: the entry goes). */
static void remember_agent(struct mz_maint *mt, const char *id, bool deactivated, int drain_state, double grace,
                           bool mark_gone) {
  saved_agent *s = NULL;
  HASH_FIND_STR(mt->saved, id, s);
  if (s) {
    HASH_DEL(mt->saved, s);
    saved_free(s);
  }
  if (!deactivated && !drain_state) return;
  s = mz_calloc(1, sizeof *s);
  s->id = mz_strdup(id);
  s->deactivated = deactivated;
  s->drain_state = drain_state;
  s->grace = grace;
  s->mark_gone = mark_gone;
  HASH_ADD_KEYPTR(hh, mt->saved, s->id, strlen(s->id), s);
}

/* Records the agent's state as it will be (text NULL: nothing to keep). */
static int record_agent(mz_master *m, const char *id, bool deactivated, int drain_state, double grace,
                        bool mark_gone, char *err, size_t errlen) {
  char *key = agent_key(id);
  char *text = NULL;
  if (deactivated || drain_state) {
    json_t *o = json_pack("{s:b,s:i,s:f,s:b}", "deactivated", deactivated, "drain_state", drain_state, "grace", grace,
                          "mark_gone", mark_gone);
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
  }
  const char *keys[1] = {key};
  const char *texts[1] = {text};
  int rc = mz_registrar_put_values(m, keys, texts, 1, err, errlen);
  free(key);
  free(text);
  if (rc == 0) remember_agent(maint(m), id, deactivated, drain_state, grace, mark_gone);
  return rc;
}

static void deactivate_now(mz_agent *a) {
  mz_master *m = a->m;
  a->deactivated = true;
  if (a->active) {
    a->active = false;
    m->alloc_ops->deactivate_agent(m->alloc, a->id);
  }
  mz_offer *o, *tmp;
  DL_FOREACH_SAFE2(a->offers, o, tmp, ag_next) mz_offer_rescind(o);
}

int mz_maintenance_deactivate(mz_agent *a, char *err, size_t errlen) {
  if (record_agent(a->m, a->id, true, a->drain_state, a->drain_grace, a->drain_mark_gone, err, errlen) != 0) return -1;
  deactivate_now(a);
  MZ_INFO("master", "agent %s (%s) deactivated", a->id, a->hostname);
  return 0;
}

int mz_maintenance_reactivate(mz_agent *a, char *err, size_t errlen) {
  mz_master *m = a->m;
  if (record_agent(m, a->id, false, 0, -1, false, err, errlen) != 0) return -1;
  a->deactivated = false;
  a->drain_state = 0;
  a->drain_mark_gone = false;
  if (a->connected && !a->active) {
    a->active = true;
    m->alloc_ops->activate_agent(m->alloc, a->id);
  }
  MZ_INFO("master", "agent %s (%s) reactivated", a->id, a->hostname);
  return 0;
}

static bool has_live_tasks(const mz_agent *a) {
  const mz_task *t;
  DL_FOREACH2(a->tasks, t, agent_next)
  if (!mz_task_state_terminal(t->state)) return true;
  return false;
}

/* DRAINED once no live task is left; mark_gone then removes the agent (deferred
 * to the loop: this may run inside a task update that still uses the agent). */
static void on_drained_gone(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  mz_master *m = arg;
  mz_agent *a, *tmp;
  HASH_ITER(hh, m->agents, a, tmp)
  if (a->drain_state == MESOS__V1__DRAIN_STATE__DRAINED && a->drain_mark_gone) {
    mz_maintenance_forget_agent(m, a->id);
    mz_agent_mark_gone(a, "drained with mark_gone");
  }
}

void mz_maintenance_task_ended(mz_agent *a) {
  if (!a || a->drain_state != MESOS__V1__DRAIN_STATE__DRAINING || has_live_tasks(a)) return;
  char err[256];
  if (record_agent(a->m, a->id, true, MESOS__V1__DRAIN_STATE__DRAINED, a->drain_grace, a->drain_mark_gone, err,
                   sizeof err) != 0)
    MZ_WARN("master", "agent %s: cannot record DRAINED (%s); drained in memory", a->id, err);
  a->drain_state = MESOS__V1__DRAIN_STATE__DRAINED;
  MZ_INFO("master", "agent %s (%s) drained", a->id, a->hostname);
  if (a->drain_mark_gone) event_base_once(a->m->base, -1, EV_TIMEOUT, on_drained_gone, a->m, NULL);
}

static void drain_now(mz_agent *a, double grace, bool mark_gone) {
  deactivate_now(a);
  a->drain_state = MESOS__V1__DRAIN_STATE__DRAINING;
  a->drain_grace = grace;
  a->drain_mark_gone = mark_gone;
  MZ_INFO("master", "draining agent %s (%s)", a->id, a->hostname);
  Mesos__V1__DurationInfo d = MESOS__V1__DURATION_INFO__INIT;
  Mesos__V1__KillPolicy kp = MESOS__V1__KILL_POLICY__INIT;
  if (grace >= 0) {
    d.nanoseconds = (int64_t)(grace * 1e9);
    kp.grace_period = &d;
  }
  mz_task *t;
  DL_FOREACH2(a->tasks, t, agent_next) {
    if (mz_task_state_terminal(t->state) || !a->connected) continue;
    Mezzo__Internal__AgentEvent ev = MEZZO__INTERNAL__AGENT_EVENT__INIT;
    Mezzo__Internal__AgentEvent__KillTask kt = MEZZO__INTERNAL__AGENT_EVENT__KILL_TASK__INIT;
    Mesos__V1__FrameworkID fid = MESOS__V1__FRAMEWORK_ID__INIT;
    Mesos__V1__TaskID tid = MESOS__V1__TASK_ID__INIT;
    fid.value = (char *)t->framework_id; /* only read */
    tid.value = t->id;
    kt.framework_id = &fid;
    kt.task_id = &tid;
    if (grace >= 0) kt.kill_policy = &kp;
    ev.type = MEZZO__INTERNAL__AGENT_EVENT__TYPE__KILL_TASK;
    ev.kill_task = &kt;
    mz_agent_send(a, &ev);
  }
  mz_maintenance_task_ended(a); /* nothing running: drained at once */
}

int mz_maintenance_drain(mz_agent *a, double grace, bool mark_gone, char *err, size_t errlen) {
  if (record_agent(a->m, a->id, true, MESOS__V1__DRAIN_STATE__DRAINING, grace, mark_gone, err, errlen) != 0) return -1;
  drain_now(a, grace, mark_gone);
  return 0;
}

Mesos__V1__DrainInfo *mz_maintenance_drain_info(const mz_agent *a) {
  if (!a->drain_state) return NULL;
  Mesos__V1__DrainInfo *di = mz_malloc(sizeof *di);
  *di = (Mesos__V1__DrainInfo)MESOS__V1__DRAIN_INFO__INIT;
  di->state = (Mesos__V1__DrainState)a->drain_state;
  di->config = mz_malloc(sizeof *di->config);
  *di->config = (Mesos__V1__DrainConfig)MESOS__V1__DRAIN_CONFIG__INIT;
  if (a->drain_grace >= 0) {
    di->config->max_grace_period = mz_malloc(sizeof *di->config->max_grace_period);
    *di->config->max_grace_period = (Mesos__V1__DurationInfo)MESOS__V1__DURATION_INFO__INIT;
    di->config->max_grace_period->nanoseconds = (int64_t)(a->drain_grace * 1e9);
  }
  di->config->has_mark_gone = 1;
  di->config->mark_gone = a->drain_mark_gone;
  return di;
}

void mz_maintenance_forget_agent(mz_master *m, const char *agent_id) {
  saved_agent *s = NULL;
  if (m->maint) HASH_FIND_STR(m->maint->saved, agent_id, s);
  if (!s) return; /* nothing recorded */
  char err[256];
  if (record_agent(m, agent_id, false, 0, -1, false, err, sizeof err) != 0)
    MZ_WARN("master", "agent %s: cannot forget its maintenance record: %s", agent_id, err);
}

void mz_maintenance_agent_added(mz_agent *a) {
  mz_master *m = a->m;
  saved_agent *s = NULL;
  if (m->maint) HASH_FIND_STR(m->maint->saved, a->id, s);
  if (!s || a->deactivated || a->drain_state) return;
  MZ_INFO("master", "agent %s: restoring its recorded %s", a->id, s->drain_state ? "drain" : "deactivation");
  if (s->drain_state == MESOS__V1__DRAIN_STATE__DRAINING) {
    drain_now(a, s->grace, s->mark_gone); /* s may be replaced (DRAINED) */
  } else {
    deactivate_now(a);
    a->drain_state = s->drain_state;
    a->drain_grace = s->grace;
    a->drain_mark_gone = s->mark_gone;
  }
}

/* ---------------------------------------------------------- machine ids */

static const char *str_or_empty(const char *s) { return s ? s : ""; }

static bool id_equal(const char *h1, const char *ip1, const char *h2, const char *ip2) {
  return !strcasecmp(str_or_empty(h1), str_or_empty(h2)) && !strcmp(str_or_empty(ip1), str_or_empty(ip2));
}

/* Mesos's text of a machine id in messages: its compact JSON. */
static void id_text(const Mesos__V1__MachineID *id, char *out, size_t len) {
  json_t *j = mz_pb_to_json(&id->base);
  char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
  snprintf(out, len, "%s", t ? t : "{}");
  free(t);
  json_decref(j);
}

static int validate_id(const Mesos__V1__MachineID *id, char *err, size_t errlen) {
  const char *h = str_or_empty(id->hostname), *ip = str_or_empty(id->ip);
  if (!*h && !*ip) {
    snprintf(err, errlen, "Both 'hostname' and 'ip' for a machine are empty");
    return -1;
  }
  if (strlen(h) > 255) {
    snprintf(err, errlen, "Machine hostname '%.64s...' is longer than 255 characters", h);
    return -1;
  }
  struct in_addr tmp;
  if (*ip && inet_pton(AF_INET, ip, &tmp) != 1) {
    snprintf(err, errlen, "Failed to parse IP '%.64s': not an IPv4 address", ip);
    return -1;
  }
  return 0;
}

/* Mesos's checks of a list of machines (START / STOP_MAINTENANCE). */
static int validate_ids(Mesos__V1__MachineID *const *ids, size_t n, char *err, size_t errlen) {
  if (n == 0) {
    snprintf(err, errlen, "List of machines is empty");
    return -1;
  }
  if (n > MZ_MAINT_MAX_MACHINES) {
    snprintf(err, errlen, "Too many machines (at most %d)", MZ_MAINT_MAX_MACHINES);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    if (validate_id(ids[i], err, errlen) != 0) return -1;
    for (size_t j = 0; j < i; j++)
      if (id_equal(ids[i]->hostname, ids[i]->ip, ids[j]->hostname, ids[j]->ip)) {
        char t[600];
        id_text(ids[i], t, sizeof t);
        snprintf(err, errlen, "Machine '%s' appears more than once in the schedule", t);
        return -1;
      }
  }
  return 0;
}

static machine *find_machine(struct mz_maint *mt, const char *hostname, const char *ip) {
  for (machine *x = mt->machines; x; x = x->next)
    if (id_equal(x->hostname, x->ip, hostname, ip)) return x;
  return NULL;
}

static bool machine_matches(const machine *x, const char *hostname, const char *ip) {
  if (*x->hostname && strcasecmp(x->hostname, str_or_empty(hostname)) != 0) return false;
  if (*x->ip && strcmp(x->ip, str_or_empty(ip)) != 0) return false;
  return true;
}

static machine *machine_of(const mz_agent *a) {
  if (!a->m->maint) return NULL;
  const char *ip = mz_agent_ip(a);
  for (machine *x = a->m->maint->machines; x; x = x->next)
    if (machine_matches(x, a->hostname, ip)) return x;
  return NULL;
}

static char *lower_dup(const char *s) {
  char *d = mz_strdup(str_or_empty(s));
  for (char *p = d; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  return d;
}

static machine *machine_new(const char *hostname, const char *ip, int mode, const Mesos__V1__Unavailability *u) {
  machine *x = mz_calloc(1, sizeof *x);
  x->hostname = lower_dup(hostname);
  x->ip = mz_strdup(str_or_empty(ip));
  x->mode = mode;
  x->u = u ? mz_pb_dup(u) : NULL;
  return x;
}

static void machine_free(machine *x) {
  free(x->hostname);
  free(x->ip);
  if (x->u) protobuf_c_message_free_unpacked(&x->u->base, NULL);
  free(x);
}

static void machines_free(machine *list) {
  machine *x, *tmp;
  LL_FOREACH_SAFE(list, x, tmp) machine_free(x);
}

static bool unavailability_equal(const Mesos__V1__Unavailability *a, const Mesos__V1__Unavailability *b) {
  if (!a || !b) return a == b;
  int64_t sa = a->start ? a->start->nanoseconds : 0, sb = b->start ? b->start->nanoseconds : 0;
  if (sa != sb || (a->duration == NULL) != (b->duration == NULL)) return false;
  return !a->duration || a->duration->nanoseconds == b->duration->nanoseconds;
}

int mz_maintenance_agent_mode(const mz_agent *a) {
  machine *x = machine_of(a);
  return x ? x->mode : 0;
}

Mesos__V1__Unavailability *mz_maintenance_unavailability(const mz_agent *a) {
  machine *x = machine_of(a);
  return x && x->u ? mz_pb_dup(x->u) : NULL;
}

bool mz_maintenance_refuses(mz_master *m, const char *hostname, const char *ip) {
  if (!m->maint) return false;
  for (machine *x = m->maint->machines; x; x = x->next)
    if (x->mode == MESOS__V1__MACHINE_INFO__MODE__DOWN && machine_matches(x, hostname, ip)) return true;
  return false;
}

/* ------------------------------------------------------------ recording */

static json_t *machines_json(const machine *list) {
  json_t *arr = json_array();
  for (const machine *x = list; x; x = x->next) {
    Mesos__V1__MachineInfo mi = MESOS__V1__MACHINE_INFO__INIT;
    Mesos__V1__MachineID id = MESOS__V1__MACHINE_ID__INIT;
    if (*x->hostname) id.hostname = x->hostname;
    if (*x->ip) id.ip = x->ip;
    mi.id = &id;
    mi.has_mode = 1;
    mi.mode = (Mesos__V1__MachineInfo__Mode)x->mode;
    mi.unavailability = x->u;
    json_array_append_new(arr, mz_pb_to_json(&mi.base));
  }
  return arr;
}

/* Records the schedule and the machines as they will be, in one change. */
static int record(mz_master *m, const Mesos__V1__Maintenance__Schedule *s, const machine *list, char *err,
                  size_t errlen) {
  json_t *sj = s && s->n_windows ? mz_pb_to_json(&s->base) : NULL;
  json_t *mj = list ? machines_json(list) : NULL;
  char *st = sj ? json_dumps(sj, JSON_COMPACT) : NULL;
  char *mtext = mj ? json_dumps(mj, JSON_COMPACT) : NULL;
  const char *keys[2] = {KEY_SCHEDULE, KEY_MACHINES};
  const char *texts[2] = {st, mtext};
  int rc = mz_registrar_put_values(m, keys, texts, 2, err, errlen);
  json_decref(sj);
  json_decref(mj);
  free(st);
  free(mtext);
  return rc;
}

void mz_maintenance_recover(mz_master *m, const mz_reg_value *values, size_t n) {
  struct mz_maint *mt = maint(m);
  char err[256];
  for (size_t i = 0; i < n; i++) {
    const char *key = values[i].key, *text = values[i].text;
    json_error_t je;
    json_t *j = json_loads(text ? text : "", 0, &je);
    if (!j) {
      MZ_ERROR("master", "registry: ignoring unreadable value %s: %s", key, je.text);
      continue;
    }
    if (!strcmp(key, KEY_SCHEDULE)) {
      ProtobufCMessage *s = mz_pb_from_json(&mesos__v1__maintenance__schedule__descriptor, j, err, sizeof err);
      if (s) {
        if (mt->schedule) protobuf_c_message_free_unpacked(&mt->schedule->base, NULL);
        mt->schedule = (Mesos__V1__Maintenance__Schedule *)s;
      } else {
        MZ_ERROR("master", "registry: unreadable maintenance schedule: %s", err);
      }
    } else if (!strcmp(key, KEY_MACHINES) && json_is_array(j)) {
      size_t k;
      json_t *e;
      machine *tail = NULL;
      json_array_foreach(j, k, e) {
        Mesos__V1__MachineInfo *mi =
            (Mesos__V1__MachineInfo *)mz_pb_from_json(&mesos__v1__machine_info__descriptor, e, err, sizeof err);
        if (!mi || !mi->id) {
          MZ_ERROR("master", "registry: unreadable machine: %s", mi ? "no id" : err);
          if (mi) protobuf_c_message_free_unpacked(&mi->base, NULL);
          continue;
        }
        machine *x = machine_new(mi->id->hostname, mi->id->ip, mi->has_mode ? (int)mi->mode : 2, mi->unavailability);
        if (tail) tail->next = x;
        else mt->machines = x;
        tail = x;
        mt->nmachines++;
        protobuf_c_message_free_unpacked(&mi->base, NULL);
      }
    } else if (!strncmp(key, KEY_AGENT_PREFIX, strlen(KEY_AGENT_PREFIX)) && json_is_object(j)) {
      remember_agent(mt, key + strlen(KEY_AGENT_PREFIX), json_is_true(json_object_get(j, "deactivated")),
                     (int)json_integer_value(json_object_get(j, "drain_state")),
                     json_number_value(json_object_get(j, "grace")), json_is_true(json_object_get(j, "mark_gone")));
    }
    json_decref(j);
  }
  if (mt->nmachines || mt->schedule)
    MZ_INFO("master", "registry: maintenance schedule of %zu machine(s) recovered", mt->nmachines);
  if (mt->nmachines) mz_iofs_run(m);
}

/* ------------------------------------------------------- machine changes */

/* The unavailability of the agents of x changes (or ends): offers are made anew
 * with it, inverse offers rescinded and their answers forgotten. */
static void agents_changed(mz_master *m, const machine *x) {
  mz_agent *a, *tmp;
  HASH_ITER(hh, m->agents, a, tmp) {
    if (!machine_matches(x, a->hostname, mz_agent_ip(a))) continue;
    mz_iofs_reset_agent(m, a->id);
    mz_offer *o, *otmp;
    DL_FOREACH_SAFE2(a->offers, o, otmp, ag_next) mz_offer_rescind(o);
  }
}

static int validate_schedule(struct mz_maint *mt, const Mesos__V1__Maintenance__Schedule *s, char *err,
                             size_t errlen) {
  if (s->n_windows > MZ_MAINT_MAX_WINDOWS) {
    snprintf(err, errlen, "Too many maintenance windows (at most %d)", MZ_MAINT_MAX_WINDOWS);
    return -1;
  }
  size_t total = 0;
  for (size_t w = 0; w < s->n_windows; w++) {
    const Mesos__V1__Maintenance__Window *win = s->windows[w];
    if (win->n_machine_ids == 0) {
      snprintf(err, errlen, "List of machines in the maintenance window is empty");
      return -1;
    }
    if (!win->unavailability || !win->unavailability->start) {
      snprintf(err, errlen, "Expecting 'unavailability.start' in every maintenance window");
      return -1;
    }
    if (win->unavailability->duration && win->unavailability->duration->nanoseconds < 0) {
      snprintf(err, errlen, "Unavailability 'duration' is negative");
      return -1;
    }
    total += win->n_machine_ids;
    if (total > MZ_MAINT_MAX_MACHINES) {
      snprintf(err, errlen, "Too many machines in the schedule (at most %d)", MZ_MAINT_MAX_MACHINES);
      return -1;
    }
    for (size_t i = 0; i < win->n_machine_ids; i++) {
      const Mesos__V1__MachineID *id = win->machine_ids[i];
      if (validate_id(id, err, errlen) != 0) return -1;
      /* Unique over the whole schedule (windows are small; quadratic is bounded). */
      for (size_t w2 = 0; w2 <= w; w2++) {
        const Mesos__V1__Maintenance__Window *o = s->windows[w2];
        size_t lim = w2 == w ? i : o->n_machine_ids;
        for (size_t j = 0; j < lim; j++)
          if (id_equal(id->hostname, id->ip, o->machine_ids[j]->hostname, o->machine_ids[j]->ip)) {
            char t[600];
            id_text(id, t, sizeof t);
            snprintf(err, errlen, "Machine '%s' appears more than once in the schedule", t);
            return -1;
          }
      }
    }
  }
  /* No DOWN machine may leave the schedule. */
  for (machine *x = mt->machines; x; x = x->next) {
    if (x->mode != MESOS__V1__MACHINE_INFO__MODE__DOWN) continue;
    bool kept = false;
    for (size_t w = 0; w < s->n_windows && !kept; w++)
      for (size_t i = 0; i < s->windows[w]->n_machine_ids && !kept; i++)
        kept = id_equal(x->hostname, x->ip, s->windows[w]->machine_ids[i]->hostname, s->windows[w]->machine_ids[i]->ip);
    if (!kept) {
      Mesos__V1__MachineID id = MESOS__V1__MACHINE_ID__INIT;
      if (*x->hostname) id.hostname = x->hostname;
      if (*x->ip) id.ip = x->ip;
      char t[600];
      id_text(&id, t, sizeof t);
      snprintf(err, errlen, "Machine '%s' is deactivated and cannot be removed from the schedule", t);
      return -1;
    }
  }
  return 0;
}

/* A copy of s with host names in lower case. */
static Mesos__V1__Maintenance__Schedule *normalized(const Mesos__V1__Maintenance__Schedule *s) {
  Mesos__V1__Maintenance__Schedule *c = mz_pb_dup(s);
  for (size_t w = 0; w < c->n_windows; w++)
    for (size_t i = 0; i < c->windows[w]->n_machine_ids; i++) {
      Mesos__V1__MachineID *id = c->windows[w]->machine_ids[i];
      if (id->hostname) {
        char *l = lower_dup(id->hostname);
        free(id->hostname);
        id->hostname = l;
      }
    }
  return c;
}

int mz_maintenance_update_schedule(mz_master *m, const Mesos__V1__Maintenance__Schedule *s, char *err,
                                   size_t errlen) {
  struct mz_maint *mt = maint(m);
  if (validate_schedule(mt, s, err, errlen) != 0) return 400;
  /* The machines as they will be: the schedule's, DOWN ones staying DOWN. */
  machine *next = NULL, *tail = NULL;
  size_t n = 0;
  for (size_t w = 0; w < s->n_windows; w++)
    for (size_t i = 0; i < s->windows[w]->n_machine_ids; i++) {
      const Mesos__V1__MachineID *id = s->windows[w]->machine_ids[i];
      machine *old = find_machine(mt, id->hostname, id->ip);
      machine *x = machine_new(id->hostname, id->ip, old ? old->mode : MESOS__V1__MACHINE_INFO__MODE__DRAINING,
                               s->windows[w]->unavailability);
      if (tail) tail->next = x;
      else next = x;
      tail = x;
      n++;
    }
  Mesos__V1__Maintenance__Schedule *ns = s->n_windows ? normalized(s) : NULL;
  if (record(m, ns, next, err, errlen) != 0) {
    machines_free(next);
    if (ns) protobuf_c_message_free_unpacked(&ns->base, NULL);
    return 503;
  }
  /* Machines leaving the schedule or whose unavailability changes. */
  for (machine *x = mt->machines; x; x = x->next) {
    machine *nx = NULL;
    for (machine *y = next; y && !nx; y = y->next)
      if (id_equal(x->hostname, x->ip, y->hostname, y->ip)) nx = y;
    if (!nx || !unavailability_equal(x->u, nx->u)) agents_changed(m, x);
  }
  for (machine *y = next; y; y = y->next)
    if (!find_machine(mt, y->hostname, y->ip)) agents_changed(m, y); /* new: offers made anew with unavailability */
  machines_free(mt->machines);
  mt->machines = next;
  mt->nmachines = n;
  if (mt->schedule) protobuf_c_message_free_unpacked(&mt->schedule->base, NULL);
  mt->schedule = ns;
  MZ_INFO("master", "maintenance schedule updated: %zu window(s), %zu machine(s)", s->n_windows, n);
  mz_iofs_run(m);
  return 200;
}

/* Checks ids against the machines: each must be in the schedule in mode want. */
static int check_modes(struct mz_maint *mt, Mesos__V1__MachineID *const *ids, size_t n, int want, char *err,
                       size_t errlen) {
  if (validate_ids(ids, n, err, errlen) != 0) return -1;
  for (size_t i = 0; i < n; i++) {
    machine *x = find_machine(mt, ids[i]->hostname, ids[i]->ip);
    char t[600];
    id_text(ids[i], t, sizeof t);
    if (!x) {
      snprintf(err, errlen, "Machine '%s' is not part of a maintenance schedule", t);
      return -1;
    }
    if (x->mode != want) {
      snprintf(err, errlen,
               want == MESOS__V1__MACHINE_INFO__MODE__DRAINING
                   ? "Machine '%s' is not in DRAINING mode and cannot be brought down"
                   : "Machine '%s' is not in DOWN mode and cannot be brought up",
               t);
      return -1;
    }
  }
  return 0;
}

static machine *copy_machines(const machine *list) {
  machine *head = NULL, *tail = NULL;
  for (const machine *x = list; x; x = x->next) {
    machine *c = machine_new(x->hostname, x->ip, x->mode, x->u);
    if (tail) tail->next = c;
    else head = c;
    tail = c;
  }
  return head;
}

int mz_maintenance_start(mz_master *m, Mesos__V1__MachineID *const *ids, size_t n, char *err, size_t errlen) {
  struct mz_maint *mt = maint(m);
  if (check_modes(mt, ids, n, MESOS__V1__MACHINE_INFO__MODE__DRAINING, err, errlen) != 0) return 400;
  machine *next = copy_machines(mt->machines);
  for (size_t i = 0; i < n; i++) {
    for (machine *x = next; x; x = x->next)
      if (id_equal(x->hostname, x->ip, ids[i]->hostname, ids[i]->ip)) x->mode = MESOS__V1__MACHINE_INFO__MODE__DOWN;
  }
  int rc = record(m, mt->schedule, next, err, errlen);
  machines_free(next);
  if (rc != 0) return 503;
  for (size_t i = 0; i < n; i++) {
    machine *x = find_machine(mt, ids[i]->hostname, ids[i]->ip);
    mz_agent *a, *tmp;
    HASH_ITER(hh, m->agents, a, tmp) {
      if (!machine_matches(x, a->hostname, mz_agent_ip(a))) continue;
      mz_iofs_reset_agent(m, a->id);
      if (a->connected) {
        Mezzo__Internal__AgentEvent ev = MEZZO__INTERNAL__AGENT_EVENT__INIT;
        ev.type = MEZZO__INTERNAL__AGENT_EVENT__TYPE__SHUTDOWN;
        mz_agent_send(a, &ev);
      }
      mz_maintenance_forget_agent(m, a->id);
      mz_agent_remove(a, false, "Operator initiated 'Machine DOWN'");
    }
    x->mode = MESOS__V1__MACHINE_INFO__MODE__DOWN;
    MZ_INFO("master", "machine %s/%s is DOWN for maintenance", *x->hostname ? x->hostname : "-", *x->ip ? x->ip : "-");
  }
  return 200;
}

/* Removes the machines named by ids from the windows of s (empty windows go). */
static void drop_from_schedule(Mesos__V1__Maintenance__Schedule *s, Mesos__V1__MachineID *const *ids, size_t n) {
  size_t wout = 0;
  for (size_t w = 0; w < s->n_windows; w++) {
    Mesos__V1__Maintenance__Window *win = s->windows[w];
    size_t out = 0;
    for (size_t i = 0; i < win->n_machine_ids; i++) {
      Mesos__V1__MachineID *id = win->machine_ids[i];
      bool drop = false;
      for (size_t k = 0; k < n && !drop; k++) drop = id_equal(id->hostname, id->ip, ids[k]->hostname, ids[k]->ip);
      if (drop) protobuf_c_message_free_unpacked(&id->base, NULL);
      else win->machine_ids[out++] = id;
    }
    win->n_machine_ids = out;
    if (out == 0) protobuf_c_message_free_unpacked(&win->base, NULL);
    else s->windows[wout++] = win;
  }
  s->n_windows = wout;
}

int mz_maintenance_stop(mz_master *m, Mesos__V1__MachineID *const *ids, size_t n, char *err, size_t errlen) {
  struct mz_maint *mt = maint(m);
  if (check_modes(mt, ids, n, MESOS__V1__MACHINE_INFO__MODE__DOWN, err, errlen) != 0) return 400;
  machine *next = NULL, *tail = NULL;
  size_t left = 0;
  for (machine *x = mt->machines; x; x = x->next) {
    bool up = false;
    for (size_t i = 0; i < n && !up; i++) up = id_equal(x->hostname, x->ip, ids[i]->hostname, ids[i]->ip);
    if (up) continue;
    machine *c = machine_new(x->hostname, x->ip, x->mode, x->u);
    if (tail) tail->next = c;
    else next = c;
    tail = c;
    left++;
  }
  Mesos__V1__Maintenance__Schedule *ns = mt->schedule ? mz_pb_dup(mt->schedule) : NULL;
  if (ns) drop_from_schedule(ns, ids, n);
  if (ns && ns->n_windows == 0) {
    protobuf_c_message_free_unpacked(&ns->base, NULL);
    ns = NULL;
  }
  if (record(m, ns, next, err, errlen) != 0) {
    machines_free(next);
    if (ns) protobuf_c_message_free_unpacked(&ns->base, NULL);
    return 503;
  }
  machines_free(mt->machines);
  mt->machines = next;
  mt->nmachines = left;
  if (mt->schedule) protobuf_c_message_free_unpacked(&mt->schedule->base, NULL);
  mt->schedule = ns;
  MZ_INFO("master", "%zu machine(s) back UP from maintenance", n);
  return 200;
}

/* ---------------------------------------------------------------- views */

Mesos__V1__Maintenance__Schedule *mz_maintenance_schedule_view(mz_master *m) {
  if (m->maint && m->maint->schedule) return mz_pb_dup(m->maint->schedule);
  Mesos__V1__Maintenance__Schedule *s = mz_malloc(sizeof *s);
  *s = (Mesos__V1__Maintenance__Schedule)MESOS__V1__MAINTENANCE__SCHEDULE__INIT;
  return s;
}

static Mesos__V1__MachineID *id_proto(const machine *x) {
  Mesos__V1__MachineID *id = mz_malloc(sizeof *id);
  *id = (Mesos__V1__MachineID)MESOS__V1__MACHINE_ID__INIT;
  if (*x->hostname) id->hostname = mz_strdup(x->hostname);
  if (*x->ip) id->ip = mz_strdup(x->ip);
  return id;
}

Mesos__V1__Maintenance__ClusterStatus *mz_maintenance_status_view(mz_master *m) {
  Mesos__V1__Maintenance__ClusterStatus *cs = mz_malloc(sizeof *cs);
  *cs = (Mesos__V1__Maintenance__ClusterStatus)MESOS__V1__MAINTENANCE__CLUSTER_STATUS__INIT;
  size_t n = m->maint ? m->maint->nmachines : 0;
  cs->draining_machines = mz_calloc(n + 1, sizeof *cs->draining_machines);
  cs->down_machines = mz_calloc(n + 1, sizeof *cs->down_machines);
  if (!n) return cs;
  for (machine *x = m->maint->machines; x; x = x->next) {
    if (x->mode == MESOS__V1__MACHINE_INFO__MODE__DOWN) {
      cs->down_machines[cs->n_down_machines++] = id_proto(x);
      continue;
    }
    Mesos__V1__Maintenance__ClusterStatus__DrainingMachine *dm = mz_malloc(sizeof *dm);
    *dm = (Mesos__V1__Maintenance__ClusterStatus__DrainingMachine)
        MESOS__V1__MAINTENANCE__CLUSTER_STATUS__DRAINING_MACHINE__INIT;
    dm->id = id_proto(x);
    mz_agent *a, *tmp;
    HASH_ITER(hh, m->agents, a, tmp)
    if (machine_of(a) == x) mz_iofs_statuses(m, a->id, dm);
    cs->draining_machines[cs->n_draining_machines++] = dm;
  }
  return cs;
}

void mz_maintenance_free(mz_master *m) {
  struct mz_maint *mt = m->maint;
  if (!mt) return;
  machines_free(mt->machines);
  if (mt->schedule) protobuf_c_message_free_unpacked(&mt->schedule->base, NULL);
  saved_agent *s, *tmp;
  HASH_ITER(hh, mt->saved, s, tmp) {
    HASH_DEL(mt->saved, s);
    saved_free(s);
  }
  free(mt);
  m->maint = NULL;
}
