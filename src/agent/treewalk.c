/* treewalk: see treewalk.h. Depth first, with one open directory per level: an entry
 * that is a directory is opened (O_NOFOLLOW) and pushed, anything else is unlinked
 * (or measured) where it is (unlinkat, fstatat: names never grow into long paths),
 * and a directory read to its end is popped and removed from its parent (or was
 * measured when entered). A directory whose mount id (statx) differs from the root's
 * is a mount point and is left. */
#include "agent/treewalk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/util.h"

typedef struct {
  DIR *d;
  int fd;
  char *name; /* in its parent (NULL for the root) */
} frame;

struct mz_treewalk {
  char *path;
  mz_walk_op op;
  uint64_t bytes; /* MZ_WALK_MEASURE */
  frame stack[MZ_TREEWALK_MAX_DEPTH];
  int depth;
  int finished;
  uint64_t root_mnt; /* the root's mount id (0: statx gave none; st_dev is compared instead) */
  dev_t root_dev;
  int err_no;
  char error[MZ_TREEWALK_MAX_ERROR];
};

/* Records the first error, naming path/<the open directories>/<name> (with "..."
 * for all but the last two directories when more are open). */
static void fail(mz_treewalk *t, const char *what, const char *name, int e) {
  if (t->err_no) return;
  char rel[MZ_TREEWALK_MAX_ERROR];
  size_t n = (size_t)snprintf(rel, sizeof rel, "%.200s", t->path);
  int from = 1;
  if (t->depth > 3) {
    n += (size_t)snprintf(rel + n, sizeof rel - n, "/...");
    from = t->depth - 2;
  }
  for (int i = from; i < t->depth && n < sizeof rel; i++)
    n += (size_t)snprintf(rel + n, sizeof rel - n, "/%.60s", t->stack[i].name);
  if (name && n < sizeof rel) snprintf(rel + n, sizeof rel - n, "/%.60s", name);
  t->err_no = e ? e : EIO;
  snprintf(t->error, sizeof t->error, "%s %s: %s", what, rel, strerror(t->err_no));
}

static int mount_of(int fd, uint64_t *mnt, dev_t *dev) {
  struct statx sx;
  if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) != 0) return -1;
  *mnt = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
  *dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  return 0;
}

static int push(mz_treewalk *t, int fd, const char *name) {
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -1;
  }
  frame *f = &t->stack[t->depth++];
  f->d = d;
  f->fd = fd;
  f->name = name ? mz_strdup(name) : NULL;
  return 0;
}

static uint64_t disk_bytes(const struct stat *sb) { return (uint64_t)sb->st_blocks * 512; }

mz_treewalk *mz_treewalk_start(const char *path, mz_walk_op op) {
  mz_treewalk *t = mz_calloc(1, sizeof *t);
  t->path = mz_strdup(path);
  t->op = op;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat sb;
  if (fd < 0) {
    int e = errno;
    if ((e == ENOTDIR || e == ELOOP) && op == MZ_WALK_MEASURE) { /* not a directory (or a link to one) */
      if (lstat(path, &sb) == 0) t->bytes = disk_bytes(&sb);
      else if (errno != ENOENT) fail(t, "stat", NULL, errno);
    } else if (e == ENOTDIR || e == ELOOP) { /* the path itself goes */
      if (unlink(path) != 0 && errno != ENOENT) fail(t, "unlink", NULL, errno);
    } else if (e != ENOENT) {
      fail(t, "open", NULL, e);
    }
    t->finished = 1;
    return t;
  }
  if (mount_of(fd, &t->root_mnt, &t->root_dev) != 0) {
    fail(t, "stat", NULL, errno);
    close(fd);
    t->finished = 1;
  } else {
    if (op == MZ_WALK_MEASURE && fstat(fd, &sb) == 0) t->bytes += disk_bytes(&sb);
    if (push(t, fd, NULL) != 0) {
      fail(t, "open", NULL, errno);
      t->finished = 1;
    }
  }
  return t;
}

