/* execute: `mezzo execute`: registers a framework with the master (libmezzo's
 * scheduler client), launches --instances tasks running --command from the
 * offers whose resources fit --resources (declining the others with a short
 * filter), prints every status update as one line, acknowledges them, tears
 * the framework down at the end and exits 0 only if every task reached
 * TASK_FINISHED.
 *
 * Ownership: one exec_ctx on main's stack owns the scheduler, the event base,
 * the timers and the wanted resources; each exec_task owns nothing but its id. */
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "common/flags.h"
#include "common/log.h"
#include "common/resources.h"
#include "common/util.h"
#include "common/zk.h"
#include "mezzo/scheduler.h"

#define EXEC_MAX_INSTANCES 100000
#define EXEC_DECLINE_SHORT 1.0       /* seconds: offers that do not fit now may fit later */
#define EXEC_DECLINE_DONE 3600.0     /* every task launched: no more offers wanted */
#define EXEC_FAILOVER_TIMEOUT 30.0   /* master keeps our tasks this long if we vanish */
#define EXEC_TEARDOWN_WAIT 10.0      /* seconds to wait for the TEARDOWN answer */

typedef struct {
  char id[MZ_ID_MAX + 1];
  int launched;
  int state; /* -1 until an update arrives */
  int terminal;
} exec_task;

typedef struct {
  struct event_base *base;
  mz_scheduler *s;
  const char *name, *command, *role, *master;
  mz_resources *want;
  exec_task *tasks;
  size_t n, next, nterminal, nfinished;
  int finishing;
  int exit_code;
  int quiet;
  int pending_code;
  struct event *timeout_ev, *teardown_ev, *finish_ev, *sigint_ev, *sigterm_ev;
  double timeout;
} exec_ctx;

void mz_cli_execute_usage(FILE *out) {
  fprintf(out,
          "Usage: mezzo execute --master=HOST:PORT --command=CMD [flags]\n"
          "\n"
          "Registers a framework, runs CMD (with /bin/sh -c) as --instances tasks, prints each task's\n"
          "state changes, and exits 0 only if every task reaches TASK_FINISHED.\n"
          "\n"
          "  --master=HOST:PORT      the master (or MEZZO_MASTER)\n"
          "  --command=CMD           the shell command each task runs (required)\n"
          "  --name=NAME             framework name and task id prefix (default mezzo-execute; tasks NAME-<i>)\n"
          "  --resources=RES         resources of each task (default 'cpus:0.1;mem:32')\n"
          "  --instances=N           how many tasks (default 1)\n"
          "  --role=ROLE             role to receive offers for (default '*')\n"
          "  --user=USER             user the tasks run as (default: the current user)\n"
          "  --timeout=DURATION      give up (and tear the framework down) after e.g. 30secs or 5mins\n"
          "  --content_type=TYPE     protobuf (default) or json on the wire\n"
          "  --quiet                 print only the task state lines and errors\n");
}

/* ------------------------------------------------------------------ helpers */

static exec_task *find_task(exec_ctx *x, const char *id) {
  for (size_t i = 0; i < x->n; i++)
    if (!strcmp(x->tasks[i].id, id)) return &x->tasks[i];
  return NULL;
}

static void break_loop_cb(evutil_socket_t fd, short what, void *arg) {
  exec_ctx *x = arg;
  event_base_loopbreak(x->base);
}

static void teardown_done(mz_scheduler *s, int status, const char *body, void *arg) {
  exec_ctx *x = arg;
  if (status != 202 && status != 200)
    fprintf(stderr, "mezzo execute: TEARDOWN answered %d: %s\n", status, body);
  event_base_loopbreak(x->base);
}

