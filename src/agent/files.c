/* files: the agent's observability endpoints over its containers and sandboxes.
 *   GET /monitor/statistics(.json)  [{executor_id, executor_name, framework_id, source,
 *                                     statistics: {timestamp, cpus_user_time_secs,
 *                                     cpus_system_time_secs, cpus_limit, mem_rss_bytes,
 *                                     mem_limit_bytes, processes}}] for running containers,
 *                                    from cgroups or /proc (launcher usage)
 *   GET /containers                  the same entries with container_id and status
 *                                    {container_id, executor_pid} (Mesos's filters:
 *                                    ?container_id=, ?framework_id=[&executor_id=])
 *   GET /files/browse, read, download, debug (common/files_http.h) over the sandboxes:
 * a path is a sandbox's real path, its runs/latest link, or Mesos's virtual path
 * /frameworks/<fid>/executors/<eid>/runs/latest (the latest run of that executor);
 * or /slave/log, the agent's own log file when it has one (--log_dir), as in Mesos.
 * Paths are confined to the sandboxes of the executors the agent knows (running and
 * completed): a path with a ".." component is refused with 403; a path that resolves
 * (symlinks followed) outside every sandbox is refused with 403; one that does not
 * exist is 404. /files/debug maps every path served for a run to its sandbox, and
 * /slave/log to its file. Nothing is kept between requests. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/agent.h"
#include "agent/containerizer.h"
#include "common/http.h"
#include "common/log.h"

/* ------------------------------------------------------------------ /monitor/statistics */

/* ex's entry of /monitor/statistics, or with container (of /containers) its container's id
 * and status too; NULL when its container has no usage to show. */
static json_t *executor_stats(mz_agent *a, mz_ag_executor *ex, int container) {
  mz_container_usage u;
  if (mz_containerizer_usage(a->containerizer, ex->container_id, &u) != 0) return NULL;
  json_t *s = json_object();
  json_object_set_new(s, "timestamp", json_real(mz_now()));
  json_object_set_new(s, "cpus_user_time_secs", json_real(u.cpus_user_time_secs));
  json_object_set_new(s, "cpus_system_time_secs", json_real(u.cpus_system_time_secs));
  if (ex->cpus_limit > 0) json_object_set_new(s, "cpus_limit", json_real(ex->cpus_limit));
  json_object_set_new(s, "mem_rss_bytes", json_integer((json_int_t)u.mem_rss_bytes));
  json_object_set_new(s, "mem_total_bytes", json_integer((json_int_t)u.mem_total_bytes));
  if (ex->mem_limit_bytes > 0) json_object_set_new(s, "mem_limit_bytes", json_integer((json_int_t)ex->mem_limit_bytes));
  json_object_set_new(s, "processes", json_integer((json_int_t)u.processes));
  if (ex->disk_measured) { /* disk/du */
    json_object_set_new(s, "disk_used_bytes", json_integer((json_int_t)ex->disk_used_bytes));
    if (ex->disk_limit_bytes) json_object_set_new(s, "disk_limit_bytes", json_integer((json_int_t)ex->disk_limit_bytes));
  }
  json_t *j = json_object();
  json_object_set_new(j, "executor_id", json_string(ex->id));
  json_object_set_new(j, "executor_name", json_string(ex->info->name ? ex->info->name : ""));
  json_object_set_new(j, "framework_id", json_string(ex->fw->id));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  json_object_set_new(j, "source", json_string(ex->info->source ? ex->info->source : ""));
#pragma GCC diagnostic pop
  json_object_set_new(j, "statistics", s);
  if (container) {
    json_object_set_new(j, "container_id", json_string(ex->container_id));
    json_t *st = json_object(), *cid = json_object();
    json_object_set_new(cid, "value", json_string(ex->container_id));
    json_object_set_new(st, "container_id", cid);
    json_object_set_new(st, "executor_pid", json_integer(ex->pid));
    json_object_set_new(j, "status", st);
  }
  return j;
}

/* The running executors' entries (container: as /containers shows them), those of framework
 * fid (NULL: all) and executor eid (NULL: all) or of container cid (NULL: all). */
static json_t *executors_stats(mz_agent *a, int container, const char *fid, const char *eid, const char *cid) {
  json_t *arr = json_array();
  mz_ag_framework *fw, *ftmp;
  HASH_ITER(hh, a->frameworks, fw, ftmp) {
    if (fid && strcmp(fw->id, fid) != 0) continue;
    mz_ag_executor *ex, *etmp;
    HASH_ITER(hh, fw->executors, ex, etmp) {
      if (ex->state == MZ_EXEC_TERMINATED || ex->pid <= 0) continue;
      if ((eid && strcmp(ex->id, eid) != 0) || (cid && strcmp(ex->container_id, cid) != 0)) continue;
      json_t *j = executor_stats(a, ex, container);
      if (j) json_array_append_new(arr, j);
    }
  }
  return arr;
}

