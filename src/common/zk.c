/* zk: see zk.h.
 *
 * Hand-off: the ZooKeeper threads only ever run watcher() and the completion
 * functions below, which allocate (or fill) a zmsg, append it to z->q under
 * z->mu and bump the eventfd. wake_cb, on the loop thread, takes the whole queue
 * and runs the owner's callbacks in order. z->gen (loop thread only) changes
 * when the session is closed (restart, free): messages of a closed session are
 * dropped, never delivered. zookeeper_close() joins the client's threads, so
 * once it returns nothing can be appended for the old session any more.
 *
 * Ownership: the mz_zk owns the zhandle, the eventfd and its event, the queue
 * and every zmsg in it; a zmsg of a request is owned by the ZooKeeper client
 * from submission until it is queued. */
#include "common/zk.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>
#include <zookeeper/zookeeper.h>

#include "common/log.h"
#include "common/util.h"

#define ZK_MOD "zk"

/* ------------------------------------------------------------------ URLs */

int mz_zk_is_url(const char *text) { return text && !strncmp(text, "zk://", 5); }

static int host_char_ok(int c) { return isalnum(c) || c == '.' || c == '-' || c == '_'; }

int mz_zk_parse_url(const char *text, mz_zk_url *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!mz_zk_is_url(text)) {
    snprintf(err, errlen, "'%s' is not a ZooKeeper URL (expected zk://host1:port1,host2:port2/path)", text ? text : "");
    return -1;
  }
  if (strlen(text) >= MZ_ZK_URL_MAX) {
    snprintf(err, errlen, "ZooKeeper URL longer than %d bytes", MZ_ZK_URL_MAX - 1);
    return -1;
  }
  const char *s = text + 5;
  const char *slash = strchr(s, '/');
  size_t slen = slash ? (size_t)(slash - s) : strlen(s);
  if (memchr(s, '@', slen)) {
    snprintf(err, errlen, "ZooKeeper URL '%s': credentials (user:password@) are not supported", text);
    return -1;
  }
  if (slen == 0) {
    snprintf(err, errlen, "ZooKeeper URL '%s' names no server (expected zk://host:port[,host:port...]/path)", text);
    return -1;
  }
  /* Servers: host:port, comma separated. */
  size_t nservers = 0, o = 0;
  const char *p = s, *end = s + slen;
  while (p <= end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *e = comma ? comma : end;
    size_t n = (size_t)(e - p);
    char one[512];
    if (n == 0) {
      snprintf(err, errlen, "ZooKeeper URL '%s' has an empty server in its list", text);
      return -1;
    }
    if (n >= sizeof one) {
      snprintf(err, errlen, "ZooKeeper URL '%s': server name too long", text);
      return -1;
    }
    memcpy(one, p, n);
    one[n] = 0;
    char *colon = strrchr(one, ':');
    if (!colon) {
      snprintf(err, errlen, "ZooKeeper URL '%s': server '%s' has no port (expected host:port)", text, one);
      return -1;
    }
    *colon = 0;
    if (!one[0]) {
      snprintf(err, errlen, "ZooKeeper URL '%s': a server has an empty host", text);
      return -1;
    }
    for (const char *h = one; *h; h++) {
      if (!host_char_ok((unsigned char)*h)) {
        snprintf(err, errlen, "ZooKeeper URL '%s': invalid character in host '%s'", text, one);
        return -1;
      }
    }
    char *pend;
    errno = 0;
    long port = strtol(colon + 1, &pend, 10);
    if (errno || pend == colon + 1 || *pend || port <= 0 || port > 65535) {
      snprintf(err, errlen, "ZooKeeper URL '%s': invalid port '%s' of server '%s' (expected 1..65535)", text,
               colon + 1, one);
      return -1;
    }
    if (++nservers > MZ_ZK_MAX_SERVERS) {
      snprintf(err, errlen, "ZooKeeper URL '%s' lists more than %d servers", text, MZ_ZK_MAX_SERVERS);
      return -1;
    }
    o += (size_t)snprintf(out->servers + o, sizeof out->servers - o, "%s%s:%ld", o ? "," : "", one, port);
    if (!comma) break;
    p = comma + 1;
  }
  /* Path: absolute, not the root, no empty / relative components, no trailing '/'. */
  if (!slash || !slash[1]) {
    snprintf(err, errlen, "ZooKeeper URL '%s' has no path after its servers (e.g. zk://host:2181/mezzo)", text);
    return -1;
  }
  size_t plen = strlen(slash);
  if (plen >= MZ_ZK_PATH_MAX) {
    snprintf(err, errlen, "ZooKeeper URL '%s': path longer than %d bytes", text, MZ_ZK_PATH_MAX - 1);
    return -1;
  }
  if (slash[plen - 1] == '/') {
    snprintf(err, errlen, "ZooKeeper URL '%s': the path must not end with '/'", text);
    return -1;
  }
  for (const char *c = slash; *c; c++) {
    if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) {
      snprintf(err, errlen, "ZooKeeper URL '%s': the path has a space or a non-printable character", text);
      return -1;
    }
    if (*c == '/') {
      const char *next = c + 1;
      size_t clen = strcspn(next, "/");
      if (clen == 0) {
        snprintf(err, errlen, "ZooKeeper URL '%s': the path has an empty component ('//')", text);
        return -1;
      }
      if ((clen == 1 && next[0] == '.') || (clen == 2 && next[0] == '.' && next[1] == '.')) {
        snprintf(err, errlen, "ZooKeeper URL '%s': the path has a relative component ('.' or '..')", text);
        return -1;
      }
    }
  }
  memcpy(out->path, slash, plen + 1);
  return 0;
}

