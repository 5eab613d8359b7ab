/* task_command: see task_command.h. */
#include "common/task_command.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

void mz_command_strv_free(char **v) {
  if (!v) return;
  for (size_t i = 0; v[i]; i++) free(v[i]);
  free(v);
}

int mz_command_argv(const Mesos__V1__CommandInfo *cmd, char **path, char ***argv, int *search, char *err,
                    size_t errlen) {
  if (!cmd || !cmd->value || !*cmd->value) {
    snprintf(err, errlen, "the task's command has no value");
    return -1;
  }
  int shell = !cmd->has_shell || cmd->shell;
  char **v;
  if (shell) {
    v = mz_calloc(4, sizeof *v);
    v[0] = mz_strdup("sh");
    v[1] = mz_strdup("-c");
    v[2] = mz_strdup(cmd->value);
  } else if (cmd->n_arguments >= MZ_COMMAND_MAX_ARGS) {
    snprintf(err, errlen, "too many arguments (%zu)", cmd->n_arguments);
    return -1;
  } else if (cmd->n_arguments > 0) {
    v = mz_calloc(cmd->n_arguments + 1, sizeof *v);
    for (size_t i = 0; i < cmd->n_arguments; i++) v[i] = mz_strdup(cmd->arguments[i] ? cmd->arguments[i] : "");
  } else {
    v = mz_calloc(2, sizeof *v);
    v[0] = mz_strdup(cmd->value);
  }
  *path = mz_strdup(shell ? "/bin/sh" : cmd->value);
  *argv = v;
  *search = !shell && !strchr(cmd->value, '/');
  return 0;
}

/* Sets entry ("NAME=value", owned) in env (k entries), replacing a same-named one. */
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

char **mz_command_env(char *const *base, const Mesos__V1__CommandInfo *cmd, char *const *more, char *err,
                      size_t errlen) {
  size_t n = 0, nmore = 0;
  while (base && base[n]) n++;
  while (more && more[nmore]) nmore++;
  size_t extra = cmd && cmd->environment ? cmd->environment->n_variables : 0;
  if (n + extra + nmore >= MZ_COMMAND_MAX_ENV) {
    snprintf(err, errlen, "too many environment variables (%zu)", n + extra + nmore);
    return NULL;
  }
  char **env = mz_calloc(n + extra + nmore + 1, sizeof *env);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) env[k++] = mz_strdup(base[i]);
  for (size_t i = 0; i < nmore; i++)
    if (strchr(more[i], '=')) set_entry(env, &k, mz_strdup(more[i]));
  for (size_t j = 0; j < extra; j++) {
    const Mesos__V1__Environment__Variable *v = cmd->environment->variables[j];
    if (!v->name || !*v->name || strchr(v->name, '=')) continue;
    if (v->has_type && v->type == MESOS__V1__ENVIRONMENT__VARIABLE__TYPE__SECRET) continue; /* no secrets yet */
    const char *value = v->value ? v->value : "";
    char *entry = mz_malloc(strlen(v->name) + strlen(value) + 2);
    sprintf(entry, "%s=%s", v->name, value);
    set_entry(env, &k, entry);
  }
  env[k] = NULL;
  return env;
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
      for (uint64_t p = rg->begin; p <= rg->end && index < MZ_COMMAND_MAX_PORT_VARS; p++, index++) {
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
    for (size_t i = 0; i < ps->n_ports && i < MZ_COMMAND_MAX_PORT_VARS; i++) {
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

int mz_command_execvpe(const char *file, char *const *argv, char *const *envp) {
  if (!*file) return ENOENT;
  if (strchr(file, '/')) {
    execve(file, argv, envp);
    return errno;
  }
  const char *path = "/bin:/usr/bin";
  for (size_t i = 0; envp && envp[i]; i++)
    if (!strncmp(envp[i], "PATH=", 5)) path = envp[i] + 5;
  size_t flen = strlen(file);
  int seen_eacces = 0;
  char buf[PATH_MAX];
  for (const char *p = path;; p++) {
    const char *end = strchr(p, ':');
    size_t dlen = end ? (size_t)(end - p) : strlen(p);
    if (dlen + 1 + flen < sizeof buf) {
      /* An empty entry is the current directory, as for execvp. */
      size_t off = 0;
      if (dlen) {
        memcpy(buf, p, dlen);
        buf[dlen] = '/';
        off = dlen + 1;
      }
      memcpy(buf + off, file, flen + 1);
      execve(buf, argv, envp);
      if (errno == EACCES) seen_eacces = 1;
      else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV && errno != ETIMEDOUT)
        return errno;
    }
    if (!end) break;
    p = end;
  }
  return seen_eacces ? EACCES : ENOENT;
}

Mesos__V1__TaskState mz_command_end_state(int wait_status, int killed) {
  if (killed) return MESOS__V1__TASK_STATE__TASK_KILLED;
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) return MESOS__V1__TASK_STATE__TASK_FINISHED;
  return MESOS__V1__TASK_STATE__TASK_FAILED;
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
