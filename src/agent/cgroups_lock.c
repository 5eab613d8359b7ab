/* cgroups_lock: see cgroups_lock.h. */
#include "agent/cgroups_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "common/util.h"

#define LOCK_WAIT 60.0 /* seconds an agent waits for a sweeping one to share the lock */

/* The lock file's name for base: '/' becomes '-', and every byte but letters, digits,
 * ',', '.' and '_' becomes %XX ("/sys/fs/cgroup/cpu,cpuacct/mezzo" ->
 * "sys-fs-cgroup-cpu,cpuacct-mezzo.lock"). -1 when it does not fit. */
static int lock_name(const char *base, char *out, size_t len) {
  size_t n = 0;
  const char *p = base;
  while (*p == '/') p++;
  for (; *p; p++) {
    unsigned char ch = (unsigned char)*p;
    char piece[4];
    if (ch == '/') snprintf(piece, sizeof piece, "-");
    else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == ',' ||
             ch == '.' || ch == '_')
      snprintf(piece, sizeof piece, "%c", ch);
    else snprintf(piece, sizeof piece, "%%%02X", ch);
    size_t k = strlen(piece);
    if (n + k + 1 > len) return -1;
    memcpy(out + n, piece, k + 1);
    n += k;
  }
  if (n + sizeof ".lock" > len) return -1;
  memcpy(out + n, ".lock", sizeof ".lock");
  return 0;
}

static int set_lock(int fd, short type) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = type;
  fl.l_whence = SEEK_SET; /* the whole file: start 0, len 0 */
  return fcntl(fd, F_OFD_SETLK, &fl);
}

int mz_cgroups_lock_take(const char *dir, const char *base, int *sole, char *err, size_t errlen) {
  *sole = 0;
  char name[1024], path[4400];
  if (lock_name(base, name, sizeof name) != 0) {
    snprintf(err, errlen, "the cgroups path %s is too long for a lock file's name", base);
    return -1;
  }
  if (mz_mkdirs(dir, 0755, err, errlen) != 0) return -1;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  if (set_lock(fd, F_WRLCK) == 0) {
    *sole = 1;
    return fd;
  }
  /* Others hold it: a read lock is granted unless one of them is sweeping (a write
   * lock for a bounded time), so it is tried until then. */
  double deadline = mz_monotonic() + LOCK_WAIT;
  while (set_lock(fd, F_RDLCK) != 0) {
    if ((errno != EAGAIN && errno != EACCES) || mz_monotonic() > deadline) {
      snprintf(err, errlen, "cannot lock %s: %s", path,
               errno == EAGAIN || errno == EACCES ? "another agent held it for too long" : strerror(errno));
      close(fd);
      return -1;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return fd;
}

int mz_cgroups_lock_share(int fd) { return set_lock(fd, F_RDLCK); }

void mz_cgroups_lock_share_all(const int *fds, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (fds[i] >= 0) mz_cgroups_lock_share(fds[i]);
}

int mz_cgroups_lock_all(const char *dir, char *const *bases, size_t n, int *fds, char *err, size_t errlen) {
  int alone = 1;
  err[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    fds[i] = -1;
    if (!bases[i]) continue;
    int sole = 0;
    char why[600];
    fds[i] = mz_cgroups_lock_take(dir, bases[i], &sole, why, sizeof why);
    if (fds[i] < 0 && !err[0]) snprintf(err, errlen, "%s", why);
    if (fds[i] < 0 || !sole) alone = 0;
  }
  if (!alone) mz_cgroups_lock_share_all(fds, n);
  return alone;
}
