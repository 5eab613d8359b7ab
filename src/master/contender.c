/* contender: see contender.h.
 *
 * Sequence per session: CONNECTED -> ensure the group path -> create our
 * ephemeral sequential znode -> the detector (sharing the handle) reports the
 * lowest member; if it is ours we are elected. A session reopening (follower
 * only) forgets the znode and starts over. */
#include "master/contender.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zookeeper/zookeeper.h>

#include "common/log.h"
#include "common/util.h"

#define CT_MOD "contender"

struct mz_contender {
  mz_zk *z;
  mz_detector *d;
  mz_contender_callbacks cbs;
  void *arg;
  char *info;
  int creating, created, elected, gone;
  char znode[256];
};

static void lose(mz_contender *c, const char *why) {
  if (c->gone) return;
  c->gone = 1;
  MZ_ERROR(CT_MOD, "lost leadership: %s", why);
  if (c->cbs.lost) c->cbs.lost(c->arg, why);
}

static void check_leader(mz_contender *c, const mz_leader *l) {
  if (c->gone) return;
  if (l && c->created && !strcmp(l->znode, c->znode)) {
    if (!c->elected) {
      c->elected = 1;
      MZ_INFO(CT_MOD, "elected as the leading master (%s)", c->znode);
      if (c->cbs.elected) c->cbs.elected(c->arg);
    }
    return;
  }
  if (c->elected) {
    lose(c, l ? "another master's znode is now the lowest" : "this master's znode is gone");
    return;
  }
  if (c->cbs.leader) c->cbs.leader(c->arg, l);
}

static void on_leader(void *arg, const mz_leader *l) { check_leader(arg, l); }

static void on_created(mz_zk *z, int rc, const char *value, void *arg) {
  mz_contender *c = arg;
  c->creating = 0;
  if (rc != ZOK || !value) {
    MZ_WARN(CT_MOD, "cannot create this master's znode: %s (retried on reconnection)", mz_zk_error(rc));
    return;
  }
  const char *base = strrchr(value, '/');
  mz_strlcpy(c->znode, base ? base + 1 : value, sizeof c->znode);
  c->created = 1;
  MZ_INFO(CT_MOD, "contending for leadership as %s", value);
  check_leader(c, mz_detector_leader(c->d));
  mz_detector_watch(c->d, mz_zk_get_url(z)->path); /* list again, in case the watch came before */
}

static void on_path(mz_zk *z, int rc, const char *value, void *arg) {
  mz_contender *c = arg;
  if (rc != ZOK) {
    c->creating = 0;
    MZ_WARN(CT_MOD, "cannot create the group path %s: %s (retried on reconnection)", mz_zk_get_url(z)->path,
            mz_zk_error(rc));
    return;
  }
  char path[MZ_ZK_PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/%s", mz_zk_get_url(z)->path, MZ_ZK_MEMBER_PREFIX);
  char err[256];
  if (mz_zk_create(z, path, c->info, strlen(c->info), 1, 1, on_created, c, err, sizeof err) != 0) {
    c->creating = 0;
    MZ_WARN(CT_MOD, "%s", err);
  }
}

static void on_session(mz_zk *z, mz_zk_session_state state, void *arg) {
  mz_contender *c = arg;
  if (c->gone) return;
  if (state == MZ_ZK_EXPIRED) {
    if (c->elected) {
      lose(c, "the ZooKeeper session expired");
      return;
    }
    mz_detector_session(c->d, state); /* reports no leader */
    c->created = c->creating = 0;
    c->znode[0] = 0;
    mz_detector_reset(c->d);
    char err[256];
    if (mz_zk_restart(z, err, sizeof err) != 0) lose(c, err);
    return;
  }
  mz_detector_session(c->d, state);
  if (state == MZ_ZK_CONNECTED && !c->created && !c->creating) {
    char err[256];
    c->creating = 1;
    if (mz_zk_ensure_path(z, mz_zk_get_url(z)->path, on_path, c, err, sizeof err) != 0) {
      c->creating = 0;
      MZ_WARN(CT_MOD, "%s", err);
    }
  }
}

static void on_watch(mz_zk *z, const char *path, void *arg) {
  mz_contender *c = arg;
  if (!c->gone) mz_detector_watch(c->d, path);
}

mz_contender *mz_contender_new(struct event_base *base, const char *url, double session_timeout,
                               const char *info_json, const mz_contender_callbacks *cbs, void *arg, char *err,
                               size_t errlen) {
  mz_zk_url u;
  if (mz_zk_parse_url(url, &u, err, errlen) != 0) return NULL;
  if (strlen(info_json) > MZ_ZK_MAX_INFO) {
    snprintf(err, errlen, "MasterInfo JSON larger than %d bytes", MZ_ZK_MAX_INFO);
    return NULL;
  }
  mz_contender *c = mz_calloc(1, sizeof *c);
  c->cbs = *cbs;
  c->arg = arg;
  c->info = mz_strdup(info_json);
  mz_zk_callbacks zc = {on_session, on_watch};
  c->z = mz_zk_new(base, &u, session_timeout, &zc, c, err, errlen);
  if (!c->z) {
    mz_contender_free(c);
    return NULL;
  }
  c->d = mz_detector_attach(c->z, on_leader, c);
  MZ_INFO(CT_MOD, "contending for leadership through ZooKeeper %s (group %s, session timeout %.1fs)", u.servers,
          u.path, session_timeout);
  return c;
}

void mz_contender_free(mz_contender *c) {
  if (!c) return;
  mz_zk_free(c->z); /* first: no more callbacks into the detector */
  mz_detector_free(c->d);
  free(c->info);
  free(c);
}

const char *mz_contender_znode(const mz_contender *c) { return c->znode; }
