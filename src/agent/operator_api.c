/* operator_api: POST /api/v1 on the agent, the v1 operator API of the agent
 * (mesos.v1.agent.Call / Response), in JSON or protobuf as the request's
 * Content-Type and Accept say, with Mesos's status codes: 200 with a Response for
 * queries, 202 for SET_LOGGING_LEVEL, 400 for a malformed or invalid call, 403 / 404
 * for files outside the sandboxes or missing, 405 / 406 / 415 for the method and
 * media types, 501 for calls this agent does not implement (nested containers,
 * resource providers). Also GET /metrics/snapshot with the same metrics.
 *
 * Calls: GET_HEALTH, GET_FLAGS, GET_VERSION, GET_METRICS, GET_LOGGING_LEVEL,
 * SET_LOGGING_LEVEL, GET_STATE, GET_CONTAINERS (with resource statistics),
 * GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS, LIST_FILES and READ_FILE (confined
 * to the sandboxes as /files is, files.c), GET_AGENT.
 *
 * Responses are built in place from the agent's tables: the protobuf structs
 * borrow the agent's strings and messages, and everything allocated for one
 * response is recorded in a scratch list and freed after it is encoded. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "agent/agent.h"
#include "agent/containerizer.h"
#include "agent/fetch_cache.h"
#include "agent/gc.h"
#include "common/api_call.h"
#include "common/http.h"
#include "common/log.h"
#include "mesos/v1/agent/agent.pb-c.h"

typedef Mesos__V1__Agent__Call Call;
typedef Mesos__V1__Agent__Response Response;
#define CALL(t) MESOS__V1__AGENT__CALL__TYPE__##t
#define RESP(t) MESOS__V1__AGENT__RESPONSE__TYPE__##t

#define API_MAX_READ (4 * 1024 * 1024) /* bytes one READ_FILE returns at most */

/* ------------------------------------------------------------------ scratch */

typedef struct {
  void **v;
  size_t n, cap;
} scratch;

static void *sc_keep(scratch *s, void *p) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 64;
    s->v = mz_realloc(s->v, s->cap * sizeof *s->v);
  }
  s->v[s->n++] = p;
  return p;
}

static void *sc_alloc(scratch *s, size_t size) { return sc_keep(s, mz_calloc(1, size ? size : 1)); }

static char *sc_strdup(scratch *s, const char *str) { return sc_keep(s, mz_strdup(str ? str : "")); }

static void sc_free(scratch *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
}

/* A growable array of message pointers in the scratch. */
typedef struct {
  void **v;
  size_t n, cap;
} ptrs;

static void ptrs_push(scratch *s, ptrs *p, void *x) {
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    void **nv = sc_alloc(s, cap * sizeof *nv);
    if (p->n) memcpy(nv, p->v, p->n * sizeof *nv);
    p->v = nv;
    p->cap = cap;
  }
  p->v[p->n++] = x;
}

/* ------------------------------------------------------------------ reply */

static void reply_response(mz_http_req *req, mz_content_type ct, Response *r) { mz_api_reply(req, ct, &r->base); }

/* ------------------------------------------------------------------ metrics */

static void count_task_states(const mz_ag_executor *ex, double *by_state, size_t nstates) {
  const mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->queued, t, tmp) if ((size_t)t->state < nstates) by_state[t->state]++;
  HASH_ITER(hh, ex->launched, t, tmp) if ((size_t)t->state < nstates) by_state[t->state]++;
  DL_FOREACH(ex->completed, t) if ((size_t)t->state < nstates) by_state[t->state]++;
}

static double resource_total(const mz_agent *a, const char *name) {
  double v = 0;
  for (size_t i = 0; i < a->resources->n; i++) {
    const mz_resource *r = &a->resources->v[i];
    if (r->name && !strcmp(r->name, name) && r->type == MZ_RES_SCALAR) v += (double)r->scalar / 1000.0;
  }
  return v;
}

