/* zk_detector: see zk_detector.h.
 *
 * State machine (loop thread only): on CONNECTED, list the group with a watch;
 * each listing picks the lowest "json.info_" sequence and, when it differs from
 * the leader reported, reads that znode and reports its address. A watch that
 * fires while a listing is in flight asks for one more listing after it.
 * Requests in flight are counted so that only the newest read counts; a session
 * reopening resets the counters (its requests never complete).
 *
 * Ownership: the detector owns its handle when made with mz_detector_new, the
 * member names of the last listing, and its retry timer. */
#include "common/zk_detector.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <zookeeper/zookeeper.h>

#include "common/log.h"
#include "common/util.h"

#define DET_MOD "detector"
#define DET_RETRY 0.5 /* seconds before listing again when the group does not exist yet */

struct mz_detector {
  struct event_base *base;
  mz_zk *z;
  int owns;
  mz_detector_cb cb;
  void *arg;
  int listing, relist, gets, listed;
  char want[256]; /* znode being read */
  mz_leader leader;
  int has_leader;
  char **members;
  size_t nmembers;
  struct event *retry_ev;
};

int mz_zk_member_seq(const char *name, uint64_t *seq) {
  size_t pl = strlen(MZ_ZK_MEMBER_PREFIX);
  if (strncmp(name, MZ_ZK_MEMBER_PREFIX, pl) != 0) return -1;
  const char *d = name + pl;
  if (!*d || strlen(d) > 19) return -1;
  uint64_t v = 0;
  for (; *d; d++) {
    if (*d < '0' || *d > '9') return -1;
    v = v * 10 + (uint64_t)(*d - '0');
  }
  *seq = v;
  return 0;
}

int mz_zk_parse_master_info(const char *text, size_t len, mz_leader *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  json_error_t je;
  json_t *j = json_loadb(text, len, 0, &je);
  if (!j || !json_is_object(j)) {
    snprintf(err, errlen, "the leader's znode does not hold a MasterInfo JSON object: %s", j ? "not an object" : je.text);
    json_decref(j);
    return -1;
  }
  const char *host = NULL;
  json_int_t port = 0;
  json_t *addr = json_object_get(j, "address");
  if (json_is_object(addr)) {
    host = json_string_value(json_object_get(addr, "ip"));
    if (!host || !*host) host = json_string_value(json_object_get(addr, "hostname"));
    port = json_integer_value(json_object_get(addr, "port"));
  }
  char ipbuf[64];
  if (!host || !*host) {
    json_t *ip = json_object_get(j, "ip");
    if (json_is_integer(ip)) {
      struct in_addr a;
      a.s_addr = (uint32_t)json_integer_value(ip); /* network order, as MasterInfo.ip */
      inet_ntop(AF_INET, &a, ipbuf, sizeof ipbuf);
      host = ipbuf;
    } else {
      host = json_string_value(json_object_get(j, "hostname"));
    }
  }
  if (port <= 0) port = json_integer_value(json_object_get(j, "port"));
  if (!host || !*host || port <= 0 || port > 65535 || mz_strlcpy(out->host, host, sizeof out->host) != 0) {
    snprintf(err, errlen, "the leader's MasterInfo has no usable address");
    json_decref(j);
    return -1;
  }
  out->port = (int)port;
  const char *id = json_string_value(json_object_get(j, "id"));
  if (id) mz_strlcpy(out->id, id, sizeof out->id);
  json_decref(j);
  return 0;
}

static void arm(struct event *ev, double seconds) {
  struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
  evtimer_add(ev, &tv);
}

static void report(mz_detector *d, const mz_leader *l) {
  if (!l) {
    if (!d->has_leader) return;
    d->has_leader = 0;
    MZ_INFO(DET_MOD, "no leading master now");
    if (d->cb) d->cb(d->arg, NULL);
    return;
  }
  if (d->has_leader && !strcmp(d->leader.znode, l->znode) && !strcmp(d->leader.host, l->host) &&
      d->leader.port == l->port)
    return;
  d->leader = *l;
  d->has_leader = 1;
  MZ_INFO(DET_MOD, "leading master is %s:%d (%s, id %s)", l->host, l->port, l->znode, l->id[0] ? l->id : "?");
  if (d->cb) d->cb(d->arg, &d->leader);
}

