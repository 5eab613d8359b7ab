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

extern char **environ;

int mz_command_spawn(const Mesos__V1__CommandInfo *cmd, pid_t *pid, char *err, size_t errlen) {
  return mz_command_spawn_env(cmd, NULL, pid, err, errlen);
}

int mz_command_spawn_env(const Mesos__V1__CommandInfo *cmd, char *const *more_env, pid_t *pid, char *err,
                         size_t errlen) {
  char *path, **argv;
  int search;
  if (mz_command_argv(cmd, &path, &argv, &search, err, errlen) != 0) return -1;
  char **env = mz_command_env(environ, cmd, more_env, err, errlen);
  if (!env) {
    free(path);
    mz_command_strv_free(argv);
    return -1;
  }
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
  int rc = search ? posix_spawnp(&child, path, NULL, &attr, argv, env)
                  : posix_spawn(&child, path, NULL, &attr, argv, env);
  posix_spawnattr_destroy(&attr);
  mz_command_strv_free(argv);
  mz_command_strv_free(env);
  if (rc != 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(rc));
    free(path);
    return -1;
  }
  free(path);
  *pid = child;
  return 0;
}

int mz_command_signal(pid_t pid, int sig) {
  if (pid <= 1) return -1;
  return kill(-pid, sig) == 0 ? 0 : -1;
}