static double task_scalar(const mz_ag_task *t, const char *name) {
  double v = 0;
  for (size_t i = 0; i < t->info->n_resources; i++) {
    const Mesos__V1__Resource *r = t->info->resources[i];
    if (r->name && !strcmp(r->name, name) && r->scalar) v += r->scalar->value;
  }
  return v;
}

/* The agent's metrics with Mesos's names (slave/...), as a JSON object of numbers. */
static json_t *metrics_json(mz_agent *a) {
  enum { NSTATES = 16 };
  double by_state[NSTATES] = {0};
  double fw_active = 0, ex_running = 0, ex_registering = 0, ex_terminating = 0, ex_terminated = 0;
  double used_cpus = 0, used_mem = 0, used_disk = 0;
  mz_ag_framework *fw, *ftmp;
  HASH_ITER(hh, a->frameworks, fw, ftmp) {
    fw_active++;
    mz_ag_executor *ex, *etmp;
    HASH_ITER(hh, fw->executors, ex, etmp) {
      switch (ex->state) {
        case MZ_EXEC_REGISTERING: ex_registering++; break;
        case MZ_EXEC_RUNNING: ex_running++; break;
        case MZ_EXEC_TERMINATING: ex_terminating++; break;
        case MZ_EXEC_TERMINATED: ex_terminated++; break;
      }
      count_task_states(ex, by_state, NSTATES);
      mz_ag_task *t, *ttmp;
      mz_ag_task *tables[2] = {ex->queued, ex->launched};
      for (int i = 0; i < 2; i++) {
        HASH_ITER(hh, tables[i], t, ttmp) {
          if (mz_task_state_terminal(t->state)) continue;
          used_cpus += task_scalar(t, "cpus");
          used_mem += task_scalar(t, "mem");
          used_disk += task_scalar(t, "disk");
        }
      }
    }
    DL_FOREACH(fw->completed, ex) count_task_states(ex, by_state, NSTATES);
  }
  DL_FOREACH(a->completed_frameworks, fw) {
    mz_ag_executor *ex;
    DL_FOREACH(fw->completed, ex) count_task_states(ex, by_state, NSTATES);
  }
  json_t *o = json_object();
#define SET(k, v) json_object_set_new(o, k, json_real((double)(v)))
  SET("slave/uptime_secs", mz_now() - a->start_time);
  if (a->gc) {
    mz_gc_stats gs;
    mz_gc_stats_get(a->gc, &gs);
    SET("gc/path_removals_succeeded", gs.succeeded);
    SET("gc/path_removals_failed", gs.failed);
    SET("gc/path_removals_pending", gs.pending);
    SET("slave/executor_directory_max_allowed_age_secs", gs.max_allowed_age);
  }
  SET("containerizer/fetcher/cache_size_total_bytes", a->flags.fetcher_cache_size);
  SET("containerizer/fetcher/cache_size_used_bytes", a->fetch_cache_ready ? mz_fetch_cache_used(a->flags.fetcher_cache_dir) : 0);
  SET("slave/registered", a->agent_id ? 1 : 0);
  SET("slave/frameworks_active", fw_active);
  SET("slave/executors_registering", ex_registering);
  SET("slave/executors_running", ex_running);
  SET("slave/executors_terminating", ex_terminating);
  SET("slave/executors_terminated", ex_terminated);
  SET("slave/tasks_staging", by_state[MESOS__V1__TASK_STATE__TASK_STAGING]);
  SET("slave/tasks_starting", by_state[MESOS__V1__TASK_STATE__TASK_STARTING]);
  SET("slave/tasks_running", by_state[MESOS__V1__TASK_STATE__TASK_RUNNING]);
  SET("slave/tasks_killing", by_state[MESOS__V1__TASK_STATE__TASK_KILLING]);
  SET("slave/tasks_finished", by_state[MESOS__V1__TASK_STATE__TASK_FINISHED]);
  SET("slave/tasks_failed", by_state[MESOS__V1__TASK_STATE__TASK_FAILED]);
  SET("slave/tasks_killed", by_state[MESOS__V1__TASK_STATE__TASK_KILLED]);
  SET("slave/tasks_lost", by_state[MESOS__V1__TASK_STATE__TASK_LOST]);
  SET("slave/tasks_gone", by_state[MESOS__V1__TASK_STATE__TASK_GONE]);
  SET("slave/containers_running", mz_containerizer_count(a->containerizer));
  double cpus = resource_total(a, "cpus"), mem = resource_total(a, "mem"), disk = resource_total(a, "disk");
  SET("slave/cpus_total", cpus);
  SET("slave/cpus_used", used_cpus);
  SET("slave/cpus_percent", cpus > 0 ? used_cpus / cpus : 0);
  SET("slave/mem_total", mem);
  SET("slave/mem_used", used_mem);
  SET("slave/mem_percent", mem > 0 ? used_mem / mem : 0);
  SET("slave/disk_total", disk);
  SET("slave/disk_used", used_disk);
  SET("slave/disk_percent", disk > 0 ? used_disk / disk : 0);
#undef SET
  return o;
}

