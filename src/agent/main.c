/* mezzo-agent: main. Parses the flags (Mesos's names; MEZZO_<FLAG> in the
 * environment too), works out the machine's resources, starts the HTTP server
 * (executor API, /state, /health), the containerizer, the status update manager
 * and the link to the master, and runs the event loop. SIGTERM / SIGINT kill
 * every container, unregister from the master and exit 0; a second one exits at
 * once. Owns the mz_agent and everything in it. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "agent/agent.h"
#include "agent/cgroups_lock.h"
#include "agent/containerizer.h"
#include "agent/disk_du.h"
#include "agent/fetch_cache.h"
#include "agent/fork_server.h"
#include "agent/gc.h"
#include "agent/gpu.h"
#include "common/flags.h"
#include "common/http.h"
#include "common/log.h"
#include "common/zk.h"

#define SHUTDOWN_FLUSH 0.3 /* seconds left to the loop to write UNREGISTER */
#define MZ_FORK_SERVERS_DEFAULT_MAX 4 /* fork servers when --executor_fork_servers is not given: one per CPU, at most this */

static mz_agent A;
static struct event *sig_term, *sig_int, *exit_timer;
static mz_gpus GPUS; /* gpu/nvidia (gpu.h); lent to A.isolation */
static const char *nvidia_gpu_devices, *nvml_library;

static void on_exit_timer(evutil_socket_t fd, short what, void *arg) { event_base_loopexit(A.base, NULL); }

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  if (A.shutting_down) {
    MZ_WARN(MZ_AGENT_MOD, "second signal: exiting now");
    event_base_loopbreak(A.base);
    return;
  }
  MZ_INFO(MZ_AGENT_MOD, "got signal %d: killing every task and shutting down", (int)sig);
  A.shutting_down = 1;
  mz_containerizer_kill_all(A.containerizer, 2.0);
  if (A.link) mz_master_link_unregister(A.link);
  mz_timer_in(exit_timer, SHUTDOWN_FLUSH);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg) { mz_ag_exec_heartbeat_all(&A); }

static void on_container_exit(void *owner, const mz_container_termination *t, void *arg) {
  mz_ag_exec_exited(arg, owner, t->wait_status, t->launch_error, t->limited, t->limit_message);
}

/* A direct command task's pid, which comes after its launch (containerizer.h). */
static void on_container_pid(void *owner, pid_t pid) { ((mz_ag_executor *)owner)->pid = pid; }

/* The executor fork servers (fork_server.h), with the environment executors inherit:
 * --executor_fork_servers of them, or one per CPU online up to
 * MZ_FORK_SERVERS_DEFAULT_MAX (a server waits for each child until its exec, so one
 * server leaves CPUs idle that its children could use). Returns how many started into
 * fs[] (0, logged: executors are exec'd). */
static size_t start_fork_servers(mz_agent_flags *f, mz_fork_server **fs) {
  if (f->executor_fork_servers == 0) { /* /flags shows the count chosen */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    f->executor_fork_servers = cpus < 1 ? 1 : cpus > MZ_FORK_SERVERS_DEFAULT_MAX ? MZ_FORK_SERVERS_DEFAULT_MAX : cpus;
  }
  long want = f->executor_fork_servers;
  char path[4200], err[512] = "", pids[MZ_LAUNCH_CHANNELS_MAX * 12] = "";
  snprintf(path, sizeof path, "%s/mezzo-executor", A.launcher_dir);
  size_t n = 0;
  while (environ[n]) n++;
  char **env = mz_calloc(n + 1, sizeof *env);
  for (size_t i = 0, j = 0; i < n; i++)
    if (mz_ag_env_inherited(environ[i])) env[j++] = environ[i];
  size_t started = 0;
  for (long i = 0; i < want; i++) {
    fs[started] = mz_fork_server_start(path, env, err, sizeof err);
    if (!fs[started]) break;
    size_t len = strlen(pids);
    snprintf(pids + len, sizeof pids - len, "%s%d", started ? ", " : "", (int)mz_fork_server_pid(fs[started]));
    started++;
  }
  free(env);
  if (started)
    MZ_INFO(MZ_AGENT_MOD, "command and default executors start as forks of %s --fork-server (%zu server%s, pid%s %s)",
            path, started, started > 1 ? "s" : "", started > 1 ? "s" : "", pids);
  if ((long)started < want)
    MZ_WARN(MZ_AGENT_MOD, "%s (%s)%s", started ? "fewer executor fork servers than asked" : "no executor fork server",
            err, started ? "" : ": executors are exec'd");
  return started;
}

