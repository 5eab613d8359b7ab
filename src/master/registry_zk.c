/* registry_zk: see registry_zk.h.
 *
 * Session: zookeeper_init with a watcher that records the session state under
 * h->mu and wakes waiters; open() waits (bounded) for the first connection. An
 * expired session is replaced before the next request. All requests are the C
 * client's synchronous calls (they block this thread, never the client's), but
 * load() issues its gets asynchronously and waits for the count of answers.
 *
 * Existence cache: a ZooKeeper put is create (new) or set (existing), a delete
 * fails on a missing node; so the backend remembers which entry znodes exist
 * (filled by load(), or by listing the four directories before the first
 * apply(), kept up to date by every successful multi). Only the leader writes,
 * so the cache is exact; where a multi still fails on existence (or the
 * connection dropped and the outcome is unknown) the touched paths are checked
 * again with exists() and the multi is rebuilt and retried: a put is idempotent,
 * so a retry after an unknown outcome ends in the same state.
 *
 * Ownership: the handle owns its zhandle, its cache and its strings; ops and
 * their bytes are borrowed during apply(); a loaded state belongs to the caller. */
#include "master/registry_zk.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uthash.h>

#ifndef THREADED
#define THREADED /* the synchronous calls of libzookeeper_mt */
#endif
#include <zookeeper/zookeeper.h>

#include "common/log.h"
#include "common/util.h"
#include "common/zk.h"

#define RZ_MOD "registry"
#define RZ_CONNECT_WAIT 15.0    /* seconds open() waits for a first connection */
#define RZ_SESSION_TIMEOUT 10000 /* ms: the backend's own session holds no ephemeral node */
#define RZ_REQ_BUDGET 1040000u  /* bytes of one multi request, below ZooKeeper's 1 MB - 1 */
#define RZ_OP_OVERHEAD 64u      /* bytes of framing per op, generously */
#define RZ_ATTEMPTS 4           /* tries of one multi (existence refreshed, connection back) */
#define RZ_HEADER 10            /* agent znode: version, state, time (8 bytes, little endian) */
#define RZ_VERSION 1

static const char *const dirs[] = {"agents", "weights", "quotas", "values"};
enum { D_AGENTS, D_WEIGHTS, D_QUOTAS, D_VALUES, D_COUNT };

typedef struct cached {
  char *rel; /* "<dir>/<escaped name>" */
  UT_hash_handle hh;
} cached;

typedef struct {
  mz_zk_url url;
  char root[MZ_ZK_PATH_MAX + 16]; /* <path>/registry */
  char guard[MZ_ZK_PATH_MAX];     /* "" = none */
  zhandle_t *zh;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int state; /* last session state seen by the watcher (under mu) */
  cached *exists;
  int cache_ok;
  /* The last complete load and the version of <path>/registry it was read at
   * (every multi bumps that version): a load that finds the version unchanged
   * copies it instead of reading every znode again. */
  mz_reg_state snap;
  int snap_ok;
  int32_t snap_version;
  double last_full; /* mz_monotonic() of the end of the last full read */
  int seen_ok;      /* read-ahead: the version last seen, and since when (quiet period) */
  int32_t seen_version;
  double seen_at;
} rz;

/* ------------------------------------------------------------------ session */

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
  (void)zh;
  (void)path;
  rz *h = ctx;
  if (type != ZOO_SESSION_EVENT) return;
  pthread_mutex_lock(&h->mu);
  h->state = state;
  pthread_cond_broadcast(&h->cv);
  pthread_mutex_unlock(&h->mu);
}

/* Waits until connected (1), or expired / timed out (0). */
static int wait_connected(rz *h, double seconds) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  double t = until.tv_sec + until.tv_nsec / 1e9 + seconds;
  until.tv_sec = (time_t)t;
  until.tv_nsec = (long)((t - floor(t)) * 1e9);
  pthread_mutex_lock(&h->mu);
  while (h->state != ZOO_CONNECTED_STATE && h->state != ZOO_EXPIRED_SESSION_STATE &&
         h->state != ZOO_AUTH_FAILED_STATE) {
    if (pthread_cond_timedwait(&h->cv, &h->mu, &until) == ETIMEDOUT) break;
  }
  int ok = h->state == ZOO_CONNECTED_STATE;
  pthread_mutex_unlock(&h->mu);
  return ok;
}

