/* cgroups_lock: tells an agent whether another live agent on this machine uses the
 * same cgroups root, so that what it finds there and did not record (containers of an
 * agent that crashed and whose work directory is gone) may be destroyed without
 * touching a neighbour's containers (several agents may share a root: tests, `make
 * run` beside a bench).
 *
 * Every agent holds a read lock (an open file description lock, fcntl F_OFD_*) on
 *   MZ_CGROUPS_LOCK_DIR/<the base path, escaped>.lock
 * for its whole life; the kernel drops it when the agent dies, however it dies. At
 * start an agent first asks for the write lock without waiting: when it gets it, no
 * other agent holds the root, and the lock becomes a read lock again atomically
 * (a conversion, which POSIX record locks make in one step, unlike flock's) once the
 * caller has swept. An agent that does not get it waits for the read lock (a sweep
 * in progress is short). The fd is close-on-exec: executors do not inherit it. */
#ifndef MZ_AGENT_CGROUPS_LOCK_H
#define MZ_AGENT_CGROUPS_LOCK_H

#include <stddef.h>

#define MZ_CGROUPS_LOCK_DIR "/run/mezzo"

/* Locks the root whose cgroups lie under base (a path): returns the lock's fd with
 * *sole 1 when this agent holds it alone (a write lock: call mz_cgroups_lock_share
 * after the sweep), 0 when others hold it too (a read lock); -1 with err when the
 * lock file cannot be made (then nothing tells whether the root is shared). dir: the
 * lock files' directory (made when missing), MZ_CGROUPS_LOCK_DIR in the agent. */
int mz_cgroups_lock_take(const char *dir, const char *base, int *sole, char *err, size_t errlen);
/* Turns the write lock of a sole owner into a read lock. 0 or -1. */
int mz_cgroups_lock_share(int fd);
/* Locks each of the n bases (NULL ones skipped), in their order, which every agent
 * keeps the same (a hierarchy's index: no two agents can wait for each other): fds[i]
 * gets the lock of bases[i], or -1. An agent's base may differ from another's in one
 * hierarchy (its own cgroup there differs) and be the same in another: it is alone
 * only if it is alone on every base. Returns 1 when it is (write locks: call
 * mz_cgroups_lock_share_all after the sweep); else 0, every lock it holds a read
 * lock, with err naming a base that could not be locked (empty when none). */
int mz_cgroups_lock_all(const char *dir, char *const *bases, size_t n, int *fds, char *err, size_t errlen);
/* Shares every lock of fds[0..n) (-1 entries skipped). */
void mz_cgroups_lock_share_all(const int *fds, size_t n);

#endif
