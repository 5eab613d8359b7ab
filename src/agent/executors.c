/* executors: the life of one executor on the agent.
 *   launch:  sandbox (sandbox.c), environment as Mesos sets it, the process started
 *            by the containerizer in its own session, registration timer armed;
 *   subscribe (executor_api.c) -> queued tasks sent as LAUNCH events;
 *   kill:    KILL event, and an escalation timer that destroys the container if a
 *            killed task is still not terminal after its grace period plus
 *            --executor_shutdown_grace_period;
 *   shutdown: SHUTDOWN event, the container destroyed after the grace period;
 *   exit:    reaped by the containerizer; tasks still live get an agent-generated
 *            terminal update (TASK_FAILED / REASON_EXECUTOR_TERMINATED by default).
 * The timers and the environment built for a launch are owned here; the executor
 * record itself belongs to agent.c. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "agent/agent.h"
#include "agent/containerizer.h"
#include "agent/fetch_cache.h"
#include "agent/fetcher.h"
#include "agent/gpu.h"
#include "common/task_command.h"
#include "common/http.h"
#include "common/log.h"

#define DEFAULT_TASK_KILL_GRACE 3.0 /* the command executor's default, as in Mesos */

extern char **environ;

static double duration_info_seconds(const Mesos__V1__DurationInfo *d, double def) {
  return d ? (double)d->nanoseconds / 1e9 : def;
}

static double shutdown_grace(mz_agent *a, const mz_ag_executor *ex) {
  return duration_info_seconds(ex->info->shutdown_grace_period, a->flags.executor_shutdown_grace_period);
}

/* ------------------------------------------------------------------ environment */

typedef struct {
  char **v;
  size_t n, cap;
} strv;

static void strv_push(strv *s, char *owned) {
  if (s->n + 2 > s->cap) {
    s->cap = s->cap ? s->cap * 2 : 64;
    s->v = mz_realloc(s->v, s->cap * sizeof *s->v);
  }
  s->v[s->n++] = owned;
  s->v[s->n] = NULL;
}

static void strv_set(strv *s, const char *name, const char *value) {
  size_t nl = strlen(name);
  char *e = mz_malloc(nl + strlen(value) + 2);
  sprintf(e, "%s=%s", name, value);
  for (size_t i = 0; i < s->n; i++) {
    if (!strncmp(s->v[i], name, nl) && s->v[i][nl] == '=') {
      free(s->v[i]);
      s->v[i] = e;
      return;
    }
  }
  strv_push(s, e);
}

static void strv_free(strv *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
}

int mz_ag_env_inherited(const char *entry) {
  return strncmp(entry, "MEZZO_", 6) != 0 || strncmp(entry, "MEZZO_EXECUTOR_", 15) == 0;
}

int mz_ag_executor_env_parse(const char *text, json_t **out, char *err, size_t errlen) {
  json_error_t je;
  json_t *j = json_loads(text, 0, &je);
  if (!j || !json_is_object(j)) {
    snprintf(err, errlen, "must be a JSON object of names to strings%s%s", j ? "" : ": ", j ? "" : je.text);
    json_decref(j);
    return -1;
  }
  const char *k;
  json_t *v;
  json_object_foreach(j, k, v) {
    if (!json_is_string(v)) {
      snprintf(err, errlen, "`executor_environment_variables` must only contain string values ('%.100s' is not)", k);
      json_decref(j);
      return -1;
    }
    if (!*k || strchr(k, '=')) {
      snprintf(err, errlen, "'%.100s' is not a variable name", k);
      json_decref(j);
      return -1;
    }
  }
  *out = j;
  return 0;
}

/* The agent's environment without its own MEZZO_ flags (or, with
 * --executor_environment_variables, exactly those variables, a default PATH and the
 * executor's MEZZO_EXECUTOR_* settings, as Mesos), plus what Mesos gives executors. */
