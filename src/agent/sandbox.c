/* sandbox: the directories executors run in, in Mesos's layout
 *   <work_dir>/slaves/<agent_id>/frameworks/<framework_id>/executors/<executor_id>/runs/<container_id>
 * with a `latest` symlink in runs/ pointing at the newest run. Its `stdout` and
 * `stderr`, which the container's output is appended to, are made by the launch
 * (launcher_posix.c opens them, creating them). Ids were
 * validated (mz_id_valid: no '/', not "." or "..") before they get here. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"

char *mz_sandbox_path(const char *work_dir, const char *agent_id, const char *fw_id, const char *executor_id,
                      const char *container_id) {
  size_t n = strlen(work_dir) + strlen(agent_id) + strlen(fw_id) + strlen(executor_id) + strlen(container_id) + 64;
  char *p = mz_malloc(n);
  snprintf(p, n, "%s/slaves/%s/frameworks/%s/executors/%s/runs/%s", work_dir, agent_id, fw_id, executor_id,
           container_id);
  return p;
}

/* mkdir of path, creating its missing parents first: from the leaf up, so that a
 * sandbox whose parents exist costs one mkdir (this runs for every container). */
static int mkdirs_up(char *p, mode_t mode) {
  if (mkdir(p, mode) == 0 || errno == EEXIST) return 0;
  if (errno != ENOENT) return -1;
  char *slash = strrchr(p, '/');
  if (!slash || slash == p) return -1;
  *slash = '\0';
  int rc = mkdirs_up(p, mode);
  *slash = '/';
  if (rc != 0) return -1;
  return mkdir(p, mode) == 0 || errno == EEXIST ? 0 : -1;
}

int mz_mkdirs(const char *path, mode_t mode, char *err, size_t errlen) {
  char *p = mz_strdup(path);
  size_t n = strlen(p);
  while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
  if (mkdirs_up(p, mode) != 0) {
    snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
    free(p);
    return -1;
  }
  free(p);
  struct stat sb;
  if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    snprintf(err, errlen, "%s is not a directory", path);
    return -1;
  }
  return 0;
}

int mz_create_file(const char *dir, const char *name, char *err, size_t errlen) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    snprintf(err, errlen, "create %s: %s", path, strerror(errno));
    return -1;
  }
  close(fd);
  return 0;
}

/* mkdir of executors/<executor_id>, runs and runs/<container_id>, top down: a new
 * executor's sandbox (every command task's) costs three mkdirs where its framework's
 * directory exists. 0, or -1 when that directory is missing (or a mkdir failed). */
static int mkdir_run(const char *dir) {
  char p[4096];
  snprintf(p, sizeof p, "%s", dir);
  char *before_cid = strrchr(p, '/');
  if (!before_cid || before_cid == p) return -1;
  *before_cid = '\0';
  char *before_runs = strrchr(p, '/');
  if (!before_runs || before_runs == p) return -1;
  *before_runs = '\0';
  if (mkdir(p, 0755) != 0 && errno != EEXIST) return -1; /* executors/<executor_id> */
  *before_runs = '/';
  if (mkdir(p, 0755) != 0 && errno != EEXIST) return -1; /* runs */
  *before_cid = '/';
  return mkdir(p, 0755) == 0 ? 0 : -1;                  /* a new run: not there yet */
}

int mz_sandbox_create(const char *dir, char *err, size_t errlen) {
  if (strlen(dir) > 3500) {
    snprintf(err, errlen, "sandbox path too long");
    return -1;
  }
  if (mkdir_run(dir) != 0 && mz_mkdirs(dir, 0755, err, errlen) != 0) return -1;
  /* stdout and stderr: made by the launch that opens them for the container. */
  /* runs/latest -> <container_id> (best effort, as a convenience). */
  const char *slash = strrchr(dir, '/');
  if (slash) {
    char link[4096];
    snprintf(link, sizeof link, "%.*s/latest", (int)(slash - dir), dir);
    if (symlink(slash + 1, link) != 0 && errno == EEXIST) { /* a later run: replace the link */
      unlink(link);
      if (symlink(slash + 1, link) != 0) { /* not fatal */
      }
    }
  }
  return 0;
}
