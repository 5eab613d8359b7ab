/* gc: see gc.h. The scheduled paths are a binary min-heap on their due time (wall
 * clock: due = mtime + gc_delay) with a hash by path for unscheduling; one timer
 * stands at the earliest due time. Removals are jobs in a FIFO, worked off by a
 * zero-delay timer (so the loop serves its sockets between two steps). */
#include "agent/gc.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <uthash.h>

#include "agent/treewalk.h"
#include "common/log.h"
#include "common/util.h"

#define MOD "agent"

typedef struct gc_entry {
  char *path;
  double due; /* wall clock */
  size_t idx; /* in the heap */
  UT_hash_handle hh;
} gc_entry;

typedef struct gc_job {
  char *path;  /* what to remove: a trash entry, or a scheduled path in place */
  char *shown; /* the scheduled path, for the log */
  int counted; /* 1: a scheduled path (metrics); 0: trash left by an earlier run */
  struct gc_job *next;
} gc_job;

struct mz_gc {
  struct event_base *base;
  char *work_dir, *trash;
  double delay, headroom, interval;
  double max_age; /* at the last disk check */
  gc_entry **heap;
  size_t n, cap;
  gc_entry *by_path;
  struct event *due_timer, *watch_timer, *step_timer;
  gc_job *head, *tail;
  size_t counted_jobs;
  mz_treewalk *cur; /* removing head */
  uint64_t succeeded, failed;
  unsigned seq;
  long started; /* time(), in trash names */
};

/* ------------------------------------------------------------------ the heap */
static void place(mz_gc *gc, size_t i, gc_entry *e) {
  gc->heap[i] = e;
  e->idx = i;
}

static void sift_up(mz_gc *gc, size_t i) {
  gc_entry *e = gc->heap[i];
  while (i > 0 && gc->heap[(i - 1) / 2]->due > e->due) {
    place(gc, i, gc->heap[(i - 1) / 2]);
    i = (i - 1) / 2;
  }
  place(gc, i, e);
}

static void sift_down(mz_gc *gc, size_t i) {
  gc_entry *e = gc->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= gc->n) break;
    if (c + 1 < gc->n && gc->heap[c + 1]->due < gc->heap[c]->due) c++;
    if (gc->heap[c]->due >= e->due) break;
    place(gc, i, gc->heap[c]);
    i = c;
  }
  place(gc, i, e);
}

static void heap_push(mz_gc *gc, gc_entry *e) {
  if (gc->n == gc->cap) {
    gc->cap = gc->cap ? gc->cap * 2 : 64;
    gc->heap = mz_realloc(gc->heap, gc->cap * sizeof *gc->heap);
  }
  place(gc, gc->n++, e);
  sift_up(gc, e->idx);
}

static void heap_remove(mz_gc *gc, gc_entry *e) {
  size_t i = e->idx;
  gc_entry *last = gc->heap[--gc->n];
  if (i == gc->n) return;
  place(gc, i, last);
  sift_down(gc, i);
  sift_up(gc, last->idx);
}

static void entry_drop(mz_gc *gc, gc_entry *e) {
  heap_remove(gc, e);
  HASH_DEL(gc->by_path, e);
  free(e->path);
  free(e);
}

static void arm_due(mz_gc *gc) {
  if (gc->n == 0) {
    evtimer_del(gc->due_timer);
    return;
  }
  mz_timer_in(gc->due_timer, fmin(gc->heap[0]->due - mz_now(), 1e8)); /* years away at most */
}

/* ------------------------------------------------------------------ removal */
static void enqueue(mz_gc *gc, const char *path, const char *shown, int counted) {
  gc_job *j = mz_calloc(1, sizeof *j);
  j->path = mz_strdup(path);
  j->shown = mz_strdup(shown);
  j->counted = counted;
  if (gc->tail) gc->tail->next = j;
  else gc->head = j;
  gc->tail = j;
  if (counted) gc->counted_jobs++;
  if (!evtimer_pending(gc->step_timer, NULL)) mz_timer_in(gc->step_timer, 0);
}