static int session_open(rz *h, char *err, size_t errlen) {
  pthread_mutex_lock(&h->mu);
  h->state = 0;
  pthread_mutex_unlock(&h->mu);
  h->zh = zookeeper_init(h->url.servers, watcher, RZ_SESSION_TIMEOUT, NULL, h, 0);
  if (!h->zh) {
    snprintf(err, errlen, "registry: cannot start a ZooKeeper client for %s: %s", h->url.servers, strerror(errno));
    return -1;
  }
  if (!wait_connected(h, RZ_CONNECT_WAIT)) {
    snprintf(err, errlen, "registry: no ZooKeeper session with %s within %.0fs", h->url.servers, RZ_CONNECT_WAIT);
    return -1;
  }
  return 0;
}

static void session_close(rz *h) {
  if (h->zh) zookeeper_close(h->zh);
  h->zh = NULL;
}

/* Before a request: a session that expired is replaced; a disconnected one gets a moment to reconnect. */
static int session_ready(rz *h, char *err, size_t errlen) {
  if (h->zh && zoo_state(h->zh) == ZOO_EXPIRED_SESSION_STATE) {
    MZ_WARN(RZ_MOD, "ZooKeeper session expired; opening a new one");
    session_close(h);
  }
  if (!h->zh) return session_open(h, err, errlen);
  if (zoo_state(h->zh) != ZOO_CONNECTED_STATE) wait_connected(h, 2.0);
  return 0;
}

/* ------------------------------------------------------------------ names */

static int plain(unsigned char c) { return c > 0x20 && c < 0x7f && c != '/' && c != '%'; }

/* Escaped name of key into out (3x + 1 bytes); -1 if empty. */
static int escape(const char *key, char *out, size_t outlen) {
  size_t o = 0, n = strlen(key);
  if (n == 0 || n * 3 + 1 > outlen) return -1;
  int dots = !strcmp(key, ".") || !strcmp(key, "..");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)key[i];
    if (plain(c) && !(dots && c == '.')) out[o++] = (char)c;
    else o += (size_t)snprintf(out + o, outlen - o, "%%%02X", c);
  }
  out[o] = 0;
  return 0;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* malloc'd key of an escaped name; NULL if malformed. */
static char *unescape(const char *name) {
  size_t n = strlen(name);
  char *out = mz_malloc(n + 1);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (name[i] != '%') {
      out[o++] = name[i];
      continue;
    }
    int a = i + 2 < n ? hexval((unsigned char)name[i + 1]) : -1;
    int b = a >= 0 ? hexval((unsigned char)name[i + 2]) : -1;
    if (a < 0 || b < 0 || (a == 0 && b == 0)) {
      free(out);
      return NULL;
    }
    out[o++] = (char)(a * 16 + b);
    i += 2;
  }
  out[o] = 0;
  return out;
}

/* ------------------------------------------------------------------ cache */

static int cache_has(rz *h, const char *rel) {
  cached *c = NULL;
  HASH_FIND_STR(h->exists, rel, c);
  return c != NULL;
}

static void cache_set(rz *h, const char *rel, int present) {
  cached *c = NULL;
  HASH_FIND_STR(h->exists, rel, c);
  if (present && !c) {
    c = mz_calloc(1, sizeof *c);
    c->rel = mz_strdup(rel);
    HASH_ADD_KEYPTR(hh, h->exists, c->rel, strlen(c->rel), c);
  } else if (!present && c) {
    HASH_DEL(h->exists, c);
    free(c->rel);
    free(c);
  }
}

static void cache_clear(rz *h) {
  cached *c, *tmp;
  HASH_ITER(hh, h->exists, c, tmp) {
    HASH_DEL(h->exists, c);
    free(c->rel);
    free(c);
  }
  h->cache_ok = 0;
}

/* ------------------------------------------------------------------ open / close */

static void rz_close(void *b) {
  rz *h = b;
  if (!h) return;
  session_close(h);
  cache_clear(h);
  mz_reg_state_free(&h->snap);
  pthread_cond_destroy(&h->cv);
  pthread_mutex_destroy(&h->mu);
  free(h);
}

/* Creates the znode `path` (one that exists is fine), again after a lost connection
 * or a timed-out request, as every request here (the client moves to another server
 * of the ensemble). 0, or -1 with err. */
