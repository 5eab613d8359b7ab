/* container_journal: see container_journal.h. Live records sit in a uthash table
 * keyed by id and in a list in the order they were added; the file's fd stays open
 * for appends. */
#include "agent/container_journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uthash.h>
#include <utlist.h>

#include "common/log.h"
#include "common/util.h"

#define MOD "containerizer"
#define LINE_MAX_LEN (MZ_CJOURNAL_ID_MAX + 64)

typedef struct entry {
  char *id;
  pid_t pid;
  unsigned long long start;
  UT_hash_handle hh;
  struct entry *prev, *next;
} entry;

struct mz_cjournal {
  char *dir;
  char *path;
  int fd;
  entry *by_id;
  entry *order;
  size_t live;
  size_t lines;
};

static int valid_id(const char *id) {
  size_t n = id ? strlen(id) : 0;
  if (n == 0 || n > MZ_CJOURNAL_ID_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)id[i] <= ' ' || id[i] == 0x7f || id[i] == '/') return 0;
  return strcmp(id, ".") && strcmp(id, "..");
}

static void put(mz_cjournal *j, const char *id, pid_t pid, unsigned long long start) {
  entry *e;
  HASH_FIND_STR(j->by_id, id, e);
  if (!e) {
    e = mz_calloc(1, sizeof *e);
    e->id = mz_strdup(id);
    HASH_ADD_KEYPTR(hh, j->by_id, e->id, strlen(e->id), e);
    DL_APPEND(j->order, e);
    j->live++;
  }
  e->pid = pid;
  e->start = start;
}

static void drop(mz_cjournal *j, entry *e) {
  HASH_DEL(j->by_id, e);
  DL_DELETE(j->order, e);
  j->live--;
  free(e->id);
  free(e);
}

/* One line of the file; 1 when it was taken in. */
static int replay(mz_cjournal *j, char *line) {
  char id[MZ_CJOURNAL_ID_MAX + 2];
  int pid = 0;
  unsigned long long start = 0;
  if (line[0] == '+' && sscanf(line, "+ %256s %d %llu", id, &pid, &start) == 3 && valid_id(id) && (pid == 0 || pid > 1)) {
    put(j, id, (pid_t)pid, start);
    return 1;
  }
  if (line[0] == '-' && sscanf(line, "- %256s", id) == 1 && valid_id(id)) {
    entry *e;
    HASH_FIND_STR(j->by_id, id, e);
    if (e) drop(j, e);
    return 1;
  }
  return 0;
}

static void load_file(mz_cjournal *j) {
  FILE *f = fopen(j->path, "re");
  if (!f) return;
  char line[LINE_MAX_LEN + 2];
  size_t bad = 0;
  while (fgets(line, sizeof line, f)) {
    size_t n = strlen(line);
    if (n == 0 || line[n - 1] != '\n') { /* too long, or torn at the end: skip the rest of it */
      int ch;
      while (n == sizeof line - 1 && (ch = fgetc(f)) != EOF && ch != '\n') {
      }
      bad++;
      continue;
    }
    if (!replay(j, line)) bad++;
  }
  fclose(f);
  if (bad) MZ_WARN(MOD, "%s: %zu line%s not understood (ignored)", j->path, bad, bad == 1 ? "" : "s");
}

/* Records of earlier versions: a file per container holding "<pid> <starttime>". */
static void load_legacy(mz_cjournal *j, char ***legacy, size_t *nlegacy) {
  DIR *d = opendir(j->dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!valid_id(e->d_name) || !strcmp(e->d_name, "journal") || !strcmp(e->d_name, "journal.tmp")) continue;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", j->dir, e->d_name);
    FILE *f = fopen(path, "re");
    if (!f) continue;
    int pid = 0;
    unsigned long long start = 0;
    if (fscanf(f, "%d %llu", &pid, &start) == 2 && pid > 1) put(j, e->d_name, (pid_t)pid, start);
    fclose(f);
    *legacy = mz_realloc(*legacy, (*nlegacy + 1) * sizeof **legacy);
    (*legacy)[(*nlegacy)++] = mz_strdup(path);
  }
  closedir(d);
}