static void on_step(evutil_socket_t fd, short what, void *arg) {
  mz_gc *gc = arg;
  gc_job *j = gc->head;
  if (!j) return;
  if (!gc->cur) gc->cur = mz_treewalk_start(j->path, MZ_WALK_REMOVE);
  int rc = mz_treewalk_step(gc->cur, MZ_GC_STEP_ENTRIES);
  if (rc == 1) {
    mz_timer_in(gc->step_timer, 0);
    return;
  }
  if (rc == 0) {
    MZ_DEBUG(MOD, "gc: removed %s", j->shown);
    if (j->counted) gc->succeeded++;
  } else {
    MZ_WARN(MOD, "gc: cannot remove all of %s: %s", j->shown, mz_treewalk_error(gc->cur));
    if (j->counted) gc->failed++;
  }
  mz_treewalk_free(gc->cur);
  gc->cur = NULL;
  if (j->counted) gc->counted_jobs--;
  gc->head = j->next;
  if (!gc->head) gc->tail = NULL;
  free(j->path);
  free(j->shown);
  free(j);
  if (gc->head) mz_timer_in(gc->step_timer, 0);
}

/* Renames path into the trash and queues its removal there. 0, or -1 with errno. */
static int to_trash(mz_gc *gc, const char *path, int counted) {
  char dst[4200];
  snprintf(dst, sizeof dst, "%s/%ld-%d-%u", gc->trash, gc->started, (int)getpid(), ++gc->seq);
  if (rename(path, dst) != 0) return -1;
  enqueue(gc, dst, path, counted);
  return 0;
}

int mz_gc_discard(mz_gc *gc, const char *path) { return to_trash(gc, path, 0); }

/* A scheduled path is due: renamed into the trash (then removed from there), or
 * removed in place when it cannot be renamed. */
static void remove_now(mz_gc *gc, const char *path) {
  MZ_INFO(MOD, "gc: removing %s", path);
  if (to_trash(gc, path, 1) == 0) {
    /* removed from the trash, a step at a time */
  } else if (errno == ENOENT) {
    gc->succeeded++; /* gone already (e.g. with a directory above it) */
  } else {
    MZ_DEBUG(MOD, "gc: cannot move %s to the trash (%s): removing it in place", path, strerror(errno));
    enqueue(gc, path, path, 1);
  }
}

/* Removes every scheduled path due by `by` (wall clock). The number removed. */
static size_t collect(mz_gc *gc, double by) {
  size_t k = 0;
  while (gc->n > 0 && gc->heap[0]->due <= by) {
    gc_entry *e = gc->heap[0];
    char *path = e->path;
    e->path = NULL;
    entry_drop(gc, e);
    remove_now(gc, path);
    free(path);
    k++;
  }
  return k;
}

static void on_due(evutil_socket_t fd, short what, void *arg) {
  mz_gc *gc = arg;
  collect(gc, mz_now());
  arm_due(gc);
}

double mz_gc_disk_usage(const char *path) {
  struct statvfs sv;
  if (statvfs(path, &sv) != 0 || sv.f_blocks == 0) return -1;
  double blocks = (double)(sv.f_blocks - sv.f_bfree) / (double)sv.f_blocks;
  double inodes = sv.f_files > 0 ? (double)(sv.f_files - sv.f_ffree) / (double)sv.f_files : 0;
  return blocks > inodes ? blocks : inodes;
}

/* Mesos's _checkDiskUsage: what is older than the age the disk allows goes now. */
static void on_watch(evutil_socket_t fd, short what, void *arg) {
  mz_gc *gc = arg;
  mz_timer_in(gc->watch_timer, gc->interval);
  double usage = mz_gc_disk_usage(gc->work_dir);
  if (usage < 0) {
    MZ_WARN(MOD, "gc: cannot read the disk usage of %s: %s", gc->work_dir, strerror(errno));
    return;
  }
  double max_age = gc->max_age = gc->delay * fmax(0.0, 1.0 - gc->headroom - usage);
  size_t k = collect(gc, mz_now() + (gc->delay - max_age));
  if (k > 0)
    MZ_INFO(MOD, "gc: disk usage %.2f%%, so directories older than %.0fs go: %zu removed", 100 * usage, max_age, k);
  else
    MZ_DEBUG(MOD, "gc: disk usage %.2f%%, max allowed age %.0fs", 100 * usage, max_age);
  arm_due(gc);
}