/* The directory at the top is done: closed, and removed from its parent. */
static void pop(mz_treewalk *t) {
  frame *f = &t->stack[--t->depth];
  closedir(f->d);
  if (t->op == MZ_WALK_MEASURE) {
    /* measured when it was entered */
  } else if (t->depth == 0) {
    if (rmdir(t->path) != 0 && errno != ENOENT) fail(t, "rmdir", NULL, errno);
  } else if (unlinkat(t->stack[t->depth - 1].fd, f->name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
    fail(t, "rmdir", f->name, errno);
  }
  free(f->name);
}

/* Opens directory `name` of the top directory and pushes it, unless it is a mount
 * point or too deep (errors). */
static void enter(mz_treewalk *t, const char *name) {
  frame *top = &t->stack[t->depth - 1];
  if (t->depth == MZ_TREEWALK_MAX_DEPTH) {
    fail(t, "enter", name, ENAMETOOLONG);
    return;
  }
  int fd = openat(top->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    struct stat sb;
    if ((errno == ENOTDIR || errno == ELOOP) && t->op == MZ_WALK_MEASURE) { /* replaced by a file meanwhile */
      if (fstatat(top->fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0) t->bytes += disk_bytes(&sb);
    } else if (errno == ENOTDIR || errno == ELOOP) {
      if (unlinkat(top->fd, name, 0) != 0 && errno != ENOENT) fail(t, "unlink", name, errno);
    } else if (errno != ENOENT) {
      fail(t, "open", name, errno);
    }
    return;
  }
  uint64_t mnt;
  dev_t dev;
  if (mount_of(fd, &mnt, &dev) != 0) {
    fail(t, "stat", name, errno);
    close(fd);
    return;
  }
  if (mnt != t->root_mnt || dev != t->root_dev) {
    if (t->op == MZ_WALK_REMOVE) fail(t, "leave the mount point", name, EBUSY); /* not counted when measuring */
    close(fd);
    return;
  }
  struct stat sb;
  if (t->op == MZ_WALK_MEASURE && fstat(fd, &sb) == 0) t->bytes += disk_bytes(&sb);
  if (push(t, fd, name) != 0) fail(t, "open", name, errno);
}

int mz_treewalk_step(mz_treewalk *t, int budget) {
  while (!t->finished && budget-- > 0) {
    frame *top = &t->stack[t->depth - 1];
    errno = 0;
    struct dirent *e = readdir(top->d);
    if (!e) {
      if (errno) fail(t, "read", NULL, errno);
      pop(t);
      if (t->depth == 0) t->finished = 1;
      continue;
    }
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat sb;
      if (fstatat(top->fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) fail(t, "stat", e->d_name, errno);
        continue;
      }
      type = S_ISDIR(sb.st_mode) ? DT_DIR : DT_REG;
    }
    if (type == DT_DIR) {
      enter(t, e->d_name);
    } else if (t->op == MZ_WALK_MEASURE) {
      struct stat sb;
      if (fstatat(top->fd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0) t->bytes += disk_bytes(&sb);
      else if (errno != ENOENT) fail(t, "stat", e->d_name, errno);
    } else if (unlinkat(top->fd, e->d_name, 0) != 0 && errno != ENOENT) {
      fail(t, "unlink", e->d_name, errno);
    }
  }
  if (!t->finished) return 1;
  return t->err_no ? -1 : 0;
}

const char *mz_treewalk_error(const mz_treewalk *t) { return t->error; }

uint64_t mz_treewalk_bytes(const mz_treewalk *t) { return t->bytes; }

int mz_treewalk_errno(const mz_treewalk *t) { return t->err_no; }

void mz_treewalk_free(mz_treewalk *t) {
  if (!t) return;
  while (t->depth > 0) {
    frame *f = &t->stack[--t->depth];
    closedir(f->d);
    free(f->name);
  }
  free(t->path);
  free(t);
}

int mz_rmtree_now(const char *path, char *err, size_t errlen) {
  mz_treewalk *t = mz_treewalk_start(path, MZ_WALK_REMOVE);
  int rc;
  while ((rc = mz_treewalk_step(t, 1 << 20)) == 1) {
  }
  int e = t->err_no;
  if (rc != 0 && err) snprintf(err, errlen, "%s", t->error);
  mz_treewalk_free(t);
  if (rc != 0) errno = e;
  return rc == 0 ? 0 : -1;
}
