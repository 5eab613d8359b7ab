/* endpoints_more: see endpoints_more.h. Answers are built from the master's
 * state at the moment of the request; the agent proxy keeps one
 * mz_http_client per call in flight (struct proxy, owned by the list
 * `proxies` below, freed when the agent answers or the master stops). */
#include "master/endpoints_more.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "common/log.h"
#include "master/agent.h"
#include "master/endpoints.h"
#include "master/framework.h"
#include "master/maintenance.h"
#include "master/task.h"
#include "master/webui.h"

static bool method_is(mz_http_req *req, const char *want) {
  const char *meth = mz_http_req_method(req);
  if (!strcmp(meth, want) || (!strcmp(want, "GET") && !strcmp(meth, "HEAD"))) return true;
  mz_http_req_add_header(req, "Allow", want);
  mz_http_reply_error(req, 405, "Expecting '%s', received '%s'", want, meth);
  return false;
}

/* --------------------------------------------------------- state-summary */

/* Index of a state in the summary's fields, or -1 for states Mesos does not count there. */
static const struct {
  Mesos__V1__TaskState state;
  const char *name;
} SUMMARY_STATES[] = {
    {MESOS__V1__TASK_STATE__TASK_STAGING, "TASK_STAGING"},   {MESOS__V1__TASK_STATE__TASK_STARTING, "TASK_STARTING"},
    {MESOS__V1__TASK_STATE__TASK_RUNNING, "TASK_RUNNING"},   {MESOS__V1__TASK_STATE__TASK_KILLING, "TASK_KILLING"},
    {MESOS__V1__TASK_STATE__TASK_FINISHED, "TASK_FINISHED"}, {MESOS__V1__TASK_STATE__TASK_KILLED, "TASK_KILLED"},
    {MESOS__V1__TASK_STATE__TASK_FAILED, "TASK_FAILED"},     {MESOS__V1__TASK_STATE__TASK_LOST, "TASK_LOST"},
    {MESOS__V1__TASK_STATE__TASK_ERROR, "TASK_ERROR"},       {MESOS__V1__TASK_STATE__TASK_UNREACHABLE, "TASK_UNREACHABLE"},
};
#define NSUMMARY (sizeof SUMMARY_STATES / sizeof SUMMARY_STATES[0])

static void zero_counts(json_t *o) {
  for (size_t i = 0; i < NSUMMARY; i++) json_object_set_new(o, SUMMARY_STATES[i].name, json_integer(0));
}

static void count_task(json_t *o, Mesos__V1__TaskState s) {
  for (size_t i = 0; i < NSUMMARY; i++)
    if (SUMMARY_STATES[i].state == s) {
      json_t *v = json_object_get(o, SUMMARY_STATES[i].name);
      json_integer_set(v, json_integer_value(v) + 1);
      return;
    }
}

/* Adds id to the string array arr unless present. */
static void add_unique(json_t *arr, const char *id) {
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) if (!strcmp(json_string_value(v), id)) return;
  json_array_append_new(arr, json_string(id));
}

static void summarize_task(const mz_task *t, json_t *fwo, json_t *agents_by_id) {
  count_task(fwo, t->state);
  json_t *ao = t->agent_id ? json_object_get(agents_by_id, t->agent_id) : NULL;
  if (ao) {
    count_task(ao, t->state);
    add_unique(json_object_get(ao, "framework_ids"), t->framework_id);
  }
  if (t->agent_id) add_unique(json_object_get(fwo, "slave_ids"), t->agent_id);
}

static void handle_state_summary(mz_http_req *req, void *arg) {
  if (!method_is(req, "GET")) return;
  const mz_master *m = arg;
  json_t *o = json_object();
  json_object_set_new(o, "hostname", json_string(m->hostname));
  if (m->flags.cluster) json_object_set_new(o, "cluster", json_string(m->flags.cluster));
  json_t *slaves = json_array(), *by_id = json_object();
  mz_agent *a, *atmp;
  HASH_ITER(hh, m->agents, a, atmp) {
    json_t *ao = mz_agent_json(a);
    zero_counts(ao);
    json_object_set_new(ao, "framework_ids", json_array());
    json_array_append_new(slaves, ao);
    json_object_set(by_id, a->id, ao);
  }
  json_t *fws = json_array();
  mz_framework *fw, *ftmp;
  HASH_ITER(hh, m->frameworks, fw, ftmp) {
    json_t *fo = mz_framework_json(fw, false);
    zero_counts(fo);
    json_object_set_new(fo, "slave_ids", json_array());
    mz_task *t, *ttmp;
    HASH_ITER(hh, fw->tasks, t, ttmp) summarize_task(t, fo, by_id);
    DL_FOREACH2(fw->completed_tasks, t, done_next) summarize_task(t, fo, by_id);
    json_array_append_new(fws, fo);
  }
  json_decref(by_id);
  json_object_set_new(o, "slaves", slaves);
  json_object_set_new(o, "frameworks", fws);
  mz_http_reply_json(req, o);
}