static Mesos__V1__Agent__Response__GetMetrics *metrics_view(scratch *s, mz_agent *a) {
  json_t *o = metrics_json(a);
  Mesos__V1__Agent__Response__GetMetrics *r = sc_alloc(s, sizeof *r);
  mesos__v1__agent__response__get_metrics__init(r);
  r->metrics = sc_alloc(s, (json_object_size(o) + 1) * sizeof *r->metrics);
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    Mesos__V1__Metric *x = sc_alloc(s, sizeof *x);
    mesos__v1__metric__init(x);
    x->name = sc_strdup(s, k);
    x->has_value = 1;
    x->value = json_number_value(v);
    r->metrics[r->n_metrics++] = x;
  }
  json_decref(o);
  return r;
}

static void handle_metrics_snapshot(mz_http_req *r, void *arg) {
  mz_agent *a = arg;
  if (strcmp(mz_http_req_method(r), "GET") != 0 && strcmp(mz_http_req_method(r), "HEAD") != 0) {
    mz_http_req_add_header(r, "Allow", "GET");
    mz_http_reply_error(r, 405, "Expecting 'GET', received '%s'", mz_http_req_method(r));
    return;
  }
  json_t *o = metrics_json(a);
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (!text) {
    mz_http_reply_error(r, 500, "cannot render the metrics");
    return;
  }
  mz_http_reply(r, 200, "application/json", text, strlen(text));
  free(text);
}

/* ------------------------------------------------------------------ flags, version */

static Mesos__V1__Agent__Response__GetFlags *flags_view(scratch *s, mz_agent *a) {
  json_t *o = mz_agent_flags_json(a);
  Mesos__V1__Agent__Response__GetFlags *r = sc_alloc(s, sizeof *r);
  mesos__v1__agent__response__get_flags__init(r);
  r->flags = sc_alloc(s, (json_object_size(o) + 1) * sizeof *r->flags);
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    Mesos__V1__Flag *f = sc_alloc(s, sizeof *f);
    mesos__v1__flag__init(f);
    f->name = sc_strdup(s, k);
    f->value = sc_strdup(s, json_is_string(v) ? json_string_value(v) : "");
    r->flags[r->n_flags++] = f;
  }
  json_decref(o);
  return r;
}

/* ------------------------------------------------------------------ tasks, executors, frameworks */

