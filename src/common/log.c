/* log: see log.h. Lines are written with one write(2) so that concurrent
 * processes sharing a terminal do not interleave within a line. */
#include "common/log.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static mz_log_level g_level = MZ_LOG_INFO;
static int g_fd = 2;
static char g_path[PATH_MAX]; /* of g_fd when it is not stderr */

static const char *const NAMES[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

void mz_log_set_level(mz_log_level level) { g_level = level; }
mz_log_level mz_log_get_level(void) { return g_level; }

const char *mz_log_level_name(mz_log_level level) {
  return (level >= MZ_LOG_DEBUG && level <= MZ_LOG_ERROR) ? NAMES[level] : "INFO";
}

int mz_log_level_parse(const char *s, mz_log_level *out) {
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(s, NAMES[i]) == 0) {
      *out = (mz_log_level)i;
      return 0;
    }
  }
  if (strcasecmp(s, "WARN") == 0) {
    *out = MZ_LOG_WARNING;
    return 0;
  }
  return -1;
}

int mz_log_set_dir(const char *dir, const char *name) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s.log", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  if (g_fd != 2) close(g_fd);
  g_fd = fd;
  snprintf(g_path, sizeof g_path, "%s", path);
  return 0;
}

const char *mz_log_path(void) { return g_fd != 2 ? g_path : NULL; }

void mz_log(mz_log_level level, const char *module, const char *fmt, ...) {
  if (level < g_level) return;
  char line[2048];
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "%s %04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s: ",
                   mz_log_level_name(level), tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                   tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec, module);
  if (n < 0) return;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t w = write(g_fd, line, len);
  (void)w;
}