static void list_now(mz_detector *d);

static void on_data(mz_zk *z, int rc, const uint8_t *data, size_t len, void *arg) {
  mz_detector *d = arg;
  if (--d->gets > 0) return; /* a newer read is on its way */
  if (rc == ZNONODE) { /* it went away between the listing and the read */
    list_now(d);
    return;
  }
  if (rc != ZOK) {
    MZ_WARN(DET_MOD, "cannot read %s: %s", d->want, mz_zk_error(rc));
    return; /* a session event follows a connection loss */
  }
  mz_leader l;
  char err[256];
  if (len > MZ_ZK_MAX_INFO || mz_zk_parse_master_info((const char *)data, len, &l, err, sizeof err) != 0) {
    MZ_WARN(DET_MOD, "%s: %s", d->want, len > MZ_ZK_MAX_INFO ? "MasterInfo too large" : err);
    report(d, NULL);
    return;
  }
  mz_strlcpy(l.znode, d->want, sizeof l.znode);
  mz_zk_member_seq(l.znode, &l.seq);
  report(d, &l);
}

static void set_members(mz_detector *d, char *const *names, size_t n) {
  for (size_t i = 0; i < d->nmembers; i++) free(d->members[i]);
  free(d->members);
  d->members = NULL;
  d->nmembers = 0;
  if (!n) return;
  if (n > MZ_ZK_MAX_MEMBERS) n = MZ_ZK_MAX_MEMBERS;
  d->members = mz_calloc(n, sizeof *d->members);
  for (size_t i = 0; i < n; i++) d->members[d->nmembers++] = mz_strdup(names[i]);
}

static void on_children(mz_zk *z, int rc, char *const *names, size_t n, void *arg) {
  mz_detector *d = arg;
  d->listing = 0;
  if (d->relist) {
    d->relist = 0;
    list_now(d);
  }
  if (rc == ZNONODE) { /* no master has created the group yet */
    set_members(d, NULL, 0);
    d->listed = 1;
    report(d, NULL);
    if (!d->listing) arm(d->retry_ev, DET_RETRY);
    return;
  }
  if (rc != ZOK) {
    MZ_WARN(DET_MOD, "cannot list %s: %s", mz_zk_get_url(d->z)->path, mz_zk_error(rc));
    return;
  }
  set_members(d, names, n);
  d->listed = 1;
  const char *best = NULL;
  uint64_t best_seq = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t s;
    if (mz_zk_member_seq(names[i], &s) != 0) continue;
    if (!best || s < best_seq) {
      best = names[i];
      best_seq = s;
    }
  }
  if (!best) {
    d->want[0] = 0;
    report(d, NULL);
    return;
  }
  if (d->has_leader && !strcmp(d->leader.znode, best)) return;
  if (d->gets > 0 && !strcmp(d->want, best)) return;
  mz_strlcpy(d->want, best, sizeof d->want);
  char path[MZ_ZK_PATH_MAX + 300];
  snprintf(path, sizeof path, "%s/%s", mz_zk_get_url(d->z)->path, best);
  char err[256];
  if (mz_zk_get(d->z, path, on_data, d, err, sizeof err) == 0) d->gets++;
  else MZ_WARN(DET_MOD, "%s", err);
}

static void list_now(mz_detector *d) {
  if (d->listing) {
    d->relist = 1;
    return;
  }
  if (!mz_zk_connected(d->z)) return; /* CONNECTED lists again */
  char err[256];
  if (mz_zk_children(d->z, mz_zk_get_url(d->z)->path, 1, on_children, d, err, sizeof err) == 0) d->listing = 1;
  else MZ_WARN(DET_MOD, "%s", err);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg) { list_now(arg); }

void mz_detector_reset(mz_detector *d) {
  d->listing = d->relist = d->gets = 0;
  d->want[0] = 0;
  evtimer_del(d->retry_ev);
}