static Mesos__V1__Task *task_view(scratch *s, mz_agent *a, const mz_ag_task *t) {
  const mz_ag_executor *ex = t->executor;
  Mesos__V1__Task *v = sc_alloc(s, sizeof *v);
  mesos__v1__task__init(v);
  v->name = t->info->name ? t->info->name : t->id;
  v->task_id = t->info->task_id;
  Mesos__V1__FrameworkID *fid = sc_alloc(s, sizeof *fid);
  mesos__v1__framework_id__init(fid);
  fid->value = ex->fw->id;
  v->framework_id = fid;
  if (!ex->command) v->executor_id = ex->info->executor_id;
  Mesos__V1__AgentID *aid = sc_alloc(s, sizeof *aid);
  mesos__v1__agent_id__init(aid);
  aid->value = a->agent_id ? a->agent_id : "";
  v->agent_id = aid;
  v->state = t->state;
  v->n_resources = t->info->n_resources;
  v->resources = t->info->resources;
  v->n_statuses = t->nstatuses;
  v->statuses = t->statuses;
  if (t->nstatuses) {
    v->has_status_update_state = 1;
    v->status_update_state = t->statuses[t->nstatuses - 1]->state;
  }
  v->labels = t->info->labels;
  v->discovery = t->info->discovery;
  v->container = t->info->container;
  v->health_check = t->info->health_check;
  v->kill_policy = t->info->kill_policy;
  if (t->info->command && t->info->command->user) v->user = t->info->command->user;
  return v;
}

typedef struct {
  ptrs queued, launched, terminated, completed;
} task_lists;

static void tasks_of_executor(scratch *s, mz_agent *a, const mz_ag_executor *ex, task_lists *l) {
  const mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->queued, t, tmp) {
    ptrs_push(s, mz_task_state_terminal(t->state) ? &l->terminated : &l->queued, task_view(s, a, t));
  }
  HASH_ITER(hh, ex->launched, t, tmp) {
    ptrs_push(s, mz_task_state_terminal(t->state) ? &l->terminated : &l->launched, task_view(s, a, t));
  }
  DL_FOREACH(ex->completed, t) ptrs_push(s, &l->completed, task_view(s, a, t));
}

static Mesos__V1__Agent__Response__GetTasks *tasks_view(scratch *s, mz_agent *a) {
  task_lists l = {0};
  mz_ag_framework *fw, *ftmp;
  mz_ag_executor *ex, *etmp;
  HASH_ITER(hh, a->frameworks, fw, ftmp) {
    HASH_ITER(hh, fw->executors, ex, etmp) tasks_of_executor(s, a, ex, &l);
    DL_FOREACH(fw->completed, ex) tasks_of_executor(s, a, ex, &l);
  }
  DL_FOREACH(a->completed_frameworks, fw) {
    HASH_ITER(hh, fw->executors, ex, etmp) tasks_of_executor(s, a, ex, &l);
    DL_FOREACH(fw->completed, ex) tasks_of_executor(s, a, ex, &l);
  }
  Mesos__V1__Agent__Response__GetTasks *r = sc_alloc(s, sizeof *r);
  mesos__v1__agent__response__get_tasks__init(r);
  r->n_queued_tasks = l.queued.n;
  r->queued_tasks = (Mesos__V1__Task **)l.queued.v;
  r->n_launched_tasks = l.launched.n;
  r->launched_tasks = (Mesos__V1__Task **)l.launched.v;
  r->n_terminated_tasks = l.terminated.n;
  r->terminated_tasks = (Mesos__V1__Task **)l.terminated.v;
  r->n_completed_tasks = l.completed.n;
  r->completed_tasks = (Mesos__V1__Task **)l.completed.v;
  return r;
}

static Mesos__V1__Agent__Response__GetExecutors__Executor *executor_view(scratch *s, const mz_ag_executor *ex) {
  Mesos__V1__Agent__Response__GetExecutors__Executor *e = sc_alloc(s, sizeof *e);
  mesos__v1__agent__response__get_executors__executor__init(e);
  e->executor_info = ex->info;
  return e;
}

