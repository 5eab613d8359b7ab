/* registry_zk: the registry (registry.h) in ZooKeeper, for masters that fail
 * over through --zk: every master reads and writes the same entries, so a newly
 * elected leader sees what the previous one recorded.
 *
 * Layout, one znode per entry (ZooKeeper's 1 MB limit holds per entry, not for
 * the whole registry), under the --zk path:
 *   <path>/registry/agents/<id>   header (version, state, time) + the record
 *   <path>/registry/weights/<role> the weight as text
 *   <path>/registry/quotas/<role>  the QuotaConfig JSON
 *   <path>/registry/values/<key>   the text
 * Names are escaped ('/', '%', bytes outside 0x21..0x7e and the names "." and
 * ".." become %XX), so any key fits in one path component.
 *
 * apply() is one zoo_multi (all or nothing) that starts with a check op on the
 * leader's own election znode (set by mz_registry_zk_guard): once that znode is
 * gone (the session that created it expired: another master may lead) every
 * write of the deposed leader fails. A change whose ops do not fit in one
 * ZooKeeper request (about 1 MB: e.g. 10,000 agents marked unreachable at once)
 * is split into several multis, each atomic and guarded; should one of them
 * fail, the earlier ones stay applied and -1 is returned. load() pipelines its
 * reads (asynchronous gets, all in flight at once) so 10,000 agents cost a few
 * round trips, not 10,000; a follower can read ahead (mz_registry_zk_prefetch)
 * so that the load at its election is one round trip when nothing changed.
 * Every load starts with a sync, so that it sees every write ZooKeeper committed
 * before (a ZooKeeper server may lag behind its leader).
 *
 * The backend has its own ZooKeeper session (the C client's threads; the calls
 * here block the caller until ZooKeeper answers, as SQLite's fsync does).
 * Location: a zk:// URL (common/zk.h). The handle is owned by the caller of open()
 * and freed by close(). */
#ifndef MZ_MASTER_REGISTRY_ZK_H
#define MZ_MASTER_REGISTRY_ZK_H

#include <stddef.h>

#include "master/registry.h"

/* Largest entry the ZooKeeper backend stores (its default request limit is 1 MB - 1). */
#define MZ_REG_ZK_MAX_DATA 1000000u

extern const mz_registry_backend mz_registry_zk;

/* Every later apply() on h first checks that znode (a full path, e.g. the
 * leader's "/mezzo/json.info_0000000003") still exists; NULL or "" removes the
 * guard. 0, or -1 if the path is too long. */
int mz_registry_zk_guard(void *h, const char *znode);

/* Reads the registry ahead (a master that follows, so that it loads at once
 * when elected): keeps a copy of everything, tagged with the version of
 * <path>/registry that every apply() bumps; load() then returns the copy if the
 * version is still the same (one round trip), else reads everything again. A
 * call with an up-to-date copy costs one round trip; a stale copy is read again
 * in full once the version has stayed the same for `quiet` seconds (not while the
 * leader writes a burst), or at once when there is no copy yet. Blocks the caller
 * while reading. 0 or -1 (err). */
int mz_registry_zk_prefetch(void *h, double quiet, char *err, size_t errlen);

#endif