static void build_env(mz_agent *a, mz_ag_executor *ex, strv *env) {
  if (a->executor_env) {
    const char *k;
    json_t *v;
    json_object_foreach(a->executor_env, k, v) strv_set(env, k, json_string_value(v));
    for (size_t i = 0; environ && environ[i]; i++)
      if (!strncmp(environ[i], "MEZZO_EXECUTOR_", 15)) strv_push(env, mz_strdup(environ[i]));
    if (!json_object_get(a->executor_env, "PATH")) strv_set(env, "PATH", MZ_HOST_DEFAULT_PATH);
  } else {
    for (size_t i = 0; environ && environ[i]; i++)
      if (mz_ag_env_inherited(environ[i])) strv_push(env, mz_strdup(environ[i]));
  }
  char buf[512];
  strv_set(env, "MESOS_FRAMEWORK_ID", ex->fw->id);
  strv_set(env, "MESOS_EXECUTOR_ID", ex->id);
  strv_set(env, "MESOS_SLAVE_ID", a->agent_id);
  strv_set(env, "MESOS_AGENT_ID", a->agent_id);
  strv_set(env, "MESOS_DIRECTORY", ex->directory);
  strv_set(env, "MESOS_SANDBOX", ex->directory);
  snprintf(buf, sizeof buf, "%s:%d", a->endpoint_ip, a->port);
  strv_set(env, "MESOS_AGENT_ENDPOINT", buf);
  if (a->executor_socket) strv_set(env, "MESOS_DOMAIN_SOCKET", a->executor_socket);
  snprintf(buf, sizeof buf, "slave(1)@%s:%d", a->endpoint_ip, a->port);
  strv_set(env, "MESOS_SLAVE_PID", buf);
  strv_set(env, "MESOS_CHECKPOINT", ex->fw->info->has_checkpoint && ex->fw->info->checkpoint ? "1" : "0");
  snprintf(buf, sizeof buf, "%gsecs", shutdown_grace(a, ex));
  strv_set(env, "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", buf);
  snprintf(buf, sizeof buf, "%gsecs", a->flags.recovery_timeout);
  strv_set(env, "MESOS_RECOVERY_TIMEOUT", buf);
  strv_set(env, "MESOS_CONTAINER_ID", ex->container_id);
  if (ex->command) strv_set(env, "MESOS_HTTP_COMMAND_EXECUTOR", "1");
  strv_set(env, "MESOS_LOGGING_LEVEL", mz_log_level_name(mz_log_get_level()));
  const Mesos__V1__CommandInfo *cmd = ex->info->command;
  if (!ex->command && cmd && cmd->environment) {
    for (size_t i = 0; i < cmd->environment->n_variables; i++) {
      const Mesos__V1__Environment__Variable *v = cmd->environment->variables[i];
      if (!v->name || !*v->name || strchr(v->name, '=')) continue;
      if (v->has_type && v->type == MESOS__V1__ENVIRONMENT__VARIABLE__TYPE__SECRET) continue;
      strv_set(env, v->name, v->value ? v->value : "");
    }
  }
}

/* ------------------------------------------------------------------ launch */

#define EXECUTOR_OVERHEAD_CPUS 0.1              /* Mesos's command executor overhead */
#define EXECUTOR_OVERHEAD_MEM (32ULL << 20)
#define MAX_GROUPS 256

static double scalar_sum(Mesos__V1__Resource *const *res, size_t n, const char *name) {
  double v = 0;
  for (size_t i = 0; i < n; i++) {
    const Mesos__V1__Resource *r = res[i];
    if (r->name && !strcmp(r->name, name) && r->scalar) v += r->scalar->value;
  }
  return v;
}

/* The container's limits: the executor's resources plus its queued tasks'. */
static void container_limits(const mz_ag_executor *ex, mz_container_limits *lim) {
  double cpus = scalar_sum(ex->info->resources, ex->info->n_resources, "cpus");
  double mem = scalar_sum(ex->info->resources, ex->info->n_resources, "mem");
  double tcpus = 0, tmem = 0;
  const mz_ag_task *t, *tmp;
  const mz_ag_task *lists[2] = {ex->queued, ex->launched};
  for (int pass = 0; pass < 2; pass++) { /* the executor's live tasks: queued, then launched */
    HASH_ITER(hh, lists[pass], t, tmp) {
      if (mz_task_state_terminal(t->state)) continue;
      tcpus += scalar_sum(t->info->resources, t->info->n_resources, "cpus");
      tmem += scalar_sum(t->info->resources, t->info->n_resources, "mem");
    }
  }
  cpus += tcpus;
  lim->cpus = cpus > 0 ? cpus + (ex->command ? EXECUTOR_OVERHEAD_CPUS : 0) : 0;
  uint64_t bytes = (uint64_t)((mem + tmem) * 1024.0 * 1024.0);
  lim->mem_bytes = bytes > 0 ? bytes + (ex->command ? EXECUTOR_OVERHEAD_MEM : 0) : 0;
}