/* ------------------------------------------------------------------ tasks */

/* Whether key appears as a parameter of the raw query string q. */
static bool query_has(const char *q, const char *key) {
  size_t kl = strlen(key);
  for (const char *p = q; (p = strstr(p, key)); p += kl)
    if ((p == q || p[-1] == '&') && (p[kl] == '=' || p[kl] == '&' || !p[kl])) return true;
  return false;
}

/* A parameter into out: 1 if present, 0 if absent, -1 (err set) if present but longer than outlen. */
static int query_param(const char *q, const char *key, char *out, size_t outlen, char *err, size_t errlen) {
  if (mz_http_query_get(q, key, out, outlen) == 0) return 1;
  if (!query_has(q, key)) return 0;
  snprintf(err, errlen, "Invalid '%s': longer than %zu bytes", key, outlen - 1);
  return -1;
}

static int parse_count(const char *q, const char *key, long dflt, long *out, char *err, size_t errlen) {
  char buf[32];
  *out = dflt;
  int rc = query_param(q, key, buf, sizeof buf, err, errlen);
  if (rc <= 0) return rc;
  char *end;
  errno = 0;
  long v = strtol(buf, &end, 10);
  if (errno || end == buf || *end || v < 0) {
    snprintf(err, errlen, "Invalid '%s': expected a non-negative integer, got '%s'", key, buf);
    return -1;
  }
  *out = v;
  return 0;
}

typedef struct {
  const mz_task **v;
  size_t n, cap;
} task_vec;

static void vec_push(task_vec *tv, const mz_task *t) {
  if (tv->n == tv->cap) {
    tv->cap = tv->cap ? tv->cap * 2 : 64;
    tv->v = mz_realloc(tv->v, tv->cap * sizeof *tv->v);
  }
  tv->v[tv->n++] = t;
}

static void collect(const mz_framework *fw, const char *task_id, task_vec *tv) {
  mz_task *t, *tmp;
  HASH_ITER(hh, fw->tasks, t, tmp) if (!task_id || !strcmp(task_id, t->id)) vec_push(tv, t);
  DL_FOREACH2(fw->completed_tasks, t, done_next) if (!task_id || !strcmp(task_id, t->id)) vec_push(tv, t);
}

/* Mesos orders by the first status's timestamp; tasks without statuses sort first ascending, last descending. */
static int cmp_asc(const void *pa, const void *pb) {
  const mz_task *a = *(const mz_task *const *)pa, *b = *(const mz_task *const *)pb;
  if (!a->nstatuses || !b->nstatuses) return (a->nstatuses != 0) - (b->nstatuses != 0);
  double x = a->statuses[0].timestamp, y = b->statuses[0].timestamp;
  return x < y ? -1 : x > y ? 1 : strcmp(a->id, b->id);
}

static int cmp_desc(const void *pa, const void *pb) { return cmp_asc(pb, pa); }

