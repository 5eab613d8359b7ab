/* fork_wire: see fork_wire.h. */
#include "common/fork_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The bytes of v's strings with their NULs, their count in *n; SIZE_MAX if one is empty
 * (an empty string ends a list on the wire). */
static size_t strings_size(char *const *v, size_t *n) {
  size_t total = 0;
  *n = 0;
  for (; v && v[*n]; (*n)++) {
    if (!v[*n][0]) return SIZE_MAX;
    total += strlen(v[*n]) + 1;
  }
  return total;
}

uint8_t *mz_fork_request_encode(const char *exec, const char *cwd, char *const *argv, char *const *envp,
                                size_t *len) {
  size_t nargv, nenv;
  size_t a = strings_size(argv, &nargv), e = strings_size(envp, &nenv);
  if (a == SIZE_MAX || e == SIZE_MAX || nargv == 0 || !cwd[0]) return NULL;
  if (!exec) exec = "";
  size_t total = sizeof MZ_FORK_MAGIC + strlen(exec) + 1 + strlen(cwd) + 1 + a + 1 + e + 1;
  if (total > MZ_FORK_MAX_MSG) return NULL;
  uint8_t *buf = mz_malloc(total), *p = buf;
  memcpy(p, MZ_FORK_MAGIC, sizeof MZ_FORK_MAGIC);
  p += sizeof MZ_FORK_MAGIC;
  size_t n = strlen(exec) + 1;
  memcpy(p, exec, n);
  p += n;
  n = strlen(cwd) + 1;
  memcpy(p, cwd, n);
  p += n;
  for (size_t i = 0; i < nargv; i++, p += n) memcpy(p, argv[i], n = strlen(argv[i]) + 1);
  *p++ = '\0';
  for (size_t i = 0; i < nenv; i++, p += n) memcpy(p, envp[i], n = strlen(envp[i]) + 1);
  *p++ = '\0';
  *len = total;
  return buf;
}

/* The strings from *p up to an empty one, as a malloc'd NULL-terminated array; NULL if the
 * buffer ends first. */
static char **split(char **p, const char *end) {
  size_t n = 0, cap = 16;
  char **v = mz_malloc(cap * sizeof *v);
  while (*p < end) {
    size_t len = strnlen(*p, (size_t)(end - *p));
    if (*p + len == end) break; /* no terminating NUL */
    if (len == 0) {
      (*p)++;
      v[n] = NULL;
      return v;
    }
    if (n + 2 > cap) v = mz_realloc(v, (cap *= 2) * sizeof *v);
    v[n++] = *p;
    *p += len + 1;
  }
  free(v);
  return NULL;
}

int mz_fork_request_decode(uint8_t *buf, size_t len, char **exec, char **cwd, char ***argv, char ***envp) {
  const char *end = (const char *)buf + len;
  if (len < sizeof MZ_FORK_MAGIC || memcmp(buf, MZ_FORK_MAGIC, sizeof MZ_FORK_MAGIC) != 0) return -1;
  char *p = (char *)buf + sizeof MZ_FORK_MAGIC;
  size_t n = strnlen(p, (size_t)(end - p));
  if (p + n == end) return -1;
  *exec = n ? p : NULL;
  p += n + 1;
  n = strnlen(p, (size_t)(end - p));
  if (p + n == end || n == 0) return -1;
  *cwd = p;
  p += n + 1;
  char **a = split(&p, end);
  if (!a) return -1;
  if (!a[0]) {
    free(a);
    return -1;
  }
  char **e = split(&p, end);
  if (!e || p != end) {
    free(a);
    free(e);
    return -1;
  }
  *argv = a;
  *envp = e;
  return 0;
}

int mz_fork_send(int sock, const void *msg, size_t len, const int *fds, size_t nfds) {
  if (nfds > MZ_FORK_MAX_FDS) {
    errno = EINVAL;
    return -1;
  }
  union {
    char buf[CMSG_SPACE(sizeof(int) * MZ_FORK_MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  memset(&ctl, 0, sizeof ctl);
  struct iovec iov = {(void *)msg, len};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    mh.msg_control = ctl.buf;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  ssize_t n;
  do n = sendmsg(sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  if ((size_t)n != len) {
    errno = EMSGSIZE;
    return -1;
  }
  return 0;
}

ssize_t mz_fork_recv(int sock, void *buf, size_t cap, int *fds, size_t *nfds) {
  union {
    char buf[CMSG_SPACE(sizeof(int) * MZ_FORK_MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {buf, cap};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
  ssize_t n;
  do n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  *nfds = 0;
  if (n < 0) return -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*nfds < MZ_FORK_MAX_FDS)
        fds[(*nfds)++] = fd;
      else
        close(fd);
    }
  }
  if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    for (size_t i = 0; i < *nfds; i++) close(fds[i]);
    *nfds = 0;
    errno = EMSGSIZE;
    return -1;
  }
  return n;
}