/* Ends the run: tear the framework down (if subscribed), then leave the loop. */
static void finish(exec_ctx *x, int code) {
  if (x->finishing) return;
  x->finishing = 1;
  x->exit_code = code;
  char err[256];
  if (mz_scheduler_subscribed(x->s) && mz_scheduler_teardown(x->s, teardown_done, x, err, sizeof err) == 0) {
    struct timeval tv = {EXEC_TEARDOWN_WAIT, 0};
    event_add(x->teardown_ev, &tv);
    return;
  }
  mz_scheduler_stop(x->s);
  struct timeval zero = {0, 0};
  event_add(x->teardown_ev, &zero);
}

static void finish_cb(evutil_socket_t fd, short what, void *arg) {
  exec_ctx *x = arg;
  finish(x, x->pending_code);
}

/* Takes resources for one task out of *rem (what is left of an offer), keeping
 * each entry's identity (reservation and allocation role) as offered.
 * Returns the task's resources, or NULL (and *rem unchanged) if they do not fit. */
static mz_resources *pick(mz_resources *rem, const mz_resources *want) {
  char err[256];
  mz_resources *left = mz_resources_copy(rem);
  mz_resources *got = mz_resources_new();
  for (size_t w = 0; w < want->n; w++) {
    const mz_resource *wr = &want->v[w];
    mz_resources *take = mz_resources_new();
    if (wr->type == MZ_RES_SCALAR) {
      int64_t need = wr->scalar;
      for (size_t i = 0; i < left->n && need > 0; i++) {
        mz_resource r = left->v[i];
        if (r.type != MZ_RES_SCALAR || strcmp(r.name, wr->name) != 0 || r.scalar <= 0) continue;
        r.scalar = r.scalar < need ? r.scalar : need;
        need -= r.scalar;
        mz_resources one = {&r, 1};
        mz_resources_add(take, &one, err, sizeof err);
      }
      if (need > 0) goto nofit;
    } else {
      int found = 0;
      for (size_t i = 0; i < left->n && !found; i++) {
        mz_resource r = left->v[i];
        if (r.type != wr->type || strcmp(r.name, wr->name) != 0) continue;
        r.ranges = wr->ranges;
        r.nranges = wr->nranges;
        r.items = wr->items;
        r.nitems = wr->nitems;
        mz_resources one = {&r, 1};
        if (mz_resources_contains(left, &one)) {
          mz_resources_add(take, &one, err, sizeof err);
          found = 1;
        }
      }
      if (!found) goto nofit;
    }
    if (mz_resources_subtract(left, take, err, sizeof err) != 0 || mz_resources_add(got, take, err, sizeof err) != 0)
      goto nofit;
    mz_resources_free(take);
    continue;
  nofit:
    mz_resources_free(take);
    mz_resources_free(left);
    mz_resources_free(got);
    return NULL;
  }
  /* Commit: *rem becomes what is left. */
  mz_resources_clear(rem);
  mz_resources_add(rem, left, err, sizeof err);
  mz_resources_free(left);
  return got;
}

static Mesos__V1__TaskInfo *task_info_new(exec_ctx *x, exec_task *t, const Mesos__V1__Offer *offer,
                                          const mz_resources *res) {
  Mesos__V1__TaskInfo *ti = mz_calloc(1, sizeof *ti);
  mesos__v1__task_info__init(ti);
  ti->name = (char *)x->name;
  ti->task_id = mz_calloc(1, sizeof *ti->task_id);
  mesos__v1__task_id__init(ti->task_id);
  ti->task_id->value = t->id;
  ti->agent_id = offer->agent_id;
  ti->resources = mz_resources_to_proto(res, &ti->n_resources);
  ti->command = mz_calloc(1, sizeof *ti->command);
  mesos__v1__command_info__init(ti->command);
  ti->command->has_shell = 1;
  ti->command->shell = 1;
  ti->command->value = (char *)x->command;
  return ti;
}

static void task_info_free(Mesos__V1__TaskInfo *ti) {
  mz_resources_proto_free(ti->resources, ti->n_resources);
  free(ti->task_id);
  free(ti->command);
  free(ti);
}

/* ------------------------------------------------------------------ callbacks */

