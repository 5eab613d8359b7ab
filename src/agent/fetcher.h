/* fetcher: CommandInfo.uris into a sandbox, as Mesos's fetcher does.
 *   http://, https://, ftp://  downloaded with libcurl (redirects followed, HTTP errors fail)
 *   file:///path or /path      copied
 *   extract (default true)     .tar .tar.gz .tgz .tar.bz2 .tar.xz .txz .zip extracted into the
 *                              sandbox with libarchive (no "..", no absolute paths, no writing
 *                              through symlinks); the archive itself is kept
 *   executable                 the file is made executable (and not extracted)
 *   output_file                the name in the sandbox (relative, no "..")
 *   cache                      downloaded once into the fetcher cache (fetch_cache.h), copied
 *                              from there afterwards
 * It runs in the container's child, before exec (as the task's user, in the sandbox), so
 * that the agent's loop never waits on a download. Blocking is fine there.
 * The request borrows everything it points at. */
#ifndef MZ_FETCHER_H
#define MZ_FETCHER_H

#include <stddef.h>
#include <stdint.h>

#include "mesos/v1/mesos.pb-c.h"

typedef struct {
  const Mesos__V1__CommandInfo *cmd; /* NULL: only the commands in more */
  const char *sandbox;    /* absolute */
  const char *cache_dir;  /* where this container's entries are (fetch_cache.h); NULL: no cache */
  const char *cache_root; /* the cache's top dir (its lock) */
  uint64_t cache_size;    /* --fetcher_cache_size */
  double stall_timeout;   /* --fetcher_stall_timeout: a download under 1 byte/s this long fails (0: 60 s) */
  /* More commands whose URIs go into the same sandbox: the tasks of a task group,
   * which run in their default executor's sandbox. */
  const Mesos__V1__CommandInfo *const *more;
  size_t nmore;
} mz_fetch_request;

/* 1 when a URI of the request asks for the cache. */
int mz_fetch_wants_cache(const mz_fetch_request *req);

/* Fetches every URI of the request (arg: mz_fetch_request). 0, or -1 with a
 * message naming the URI that failed. */
int mz_fetch_prepare(void *arg, char *err, size_t errlen);

#endif
