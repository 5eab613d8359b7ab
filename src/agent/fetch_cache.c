/* fetch_cache: see fetch_cache.h. An entry is "<64-bit FNV-1a hash of its URI>-uri";
 * a download in progress is ".tmp-<hash>-<pid>" beside it. Eviction lists every
 * entry (the top dir's files and its user dirs' files, names not starting with '.')
 * and removes the oldest mtimes first. */
#include "agent/fetch_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/gc.h"
#include "agent/treewalk.h"
#include "common/util.h"

typedef struct {
  char path[4400];
  uint64_t size;
  struct timespec mtime;
} entry;

typedef struct {
  entry *v;
  size_t n, cap;
  uint64_t total;
} entries;

static void add_entries(entries *es, const char *dir, int depth) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue; /* ".", "..", the lock, downloads in progress */
    char p[4400];
    struct stat sb;
    if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p || lstat(p, &sb) != 0) continue;
    if (S_ISDIR(sb.st_mode) && depth == 0) {
      add_entries(es, p, 1); /* a user's dir */
    } else if (S_ISREG(sb.st_mode)) {
      if (es->n == es->cap) {
        es->cap = es->cap ? 2 * es->cap : 16;
        es->v = mz_realloc(es->v, es->cap * sizeof *es->v);
      }
      entry *x = &es->v[es->n++];
      snprintf(x->path, sizeof x->path, "%s", p);
      x->size = (uint64_t)sb.st_size;
      x->mtime = sb.st_mtim;
      es->total += x->size;
    }
  }
  closedir(d);
}

uint64_t mz_fetch_cache_used(const char *root) {
  entries es = {0};
  add_entries(&es, root, 0);
  free(es.v);
  return es.total;
}

static int older(const void *a, const void *b) {
  const entry *x = a, *y = b;
  if (x->mtime.tv_sec != y->mtime.tv_sec) return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
  return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : x->mtime.tv_nsec > y->mtime.tv_nsec;
}

/* Removes least recently used entries until `size` more bytes fit under limit.
 * 0, or -1 with err when not enough could be removed (some are another user's). */
static int make_room(const char *root, uint64_t limit, uint64_t size, char *err, size_t errlen) {
  entries es = {0};
  add_entries(&es, root, 0);
  if (es.n > 1) qsort(es.v, es.n, sizeof *es.v, older);
  size_t kept = 0;
  for (size_t i = 0; i < es.n && es.total + size > limit; i++) {
    if (unlink(es.v[i].path) == 0 || errno == ENOENT) {
      fprintf(stderr, "mezzo-fetcher: evicted '%s' (%llu bytes) from the cache\n", es.v[i].path,
              (unsigned long long)es.v[i].size);
      es.total -= es.v[i].size;
    } else {
      kept++;
    }
  }
  int rc = es.total + size <= limit ? 0 : -1;
  if (rc != 0)
    snprintf(err, errlen, "no room in the cache: %llu of %llu bytes held, %zu entr%s not ours to evict",
             (unsigned long long)es.total, (unsigned long long)limit, kept, kept == 1 ? "y" : "ies");
  free(es.v);
  return rc;
}