uint64_t mz_ag_exec_disk_limit(const mz_ag_executor *ex) {
  double mb = scalar_sum(ex->info->resources, ex->info->n_resources, "disk");
  const mz_ag_task *t, *tmp;
  const mz_ag_task *lists[2] = {ex->queued, ex->launched};
  for (int i = 0; i < 2; i++) {
    HASH_ITER(hh, lists[i], t, tmp) {
      if (!mz_task_state_terminal(t->state)) mb += scalar_sum(t->info->resources, t->info->n_resources, "disk");
    }
  }
  return mb > 0 ? (uint64_t)(mb * 1024 * 1024) : 0;
}

void mz_ag_fetch_setup(mz_agent *a, mz_fetch_request *req, int switch_user, const char *user, uid_t uid, gid_t gid,
                       char *dir, size_t dirlen) {
  req->stall_timeout = a->flags.fetcher_stall_timeout;
  req->cache_root = a->flags.fetcher_cache_dir;
  req->cache_size = a->flags.fetcher_cache_size;
  req->cache_dir = NULL;
  char err[600];
  if (!a->fetch_cache_ready || !mz_fetch_wants_cache(req)) return;
  if (mz_fetch_cache_dir_for(req->cache_root, switch_user, user, uid, gid, dir, dirlen, err, sizeof err) == 0)
    req->cache_dir = dir;
  else
    MZ_WARN(MZ_AGENT_MOD, "fetching without the cache: %s", err);
}

int mz_ag_resolve_user(const char *user, mz_launch_spec *spec, gid_t **groups, char *err, size_t errlen) {
  struct passwd pw, *res = NULL;
  char buf[16384];
  if (getpwnam_r(user, &pw, buf, sizeof buf, &res) != 0 || !res) {
    snprintf(err, errlen, "user '%s' does not exist on this agent", user);
    return -1;
  }
  int n = MAX_GROUPS;
  *groups = mz_calloc(MAX_GROUPS, sizeof **groups);
  if (getgrouplist(user, pw.pw_gid, *groups, &n) < 0) n = 0;
  spec->switch_user = 1;
  spec->uid = pw.pw_uid;
  spec->gid = pw.pw_gid;
  spec->groups = *groups;
  spec->ngroups = (size_t)(n < 0 ? 0 : n);
  return 0;
}

/* The sandbox and its stdout and stderr (made here: the launch would make them root's). */
static int chown_sandbox(const char *dir, uid_t uid, gid_t gid, char *err, size_t errlen) {
  const char *names[] = {"", "/stdout", "/stderr"};
  char p[4200];
  if (mz_create_file(dir, "stdout", err, errlen) != 0 || mz_create_file(dir, "stderr", err, errlen) != 0) return -1;
  for (size_t i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", dir, names[i]);
    if (chown(p, uid, gid) != 0) {
      snprintf(err, errlen, "chown %.300s: %s", p, strerror(errno));
      return -1;
    }
  }
  return 0;
}

static void fail_launch(mz_agent *a, mz_ag_executor *ex, const char *why) {
  MZ_ERROR(MZ_AGENT_MOD, "cannot launch executor %s of framework %s: %s", ex->id, ex->fw->id, why);
  char msg[600];
  snprintf(msg, sizeof msg, "Failed to launch the executor: %s", why);
  ex->state = MZ_EXEC_TERMINATED;
  mz_gpu_release(a->isolation.gpus, ex->container_id);
  mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->queued, t, tmp) {
    if (!mz_task_state_terminal(t->state))
      mz_agent_generate_update(a, t, MESOS__V1__TASK_STATE__TASK_FAILED, 1,
                               MESOS__V1__TASK_STATUS__REASON__REASON_CONTAINER_LAUNCH_FAILED, msg);
  }
  mz_agent_gc_executor(a, ex);
}

static void on_registration_timeout(evutil_socket_t fd, short what, void *arg) {
  mz_ag_executor *ex = arg;
  mz_agent *a = ex->agent;
  if (ex->state != MZ_EXEC_REGISTERING) return;
  char msg[128];
  snprintf(msg, sizeof msg, "Executor did not register within %gsecs", a->flags.executor_registration_timeout);
  MZ_WARN(MZ_AGENT_MOD, "executor %s of framework %s: %s", ex->id, ex->fw->id, msg);
  mz_ag_exec_shutdown(a, ex, 0, MESOS__V1__TASK_STATE__TASK_FAILED,
                      MESOS__V1__TASK_STATUS__REASON__REASON_EXECUTOR_REGISTRATION_TIMEOUT, msg);
}

