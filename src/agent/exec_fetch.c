/* exec_fetch: the URIs of a task group given to an executor that is already
 * launched (a second LAUNCH_GROUP for the same default executor), fetched into its
 * sandbox before the group is sent to it, as Mesos fetches a nested container's.
 * The first group's URIs are fetched by the container's own child at launch
 * (executors.c); later groups go through fetch_async.h, so the loop never waits.
 *
 * While a group fetches, its tasks stay queued with `fetching` set: the executor is
 * not sent them (mz_ag_exec_flush_queue), a KILL kills them as queued tasks
 * (TASK_KILLED from the agent, tasks.c), and if the executor exits meanwhile its exit
 * gives them their terminal update and the fetch is cancelled (executors.c). When
 * the fetch ends: success -> the group's live tasks are sent; failure -> they get
 * TASK_FAILED with REASON_CONTAINER_LAUNCH_FAILED (Mesos has no fetcher reason) and a
 * message naming the URI; the executor keeps running what it ran.
 *
 * Each fetch in progress is one mz_ag_fetch on its executor's `fetches` list, owned
 * by the executor and freed when the fetch ends or is cancelled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/fetch_async.h"
#include "common/log.h"

typedef struct mz_ag_fetch {
  mz_agent *a;
  mz_ag_executor *ex;
  unsigned group;
  mz_fetch_job *job;
  struct mz_ag_fetch *prev, *next;
} mz_ag_fetch;

/* The commands with URIs of the group's live queued tasks (array malloc'd, entries borrowed). */
static const Mesos__V1__CommandInfo **group_commands(mz_ag_executor *ex, unsigned group, size_t *n) {
  const Mesos__V1__CommandInfo **cmds = mz_calloc(HASH_COUNT(ex->queued) + 1, sizeof *cmds);
  *n = 0;
  mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->queued, t, tmp) {
    if (t->group != group || mz_task_state_terminal(t->state)) continue;
    if (t->info->command && t->info->command->n_uris > 0) cmds[(*n)++] = t->info->command;
  }
  return cmds;
}

static void mark_fetching(mz_ag_executor *ex, unsigned group, int on) {
  mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->queued, t, tmp)
    if (t->group == group) t->fetching = on;
}

static size_t running_tasks(const mz_ag_executor *ex) {
  size_t n = 0;
  const mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->queued, t, tmp) n += !mz_task_state_terminal(t->state);
  HASH_ITER(hh, ex->launched, t, tmp) n += !mz_task_state_terminal(t->state);
  return n;
}

/* Every live task of the group fails; an executor left with nothing to run goes. */
static void fail_group(mz_agent *a, mz_ag_executor *ex, unsigned group, const char *why) {
  mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->queued, t, tmp) {
    if (t->group != group || mz_task_state_terminal(t->state)) continue;
    mz_agent_generate_update(a, t, MESOS__V1__TASK_STATE__TASK_FAILED, 1,
                             MESOS__V1__TASK_STATUS__REASON__REASON_CONTAINER_LAUNCH_FAILED, why);
  }
  if (running_tasks(ex) == 0 && ex->state != MZ_EXEC_TERMINATED)
    mz_ag_exec_shutdown(a, ex, 0, MESOS__V1__TASK_STATE__TASK_KILLED,
                        MESOS__V1__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED, "Executor shut down");
}

static void on_fetched(int ok, const char *error, void *arg) {
  mz_ag_fetch *f = arg;
  mz_agent *a = f->a;
  mz_ag_executor *ex = f->ex;
  unsigned group = f->group;
  DL_DELETE(ex->fetches, f);
  free(f);
  mark_fetching(ex, group, 0);
  if (!ok) {
    MZ_WARN(MZ_AGENT_MOD, "task group %u of executor %s of framework %s: %s", group, ex->id, ex->fw->id, error);
    fail_group(a, ex, group, error);
    return;
  }
  MZ_INFO(MZ_AGENT_MOD, "task group %u of executor %s of framework %s: URIs fetched", group, ex->id, ex->fw->id);
  mz_ag_exec_flush_queue(a, ex);
}

/* Who the fetcher runs as: the container's user (executors.c decides it the same way). */
static int fetch_identity(mz_agent *a, const mz_ag_executor *ex, mz_fetch_as *as, gid_t **groups, char *err,
                          size_t errlen) {
  const Mesos__V1__CommandInfo *cmd = ex->info->command;
  if (!cmd || !cmd->user || !*cmd->user || !a->flags.switch_user || geteuid() != 0) return 0;
  mz_launch_spec spec;
  memset(&spec, 0, sizeof spec);
  if (mz_ag_resolve_user(cmd->user, &spec, groups, err, errlen) != 0) return -1;
  as->switch_user = spec.switch_user;
  as->uid = spec.uid;
  as->gid = spec.gid;
  as->groups = spec.groups;
  as->ngroups = spec.ngroups;
  return 0;
}

/* Starts the child. 0, or -1 with err. */
static int start(mz_agent *a, mz_ag_executor *ex, mz_ag_fetch *f, const Mesos__V1__CommandInfo **cmds, size_t n,
                 char *err, size_t errlen) {
  if (!ex->directory) {
    snprintf(err, errlen, "the executor has no sandbox");
    return -1;
  }
  char stderr_path[4200];
  snprintf(stderr_path, sizeof stderr_path, "%s/stderr", ex->directory);
  mz_fetch_as as = {stderr_path, 0, 0, 0, NULL, 0};
  gid_t *groups = NULL;
  int rc = fetch_identity(a, ex, &as, &groups, err, errlen);
  if (rc == 0) {
    mz_fetch_request req = {.sandbox = ex->directory, .more = cmds, .nmore = n};
    char cache_dir[4400];
    mz_ag_fetch_setup(a, &req, as.switch_user, ex->info->command ? ex->info->command->user : NULL, as.uid, as.gid,
                      cache_dir, sizeof cache_dir);
    f->job = mz_fetch_job_start(a->base, &req, &as, on_fetched, f, err, errlen);
    rc = f->job ? 0 : -1;
  }
  free(groups);
  return rc;
}

void mz_ag_exec_fetch_group(mz_agent *a, mz_ag_executor *ex, unsigned group) {
  size_t n;
  const Mesos__V1__CommandInfo **cmds = group_commands(ex, group, &n);
  if (n == 0) {
    free(cmds);
    return;
  }
  mz_ag_fetch *f = mz_calloc(1, sizeof *f);
  f->a = a;
  f->ex = ex;
  f->group = group;
  char err[600];
  int rc = start(a, ex, f, cmds, n, err, sizeof err);
  free(cmds);
  if (rc != 0) {
    free(f);
    char msg[700];
    snprintf(msg, sizeof msg, "Failed to fetch the URIs of the task group: %s", err);
    MZ_WARN(MZ_AGENT_MOD, "executor %s of framework %s: %s", ex->id, ex->fw->id, msg);
    fail_group(a, ex, group, msg);
    return;
  }
  mark_fetching(ex, group, 1);
  DL_APPEND(ex->fetches, f);
  MZ_INFO(MZ_AGENT_MOD, "task group %u of executor %s of framework %s: fetching the URIs of %zu task(s) into %s",
          group, ex->id, ex->fw->id, n, ex->directory);
}

void mz_ag_exec_fetch_cancel_all(mz_ag_executor *ex) {
  mz_ag_fetch *f, *tmp;
  DL_FOREACH_SAFE(ex->fetches, f, tmp) {
    DL_DELETE(ex->fetches, f);
    mz_fetch_job_cancel(f->job);
    mark_fetching(ex, f->group, 0);
    free(f);
  }
}