/* ------------------------------------------------------------------ messages */

enum { MSG_WATCH = 1, MSG_STRING, MSG_CHILDREN, MSG_DATA };

typedef struct zmsg {
  int kind;
  int type, state; /* MSG_WATCH */
  char *path;      /* MSG_WATCH: the path; MSG_STRING: the value */
  int rc;
  char **names;
  size_t n;
  uint8_t *data;
  size_t len;
  union {
    mz_zk_string_cb s;
    mz_zk_children_cb c;
    mz_zk_data_cb d;
  } cb;
  void *arg;
  mz_zk *z;
  struct zmsg *next;
} zmsg;

struct mz_zk {
  struct event_base *base;
  mz_zk_url url;
  double session_timeout;
  mz_zk_callbacks cbs;
  void *arg;
  zhandle_t *zh;
  unsigned gen;
  int efd;
  struct event *wake_ev, *expire_ev;
  pthread_mutex_t mu;
  zmsg *qhead, *qtail; /* under mu */
  int connected, ever_connected, expired;
};

static void msg_free(zmsg *m) {
  if (!m) return;
  free(m->path);
  for (size_t i = 0; i < m->n; i++) free(m->names[i]);
  free(m->names);
  free(m->data);
  free(m);
}

/* Any thread. */
static void post(mz_zk *z, zmsg *m) {
  m->next = NULL;
  pthread_mutex_lock(&z->mu);
  if (z->qtail) z->qtail->next = m;
  else z->qhead = m;
  z->qtail = m;
  pthread_mutex_unlock(&z->mu);
  uint64_t one = 1;
  ssize_t w = write(z->efd, &one, sizeof one);
  (void)w; /* a full counter still wakes the loop */
}

static zmsg *take_all(mz_zk *z) {
  pthread_mutex_lock(&z->mu);
  zmsg *m = z->qhead;
  z->qhead = z->qtail = NULL;
  pthread_mutex_unlock(&z->mu);
  return m;
}

static void drop_all(mz_zk *z) {
  zmsg *m = take_all(z);
  while (m) {
    zmsg *n = m->next;
    msg_free(m);
    m = n;
  }
}

/* ZooKeeper threads: copy and hand over. */
static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
  mz_zk *z = ctx;
  zmsg *m = mz_calloc(1, sizeof *m);
  m->kind = MSG_WATCH;
  m->type = type;
  m->state = state;
  m->path = mz_strdup(path ? path : "");
  post(z, m);
}

static void string_done(int rc, const char *value, const void *data) {
  zmsg *m = (zmsg *)data;
  m->rc = rc;
  m->path = value ? mz_strdup(value) : NULL;
  post(m->z, m);
}

