/* gc: the agent's garbage collector of directories (the sandboxes of executors,
 * frameworks and earlier agents that are done), as Mesos's agent has it:
 *
 *   --gc_delay             a path scheduled goes gc_delay after its modification time
 *                          (the caller touches it when it is done: Mesos's os::utime);
 *   --disk_watch_interval  every interval the disk usage of the work_dir's filesystem
 *                          is read and what is older than
 *                            gc_delay * max(0, 1 - gc_disk_headroom - usage)
 *                          goes at once (a fuller disk keeps sandboxes for less long);
 *   --gc_disk_headroom.
 *
 * Removal never races a new sandbox: a path due is first renamed into
 * <work_dir>/.gc-trash (one rename, on the loop), and that copy is then removed a
 * few hundred entries per loop turn (treewalk.h), so that a large sandbox does not stall
 * the agent. What a stopped agent left in the trash is removed when it starts again.
 * A path whose rename fails (another filesystem) is removed where it is.
 *
 * Counters as Mesos's gc/path_removals_{succeeded,failed,pending} metrics. */
#ifndef MZ_AGENT_GC_H
#define MZ_AGENT_GC_H

#include <stddef.h>
#include <stdint.h>

#define MZ_GC_TRASH ".gc-trash"     /* under the work_dir */
#define MZ_GC_STEP_ENTRIES 256      /* entries removed per loop turn */

struct event_base;
typedef struct mz_gc mz_gc;

typedef struct {
  uint64_t succeeded, failed;
  size_t pending;         /* scheduled, or being removed */
  double max_allowed_age; /* seconds: gc_delay * max(0, 1 - headroom - usage) at the last disk check (gc_delay before one) */
} mz_gc_stats;

/* delay, watch_interval in seconds (watch_interval > 0); headroom in [0, 1]. The trash
 * dir is made (and what it holds starts going) here. NULL with err when it cannot be made. */
mz_gc *mz_gc_new(struct event_base *base, const char *work_dir, double delay, double headroom,
                 double watch_interval, char *err, size_t errlen);
/* Stops (what is scheduled or half removed stays on disk) and frees. NULL-safe. */
void mz_gc_free(mz_gc *gc);

/* Schedules path: it goes gc_delay after its modification time, which with touch is
 * set to now first. A path scheduled again is moved. A missing path is ignored. */
void mz_gc_schedule(mz_gc *gc, const char *path, int touch);
/* Sets path's modification time to now (what mz_gc_schedule with touch does first);
 * a failure other than a missing path is logged. */
void mz_gc_touch(const char *path);
/* Unschedules path and every scheduled directory above it (a new sandbox is made
 * under them). */
void mz_gc_unschedule_ancestors(mz_gc *gc, const char *path);
/* Moves path into the trash now, to be removed there in the background (not counted
 * in the metrics: it was not scheduled). 0, or -1 with errno when it cannot be moved
 * (nothing was done). */
int mz_gc_discard(mz_gc *gc, const char *path);
/* 1 when path is scheduled. */
int mz_gc_scheduled(const mz_gc *gc, const char *path);

void mz_gc_stats_get(const mz_gc *gc, mz_gc_stats *st);

/* The fraction of path's filesystem in use: Mesos's fs::usage, (blocks - free
 * blocks) / blocks, or the fraction of its inodes in use when that is larger (every
 * sandbox takes a few inodes: a filesystem out of them is full too). -1 when statvfs
 * fails. */
double mz_gc_disk_usage(const char *path);

#endif