static void handle_tasks(mz_http_req *req, void *arg) {
  if (!method_is(req, "GET")) return;
  const mz_master *m = arg;
  const char *q = mz_http_req_query(req);
  char err[256], order[16] = "desc", fwid[MZ_ID_MAX + 1], tid[MZ_ID_MAX + 1];
  long limit, offset;
  if (parse_count(q, "limit", MZ_TASKS_DEFAULT_LIMIT, &limit, err, sizeof err) != 0 ||
      parse_count(q, "offset", 0, &offset, err, sizeof err) != 0) {
    mz_http_reply_error(req, 400, "%s", err);
    return;
  }
  int rc_o = query_param(q, "order", order, sizeof order, err, sizeof err);
  if (rc_o < 0 || (rc_o > 0 && strcmp(order, "asc") && strcmp(order, "desc"))) {
    mz_http_reply_error(req, 400, "Invalid 'order': expected 'asc' or 'desc'");
    return;
  }
  if (rc_o == 0) snprintf(order, sizeof order, "desc");
  int rc_f = query_param(q, "framework_id", fwid, sizeof fwid, err, sizeof err);
  int rc_t = rc_f < 0 ? 0 : query_param(q, "task_id", tid, sizeof tid, err, sizeof err);
  if (rc_f < 0 || rc_t < 0) {
    mz_http_reply_error(req, 400, "%s", err);
    return;
  }
  bool has_fw = rc_f > 0, has_task = rc_t > 0;
  task_vec tv = {0};
  mz_framework *fw, *tmp;
  HASH_ITER(hh, m->frameworks, fw, tmp) if (!has_fw || !strcmp(fwid, fw->id)) collect(fw, has_task ? tid : NULL, &tv);
  DL_FOREACH2(m->completed_frameworks, fw, done_next)
  if (!has_fw || !strcmp(fwid, fw->id)) collect(fw, has_task ? tid : NULL, &tv);
  if (tv.n) qsort(tv.v, tv.n, sizeof *tv.v, strcmp(order, "asc") ? cmp_desc : cmp_asc);
  json_t *arr = json_array();
  for (size_t i = (size_t)offset; i < tv.n && i - (size_t)offset < (size_t)limit; i++)
    json_array_append_new(arr, mz_task_json(tv.v[i]));
  free(tv.v);
  json_t *o = json_object();
  json_object_set_new(o, "tasks", arr);
  mz_http_reply_json(req, o);
}

/* ------------------------------------------------------------------ roles */

/* Sums into acc (role -> mz_resources) the entries of res allocated to a role. */
typedef struct role_res {
  char *role;
  mz_resources *allocated, *offered, *reserved;
  UT_hash_handle hh;
} role_res;

static role_res *rr_get(role_res **h, const char *role) {
  role_res *r;
  HASH_FIND_STR(*h, role, r);
  if (r) return r;
  r = mz_calloc(1, sizeof *r);
  r->role = mz_strdup(role);
  r->allocated = mz_resources_new();
  r->offered = mz_resources_new();
  r->reserved = mz_resources_new();
  HASH_ADD_KEYPTR(hh, *h, r->role, strlen(r->role), r);
  return r;
}

static void add_by_alloc_role(role_res **h, const mz_resources *res, bool offered) {
  if (!res) return;
  for (size_t i = 0; i < res->n; i++) {
    const mz_resource *e = &res->v[i];
    if (!e->alloc_role) continue;
    role_res *r = rr_get(h, e->alloc_role);
    mz_resources one = {(mz_resource *)e, 1};
    mz_resources_add(offered ? r->offered : r->allocated, &one, NULL, 0);
  }
}

/* {"cpus": 1.0, ...} of a QuotaConfig map ({"cpus": {"value": 1.0}}). */
static json_t *quota_values(const json_t *map) {
  json_t *o = json_object();
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)map, k, v) {
    json_t *x = json_object_get(v, "value");
    json_object_set_new(o, k, json_real(x ? json_number_value(x) : 0));
  }
  return o;
}