static Mesos__V1__Agent__Response__GetExecutors *executors_view(scratch *s, mz_agent *a) {
  ptrs live = {0}, done = {0};
  mz_ag_framework *fw, *ftmp;
  mz_ag_executor *ex, *etmp;
  HASH_ITER(hh, a->frameworks, fw, ftmp) {
    HASH_ITER(hh, fw->executors, ex, etmp) ptrs_push(s, &live, executor_view(s, ex));
    DL_FOREACH(fw->completed, ex) ptrs_push(s, &done, executor_view(s, ex));
  }
  DL_FOREACH(a->completed_frameworks, fw) {
    HASH_ITER(hh, fw->executors, ex, etmp) ptrs_push(s, &done, executor_view(s, ex));
    DL_FOREACH(fw->completed, ex) ptrs_push(s, &done, executor_view(s, ex));
  }
  Mesos__V1__Agent__Response__GetExecutors *r = sc_alloc(s, sizeof *r);
  mesos__v1__agent__response__get_executors__init(r);
  r->n_executors = live.n;
  r->executors = (Mesos__V1__Agent__Response__GetExecutors__Executor **)live.v;
  r->n_completed_executors = done.n;
  r->completed_executors = (Mesos__V1__Agent__Response__GetExecutors__Executor **)done.v;
  return r;
}

static Mesos__V1__Agent__Response__GetFrameworks *frameworks_view(scratch *s, mz_agent *a) {
  ptrs live = {0}, done = {0};
  mz_ag_framework *fw, *ftmp;
  HASH_ITER(hh, a->frameworks, fw, ftmp) {
    Mesos__V1__Agent__Response__GetFrameworks__Framework *f = sc_alloc(s, sizeof *f);
    mesos__v1__agent__response__get_frameworks__framework__init(f);
    f->framework_info = fw->info;
    ptrs_push(s, &live, f);
  }
  DL_FOREACH(a->completed_frameworks, fw) {
    Mesos__V1__Agent__Response__GetFrameworks__Framework *f = sc_alloc(s, sizeof *f);
    mesos__v1__agent__response__get_frameworks__framework__init(f);
    f->framework_info = fw->info;
    ptrs_push(s, &done, f);
  }
  Mesos__V1__Agent__Response__GetFrameworks *r = sc_alloc(s, sizeof *r);
  mesos__v1__agent__response__get_frameworks__init(r);
  r->n_frameworks = live.n;
  r->frameworks = (Mesos__V1__Agent__Response__GetFrameworks__Framework **)live.v;
  r->n_completed_frameworks = done.n;
  r->completed_frameworks = (Mesos__V1__Agent__Response__GetFrameworks__Framework **)done.v;
  return r;
}

/* ------------------------------------------------------------------ containers */

static Mesos__V1__Agent__Response__GetContainers *containers_view(scratch *s, mz_agent *a) {
  ptrs out = {0};
  mz_ag_framework *fw, *ftmp;
  HASH_ITER(hh, a->frameworks, fw, ftmp) {
    mz_ag_executor *ex, *etmp;
    HASH_ITER(hh, fw->executors, ex, etmp) {
      if (ex->state == MZ_EXEC_TERMINATED || ex->pid <= 0) continue;
      Mesos__V1__Agent__Response__GetContainers__Container *c = sc_alloc(s, sizeof *c);
      mesos__v1__agent__response__get_containers__container__init(c);
      Mesos__V1__FrameworkID *fid = sc_alloc(s, sizeof *fid);
      mesos__v1__framework_id__init(fid);
      fid->value = fw->id;
      c->framework_id = fid;
      c->executor_id = ex->info->executor_id;
      c->executor_name = ex->info->name;
      Mesos__V1__ContainerID *cid = sc_alloc(s, sizeof *cid);
      mesos__v1__container_id__init(cid);
      cid->value = ex->container_id;
      c->container_id = cid;
      Mesos__V1__ContainerStatus *cs = sc_alloc(s, sizeof *cs);
      mesos__v1__container_status__init(cs);
      cs->container_id = cid;
      cs->has_executor_pid = 1;
      cs->executor_pid = (uint32_t)ex->pid;
      c->container_status = cs;
      mz_container_usage u;
      if (mz_containerizer_usage(a->containerizer, ex->container_id, &u) == 0) {
        Mesos__V1__ResourceStatistics *st = sc_alloc(s, sizeof *st);
        mesos__v1__resource_statistics__init(st);
        st->timestamp = mz_now();
        st->has_cpus_user_time_secs = st->has_cpus_system_time_secs = 1;
        st->cpus_user_time_secs = u.cpus_user_time_secs;
        st->cpus_system_time_secs = u.cpus_system_time_secs;
        if (ex->cpus_limit > 0) {
          st->has_cpus_limit = 1;
          st->cpus_limit = ex->cpus_limit;
        }
        st->has_mem_rss_bytes = 1;
        st->mem_rss_bytes = u.mem_rss_bytes;
        if (u.mem_total_bytes) {
          st->has_mem_total_bytes = 1;
          st->mem_total_bytes = u.mem_total_bytes;
        }
        if (ex->mem_limit_bytes > 0) {
          st->has_mem_limit_bytes = 1;
          st->mem_limit_bytes = ex->mem_limit_bytes;
        }
        st->has_processes = 1;
        st->processes = (uint32_t)u.processes;
        c->resource_statistics = st;
      }
      ptrs_push(s, &out, c);
    }
  }
  Mesos__V1__Agent__Response__GetContainers *r = sc_alloc(s, sizeof *r);
  mesos__v1__agent__response__get_containers__init(r);
  r->n_containers = out.n;
  r->containers = (Mesos__V1__Agent__Response__GetContainers__Container **)out.v;
  return r;
}

