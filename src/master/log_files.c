/* log_files: the master's own log under Mesos's /files endpoints (common/files_http.h):
 * MZ_MASTER_LOG_PATH (/master/log) is the file it logs to with --log_dir, and nothing else
 * is served. A standby master serves its own (master.c's follower gate lets /files/ by). */
#include "master/log_files.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"

static int resolve(void *arg, const char *path, char *real, char *err, size_t errlen) {
  (void)arg;
  if (strcmp(path, MZ_MASTER_LOG_PATH) != 0) {
    snprintf(err, errlen, "No such file or directory (the master serves only %s)", MZ_MASTER_LOG_PATH);
    return 404;
  }
  const char *log = mz_log_path();
  if (!log || !realpath(log, real)) {
    snprintf(err, errlen, "No such file or directory (the master has no log file: it logs to stderr without --log_dir)");
    return 404;
  }
  return 0;
}

static json_t *debug_map(void *arg) {
  (void)arg;
  json_t *map = json_object();
  if (mz_log_path()) json_object_set_new(map, MZ_MASTER_LOG_PATH, json_string(mz_log_path()));
  return map;
}

void mz_master_files_route(mz_master *m) {
  m->files = (mz_files_ops){.resolve = resolve, .debug = debug_map, .arg = m};
  mz_files_routes(m->http, &m->files);
}
