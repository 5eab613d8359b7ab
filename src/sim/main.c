/* main: mezzo-sim's flags, the file descriptor budget, signals and the loop.
 *
 *   mezzo-sim --master=127.0.0.1:5050 --agents=10000 --frameworks=10 --task_duration=10secs
 *   mezzo-sim --agents=100000 --links=100 ...          (1,000 agents per link)
 *   mezzo-sim --master=zk://127.0.0.1:2181/mezzo ...   (follows the leading master)
 *
 * Signals: SIGUSR1 starts a new measurement window (counters and latency
 * histograms reset); SIGUSR2 prints the summary and writes --report now, going
 * on (a driver's snapshot of the window); SIGINT / SIGTERM stop the sim, which then prints its
 * summary line on stdout and writes --report. It also stops by itself after
 * --duration, or with --exit_when_done once --max_tasks tasks have all ended and
 * been acknowledged. Exit status: 0, 1 on bad flags or set-up failure, 3 when
 * --exit_when_done was asked but --duration ran out first.
 *
 * Every open file counts against RLIMIT_NOFILE (at most 20,000 here, not
 * raisable): the soft limit is raised to the hard one, and a configuration that
 * needs more (one per link, two per framework, a reserve) is refused with the
 * figures, before anything connects. */
#include <event2/event.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/flags.h"
#include "common/log.h"
#include "common/util.h"
#include "common/zk.h"
#include "common/zk_detector.h"
#include "mezzo/scheduler.h"
#include "sim/sim.h"

#define FD_RESERVE 64        /* stdio, the report, the event loop's own, slack */
#define TICK 0.1             /* housekeeping period */
#define MAX_AGENTS 10000000L /* flag sanity bounds */
#define MAX_FRAMEWORKS 10000L
#define MAX_SOURCES 250