/* ------------------------------------------------------------------ files */

static Mesos__V1__FileInfo *file_info(scratch *s, const char *path, const struct stat *sb) {
  Mesos__V1__FileInfo *f = sc_alloc(s, sizeof *f);
  mesos__v1__file_info__init(f);
  f->path = sc_strdup(s, path);
  f->has_nlink = f->has_size = f->has_mode = 1;
  f->nlink = (int32_t)sb->st_nlink;
  f->size = (uint64_t)sb->st_size;
  f->mode = (uint32_t)sb->st_mode;
  Mesos__V1__TimeInfo *mt = sc_alloc(s, sizeof *mt);
  mesos__v1__time_info__init(mt);
  mt->nanoseconds = (int64_t)sb->st_mtime * 1000000000LL;
  f->mtime = mt;
  struct passwd *pw = getpwuid(sb->st_uid);
  struct group *gr = getgrgid(sb->st_gid);
  char num[32];
  snprintf(num, sizeof num, "%u", (unsigned)sb->st_uid);
  f->uid = sc_strdup(s, pw ? pw->pw_name : num);
  snprintf(num, sizeof num, "%u", (unsigned)sb->st_gid);
  f->gid = sc_strdup(s, gr ? gr->gr_name : num);
  return f;
}

typedef struct {
  scratch *s;
  ptrs l;
} listing;

static void list_entry(const char *shown, const struct stat *sb, void *arg) {
  listing *li = arg;
  ptrs_push(li->s, &li->l, file_info(li->s, shown, sb));
}

/* 0 with the listing in *out, or an HTTP status with err. */
static int list_files(scratch *s, mz_agent *a, const char *path, Mesos__V1__Agent__Response__ListFiles **out,
                      char *err, size_t errlen) {
  listing li = {s, {0}};
  int st = mz_files_list(&a->files, path, list_entry, &li, err, errlen);
  if (st) return st;
  Mesos__V1__Agent__Response__ListFiles *r = sc_alloc(s, sizeof *r);
  mesos__v1__agent__response__list_files__init(r);
  r->n_file_infos = li.l.n;
  r->file_infos = (Mesos__V1__FileInfo **)li.l.v;
  *out = r;
  return 0;
}