static void children_done(int rc, const struct String_vector *sv, const void *data) {
  zmsg *m = (zmsg *)data;
  m->rc = rc;
  if (rc == ZOK && sv && sv->count > 0) {
    m->names = mz_calloc((size_t)sv->count, sizeof *m->names);
    for (int i = 0; i < sv->count; i++) m->names[m->n++] = mz_strdup(sv->data[i] ? sv->data[i] : "");
  }
  post(m->z, m);
}

static void data_done(int rc, const char *value, int len, const struct Stat *stat, const void *data) {
  zmsg *m = (zmsg *)data;
  m->rc = rc;
  if (rc == ZOK && value && len > 0) {
    m->data = mz_malloc((size_t)len + 1);
    memcpy(m->data, value, (size_t)len);
    m->data[len] = 0;
    m->len = (size_t)len;
  }
  post(m->z, m);
}

/* ------------------------------------------------------------------ loop side */

static void arm(struct event *ev, double seconds) {
  struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
  evtimer_add(ev, &tv);
}

static void session_event(mz_zk *z, int state) {
  if (state == ZOO_CONNECTED_STATE) {
    evtimer_del(z->expire_ev);
    if (z->expired) return; /* a restart is due; the owner decides */
    int negotiated = z->zh ? zoo_recv_timeout(z->zh) : 0;
    if (!z->connected)
      MZ_INFO(ZK_MOD, "connected to ZooKeeper %s (session timeout %.1fs)", z->url.servers,
              negotiated > 0 ? negotiated / 1000.0 : z->session_timeout);
    z->connected = z->ever_connected = 1;
    if (z->cbs.on_session) z->cbs.on_session(z, MZ_ZK_CONNECTED, z->arg);
  } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
    evtimer_del(z->expire_ev);
    if (z->expired) return;
    z->connected = 0;
    z->expired = 1;
    MZ_WARN(ZK_MOD, "ZooKeeper session %s", state == ZOO_EXPIRED_SESSION_STATE ? "expired" : "refused (auth failed)");
    if (z->cbs.on_session) z->cbs.on_session(z, MZ_ZK_EXPIRED, z->arg);
  } else if (state == ZOO_CONNECTING_STATE || state == ZOO_ASSOCIATING_STATE || state == ZOO_NOTCONNECTED_STATE) {
    if (!z->connected) return;
    z->connected = 0;
    MZ_WARN(ZK_MOD, "disconnected from ZooKeeper; the session expires in %.1fs unless it reconnects",
            z->session_timeout);
    arm(z->expire_ev, z->session_timeout);
    if (z->cbs.on_session) z->cbs.on_session(z, MZ_ZK_DISCONNECTED, z->arg);
  }
}

static void expire_cb(evutil_socket_t fd, short what, void *arg) {
  mz_zk *z = arg;
  if (z->connected || z->expired) return;
  z->expired = 1;
  MZ_WARN(ZK_MOD, "no ZooKeeper connection for the whole session timeout (%.1fs): the session counts as expired",
          z->session_timeout);
  if (z->cbs.on_session) z->cbs.on_session(z, MZ_ZK_EXPIRED, z->arg);
}

static void deliver(mz_zk *z, zmsg *m) {
  switch (m->kind) {
    case MSG_WATCH:
      if (m->type == ZOO_SESSION_EVENT) session_event(z, m->state);
      else if (m->type != ZOO_NOTWATCHING_EVENT && z->cbs.on_watch) z->cbs.on_watch(z, m->path, z->arg);
      break;
    case MSG_STRING:
      if (m->cb.s) m->cb.s(z, m->rc, m->path, m->arg);
      break;
    case MSG_CHILDREN:
      if (m->cb.c) m->cb.c(z, m->rc, m->names, m->n, m->arg);
      break;
    case MSG_DATA:
      if (m->cb.d) m->cb.d(z, m->rc, m->data, m->len, m->arg);
      break;
  }
}

static void wake_cb(evutil_socket_t fd, short what, void *arg) {
  mz_zk *z = arg;
  uint64_t v;
  while (read(z->efd, &v, sizeof v) > 0) {
  }
  zmsg *m = take_all(z);
  unsigned gen = z->gen;
  while (m) {
    zmsg *n = m->next;
    if (gen == z->gen) deliver(z, m); /* a restart from a callback drops the rest */
    msg_free(m);
    m = n;
  }
}