uint64_t sim_rand(sim *s) { /* xorshift128+ */
  uint64_t a = s->rng[0], b = s->rng[1];
  s->rng[0] = b;
  a ^= a << 23;
  s->rng[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
  return s->rng[1] + b;
}

double sim_rand01(sim *s) { return (double)(sim_rand(s) >> 11) / 9007199254740992.0; }

static void on_stop_signal(evutil_socket_t sig, short what, void *arg) {
  (void)what;
  sim *s = arg;
  MZ_INFO("sim", "signal %d: stopping", (int)sig);
  s->stopping = true;
  event_base_loopbreak(s->base);
}

static void on_usr1(evutil_socket_t sig, short what, void *arg) {
  (void)sig;
  (void)what;
  sim *s = arg;
  sim_print_progress(s);
  sim_window_reset(s);
  fprintf(stderr, "sim: new measurement window\n");
}

static void on_usr2(evutil_socket_t sig, short what, void *arg) {
  (void)sig;
  (void)what;
  sim *s = arg;
  char err[512];
  sim_print_summary(s);
  if (s->f.report && *s->f.report && sim_write_report(s, s->f.report, err, sizeof err) != 0)
    fprintf(stderr, "mezzo-sim: %s\n", err);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  sim *s = arg;
  double now = mz_monotonic();
  static double last_check = 0;
  if (now - last_check >= 1.0) {
    last_check = now;
    sim_links_check(s);
  }
  if (s->f.progress_interval > 0 && now - s->last_progress >= s->f.progress_interval) {
    s->last_progress = now;
    sim_print_progress(s);
  }
  if (s->f.exit_when_done && s->f.max_tasks > 0 && s->total_terminal >= (uint64_t)s->f.max_tasks &&
      s->live_tasks == 0) {
    fprintf(stderr, "sim: all %ld tasks ended and were acknowledged\n", s->f.max_tasks);
    s->exit_code = 0;
    s->stopping = true;
    event_base_loopbreak(s->base);
    return;
  }
  if (s->f.duration > 0 && now - s->started >= s->f.duration) {
    if (s->f.exit_when_done) {
      fprintf(stderr, "sim: --duration ran out before every task ended (%llu of %ld)\n",
              (unsigned long long)s->total_terminal, s->f.max_tasks);
      s->exit_code = 3;
    }
    s->stopping = true;
    event_base_loopbreak(s->base);
  }
}

void sim_event(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fprintf(stderr, "sim: event %s t=%.6f\n", buf, mz_now());
}

/* The detector's report (zk://): every link follows the new leader at once. */
static void on_leader(void *arg, const mz_leader *l) {
  sim *s = arg;
  if (!l) {
    sim_event("leader none");
    return;
  }
  if (s->port == l->port && !strcmp(s->host, l->host)) return;
  bool first = s->port == 0;
  mz_strlcpy(s->host, l->host, sizeof s->host);
  s->port = l->port;
  s->leader_changes++;
  sim_event("leader host=%s port=%d", s->host, s->port);
  sim_links_retarget(s);
  if (first) sim_agents_ramp_start(s);
}

/* "host:port" -> s->host, s->port; "zk://..." -> s->zk (the host of its first server, port 0, for now). */
static int parse_master(sim *s, char *err, size_t errlen) {
  const char *m = s->f.master;
  if (mz_zk_is_url(m)) {
    mz_zk_url url;
    if (mz_zk_parse_url(m, &url, err, errlen) != 0) return -1;
    s->zk = true;
    s->port = 0;
    size_t n = strcspn(url.servers, ",");
    const char *colon = memchr(url.servers, ':', n);
    size_t hl = colon ? (size_t)(colon - url.servers) : n;
    if (hl >= sizeof s->host) hl = sizeof s->host - 1;
    memcpy(s->host, url.servers, hl);
    s->host[hl] = 0;
    return 0;
  }
  if (!strncmp(m, "http://", 7)) m += 7;
  const char *colon = strrchr(m, ':');
  char *end;
  long port = colon ? strtol(colon + 1, &end, 10) : 0;
  if (!colon || colon == m || (size_t)(colon - m) >= sizeof s->host || *end || port <= 0 || port > 65535) {
    snprintf(err, errlen, "flag --master: expected HOST:PORT, got '%s'", s->f.master);
    return -1;
  }
  memcpy(s->host, m, (size_t)(colon - m));
  s->host[colon - m] = 0;
  s->port = (int)port;
  return 0;
}

static int setup_sources(sim *s, char *err, size_t errlen) {
  const char *v = s->f.source_ips;
  if (!v || !*v || !strcmp(v, "none")) return 0;
  if (!strcmp(v, "auto")) {
    if (strncmp(s->host, "127.", 4) != 0 || (long)s->nlinks <= s->f.conns_per_source) return 0;
    size_t k = (s->nlinks + (size_t)s->f.conns_per_source - 1) / (size_t)s->f.conns_per_source;
    if (k > MAX_SOURCES) k = MAX_SOURCES;
    s->sources = mz_calloc(k, sizeof *s->sources);
    for (size_t i = 0; i < k; i++) {
      char ip[32];
      snprintf(ip, sizeof ip, "127.0.0.%zu", i + 2);
      s->sources[i] = mz_strdup(ip);
    }
    s->nsources = k;
    return 0;
  }
  char *copy = mz_strdup(v), *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (s->nsources == MAX_SOURCES || strlen(tok) > 45) {
      free(copy);
      snprintf(err, errlen, "flag --source_ips: at most %d addresses of at most 45 characters", MAX_SOURCES);
      return -1;
    }
    s->sources = mz_realloc(s->sources, (s->nsources + 1) * sizeof *s->sources);
    s->sources[s->nsources++] = mz_strdup(tok);
  }
  free(copy);
  return 0;
}

/* Raises the soft open-file limit to the hard one; refuses a configuration that needs more. */
static int fd_budget(sim *s, char *err, size_t errlen) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    snprintf(err, errlen, "getrlimit(RLIMIT_NOFILE) failed");
    return -1;
  }
  if (rl.rlim_cur < rl.rlim_max) {
    rlim_t before = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = before;
  }
  unsigned long long need = (unsigned long long)s->nlinks + 2ULL * (unsigned long long)s->f.frameworks + FD_RESERVE;
  MZ_INFO("sim", "open file limit %llu; this run needs about %llu", (unsigned long long)rl.rlim_cur, need);
  if (rl.rlim_cur != RLIM_INFINITY && need > (unsigned long long)rl.rlim_cur) {
    snprintf(err, errlen,
             "flags --agents=%ld --agents_per_link=%ld --frameworks=%ld need %zu link connection(s) + %ld framework "
             "connection(s) + %d spare = %llu open files, but RLIMIT_NOFILE is %llu: use --links=K to carry many "
             "agents per connection",
             s->f.agents, s->f.agents_per_link, s->f.frameworks, s->nlinks, 2 * s->f.frameworks, FD_RESERVE, need,
             (unsigned long long)rl.rlim_cur);
    return -1;
  }
  return 0;
}