static int read_file(scratch *s, mz_agent *a, const Mesos__V1__Agent__Call__ReadFile *rf,
                     Mesos__V1__Agent__Response__ReadFile **out, char *err, size_t errlen) {
  char real[PATH_MAX];
  int st = mz_files_resolve(a, rf->path, real, err, errlen);
  if (st) return st;
  int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) != 0) {
    if (fd >= 0) close(fd);
    snprintf(err, errlen, "No such file");
    return 404;
  }
  if (S_ISDIR(sb.st_mode)) {
    close(fd);
    snprintf(err, errlen, "Cannot read a directory");
    return 400;
  }
  uint64_t size = (uint64_t)sb.st_size;
  uint64_t length = rf->has_length ? rf->length : API_MAX_READ;
  if (length > API_MAX_READ) length = API_MAX_READ;
  if (rf->offset >= size) length = 0;
  else if (length > size - rf->offset) length = size - rf->offset;
  uint8_t *buf = sc_alloc(s, (size_t)length + 1);
  ssize_t got = length ? pread(fd, buf, (size_t)length, (off_t)rf->offset) : 0;
  close(fd);
  Mesos__V1__Agent__Response__ReadFile *r = sc_alloc(s, sizeof *r);
  mesos__v1__agent__response__read_file__init(r);
  r->size = size;
  r->data.data = buf;
  r->data.len = got > 0 ? (size_t)got : 0;
  *out = r;
  return 0;
}

/* ------------------------------------------------------------------ exit */

void mz_agent_operator_api_free(void) { mz_api_logging_level_free(); }

/* ------------------------------------------------------------------ the handler */