/* "host:port", "http://host:port" or "host" (port 5050). */
static int parse_master(const char *s, char **host, int *port, char *err, size_t errlen) {
  if (!s || !*s) {
    snprintf(err, errlen, "flag --master is required (HOST:PORT of the master)");
    return -1;
  }
  if (!strncmp(s, "zk://", 5)) { /* the leader is found by master_link.c's detector */
    mz_zk_url url;
    if (mz_zk_parse_url(s, &url, err, errlen) != 0) return -1;
    *host = mz_strdup("");
    *port = 0;
    return 0;
  }
  if (!strncmp(s, "file://", 7)) {
    snprintf(err, errlen, "flag --master: '%s' is not supported yet; give HOST:PORT", s);
    return -1;
  }
  if (!strncmp(s, "http://", 7)) s += 7;
  size_t n = strcspn(s, "/");
  char buf[512];
  if (n == 0 || n >= sizeof buf) {
    snprintf(err, errlen, "flag --master: invalid value '%s' (expected HOST:PORT)", s);
    return -1;
  }
  memcpy(buf, s, n);
  buf[n] = '\0';
  char *colon = strrchr(buf, ':');
  long p = 5050;
  if (colon) {
    char *end;
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p <= 0 || p > 65535 || colon == buf) {
      snprintf(err, errlen, "flag --master: invalid value '%s' (expected HOST:PORT)", s);
      return -1;
    }
    *colon = '\0';
  }
  *host = mz_strdup(buf);
  *port = (int)p;
  return 0;
}