static void on_kill_timer(evutil_socket_t fd, short what, void *arg) {
  mz_ag_executor *ex = arg;
  mz_agent *a = ex->agent;
  if (ex->state == MZ_EXEC_TERMINATED) return;
  if (ex->state == MZ_EXEC_TERMINATING) {
    mz_containerizer_destroy(a->containerizer, ex->container_id, 0);
    return;
  }
  mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->launched, t, tmp) {
    if (t->kill_requested && !mz_task_state_terminal(t->state)) {
      MZ_WARN(MZ_AGENT_MOD, "task %s of framework %s still not killed by executor %s: destroying the executor",
              t->id, ex->fw->id, ex->id);
      mz_ag_exec_shutdown(a, ex, 0, MESOS__V1__TASK_STATE__TASK_KILLED,
                          MESOS__V1__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED,
                          "The executor did not kill the task in time; it was destroyed");
      return;
    }
  }
}

void mz_ag_exec_launch(mz_agent *a, mz_ag_executor *ex) {
  char err[512];
  ex->directory = mz_sandbox_path(a->work_dir, a->agent_id, ex->fw->id, ex->id, ex->container_id);
  mz_sandbox_gc_in_use(a, ex->directory);
  if (mz_sandbox_create(ex->directory, err, sizeof err) != 0) {
    fail_launch(a, ex, err);
    return;
  }
  char *path = NULL;
  char **argv = NULL;
  const Mesos__V1__CommandInfo *cmd = ex->info->command;
  ex->direct = mz_ag_direct_eligible(a, ex);
  if (ex->direct) {
    int search; /* the launcher looks a path without '/' up itself (command_exec) */
    if (mz_command_argv(ex->queued->info->command, &path, &argv, &search, err, sizeof err) != 0) {
      fail_launch(a, ex, err);
      return;
    }
  } else if (ex->command || ex->default_executor) {
    size_t n = strlen(a->launcher_dir) + 32;
    path = mz_malloc(n);
    snprintf(path, n, "%s/mezzo-executor", a->launcher_dir);
    argv = mz_calloc(3, sizeof *argv);
    argv[0] = mz_strdup(path);
    if (ex->default_executor) argv[1] = mz_strdup("--default");
  } else if (cmd && cmd->value && (!cmd->has_shell || cmd->shell)) {
    path = mz_strdup("/bin/sh");
    argv = mz_calloc(4, sizeof *argv);
    argv[0] = mz_strdup("sh");
    argv[1] = mz_strdup("-c");
    argv[2] = mz_strdup(cmd->value);
  } else if (cmd && cmd->value) {
    path = mz_strdup(cmd->value);
    size_t n = cmd->n_arguments ? cmd->n_arguments : 1;
    argv = mz_calloc(n + 1, sizeof *argv);
    if (cmd->n_arguments) {
      for (size_t i = 0; i < cmd->n_arguments; i++) argv[i] = mz_strdup(cmd->arguments[i] ? cmd->arguments[i] : "");
    } else {
      argv[0] = mz_strdup(cmd->value);
    }
  } else {
    fail_launch(a, ex, "the executor has no command");
    return;
  }
  if (!ex->direct && path[0] == '/' && access(path, X_OK) != 0) { /* a relative one may come with the URIs */
    snprintf(err, sizeof err, "%s: %s", path, strerror(errno));
    for (size_t i = 0; argv[i]; i++) free(argv[i]);
    free(argv);
    free(path);
    fail_launch(a, ex, err);
    return;
  }
  char gpus_visible[512];
  if (mz_agent_gpus_launch(a, ex, gpus_visible, sizeof gpus_visible, err, sizeof err) < 0) {
    for (size_t i = 0; argv[i]; i++) free(argv[i]);
    free(argv);
    free(path);
    fail_launch(a, ex, err);
    return;
  }
  strv env = {0};
  build_env(a, ex, &env);
  if (gpus_visible[0]) { /* the GPUs given (gpu.c), by NVML index, which is PCI order */
    strv_set(&env, "CUDA_VISIBLE_DEVICES", gpus_visible);
    strv_set(&env, "NVIDIA_VISIBLE_DEVICES", gpus_visible);
    strv_set(&env, "CUDA_DEVICE_ORDER", "PCI_BUS_ID");
  }
  if (ex->direct) { /* the command's environment: the executor's, with what it would add for its task */
    char **cenv = mz_ag_direct_env(ex, env.v, err, sizeof err);
    strv_free(&env);
    if (!cenv) {
      for (size_t i = 0; argv[i]; i++) free(argv[i]);
      free(argv);
      free(path);
      fail_launch(a, ex, err);
      return;
    }
    env = (strv){cenv, 0, 0};
    while (cenv[env.n]) env.n++;
    env.cap = env.n + 1;
  }
  char out[4200], errp[4200];
  snprintf(out, sizeof out, "%s/stdout", ex->directory);
  snprintf(errp, sizeof errp, "%s/stderr", ex->directory);
  mz_launch_spec spec = {path, argv, env.v, ex->directory, out, errp};
  spec.self_join = !ex->direct && (ex->command || ex->default_executor); /* mezzo-executor joins its cgroups */
  spec.command_exec = ex->direct;
  container_limits(ex, &spec.limits);
  ex->cpus_limit = spec.limits.cpus;
  ex->mem_limit_bytes = spec.limits.mem_bytes;
  /* The user: CommandInfo.user of the task (command executor) or of the executor. */
  const Mesos__V1__CommandInfo *ucmd = cmd;
  if (ex->command) {
    mz_ag_task *t, *tmp;
    HASH_ITER(hh, ex->queued, t, tmp) {
      ucmd = t->info->command;
      break;
    }
  }
  gid_t *groups = NULL;
  const Mesos__V1__CommandInfo **group = NULL; /* a task group's commands, for the fetcher */
  int rc = -1;
  if (ucmd && ucmd->user && *ucmd->user && a->flags.switch_user && geteuid() == 0) {
    if (mz_ag_resolve_user(ucmd->user, &spec, &groups, err, sizeof err) != 0) goto done;
    if (chown_sandbox(ex->directory, spec.uid, spec.gid, err, sizeof err) != 0) goto done;
  }
  mz_fetch_request fetch = {.sandbox = ex->directory};
  char cache_dir[4400];
  const Mesos__V1__CommandInfo *fcmd = ex->command ? ucmd : cmd;
  if (fcmd && fcmd->n_uris > 0) fetch.cmd = fcmd;
  /* A task group's tasks run in the default executor's sandbox: their URIs are fetched there too. */
  if (ex->default_executor) {
    group = mz_calloc(HASH_COUNT(ex->queued) + 1, sizeof *group);
    mz_ag_task *t, *tmp;
    HASH_ITER(hh, ex->queued, t, tmp)
      if (t->info->command && t->info->command->n_uris > 0) group[fetch.nmore++] = t->info->command;
    fetch.more = group;
  }
  if (fetch.cmd || fetch.nmore > 0) {
    mz_ag_fetch_setup(a, &fetch, spec.switch_user, ucmd ? ucmd->user : NULL, spec.uid, spec.gid, cache_dir,
                      sizeof cache_dir);
    spec.prepare = mz_fetch_prepare;
    spec.prepare_arg = &fetch;
  }
  rc = mz_containerizer_launch(a->containerizer, ex->container_id, &spec, ex, &ex->pid, err, sizeof err);
done:
  free(group);
  free(groups);
  for (size_t i = 0; argv[i]; i++) free(argv[i]);
  free(argv);
  free(path);
  strv_free(&env);
  if (rc != 0) {
    fail_launch(a, ex, err);
    return;
  }
  ex->launched_at = mz_now();
  ex->state = MZ_EXEC_REGISTERING;
  if (gpus_visible[0]) mz_agent_gpus_checkpoint(a, ex); /* before the pid: a recovered run has its GPUs */
  mz_ag_ckpt_executor_pid(a, ex);
  char pidtext[32];
  snprintf(pidtext, sizeof pidtext, ex->pid ? "pid %d" : "its pid to come", (int)ex->pid);
  MZ_INFO(MZ_AGENT_MOD, "launched executor %s of framework %s in container %s (%s%s) in %s", ex->id, ex->fw->id,
          ex->container_id, pidtext, ex->direct ? ", the task's command: no executor process" : "", ex->directory);
  if (ex->direct) {
    mz_ag_direct_started(a, ex);
    return;
  }
  ex->reg_timer = evtimer_new(a->base, on_registration_timeout, ex);
  mz_timer_in(ex->reg_timer, a->flags.executor_registration_timeout);
}

