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
#include <sys/resource.h>
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

/* The child's sink: each buffered piece goes out as one HTTP chunk. */
static int chunk_sink(const char *data, size_t len, void *arg) {
  int fd = *(int *)arg;
  char head[32];
  int hn = snprintf(head, sizeof head, "%zx\r\n", len);
  if (mz_write_all(fd, head, (size_t)hn) != 0 || mz_write_all(fd, data, len) != 0 || mz_write_all(fd, "\r\n", 2) != 0)
    return -1;
  return 0;
}

static void reply_inline(mz_master *m, mz_http_req *req, mz_snapshot_writer write) {
  mz_jw *w = mz_jw_new(NULL, NULL, 0);
  write(m, w);
  if (mz_jw_finish(w) != 0) {
    mz_jw_free(w);
    mz_http_reply_error(req, 500, "Cannot write the document");
    return;
  }
  size_t n;
  const char *text = mz_jw_text(w, &n);
  mz_http_reply(req, 200, "application/json", text, n);
  mz_jw_free(w);
}

void mz_snapshot_reply(mz_master *m, mz_http_req *req, mz_snapshot_writer write) {
  if (!sigchld_ev) {
    sigchld_ev = evsignal_new(m->base, SIGCHLD, on_sigchld, NULL);
    if (sigchld_ev) event_add(sigchld_ev, NULL);
  }
  int fd = mz_http_req_socket(req);
  if (fd < 0 || !sigchld_ev || children >= MZ_SNAPSHOT_MAX_CHILDREN) {
    reply_inline(m, req, write);
    return;
  }
  pid_t pid = fork();
  if (pid < 0) {
    MZ_WARN("master", "fork for a state snapshot failed: %s; building it in the loop", strerror(errno));
    reply_inline(m, req, write);
    return;
  }
  if (pid == 0) {
    /* The child: only the request's socket matters. The document is written
     * as it is produced, in chunks (its length is not known before the end). */
    signal(SIGPIPE, SIG_IGN);
    /* Below the master in the CPU's queue: the loop it was forked from keeps
     * answering (/health, the APIs) ahead of this document. */
    (void)setpriority(PRIO_PROCESS, 0, MZ_SNAPSHOT_NICE);
    if (fd > 3) close_range(3, (unsigned)fd - 1, 0);
    close_range((unsigned)fd + 1, ~0U, 0);
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                               "Connection: close\r\n\r\n";
    if (mz_write_all(fd, head, sizeof head - 1) == 0) {
      mz_jw *w = mz_jw_new(chunk_sink, &fd, MZ_SNAPSHOT_CHUNK);
      write(m, w);
      /* An unfinished document ends without the last chunk: the client sees a truncated reply. */
      if (mz_jw_finish(w) == 0) mz_write_all(fd, "0\r\n\r\n", 5);
      mz_jw_free(w);
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