static int create_dir(rz *h, const char *path, char *err, size_t errlen) {
  int rc = ZCONNECTIONLOSS;
  for (int a = 0; a < RZ_ATTEMPTS && (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT); a++) {
    if (a) wait_connected(h, 2.0);
    rc = zoo_create(h->zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
  }
  if (rc == ZOK || rc == ZNODEEXISTS) return 0;
  snprintf(err, errlen, "registry: cannot create %s in ZooKeeper: %s", path, zerror(rc));
  return -1;
}

static void *rz_open(const char *location, char *err, size_t errlen) {
  static int log_set;
  if (!log_set) {
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    log_set = 1;
  }
  rz *h = mz_calloc(1, sizeof *h);
  pthread_mutex_init(&h->mu, NULL);
  pthread_cond_init(&h->cv, NULL);
  if (mz_zk_parse_url(location, &h->url, err, errlen) != 0) {
    rz_close(h);
    return NULL;
  }
  snprintf(h->root, sizeof h->root, "%s/registry", h->url.path);
  if (strlen(h->root) + 32 >= MZ_ZK_PATH_MAX) {
    snprintf(err, errlen, "registry: ZooKeeper path %s is too long", h->url.path);
    rz_close(h);
    return NULL;
  }
  if (session_open(h, err, errlen) != 0) {
    rz_close(h);
    return NULL;
  }
  /* The directories, each component in turn (an existing one is fine). */
  char path[MZ_ZK_PATH_MAX + 64];
  for (int d = -1; d < D_COUNT; d++) {
    if (d < 0) {
      mz_strlcpy(path, h->root, sizeof path);
      for (char *s = path + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        int rc = create_dir(h, path, err, errlen);
        *s = '/';
        if (rc != 0) {
          rz_close(h);
          return NULL;
        }
      }
    } else {
      snprintf(path, sizeof path, "%s/%s", h->root, dirs[d]);
    }
    if (create_dir(h, path, err, errlen) != 0) {
      rz_close(h);
      return NULL;
    }
  }
  MZ_INFO(RZ_MOD, "ZooKeeper %s, under %s", h->url.servers, h->root);
  return h;
}

int mz_registry_zk_guard(void *b, const char *znode) {
  rz *h = b;
  if (!znode) znode = "";
  if (strlen(znode) >= sizeof h->guard) return -1;
  mz_strlcpy(h->guard, znode, sizeof h->guard);
  return 0;
}

/* ------------------------------------------------------------------ load */

typedef struct {
  char *name; /* escaped */
  int dir;
  int rc;
  char *data;
  int len;
} item;

typedef struct {
  rz *h;
  size_t pending;
  item *it;
} batch;

typedef struct {
  batch *bt;
  item *it;
} get_ctx;

static void got(int rc, const char *value, int len, const struct Stat *stat, const void *data) {
  (void)stat;
  get_ctx *g = (get_ctx *)data;
  item *it = g->it;
  rz *h = g->bt->h;
  it->rc = rc;
  if (rc == ZOK && value && len > 0) {
    it->data = mz_malloc((size_t)len + 1);
    memcpy(it->data, value, (size_t)len);
    it->data[len] = 0;
    it->len = len;
  } else if (rc == ZOK) {
    it->data = mz_strdup("");
    it->len = 0;
  }
  pthread_mutex_lock(&h->mu);
  if (--g->bt->pending == 0) pthread_cond_broadcast(&h->cv);
  pthread_mutex_unlock(&h->mu);
  free(g);
}

static int agent_cmp(const void *a, const void *b) {
  const mz_reg_agent *x = a, *y = b;
  if (x->time != y->time) return x->time < y->time ? -1 : 1;
  return strcmp(x->id, y->id);
}
static int weight_cmp(const void *a, const void *b) {
  return strcmp(((const mz_reg_weight *)a)->role, ((const mz_reg_weight *)b)->role);
}
static int quota_cmp(const void *a, const void *b) {
  return strcmp(((const mz_reg_quota *)a)->role, ((const mz_reg_quota *)b)->role);
}
static int value_cmp(const void *a, const void *b) {
  return strcmp(((const mz_reg_value *)a)->key, ((const mz_reg_value *)b)->key);
}

static double get_double_le(const uint8_t *p) {
  uint64_t u = 0;
  for (int i = 7; i >= 0; i--) u = (u << 8) | p[i];
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

static void put_double_le(uint8_t *p, double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(u >> (8 * i));
}

/* Lists the four directories into items (and the existence cache). */
static int list_all(rz *h, item **out, size_t *nout, char *err, size_t errlen) {
  item *items = NULL;
  size_t n = 0, cap = 0;
  char path[MZ_ZK_PATH_MAX + 64], rel[MZ_REG_MAX_KEY * 3 + 32];
  cache_clear(h);
  for (int d = 0; d < D_COUNT; d++) {
    snprintf(path, sizeof path, "%s/%s", h->root, dirs[d]);
    struct String_vector sv = {0, NULL};
    int rc = ZCONNECTIONLOSS;
    for (int a = 0; a < RZ_ATTEMPTS && (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT); a++) {
      if (a) wait_connected(h, 2.0);
      rc = zoo_get_children(h->zh, path, 0, &sv);
    }
    if (rc != ZOK) {
      snprintf(err, errlen, "registry: cannot list %s in ZooKeeper: %s", path, zerror(rc));
      for (size_t i = 0; i < n; i++) free(items[i].name);
      free(items);
      return -1;
    }
    for (int i = 0; i < sv.count; i++) {
      if (n == cap) items = mz_realloc(items, (cap = cap ? cap * 2 : 256) * sizeof *items);
      items[n] = (item){.name = mz_strdup(sv.data[i]), .dir = d};
      snprintf(rel, sizeof rel, "%s/%s", dirs[d], sv.data[i]);
      cache_set(h, rel, 1);
      n++;
    }
    deallocate_String_vector(&sv);
  }
  h->cache_ok = 1;
  *out = items;
  *nout = n;
  return 0;
}

static int full_load(rz *h, mz_reg_state *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  double t0 = mz_monotonic();
  item *items = NULL;
  size_t n = 0;
  if (list_all(h, &items, &n, err, errlen) != 0) return -1;
  /* Every get in flight at once; the client pipelines them on its one connection. */
  batch bt = {.h = h, .pending = 0, .it = items};
  char path[MZ_ZK_PATH_MAX + MZ_REG_MAX_KEY * 3 + 64];
  int failed = ZOK;
  for (size_t i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s/%s", h->root, dirs[items[i].dir], items[i].name);
    get_ctx *g = mz_calloc(1, sizeof *g);
    g->bt = &bt;
    g->it = &items[i];
    pthread_mutex_lock(&h->mu);
    bt.pending++;
    pthread_mutex_unlock(&h->mu);
    int rc = zoo_aget(h->zh, path, 0, got, g);
    if (rc != ZOK) {
      pthread_mutex_lock(&h->mu);
      bt.pending--;
      pthread_mutex_unlock(&h->mu);
      free(g);
      items[i].rc = rc;
      failed = rc;
      break;
    }
  }
  /* Every completion runs exactly once (with ZCONNECTIONLOSS / ZCLOSING if the session drops). */
  pthread_mutex_lock(&h->mu);
  while (bt.pending > 0) pthread_cond_wait(&h->cv, &h->mu);
  pthread_mutex_unlock(&h->mu);
  size_t cap[D_COUNT] = {0};
  for (size_t i = 0; i < n && failed == ZOK; i++) {
    item *it = &items[i];
    if (it->rc == ZNONODE) continue; /* deleted between the listing and the get */
    if (it->rc != ZOK) {
      failed = it->rc;
      break;
    }
    char *key = unescape(it->name);
    if (!key) {
      MZ_WARN(RZ_MOD, "ignoring znode %s/%s (not a name this registry writes)", dirs[it->dir], it->name);
      continue;
    }
    if (it->dir == D_AGENTS) {
      const uint8_t *p = (const uint8_t *)it->data;
      if (it->len < RZ_HEADER || p[0] != RZ_VERSION || p[1] < MZ_REG_AGENT_ADMITTED || p[1] > MZ_REG_AGENT_GONE) {
        MZ_WARN(RZ_MOD, "ignoring unreadable agent entry %s", key);
        free(key);
        continue;
      }
      if (out->nagents == cap[D_AGENTS])
        out->agents = mz_realloc(out->agents, (cap[D_AGENTS] = cap[D_AGENTS] ? cap[D_AGENTS] * 2 : 64) *
                                                  sizeof *out->agents);
      mz_reg_agent *a = &out->agents[out->nagents++];
      a->id = key;
      a->state = (mz_reg_agent_state)p[1];
      a->time = get_double_le(p + 2);
      a->len = (size_t)it->len - RZ_HEADER;
      a->data = mz_malloc(a->len ? a->len : 1);
      memcpy(a->data, p + RZ_HEADER, a->len);
    } else if (it->dir == D_WEIGHTS) {
      char *end = NULL;
      double w = strtod(it->data, &end);
      if (end == it->data || !isfinite(w)) {
        MZ_WARN(RZ_MOD, "ignoring unreadable weight of role %s", key);
        free(key);
        continue;
      }
      if (out->nweights == cap[D_WEIGHTS])
        out->weights = mz_realloc(out->weights, (cap[D_WEIGHTS] = cap[D_WEIGHTS] ? cap[D_WEIGHTS] * 2 : 8) *
                                                    sizeof *out->weights);
      out->weights[out->nweights++] = (mz_reg_weight){.role = key, .weight = w};
    } else {
      char *text = it->data;
      it->data = NULL;
      if (it->dir == D_QUOTAS) {
        if (out->nquotas == cap[D_QUOTAS])
          out->quotas = mz_realloc(out->quotas, (cap[D_QUOTAS] = cap[D_QUOTAS] ? cap[D_QUOTAS] * 2 : 8) *
                                                    sizeof *out->quotas);
        out->quotas[out->nquotas++] = (mz_reg_quota){.role = key, .config = text};
      } else {
        if (out->nvalues == cap[D_VALUES])
          out->values = mz_realloc(out->values, (cap[D_VALUES] = cap[D_VALUES] ? cap[D_VALUES] * 2 : 8) *
                                                    sizeof *out->values);
        out->values[out->nvalues++] = (mz_reg_value){.key = key, .text = text};
      }
    }
  }
  for (size_t i = 0; i < n; i++) {
    free(items[i].name);
    free(items[i].data);
  }
  free(items);
  if (failed != ZOK) {
    snprintf(err, errlen, "registry: cannot read the registry from ZooKeeper: %s", zerror(failed));
    mz_reg_state_free(out);
    h->cache_ok = 0;
    return -1;
  }
  if (out->nagents) qsort(out->agents, out->nagents, sizeof *out->agents, agent_cmp);
  if (out->nweights) qsort(out->weights, out->nweights, sizeof *out->weights, weight_cmp);
  if (out->nquotas) qsort(out->quotas, out->nquotas, sizeof *out->quotas, quota_cmp);
  if (out->nvalues) qsort(out->values, out->nvalues, sizeof *out->values, value_cmp);
  h->last_full = mz_monotonic();
  MZ_INFO(RZ_MOD, "loaded %zu znode(s) from ZooKeeper in %.3fs", n, h->last_full - t0);
  return 0;
}

/* sync: the server this session reads from catches up with ZooKeeper's leader, so
 * that what is read next includes every write committed before (a ZooKeeper server
 * may lag behind; a newly elected master must not miss its predecessor's last writes). */
typedef struct {
  rz *h;
  int done, rc;
} sync_ctx;

static void synced(int rc, const char *value, const void *data) {
  (void)value;
  sync_ctx *c = (sync_ctx *)data;
  pthread_mutex_lock(&c->h->mu);
  c->rc = rc;
  c->done = 1;
  pthread_cond_broadcast(&c->h->cv);
  pthread_mutex_unlock(&c->h->mu);
}

static int sync_root(rz *h) {
  sync_ctx c = {.h = h, .done = 0, .rc = ZOK};
  int rc = zoo_async(h->zh, h->root, synced, &c);
  if (rc != ZOK) return rc;
  pthread_mutex_lock(&h->mu);
  while (!c.done) pthread_cond_wait(&h->cv, &h->mu); /* the completion always runs (ZCLOSING at worst) */
  pthread_mutex_unlock(&h->mu);
  return c.rc;
}

/* Version of <path>/registry, read after a sync: ZOK or the error. */
static int root_version(rz *h, int32_t *v) {
  struct Stat st;
  int rc = sync_root(h);
  if (rc != ZOK) return rc;
  rc = ZCONNECTIONLOSS;
  for (int a = 0; a < RZ_ATTEMPTS && (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT); a++) {
    if (a) wait_connected(h, 2.0);
    rc = zoo_exists(h->zh, h->root, 0, &st);
  }
  if (rc == ZOK) *v = st.version;
  return rc;
}

static char *dup_bytes(const void *p, size_t n, size_t extra) {
  char *out = mz_malloc(n + extra ? n + extra : 1);
  if (n) memcpy(out, p, n);
  if (extra) out[n] = 0;
  return out;
}

static void state_copy(mz_reg_state *dst, const mz_reg_state *src) {
  memset(dst, 0, sizeof *dst);
  dst->agents = mz_calloc(src->nagents ? src->nagents : 1, sizeof *dst->agents);
  for (size_t i = 0; i < src->nagents; i++) {
    const mz_reg_agent *a = &src->agents[i];
    dst->agents[i] = (mz_reg_agent){.id = mz_strdup(a->id), .state = a->state, .time = a->time,
                                    .data = (uint8_t *)dup_bytes(a->data, a->len, 0), .len = a->len};
  }
  dst->nagents = src->nagents;
  dst->weights = mz_calloc(src->nweights ? src->nweights : 1, sizeof *dst->weights);
  for (size_t i = 0; i < src->nweights; i++)
    dst->weights[i] = (mz_reg_weight){.role = mz_strdup(src->weights[i].role), .weight = src->weights[i].weight};
  dst->nweights = src->nweights;
  dst->quotas = mz_calloc(src->nquotas ? src->nquotas : 1, sizeof *dst->quotas);
  for (size_t i = 0; i < src->nquotas; i++)
    dst->quotas[i] = (mz_reg_quota){.role = mz_strdup(src->quotas[i].role), .config = mz_strdup(src->quotas[i].config)};
  dst->nquotas = src->nquotas;
  dst->values = mz_calloc(src->nvalues ? src->nvalues : 1, sizeof *dst->values);
  for (size_t i = 0; i < src->nvalues; i++)
    dst->values[i] = (mz_reg_value){.key = mz_strdup(src->values[i].key), .text = mz_strdup(src->values[i].text)};
  dst->nvalues = src->nvalues;
}

/* Reads everything unless the registry is unchanged since the kept copy; keeps
 * what it read when nothing changed during the read. *fresh: 1 if read in full. */
static int load_or_reuse(rz *h, mz_reg_state *out, int *fresh, char *err, size_t errlen) {
  *fresh = 0;
  memset(out, 0, sizeof *out);
  if (session_ready(h, err, errlen) != 0) return -1;
  int32_t v0, v1;
  int rc = root_version(h, &v0);
  if (rc != ZOK) {
    snprintf(err, errlen, "registry: cannot read %s in ZooKeeper: %s", h->root, zerror(rc));
    return -1;
  }
  if (h->snap_ok && h->snap_version == v0) {
    state_copy(out, &h->snap);
    return 0;
  }
  mz_reg_state_free(&h->snap);
  h->snap_ok = 0;
  if (full_load(h, out, err, errlen) != 0) return -1;
  *fresh = 1;
  if (root_version(h, &v1) == ZOK && v1 == v0) {
    state_copy(&h->snap, out);
    h->snap_ok = 1;
    h->snap_version = v0;
  }
  return 0;
}

static int rz_load(void *b, mz_reg_state *out, char *err, size_t errlen) {
  rz *h = b;
  double t0 = mz_monotonic();
  int fresh;
  if (load_or_reuse(h, out, &fresh, err, errlen) != 0) return -1;
  if (!fresh)
    MZ_INFO(RZ_MOD, "unchanged since it was read ahead (version %d): %zu agent(s) in %.3fs",
            (int)h->snap_version, out->nagents, mz_monotonic() - t0);
  return 0;
}

int mz_registry_zk_prefetch(void *b, double quiet, char *err, size_t errlen) {
  rz *h = b;
  if (session_ready(h, err, errlen) != 0) return -1;
  int32_t v;
  int rc = root_version(h, &v);
  if (rc != ZOK) {
    snprintf(err, errlen, "registry: cannot read %s in ZooKeeper: %s", h->root, zerror(rc));
    return -1;
  }
  if (h->snap_ok && v == h->snap_version) return 0;
  /* Changing: read everything only once it has stayed the same for `quiet` seconds,
   * so that followers do not load ZooKeeper while the leader writes a burst. */
  double now = mz_monotonic();
  if (!h->seen_ok || v != h->seen_version) {
    h->seen_ok = 1;
    h->seen_version = v;
    h->seen_at = now;
  }
  if (h->last_full > 0 && now - h->seen_at < quiet) return 0; /* the first read is at once */
  mz_reg_state s;
  int fresh;
  if (load_or_reuse(h, &s, &fresh, err, errlen) != 0) return -1;
  mz_reg_state_free(&s);
  return 0;
}

/* ------------------------------------------------------------------ apply */

/* One op made ready for ZooKeeper: its path (relative and full) and its bytes. */
typedef struct {
  char *rel;
  char *path;
  char *data; /* NULL: delete */
  size_t len;
} prepared;

static void prepared_free(prepared *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(p[i].rel);
    free(p[i].path);
    free(p[i].data);
  }
  free(p);
}

static int prepare(rz *h, const mz_reg_op *op, prepared *p, char *err, size_t errlen) {
  int dir;
  switch (op->type) {
    case MZ_REG_PUT_AGENT:
    case MZ_REG_DELETE_AGENT:
      dir = D_AGENTS;
      break;
    case MZ_REG_PUT_WEIGHT:
      dir = D_WEIGHTS;
      break;
    case MZ_REG_PUT_QUOTA:
      dir = D_QUOTAS;
      break;
    case MZ_REG_PUT_VALUE:
      dir = D_VALUES;
      break;
    default:
      snprintf(err, errlen, "registry: unknown operation %d", (int)op->type);
      return -1;
  }
  if (!op->id || !*op->id) {
    snprintf(err, errlen, "registry: operation without a key");
    return -1;
  }
  if (strlen(op->id) > MZ_REG_MAX_KEY) {
    snprintf(err, errlen, "registry: key %.64s... is longer than %d bytes", op->id, MZ_REG_MAX_KEY);
    return -1;
  }
  char name[MZ_REG_MAX_KEY * 3 + 1];
  if (escape(op->id, name, sizeof name) != 0) {
    snprintf(err, errlen, "registry: invalid key");
    return -1;
  }
  size_t rl = strlen(dirs[dir]) + strlen(name) + 2;
  p->rel = mz_malloc(rl);
  snprintf(p->rel, rl, "%s/%s", dirs[dir], name);
  size_t pl = strlen(h->root) + rl + 2;
  p->path = mz_malloc(pl);
  snprintf(p->path, pl, "%s/%s", h->root, p->rel);
  size_t limit = MZ_REG_ZK_MAX_DATA;
  switch (op->type) {
    case MZ_REG_PUT_AGENT:
      if (op->len > MZ_REG_MAX_RECORD || op->len + RZ_HEADER > limit) {
        snprintf(err, errlen, "registry: record of agent %s is too large (%zu bytes; ZooKeeper stores at most %zu)",
                 op->id, op->len, limit - RZ_HEADER);
        return -1;
      }
      p->len = op->len + RZ_HEADER;
      p->data = mz_malloc(p->len);
      p->data[0] = RZ_VERSION;
      p->data[1] = (char)op->state;
      put_double_le((uint8_t *)p->data + 2, op->time);
      if (op->len) memcpy(p->data + RZ_HEADER, op->data, op->len);
      break;
    case MZ_REG_PUT_WEIGHT: {
      char buf[64];
      if (!isfinite(op->weight)) {
        snprintf(err, errlen, "registry: weight of role %s is not a number", op->id);
        return -1;
      }
      snprintf(buf, sizeof buf, "%.17g", op->weight);
      p->data = mz_strdup(buf);
      p->len = strlen(buf);
      break;
    }
    case MZ_REG_PUT_QUOTA:
    case MZ_REG_PUT_VALUE:
      if (op->text) {
        size_t tl = strlen(op->text);
        if (tl > MZ_REG_MAX_RECORD || tl > limit) {
          snprintf(err, errlen, "registry: %s %.64s is too large (%zu bytes; ZooKeeper stores at most %zu)",
                   op->type == MZ_REG_PUT_QUOTA ? "quota of role" : "value", op->id, tl, limit);
          return -1;
        }
        p->data = mz_strdup(op->text);
        p->len = tl;
      }
      break;
    default:
      break;
  }
  return 0;
}

/* Re-reads whether each path of p[from..n) exists. 0, or the ZooKeeper error. */
static int refresh(rz *h, prepared *p, size_t from, size_t n) {
  for (size_t i = from; i < n; i++) {
    struct Stat st;
    int rc = zoo_exists(h->zh, p[i].path, 0, &st);
    if (rc == ZOK) cache_set(h, p[i].rel, 1);
    else if (rc == ZNONODE) cache_set(h, p[i].rel, 0);
    else return rc;
  }
  return ZOK;
}

/* Runs p[from..to) as one multi (the guard first). ZOK, or the error; *bad: index of the
 * failing op, -2 if the guard failed, -1 if unknown (connection lost). */
static int run_multi(rz *h, prepared *p, size_t from, size_t to, long *bad) {
  size_t cap = to - from + 2;
  zoo_op_t *ops = mz_calloc(cap, sizeof *ops);
  zoo_op_result_t *res = mz_calloc(cap, sizeof *res);
  size_t k = 0;
  long *map = mz_calloc(cap, sizeof *map);
  if (h->guard[0]) {
    zoo_check_op_init(&ops[k], h->guard, -1);
    map[k++] = -1;
  }
  for (size_t i = from; i < to; i++) {
    int present = cache_has(h, p[i].rel);
    if (p[i].data) {
      if (present) zoo_set_op_init(&ops[k], p[i].path, p[i].data, (int)p[i].len, -1, NULL);
      else zoo_create_op_init(&ops[k], p[i].path, p[i].data, (int)p[i].len, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    } else {
      if (!present) continue; /* already absent */
      zoo_delete_op_init(&ops[k], p[i].path, -1);
    }
    map[k++] = (long)i;
  }
  if (k > (h->guard[0] ? 1u : 0u)) {
    zoo_set_op_init(&ops[k], h->root, NULL, -1, -1, NULL); /* a new version: read-ahead copies are stale */
    map[k++] = -3;
  }
  *bad = -1;
  int rc = k ? zoo_multi(h->zh, (int)k, ops, res) : ZOK;
  if (rc == ZOK) {
    for (size_t j = 0; j < k; j++)
      if (map[j] >= 0) cache_set(h, p[map[j]].rel, p[map[j]].data != NULL);
    if (k) {
      mz_reg_state_free(&h->snap);
      h->snap_ok = 0;
    }
  } else {
    for (size_t j = 0; j < k; j++) {
      if (res[j].err != ZOK && res[j].err != ZRUNTIMEINCONSISTENCY) {
        *bad = map[j] == -1 ? -2 : map[j] < 0 ? -1 : map[j];
        break;
      }
    }
  }
  free(map);
  free(res);
  free(ops);
  return rc;
}

static int rz_apply(void *b, const mz_reg_op *ops, size_t n, char *err, size_t errlen) {
  rz *h = b;
  if (n == 0) return 0;
  prepared *p = mz_calloc(n, sizeof *p);
  for (size_t i = 0; i < n; i++) {
    if (prepare(h, &ops[i], &p[i], err, errlen) != 0) {
      prepared_free(p, n);
      return -1;
    }
  }
  if (session_ready(h, err, errlen) != 0) {
    prepared_free(p, n);
    return -1;
  }
  if (!h->cache_ok) {
    item *items = NULL;
    size_t ni = 0;
    if (list_all(h, &items, &ni, err, errlen) != 0) {
      prepared_free(p, n);
      return -1;
    }
    for (size_t i = 0; i < ni; i++) free(items[i].name);
    free(items);
  }
  size_t from = 0;
  int attempts = 0;
  while (from < n) {
    /* The next chunk: as many ops as fit in one request. */
    size_t to = from, bytes = strlen(h->guard) + RZ_OP_OVERHEAD;
    while (to < n) {
      size_t cost = p[to].len + strlen(p[to].path) + RZ_OP_OVERHEAD;
      if (to > from && bytes + cost > RZ_REQ_BUDGET) break;
      bytes += cost;
      to++;
    }
    long bad = -1;
    int rc = run_multi(h, p, from, to, &bad);
    if (rc == ZOK) {
      from = to;
      attempts = 0;
      continue;
    }
    if (bad == -2) {
      snprintf(err, errlen, "registry: this master's election znode %s is gone (no longer the leader): %s", h->guard,
               zerror(rc));
      break;
    }
    int retry = rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZNODEEXISTS || rc == ZNONODE ||
                rc == ZSESSIONMOVED;
    if (!retry || ++attempts >= RZ_ATTEMPTS) {
      snprintf(err, errlen, "registry: ZooKeeper multi of %zu op(s) failed: %s%s%s", to - from, zerror(rc),
               bad >= 0 ? " at " : "", bad >= 0 ? p[bad].path : "");
      break;
    }
    MZ_WARN(RZ_MOD, "ZooKeeper multi failed (%s); checking its znodes and retrying", zerror(rc));
    if (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZSESSIONMOVED) {
      if (session_ready(h, err, errlen) != 0) break;
      wait_connected(h, 2.0);
    }
    if (refresh(h, p, from, to) != ZOK) wait_connected(h, 2.0);
  }
  int ok = from >= n;
  if (!ok && from > 0)
    MZ_ERROR(RZ_MOD, "a change of %zu op(s) was applied only in part (%zu op(s)): %s", n, from, err);
  prepared_free(p, n);
  return ok ? 0 : -1;
}

const mz_registry_backend mz_registry_zk = {
    .name = "zk", .open = rz_open, .close = rz_close, .load = rz_load, .apply = rz_apply};