/* ------------------------------------------------------------------ events to the executor */

int mz_ag_exec_send_event(mz_agent *a, mz_ag_executor *ex, const Mesos__V1__Executor__Event *ev) {
  if (!ex->stream) return -1;
  size_t len;
  uint8_t *buf = mz_pb_encode(&ev->base, ex->stream_ct, &len);
  if (!buf) return -1;
  int rc = mz_http_stream_write_record(ex->stream, buf, len);
  free(buf);
  if (rc != 0) MZ_WARN(MZ_AGENT_MOD, "cannot write to the stream of executor %s", ex->id);
  return rc;
}

void mz_ag_exec_update_limits(mz_agent *a, mz_ag_executor *ex) {
  if (ex->command || ex->state == MZ_EXEC_TERMINATED || !ex->container_id[0]) return;
  mz_container_limits lim;
  container_limits(ex, &lim);
  if (lim.cpus == ex->cpus_limit && lim.mem_bytes <= ex->mem_limit_bytes) return;
  char err[512];
  if (mz_containerizer_update(a->containerizer, ex->container_id, &lim, err, sizeof err) != 0) {
    MZ_WARN(MZ_AGENT_MOD, "executor %s of framework %s: cannot update its limits: %s", ex->id, ex->fw->id, err);
    return;
  }
  MZ_INFO(MZ_AGENT_MOD, "executor %s of framework %s: limits now cpus %.2f, mem %llu MiB", ex->id, ex->fw->id,
          lim.cpus, (unsigned long long)((lim.mem_bytes > ex->mem_limit_bytes ? lim.mem_bytes : ex->mem_limit_bytes) >> 20));
  ex->cpus_limit = lim.cpus;
  if (lim.mem_bytes > ex->mem_limit_bytes) ex->mem_limit_bytes = lim.mem_bytes;
}