static void on_subscribed(mz_scheduler *s, const Mesos__V1__Scheduler__Event__Subscribed *ev, void *arg) {
  exec_ctx *x = arg;
  if (!x->quiet)
    printf("Subscribed to %s as framework %s\n", mz_scheduler_master(s), mz_scheduler_framework_id(s));
  if (mz_scheduler_subscriptions(s) > 1) {
    /* After a failover: ask where our tasks stand (their updates come again). */
    char err[256];
    mz_scheduler_reconcile(s, NULL, NULL, 0, err, sizeof err);
    if (x->next < x->n) mz_scheduler_revive(s, NULL, 0, err, sizeof err);
  }
}

static void on_offers(mz_scheduler *s, Mesos__V1__Offer *const *offers, size_t n, void *arg) {
  exec_ctx *x = arg;
  char err[256];
  for (size_t o = 0; o < n; o++) {
    const Mesos__V1__Offer *offer = offers[o];
    if (!offer->id || !offer->id->value || !offer->agent_id || !offer->agent_id->value) continue;
    const char *oid = offer->id->value;
    if (x->finishing || x->next >= x->n) {
      if (mz_scheduler_decline(s, &oid, 1, EXEC_DECLINE_DONE, err, sizeof err) != 0)
        fprintf(stderr, "mezzo execute: cannot decline offer %s: %s\n", oid, err);
      continue;
    }
    mz_resources *rem = mz_resources_from_proto(offer->resources, offer->n_resources, err, sizeof err);
    if (!rem) {
      fprintf(stderr, "mezzo execute: offer %s has invalid resources (%s); declining it\n", oid, err);
      mz_scheduler_decline(s, &oid, 1, EXEC_DECLINE_SHORT, err, sizeof err);
      continue;
    }
    size_t cap = x->n - x->next, k = 0;
    Mesos__V1__TaskInfo **batch = mz_calloc(cap, sizeof *batch);
    while (x->next < x->n) {
      mz_resources *res = pick(rem, x->want);
      if (!res) break;
      exec_task *t = &x->tasks[x->next++];
      batch[k++] = task_info_new(x, t, offer, res);
      t->launched = 1;
      mz_resources_free(res);
    }
    mz_resources_free(rem);
    if (k == 0) {
      if (mz_scheduler_decline(s, &oid, 1, EXEC_DECLINE_SHORT, err, sizeof err) != 0)
        fprintf(stderr, "mezzo execute: cannot decline offer %s: %s\n", oid, err);
    } else {
      /* Leftovers of an accepted offer count as declined: keep the filter short while tasks remain. */
      double refuse = x->next < x->n ? EXEC_DECLINE_SHORT : EXEC_DECLINE_DONE;
      if (mz_scheduler_launch(s, &oid, 1, batch, k, refuse, err, sizeof err) != 0) {
        fprintf(stderr, "mezzo execute: cannot launch on offer %s: %s\n", oid, err);
        finish(x, MZ_CLI_EXIT_FAIL);
      } else if (!x->quiet) {
        printf("Launching %zu task%s on agent %s (%s)\n", k, k == 1 ? "" : "s", offer->agent_id->value,
               offer->hostname ? offer->hostname : "?");
      }
    }
    for (size_t i = 0; i < k; i++) task_info_free(batch[i]);
    free(batch);
    if (x->next >= x->n && !x->finishing) mz_scheduler_suppress(s, NULL, 0, err, sizeof err);
  }
  fflush(stdout);
}

static void on_rescind(mz_scheduler *s, const Mesos__V1__OfferID *id, void *arg) {}