static int check_flags(sim *s, char *err, size_t errlen) {
  sim_flags *f = &s->f;
  if (f->agents < 0 || f->agents > MAX_AGENTS) {
    snprintf(err, errlen, "flag --agents: must be in 0..%ld", MAX_AGENTS);
    return -1;
  }
  if (f->frameworks < 0 || f->frameworks > MAX_FRAMEWORKS) {
    snprintf(err, errlen, "flag --frameworks: must be in 0..%ld", MAX_FRAMEWORKS);
    return -1;
  }
  if (f->links < 0 || f->agents_per_link < 0) {
    snprintf(err, errlen, "flags --links and --agents_per_link: must not be negative");
    return -1;
  }
  if (f->links > 0 && f->agents_per_link > 0) {
    snprintf(err, errlen, "flags --links and --agents_per_link: give one or the other, not both");
    return -1;
  }
  if (f->links > 0) {
    if (f->agents > 0 && f->links > f->agents) f->links = f->agents;
    f->agents_per_link = f->agents > 0 ? (f->agents + f->links - 1) / f->links : 1;
  } else if (f->agents_per_link == 0) {
    f->agents_per_link = 1;
  }
  if (!(f->ramp_per_s > 0)) {
    snprintf(err, errlen, "flag --ramp_per_s: must be positive");
    return -1;
  }
  if (!(f->task_duration >= 0)) {
    snprintf(err, errlen, "flag --task_duration: must not be negative");
    return -1;
  }
  if (!(f->task_duration_spread >= 0 && f->task_duration_spread < 1)) {
    snprintf(err, errlen, "flag --task_duration_spread: must be in [0, 1)");
    return -1;
  }
  if (!(f->fail_rate >= 0 && f->fail_rate <= 1)) {
    snprintf(err, errlen, "flag --fail_rate: must be in [0, 1]");
    return -1;
  }
  if (!(f->tasks_per_s >= 0)) {
    snprintf(err, errlen, "flag --tasks_per_s: must not be negative (0 = no limit)");
    return -1;
  }
  if (f->max_tasks < 0) {
    snprintf(err, errlen, "flag --max_tasks: must not be negative (0 = no limit)");
    return -1;
  }
  if (f->tasks_per_offer < 0) {
    snprintf(err, errlen, "flag --tasks_per_offer: must not be negative (0 = as many as fit)");
    return -1;
  }
  if (!(f->refuse_seconds >= 0)) {
    snprintf(err, errlen, "flag --refuse_seconds: must not be negative");
    return -1;
  }
  if (!(f->offer_hold >= 0)) {
    snprintf(err, errlen, "flag --offer_hold: must not be negative");
    return -1;
  }
  if (!(f->duration >= 0)) {
    snprintf(err, errlen, "flag --duration: must not be negative (0 = until signalled)");
    return -1;
  }
  if (f->conns_per_source < 1) {
    snprintf(err, errlen, "flag --conns_per_source: must be positive");
    return -1;
  }
  if (!(f->register_timeout > 0) || !(f->update_retry > 0)) {
    snprintf(err, errlen, "flags --register_timeout and --update_retry: must be positive");
    return -1;
  }
  if (f->exit_when_done && f->max_tasks == 0) {
    snprintf(err, errlen, "flag --exit_when_done: needs --max_tasks");
    return -1;
  }
  const char *ct = f->link_content_type;
  if (!strcmp(ct, "protobuf") || !strcmp(ct, MZ_CT_PROTOBUF_NAME)) s->link_ct = MZ_CT_PROTOBUF;
  else if (!strcmp(ct, "json") || !strcmp(ct, MZ_CT_JSON_NAME)) s->link_ct = MZ_CT_JSON;
  else {
    snprintf(err, errlen, "flag --link_content_type: expected protobuf or json, got '%s'", ct);
    return -1;
  }
  return parse_master(s, err, errlen);
}