static void handle_roles(mz_http_req *req, void *arg) {
  if (!method_is(req, "GET")) return;
  const mz_master *m = arg;
  json_t *known = json_object(); /* name -> array of framework ids; also keeps the order stable */
  role_res *rr = NULL;
  mz_framework *fw, *ftmp;
  HASH_ITER(hh, m->frameworks, fw, ftmp) {
    for (size_t i = 0; i < fw->nroles; i++) {
      json_t *ids = json_object_get(known, fw->roles[i]);
      if (!ids) {
        ids = json_array();
        json_object_set_new(known, fw->roles[i], ids);
      }
      json_array_append_new(ids, json_string(fw->id));
    }
    add_by_alloc_role(&rr, fw->used, false);
    add_by_alloc_role(&rr, fw->offered, true);
  }
  const char *name;
  json_t *v;
  json_object_foreach(m->weights, name, v) if (!json_object_get(known, name)) json_object_set_new(known, name, json_array());
  json_object_foreach(m->quotas, name, v) if (!json_object_get(known, name)) json_object_set_new(known, name, json_array());
  mz_agent *a, *atmp;
  HASH_ITER(hh, m->agents, a, atmp) {
    for (size_t i = 0; a->total && i < a->total->n; i++) {
      const mz_resource *e = &a->total->v[i];
      if (e->resv == MZ_RESV_NONE || !e->role) continue;
      if (!json_object_get(known, e->role)) json_object_set_new(known, e->role, json_array());
      role_res *r = rr_get(&rr, e->role);
      mz_resources one = {(mz_resource *)e, 1};
      mz_resources_add(r->reserved, &one, NULL, 0);
    }
  }
  json_t *arr = json_array();
  json_t *ids;
  json_object_foreach(known, name, ids) {
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(name));
    json_t *w = json_object_get(m->weights, name);
    json_object_set_new(o, "weight", json_real(w ? json_number_value(w) : 1.0));
    role_res *r = NULL;
    HASH_FIND_STR(rr, name, r);
    json_t *quota = json_object();
    json_object_set_new(quota, "role", json_string(name));
    json_t *cfg = json_object_get(m->quotas, name);
    json_object_set_new(quota, "guarantee", quota_values(json_object_get(cfg, "guarantees")));
    json_object_set_new(quota, "limit", quota_values(json_object_get(cfg, "limits")));
    json_object_set_new(quota, "consumed", mz_resources_summary_json(r ? r->allocated : NULL));
    json_object_set_new(o, "quota", quota);
    mz_resources *both = r ? mz_resources_copy(r->allocated) : mz_resources_new();
    if (r) mz_resources_add(both, r->offered, NULL, 0);
    json_object_set_new(o, "resources", mz_resources_summary_json(both));
    mz_resources_free(both);
    json_object_set_new(o, "allocated", mz_resources_summary_json(r ? r->allocated : NULL));
    json_object_set_new(o, "offered", mz_resources_summary_json(r ? r->offered : NULL));
    json_object_set_new(o, "reserved", mz_resources_summary_json(r ? r->reserved : NULL));
    json_object_set(o, "frameworks", ids);
    json_array_append_new(arr, o);
  }
  role_res *r, *rtmp;
  HASH_ITER(hh, rr, r, rtmp) {
    HASH_DEL(rr, r);
    mz_resources_free(r->allocated);
    mz_resources_free(r->offered);
    mz_resources_free(r->reserved);
    free(r->role);
    free(r);
  }
  json_decref(known);
  json_t *o = json_object();
  json_object_set_new(o, "roles", arr);
  mz_http_reply_json(req, o);
}

/* --------------------------------------------------------------- redirect */

static void handle_redirect(mz_http_req *req, void *arg) {
  if (!method_is(req, "GET")) return;
  const mz_master *m = arg;
  /* The leader sends the client to its own base URL, a follower (--zk) to the leader's. */
  char loc[512];
  if (!m->leading && !m->leader_host[0]) {
    mz_http_reply_error(req, 503, "No leading master elected yet");
    return;
  }
  if (!m->leading) snprintf(loc, sizeof loc, "//%s:%d", m->leader_host, m->leader_port);
  else snprintf(loc, sizeof loc, "//%s:%d", m->hostname[0] ? m->hostname : m->ip, m->port);
  mz_http_req_add_header(req, "Location", loc);
  mz_http_reply(req, 307, NULL, NULL, 0);
}

/* --------------------------------------------------------------- teardown */

static void handle_teardown(mz_http_req *req, void *arg) {
  if (!method_is(req, "POST")) return;
  mz_master *m = arg;
  size_t len;
  const uint8_t *body = mz_http_req_body(req, &len);
  if (len > MZ_TEARDOWN_MAX_BODY) {
    mz_http_reply_error(req, 413, "Request body larger than %d bytes", MZ_TEARDOWN_MAX_BODY);
    return;
  }
  char form[MZ_TEARDOWN_MAX_BODY + 1];
  memcpy(form, body, len);
  form[len] = 0;
  /* The id may also come in the query string, as some tools send it. */
  char id[MZ_ID_MAX + 1];
  if (mz_http_query_get(form, "frameworkId", id, sizeof id) != 0 &&
      mz_http_query_get(mz_http_req_query(req), "frameworkId", id, sizeof id) != 0) {
    mz_http_reply_error(req, 400, "Missing 'frameworkId' query parameter in the request body");
    return;
  }
  mz_framework *fw = mz_framework_find(m, id);
  if (!fw) {
    mz_http_reply_error(req, 400, "No framework found with ID %s", id);
    return;
  }
  MZ_INFO("master", "operator tears down framework %s (/master/teardown)", fw->id);
  mz_framework_remove(fw, "torn down by the operator");
  mz_http_reply(req, 200, NULL, NULL, 0);
}