static void on_update(mz_scheduler *s, const Mesos__V1__TaskStatus *st, void *arg) {
  exec_ctx *x = arg;
  if (!st->task_id || !st->task_id->value) return;
  exec_task *t = find_task(x, st->task_id->value);
  printf("%s %s", st->task_id->value, mz_task_state_name(st->state));
  if (st->message && *st->message) printf(": %s", st->message);
  if (st->has_reason) printf(" (%s)", mz_task_reason_name(st->reason));
  printf("\n");
  fflush(stdout);
  if (!t || t->terminal) return;
  t->state = st->state;
  if (mz_task_state_terminal(st->state)) {
    t->terminal = 1;
    x->nterminal++;
    if (st->state == MESOS__V1__TASK_STATE__TASK_FINISHED) x->nfinished++;
  }
  if (x->nterminal == x->n) {
    if (!x->quiet)
      printf("%zu of %zu task%s finished\n", x->nfinished, x->n, x->n == 1 ? "" : "s");
    /* From the loop, so that this last update is acknowledged before the TEARDOWN goes out. */
    x->pending_code = x->nfinished == x->n ? MZ_CLI_EXIT_OK : MZ_CLI_EXIT_FAIL;
    struct timeval zero = {0, 0};
    event_add(x->finish_ev, &zero);
  }
}

static void on_failure(mz_scheduler *s, const Mesos__V1__Scheduler__Event__Failure *ev, void *arg) {
  exec_ctx *x = arg;
  if (x->quiet) return;
  printf("Failure: agent %s executor %s", ev->agent_id && ev->agent_id->value ? ev->agent_id->value : "?",
         ev->executor_id && ev->executor_id->value ? ev->executor_id->value : "-");
  if (ev->has_status) printf(" status %d", ev->status);
  printf("\n");
}

static void on_error(mz_scheduler *s, const char *message, void *arg) {
  exec_ctx *x = arg;
  fprintf(stderr, "mezzo execute: %s\n", message);
  x->finishing = 1; /* stopped: nothing to tear down over */
  x->exit_code = MZ_CLI_EXIT_FAIL;
  struct timeval zero = {0, 0};
  event_add(x->teardown_ev, &zero);
}

