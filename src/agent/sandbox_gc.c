/* sandbox_gc: which sandbox directories the agent's gc (gc.h) is given, and when, as
 * Mesos's agent does it:
 *   - an executor run that is done: its executor dir, touched (it goes gc_delay from
 *     now), and its run dir touched too; when it was its framework's last executor,
 *     the framework's dir too, touched;
 *   - a new run: the dirs above it are no longer scheduled, and when its executor dir
 *     was, the earlier runs in it are scheduled instead, each by its modification
 *     time (Mesos schedules every run with its executor dir; this keeps one entry per
 *     executor that is done, the common case being an executor with one run);
 *   - at start, after recovery: every dir of an earlier agent id (touched), and under
 *     this agent's id each framework dir, executor dir and run dir that no recovered
 *     executor uses. Those go gc_delay after their modification time (touched when
 *     they were done), except those holding a container that this start destroyed,
 *     which was running until now: touched. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "agent/gc.h"
#include "common/log.h"

/* Cuts the last n components off p (in place). */
static void up(char *p, int n) {
  while (n-- > 0) {
    char *slash = strrchr(p, '/');
    if (!slash || slash == p) return;
    *slash = '\0';
  }
}

void mz_sandbox_gc_done(mz_agent *a, const mz_ag_executor *ex, int framework_done) {
  if (!a->gc) return;
  char p[4200];
  if (ex->directory) {
    mz_gc_touch(ex->directory); /* its runs are scheduled by their mtime if a new run comes */
    snprintf(p, sizeof p, "%s", ex->directory);
    up(p, 2); /* executors/<id> */
    mz_gc_schedule(a->gc, p, 1);
    up(p, 2); /* frameworks/<id> */
  } else if (a->agent_id) {
    snprintf(p, sizeof p, "%s/slaves/%s/frameworks/%s", a->work_dir, a->agent_id, ex->fw->id);
  } else {
    return;
  }
  if (framework_done) mz_gc_schedule(a->gc, p, 1);
}

typedef struct {
  mz_agent *a;
  char *const *destroyed; /* container ids this start destroyed */
  size_t ndestroyed;
  size_t scheduled;
} scan;

static int destroyed(const scan *s, const char *cid) {
  for (size_t i = 0; i < s->ndestroyed; i++)
    if (!strcmp(s->destroyed[i], cid)) return 1;
  return 0;
}

static void give(scan *s, const char *path, int touch) {
  mz_gc_schedule(s->a->gc, path, touch);
  s->scheduled++;
}

/* Calls f(s, dir, name, arg) for each subdirectory `name` of dir (links are not). */
static int each_dir(scan *s, const char *dir, int (*f)(scan *, const char *, const char *, void *), void *arg) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int any = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
    char p[4200];
    struct stat sb;
    if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p || lstat(p, &sb) != 0 ||
        !S_ISDIR(sb.st_mode))
      continue;
    any |= f(s, p, e->d_name, arg);
  }
  closedir(d);
  return any;
}

/* Schedules an earlier run of an executor whose dir a new run unscheduled, by its mtime. */
static int earlier_run(scan *s, const char *path, const char *cid, void *arg) {
  if (cid[0] != '.') mz_gc_schedule(s->a->gc, path, 0);
  return 0;
}

void mz_sandbox_gc_in_use(mz_agent *a, const char *dir) {
  if (!a->gc) return;
  char runs[4200], executor[4200];
  snprintf(runs, sizeof runs, "%s", dir);
  up(runs, 1);
  snprintf(executor, sizeof executor, "%s", runs);
  up(executor, 1);
  int had_runs = mz_gc_scheduled(a->gc, executor);
  mz_gc_unschedule_ancestors(a->gc, dir);
  if (!had_runs) return;
  /* Its earlier runs still go, each gc_delay after it was done ("latest" is a link: not one). */
  scan s = {a, NULL, 0, 0};
  each_dir(&s, runs, earlier_run, NULL);
}

/* The return values below: 1 when something under the dir was destroyed by this start. */
static int run_dir(scan *s, const char *path, const char *cid, void *arg) {
  const mz_ag_executor *ex = arg;
  if (ex && !strcmp(ex->container_id, cid)) return 0; /* the recovered executor's run */
  int was_running = destroyed(s, cid);
  if (ex) give(s, path, was_running);
  return was_running;
}

static int executor_dir(scan *s, const char *path, const char *eid, void *arg) {
  mz_ag_framework *fw = arg;
  mz_ag_executor *ex = fw ? mz_agent_executor(fw, eid) : NULL;
  char runs[4300];
  snprintf(runs, sizeof runs, "%s/runs", path);
  int was_running = each_dir(s, runs, run_dir, ex);
  if (!ex) give(s, path, was_running);
  return was_running;
}

static int framework_dir(scan *s, const char *path, const char *fid, void *arg) {
  mz_ag_framework *fw = mz_agent_framework(s->a, fid);
  char executors[4300];
  snprintf(executors, sizeof executors, "%s/executors", path);
  int was_running = each_dir(s, executors, executor_dir, fw);
  if (!fw) give(s, path, was_running);
  return was_running;
}

static int agent_dir(scan *s, const char *path, const char *aid, void *arg) {
  if (!s->a->agent_id || strcmp(aid, s->a->agent_id)) {
    MZ_INFO(MZ_AGENT_MOD, "gc: the directory of an earlier agent, %s, goes in gc_delay", path);
    give(s, path, 1);
    return 0;
  }
  char frameworks[4300];
  snprintf(frameworks, sizeof frameworks, "%s/frameworks", path);
  return each_dir(s, frameworks, framework_dir, NULL);
}

void mz_sandbox_gc_recovered(mz_agent *a, char *const *destroyed_ids, size_t n) {
  if (!a->gc) return;
  scan s = {a, destroyed_ids, n, 0};
  char slaves[4200];
  snprintf(slaves, sizeof slaves, "%s/slaves", a->work_dir);
  each_dir(&s, slaves, agent_dir, NULL);
  if (s.scheduled > 0)
    MZ_INFO(MZ_AGENT_MOD, "gc: %zu director%s left by an earlier run scheduled for removal", s.scheduled,
            s.scheduled == 1 ? "y" : "ies");
}
