/* bench-launch-driver: the framework of `make bench-launch` (bench_launch.py starts
 * the master and agent, then runs this). Written in C on libmezzo, the path a
 * framework in C takes (the v1 scheduler API, protobuf), so that the driver's own
 * CPU does not crowd the 2 cores the master, agent and executors share: the Python
 * client of the tests spent 0.46 ms of CPU per task, more than the master.
 *
 * It subscribes, launches `true` command tasks (cpus 0.01, mem 8) on the offers as
 * they come, at most MAX_LIVE in flight, acknowledges every update (libmezzo's
 * auto_acknowledge) and stops when TASKS tasks have ended. It prints
 *   driver tasks=N seconds=S failed=F
 * where S runs from the first ACCEPT to the last terminal update, and, for up to 3
 * tasks that did not finish, a line `driver-failure task=<id> state=<state> <message>`.
 * Usage: bench-launch-driver HOST:PORT TASKS MAX_LIVE TIMEOUT_S */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "mezzo/scheduler.h"

#define TASK_CPUS 0.01
#define TASK_MEM 8.0
#define REPORT_FAILURES 3

typedef struct {
  struct event_base *base;
  long tasks, max_live;
  long next, live, done, failed;
  double t0, t1;
  int exit_code;
} driver;

static void scalar(Mesos__V1__Resource *r, Mesos__V1__Value__Scalar *v, const char *name, double value) {
  mesos__v1__resource__init(r);
  mesos__v1__value__scalar__init(v);
  r->name = (char *)name;
  r->type = MESOS__V1__VALUE__TYPE__SCALAR;
  v->value = value;
  r->scalar = v;
}

static double offered(const Mesos__V1__Offer *o, const char *name) {
  double sum = 0;
  for (size_t i = 0; i < o->n_resources; i++) {
    const Mesos__V1__Resource *r = o->resources[i];
    if (r->name && !strcmp(r->name, name) && r->scalar && !r->reservations && !r->n_reservations) sum += r->scalar->value;
  }
  return sum;
}

static void stop(driver *d, int code) {
  d->exit_code = code;
  event_base_loopexit(d->base, NULL);
}

static void on_offers(mz_scheduler *s, Mesos__V1__Offer *const *offers, size_t n, void *arg) {
  driver *d = arg;
  for (size_t k = 0; k < n; k++) {
    const Mesos__V1__Offer *o = offers[k];
    const char *oid = o->id->value;
    long fit_cpus = (long)(offered(o, "cpus") / TASK_CPUS + 1e-9), fit_mem = (long)(offered(o, "mem") / TASK_MEM);
    long fit = fit_cpus < fit_mem ? fit_cpus : fit_mem;
    long want = d->tasks - d->next;
    if (want > d->max_live - d->live) want = d->max_live - d->live;
    if (want > fit) want = fit;
    char err[256];
    if (want <= 0) {
      if (mz_scheduler_decline(s, &oid, 1, d->next < d->tasks ? 0.0 : 60.0, err, sizeof err) != 0)
        fprintf(stderr, "bench-launch-driver: decline: %s\n", err);
      continue;
    }
    Mesos__V1__TaskInfo *tasks = mz_calloc((size_t)want, sizeof *tasks);
    Mesos__V1__TaskInfo **tp = mz_calloc((size_t)want, sizeof *tp);
    Mesos__V1__TaskID *tids = mz_calloc((size_t)want, sizeof *tids);
    char (*ids)[32] = mz_calloc((size_t)want, sizeof *ids);
    Mesos__V1__Resource res[2], *resp[2] = {&res[0], &res[1]};
    Mesos__V1__Value__Scalar val[2];
    scalar(&res[0], &val[0], "cpus", TASK_CPUS);
    scalar(&res[1], &val[1], "mem", TASK_MEM);
    Mesos__V1__CommandInfo cmd = MESOS__V1__COMMAND_INFO__INIT;
    char *argv[] = {"true"};
    cmd.value = "true";
    cmd.has_shell = 1;
    cmd.shell = 0;
    cmd.arguments = argv;
    cmd.n_arguments = 1;
    for (long i = 0; i < want; i++) {
      snprintf(ids[i], sizeof ids[i], "t%ld", d->next + i);
      mesos__v1__task_info__init(&tasks[i]);
      mesos__v1__task_id__init(&tids[i]);
      tids[i].value = ids[i];
      tasks[i].name = ids[i];
      tasks[i].task_id = &tids[i];
      tasks[i].agent_id = o->agent_id;
      tasks[i].resources = resp;
      tasks[i].n_resources = 2;
      tasks[i].command = &cmd;
      tp[i] = &tasks[i];
    }
    if (d->t0 == 0) d->t0 = mz_monotonic();
    if (mz_scheduler_launch(s, &oid, 1, tp, (size_t)want, 0.0, err, sizeof err) != 0) {
      fprintf(stderr, "bench-launch-driver: launch: %s\n", err);
      stop(d, 1);
    } else {
      d->next += want;
      d->live += want;
    }
    free(tasks);
    free(tp);
    free(tids);
    free(ids);
  }
}