void mz_ag_exec_flush_queue(mz_agent *a, mz_ag_executor *ex) {
  if (!ex->stream || ex->state != MZ_EXEC_RUNNING) return;
  if (ex->launched && ex->queued) mz_ag_exec_update_limits(a, ex); /* more tasks for a running executor */
  mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->queued, t, tmp) {
    if (mz_task_state_terminal(t->state)) continue; /* killed while queued: waits for its acknowledgement */
    if (t->fetching) continue;                       /* its group's URIs are on their way (exec_fetch.c) */
    if (t->group) {
      /* Every live queued task of this group goes in one LAUNCH_GROUP. */
      unsigned group = t->group;
      size_t n = 0, cap = 8;
      Mesos__V1__TaskInfo **infos = mz_calloc(cap, sizeof *infos);
      mz_ag_task *g, *gtmp;
      HASH_ITER(hh, ex->queued, g, gtmp) {
        if (g->group != group || mz_task_state_terminal(g->state) || g->fetching) continue;
        if (n == cap) infos = mz_realloc(infos, (cap *= 2) * sizeof *infos);
        infos[n++] = g->info;
        HASH_DEL(ex->queued, g);
        HASH_ADD_KEYPTR(hh, ex->launched, g->id, strlen(g->id), g);
      }
      Mesos__V1__Executor__Event ev = MESOS__V1__EXECUTOR__EVENT__INIT;
      Mesos__V1__Executor__Event__LaunchGroup lg = MESOS__V1__EXECUTOR__EVENT__LAUNCH_GROUP__INIT;
      Mesos__V1__TaskGroupInfo tg = MESOS__V1__TASK_GROUP_INFO__INIT;
      tg.n_tasks = n;
      tg.tasks = infos;
      lg.task_group = &tg;
      ev.has_type = 1;
      ev.type = MESOS__V1__EXECUTOR__EVENT__TYPE__LAUNCH_GROUP;
      ev.launch_group = &lg;
      MZ_INFO(MZ_AGENT_MOD, "sending a task group of %zu task(s) to executor %s of framework %s", n, ex->id,
              ex->fw->id);
      mz_ag_exec_send_event(a, ex, &ev);
      free(infos);
      /* The iteration restarts: the hash changed under it. */
      mz_ag_exec_flush_queue(a, ex);
      return;
    }
    HASH_DEL(ex->queued, t);
    HASH_ADD_KEYPTR(hh, ex->launched, t->id, strlen(t->id), t);
    Mesos__V1__Executor__Event ev = MESOS__V1__EXECUTOR__EVENT__INIT;
    Mesos__V1__Executor__Event__Launch launch = MESOS__V1__EXECUTOR__EVENT__LAUNCH__INIT;
    ev.has_type = 1;
    ev.type = MESOS__V1__EXECUTOR__EVENT__TYPE__LAUNCH;
    launch.task = t->info;
    ev.launch = &launch;
    MZ_INFO(MZ_AGENT_MOD, "sending task %s to executor %s of framework %s", t->id, ex->id, ex->fw->id);
    mz_ag_exec_send_event(a, ex, &ev);
  }
}

