/* main: mezzo-master's flags (Mesos's names, also read from MEZZO_<FLAG>),
 * process set-up (file descriptor limit, signals, logging) and the event loop.
 * SIGINT / SIGTERM stop the loop; the master is then freed cleanly. */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/flags.h"
#include "common/log.h"
#include "common/zk.h"
#include "master/master.h"
#include "master/registry_master.h"

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  (void)what;
  MZ_INFO("master", "received signal %d, stopping", (int)sig);
  event_base_loopbreak(arg);
}

/* Twice a second: a follower reads the registry ahead (registry_master.h). */
static void on_prefetch(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  mz_registrar_prefetch(arg);
}

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    MZ_WARN("master", "getrlimit(RLIMIT_NOFILE) failed");
    return;
  }
  rlim_t before = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    MZ_WARN("master", "cannot raise the open file limit from %llu to %llu", (unsigned long long)before,
            (unsigned long long)rl.rlim_max);
    return;
  }
  MZ_INFO("master", "open file limit raised from %llu to %llu", (unsigned long long)before,
          (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv) {
  mz_master_flags f = {
      .ip = "0.0.0.0",
      .port = 5050,
      .hostname = NULL,
      .advertise_ip = NULL,
      .work_dir = "/tmp/mezzo-master",
      .log_dir = NULL,
      .logging_level = "INFO",
      .allocator = "drf",
      .cluster = NULL,
      .allocation_interval = 0.05,
      .offer_timeout = 0,
      .agent_ping_timeout = 15,
      .max_agent_ping_timeouts = 5,
      .agent_reregister_timeout = 600,
      .agent_removal_rate_limit = NULL,
      .registry = NULL, /* zk with --zk, else sqlite */
      .registry_max_agent_age = 14 * 86400.0,
      .registry_max_agent_count = 100 * 1024,
      .registry_gc_interval = 900,
      .heartbeat_interval = MZ_MASTER_HEARTBEAT_DEFAULT,
      .max_completed_frameworks = 50,
      .max_completed_tasks_per_framework = 1000,
      .max_unreachable_tasks_per_framework = 1000,
      .max_frameworks = 10000,
      .max_agents = 200000,
      .max_links = 18000,
      .zk = NULL,
      .quorum = 0,
      .zk_session_timeout = MZ_ZK_DEFAULT_SESSION_TIMEOUT,
  };
  const mz_flag table[] = {
      {"ip", MZ_FLAG_STRING, &f.ip, "IP address to listen on (default 0.0.0.0)"},
      {"port", MZ_FLAG_INT, &f.port, "port to listen on (default 5050; 0 picks a free one)"},
      {"hostname", MZ_FLAG_STRING, &f.hostname, "hostname to advertise (default: the system's)"},
      {"advertise_ip", MZ_FLAG_STRING, &f.advertise_ip, "IP address to advertise (default: --ip, or the hostname's)"},
      {"work_dir", MZ_FLAG_STRING, &f.work_dir, "directory for the master's files (default /tmp/mezzo-master)"},
      {"log_dir", MZ_FLAG_STRING, &f.log_dir, "write the log to <log_dir>/mezzo-master.log instead of stderr"},
      {"logging_level", MZ_FLAG_STRING, &f.logging_level, "DEBUG, INFO, WARNING or ERROR (default INFO)"},
      {"allocator", MZ_FLAG_STRING, &f.allocator,
       "drf (weighted hierarchical DRF, the default), priority, or the path of an allocator module .so"},
      {"weights", MZ_FLAG_STRING, &f.weights, "role weights, e.g. 'eng=2,ops=1' (default 1 each)"},
      {"cluster", MZ_FLAG_STRING, &f.cluster, "human readable name of the cluster"},
      {"allocation_interval", MZ_FLAG_DURATION, &f.allocation_interval,
       "batching window of event-driven allocation (default 50ms)"},
      {"offer_timeout", MZ_FLAG_DURATION, &f.offer_timeout, "rescind offers after this long (default: never)"},
      {"agent_ping_timeout", MZ_FLAG_DURATION, &f.agent_ping_timeout, "agent link PING period (default 15secs)"},
      {"max_agent_ping_timeouts", MZ_FLAG_INT, &f.max_agent_ping_timeouts,
       "missed PINGs before a link is dead; disconnected agents are removed after "
       "agent_ping_timeout * max_agent_ping_timeouts (default 5)"},
      {"agent_reregister_timeout", MZ_FLAG_DURATION, &f.agent_reregister_timeout,
       "after the master restarts, agents in the registry that do not re-register within this are marked "
       "unreachable (default 10mins)"},
      {"agent_removal_rate_limit", MZ_FLAG_STRING, &f.agent_removal_rate_limit,
       "most agents marked unreachable per duration when they fail health checks, e.g. 1/10mins (default: no limit)"},
      {"registry", MZ_FLAG_STRING, &f.registry,
       "where the registry is kept: zk (in ZooKeeper under the --zk path, shared by the masters; the default "
       "with --zk), sqlite (<work_dir>/registry.db; the default without --zk) or in_memory"},
      {"registry_max_agent_age", MZ_FLAG_DURATION, &f.registry_max_agent_age,
       "unreachable and gone agents are forgotten by the registry after this (default 2weeks)"},
      {"registry_max_agent_count", MZ_FLAG_INT, &f.registry_max_agent_count,
       "most unreachable and gone agents kept in the registry (default 102400)"},
      {"registry_gc_interval", MZ_FLAG_DURATION, &f.registry_gc_interval,
       "how often the registry forgets expired agents (default 15mins)"},
      {"framework_heartbeat_interval", MZ_FLAG_DURATION, &f.heartbeat_interval,
       "HEARTBEAT period on scheduler streams (default 15secs)"},
      {"max_completed_frameworks", MZ_FLAG_INT, &f.max_completed_frameworks,
       "completed frameworks kept for /master/state (default 50)"},
      {"max_completed_tasks_per_framework", MZ_FLAG_INT, &f.max_completed_tasks_per_framework,
       "completed tasks kept per framework (default 1000)"},
      {"max_unreachable_tasks_per_framework", MZ_FLAG_INT, &f.max_unreachable_tasks_per_framework,
       "tasks on unreachable agents kept per partition-aware framework for reconciliation (default 1000)"},
      {"max_frameworks", MZ_FLAG_INT, &f.max_frameworks, "most frameworks registered at once (default 10000)"},
      {"max_agents", MZ_FLAG_INT, &f.max_agents, "most agents registered at once (default 200000)"},
      {"max_agent_links", MZ_FLAG_INT, &f.max_links, "most agent links at once (default 18000)"},
      {"zk", MZ_FLAG_STRING, &f.zk,
       "zk://host1:port1,host2:port2/path: contend for leadership through ZooKeeper (default: standalone)"},
      {"quorum", MZ_FLAG_INT, &f.quorum,
       "number of masters that make a quorum (required with --zk)"},
      {"zk_session_timeout", MZ_FLAG_DURATION, &f.zk_session_timeout, "ZooKeeper session timeout (default 10secs)"},
  };
  const size_t nflags = sizeof table / sizeof table[0];
  int early = mz_flags_main("mezzo-master", table, nflags, argc, argv, &f.logging_level);
  if (early >= 0) return early;
  char err[512];
  if (f.log_dir && *f.log_dir && mz_log_set_dir(f.log_dir, "mezzo-master") != 0)
    fprintf(stderr, "mezzo-master: cannot log to %s; logging to stderr\n", f.log_dir);
  if (f.port < 0 || f.port > 65535) {
    fprintf(stderr, "mezzo-master: --port must be in 0..65535\n");
    return 1;
  }
  if (f.agent_ping_timeout <= 0 || f.max_agent_ping_timeouts < 1 || f.heartbeat_interval <= 0) {
    fprintf(stderr, "mezzo-master: --agent_ping_timeout, --max_agent_ping_timeouts and "
                    "--framework_heartbeat_interval must be positive\n");
    return 1;
  }
  if (f.agent_reregister_timeout < 0 || f.registry_max_agent_age < 0 || f.registry_max_agent_count < 0 ||
      f.registry_gc_interval <= 0) {
    fprintf(stderr, "mezzo-master: --agent_reregister_timeout, --registry_max_agent_age and "
                    "--registry_max_agent_count must not be negative, --registry_gc_interval must be positive\n");
    return 1;
  }
  if (f.zk && *f.zk) {
    mz_zk_url url;
    if (mz_zk_parse_url(f.zk, &url, err, sizeof err) != 0) {
      fprintf(stderr, "mezzo-master: flag --zk: %s\n", err);
      return 1;
    }
    if (f.quorum < 1) {
      fprintf(stderr, "mezzo-master: flag --quorum is required with --zk and must be at least 1\n");
      return 1;
    }
    if (f.zk_session_timeout <= 0) {
      fprintf(stderr, "mezzo-master: flag --zk_session_timeout must be positive\n");
      return 1;
    }
  } else if (f.quorum != 0) {
    fprintf(stderr, "mezzo-master: flag --quorum needs --zk\n");
    return 1;
  }
  if (f.registry && *f.registry && strcmp(f.registry, "zk") && strcmp(f.registry, "sqlite") &&
      strcmp(f.registry, "in_memory")) {
    fprintf(stderr, "mezzo-master: flag --registry: unknown '%s' (expecting zk, sqlite or in_memory)\n", f.registry);
    return 1;
  }
  if (f.registry && !strcmp(f.registry, "zk") && !(f.zk && *f.zk)) {
    fprintf(stderr, "mezzo-master: flag --registry=zk needs --zk\n");
    return 1;
  }
  raise_nofile();
  signal(SIGPIPE, SIG_IGN);

  /* Two priorities: agent links and framework calls (MZ_HTTP_ROUTE_BULK) run at the
   * lower one, in slices of at most 5 ms between which the loop polls again, so a
   * short request (/health, the operator API, the web UI) waits for at most one slice
   * however busy the master is. */
  struct event_config *cfg = event_config_new();
  struct timeval slice = {0, 5000};
  if (cfg) event_config_set_max_dispatch_interval(cfg, &slice, -1, 1);
  struct event_base *base = cfg ? event_base_new_with_config(cfg) : NULL;
  if (cfg) event_config_free(cfg);
  if (base && event_base_priority_init(base, 2) != 0) {
    event_base_free(base);
    base = NULL;
  }
  if (!base) {
    fprintf(stderr, "mezzo-master: cannot create the event loop\n");
    return 1;
  }
  mz_master *m = mz_master_new(base, &f, table, nflags, err, sizeof err);
  if (!m) {
    MZ_ERROR("master", "cannot start: %s", err);
    event_base_free(base);
    return 1;
  }
  struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
  struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
  event_add(sigint, NULL);
  event_add(sigterm, NULL);
  struct event *prefetch = NULL;
  if (f.zk && *f.zk) {
    prefetch = event_new(base, -1, EV_PERSIST, on_prefetch, m);
    struct timeval half = {0, 500000};
    if (prefetch) event_add(prefetch, &half);
  }

  event_base_dispatch(base);

  int rc = m->exit_code;
  MZ_INFO("master", "shutting down");
  event_free(sigint);
  event_free(sigterm);
  if (prefetch) event_free(prefetch);
  mz_master_free(m);
  event_base_free(base);
  return rc;
}