static void handle_statistics(mz_http_req *r, void *arg) {
  if (mz_http_only_get(r)) mz_http_reply_jsonp(r, executors_stats(arg, 0, NULL, NULL, NULL));
}

/* GET /containers[?container_id=C | ?framework_id=F[&executor_id=E]]: Mesos's query rules. */
static void handle_containers(mz_http_req *r, void *arg) {
  if (!mz_http_only_get(r)) return;
  const char *q = mz_http_req_query(r);
  size_t n = strlen(q) + 1; /* no value is longer than the query */
  char *cid = mz_malloc(n), *fid = mz_malloc(n), *eid = mz_malloc(n);
  int has_c = mz_http_query_get(q, "container_id", cid, n) == 0;
  int has_f = mz_http_query_get(q, "framework_id", fid, n) == 0;
  int has_e = mz_http_query_get(q, "executor_id", eid, n) == 0;
  if ((has_c && (has_f || has_e)) || (has_e && !has_f))
    mz_http_reply_error(r, 400, "Supported query parameters are container_id only, framework_id only, or "
                                "executor_id and framework_id only");
  else
    mz_http_reply_jsonp(r, executors_stats(arg, 1, has_f ? fid : NULL, has_e ? eid : NULL, has_c ? cid : NULL));
  free(cid);
  free(fid);
  free(eid);
}

/* ------------------------------------------------------------------ confinement */

static int has_dotdot(const char *p) {
  const char *s = p;
  while (*s) {
    size_t n = strcspn(s, "/");
    if (n == 2 && s[0] == '.' && s[1] == '.') return 1;
    s += n;
    while (*s == '/') s++;
  }
  return 0;
}

static int inside(const char *real, const char *dir) {
  char rdir[PATH_MAX];
  if (!dir || !realpath(dir, rdir)) return 0;
  size_t n = strlen(rdir);
  return !strncmp(real, rdir, n) && (real[n] == '\0' || real[n] == '/');
}

static int framework_has(mz_ag_framework *fw, const char *real) {
  mz_ag_executor *ex, *etmp;
  HASH_ITER(hh, fw->executors, ex, etmp) if (inside(real, ex->directory)) return 1;
  DL_FOREACH(fw->completed, ex) if (inside(real, ex->directory)) return 1;
  return 0;
}

static int in_some_sandbox(mz_agent *a, const char *real) {
  mz_ag_framework *fw, *ftmp;
  HASH_ITER(hh, a->frameworks, fw, ftmp) if (framework_has(fw, real)) return 1;
  DL_FOREACH(a->completed_frameworks, fw) if (framework_has(fw, real)) return 1;
  return 0;
}

/* The sandbox of framework fid's executor eid whose run is the latest: the running one, else
 * the last one to complete. NULL when the agent knows none. */
static const char *latest_run_dir(mz_agent *a, const char *fid, const char *eid) {
  mz_ag_framework *fw = mz_agent_framework(a, fid), *f;
  if (!fw) DL_FOREACH(a->completed_frameworks, f) if (!strcmp(f->id, fid)) fw = f;
  if (!fw) return NULL;
  mz_ag_executor *ex = mz_agent_executor(fw, eid);
  if (ex) return ex->directory;
  const char *dir = NULL;
  DL_FOREACH(fw->completed, ex) if (!strcmp(ex->id, eid)) dir = ex->directory;
  return dir;
}

/* Mesos's virtual path of a sandbox, /frameworks/<fid>/executors/<eid>/runs/latest[/<rest>], as the
 * real path it stands for (into out, PATH_MAX). 1 when path is one (out set, or 404 in *status when
 * the agent knows no such executor), 0 when it is not. */
static int virtual_sandbox_path(mz_agent *a, const char *path, char *out, int *status, char *err, size_t errlen) {
  static const char frameworks[] = "/frameworks/", executors[] = "/executors/", runs[] = "/runs/latest";
  if (strncmp(path, frameworks, sizeof frameworks - 1) != 0) return 0;
  const char *fid = path + sizeof frameworks - 1;
  size_t fidlen = strcspn(fid, "/");
  const char *p = fid + fidlen;
  if (fidlen == 0 || strncmp(p, executors, sizeof executors - 1) != 0) return 0;
  const char *eid = p + sizeof executors - 1;
  size_t eidlen = strcspn(eid, "/");
  p = eid + eidlen;
  if (eidlen == 0 || strncmp(p, runs, sizeof runs - 1) != 0 || (p[sizeof runs - 1] && p[sizeof runs - 1] != '/'))
    return 0;
  const char *rest = p + sizeof runs - 1;
  char fw_id[PATH_MAX], ex_id[PATH_MAX]; /* path is shorter than PATH_MAX (mz_files_resolve) */
  snprintf(fw_id, sizeof fw_id, "%.*s", (int)fidlen, fid);
  snprintf(ex_id, sizeof ex_id, "%.*s", (int)eidlen, eid);
  const char *dir = latest_run_dir(a, fw_id, ex_id);
  if (!dir) {
    snprintf(err, errlen, "No such file or directory (no executor %.256s of framework %.256s on this agent)", ex_id,
             fw_id);
    *status = 404;
    return 1;
  }
  if ((size_t)snprintf(out, PATH_MAX, "%s%s", dir, rest) >= PATH_MAX) {
    snprintf(err, errlen, "'path' is longer than %d bytes once resolved", PATH_MAX - 1);
    *status = 400;
    return 1;
  }
  *status = 0;
  return 1;
}