void mz_ag_exec_kill_task(mz_agent *a, mz_ag_executor *ex, mz_ag_task *t, const Mesos__V1__KillPolicy *override) {
  t->kill_requested = 1;
  if (ex->direct) {
    mz_ag_direct_kill(a, ex, t, override);
    return;
  }
  if (!ex->stream) {
    /* No way to ask the executor: destroy it; the task becomes TASK_KILLED. */
    mz_ag_exec_shutdown(a, ex, 0, MESOS__V1__TASK_STATE__TASK_KILLED,
                        MESOS__V1__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED,
                        "Killed while its executor was disconnected");
    return;
  }
  Mesos__V1__Executor__Event ev = MESOS__V1__EXECUTOR__EVENT__INIT;
  Mesos__V1__Executor__Event__Kill kill = MESOS__V1__EXECUTOR__EVENT__KILL__INIT;
  ev.has_type = 1;
  ev.type = MESOS__V1__EXECUTOR__EVENT__TYPE__KILL;
  kill.task_id = t->info->task_id;
  kill.kill_policy = (Mesos__V1__KillPolicy *)override;
  ev.kill = &kill;
  mz_ag_exec_send_event(a, ex, &ev);
  double grace = DEFAULT_TASK_KILL_GRACE;
  if (override && override->grace_period)
    grace = duration_info_seconds(override->grace_period, grace);
  else if (t->info->kill_policy && t->info->kill_policy->grace_period)
    grace = duration_info_seconds(t->info->kill_policy->grace_period, grace);
  double wait = grace + shutdown_grace(a, ex);
  if (!ex->kill_timer) ex->kill_timer = evtimer_new(a->base, on_kill_timer, ex);
  evtimer_del(ex->kill_timer);
  mz_timer_in(ex->kill_timer, wait);
  MZ_INFO(MZ_AGENT_MOD, "asked executor %s to kill task %s (grace %gs; the executor is destroyed after %gs)", ex->id,
          t->id, grace, wait);
}

void mz_ag_exec_shutdown(mz_agent *a, mz_ag_executor *ex, double grace, Mesos__V1__TaskState state,
                         Mesos__V1__TaskStatus__Reason reason, const char *message) {
  if (ex->state == MZ_EXEC_TERMINATED) return;
  if (!ex->term_set) {
    ex->term_set = 1;
    ex->term_state = state;
    ex->term_reason = reason;
    ex->term_message = mz_strdup(message ? message : "Executor terminated");
  }
  if (ex->reg_timer) evtimer_del(ex->reg_timer);
  int already = ex->state == MZ_EXEC_TERMINATING;
  ex->state = MZ_EXEC_TERMINATING;
  if (ex->direct && grace > 0) grace = mz_ag_direct_shutdown_grace(a, ex, grace);
  if (grace <= 0 || !ex->stream) {
    if (ex->kill_timer) evtimer_del(ex->kill_timer);
    mz_containerizer_destroy(a->containerizer, ex->container_id, grace <= 0 ? 0 : grace);
    return;
  }
  if (already) return;
  MZ_INFO(MZ_AGENT_MOD, "shutting down executor %s of framework %s (grace %gs)", ex->id, ex->fw->id, grace);
  Mesos__V1__Executor__Event ev = MESOS__V1__EXECUTOR__EVENT__INIT;
  ev.has_type = 1;
  ev.type = MESOS__V1__EXECUTOR__EVENT__TYPE__SHUTDOWN;
  mz_ag_exec_send_event(a, ex, &ev);
  if (!ex->kill_timer) ex->kill_timer = evtimer_new(a->base, on_kill_timer, ex);
  evtimer_del(ex->kill_timer);
  mz_timer_in(ex->kill_timer, grace);
}

/* ------------------------------------------------------------------ exit */

