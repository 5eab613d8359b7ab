/* command: starting and stopping the one command of a command task, for
 * mezzo-executor. The command runs as a child in its own process group (same
 * session as the executor, so the agent can still find it), with the executor's
 * stdout/stderr (the sandbox files) and environment plus the CommandInfo's
 * environment variables. No state is kept here: the caller owns the pid. */
#ifndef MZ_EXECUTOR_COMMAND_H
#define MZ_EXECUTOR_COMMAND_H

#include <stddef.h>
#include <sys/types.h>

#include "common/task_command.h" /* its argv, environment, task variables and exit wording */
#include "mesos/v1/mesos.pb-c.h"

/* Starts the command: shell (the default) runs `/bin/sh -c value`; shell=false runs
 * `value` (looked up in the executor's PATH) with `arguments` as its argv (argv[0]
 * included, as in Mesos; [value] when there are none). The child is the leader of
 * a new process group (pgid == pid), with no signal blocked and every signal at its
 * default action. Returns 0 with *pid, or -1 with err (bad CommandInfo, or the
 * process could not be started: "<path>: <why>", e.g. a command not found). */
int mz_command_spawn(const Mesos__V1__CommandInfo *cmd, pid_t *pid, char *err, size_t errlen);

/* The same, with more environment variables ("NAME=value", NULL-terminated; NULL for
 * none) set over the executor's environment; the CommandInfo's variables win. */
int mz_command_spawn_env(const Mesos__V1__CommandInfo *cmd, char *const *more_env, pid_t *pid, char *err,
                         size_t errlen);

/* Sends sig to the process group led by pid. 0, or -1 if the group is gone. */
int mz_command_signal(pid_t pid, int sig);

#endif