/* --------------------------------------------------------------- /metrics */

char *mz_metrics_prometheus(const json_t *metrics, size_t *len) {
  size_t cap = 4096, n = 0;
  char *out = mz_malloc(cap);
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)metrics, k, v) {
    if (!json_is_number(v)) continue;
    char name[256];
    size_t j = 0;
    for (const char *p = k; *p && j + 1 < sizeof name; p++) {
      char c = *p;
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (c >= '0' && c <= '9' && j);
      name[j++] = ok ? c : '_';
    }
    name[j] = 0;
    char line[640];
    int w = snprintf(line, sizeof line, "# TYPE %s gauge\n%s %.17g\n", name, name, json_number_value(v));
    if (w < 0 || (size_t)w >= sizeof line) continue;
    if (n + (size_t)w + 1 > cap) {
      while (n + (size_t)w + 1 > cap) cap *= 2;
      out = mz_realloc(out, cap);
    }
    memcpy(out + n, line, (size_t)w);
    n += (size_t)w;
  }
  out[n] = 0;
  *len = n;
  return out;
}

static void handle_prometheus(mz_http_req *req, void *arg) {
  if (!method_is(req, "GET")) return;
  json_t *o = mz_master_metrics_json(arg);
  size_t len;
  char *text = mz_metrics_prometheus(o, &len);
  json_decref(o);
  mz_http_reply(req, 200, "text/plain; version=0.0.4", text, len);
  free(text);
}

/* ----------------------------------------------------------- agent proxy */

struct proxy {
  mz_http_req *req; /* NULL once the browser went away */
  mz_http_client *client;
  struct proxy *prev, *next;
};

static struct proxy *proxies;
static size_t nproxies;

static void proxy_free(struct proxy *p) {
  DL_DELETE(proxies, p);
  nproxies--;
  mz_http_client_free(p->client);
  free(p);
}

static void proxy_req_closed(mz_http_req *req, void *arg) {
  struct proxy *p = arg;
  p->req = NULL;
}

static void proxy_done(mz_http_call *c, int status, const uint8_t *body, size_t len, const char *err, void *arg) {
  struct proxy *p = arg;
  if (p->req) {
    mz_http_req_on_close(p->req, NULL, NULL);
    if (status == 0) {
      mz_http_reply_error(p->req, 502, "Agent unreachable: %s", err ? err : "connection failed");
    } else {
      const char *ct = mz_http_call_header(c, "Content-Type");
      mz_http_reply(p->req, status, ct ? ct : "application/octet-stream", body, len);
    }
    p->req = NULL;
  }
  proxy_free(p);
}

static const char *const PROXY_PATHS[] = {"/state", "/files/browse", "/files/read", "/monitor/statistics",
                                          "/flags", "/health"};

