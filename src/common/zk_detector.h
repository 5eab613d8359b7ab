/* zk_detector: finds the leading master of a ZooKeeper group, as Mesos's
 * master detector does. Masters contend with ephemeral sequential znodes named
 * "json.info_<10-digit sequence>" under the group's path, each holding the
 * master's MasterInfo as JSON; the lowest sequence leads. The detector lists the
 * children with a watch, fetches the leader's znode and reports the leader's
 * address every time it changes (and NULL while there is none, or when the
 * session expired). Used by mezzo-agent, libmezzo's scheduler and the CLI
 * (--master=zk://...), and by the master's contender.
 *
 * A detector made with mz_detector_new owns its ZooKeeper handle and reopens
 * the session when it expires. One made with mz_detector_attach borrows the
 * handle of its owner (the contender), which forwards the handle's session and
 * watch events to it (mz_detector_session / mz_detector_watch) and reopens
 * the session itself (then mz_detector_reset).
 *
 * Every callback runs on the loop thread (zk.h). Ownership: the caller owns the
 * detector; a reported mz_leader is valid only during the callback (copy it). */
#ifndef MZ_COMMON_ZK_DETECTOR_H
#define MZ_COMMON_ZK_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "common/zk.h"

#define MZ_ZK_MEMBER_PREFIX "json.info_"
#define MZ_ZK_MAX_MEMBERS 4096  /* contenders considered at once */
#define MZ_ZK_MAX_INFO 65536    /* largest MasterInfo JSON read from a znode */

typedef struct {
  char host[256]; /* the address to connect to (address.ip, else ip, else hostname) */
  int port;
  char id[256];     /* MasterInfo.id ("" if absent) */
  char znode[256];  /* "json.info_0000000003" */
  uint64_t seq;
} mz_leader;

typedef struct mz_detector mz_detector;
/* leader NULL: no leader now. */
typedef void (*mz_detector_cb)(void *arg, const mz_leader *leader);

/* Watches url (a zk:// URL) with its own session. NULL with err (bad URL, ...). */
mz_detector *mz_detector_new(struct event_base *base, const char *url, double session_timeout, mz_detector_cb cb,
                             void *arg, char *err, size_t errlen);
/* Watches the group of an existing handle (borrowed; see above). */
mz_detector *mz_detector_attach(mz_zk *z, mz_detector_cb cb, void *arg);
void mz_detector_session(mz_detector *d, mz_zk_session_state state);
void mz_detector_watch(mz_detector *d, const char *path);
/* The handle's session was reopened: forget requests in flight. */
void mz_detector_reset(mz_detector *d);
void mz_detector_free(mz_detector *d);

/* The current leader, or NULL. */
const mz_leader *mz_detector_leader(const mz_detector *d);
/* 1 if the last listing had a child of this name. */
int mz_detector_has_member(const mz_detector *d, const char *name);
/* 1 once a listing of the group has completed (members known). */
int mz_detector_listed(const mz_detector *d);

/* "json.info_0000000012" -> 12: 0, or -1 if the name is not a contender's. */
int mz_zk_member_seq(const char *name, uint64_t *seq);
/* The leader's address from its MasterInfo JSON: 0 or -1 with err. */
int mz_zk_parse_master_info(const char *json, size_t len, mz_leader *out, char *err, size_t errlen);

/* Blocking (on a private event loop): waits up to timeout seconds for the leader
 * of url. 0 with host/port, or -1 with err. For the CLI. */
int mz_zk_detect_leader(const char *url, double timeout, char *host, size_t hostlen, int *port, char *err,
                        size_t errlen);

#endif