static int open_session(mz_zk *z, char *err, size_t errlen) {
  int ms = (int)(z->session_timeout * 1000);
  if (ms < 1) ms = 1;
  z->connected = z->expired = 0;
  z->zh = zookeeper_init(z->url.servers, watcher, ms, NULL, z, 0);
  if (!z->zh) {
    snprintf(err, errlen, "cannot start a ZooKeeper client for %s: %s", z->url.servers, strerror(errno));
    return -1;
  }
  return 0;
}

static void close_session(mz_zk *z) {
  z->gen++;
  evtimer_del(z->expire_ev);
  if (z->zh) {
    zookeeper_close(z->zh); /* joins the client's threads */
    z->zh = NULL;
  }
  drop_all(z);
  z->connected = 0;
}

mz_zk *mz_zk_new(struct event_base *base, const mz_zk_url *url, double session_timeout, const mz_zk_callbacks *cbs,
                 void *arg, char *err, size_t errlen) {
  static int log_set;
  if (!log_set) {
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    log_set = 1;
  }
  if (session_timeout <= 0) {
    snprintf(err, errlen, "the ZooKeeper session timeout must be positive");
    return NULL;
  }
  mz_zk *z = mz_calloc(1, sizeof *z);
  z->base = base;
  z->url = *url;
  z->session_timeout = session_timeout;
  if (cbs) z->cbs = *cbs;
  z->arg = arg;
  pthread_mutex_init(&z->mu, NULL);
  z->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (z->efd < 0) {
    snprintf(err, errlen, "eventfd: %s", strerror(errno));
    pthread_mutex_destroy(&z->mu);
    free(z);
    return NULL;
  }
  z->wake_ev = event_new(base, z->efd, EV_READ | EV_PERSIST, wake_cb, z);
  z->expire_ev = evtimer_new(base, expire_cb, z);
  if (!z->wake_ev || !z->expire_ev || event_add(z->wake_ev, NULL) != 0) {
    snprintf(err, errlen, "cannot create the ZooKeeper events");
    mz_zk_free(z);
    return NULL;
  }
  if (open_session(z, err, errlen) != 0) {
    mz_zk_free(z);
    return NULL;
  }
  return z;
}

void mz_zk_free(mz_zk *z) {
  if (!z) return;
  if (z->expire_ev) close_session(z);
  else if (z->zh) zookeeper_close(z->zh);
  drop_all(z);
  if (z->wake_ev) event_free(z->wake_ev);
  if (z->expire_ev) event_free(z->expire_ev);
  if (z->efd >= 0) close(z->efd);
  pthread_mutex_destroy(&z->mu);
  free(z);
}

int mz_zk_restart(mz_zk *z, char *err, size_t errlen) {
  close_session(z);
  MZ_INFO(ZK_MOD, "opening a new ZooKeeper session with %s", z->url.servers);
  return open_session(z, err, errlen);
}

int mz_zk_connected(const mz_zk *z) { return z && z->connected; }
struct event_base *mz_zk_base(const mz_zk *z) { return z->base; }
const mz_zk_url *mz_zk_get_url(const mz_zk *z) { return &z->url; }
double mz_zk_session_timeout(const mz_zk *z) { return z->session_timeout; }
const char *mz_zk_error(int rc) { return zerror(rc); }

/* ------------------------------------------------------------------ requests */

static zmsg *req_new(mz_zk *z, int kind, void *arg) {
  zmsg *m = mz_calloc(1, sizeof *m);
  m->kind = kind;
  m->z = z;
  m->arg = arg;
  return m;
}

static int submitted(zmsg *m, int rc, const char *what, char *err, size_t errlen) {
  if (rc == ZOK) return 0;
  snprintf(err, errlen, "ZooKeeper %s: %s", what, zerror(rc));
  free(m);
  return -1;
}

