/* util: see util.h. */
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#include <event2/event.h>

void mz_uuid_generate(uint8_t out[MZ_UUID_BYTES]) {
  size_t got = 0;
  while (got < MZ_UUID_BYTES) {
    ssize_t n = getrandom(out + got, MZ_UUID_BYTES - got, 0);
    if (n > 0) got += (size_t)n;
  }
  out[6] = (uint8_t)((out[6] & 0x0f) | 0x40);
  out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

void mz_uuid_format(const uint8_t u[MZ_UUID_BYTES], char out[MZ_UUID_STR]) {
  snprintf(out, MZ_UUID_STR, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
           u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

void mz_uuid_string(char out[MZ_UUID_STR]) {
  uint8_t u[MZ_UUID_BYTES];
  mz_uuid_generate(u);
  mz_uuid_format(u, out);
}

double mz_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double mz_monotonic(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void mz_timer_in(struct event *ev, double seconds) {
  if (seconds < 0) seconds = 0;
  struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
  evtimer_add(ev, &tv);
}

int mz_strlcpy(char *dst, const char *src, size_t dstlen) {
  if (dstlen == 0) return -1;
  size_t n = strlen(src);
  if (n >= dstlen) {
    memcpy(dst, src, dstlen - 1);
    dst[dstlen - 1] = 0;
    return -1;
  }
  memcpy(dst, src, n + 1);
  return 0;
}

static void *check(void *p) {
  if (!p) {
    fputs("FATAL out of memory\n", stderr);
    abort();
  }
  return p;
}

char *mz_strdup(const char *s) { return check(strdup(s ? s : "")); }
void *mz_malloc(size_t n) { return check(malloc(n ? n : 1)); }
void *mz_calloc(size_t n, size_t size) { return check(calloc(n ? n : 1, size ? size : 1)); }
void *mz_realloc(void *p, size_t n) { return check(realloc(p, n ? n : 1)); }

int mz_id_valid(const char *id, char *err, size_t errlen) {
  size_t n = id ? strlen(id) : 0;
  if (n == 0) {
    snprintf(err, errlen, "id is empty");
    return -1;
  }
  if (n > MZ_ID_MAX) {
    snprintf(err, errlen, "id is longer than %d characters", MZ_ID_MAX);
    return -1;
  }
  if (!strcmp(id, ".") || !strcmp(id, "..")) {
    snprintf(err, errlen, "id '%s' is not allowed", id);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)id[i];
    if (c < 0x21 || c > 0x7e || c == '/' || c == '\\') {
      snprintf(err, errlen, "id '%.64s' contains a character that is not allowed (printable ASCII without '/', '\\' or spaces)", id);
      return -1;
    }
  }
  return 0;
}

void mz_close_fds_from(int lowfd) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 65536) max = 65536;
  for (int fd = lowfd; fd < max; fd++) close(fd);
}

int mz_write_all(int fd, const void *data, size_t n) {
  const char *p = data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int mz_cgroups_join_from_env(char *err, size_t errlen) {
  const char *v = getenv(MZ_CGROUP_FDS_ENV);
  if (!v) return 0;
  int fds[MZ_CGROUP_FDS_MAX], n = 0;
  for (const char *p = v; *p;) {
    char *end;
    long fd = strtol(p, &end, 10);
    if (end == p || fd < 3 || fd > 1023 || n == MZ_CGROUP_FDS_MAX || (*end && *end != ',')) {
      snprintf(err, errlen, "%s: not a list of at most %d descriptors: '%s'", MZ_CGROUP_FDS_ENV, MZ_CGROUP_FDS_MAX, v);
      return -1;
    }
    fds[n++] = (int)fd;
    p = *end ? end + 1 : end;
  }
  int rc = 0;
  for (int i = 0; i < n; i++) {
    if (rc == 0 && write(fds[i], "0", 1) != 1) {
      snprintf(err, errlen, "cannot join the container's cgroup (fd %d): %s", fds[i], strerror(errno));
      rc = -1;
    }
    close(fds[i]);
  }
  unsetenv(MZ_CGROUP_FDS_ENV);
  return rc;
}

void mz_seterr(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

void mz_trim(const char **s, const char **e) {
  while (*s < *e && isspace((unsigned char)**s)) (*s)++;
  while (*e > *s && isspace((unsigned char)(*e)[-1])) (*e)--;
}