static void handle_agent_proxy(mz_http_req *req, void *arg) {
  if (!method_is(req, "GET")) return;
  mz_master *m = arg;
  const char *path = mz_http_req_path(req) + strlen("/agent/");
  const char *slash = strchr(path, '/');
  if (!slash || slash == path || (size_t)(slash - path) > MZ_ID_MAX) {
    mz_http_reply_error(req, 400, "Expecting /agent/<agent id>/<path>");
    return;
  }
  char id[MZ_ID_MAX + 1];
  memcpy(id, path, (size_t)(slash - path));
  id[slash - path] = 0;
  bool allowed = false;
  for (size_t i = 0; i < sizeof PROXY_PATHS / sizeof PROXY_PATHS[0]; i++) allowed |= !strcmp(slash, PROXY_PATHS[i]);
  if (!allowed) {
    mz_http_reply_error(req, 404, "No such agent endpoint '%s' (proxied: /state, /files/browse, /files/read, "
                        "/monitor/statistics, /flags, /health)", slash);
    return;
  }
  mz_agent *a = mz_agent_find(m, id);
  if (!a) {
    mz_http_reply_error(req, 404, "Unknown agent %s", id);
    return;
  }
  if (nproxies >= MZ_PROXY_MAX_INFLIGHT) {
    mz_http_reply_error(req, 503, "Too many proxied agent requests in flight (limit %d)", MZ_PROXY_MAX_INFLIGHT);
    return;
  }
  /* Re-encode the query: only characters that are safe in a request line pass. */
  const char *q = mz_http_req_query(req);
  size_t ql = strlen(q);
  char *target = mz_malloc(strlen(slash) + ql * 3 + 2);
  size_t n = (size_t)sprintf(target, "%s%s", slash, ql ? "?" : "");
  for (const char *s = q; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c > 0x20 && c < 0x7f && c != '#') target[n++] = (char)c;
    else n += (size_t)sprintf(target + n, "%%%02X", c);
  }
  target[n] = 0;
  struct proxy *p = mz_calloc(1, sizeof *p);
  p->req = req;
  p->client = mz_http_client_new(m->base, mz_agent_ip(a), a->port);
  mz_http_client_set_timeout(p->client, MZ_PROXY_TIMEOUT);
  DL_APPEND(proxies, p);
  nproxies++;
  mz_http_req_on_close(req, proxy_req_closed, p);
  const char *headers[] = {"Accept", "application/json", NULL};
  mz_http_call_cbs cbs = {.on_complete = proxy_done};
  if (!mz_http_client_request(p->client, "GET", target, headers, NULL, 0, &cbs, p)) {
    mz_http_req_on_close(req, NULL, NULL);
    mz_http_reply_error(req, 400, "Cannot forward this request to the agent");
    proxy_free(p);
  }
  free(target);
}

/* ---------------------------------------------------------- maintenance */

static void reply_pb_json(mz_http_req *req, ProtobufCMessage *msg) {
  json_t *j = mz_pb_to_json(msg);
  protobuf_c_message_free_unpacked(msg, NULL);
  if (!j) {
    mz_http_reply_error(req, 500, "Out of memory");
    return;
  }
  mz_http_reply_json(req, j);
}

static void reply_maintenance(mz_http_req *req, int status, const char *err) {
  if (status == 200) mz_http_reply(req, 200, NULL, NULL, 0);
  else mz_http_reply_error(req, status, "%s", err);
}

/* GET: the schedule; POST: a new schedule (JSON mesos.v1.maintenance.Schedule). */
static void handle_maintenance_schedule(mz_http_req *req, void *arg) {
  mz_master *m = arg;
  const char *meth = mz_http_req_method(req);
  if (!strcmp(meth, "GET") || !strcmp(meth, "HEAD")) {
    reply_pb_json(req, &mz_maintenance_schedule_view(m)->base);
    return;
  }
  if (strcmp(meth, "POST") != 0) {
    mz_http_req_add_header(req, "Allow", "GET, POST");
    mz_http_reply_error(req, 405, "Expecting 'GET' or 'POST', received '%s'", meth);
    return;
  }
  size_t len;
  const uint8_t *body = mz_http_req_body(req, &len);
  char err[1024];
  ProtobufCMessage *s =
      mz_pb_decode(&mesos__v1__maintenance__schedule__descriptor, MZ_CT_JSON, body, len, err, sizeof err);
  if (!s) {
    mz_http_reply_error(req, 400, "Failed to parse the maintenance schedule: %s", err);
    return;
  }
  int st = mz_maintenance_update_schedule(m, (Mesos__V1__Maintenance__Schedule *)s, err, sizeof err);
  protobuf_c_message_free_unpacked(s, NULL);
  reply_maintenance(req, st, err);
}

static void handle_maintenance_status(mz_http_req *req, void *arg) {
  if (!method_is(req, "GET")) return;
  reply_pb_json(req, &mz_maintenance_status_view(arg)->base);
}

