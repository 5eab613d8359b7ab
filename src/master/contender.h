/* contender: a master's candidacy for leadership through ZooKeeper (--zk), as
 * Mesos's: once connected, the master creates the group's path if missing and an
 * ephemeral sequential znode "<path>/json.info_<seq>" holding its MasterInfo as
 * JSON; the lowest sequence leads (zk_detector.h watches the group).
 *
 * Reports: elected (this master's znode is the lowest), leader (another master
 * leads, or none: NULL; followers redirect to it), and lost: a leader that loses
 * its session (expired, or disconnected for the whole session timeout) or sees
 * its znode replaced as the lowest can no longer know it is the only leader; the
 * master then exits so that a supervisor restarts it (Mesos does the same). A
 * follower whose session expires opens a new one and contends again.
 *
 * Every callback runs on the loop thread. Ownership: the master owns the
 * contender; the contender owns its ZooKeeper handle, detector and JSON copy. */
#ifndef MZ_MASTER_CONTENDER_H
#define MZ_MASTER_CONTENDER_H

#include <stddef.h>

#include "common/zk_detector.h"

typedef struct mz_contender mz_contender;

typedef struct {
  void (*elected)(void *arg);
  void (*leader)(void *arg, const mz_leader *leader); /* another master (or NULL: none) leads */
  void (*lost)(void *arg, const char *why);           /* was the leader and no longer is */
} mz_contender_callbacks;

/* Starts contending on url with info_json (MasterInfo as JSON, copied). NULL with err. */
mz_contender *mz_contender_new(struct event_base *base, const char *url, double session_timeout,
                               const char *info_json, const mz_contender_callbacks *cbs, void *arg, char *err,
                               size_t errlen);
/* Closes the session (the znode goes at once) and frees. */
void mz_contender_free(mz_contender *c);
/* The znode of this master ("json.info_..."), "" until created. */
const char *mz_contender_znode(const mz_contender *c);

#endif
