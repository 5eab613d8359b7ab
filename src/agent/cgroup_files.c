/* cgroup_files: see cgroup_files.h. A set is a table of fds, one per (hierarchy,
 * kept name), -1 where not open. Every set is in a list (so that freeing closes the
 * detached ones too); attached sets are also in a uthash table by container id. */
#include "agent/cgroup_files.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uthash.h>
#include <utlist.h>

#include "common/util.h"

#define ID_MAX 64 /* container ids are UUIDs; longer ones keep no files */
#define SETS_LIMIT 256

/* The files kept, with the flags they are opened with, and whether they are settings
 * (a value written again changes nothing, and only the agent writes them). */
static const struct {
  const char *name;
  int mode, setting;
} kept_names[] = {
    {"cgroup.procs", O_WRONLY, 0},
    {"cpu.shares", O_RDWR, 1},
    {"cpu.cfs_quota_us", O_RDWR, 1},
    {"memory.limit_in_bytes", O_RDWR, 1},
    {"memory.memsw.limit_in_bytes", O_RDWR, 1},
    {"cpuacct.usage", O_RDWR, 0},
    {"memory.max_usage_in_bytes", O_RDWR, 0},
    {"memory.oom_control", O_RDONLY, 0},
    {MZ_CG_FILES_OOM_EVENTFD, O_RDWR, 0}, /* not a file: made and registered by isolation.c */
    {"memory.usage_in_bytes", O_RDONLY, 0},
    {"pids.current", O_RDONLY, 0},
    {"freezer.state", O_RDWR, 0},
};
#define NAMES (sizeof kept_names / sizeof kept_names[0])

struct mz_cg_fileset {
  char id[ID_MAX]; /* "" while detached */
  int fd[MZ_CG_FILES_HIERARCHIES][NAMES];
  char *written[MZ_CG_FILES_HIERARCHIES][NAMES]; /* a setting's value, when known */
  size_t nfds;
  UT_hash_handle hh;
  struct mz_cg_fileset *prev, *next; /* every set */
};

struct mz_cg_files {
  mz_cg_fileset *by_id; /* attached sets */
  mz_cg_fileset *all;
  size_t sets, max_sets;
};

static int name_index(const char *name) {
  for (size_t i = 0; i < NAMES; i++)
    if (!strcmp(kept_names[i].name, name)) return (int)i;
  return -1;
}

mz_cg_files *mz_cg_files_new(size_t max_sets) {
  mz_cg_files *f = mz_calloc(1, sizeof *f);
  f->max_sets = max_sets;
  return f;
}

size_t mz_cg_files_max_sets(unsigned long long nofile) {
  /* A quarter of the open files at most, for the sets' files. */
  unsigned long long n = nofile / (4 * MZ_CG_FILES_PER_SET);
  return n > SETS_LIMIT ? SETS_LIMIT : (size_t)n;
}

int mz_cg_files_mode(const char *name) {
  int i = name_index(name);
  return i < 0 ? -1 : kept_names[i].mode;
}

static void close_set(mz_cg_files *f, mz_cg_fileset *s) {
  for (int c = 0; c < MZ_CG_FILES_HIERARCHIES; c++)
    for (size_t i = 0; i < NAMES; i++) {
      if (s->fd[c][i] >= 0) close(s->fd[c][i]);
      free(s->written[c][i]);
    }
  DL_DELETE(f->all, s);
  f->sets--;
  free(s);
}

void mz_cg_files_free(mz_cg_files *f) {
  if (!f) return;
  HASH_CLEAR(hh, f->by_id);
  while (f->all) close_set(f, f->all);
  free(f);
}

mz_cg_fileset *mz_cg_files_of(mz_cg_files *f, const char *id, int make) {
  mz_cg_fileset *s = NULL;
  size_t n = strlen(id);
  if (!n || n >= ID_MAX) return NULL;
  HASH_FIND(hh, f->by_id, id, n, s);
  if (s || !make || f->sets >= f->max_sets) return s;
  s = mz_calloc(1, sizeof *s);
  for (int c = 0; c < MZ_CG_FILES_HIERARCHIES; c++)
    for (size_t i = 0; i < NAMES; i++) s->fd[c][i] = -1;
  f->sets++;
  DL_APPEND(f->all, s);
  memcpy(s->id, id, n + 1);
  HASH_ADD(hh, f->by_id, id[0], n, s);
  return s;
}

int mz_cg_fileset_fd(const mz_cg_fileset *s, int c, const char *name) {
  int i = name_index(name);
  if (!s || i < 0 || c < 0 || c >= MZ_CG_FILES_HIERARCHIES) return -1;
  return s->fd[c][i];
}

int mz_cg_fileset_keep(mz_cg_fileset *s, int c, const char *name, int fd, int *kept) {
  *kept = 0;
  int i = name_index(name);
  if (!s || i < 0 || c < 0 || c >= MZ_CG_FILES_HIERARCHIES || s->fd[c][i] >= 0 || fd < 0) return fd;
  int high = fd;
  if (fd < MZ_CG_FILES_FD_MIN) {
    high = fcntl(fd, F_DUPFD_CLOEXEC, MZ_CG_FILES_FD_MIN);
    if (high < 0) return fd;
    close(fd);
  }
  s->fd[c][i] = high;
  s->nfds++;
  *kept = 1;
  return high;
}

int mz_cg_fileset_holds(const mz_cg_fileset *s, int c, const char *name, const char *value) {
  int i = name_index(name);
  if (!s || i < 0 || c < 0 || c >= MZ_CG_FILES_HIERARCHIES || !s->written[c][i]) return 0;
  return !strcmp(s->written[c][i], value);
}

void mz_cg_fileset_wrote(mz_cg_fileset *s, int c, const char *name, const char *value) {
  int i = name_index(name);
  if (!s || i < 0 || c < 0 || c >= MZ_CG_FILES_HIERARCHIES || !kept_names[i].setting) return;
  if (value && s->written[c][i] && !strcmp(s->written[c][i], value)) return;
  free(s->written[c][i]);
  s->written[c][i] = value ? mz_strdup(value) : NULL;
}

mz_cg_fileset *mz_cg_files_detach(mz_cg_files *f, const char *id) {
  mz_cg_fileset *s = NULL;
  size_t n = strlen(id);
  if (!n || n >= ID_MAX) return NULL;
  HASH_FIND(hh, f->by_id, id, n, s);
  if (!s) return NULL;
  HASH_DEL(f->by_id, s);
  s->id[0] = '\0';
  return s;
}

void mz_cg_files_attach(mz_cg_files *f, mz_cg_fileset *s, const char *id) {
  mz_cg_fileset *old = mz_cg_files_detach(f, id);
  if (old) mz_cg_files_drop(f, old);
  if (!s) return;
  size_t n = strlen(id);
  if (!n || n >= ID_MAX) {
    mz_cg_files_drop(f, s);
    return;
  }
  memcpy(s->id, id, n + 1);
  HASH_ADD(hh, f->by_id, id[0], n, s);
}

void mz_cg_files_drop(mz_cg_files *f, mz_cg_fileset *s) {
  if (!s) return;
  if (s->id[0]) HASH_DEL(f->by_id, s);
  close_set(f, s);
}

size_t mz_cg_files_sets(const mz_cg_files *f) {
  return f->sets;
}

size_t mz_cg_files_fds(const mz_cg_files *f) {
  size_t n = 0;
  for (const mz_cg_fileset *s = f->all; s; s = s->next) n += s->nfds;
  return n;
}
