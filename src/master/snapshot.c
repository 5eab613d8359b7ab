/* snapshot: see snapshot.h. Children are reaped from a SIGCHLD event on the
 * master's loop (the master has no other children). */
#include "master/snapshot.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

static int children;
static struct event *sigchld_ev;

static void on_sigchld(evutil_socket_t sig, short what, void *arg) {
  while (waitpid(-1, NULL, WNOHANG) > 0)
    if (children > 0) children--;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += w;
    n -= (size_t)w;
  }
}

static void reply_inline(mz_http_req *req, json_t *o) {
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (!text) {
    mz_http_reply_error(req, 500, "Out of memory");
    return;
  }
  mz_http_reply(req, 200, "application/json", text, strlen(text));
  free(text);
}

void mz_snapshot_reply_json(mz_master *m, mz_http_req *req, json_t *(*build)(const mz_master *m)) {
  if (!sigchld_ev) {
    sigchld_ev = evsignal_new(m->base, SIGCHLD, on_sigchld, NULL);
    if (sigchld_ev) event_add(sigchld_ev, NULL);
  }
  int fd = mz_http_req_socket(req);
  if (fd < 0 || !sigchld_ev || children >= MZ_SNAPSHOT_MAX_CHILDREN) {
    reply_inline(req, build(m));
    return;
  }
  pid_t pid = fork();
  if (pid < 0) {
    MZ_WARN("master", "fork for a state snapshot failed: %s; building it in the loop", strerror(errno));
    reply_inline(req, build(m));
    return;
  }
  if (pid == 0) {
    /* The child: only the request's socket matters. */
    signal(SIGPIPE, SIG_IGN);
    if (fd > 3) close_range(3, (unsigned)fd - 1, 0);
    close_range((unsigned)fd + 1, ~0U, 0);
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    json_t *o = build(m);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text) {
      size_t n = strlen(text);
      char head[256];
      int hn = snprintf(head, sizeof head,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                        "Connection: close\r\n\r\n",
                        n);
      write_all(fd, head, (size_t)hn);
      write_all(fd, text, n);
    } else {
      static const char err[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      write_all(fd, err, sizeof err - 1);
    }
    shutdown(fd, SHUT_WR);
    /* Let the peer read everything before the socket goes (no reset on unread input). */
    char sink[4096];
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (read(fd, sink, sizeof sink) > 0) {
    }
    _exit(0);
  }
  children++;
  mz_http_req_abandon(req);
}