int mz_zk_create(mz_zk *z, const char *path, const void *data, size_t len, int ephemeral, int sequential,
                 mz_zk_string_cb cb, void *arg, char *err, size_t errlen) {
  if (!z->zh) {
    snprintf(err, errlen, "no ZooKeeper session");
    return -1;
  }
  zmsg *m = req_new(z, MSG_STRING, arg);
  m->cb.s = cb;
  int mode = ephemeral ? (sequential ? ZOO_EPHEMERAL_SEQUENTIAL : ZOO_EPHEMERAL)
                       : (sequential ? ZOO_PERSISTENT_SEQUENTIAL : ZOO_PERSISTENT);
  int rc = zoo_acreate(z->zh, path, data, data ? (int)len : -1, &ZOO_OPEN_ACL_UNSAFE, mode, string_done, m);
  return submitted(m, rc, "create", err, errlen);
}

int mz_zk_children(mz_zk *z, const char *path, int watch, mz_zk_children_cb cb, void *arg, char *err,
                   size_t errlen) {
  if (!z->zh) {
    snprintf(err, errlen, "no ZooKeeper session");
    return -1;
  }
  zmsg *m = req_new(z, MSG_CHILDREN, arg);
  m->cb.c = cb;
  int rc = zoo_aget_children(z->zh, path, watch, children_done, m);
  return submitted(m, rc, "get_children", err, errlen);
}

int mz_zk_get(mz_zk *z, const char *path, mz_zk_data_cb cb, void *arg, char *err, size_t errlen) {
  if (!z->zh) {
    snprintf(err, errlen, "no ZooKeeper session");
    return -1;
  }
  zmsg *m = req_new(z, MSG_DATA, arg);
  m->cb.d = cb;
  int rc = zoo_aget(z->zh, path, 0, data_done, m);
  return submitted(m, rc, "get", err, errlen);
}

/* ensure_path: creates "/a", "/a/b", ... one after another; ZNODEEXISTS is fine. */
typedef struct {
  char path[MZ_ZK_PATH_MAX];
  size_t pos; /* end of the prefix being created */
  mz_zk_string_cb cb;
  void *arg;
} ensure_ctx;

static void ensure_step(mz_zk *z, ensure_ctx *e);

static void ensure_done(mz_zk *z, int rc, const char *value, void *arg) {
  ensure_ctx *e = arg;
  if (rc != ZOK && rc != ZNODEEXISTS) {
    mz_zk_string_cb cb = e->cb;
    void *a = e->arg;
    free(e);
    cb(z, rc, NULL, a);
    return;
  }
  ensure_step(z, e);
}

static void ensure_step(mz_zk *z, ensure_ctx *e) {
  size_t total = strlen(e->path);
  if (e->pos >= total) {
    mz_zk_string_cb cb = e->cb;
    void *a = e->arg;
    free(e);
    cb(z, ZOK, NULL, a);
    return;
  }
  const char *next = strchr(e->path + e->pos + 1, '/');
  e->pos = next ? (size_t)(next - e->path) : total;
  char prefix[MZ_ZK_PATH_MAX];
  memcpy(prefix, e->path, e->pos);
  prefix[e->pos] = 0;
  char err[256];
  if (mz_zk_create(z, prefix, NULL, 0, 0, 0, ensure_done, e, err, sizeof err) != 0) {
    MZ_WARN(ZK_MOD, "cannot create %s: %s", prefix, err);
    mz_zk_string_cb cb = e->cb;
    void *a = e->arg;
    free(e);
    cb(z, ZCONNECTIONLOSS, NULL, a);
  }
}

int mz_zk_ensure_path(mz_zk *z, const char *path, mz_zk_string_cb cb, void *arg, char *err, size_t errlen) {
  if (!path || path[0] != '/' || strlen(path) >= MZ_ZK_PATH_MAX) {
    snprintf(err, errlen, "invalid znode path");
    return -1;
  }
  if (!z->zh) {
    snprintf(err, errlen, "no ZooKeeper session");
    return -1;
  }
  ensure_ctx *e = mz_calloc(1, sizeof *e);
  mz_strlcpy(e->path, path, sizeof e->path);
  e->pos = 0;
  e->cb = cb;
  e->arg = arg;
  ensure_step(z, e); /* the first create is sent now; callbacks come from the loop */
  return 0;
}