static void handle(mz_http_req *req, void *arg) {
  mz_agent *a = arg;
  mz_content_type ct, accept;
  if (mz_api_post_content_type(req, &ct) != 0 || mz_api_accept(req, ct, &accept) != 0) return;
  Call *call = (Call *)mz_api_decode_body(req, &mesos__v1__agent__call__descriptor, ct);
  if (!call) return;
  char err[1024];
  scratch s = {0};
  Response r = MESOS__V1__AGENT__RESPONSE__INIT;
  r.has_type = 1;
  if (!call->has_type || call->type == CALL(UNKNOWN)) {
    mz_http_reply_error(req, 400, "Expecting 'type' to be present");
    goto done;
  }
  switch (call->type) {
    case CALL(GET_HEALTH): {
      Mesos__V1__Agent__Response__GetHealth h = MESOS__V1__AGENT__RESPONSE__GET_HEALTH__INIT;
      h.healthy = 1;
      r.type = RESP(GET_HEALTH);
      r.get_health = &h;
      reply_response(req, accept, &r);
      break;
    }
    case CALL(GET_FLAGS):
      r.type = RESP(GET_FLAGS);
      r.get_flags = flags_view(&s, a);
      reply_response(req, accept, &r);
      break;
    case CALL(GET_VERSION): {
      Mesos__V1__Agent__Response__GetVersion gv = MESOS__V1__AGENT__RESPONSE__GET_VERSION__INIT;
      Mesos__V1__VersionInfo vi = MESOS__V1__VERSION_INFO__INIT;
      vi.version = MZ_VERSION;
      vi.build_date = MZ_BUILD_DATE;
      vi.build_user = MZ_BUILD_USER;
      gv.version_info = &vi;
      r.type = RESP(GET_VERSION);
      r.get_version = &gv;
      reply_response(req, accept, &r);
      break;
    }
    case CALL(GET_METRICS):
      r.type = RESP(GET_METRICS);
      r.get_metrics = metrics_view(&s, a);
      reply_response(req, accept, &r);
      break;
    case CALL(GET_LOGGING_LEVEL): {
      Mesos__V1__Agent__Response__GetLoggingLevel l = MESOS__V1__AGENT__RESPONSE__GET_LOGGING_LEVEL__INIT;
      l.level = mz_log_get_level() == MZ_LOG_DEBUG ? 1 : 0;
      r.type = RESP(GET_LOGGING_LEVEL);
      r.get_logging_level = &l;
      reply_response(req, accept, &r);
      break;
    }
    case CALL(SET_LOGGING_LEVEL):
      if (mz_api_set_logging_level(a->base, MZ_AGENT_MOD, call->set_logging_level ? call->set_logging_level->level : 0,
                                   call->set_logging_level ? call->set_logging_level->duration : NULL, err,
                                   sizeof err) != 0)
        mz_http_reply_error(req, 400, "%s", err);
      else
        mz_http_reply(req, 202, NULL, NULL, 0);
      break;
    case CALL(GET_STATE): {
      Mesos__V1__Agent__Response__GetState gs = MESOS__V1__AGENT__RESPONSE__GET_STATE__INIT;
      gs.get_tasks = tasks_view(&s, a);
      gs.get_executors = executors_view(&s, a);
      gs.get_frameworks = frameworks_view(&s, a);
      r.type = RESP(GET_STATE);
      r.get_state = &gs;
      reply_response(req, accept, &r);
      break;
    }
    case CALL(GET_CONTAINERS):
      if (call->get_containers && call->get_containers->has_show_nested && call->get_containers->show_nested) {
        /* No nested containers here: the answer is the same. */
      }
      r.type = RESP(GET_CONTAINERS);
      r.get_containers = containers_view(&s, a);
      reply_response(req, accept, &r);
      break;
    case CALL(GET_FRAMEWORKS):
      r.type = RESP(GET_FRAMEWORKS);
      r.get_frameworks = frameworks_view(&s, a);
      reply_response(req, accept, &r);
      break;
    case CALL(GET_EXECUTORS):
      r.type = RESP(GET_EXECUTORS);
      r.get_executors = executors_view(&s, a);
      reply_response(req, accept, &r);
      break;
    case CALL(GET_TASKS):
      r.type = RESP(GET_TASKS);
      r.get_tasks = tasks_view(&s, a);
      reply_response(req, accept, &r);
      break;
    case CALL(LIST_FILES): {
      if (!call->list_files || !call->list_files->path) {
        mz_http_reply_error(req, 400, "Expecting 'list_files.path' to be present");
        break;
      }
      int st = list_files(&s, a, call->list_files->path, &r.list_files, err, sizeof err);
      if (st) {
        mz_http_reply_error(req, st, "%s", err);
        break;
      }
      r.type = RESP(LIST_FILES);
      reply_response(req, accept, &r);
      break;
    }
    case CALL(READ_FILE): {
      if (!call->read_file || !call->read_file->path) {
        mz_http_reply_error(req, 400, "Expecting 'read_file.path' and 'read_file.offset' to be present");
        break;
      }
      int st = read_file(&s, a, call->read_file, &r.read_file, err, sizeof err);
      if (st) {
        mz_http_reply_error(req, st, "%s", err);
        break;
      }
      r.type = RESP(READ_FILE);
      reply_response(req, accept, &r);
      break;
    }
    case CALL(GET_AGENT): {
      Mesos__V1__Agent__Response__GetAgent ga = MESOS__V1__AGENT__RESPONSE__GET_AGENT__INIT;
      mz_agent_info_buf info;
      mz_agent_info_fill(a, &info);
      ga.agent_info = &info.info;
      r.type = RESP(GET_AGENT);
      r.get_agent = &ga;
      reply_response(req, accept, &r);
      mz_agent_info_release(&info);
      break;
    }
    default: {
      const ProtobufCEnumValue *v =
          protobuf_c_enum_descriptor_get_value(&mesos__v1__agent__call__type__descriptor, call->type);
      mz_http_reply_error(req, 501, "%s is not supported by this agent", v ? v->name : "This call");
      break;
    }
  }
done:
  sc_free(&s);
  protobuf_c_message_free_unpacked(&call->base, NULL);
}

void mz_agent_operator_api_route(mz_agent *a, mz_http_server *s) { mz_agent_route(s, "/api/v1", handle, a); }

void mz_agent_operator_api_register(mz_agent *a, mz_http_server *s) {
  mz_agent_operator_api_route(a, s);
  mz_http_server_route(s, "/metrics/snapshot", 0, handle_metrics_snapshot, a);
}