/* Rewrites the file with the live records and reopens it for appends. */
static int compact(mz_cjournal *j, char *err, size_t errlen) {
  char tmp[4400];
  snprintf(tmp, sizeof tmp, "%s.tmp", j->path);
  FILE *f = fopen(tmp, "we");
  if (!f) {
    snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    return -1;
  }
  entry *e;
  DL_FOREACH(j->order, e) fprintf(f, "+ %s %d %llu\n", e->id, (int)e->pid, e->start);
  int rc = ferror(f) ? -1 : 0;
  if (fclose(f) != 0) rc = -1;
  if (rc != 0 || rename(tmp, j->path) != 0) {
    snprintf(err, errlen, "cannot write %s: %s", j->path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  int afd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (afd < 0) {
    snprintf(err, errlen, "cannot open %s: %s", j->path, strerror(errno));
    return -1;
  }
  if (j->fd >= 0) close(j->fd);
  j->fd = afd;
  j->lines = j->live;
  return 0;
}

mz_cjournal *mz_cjournal_open(const char *dir, char *err, size_t errlen) {
  mz_cjournal *j = mz_calloc(1, sizeof *j);
  j->fd = -1;
  j->dir = mz_strdup(dir);
  size_t n = strlen(dir) + sizeof "/journal";
  j->path = mz_malloc(n);
  snprintf(j->path, n, "%s/journal", dir);
  load_file(j);
  char **legacy = NULL;
  size_t nlegacy = 0;
  load_legacy(j, &legacy, &nlegacy);
  int rc = compact(j, err, errlen);
  for (size_t i = 0; i < nlegacy; i++) {
    if (rc == 0) unlink(legacy[i]); /* now in the journal */
    free(legacy[i]);
  }
  free(legacy);
  if (rc != 0) {
    mz_cjournal_free(j);
    return NULL;
  }
  return j;
}

void mz_cjournal_free(mz_cjournal *j) {
  if (!j) return;
  entry *e, *tmp;
  HASH_ITER(hh, j->by_id, e, tmp) drop(j, e);
  if (j->fd >= 0) close(j->fd);
  free(j->path);
  free(j->dir);
  free(j);
}

static void append(mz_cjournal *j, const char *line, size_t n) {
  if (mz_write_all(j->fd, line, n) != 0) {
    MZ_WARN(MOD, "cannot append to %s: %s", j->path, strerror(errno));
    return;
  }
  j->lines++;
  if (j->lines > 2 * j->live + MZ_CJOURNAL_SLACK) {
    char err[512];
    if (compact(j, err, sizeof err) != 0) MZ_WARN(MOD, "%s", err);
  }
}

int mz_cjournal_add(mz_cjournal *j, const char *id, pid_t pid, unsigned long long starttime) {
  if (!valid_id(id) || pid < 0 || pid == 1) return -1;
  put(j, id, pid, starttime);
  char line[LINE_MAX_LEN];
  int n = snprintf(line, sizeof line, "+ %s %d %llu\n", id, (int)pid, starttime);
  append(j, line, (size_t)n);
  return 0;
}

void mz_cjournal_remove(mz_cjournal *j, const char *id) {
  entry *e;
  HASH_FIND_STR(j->by_id, id, e);
  if (!e) return;
  drop(j, e);
  char line[LINE_MAX_LEN];
  int n = snprintf(line, sizeof line, "- %s\n", id);
  append(j, line, (size_t)n);
}

size_t mz_cjournal_list(const mz_cjournal *j, const char **ids, pid_t *pids, unsigned long long *starts, size_t max) {
  size_t i = 0;
  entry *e;
  DL_FOREACH(j->order, e) {
    if (i >= max) break;
    if (ids) ids[i] = e->id;
    if (pids) pids[i] = e->pid;
    if (starts) starts[i] = e->start;
    i++;
  }
  return j->live;
}

int mz_cjournal_get(const mz_cjournal *j, const char *id, pid_t *pid, unsigned long long *starttime) {
  entry *e;
  HASH_FIND_STR(j->by_id, id, e);
  if (!e) return 0;
  if (pid) *pid = e->pid;
  if (starttime) *starttime = e->start;
  return 1;
}

size_t mz_cjournal_lines(const mz_cjournal *j) { return j->lines; }
