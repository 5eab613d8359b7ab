/* command: see command.h. The command is started with posix_spawn, which glibc
 * does with a vfork-style clone: no copy of the executor's page tables, and an
 * exec failure comes back to the caller. */
#include "executor/command.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

#define CMD_MAX_ARGS 4096
#define CMD_MAX_ENV 8192
#define CMD_MAX_PORT_VARS 1024

extern char **environ;

/* environ with the CommandInfo's variables set (replacing same-named ones). */
static void set_entry(char **env, size_t *k, char *entry) {
  size_t nl = strcspn(entry, "=");
  for (size_t i = 0; i < *k; i++) {
    if (!strncmp(env[i], entry, nl) && env[i][nl] == '=') {
      free(env[i]);
      env[i] = entry;
      return;
    }
  }
  env[(*k)++] = entry;
}

static char **build_env(const Mesos__V1__CommandInfo *cmd, char *const *more, char *err, size_t errlen) {
  size_t n = 0, nmore = 0;
  while (environ && environ[n]) n++;
  while (more && more[nmore]) nmore++;
  size_t extra = cmd->environment ? cmd->environment->n_variables : 0;
  if (n + extra + nmore >= CMD_MAX_ENV) {
    snprintf(err, errlen, "too many environment variables (%zu)", n + extra + nmore);
    return NULL;
  }
  char **env = mz_calloc(n + extra + nmore + 1, sizeof *env);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) env[k++] = mz_strdup(environ[i]);
  for (size_t i = 0; i < nmore; i++) {
    if (strchr(more[i], '=')) set_entry(env, &k, mz_strdup(more[i]));
  }
  for (size_t j = 0; j < extra; j++) {
    const Mesos__V1__Environment__Variable *v = cmd->environment->variables[j];
    if (!v->name || !*v->name || strchr(v->name, '=')) continue;
    if (v->has_type && v->type == MESOS__V1__ENVIRONMENT__VARIABLE__TYPE__SECRET) continue; /* no secrets yet */
    const char *value = v->value ? v->value : "";
    size_t nl = strlen(v->name);
    char *entry = mz_malloc(nl + strlen(value) + 2);
    sprintf(entry, "%s=%s", v->name, value);
    size_t i;
    for (i = 0; i < k; i++) {
      if (!strncmp(env[i], v->name, nl) && env[i][nl] == '=') break;
    }
    if (i < k) {
      free(env[i]);
      env[i] = entry;
    } else {
      env[k++] = entry;
    }
  }
  env[k] = NULL;
  return env;
}

static void free_strv(char **v) {
  if (!v) return;
  for (size_t i = 0; v[i]; i++) free(v[i]);
  free(v);
}

int mz_command_spawn(const Mesos__V1__CommandInfo *cmd, pid_t *pid, char *err, size_t errlen) {
  return mz_command_spawn_env(cmd, NULL, pid, err, errlen);
}

int mz_command_spawn_env(const Mesos__V1__CommandInfo *cmd, char *const *more_env, pid_t *pid, char *err,
                         size_t errlen) {
  if (!cmd || !cmd->value || !*cmd->value) {
    snprintf(err, errlen, "the task's command has no value");
    return -1;
  }
  int shell = !cmd->has_shell || cmd->shell;
  if (!shell && cmd->n_arguments >= CMD_MAX_ARGS) {
    snprintf(err, errlen, "too many arguments (%zu)", cmd->n_arguments);
    return -1;
  }
  char **env = build_env(cmd, more_env, err, errlen);
  if (!env) return -1;
  char **argv;
  if (shell) {
    argv = mz_calloc(4, sizeof *argv);
    argv[0] = mz_strdup("sh");
    argv[1] = mz_strdup("-c");
    argv[2] = mz_strdup(cmd->value);
  } else if (cmd->n_arguments > 0) {
    argv = mz_calloc(cmd->n_arguments + 1, sizeof *argv);
    for (size_t i = 0; i < cmd->n_arguments; i++) argv[i] = mz_strdup(cmd->arguments[i] ? cmd->arguments[i] : "");
  } else {
    argv = mz_calloc(2, sizeof *argv);
    argv[0] = mz_strdup(cmd->value);
  }
  const char *path = shell ? "/bin/sh" : cmd->value;

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);     /* the leader of a new process group */
  posix_spawnattr_setsigmask(&attr, &none); /* nothing blocked */
  posix_spawnattr_setsigdefault(&attr, &all); /* every signal at its default action */
  pid_t child;
  int rc = shell ? posix_spawn(&child, path, NULL, &attr, argv, env)
                 : posix_spawnp(&child, path, NULL, &attr, argv, env);
  posix_spawnattr_destroy(&attr);
  free_strv(argv);
  free_strv(env);
  if (rc != 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(rc));
    return -1;
  }
  *pid = child;
  return 0;
}

int mz_command_signal(pid_t pid, int sig) {
  if (pid <= 1) return -1;
  return kill(-pid, sig) == 0 ? 0 : -1;
}

void mz_command_describe_exit(int st, char *buf, size_t len) {
  if (WIFEXITED(st))
    snprintf(buf, len, "Command exited with status %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    snprintf(buf, len, "Command terminated with signal %s%s", strsignal(WTERMSIG(st)),
             WCOREDUMP(st) ? " (core dumped)" : "");
  else
    snprintf(buf, len, "Command wait status %d", st);
}

/* PORT_<NAME>: upper case, anything but letters and digits as '_'. */
static char *port_name_var(const char *name, uint32_t port) {
  size_t n = strlen(name);
  char *v = mz_malloc(n + 32);
  memcpy(v, "PORT_", 5);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    v[5 + i] = (char)(isalnum(c) ? toupper(c) : '_');
  }
  snprintf(v + 5 + n, 27, "=%u", port);
  return v;
}

char **mz_command_task_env(const Mesos__V1__TaskInfo *task) {
  size_t cap = 16, k = 0;
  char **env = mz_calloc(cap, sizeof *env);
  size_t index = 0;
  for (size_t i = 0; i < task->n_resources; i++) {
    const Mesos__V1__Resource *r = task->resources[i];
    if (!r->name || strcmp(r->name, "ports") != 0 || !r->ranges) continue;
    for (size_t j = 0; j < r->ranges->n_range; j++) {
      const Mesos__V1__Value__Range *rg = r->ranges->range[j];
      for (uint64_t p = rg->begin; p <= rg->end && index < CMD_MAX_PORT_VARS; p++, index++) {
        if (k + 3 >= cap) {
          cap *= 2;
          env = mz_realloc(env, cap * sizeof *env);
        }
        char buf[64];
        snprintf(buf, sizeof buf, "PORT%zu=%llu", index, (unsigned long long)p);
        env[k++] = mz_strdup(buf);
        if (index == 0) {
          snprintf(buf, sizeof buf, "PORT=%llu", (unsigned long long)p);
          env[k++] = mz_strdup(buf);
        }
      }
    }
  }
  if (task->discovery && task->discovery->ports) {
    const Mesos__V1__Ports *ps = task->discovery->ports;
    for (size_t i = 0; i < ps->n_ports && i < CMD_MAX_PORT_VARS; i++) {
      const Mesos__V1__Port *p = ps->ports[i];
      if (!p->name || !*p->name || strlen(p->name) > 128) continue;
      if (k + 2 >= cap) {
        cap *= 2;
        env = mz_realloc(env, cap * sizeof *env);
      }
      env[k++] = port_name_var(p->name, p->number);
    }
  }
  env[k] = NULL;
  return env;
}

void mz_command_env_free(char **env) { free_strv(env); }