/* POST a JSON array of mesos.v1.MachineID: START (down) or STOP (up) maintenance. */
static void machines_call(mz_http_req *req, mz_master *m, bool down) {
  if (!method_is(req, "POST")) return;
  size_t len;
  const uint8_t *body = mz_http_req_body(req, &len);
  json_error_t je;
  json_t *arr = json_loadb((const char *)body, len, 0, &je);
  if (!arr || !json_is_array(arr)) {
    if (arr) mz_http_reply_error(req, 400, "Expecting a JSON array of machine ids");
    else mz_http_reply_error(req, 400, "Failed to parse JSON: %s", je.text);
    json_decref(arr);
    return;
  }
  size_t n = json_array_size(arr);
  if (n > MZ_MAINT_MAX_MACHINES) {
    json_decref(arr);
    mz_http_reply_error(req, 400, "Too many machines (at most %d)", MZ_MAINT_MAX_MACHINES);
    return;
  }
  Mesos__V1__MachineID **ids = mz_calloc(n + 1, sizeof *ids);
  char err[1024];
  int st = 200;
  size_t got = 0;
  for (; got < n; got++) {
    ids[got] = (Mesos__V1__MachineID *)mz_pb_from_json(&mesos__v1__machine_id__descriptor,
                                                       json_array_get(arr, got), err, sizeof err);
    if (!ids[got]) {
      char msg[1100];
      snprintf(msg, sizeof msg, "Invalid machine id at index %zu: %s", got, err);
      mz_strlcpy(err, msg, sizeof err);
      st = 400;
      break;
    }
  }
  if (st == 200)
    st = down ? mz_maintenance_start(m, ids, n, err, sizeof err) : mz_maintenance_stop(m, ids, n, err, sizeof err);
  for (size_t i = 0; i < got; i++) protobuf_c_message_free_unpacked(&ids[i]->base, NULL);
  free(ids);
  json_decref(arr);
  reply_maintenance(req, st, err);
}

static void handle_machine_down(mz_http_req *req, void *arg) { machines_call(req, arg, true); }
static void handle_machine_up(mz_http_req *req, void *arg) { machines_call(req, arg, false); }

void mz_endpoints_more_free(mz_master *m) {
  (void)m;
  while (proxies) {
    struct proxy *p = proxies;
    if (p->req) {
      mz_http_req_on_close(p->req, NULL, NULL);
      mz_http_reply_error(p->req, 503, "Master shutting down");
    }
    proxy_free(p);
  }
}

void mz_endpoints_more_route(mz_master *m) {
  mz_http_server_route(m->http, "/master/state-summary", 0, handle_state_summary, m);
  mz_http_server_route(m->http, "/state-summary", 0, handle_state_summary, m);
  mz_http_server_route(m->http, "/master/tasks", 0, handle_tasks, m);
  mz_http_server_route(m->http, "/master/tasks.json", 0, handle_tasks, m);
  mz_http_server_route(m->http, "/tasks", 0, handle_tasks, m);
  mz_http_server_route(m->http, "/master/roles", 0, handle_roles, m);
  mz_http_server_route(m->http, "/master/roles.json", 0, handle_roles, m);
  mz_http_server_route(m->http, "/roles", 0, handle_roles, m);
  mz_http_server_route(m->http, "/master/redirect", 0, handle_redirect, m);
  mz_http_server_route(m->http, "/redirect", 0, handle_redirect, m);
  mz_http_server_route(m->http, "/master/teardown", 0, handle_teardown, m);
  mz_http_server_route(m->http, "/teardown", 0, handle_teardown, m);
  mz_http_server_route(m->http, "/metrics", 0, handle_prometheus, m);
  mz_http_server_route(m->http, "/master/maintenance/schedule", 0, handle_maintenance_schedule, m);
  mz_http_server_route(m->http, "/maintenance/schedule", 0, handle_maintenance_schedule, m);
  mz_http_server_route(m->http, "/master/maintenance/status", 0, handle_maintenance_status, m);
  mz_http_server_route(m->http, "/maintenance/status", 0, handle_maintenance_status, m);
  mz_http_server_route(m->http, "/master/machine/down", 0, handle_machine_down, m);
  mz_http_server_route(m->http, "/machine/down", 0, handle_machine_down, m);
  mz_http_server_route(m->http, "/master/machine/up", 0, handle_machine_up, m);
  mz_http_server_route(m->http, "/machine/up", 0, handle_machine_up, m);
  mz_http_server_route(m->http, "/agent/", MZ_HTTP_ROUTE_PREFIX, handle_agent_proxy, m);
  mz_webui_route(m);
}