int mz_files_resolve(mz_agent *a, const char *path, char *real, char *err, size_t errlen) {
  if (!path || !path[0]) {
    snprintf(err, errlen, "Expecting 'path' to be present");
    return 400;
  }
  if (strlen(path) >= PATH_MAX) {
    snprintf(err, errlen, "'path' is longer than %d bytes", PATH_MAX - 1);
    return 400;
  }
  if (has_dotdot(path)) {
    snprintf(err, errlen, "'..' is not allowed in 'path'");
    return 403;
  }
  if (path[0] != '/') {
    snprintf(err, errlen, "No such file or directory (give an absolute path in a sandbox)");
    return 404;
  }
  if (!strcmp(path, MZ_AGENT_LOG_PATH)) {
    const char *log = mz_log_path();
    if (!log || !realpath(log, real)) {
      snprintf(err, errlen, "No such file or directory (the agent has no log file: it logs to stderr without --log_dir)");
      return 404;
    }
    return 0;
  }
  char mapped[PATH_MAX];
  int vstatus = 0;
  if (virtual_sandbox_path(a, path, mapped, &vstatus, err, errlen)) {
    if (vstatus) return vstatus;
    path = mapped;
  }
  if (!realpath(path, real)) {
    snprintf(err, errlen, "No such file or directory");
    return 404;
  }
  if (!in_some_sandbox(a, real)) {
    snprintf(err, errlen, "'%.512s' is not inside a sandbox of this agent", path);
    return 403;
  }
  return 0;
}



/* ------------------------------------------------------------------ /files/browse, /files/read */









/* /files/debug: every path the files endpoints serve for a sandbox, mapped to the
 * sandbox, as Mesos attaches them for each executor run: the run's directory itself,
 * the runs/latest link and the virtual /frameworks/<fid>/executors/<eid>/runs/latest
 * (these two only for the latest run of each executor). */
static void debug_executor(json_t *map, mz_ag_framework *fw, mz_ag_executor *ex, const char *latest) {
  if (!ex->directory) return;
  json_object_set_new(map, ex->directory, json_string(ex->directory));
  if (!latest || strcmp(ex->directory, latest) != 0) return;
  char p[PATH_MAX + 64];
  const char *runs = strrchr(ex->directory, '/');
  if (runs) {
    snprintf(p, sizeof p, "%.*s/latest", (int)(runs - ex->directory), ex->directory);
    json_object_set_new(map, p, json_string(ex->directory));
  }
  snprintf(p, sizeof p, "/frameworks/%s/executors/%s/runs/latest", fw->id, ex->id);
  json_object_set_new(map, p, json_string(ex->directory));
}

static void debug_framework(mz_agent *a, json_t *map, mz_ag_framework *fw) {
  mz_ag_executor *ex, *etmp;
  HASH_ITER(hh, fw->executors, ex, etmp) debug_executor(map, fw, ex, latest_run_dir(a, fw->id, ex->id));
  DL_FOREACH(fw->completed, ex) debug_executor(map, fw, ex, latest_run_dir(a, fw->id, ex->id));
}

static json_t *debug_map(void *arg) {
  mz_agent *a = arg;
  json_t *map = json_object();
  mz_ag_framework *fw, *ftmp;
  HASH_ITER(hh, a->frameworks, fw, ftmp) debug_framework(a, map, fw);
  DL_FOREACH(a->completed_frameworks, fw) debug_framework(a, map, fw);
  if (mz_log_path()) json_object_set_new(map, MZ_AGENT_LOG_PATH, json_string(mz_log_path()));
  return map;
}

static int resolve(void *arg, const char *path, char *real, char *err, size_t errlen) {
  return mz_files_resolve(arg, path, real, err, errlen);
}

void mz_files_register(mz_agent *a, mz_http_server *s) {
  mz_agent_route(s, "/monitor/statistics", handle_statistics, a);
  mz_agent_route(s, "/monitor/statistics.json", handle_statistics, a);
  mz_agent_route(s, "/containers", handle_containers, a);
  a->files = (mz_files_ops){.resolve = resolve, .debug = debug_map, .arg = a};
  mz_files_routes(s, &a->files);
}
