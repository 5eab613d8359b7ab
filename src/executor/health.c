/* health: see health.h. One check at a time; its result comes back through the
 * executor's SIGCHLD handler, or as a failure from the timeout timer. */
#include "executor/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/util.h"
#include "executor/command.h"
#include "executor/process.h"

#define MOD "health"
#define MAX_ENV 8192

struct mz_health {
  struct event_base *base;
  Mesos__V1__HealthCheck *hc; /* owned copy */
  char **env;                 /* owned */
  mz_health_cb cb;
  void *arg;
  struct event *next, *timeout;
  pid_t pid;                  /* the running check, 0 when none */
  double started;             /* monotonic */
  int ever_ok, healthy, failures, stopped;
};

/* The network checks, in a child: exit 0 on success. */
static int connect_local(uint32_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void http_child(const Mesos__V1__HealthCheck__HTTPCheckInfo *http) {
  int fd = connect_local(http->port);
  if (fd < 0) _exit(1);
  const char *path = http->path && *http->path ? http->path : "/";
  char req[2048];
  int n = snprintf(req, sizeof req, "GET %s%s HTTP/1.0\r\nHost: 127.0.0.1:%u\r\nUser-Agent: mezzo-health\r\n\r\n",
                   path[0] == '/' ? "" : "/", path, http->port);
  if (n < 0 || n >= (int)sizeof req || write(fd, req, (size_t)n) != n) _exit(1);
  char buf[256];
  size_t got = 0;
  while (got < sizeof buf - 1) {
    ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
    if (r <= 0) break;
    got += (size_t)r;
    if (memchr(buf, '\n', got)) break;
  }
  buf[got] = '\0';
  unsigned code = 0;
  if (sscanf(buf, "HTTP/%*d.%*d %u", &code) != 1) _exit(1);
  if (http->n_statuses == 0) _exit(code >= 200 && code < 400 ? 0 : 1);
  for (size_t i = 0; i < http->n_statuses; i++)
    if (http->statuses[i] == code) _exit(0);
  _exit(1);
}

static pid_t spawn_check(mz_health *h, char *err, size_t errlen) {
  const Mesos__V1__HealthCheck *hc = h->hc;
  pid_t pid;
  if (hc->type == MESOS__V1__HEALTH_CHECK__TYPE__COMMAND) {
    if (mz_command_spawn_env(hc->command, h->env, &pid, err, errlen) != 0) return -1;
    return pid;
  }
  pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    setpgid(0, 0);
    if (hc->type == MESOS__V1__HEALTH_CHECK__TYPE__HTTP) http_child(hc->http);
    int fd = connect_local(hc->tcp->port);
    _exit(fd < 0 ? 1 : 0);
  }
  setpgid(pid, pid);
  return pid;
}

static void result(mz_health *h, int ok, const char *why) {
  if (h->stopped) return;
  if (ok) {
    h->ever_ok = 1;
    h->failures = 0;
    if (h->healthy != 1) {
      h->healthy = 1;
      h->cb(1, 0, why, h->arg);
    }
  } else if (!h->ever_ok && mz_monotonic() - h->started < h->hc->grace_period_seconds) {
    MZ_INFO(MOD, "check failed within the grace period (ignored): %s", why);
  } else {
    h->failures++;
    int kill = h->hc->consecutive_failures > 0 && (uint32_t)h->failures >= h->hc->consecutive_failures;
    MZ_INFO(MOD, "check failed (%d in a row): %s", h->failures, why);
    if (h->healthy != 0 || kill) {
      h->healthy = 0;
      h->cb(0, kill, why, h->arg);
    }
    if (kill) return;
  }
  if (!h->stopped) mz_exec_timer_in(h->next, h->hc->interval_seconds);
}

static void on_next(evutil_socket_t fd, short what, void *arg) {
  mz_health *h = arg;
  if (h->stopped || h->pid) return;
  char err[256];
  pid_t pid = spawn_check(h, err, sizeof err);
  if (pid < 0) {
    result(h, 0, err);
    return;
  }
  h->pid = pid;
  mz_exec_timer_in(h->timeout, h->hc->timeout_seconds);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg) {
  mz_health *h = arg;
  if (!h->pid) return;
  kill(-h->pid, SIGKILL); /* the result arrives when it is reaped */
}

