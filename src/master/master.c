/* master: see master.h. */
#include "master/master.h"

#include <jansson.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utlist.h>

#include "common/log.h"
#include "master/agent.h"
#include "master/inverse_offer.h"
#include "master/maintenance.h"
#include "master/contender.h"
#include "master/agent_link.h"
#include "master/allocator.h"
#include "master/endpoints_more.h"
#include "master/endpoints.h"
#include "master/operator_api.h"
#include "master/operator_events.h"
#include "master/framework.h"
#include "master/offer.h"
#include "master/registry_master.h"
#include "master/scheduler_api.h"

double mz_master_uptime(const mz_master *m) { return mz_monotonic() - m->start_mono; }

char *mz_master_new_framework_id(mz_master *m) {
  char buf[MZ_UUID_STR + 32];
  snprintf(buf, sizeof buf, "%s-%04llu", m->id, (unsigned long long)m->next_framework++);
  return mz_strdup(buf);
}

char *mz_master_new_agent_id(mz_master *m) {
  char buf[MZ_UUID_STR + 32];
  snprintf(buf, sizeof buf, "%s-S%llu", m->id, (unsigned long long)m->next_agent++);
  return mz_strdup(buf);
}

char *mz_master_new_offer_id(mz_master *m) {
  char buf[MZ_UUID_STR + 32];
  snprintf(buf, sizeof buf, "%s-O%llu", m->id, (unsigned long long)m->next_offer++);
  return mz_strdup(buf);
}

/* mkdir -p */
static int make_dirs(const char *path, char *err, size_t errlen) {
  char buf[4096];
  if (mz_strlcpy(buf, path, sizeof buf) != 0) {
    snprintf(err, errlen, "path too long: %s", path);
    return -1;
  }
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
      snprintf(err, errlen, "cannot create %s: %s", buf, strerror(errno));
      return -1;
    }
    *p = '/';
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create %s: %s", buf, strerror(errno));
    return -1;
  }
  return 0;
}

/* The IP advertised to frameworks and agents: --advertise_ip, else --ip unless it
 * is the wildcard, else the first IPv4 address of the hostname, else loopback. */
static void pick_ip(mz_master *m) {
  const char *ip = m->flags.advertise_ip;
  if (!ip || !*ip) ip = (m->flags.ip && strcmp(m->flags.ip, "0.0.0.0") != 0) ? m->flags.ip : NULL;
  if (ip) {
    mz_strlcpy(m->ip, ip, sizeof m->ip);
    return;
  }
  mz_strlcpy(m->ip, "127.0.0.1", sizeof m->ip);
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_INET;
  if (getaddrinfo(m->hostname, NULL, &hints, &res) == 0 && res) {
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, m->ip, sizeof m->ip);
  }
  if (res) freeaddrinfo(res);
}

static Mesos__V1__MasterInfo *make_info(mz_master *m) {
  Mesos__V1__MasterInfo *mi = mz_calloc(1, sizeof *mi);
  mesos__v1__master_info__init(mi);
  mi->id = mz_strdup(m->id);
  struct in_addr a;
  mi->ip = inet_pton(AF_INET, m->ip, &a) == 1 ? (uint32_t)a.s_addr : 0; /* network order, as Mesos */
  mi->port = (uint32_t)m->port;
  mi->pid = mz_strdup(m->pid);
  mi->hostname = mz_strdup(m->hostname);
  mi->version = mz_strdup(MZ_VERSION);
  mi->address = mz_calloc(1, sizeof *mi->address);
  mesos__v1__address__init(mi->address);
  mi->address->hostname = mz_strdup(m->hostname);
  mi->address->ip = mz_strdup(m->ip);
  mi->address->port = m->port;
  return mi;
}

/* ------------------------------------------------------------------ leadership (--zk) */

/* Paths a follower serves itself; everything else goes to the leader. */
static int follower_gate(const char *path, void *arg) {
  const mz_master *m = arg;
  if (m->leading) return 0;
  static const char *const own[] = {"/health", "/master/health", "/master/redirect", "/metrics",
                                    "/metrics/snapshot"};
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
    if (!strcmp(path, own[i])) return 0;
  return strncmp(path, "/files/", 7) != 0; /* its own log (log_files.c), as Mesos's files process */
}

static void follower_reply(mz_http_req *req, void *arg) {
  const mz_master *m = arg;
  if (!m->leader_host[0]) {
    mz_http_reply_error(req, 503, "No leading master elected yet; try again later");
    return;
  }
  const char *query = mz_http_req_query(req);
  char loc[2048];
  int n = snprintf(loc, sizeof loc, "http://%s:%d%s%s%s", m->leader_host, m->leader_port, mz_http_req_path(req),
                   *query ? "?" : "", query);
  if (n < 0 || (size_t)n >= sizeof loc) snprintf(loc, sizeof loc, "http://%s:%d/", m->leader_host, m->leader_port);
  mz_http_req_add_header(req, "Location", loc);
  mz_http_reply_error(req, 307, "This master is not the leader; the leading master is at %s:%d", m->leader_host,
                      m->leader_port);
}