static void describe(int st, char *buf, size_t len) {
  if (st == -1)
    snprintf(buf, len, "exited (its status is unknown: it was started by an earlier agent run)");
  else if (WIFEXITED(st))
    snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    snprintf(buf, len, "terminated with signal %s", strsignal(WTERMSIG(st)));
  else
    snprintf(buf, len, "wait status %d", st);
}

void mz_ag_exec_exited(mz_agent *a, mz_ag_executor *ex, int wait_status, const char *launch_error, int limited,
                       const char *limit_message) {
  char how[128];
  describe(wait_status, how, sizeof how);
  MZ_INFO(MZ_AGENT_MOD, "executor %s of framework %s %s%s%s", ex->id, ex->fw->id, how,
          launch_error ? ": " : "", launch_error ? launch_error : "");
  ex->state = MZ_EXEC_TERMINATED;
  ex->pid = 0;
  mz_gpu_release(a->isolation.gpus, ex->container_id);
  mz_ag_exec_fetch_cancel_all(ex); /* groups still fetching get their terminal update below */
  if (ex->reg_timer) evtimer_del(ex->reg_timer);
  if (ex->kill_timer) evtimer_del(ex->kill_timer);
  mz_executor_api_close(ex);
  if (a->shutting_down) return;
  if (ex->direct && !limited && !ex->term_set) mz_ag_direct_exited(a, ex, wait_status, launch_error);
  char msg[2600];
  mz_ag_task *t, *tmp;
  mz_ag_task *tables[2] = {ex->queued, ex->launched};
  for (int i = 0; i < 2; i++) {
    HASH_ITER(hh, tables[i], t, tmp) {
      if (mz_task_state_terminal(t->state)) continue;
      if (limited) {
        mz_agent_generate_update(a, t, MESOS__V1__TASK_STATE__TASK_FAILED, 1,
                                 MESOS__V1__TASK_STATUS__REASON__REASON_CONTAINER_LIMITATION_MEMORY,
                                 limit_message ? limit_message : "Memory limit exceeded");
      } else if (launch_error) {
        snprintf(msg, sizeof msg, "Failed to launch the container: %s", launch_error);
        mz_agent_generate_update(a, t, MESOS__V1__TASK_STATE__TASK_FAILED, 1,
                                 MESOS__V1__TASK_STATUS__REASON__REASON_CONTAINER_LAUNCH_FAILED, msg);
      } else if (ex->term_set) {
        mz_agent_generate_update(a, t, ex->term_state, 1, ex->term_reason, ex->term_message);
      } else if (t->kill_requested) {
        snprintf(msg, sizeof msg, "Executor %s while the task was being killed", how);
        mz_agent_generate_update(a, t, MESOS__V1__TASK_STATE__TASK_KILLED, 1,
                                 MESOS__V1__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED, msg);
      } else {
        snprintf(msg, sizeof msg, "Executor %s", how);
        mz_agent_generate_update(a, t, MESOS__V1__TASK_STATE__TASK_FAILED, 1,
                                 MESOS__V1__TASK_STATUS__REASON__REASON_EXECUTOR_TERMINATED, msg);
      }
    }
  }
  if (ex->fw->removing) {
    /* Its framework is gone: no acknowledgement will come for these. */
    HASH_ITER(hh, ex->queued, t, tmp) mz_agent_task_complete(a, t);
    HASH_ITER(hh, ex->launched, t, tmp) mz_agent_task_complete(a, t);
  }
  mz_agent_gc_executor(a, ex);
}

void mz_ag_exec_release(mz_ag_executor *ex) {
  if (ex->reg_timer) event_free(ex->reg_timer);
  if (ex->kill_timer) event_free(ex->kill_timer);
  ex->reg_timer = ex->kill_timer = NULL;
  mz_ag_exec_fetch_cancel_all(ex);
  mz_executor_api_close(ex);
}

void mz_ag_exec_heartbeat_all(mz_agent *a) {
  Mesos__V1__Executor__Event ev = MESOS__V1__EXECUTOR__EVENT__INIT;
  ev.has_type = 1;
  ev.type = MESOS__V1__EXECUTOR__EVENT__TYPE__HEARTBEAT;
  mz_ag_framework *fw, *ftmp;
  HASH_ITER(hh, a->frameworks, fw, ftmp) {
    mz_ag_executor *ex, *etmp;
    HASH_ITER(hh, fw->executors, ex, etmp) {
      if (ex->stream) mz_ag_exec_send_event(a, ex, &ev);
    }
  }
}