void mz_detector_session(mz_detector *d, mz_zk_session_state state) {
  if (state == MZ_ZK_CONNECTED) {
    list_now(d);
  } else if (state == MZ_ZK_EXPIRED) {
    report(d, NULL);
    if (d->owns) {
      char err[256];
      mz_detector_reset(d);
      if (mz_zk_restart(d->z, err, sizeof err) != 0) MZ_ERROR(DET_MOD, "%s", err);
    }
  }
  /* DISCONNECTED: the last leader stays reported until the session expires. */
}

void mz_detector_watch(mz_detector *d, const char *path) {
  if (!strcmp(path, mz_zk_get_url(d->z)->path)) list_now(d);
}

static void own_session(mz_zk *z, mz_zk_session_state state, void *arg) { mz_detector_session(arg, state); }
static void own_watch(mz_zk *z, const char *path, void *arg) { mz_detector_watch(arg, path); }

static mz_detector *alloc(struct event_base *base, mz_detector_cb cb, void *arg) {
  mz_detector *d = mz_calloc(1, sizeof *d);
  d->base = base;
  d->cb = cb;
  d->arg = arg;
  d->retry_ev = evtimer_new(base, retry_cb, d);
  return d;
}

mz_detector *mz_detector_new(struct event_base *base, const char *url, double session_timeout, mz_detector_cb cb,
                             void *arg, char *err, size_t errlen) {
  mz_zk_url u;
  if (mz_zk_parse_url(url, &u, err, errlen) != 0) return NULL;
  mz_detector *d = alloc(base, cb, arg);
  d->owns = 1;
  mz_zk_callbacks zc = {own_session, own_watch};
  d->z = mz_zk_new(base, &u, session_timeout, &zc, d, err, errlen);
  if (!d->z) {
    mz_detector_free(d);
    return NULL;
  }
  return d;
}

mz_detector *mz_detector_attach(mz_zk *z, mz_detector_cb cb, void *arg) {
  mz_detector *d = alloc(mz_zk_base(z), cb, arg);
  d->z = z;
  return d;
}

void mz_detector_free(mz_detector *d) {
  if (!d) return;
  if (d->owns) mz_zk_free(d->z);
  if (d->retry_ev) event_free(d->retry_ev);
  set_members(d, NULL, 0);
  free(d);
}

const mz_leader *mz_detector_leader(const mz_detector *d) { return d && d->has_leader ? &d->leader : NULL; }

int mz_detector_has_member(const mz_detector *d, const char *name) {
  for (size_t i = 0; i < d->nmembers; i++)
    if (!strcmp(d->members[i], name)) return 1;
  return 0;
}

int mz_detector_listed(const mz_detector *d) { return d->listed; }

/* ------------------------------------------------------------------ blocking */

typedef struct {
  struct event_base *base;
  mz_leader leader;
  int found;
} detect_wait;

static void detect_cb(void *arg, const mz_leader *l) {
  detect_wait *w = arg;
  if (!l) return;
  w->leader = *l;
  w->found = 1;
  event_base_loopbreak(w->base);
}

int mz_zk_detect_leader(const char *url, double timeout, char *host, size_t hostlen, int *port, char *err,
                        size_t errlen) {
  detect_wait w = {0};
  w.base = event_base_new();
  if (!w.base) {
    snprintf(err, errlen, "cannot create an event loop");
    return -1;
  }
  mz_detector *d = mz_detector_new(w.base, url, timeout > 0 ? timeout : MZ_ZK_DEFAULT_SESSION_TIMEOUT, detect_cb, &w,
                                   err, errlen);
  if (!d) {
    event_base_free(w.base);
    return -1;
  }
  struct timeval tv = {(time_t)timeout, (suseconds_t)((timeout - (double)(time_t)timeout) * 1e6)};
  event_base_loopexit(w.base, &tv);
  event_base_dispatch(w.base);
  int connected = mz_zk_connected(d->z);
  mz_detector_free(d);
  event_base_free(w.base);
  if (!w.found) {
    snprintf(err, errlen, "%s within %.0fs at %s", connected ? "no leading master elected" : "cannot reach ZooKeeper",
             timeout, url);
    return -1;
  }
  if (mz_strlcpy(host, w.leader.host, hostlen) != 0) {
    snprintf(err, errlen, "the leader's host name is too long");
    return -1;
  }
  *port = w.leader.port;
  return 0;
}