static void on_elected(void *arg) {
  mz_master *m = arg;
  char err[512];
  m->leader_host[0] = 0;
  m->leader_port = 0;
  m->elected_time = mz_now();
  /* The new leader recovers its registry now, and waits for agents to re-register. */
  if (mz_registrar_start(m, err, sizeof err) != 0) {
    MZ_ERROR("master", "elected, but cannot recover the registry: %s; exiting", err);
    m->exit_code = 1;
    event_base_loopbreak(m->base);
    return;
  }
  m->leading = true;
  MZ_INFO("master", "elected as the leading master %s (%s)", m->id, m->pid);
}

static void on_leader(void *arg, const mz_leader *l) {
  mz_master *m = arg;
  if (l) {
    mz_strlcpy(m->leader_host, l->host, sizeof m->leader_host);
    m->leader_port = l->port;
    MZ_INFO("master", "following the leading master at %s:%d", l->host, l->port);
  } else {
    m->leader_host[0] = 0;
    m->leader_port = 0;
  }
}

static void on_lost(void *arg, const char *why) {
  mz_master *m = arg;
  MZ_ERROR("master", "no longer the leading master (%s): exiting, to be restarted by a supervisor", why);
  m->leading = false;
  m->exit_code = 1;
  event_base_loopbreak(m->base);
}

static int start_contending(mz_master *m, char *err, size_t errlen) {
  mz_http_server_set_gate(m->http, follower_gate, follower_reply, m);
  json_t *j = mz_pb_to_json(&m->info->base);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!text) {
    snprintf(err, errlen, "cannot encode MasterInfo as JSON");
    return -1;
  }
  static const mz_contender_callbacks cbs = {on_elected, on_leader, on_lost};
  m->contender = mz_contender_new(m->base, m->flags.zk, m->flags.zk_session_timeout, text, &cbs, m, err, errlen);
  free(text);
  if (!m->contender) return -1;
  const char *reg = m->flags.registry && *m->flags.registry ? m->flags.registry : "zk";
  MZ_INFO("master", "--zk: registry %s%s; it is recovered when this master is elected", reg,
          !strcmp(reg, "zk") ? " (in ZooKeeper, shared by the masters)" : " (local to this master)");
  return 0;
}

static int alloc_offer(void *ctx, const char *fw_id, const char *agent_id, const char *role, const mz_resources *res) {
  return mz_offer_make(ctx, fw_id, agent_id, role, res);
}

static void alloc_done(void *ctx) { mz_offers_flush(ctx); }

static bool alloc_gpu_capable(void *ctx, const char *fw_id) {
  mz_framework *fw = mz_framework_find(ctx, fw_id);
  for (size_t i = 0; fw && fw->info && i < fw->info->n_capabilities; i++)
    if (fw->info->capabilities[i]->has_type &&
        fw->info->capabilities[i]->type == MESOS__V1__FRAMEWORK_INFO__CAPABILITY__TYPE__GPU_RESOURCES)
      return true;
  return false;
}