static char *default_launcher_dir(void) {
  char path[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return mz_strdup(".");
  path[n] = '\0';
  return mz_strdup(dirname(path));
}

static char *absolute(const char *p) {
  char buf[PATH_MAX];
  if (realpath(p, buf)) return mz_strdup(buf);
  return mz_strdup(p);
}

/* --http_executor_domain_sockets: the socket at --domain_socket_location, or at
 * <work_dir>/agent.sock when that path is short enough for a socket. 0, or -1 after
 * printing the error. */
static int open_executor_socket(const mz_agent_flags *f) {
  char err[512], path[PATH_MAX];
  const char *loc = f->domain_socket_location;
  if (!loc) {
    int n = snprintf(path, sizeof path, "%s/agent.sock", A.work_dir);
    if (n >= MZ_UNIX_PATH_MAX) {
      MZ_WARN(MZ_AGENT_MOD, "executors reach the agent over TCP only: the executor socket %s would have %d "
              "characters, and a socket's path has fewer than %d (see --domain_socket_location)", path, n,
              MZ_UNIX_PATH_MAX);
      return 0;
    }
    loc = path;
  }
  if (mz_executor_socket_open(&A, loc, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo-agent: flag --%s: %s\n",
            f->domain_socket_location ? "domain_socket_location" : "http_executor_domain_sockets", err);
    return -1;
  }
  MZ_INFO(MZ_AGENT_MOD, "serving executors on %s too", A.executor_socket);
  return 0;
}

int main(int argc, char **argv) {
  mz_agent_flags *f = &A.flags;
  f->ip = "0.0.0.0";
  f->port = 5051;
  f->work_dir = "/tmp/mezzo-agent";
  f->default_role = "*";
  f->logging_level = "INFO";
  f->link_content_type = MZ_CT_PROTOBUF_NAME;
  f->executor_registration_timeout = 60;
  f->executor_shutdown_grace_period = 5;
  f->registration_backoff_factor = 1;
  f->status_update_retry_interval_min = 10;
  f->status_update_retry_interval_max = 600;
  f->max_completed_executors_per_framework = 150;
  f->max_completed_frameworks = 50;
  f->cgroups_root = "mezzo";
  f->switch_user = 1;
  f->executor_fork_server = 1;
  f->direct_command_tasks = 1;
  f->http_executor_domain_sockets = 1;
  f->recover = "reconnect";
  f->recovery_timeout = 15 * 60;
  f->executor_reregistration_timeout = 2;
  f->fetcher_cache_size = 2ULL << 30;
  f->fetcher_stall_timeout = 60;
  f->gc_delay = 7 * 86400;
  f->container_disk_watch_interval = 15;
  f->gc_disk_headroom = 0.1;
  f->disk_watch_interval = 60;
  const mz_flag table[] = {
      {"master", MZ_FLAG_STRING, &f->master, "HOST:PORT of the master (required)"},
      {"ip", MZ_FLAG_STRING, &f->ip, "IP address to listen on (default 0.0.0.0)"},
      {"port", MZ_FLAG_INT, &f->port, "port to listen on (default 5051; 0 picks a free one)"},
      {"advertise_ip", MZ_FLAG_STRING, &f->advertise_ip, "IP that executors use to reach the agent"},
      {"hostname", MZ_FLAG_STRING, &f->hostname, "hostname to advertise (default: the machine's)"},
      {"work_dir", MZ_FLAG_STRING, &f->work_dir, "where sandboxes live (default /tmp/mezzo-agent)"},
      {"resources", MZ_FLAG_STRING, &f->resources,
       "total resources, e.g. 'cpus:4;mem:2048;ports:[31000-32000]' or a JSON array; what is not named is detected"},
      {"attributes", MZ_FLAG_STRING, &f->attributes, "attributes, e.g. 'rack:r1;zone:a'"},
      {"default_role", MZ_FLAG_STRING, &f->default_role, "role of resources given without one (default *)"},
      {"launcher_dir", MZ_FLAG_STRING, &f->launcher_dir,
       "directory holding mezzo-executor (default: the agent binary's directory)"},
      {"log_dir", MZ_FLAG_STRING, &f->log_dir, "write the log to <log_dir>/mezzo-agent.log instead of stderr"},
      {"logging_level", MZ_FLAG_STRING, &f->logging_level, "DEBUG, INFO, WARNING or ERROR (default INFO)"},
      {"link_content_type", MZ_FLAG_STRING, &f->link_content_type,
       "encoding of the link to the master: application/x-protobuf (default) or application/json"},
      {"executor_registration_timeout", MZ_FLAG_DURATION, &f->executor_registration_timeout,
       "how long an executor has to subscribe (default 1mins)"},
      {"executor_shutdown_grace_period", MZ_FLAG_DURATION, &f->executor_shutdown_grace_period,
       "how long an executor has to stop before it is killed (default 5secs)"},
      {"registration_backoff_factor", MZ_FLAG_DURATION, &f->registration_backoff_factor,
       "first backoff before connecting to the master again (default 1secs, doubling, at most 10secs)"},
      {"status_update_retry_interval_min", MZ_FLAG_DURATION, &f->status_update_retry_interval_min,
       "first retry of an unacknowledged status update (default 10secs, doubling)"},
      {"status_update_retry_interval_max", MZ_FLAG_DURATION, &f->status_update_retry_interval_max,
       "longest interval between retries of a status update (default 10mins)"},
      {"max_completed_executors_per_framework", MZ_FLAG_INT, &f->max_completed_executors_per_framework,
       "completed executors kept per framework for /state (default 150)"},
      {"max_completed_frameworks", MZ_FLAG_INT, &f->max_completed_frameworks,
       "completed frameworks kept for /state (default 50)"},
      {"isolation", MZ_FLAG_STRING, &f->isolation,
       "isolators, comma-separated: cgroups/cpu, cgroups/mem, cgroups/pids, namespaces/pid, filesystem/posix, "
       "posix/cpu, posix/mem, disk/du (default: detected: cgroups v2, else v1, else posix)"},
      {"cgroups_root", MZ_FLAG_STRING, &f->cgroups_root,
       "name of the cgroup under the agent's own that holds the containers' (default mezzo)"},
      {"cgroups_enable_cfs", MZ_FLAG_BOOL, &f->cgroups_enable_cfs, "hard cpu limits with the CFS quota"},
      {"cgroups_limit_pids", MZ_FLAG_INT, &f->cgroups_limit_pids,
       "most processes in one container, with cgroups/pids (default 0: no limit)"},
      {"switch_user", MZ_FLAG_BOOL, &f->switch_user,
       "run tasks as CommandInfo.user when the agent is root (default true)"},
      {"executor_fork_server", MZ_FLAG_BOOL, &f->executor_fork_server,
       "start command and default executors, and the commands of command tasks, as forks of mezzo-executor "
       "fork servers started at startup, not one exec each (default true)"},
      {"executor_fork_servers", MZ_FLAG_INT, &f->executor_fork_servers,
       "how many fork servers, each launch going to the least busy (1 to 8; default 0: one per CPU online, "
       "at most 4)"},
      {"direct_command_tasks", MZ_FLAG_BOOL, &f->direct_command_tasks,
       "run the command of a command task without a command executor process when its framework does not "
       "checkpoint and it has no health check: the agent starts it and reports its updates as the command "
       "executor would (default true)"},
      {"http_executor_domain_sockets", MZ_FLAG_BOOL, &f->http_executor_domain_sockets,
       "serve executors on a Unix domain socket too, given to them as MESOS_DOMAIN_SOCKET (default true; "
       "Mesos's is false)"},
      {"domain_socket_location", MZ_FLAG_STRING, &f->domain_socket_location,
       "path of that socket, fewer than 108 characters (default <work_dir>/agent.sock, when that is short "
       "enough; else executors use TCP)"},
      {"fetcher_stall_timeout", MZ_FLAG_DURATION, &f->fetcher_stall_timeout,
       "a download that moves less than a byte per second for this long fails its task (default 1mins)"},
      {"executor_environment_variables", MZ_FLAG_STRING, &f->executor_environment_variables,
       "JSON object of the environment variables executors (and so their tasks) get instead of the agent's own, "
       "e.g. '{\"PATH\": \"/bin:/usr/bin\"}' (default: the agent's environment is inherited)"},
      {"fetcher_cache_dir", MZ_FLAG_STRING, &f->fetcher_cache_dir,
       "where URIs with cache=true are kept; emptied at start, as Mesos's (default: <work_dir>/fetch_cache)"},
      {"fetcher_cache_size", MZ_FLAG_BYTES, &f->fetcher_cache_size,
       "bytes the fetcher cache holds at most; least recently used entries go first, and a URI that does not "
       "fit is fetched without it (default 2GB)"},
      {"gc_delay", MZ_FLAG_DURATION, &f->gc_delay,
       "how long the sandbox of an executor that is done is kept, at most (default 1weeks; less as the disk "
       "fills, see --gc_disk_headroom)"},
      {"gc_disk_headroom", MZ_FLAG_DOUBLE, &f->gc_disk_headroom,
       "sandboxes older than gc_delay * max(0, 1 - gc_disk_headroom - disk usage) are removed every "
       "--disk_watch_interval; between 0.0 and 1.0 (default 0.1)"},
      {"disk_watch_interval", MZ_FLAG_DURATION, &f->disk_watch_interval,
       "how often the disk usage of the work_dir is read (default 1mins)"},
      {"container_disk_watch_interval", MZ_FLAG_DURATION, &f->container_disk_watch_interval,
       "with the disk/du isolator, how often each running container's sandbox is measured (default 15secs)"},
      {"enforce_container_disk_quota", MZ_FLAG_BOOL, &f->enforce_container_disk_quota,
       "with the disk/du isolator, destroy a container whose sandbox outgrows its disk resources (default false)"},
      {"recover", MZ_FLAG_STRING, &f->recover,
       "reconnect (default): recover the checkpointed state and reconnect with the executors of checkpointing "
       "frameworks; cleanup: kill what an earlier run left, forget it and exit"},
      {"recovery_timeout", MZ_FLAG_DURATION, &f->recovery_timeout,
       "how long executors of checkpointing frameworks wait for a restarted agent (default 15mins)"},
      {"executor_reregistration_timeout", MZ_FLAG_DURATION, &f->executor_reregistration_timeout,
       "how long a restarted agent waits for its recovered executors to subscribe again (default 2secs)"},
      {"nvidia_gpu_devices", MZ_FLAG_STRING, &nvidia_gpu_devices,
       "GPU ids (as nvidia-smi numbers them) the agent manages, e.g. [0,1] (default: all); --resources must then "
       "name gpus:<as many>"},
      {"nvml_library", MZ_FLAG_STRING, &nvml_library,
       "path of the NVML library opened at run time (default libnvidia-ml.so.1; for tests)"},
  };
  const size_t nflags = sizeof table / sizeof table[0];
  int early = mz_flags_main("mezzo-agent", table, nflags, argc, argv, &f->logging_level);
  if (early >= 0) return early;
  char err[1024];
  if (f->port < 0 || f->port > 65535) {
    fprintf(stderr, "mezzo-agent: flag --port: invalid value '%ld' (expected 0-65535)\n", f->port);
    return 2;
  }
  if (!f->recover || (strcmp(f->recover, "reconnect") && strcmp(f->recover, "cleanup"))) {
    fprintf(stderr, "mezzo-agent: flag --recover: invalid value '%s' (expected reconnect or cleanup)\n",
            f->recover ? f->recover : "");
    return 2;
  }
  if (f->recovery_timeout <= 0 || f->executor_reregistration_timeout <= 0) {
    fprintf(stderr, "mezzo-agent: flags --recovery_timeout and --executor_reregistration_timeout must be positive\n");
    return 2;
  }
  if (f->executor_fork_servers < 0 || f->executor_fork_servers > MZ_LAUNCH_CHANNELS_MAX) {
    fprintf(stderr, "mezzo-agent: flag --executor_fork_servers: invalid value '%ld' (expected 0-%d)\n",
            f->executor_fork_servers, MZ_LAUNCH_CHANNELS_MAX);
    return 2;
  }
  if (f->executor_registration_timeout <= 0) {
    fprintf(stderr, "mezzo-agent: flag --executor_registration_timeout: must be positive\n");
    return 2;
  }
  if (!(f->gc_disk_headroom >= 0.0 && f->gc_disk_headroom <= 1.0)) {
    fprintf(stderr, "mezzo-agent: flag --gc_disk_headroom: invalid value '%g' (expected 0.0 to 1.0)\n",
            f->gc_disk_headroom);
    return 2;
  }
  if (f->fetcher_stall_timeout < 1) {
    fprintf(stderr, "mezzo-agent: flag --fetcher_stall_timeout: must be at least 1secs\n");
    return 2;
  }
  if (f->container_disk_watch_interval <= 0) {
    fprintf(stderr, "mezzo-agent: flag --container_disk_watch_interval: must be positive\n");
    return 2;
  }
  if (f->disk_watch_interval <= 0) {
    fprintf(stderr, "mezzo-agent: flag --disk_watch_interval: must be positive\n");
    return 2;
  }
  if (f->executor_environment_variables &&
      mz_ag_executor_env_parse(f->executor_environment_variables, &A.executor_env, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo-agent: flag --executor_environment_variables: %s\n", err);
    return 2;
  }
  if (f->max_completed_executors_per_framework < 1 || f->max_completed_frameworks < 1) {
    fprintf(stderr, "mezzo-agent: flags --max_completed_executors_per_framework and --max_completed_frameworks must "
                    "be at least 1\n");
    return 2;
  }
  if (!f->work_dir || !*f->work_dir) {
    fprintf(stderr, "mezzo-agent: flag --work_dir: must not be empty\n");
    return 2;
  }
  const char *ct = f->link_content_type;
  if (strcmp(ct, "json") && strcmp(ct, "protobuf") && strcmp(ct, MZ_CT_JSON_NAME) && strcmp(ct, MZ_CT_PROTOBUF_NAME)) {
    fprintf(stderr, "mezzo-agent: flag --link_content_type: invalid value '%s' (expected %s or %s)\n", ct,
            MZ_CT_PROTOBUF_NAME, MZ_CT_JSON_NAME);
    return 2;
  }
  if (parse_master(f->master, &A.master_host, &A.master_port, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo-agent: %s\n", err);
    return 2;
  }
  if (mz_mkdirs(f->work_dir, 0755, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo-agent: flag --work_dir: %s\n", err);
    return 2;
  }
  A.work_dir = absolute(f->work_dir);
  A.launcher_dir = f->launcher_dir && *f->launcher_dir ? absolute(f->launcher_dir) : default_launcher_dir();
  mz_machine_info machine;
  if (mz_detect_machine(A.work_dir, &machine, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo-agent: %s\n", err);
    return 2;
  }
  A.resources = mz_agent_resources(f->resources, f->default_role, &machine, err, sizeof err);
  if (!A.resources) {
    fprintf(stderr, "mezzo-agent: %s\n", err);
    return 2;
  }
  if (mz_gpus_init(&GPUS, f->isolation, nvidia_gpu_devices, nvml_library, err, sizeof err) != 0 ||
      mz_gpus_resources(&GPUS, A.resources, f->resources, f->default_role,
                        nvidia_gpu_devices && *nvidia_gpu_devices, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo-agent: %s\n", err);
    mz_resources_free(A.resources);
    mz_gpus_free(&GPUS);
    return 2;
  }
  size_t nattr = 0;
  A.attributes = mz_attributes_parse(f->attributes ? f->attributes : "", &nattr, err, sizeof err);
  if (!A.attributes) {
    fprintf(stderr, "mezzo-agent: flag --attributes: %s\n", err);
    mz_resources_free(A.resources);
    return 2;
  }
  A.nattributes = nattr;
  char host[256];
  if (f->hostname && *f->hostname) {
    A.hostname = mz_strdup(f->hostname);
  } else if (gethostname(host, sizeof host) == 0) {
    host[sizeof host - 1] = '\0';
    A.hostname = mz_strdup(host);
  } else {
    A.hostname = mz_strdup("localhost");
  }
  if (f->advertise_ip && *f->advertise_ip)
    A.endpoint_ip = mz_strdup(f->advertise_ip);
  else if (!strcmp(f->ip, "0.0.0.0") || !*f->ip)
    A.endpoint_ip = mz_strdup("127.0.0.1");
  else
    A.endpoint_ip = mz_strdup(f->ip);
  if (f->log_dir && *f->log_dir && mz_log_set_dir(f->log_dir, "mezzo-agent") != 0)
    fprintf(stderr, "mezzo-agent: cannot log to %s; logging to stderr\n", f->log_dir);

  signal(SIGPIPE, SIG_IGN);
  A.base = event_base_new();
  A.start_time = mz_now();
  A.http = mz_http_server_new(A.base, NULL);
  if (!A.base || !A.http) {
    fprintf(stderr, "mezzo-agent: cannot start the event loop\n");
    return 1;
  }
  mz_executor_api_register(&A, A.http);
  mz_endpoints_register(&A, A.http);
  mz_files_register(&A, A.http);
  mz_agent_operator_api_register(&A, A.http);
  if (mz_http_server_listen(A.http, f->ip, (int)f->port, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo-agent: cannot listen on %s:%ld: %s\n", f->ip, f->port, err);
    return 1;
  }
  A.port = mz_http_server_port(A.http);
  if (f->cgroups_limit_pids < 0) {
    fprintf(stderr, "mezzo-agent: flag --cgroups_limit_pids: must not be negative\n");
    return 2;
  }
  if (mz_isolation_init(&A.isolation, f->isolation, f->cgroups_root, f->cgroups_enable_cfs, f->cgroups_limit_pids,
                        err, sizeof err) != 0) {
    fprintf(stderr, "mezzo-agent: %s\n", err);
    return 2;
  }
  mz_isolation_enable_gpus(&A.isolation, &GPUS);
  MZ_INFO(MZ_AGENT_MOD, "isolation: %s, chosen because: %s%s", A.isolation.spec, A.isolation.reason,
          A.isolation.cg == MZ_CG_NONE ? "" : "");
  MZ_INFO(MZ_AGENT_MOD, "gpu/nvidia: %s: %s", GPUS.enabled ? "on" : "off", GPUS.reason ? GPUS.reason : "");
  for (int c = 0; c < MZ_CGC_N; c++)
    if (A.isolation.base[c]) MZ_INFO(MZ_AGENT_MOD, "containers' cgroups under %s", A.isolation.base[c]);
  A.cgroups_sole = mz_cgroups_lock_all(MZ_CGROUPS_LOCK_DIR, A.isolation.base, MZ_CGC_N, A.cgroups_locks, err,
                                       sizeof err);
  if (err[0])
    MZ_WARN(MZ_AGENT_MOD, "containers left in these cgroups by an agent whose work directory is gone will not be "
            "destroyed: nothing tells whether another agent uses them (%s)", err);
  else if (!A.cgroups_sole && A.isolation.cg != MZ_CG_NONE)
    MZ_INFO(MZ_AGENT_MOD, "another agent uses these cgroups too: only the containers this agent recorded are "
            "recovered or destroyed");
  if (f->http_executor_domain_sockets && open_executor_socket(f) != 0) return 2;
  char *fetch_cache = NULL;
  if (!f->fetcher_cache_dir || !*f->fetcher_cache_dir) {
    size_t n = strlen(A.work_dir) + 32;
    fetch_cache = mz_malloc(n);
    snprintf(fetch_cache, n, "%s/fetch_cache", A.work_dir);
    f->fetcher_cache_dir = fetch_cache;
  }
  mz_fork_server *fork_servers[MZ_LAUNCH_CHANNELS_MAX];
  size_t nfork = f->executor_fork_server && !A.isolation.pid_ns ? start_fork_servers(f, fork_servers) : 0;
  A.containerizer =
      mz_containerizer_new(A.base, mz_launcher_new(&A.isolation, fork_servers, nfork), on_container_exit, &A);
  if (A.containerizer) {
    mz_containerizer_on_pid(A.containerizer, on_container_pid);
    char meta[4200];
    snprintf(meta, sizeof meta, "%s/meta/containers", A.work_dir);
    if (mz_mkdirs(meta, 0755, err, sizeof err) == 0) {
      mz_containerizer_set_meta_dir(A.containerizer, meta); /* recovered below (recover.c) */
    } else {
      MZ_WARN(MZ_AGENT_MOD, "containers will not be recovered after a crash: %s", err);
    }
    if (A.isolation.posix_mem || (A.isolation.cg == MZ_CG_V2 && A.isolation.cg_mem))
      mz_containerizer_set_mem_sampling(A.containerizer, 0.25);
  }
  A.gc = mz_gc_new(A.base, A.work_dir, f->gc_delay, f->gc_disk_headroom, f->disk_watch_interval, err, sizeof err);
  if (!A.gc) MZ_WARN(MZ_AGENT_MOD, "sandboxes will not be garbage collected: %s", err);
  if (mz_fetch_cache_reset(f->fetcher_cache_dir, A.work_dir, A.gc, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo-agent: flag --fetcher_cache_dir: %s\n", err);
    return 2;
  }
  A.fetch_cache_ready = 1;
  if (A.isolation.disk_du) A.disk_du = mz_disk_du_new(&A, f->container_disk_watch_interval, f->enforce_container_disk_quota);
  A.su = mz_su_new(A.base, &mz_agent_su_callbacks, &A);
  mz_su_set_backoff(A.su, f->status_update_retry_interval_min, f->status_update_retry_interval_max);
  A.link = mz_master_link_new(&A, err, sizeof err);
  if (!A.containerizer || !A.link) {
    fprintf(stderr, "mezzo-agent: %s\n", A.link ? "cannot start the containerizer" : err);
    return 1;
  }
  sig_term = evsignal_new(A.base, SIGTERM, on_signal, NULL);
  sig_int = evsignal_new(A.base, SIGINT, on_signal, NULL);
  evsignal_add(sig_term, NULL);
  evsignal_add(sig_int, NULL);
  exit_timer = evtimer_new(A.base, on_exit_timer, NULL);
  A.heartbeat_timer = event_new(A.base, -1, EV_PERSIST, on_heartbeat, NULL);
  mz_timer_in(A.heartbeat_timer, MZ_AGENT_EXECUTOR_HEARTBEAT);

  char *res = mz_resources_format(A.resources);
  MZ_INFO(MZ_AGENT_MOD, "mezzo-agent %s listening on %s:%d as %s, work_dir %s, resources %s, master %s:%d",
          MZ_VERSION, f->ip, A.port, A.hostname, A.work_dir, res ? res : "?", A.master_host, A.master_port);
  free(res);
  /* Recovery (recover.c): what an earlier run left is re-attached or destroyed; with
   * executors to wait for, the link starts once they are back. */
  int recovered = mz_agent_recover(&A);
  if (A.cgroups_sole) mz_cgroups_lock_share_all(A.cgroups_locks, MZ_CGC_N);
  if (recovered == 0) {
    if (!A.recovering) mz_master_link_start(A.link);
    event_base_dispatch(A.base);
  }

  if (mz_containerizer_count(A.containerizer) > 0) mz_containerizer_kill_all(A.containerizer, 2.0);
  mz_master_link_free(A.link);
  mz_agent_free_state(&A);
  mz_agent_operator_api_free();
  mz_containerizer_free(A.containerizer);
  mz_su_free(A.su);
  mz_gc_free(A.gc);
  mz_disk_du_free(A.disk_du);
  json_decref(A.executor_env);
  mz_http_server_free(A.http);
  mz_executor_socket_close(&A);
  event_free(sig_term);
  event_free(sig_int);
  event_free(exit_timer);
  event_free(A.heartbeat_timer);
  if (A.recovery_timer) event_free(A.recovery_timer);
  event_base_free(A.base);
  for (int c = 0; c < MZ_CGC_N; c++)
    if (A.cgroups_locks[c] >= 0) close(A.cgroups_locks[c]);
  mz_resources_free(A.resources);
  mz_attributes_free(A.attributes, A.nattributes);
  free(A.agent_id);
  free(A.hostname);
  free(A.endpoint_ip);
  free(A.work_dir);
  free(A.launcher_dir);
  free(A.master_host);
  free(fetch_cache);
  mz_isolation_free(&A.isolation);
  mz_gpus_free(&GPUS);
  MZ_INFO(MZ_AGENT_MOD, "stopped");
  return 0;
}