/* ------------------------------------------------------------------ the API */
mz_gc *mz_gc_new(struct event_base *base, const char *work_dir, double delay, double headroom,
                 double watch_interval, char *err, size_t errlen) {
  size_t n = strlen(work_dir) + sizeof MZ_GC_TRASH + 2;
  char *trash = mz_malloc(n);
  snprintf(trash, n, "%s/%s", work_dir, MZ_GC_TRASH);
  if (mkdir(trash, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot make %s: %s", trash, strerror(errno));
    free(trash);
    return NULL;
  }
  mz_gc *gc = mz_calloc(1, sizeof *gc);
  gc->base = base;
  gc->work_dir = mz_strdup(work_dir);
  gc->trash = trash;
  gc->delay = delay;
  gc->headroom = headroom;
  gc->interval = watch_interval;
  gc->max_age = delay;
  gc->started = (long)time(NULL);
  gc->due_timer = evtimer_new(base, on_due, gc);
  gc->watch_timer = evtimer_new(base, on_watch, gc);
  gc->step_timer = evtimer_new(base, on_step, gc);
  mz_timer_in(gc->watch_timer, 0);
  /* What an earlier run moved to the trash and had not removed yet. */
  DIR *d = opendir(trash);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", trash, e->d_name);
    enqueue(gc, p, p, 0);
  }
  if (d) closedir(d);
  return gc;
}

void mz_gc_free(mz_gc *gc) {
  if (!gc) return;
  while (gc->n > 0) entry_drop(gc, gc->heap[0]);
  free(gc->heap);
  mz_treewalk_free(gc->cur);
  while (gc->head) {
    gc_job *j = gc->head;
    gc->head = j->next;
    free(j->path);
    free(j->shown);
    free(j);
  }
  event_free(gc->due_timer);
  event_free(gc->watch_timer);
  event_free(gc->step_timer);
  free(gc->work_dir);
  free(gc->trash);
  free(gc);
}

void mz_gc_touch(const char *path) {
  if (utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW) != 0 && errno != ENOENT)
    MZ_WARN(MOD, "gc: cannot touch %s: %s", path, strerror(errno));
}

void mz_gc_schedule(mz_gc *gc, const char *path, int touch) {
  struct stat sb;
  if (touch) mz_gc_touch(path);
  if (lstat(path, &sb) != 0) return;
  double due = (double)sb.st_mtim.tv_sec + sb.st_mtim.tv_nsec / 1e9 + gc->delay;
  gc_entry *e;
  HASH_FIND_STR(gc->by_path, path, e);
  if (e) {
    e->due = due;
    sift_down(gc, e->idx);
    sift_up(gc, e->idx);
  } else {
    e = mz_calloc(1, sizeof *e);
    e->path = mz_strdup(path);
    e->due = due;
    HASH_ADD_KEYPTR(hh, gc->by_path, e->path, strlen(e->path), e);
    heap_push(gc, e);
  }
  MZ_DEBUG(MOD, "gc: %s goes in %.0fs", path, due - mz_now());
  if (gc->heap[0] == e) arm_due(gc);
}

void mz_gc_unschedule_ancestors(mz_gc *gc, const char *path) {
  if (gc->n == 0) return;
  char *p = mz_strdup(path);
  int dropped = 0;
  for (size_t len = strlen(p); len > 1;) {
    gc_entry *e;
    HASH_FIND(hh, gc->by_path, p, len, e);
    if (e) {
      MZ_DEBUG(MOD, "gc: %s is in use again", e->path);
      entry_drop(gc, e);
      dropped = 1;
    }
    while (len > 0 && p[len - 1] != '/') len--;
    while (len > 1 && p[len - 1] == '/') len--;
    p[len] = '\0';
  }
  free(p);
  if (dropped) arm_due(gc);
}

int mz_gc_scheduled(const mz_gc *gc, const char *path) {
  gc_entry *e;
  HASH_FIND_STR(gc->by_path, path, e);
  return e != NULL;
}

void mz_gc_stats_get(const mz_gc *gc, mz_gc_stats *st) {
  st->succeeded = gc->succeeded;
  st->failed = gc->failed;
  st->pending = gc->n + gc->counted_jobs;
  st->max_allowed_age = gc->max_age;
}