/* FNV-1a, for entry names. */
static uint64_t fnv1a(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

static int lock_cache(const char *root, char *err, size_t errlen) {
  char p[4400];
  snprintf(p, sizeof p, "%s/%s", root, MZ_FETCH_CACHE_LOCK);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  int rc;
  if (fd >= 0) {
    do rc = flock(fd, LOCK_EX);
    while (rc != 0 && errno == EINTR);
    if (rc == 0) return fd;
  }
  snprintf(err, errlen, "cannot lock %s: %s", p, strerror(errno));
  if (fd >= 0) close(fd);
  return -1;
}

int mz_fetch_cache_open(const char *root, const char *dir, uint64_t limit, const char *uri, mz_fetch_download_fn dl,
                        void *ctx, int *cached, char *err, size_t errlen) {
  char path[4400], tmp[4500];
  unsigned long long h = (unsigned long long)fnv1a(uri);
  snprintf(path, sizeof path, "%s/%016llx-uri", dir, h);
  int lock = lock_cache(root, err, errlen);
  if (lock < 0) return -2;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    futimens(fd, NULL); /* used now (least recently used goes first) */
    close(lock);
    fprintf(stderr, "mezzo-fetcher: using the cached copy '%s'\n", path);
    *cached = 1;
    return fd;
  }
  close(lock); /* not held while downloading */
  snprintf(tmp, sizeof tmp, "%s/.tmp-%016llx-%d", dir, h, (int)getpid());
  if (dl(ctx, uri, tmp, err, errlen) != 0) {
    unlink(tmp);
    return -1;
  }
  struct stat sb;
  if (stat(tmp, &sb) != 0) {
    snprintf(err, errlen, "stat %s: %s", tmp, strerror(errno));
    unlink(tmp);
    return -1;
  }
  char why[512] = "";
  lock = lock_cache(root, why, sizeof why);
  uint64_t size = (uint64_t)sb.st_size;
  if (lock >= 0 && size > limit)
    snprintf(why, sizeof why, "%llu bytes, more than the whole cache (--fetcher_cache_size=%lluB)",
             (unsigned long long)size, (unsigned long long)limit);
  else if (lock >= 0 && make_room(root, limit, size, why, sizeof why) == 0 && rename(tmp, path) != 0)
    snprintf(why, sizeof why, "cannot move %s into the cache: %s", tmp, strerror(errno));
  if (!why[0]) {
    fd = open(path, O_RDONLY | O_CLOEXEC);
    fprintf(stderr, "mezzo-fetcher: cached '%s' as '%s'\n", uri, path);
    *cached = 1;
  } else {
    fd = open(tmp, O_RDONLY | O_CLOEXEC);
    unlink(tmp);
    fprintf(stderr, "mezzo-fetcher: not caching '%s': %s\n", uri, why);
    *cached = 0;
  }
  if (lock >= 0) close(lock);
  if (fd < 0) snprintf(err, errlen, "open %s: %s", why[0] ? tmp : path, strerror(errno));
  return fd;
}

int mz_fetch_cache_dir_for(const char *root, int switch_user, const char *user, uid_t uid, gid_t gid, char *out,
                           size_t outlen, char *err, size_t errlen) {
  if (!switch_user) {
    snprintf(out, outlen, "%s", root);
    return 0;
  }
  if (!user || !*user || strchr(user, '/') || user[0] == '.') {
    snprintf(err, errlen, "user '%s' cannot name a fetcher cache directory", user ? user : "");
    return -1;
  }
  if ((size_t)snprintf(out, outlen, "%s/%s", root, user) >= outlen) {
    snprintf(err, errlen, "fetcher cache path too long");
    return -1;
  }
  if ((mkdir(out, 0755) != 0 && errno != EEXIST) || chown(out, uid, gid) != 0) {
    snprintf(err, errlen, "cannot make the fetcher cache directory %s for user %s: %s", out, user, strerror(errno));
    return -1;
  }
  return 0;
}

/* 1 when `inner` is `outer` or under it (both resolved). */
static int within(const char *inner, const char *outer) {
  size_t n = strlen(outer);
  if (n == 1 && outer[0] == '/') return 1;
  return !strncmp(inner, outer, n) && (inner[n] == '\0' || inner[n] == '/');
}

int mz_fetch_cache_reset(const char *dir, const char *work_dir, mz_gc *gc, char *err, size_t errlen) {
  if (mz_mkdirs(dir, 0755, err, errlen) != 0) return -1;
  char real[PATH_MAX], work[PATH_MAX];
  if (!realpath(dir, real) || !realpath(work_dir, work)) {
    snprintf(err, errlen, "cannot resolve %s: %s", dir, strerror(errno));
    return -1;
  }
  if (within(work, real)) {
    snprintf(err, errlen, "%s holds the work_dir (%s), and the agent empties it at start", dir, work_dir);
    return -1;
  }
  DIR *d = opendir(real);
  if (!d) {
    snprintf(err, errlen, "cannot read %s: %s", dir, strerror(errno));
    return -1;
  }
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, MZ_FETCH_CACHE_LOCK)) continue;
    char p[PATH_MAX + 256], why[600];
    snprintf(p, sizeof p, "%s/%s", real, e->d_name);
    if ((gc && mz_gc_discard(gc, p) == 0) || mz_rmtree_now(p, why, sizeof why) == 0) continue;
    snprintf(err, errlen, "cannot empty %s: %s", dir, why);
    rc = -1;
    break;
  }
  closedir(d);
  return rc != 0 ? -1 : mz_create_file(real, MZ_FETCH_CACHE_LOCK, err, errlen);
}
