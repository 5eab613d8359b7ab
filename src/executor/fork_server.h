/* fork_server: `mezzo-executor --fork-server`, which the agent starts once and asks
 * for every command and default executor instead of exec'ing mezzo-executor: a fork
 * of this small, idle process starts in a fraction of the CPU of an exec (no
 * program load, dynamic loader or CPU feature probing). The wire format is in
 * common/fork_wire.h.
 *
 * For each request the server clones itself with CLONE_PARENT, so that the new
 * executor is the agent's child, as an exec'd one is (the agent reaps it and sees
 * its exit status). The child does what the agent's launcher does between fork and
 * exec (launcher_posix.c): setsid, the error pipe at fd 3, joins its cgroups (writes
 * "0" to each cgroup.procs), stdin/stdout/stderr, closes every other descriptor,
 * default signal dispositions, enters the working directory; then it shows its argv
 * in /proc/<pid>/cmdline, takes the request's environment, closes the error pipe (as
 * an exec would) and runs entry(argc, argv), exiting with its result. A request that
 * names a program to exec (a direct command task's command, src/agent/direct_command.c)
 * has the child exec it instead, looked up in the request's PATH, with
 * PR_SET_PDEATHSIG SIGKILL (it goes with the agent). That child shares the server's
 * memory until its exec (CLONE_VM | CLONE_VFORK, on a stack of its own) and sends the
 * agent its pid itself before the steps above. A failure before entry or the
 * exec is written to the error pipe and the child exits with 127.
 *
 * The server exits when the agent closes its end of the socket or dies
 * (PR_SET_PDEATHSIG). */
#ifndef MZ_EXECUTOR_FORK_SERVER_H
#define MZ_EXECUTOR_FORK_SERVER_H

#include "common/fork_wire.h" /* MZ_FORK_SERVER_FD */

/* Serves requests on sock until the agent goes away; returns the exit code. self_argv:
 * the server's own argv (main's), whose strings each child overwrites with its argv. */
int mz_executor_fork_server(int sock, char **self_argv, int (*entry)(int argc, char **argv));

#endif