mz_master *mz_master_new(struct event_base *base, const mz_master_flags *flags, const mz_flag *table, size_t nflags,
                         char *err, size_t errlen) {
  mz_master *m = mz_calloc(1, sizeof *m);
  mz_idx_init(&m->agent_idx, mz_agent_key);
  mz_idx_init(&m->offer_idx, mz_offer_key);
  m->base = base;
  m->flags = *flags;
  m->flag_table = table;
  m->nflags = nflags;
  m->start_time = m->elected_time = mz_now();
  m->start_mono = mz_monotonic();
  m->next_framework = 0;
  m->next_agent = 0;
  m->next_offer = 0;
  mz_uuid_string(m->id);
  if (m->flags.hostname && *m->flags.hostname) {
    mz_strlcpy(m->hostname, m->flags.hostname, sizeof m->hostname);
  } else if (gethostname(m->hostname, sizeof m->hostname - 1) != 0 || !m->hostname[0]) {
    mz_strlcpy(m->hostname, "localhost", sizeof m->hostname);
  }

  if (m->flags.work_dir && *m->flags.work_dir && make_dirs(m->flags.work_dir, err, errlen) != 0) goto fail;

  m->alloc_ops = mz_allocator_load(m->flags.allocator, err, errlen);
  if (!m->alloc_ops) goto fail;
  mz_allocator_env env = {.base = base,
                          .allocation_interval = m->flags.allocation_interval,
                          .offer = alloc_offer,
                          .offers_done = alloc_done,
                          .gpu_capable = alloc_gpu_capable,
                          .ctx = m};
  m->alloc = m->alloc_ops->create(&env, err, errlen);
  if (!m->alloc) goto fail;
  m->weights = json_object();
  m->quotas = json_object();
  if (m->flags.weights && *m->flags.weights) {
    char **roles;
    double *weights;
    size_t n;
    if (mz_weights_parse(m->flags.weights, &roles, &weights, &n, err, errlen) != 0) goto fail;
    if (!m->alloc_ops->update_weights) {
      mz_weights_free(roles, weights, n);
      snprintf(err, errlen, "allocator '%s' does not support --weights", m->alloc_ops->name);
      goto fail;
    }
    m->alloc_ops->update_weights(m->alloc, (const char *const *)roles, weights, n);
    for (size_t i = 0; i < n; i++) json_object_set_new(m->weights, roles[i], json_real(weights[i]));
    mz_weights_free(roles, weights, n);
  }
  if (mz_timerq_init(&m->offer_timeouts, base, mz_offer_timeout_cb, m) != 0 ||
      mz_timerq_init(&m->agent_removals, base, mz_agent_removal_cb, m) != 0) {
    snprintf(err, errlen, "cannot create timers");
    goto fail;
  }
  if (m->flags.agent_removal_rate_limit && *m->flags.agent_removal_rate_limit &&
      mz_parse_rate_limit(m->flags.agent_removal_rate_limit, &m->removal_interval) != 0) {
    snprintf(err, errlen, "invalid --agent_removal_rate_limit '%s' (expecting e.g. 1/10mins)",
             m->flags.agent_removal_rate_limit);
    goto fail;
  }
  m->unreachable_ev = event_new(base, -1, 0, mz_agent_unreachable_cb, m);
  if (!m->unreachable_ev) {
    snprintf(err, errlen, "cannot create timers");
    goto fail;
  }
  /* The registry is recovered before anything is served (with --zk: on election). */
  bool zk = m->flags.zk && *m->flags.zk;
  if (!zk) {
    if (mz_registrar_start(m, err, errlen) != 0) goto fail;
    m->leading = true;
  }

  mz_http_limits limits = {0};
  limits.max_connections = 19000;
  m->http = mz_http_server_new(base, &limits);
  if (!m->http) {
    snprintf(err, errlen, "cannot create the HTTP server");
    goto fail;
  }
  mz_scheduler_api_route(m);
  mz_agent_link_route(m);
  mz_endpoints_route(m);
  mz_operator_api_route(m);
  if (mz_http_server_listen(m->http, m->flags.ip, (int)m->flags.port, err, errlen) != 0) goto fail;
  m->port = mz_http_server_port(m->http);
  pick_ip(m);
  snprintf(m->pid, sizeof m->pid, "master@%s:%d", m->ip, m->port);
  m->info = make_info(m);
  if (zk && start_contending(m, err, errlen) != 0) goto fail;
  MZ_INFO("master", "master %s listening on %s:%d (advertised as %s, hostname %s), allocator %s", m->id, m->flags.ip,
          m->port, m->pid, m->hostname, m->alloc_ops->name);
  return m;
fail:
  mz_master_free(m);
  return NULL;
}

void mz_master_free(mz_master *m) {
  if (!m) return;
  mz_contender_free(m->contender); /* the znode goes at once: another master can take over */
  m->contender = NULL;
  /* Streams first, with their callbacks detached, so nothing reacts to the closing. */
  mz_framework *fw, *ftmp;
  HASH_ITER(hh, m->frameworks, fw, ftmp) mz_framework_close_stream(fw);
  mz_agent_link_close_all(m);
  mz_opevents_free(m);
  mz_endpoints_more_free(m);
  mz_operator_api_free();
  if (m->http) mz_http_server_free(m->http);
  m->http = NULL;

  mz_offer *o, *otmp;
  HASH_ITER(hh, m->offers, o, otmp) {
    HASH_DEL(m->offers, o);
    mz_resources_free(o->resources);
    free(o->role);
    free(o->id);
    free(o);
  }
  mz_agent *a, *atmp;
  HASH_ITER(hh, m->agents, a, atmp) {
    HASH_DEL(m->agents, a);
    mz_agent_free(a);
  }
  mz_idx_free(&m->agent_idx);
  mz_idx_free(&m->offer_idx);
  mz_agent_forget_removed(m);
  HASH_ITER(hh, m->frameworks, fw, ftmp) {
    HASH_DEL(m->frameworks, fw);
    mz_framework_free(fw);
  }
  DL_FOREACH_SAFE2(m->completed_frameworks, fw, ftmp, done_next) {
    DL_DELETE2(m->completed_frameworks, fw, done_prev, done_next);
    mz_framework_free(fw);
  }
  mz_registrar_stop(m);
  mz_iofs_free(m);
  mz_maintenance_free(m);
  if (m->unreachable_ev) event_free(m->unreachable_ev);
  if (m->alloc) m->alloc_ops->destroy(m->alloc);
  mz_timerq_free(&m->offer_timeouts);
  mz_timerq_free(&m->agent_removals);
  if (m->info) protobuf_c_message_free_unpacked(&m->info->base, NULL);
  json_decref(m->weights);
  json_decref(m->quotas);
  free(m);
}