static void on_disconnected(mz_scheduler *s, const char *reason, int subscribed_before, void *arg) {
  exec_ctx *x = arg;
  if (mz_scheduler_subscriptions(s) == 0) {
    /* Never got through: the master is not there (or not answering). */
    fprintf(stderr, "mezzo execute: cannot reach master at %s: %s\n", x->master, reason);
    mz_scheduler_stop(s);
    x->finishing = 1;
    x->exit_code = MZ_CLI_EXIT_FAIL;
    struct timeval zero = {0, 0};
    event_add(x->teardown_ev, &zero);
    return;
  }
  if (x->finishing) {
    mz_scheduler_stop(s);
    return;
  }
  fprintf(stderr, "mezzo execute: lost the master (%s); subscribing again\n", reason);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg) {
  exec_ctx *x = arg;
  fprintf(stderr, "mezzo execute: timed out after %.1f s: %zu of %zu task%s finished, %zu not done\n", x->timeout,
          x->nfinished, x->n, x->n == 1 ? "" : "s", x->n - x->nterminal);
  finish(x, MZ_CLI_EXIT_FAIL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  exec_ctx *x = arg;
  if (x->finishing) {
    event_base_loopbreak(x->base);
    return;
  }
  fprintf(stderr, "mezzo execute: interrupted; tearing the framework down\n");
  finish(x, MZ_CLI_EXIT_FAIL);
}

/* ------------------------------------------------------------------ command */

int mz_cli_execute(int argc, char **argv) {
  const char *master = NULL, *name = NULL, *command = NULL, *resources = "cpus:0.1;mem:32", *role = "*",
             *user = NULL, *ctype = "protobuf";
  long instances = 1;
  double timeout = 0;
  int quiet = 0, help = 0;
  const mz_flag flags[] = {
      {"master", MZ_FLAG_STRING, &master, "HOST:PORT of the master"},
      {"name", MZ_FLAG_STRING, &name, "framework name and task id prefix"},
      {"command", MZ_FLAG_STRING, &command, "shell command of each task"},
      {"resources", MZ_FLAG_STRING, &resources, "resources of each task"},
      {"instances", MZ_FLAG_INT, &instances, "number of tasks"},
      {"role", MZ_FLAG_STRING, &role, "role"},
      {"user", MZ_FLAG_STRING, &user, "user to run the tasks as"},
      {"timeout", MZ_FLAG_DURATION, &timeout, "give up after this long"},
      {"content_type", MZ_FLAG_STRING, &ctype, "protobuf or json"},
      {"quiet", MZ_FLAG_BOOL, &quiet, "print only task states and errors"},
  };
  char err[512];
  int pos;
  if (mz_flags_parse(flags, sizeof flags / sizeof flags[0], argc, argv, &pos, &help, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo execute: %s\n", err);
    return MZ_CLI_EXIT_USAGE;
  }
  if (help) {
    mz_cli_execute_usage(stdout);
    return MZ_CLI_EXIT_OK;
  }
  if (pos < argc) {
    fprintf(stderr, "mezzo execute: unexpected argument '%s' (flags are --name=value)\n", argv[pos]);
    return MZ_CLI_EXIT_USAGE;
  }
  char host[MZ_CLI_HOST_MAX];
  int port;
  if (mz_cli_parse_master(master, host, sizeof host, &port, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo execute: %s\n", err);
    return MZ_CLI_EXIT_USAGE;
  }
  if (!command || !*command) {
    fprintf(stderr, "mezzo execute: flag --command is required (the shell command each task runs)\n");
    return MZ_CLI_EXIT_USAGE;
  }
  if (instances < 1 || instances > EXEC_MAX_INSTANCES) {
    fprintf(stderr, "mezzo execute: flag --instances: expected 1 to %d, got %ld\n", EXEC_MAX_INSTANCES, instances);
    return MZ_CLI_EXIT_USAGE;
  }
  const char *prefix = name && *name ? name : "mezzo-execute";
  char idtest[MZ_ID_MAX + 1];
  snprintf(idtest, sizeof idtest, "%s-%ld", prefix, instances);
  if (strlen(prefix) + 12 > MZ_ID_MAX || mz_id_valid(idtest, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo execute: flag --name: '%s' cannot prefix a task id (printable, no '/', under %d bytes)\n",
            prefix, MZ_ID_MAX - 12);
    return MZ_CLI_EXIT_USAGE;
  }
  if (!role || !*role || strlen(role) > MZ_ROLE_NAME_MAX || strchr(role, '/') == role || strchr(role, ' ')) {
    fprintf(stderr, "mezzo execute: flag --role: invalid role '%s'\n", role ? role : "");
    return MZ_CLI_EXIT_USAGE;
  }
  mz_content_type ct;
  if (!strcmp(ctype, "protobuf") || !strcmp(ctype, MZ_CT_PROTOBUF_NAME)) {
    ct = MZ_CT_PROTOBUF;
  } else if (!strcmp(ctype, "json") || !strcmp(ctype, MZ_CT_JSON_NAME)) {
    ct = MZ_CT_JSON;
  } else {
    fprintf(stderr, "mezzo execute: flag --content_type: expected protobuf or json, got '%s'\n", ctype);
    return MZ_CLI_EXIT_USAGE;
  }
  mz_resources *want = mz_resources_parse(resources, "*", err, sizeof err);
  if (!want) {
    fprintf(stderr, "mezzo execute: flag --resources: %s\n", err);
    return MZ_CLI_EXIT_USAGE;
  }
  if (mz_resources_empty(want)) {
    fprintf(stderr, "mezzo execute: flag --resources: a task needs some resources (e.g. 'cpus:0.1;mem:32')\n");
    mz_resources_free(want);
    return MZ_CLI_EXIT_USAGE;
  }
  if (!user || !*user) {
    struct passwd *pw = getpwuid(getuid());
    user = pw && pw->pw_name ? pw->pw_name : getenv("USER");
    if (!user || !*user) user = "root";
  }
  if (!quiet) mz_log_set_level(MZ_LOG_WARNING);
  else mz_log_set_level(MZ_LOG_ERROR);
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);

  exec_ctx x = {0};
  x.name = prefix;
  x.command = command;
  x.role = role;
  x.master = master;
  x.want = want;
  x.n = (size_t)instances;
  x.quiet = quiet;
  x.timeout = timeout;
  x.exit_code = MZ_CLI_EXIT_FAIL;
  x.tasks = mz_calloc(x.n, sizeof *x.tasks);
  for (size_t i = 0; i < x.n; i++) {
    snprintf(x.tasks[i].id, sizeof x.tasks[i].id, "%s-%zu", prefix, i);
    x.tasks[i].state = -1;
  }
  x.base = event_base_new();

  Mesos__V1__FrameworkInfo fi = MESOS__V1__FRAMEWORK_INFO__INIT;
  fi.user = (char *)user;
  fi.name = (char *)(name && *name ? name : "mezzo-execute");
  fi.has_failover_timeout = 1;
  fi.failover_timeout = EXEC_FAILOVER_TIMEOUT;
  char *roles[1] = {(char *)role};
  fi.roles = roles;
  fi.n_roles = 1;
  Mesos__V1__FrameworkInfo__Capability cap = MESOS__V1__FRAMEWORK_INFO__CAPABILITY__INIT;
  cap.has_type = 1;
  cap.type = MESOS__V1__FRAMEWORK_INFO__CAPABILITY__TYPE__MULTI_ROLE;
  Mesos__V1__FrameworkInfo__Capability *caps[1] = {&cap};
  fi.capabilities = caps;
  fi.n_capabilities = 1;

  mz_scheduler_callbacks cbs = {0};
  cbs.on_subscribed = on_subscribed;
  cbs.on_offers = on_offers;
  cbs.on_rescind = on_rescind;
  cbs.on_update = on_update;
  cbs.on_failure = on_failure;
  cbs.on_error = on_error;
  cbs.on_disconnected = on_disconnected;
  mz_scheduler_options opts = {0};
  opts.content_type = ct;
  opts.auto_acknowledge = 1;
  opts.call_timeout = 30;
  char addr[MZ_CLI_HOST_MAX + 16];
  snprintf(addr, sizeof addr, "%s:%d", host, port);
  /* A zk:// master goes to libmezzo as is, so that the framework follows the leader. */
  x.s = mz_scheduler_new(x.base, mz_zk_is_url(master) ? master : addr, &fi, &cbs, &x, &opts, err, sizeof err);
  int rc = MZ_CLI_EXIT_FAIL;
  if (!x.s) {
    fprintf(stderr, "mezzo execute: %s\n", err);
    goto out;
  }
  x.teardown_ev = evtimer_new(x.base, break_loop_cb, &x);
  x.finish_ev = evtimer_new(x.base, finish_cb, &x);
  x.timeout_ev = evtimer_new(x.base, on_timeout, &x);
  x.sigint_ev = evsignal_new(x.base, SIGINT, on_signal, &x);
  x.sigterm_ev = evsignal_new(x.base, SIGTERM, on_signal, &x);
  event_add(x.sigint_ev, NULL);
  event_add(x.sigterm_ev, NULL);
  if (timeout > 0) {
    struct timeval tv = {(time_t)timeout, (suseconds_t)((timeout - (double)(time_t)timeout) * 1e6)};
    event_add(x.timeout_ev, &tv);
  }
  if (mz_scheduler_start(x.s, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo execute: cannot reach master at %s: %s\n", master, err);
    goto out;
  }
  event_base_dispatch(x.base);
  rc = x.exit_code;
out:
  mz_scheduler_free(x.s);
  if (x.teardown_ev) event_free(x.teardown_ev);
  if (x.finish_ev) event_free(x.finish_ev);
  if (x.timeout_ev) event_free(x.timeout_ev);
  if (x.sigint_ev) event_free(x.sigint_ev);
  if (x.sigterm_ev) event_free(x.sigterm_ev);
  event_base_free(x.base);
  mz_resources_free(want);
  free(x.tasks);
  return rc;
}
