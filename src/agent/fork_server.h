/* fork_server (agent side): starts `mezzo-executor --fork-server` once and asks it
 * for each command or default executor (src/executor/fork_server.h), which saves
 * the program load of an exec per task. The launcher (launcher_posix.c) uses it for
 * the executors it would otherwise vfork and exec with nothing but system calls in
 * between (no pid namespace, fetcher or user switch), and falls back to the exec
 * when the server cannot answer: it is then restarted for a later launch, at most
 * once per MZ_FORK_SERVER_RESTART_S. A started server first says hello (a program
 * that does not within MZ_FORK_SERVER_HELLO_TIMEOUT_MS is not one). A request is
 * either synchronous (spawn: its reply is waited for, with a timeout) or submitted
 * (its reply, the child's pid, is collected later: the agent goes on with its work
 * while the server clones and the child joins the cgroups). Replies come in the
 * order of the requests. */
#ifndef MZ_AGENT_FORK_SERVER_H
#define MZ_AGENT_FORK_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MZ_FORK_SERVER_RESTART_S 10.0
#define MZ_FORK_SERVER_HELLO_TIMEOUT_MS 3000 /* for the program to show it is a fork server */
#define MZ_FORK_SERVER_REPLY_TIMEOUT_MS 10000

typedef struct mz_fork_server mz_fork_server;

/* Starts the server from executor_path (absolute) with the environment envp (copied;
 * /proc/<pid>/environ shows it for every executor it forks). NULL with err when it
 * cannot. */
mz_fork_server *mz_fork_server_start(const char *executor_path, char *const *envp, char *err, size_t errlen);
/* The program the server runs: only launches of that path go to it. */
const char *mz_fork_server_path(const mz_fork_server *fs);
/* The server's pid, 0 while it is not running. */
pid_t mz_fork_server_pid(const mz_fork_server *fs);
/* Starts an executor (exec NULL), or a program the server's child execs (exec: its path,
 * looked up in envp's PATH without a '/'): cwd, argv, envp and fds (error pipe write
 * end, stdin, stdout, stderr, then cgroup.procs files to join; common/fork_wire.h).
 * 0 with *pid, the agent's child; -1 with err when the server could not (the caller
 * launches it itself). */
int mz_fork_server_spawn(mz_fork_server *fs, const char *exec, const char *cwd, char *const *argv, char *const *envp,
                         const int *fds, size_t nfds, pid_t *pid, char *err, size_t errlen);
/* Sends the request that spawn would, without waiting for the reply: 0 (the reply is
 * collected later, in order), or -1 with err (nothing was submitted: the caller
 * launches it itself). */
int mz_fork_server_submit(mz_fork_server *fs, const char *exec, const char *cwd, char *const *argv,
                          char *const *envp, const int *fds, size_t nfds, char *err, size_t errlen);
/* The reply to the oldest submitted request not collected yet: 1 with *reply (the
 * child's pid, or -errno: it was not started; -EPIPE when the server broke before it
 * answered), 0 when it has not come yet (wait 0; with wait the call waits for it,
 * bounded by the reply timeout), -1 when no submitted request is outstanding. */
int mz_fork_server_collect(mz_fork_server *fs, int wait, int32_t *reply);
/* How many submitted requests have not been collected. */
size_t mz_fork_server_outstanding(const mz_fork_server *fs);
/* Stops the server (closes the socket: it exits) and frees fs. NULL is fine. */
void mz_fork_server_free(mz_fork_server *fs);

#endif