static void on_update(mz_scheduler *s, const Mesos__V1__TaskStatus *st, void *arg) {
  driver *d = arg;
  if (!mz_task_state_terminal(st->state)) return;
  d->done++;
  d->live--;
  if (st->state != MESOS__V1__TASK_STATE__TASK_FINISHED && d->failed++ < REPORT_FAILURES)
    printf("driver-failure task=%s state=%s %s\n", st->task_id->value, mz_task_state_name(st->state),
           st->message ? st->message : "");
  if (d->done == d->tasks) {
    d->t1 = mz_monotonic();
    stop(d, 0);
  }
}

static void on_error(mz_scheduler *s, const char *message, void *arg) {
  fprintf(stderr, "bench-launch-driver: %s\n", message);
  stop(arg, 1);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg) {
  driver *d = arg;
  fprintf(stderr, "bench-launch-driver: only %ld/%ld tasks ended in time\n", d->done, d->tasks);
  stop(d, 1);
}

int main(int argc, char **argv) {
  char *end;
  long tasks = argc == 5 ? strtol(argv[2], &end, 10) : 0;
  long max_live = argc == 5 ? strtol(argv[3], &end, 10) : 0;
  double timeout = argc == 5 ? strtod(argv[4], &end) : 0;
  if (argc != 5 || tasks <= 0 || tasks > 10000000 || max_live <= 0 || timeout <= 0) {
    fprintf(stderr, "usage: bench-launch-driver HOST:PORT TASKS (1..10000000) MAX_LIVE (>0) TIMEOUT_S (>0)\n");
    return 2;
  }
  driver d = {0};
  d.tasks = tasks;
  d.max_live = max_live;
  d.base = event_base_new();
  const char *user = getenv("USER");
  Mesos__V1__FrameworkInfo fi = MESOS__V1__FRAMEWORK_INFO__INIT;
  fi.user = (char *)(user && *user ? user : "root");
  fi.name = "bench-launch";
  static const mz_scheduler_callbacks cbs = {.on_offers = on_offers, .on_update = on_update, .on_error = on_error};
  mz_scheduler_options opts = {0};
  opts.content_type = MZ_CT_PROTOBUF;
  opts.auto_acknowledge = 1;
  opts.no_reconnect = 1;
  char err[256];
  mz_scheduler *s = d.base ? mz_scheduler_new(d.base, argv[1], &fi, &cbs, &d, &opts, err, sizeof err) : NULL;
  if (!s || mz_scheduler_start(s, err, sizeof err) != 0) {
    fprintf(stderr, "bench-launch-driver: %s\n", s ? err : "cannot start");
    return 1;
  }
  struct event *t = evtimer_new(d.base, on_timeout, &d);
  struct timeval tv = {(time_t)timeout, 0};
  evtimer_add(t, &tv);
  event_base_dispatch(d.base);
  if (d.exit_code == 0)
    printf("driver tasks=%ld seconds=%.3f failed=%ld\n", d.tasks, d.t1 - d.t0, d.failed);
  event_free(t);
  mz_scheduler_free(s);
  event_base_free(d.base);
  return d.exit_code;
}