int main(int argc, char **argv) {
  static sim S;
  sim *s = &S;
  s->f = (sim_flags){
      .master = "127.0.0.1:5050",
      .zk_session_timeout = MZ_ZK_DEFAULT_SESSION_TIMEOUT,
      .agents = 100,
      .agents_per_link = 0,
      .links = 0,
      .agent_resources = "cpus:16;mem:65536;disk:100000;ports:[31000-32000]",
      .agent_attributes = "",
      .ramp_per_s = 2000,
      .frameworks = 1,
      .task_resources = "cpus:0.1;mem:32",
      .task_duration = 5,
      .fail_rate = 0,
      .tasks_per_s = 0,
      .max_tasks = 0,
      .tasks_per_offer = 0,
      .refuse_seconds = 1,
      .offer_hold = 1,
      .duration = 0,
      .exit_when_done = 0,
      .report = NULL,
      .source_ips = "auto",
      .conns_per_source = 10000,
      .role = "*",
      .link_content_type = "protobuf",
      .logging_level = "WARNING",
      .progress_interval = 10,
      .register_timeout = 30,
      .update_retry = 10,
  };
  sim_flags *f = &s->f;
  const mz_flag table[] = {
      {"master", MZ_FLAG_STRING, &f->master,
       "the master, HOST:PORT (default 127.0.0.1:5050), or zk://host:port,.../path to follow the leading master"},
      {"zk_session_timeout", MZ_FLAG_DURATION, &f->zk_session_timeout,
       "ZooKeeper session timeout of the agents' leader detector with a zk:// master (default 10secs)"},
      {"agents", MZ_FLAG_INT, &f->agents, "agents to emulate (default 100)"},
      {"agents_per_link", MZ_FLAG_INT, &f->agents_per_link,
       "agents carried by each link connection (default 1: one connection per agent)"},
      {"links", MZ_FLAG_INT, &f->links, "multiplex the agents over this many link connections (instead of "
                                        "--agents_per_link)"},
      {"agent_resources", MZ_FLAG_STRING, &f->agent_resources,
       "each agent's resources (default cpus:16;mem:65536;disk:100000;ports:[31000-32000])"},
      {"agent_attributes", MZ_FLAG_STRING, &f->agent_attributes, "each agent's attributes, e.g. rack:r1;zone:a"},
      {"ramp_per_s", MZ_FLAG_DOUBLE, &f->ramp_per_s, "agent (re-)registrations per second at most (default 2000)"},
      {"frameworks", MZ_FLAG_INT, &f->frameworks, "frameworks to emulate (default 1)"},
      {"task_resources", MZ_FLAG_STRING, &f->task_resources,
       "each task's resources, unreserved scalars only (default cpus:0.1;mem:32)"},
      {"task_duration", MZ_FLAG_DURATION, &f->task_duration, "how long a task runs (default 5secs)"},
      {"task_duration_spread", MZ_FLAG_DOUBLE, &f->task_duration_spread,
       "spread task durations uniformly over task_duration x (1 +- this), in 16 steps (default 0: all equal)"},
      {"fail_rate", MZ_FLAG_DOUBLE, &f->fail_rate, "fraction of tasks ending TASK_FAILED (default 0)"},
      {"tasks_per_s", MZ_FLAG_DOUBLE, &f->tasks_per_s, "task launches per second, all frameworks together (default 0: "
                                                       "as fast as offers allow)"},
      {"max_tasks", MZ_FLAG_INT, &f->max_tasks, "tasks to launch in all (default 0: no limit)"},
      {"tasks_per_offer", MZ_FLAG_INT, &f->tasks_per_offer, "tasks launched per offer at most (default 0: as many as "
                                                            "fit)"},
      {"refuse_seconds", MZ_FLAG_DURATION, &f->refuse_seconds,
       "Filters.refuse_seconds of ACCEPTs and DECLINEs (default 1secs)"},
      {"offer_hold", MZ_FLAG_DURATION, &f->offer_hold,
       "how long an offer waits for a --tasks_per_s token before it is declined (default 1secs)"},
      {"duration", MZ_FLAG_DURATION, &f->duration, "stop after this long (default 0: until SIGINT/SIGTERM)"},
      {"exit_when_done", MZ_FLAG_BOOL, &f->exit_when_done,
       "stop once --max_tasks tasks have all ended and been acknowledged"},
      {"report", MZ_FLAG_STRING, &f->report, "write the measurements as JSON to this file at the end"},
      {"source_ips", MZ_FLAG_STRING, &f->source_ips,
       "source addresses to spread link connections over: auto (127.0.0.2, 127.0.0.3, ... when there are more than "
       "--conns_per_source links to a 127.x master), none, or a comma-separated list (default auto)"},
      {"conns_per_source", MZ_FLAG_INT, &f->conns_per_source, "link connections per source address (default 10000)"},
      {"role", MZ_FLAG_STRING, &f->role, "the frameworks' role (default *)"},
      {"link_content_type", MZ_FLAG_STRING, &f->link_content_type, "protobuf (default) or json on the agent links"},
      {"logging_level", MZ_FLAG_STRING, &f->logging_level, "DEBUG, INFO, WARNING (default) or ERROR"},
      {"progress_interval", MZ_FLAG_DURATION, &f->progress_interval,
       "print a progress line on stderr this often (default 10secs; 0: never)"},
      {"register_timeout", MZ_FLAG_DURATION, &f->register_timeout,
       "register again when REGISTERED has not come after this long (default 30secs)"},
      {"update_retry", MZ_FLAG_DURATION, &f->update_retry,
       "resend an unacknowledged status update after this long (default 10secs)"},
  };
  const size_t nflags = sizeof table / sizeof table[0];
  int early = mz_flags_main("mezzo-sim", table, nflags, argc, argv, &f->logging_level);
  if (early >= 0) return early;
  char err[1024];
  if (check_flags(s, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo-sim: %s\n", err);
    return 1;
  }
  s->nlinks = (size_t)((f->agents + f->agents_per_link - 1) / f->agents_per_link);
  if (fd_budget(s, err, sizeof err) != 0 || setup_sources(s, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo-sim: %s\n", err);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  uint8_t seed[16];
  mz_uuid_generate(seed);
  memcpy(s->rng, seed, sizeof s->rng);
  if (!s->rng[0] && !s->rng[1]) s->rng[0] = 1;

  int rc = 1;
  s->base = event_base_new();
  struct event *sigint = NULL, *sigterm = NULL, *sigusr1 = NULL, *sigusr2 = NULL;
  if (!s->base) {
    fprintf(stderr, "mezzo-sim: cannot create the event loop\n");
    return 1;
  }
  s->started = s->last_progress = mz_monotonic();
  sim_window_reset(s);
  if (sim_links_init(s, err, sizeof err) != 0 || sim_agents_init(s, err, sizeof err) != 0 ||
      sim_frameworks_init(s, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo-sim: %s\n", err);
    goto out;
  }
  sigint = evsignal_new(s->base, SIGINT, on_stop_signal, s);
  sigterm = evsignal_new(s->base, SIGTERM, on_stop_signal, s);
  sigusr1 = evsignal_new(s->base, SIGUSR1, on_usr1, s);
  sigusr2 = evsignal_new(s->base, SIGUSR2, on_usr2, s);
  s->tick_ev = event_new(s->base, -1, EV_PERSIST, on_tick, s);
  if (!sigint || !sigterm || !sigusr1 || !sigusr2 || !s->tick_ev) {
    fprintf(stderr, "mezzo-sim: cannot create events\n");
    goto out;
  }
  event_add(sigint, NULL);
  event_add(sigterm, NULL);
  event_add(sigusr1, NULL);
  event_add(sigusr2, NULL);
  struct timeval tick = {0, (suseconds_t)(TICK * 1e6)};
  event_add(s->tick_ev, &tick);
  fprintf(stderr, "sim: %ld agent(s) over %zu link(s) (%ld per link)%s%s, %ld framework(s), master %s\n", f->agents,
          s->nlinks, f->agents_per_link, s->nsources ? ", from " : "", s->nsources ? s->sources[0] : "",
          f->frameworks, f->master);
  if (sim_frameworks_start(s, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo-sim: %s\n", err);
    goto out;
  }
  if (s->zk) {
    /* The agents start once the detector names the leader (on_leader). */
    s->detector = mz_detector_new(s->base, f->master, f->zk_session_timeout, on_leader, s, err, sizeof err);
    if (!s->detector) {
      fprintf(stderr, "mezzo-sim: flag --master: %s\n", err);
      goto out;
    }
  } else {
    sim_agents_ramp_start(s);
  }
  event_base_dispatch(s->base);
  rc = s->exit_code;
  sim_print_summary(s);
  if (f->report && *f->report && sim_write_report(s, f->report, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo-sim: %s\n", err);
    rc = 1;
  }

out:
  s->stopping = true;
  mz_detector_free(s->detector);
  s->detector = NULL;
  sim_frameworks_free(s);
  sim_links_free(s);
  sim_agents_free(s);
  if (sigint) event_free(sigint);
  if (sigterm) event_free(sigterm);
  if (sigusr1) event_free(sigusr1);
  if (sigusr2) event_free(sigusr2);
  if (s->tick_ev) event_free(s->tick_ev);
  for (size_t i = 0; i < s->nsources; i++) free(s->sources[i]);
  free(s->sources);
  event_base_free(s->base);
  return rc;
}
