/* fetch_cache: the fetcher's cache of URIs (CommandInfo.URI.cache), as Mesos's:
 *
 *   <fetcher_cache_dir>/.lock        flock'ed while the cache is read or changed
 *   <fetcher_cache_dir>/<entry>      entries of containers that run as the agent's user
 *   <fetcher_cache_dir>/<user>/...   per user a container is switched to, owned by it
 *
 * The agent empties the cache when it starts, as Mesos's does. The entries (all users
 * together) hold at most --fetcher_cache_size bytes: before it adds an entry the
 * fetcher (in the container's child) removes the least recently used entries it may
 * remove, and a URI that does not fit (larger than the cache, or no room) is fetched
 * into the sandbox without being cached, as Mesos does when it cannot reserve the
 * space. Downloads in progress are not counted until they are entries. Reading an
 * entry marks it used (its mtime). */
#ifndef MZ_AGENT_FETCH_CACHE_H
#define MZ_AGENT_FETCH_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MZ_FETCH_CACHE_LOCK ".lock"

struct mz_gc;

/* ---------------------------------------------------------------- the agent's side */
/* Empties dir (made when missing; its entries go through the gc's trash when it has
 * one, else now) and makes its lock file. Refuses "/" and a dir that holds the
 * work_dir. 0, or -1 with err. */
int mz_fetch_cache_reset(const char *dir, const char *work_dir, struct mz_gc *gc, char *err, size_t errlen);
/* The dir a container's fetcher caches in: root itself, or with switch_user
 * root/<user>, made (and owned by uid:gid) here. 0, or -1 with err. */
int mz_fetch_cache_dir_for(const char *root, int switch_user, const char *user, uid_t uid, gid_t gid, char *out,
                           size_t outlen, char *err, size_t errlen);
/* The bytes the cache's entries hold. */
uint64_t mz_fetch_cache_used(const char *root);

/* ---------------------------------------------------------------- the fetcher's side */
/* Downloads uri to the file `to` (ctx: the caller's): 0, or -1 with err. */
typedef int (*mz_fetch_download_fn)(void *ctx, const char *uri, const char *to, char *err, size_t errlen);

/* A descriptor to read uri's bytes from: the cache's entry in dir (downloaded with dl
 * and added first when there is none; root is the cache's top, for its lock and its
 * size). *cached is 1 when the bytes are in the cache, 0 when they did not fit (the
 * descriptor is then of the download, already unlinked). -1 with err when the download
 * failed; -2 with err when the cache cannot be used (the caller fetches without it). */
int mz_fetch_cache_open(const char *root, const char *dir, uint64_t limit, const char *uri, mz_fetch_download_fn dl,
                        void *ctx, int *cached, char *err, size_t errlen);

#endif
