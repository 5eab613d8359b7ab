/* task_command: a command task's command as Mesos's command executor runs it, shared
 * by mezzo-executor (which starts it from its own process) and the agent (which starts
 * the commands of direct command tasks itself, src/agent/direct_command.c):
 *   - its argv: `/bin/sh -c value` (shell, the default), or `value` with `arguments`
 *     as its argv (argv[0] included, as in Mesos; [value] when there are none);
 *   - its environment: a base (the executor's) with more variables over it (PORT0..,
 *     PORT_<NAME>) and the CommandInfo's variables over those;
 *   - its exec: a value without a '/' is looked up in the PATH of the environment it
 *     gets, as Mesos's os::execvpe does;
 *   - the wording of its end ("Command exited with status 3"). */
#ifndef MZ_COMMON_TASK_COMMAND_H
#define MZ_COMMON_TASK_COMMAND_H

#include <stddef.h>

#include "mesos/v1/mesos.pb-c.h"

#define MZ_COMMAND_MAX_ARGS 4096
/* How a command that could not be started is reported: "<this>: <path>: <why>". */
#define MZ_COMMAND_EXEC_FAILED "Failed to launch the command"
#define MZ_COMMAND_MAX_ENV 8192
#define MZ_COMMAND_MAX_PORT_VARS 1024

/* The program and argv of cmd (malloc'd: free *path and mz_command_strv_free(*argv)).
 * *search is 1 when *path is to be looked up in PATH (mz_command_execvpe). 0, or -1
 * with err (no value, too many arguments). */
int mz_command_argv(const Mesos__V1__CommandInfo *cmd, char **path, char ***argv, int *search, char *err,
                    size_t errlen);

/* base (NULL-terminated "NAME=value" entries, may be NULL) with more set over it and
 * cmd's environment variables over those (secrets skipped), malloc'd; free with
 * mz_command_strv_free. NULL with err past MZ_COMMAND_MAX_ENV entries. */
char **mz_command_env(char *const *base, const Mesos__V1__CommandInfo *cmd, char *const *more, char *err,
                      size_t errlen);

/* What a task's command gets from its TaskInfo, as Mesos: PORT0..PORTn (and PORT) from
 * its port resources in order, PORT_<NAME> from discovery.ports (name upper-cased,
 * other characters as '_'). NULL-terminated; free with mz_command_strv_free. */
char **mz_command_task_env(const Mesos__V1__TaskInfo *task);

void mz_command_strv_free(char **v);

/* execve of file, looked up in envp's PATH (glibc's default "/bin:/usr/bin" without
 * one) when it has no '/'. System calls only: safe in a vfork child. Returns only on
 * failure, with the errno to report (EACCES when a match could not be run and no
 * other was found). */
int mz_command_execvpe(const char *file, char *const *argv, char *const *envp);

/* The state a command's end gives its task, as Mesos's executors report it: TASK_KILLED
 * when it was being killed, TASK_FINISHED for an exit status of 0, else TASK_FAILED. */
Mesos__V1__TaskState mz_command_end_state(int wait_status, int killed);

/* Mesos's wording of a wait status: "Command exited with status 3",
 * "Command terminated with signal Killed" ("... (core dumped)"). */
void mz_command_describe_exit(int wait_status, char *buf, size_t len);

#endif