int mz_health_reaped(mz_health *h, pid_t pid, int st) {
  if (!h || !h->pid || pid != h->pid) return 0;
  int timed_out = !evtimer_pending(h->timeout, NULL);
  evtimer_del(h->timeout);
  kill(-h->pid, SIGKILL); /* whatever the check left behind */
  h->pid = 0;
  char why[160];
  if (timed_out && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
    snprintf(why, sizeof why, "the check timed out after %gs", h->hc->timeout_seconds);
  else if (WIFEXITED(st))
    snprintf(why, sizeof why, "the check exited with status %d", WEXITSTATUS(st));
  else
    snprintf(why, sizeof why, "the check was terminated by a signal");
  result(h, WIFEXITED(st) && WEXITSTATUS(st) == 0, why);
  return 1;
}

mz_health *mz_health_new(struct event_base *base, const Mesos__V1__HealthCheck *hc, char *const *env,
                         mz_health_cb cb, void *arg, char *err, size_t errlen) {
  if (!hc->has_type || hc->type == MESOS__V1__HEALTH_CHECK__TYPE__UNKNOWN) {
    snprintf(err, errlen, "the health check has no type");
    return NULL;
  }
  if ((hc->type == MESOS__V1__HEALTH_CHECK__TYPE__COMMAND && (!hc->command || !hc->command->value)) ||
      (hc->type == MESOS__V1__HEALTH_CHECK__TYPE__HTTP && !hc->http) ||
      (hc->type == MESOS__V1__HEALTH_CHECK__TYPE__TCP && !hc->tcp)) {
    snprintf(err, errlen, "the health check's %s is missing",
             hc->type == MESOS__V1__HEALTH_CHECK__TYPE__COMMAND ? "command"
             : hc->type == MESOS__V1__HEALTH_CHECK__TYPE__HTTP  ? "http"
                                                                : "tcp");
    return NULL;
  }
  if (hc->type == MESOS__V1__HEALTH_CHECK__TYPE__HTTP && hc->http->scheme && strcmp(hc->http->scheme, "http") != 0) {
    snprintf(err, errlen, "health check scheme '%s' is not supported (http only)", hc->http->scheme);
    return NULL;
  }
  if (hc->delay_seconds < 0 || hc->interval_seconds <= 0 || hc->timeout_seconds <= 0 ||
      hc->grace_period_seconds < 0) {
    snprintf(err, errlen, "the health check's delay, interval, timeout or grace period is invalid");
    return NULL;
  }
  size_t n = protobuf_c_message_get_packed_size(&hc->base);
  uint8_t *buf = mz_malloc(n ? n : 1);
  protobuf_c_message_pack(&hc->base, buf);
  Mesos__V1__HealthCheck *copy = mesos__v1__health_check__unpack(NULL, n, buf);
  free(buf);
  if (!copy) {
    snprintf(err, errlen, "cannot copy the health check");
    return NULL;
  }
  mz_health *h = mz_calloc(1, sizeof *h);
  h->base = base;
  h->hc = copy;
  size_t ne = 0;
  while (env && env[ne] && ne < MAX_ENV) ne++;
  h->env = mz_calloc(ne + 1, sizeof *h->env);
  for (size_t i = 0; i < ne; i++) h->env[i] = mz_strdup(env[i]);
  h->cb = cb;
  h->arg = arg;
  h->healthy = -1;
  h->started = mz_monotonic();
  h->next = evtimer_new(base, on_next, h);
  h->timeout = evtimer_new(base, on_timeout, h);
  mz_exec_timer_in(h->next, copy->delay_seconds);
  return h;
}

void mz_health_stop(mz_health *h) {
  if (!h) return;
  h->stopped = 1;
  evtimer_del(h->next);
  if (h->pid) kill(-h->pid, SIGKILL);
}

void mz_health_free(mz_health *h) {
  if (!h) return;
  mz_health_stop(h);
  if (h->pid) waitpid(h->pid, NULL, 0);
  event_free(h->next);
  event_free(h->timeout);
  for (size_t i = 0; h->env[i]; i++) free(h->env[i]);
  free(h->env);
  mesos__v1__health_check__free_unpacked(h->hc, NULL);
  free(h);
}
