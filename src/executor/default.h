/* default: mezzo-executor's "default executor" mode (`mezzo-executor --default`),
 * which the agent starts for an ExecutorInfo of type DEFAULT, to run task groups
 * (LAUNCH_GROUP) as Mesos's default executor does:
 *   - every task of a group is started together, each command in its own process
 *     group, with TASK_STARTING then TASK_RUNNING;
 *   - when one task of a group fails (or is killed, or cannot start), the other
 *     live tasks of that group are killed and end TASK_KILLED;
 *   - a KILL for one task kills its whole group; SHUTDOWN (or SIGTERM) kills all;
 *   - the executor exits once every task is terminal and every terminal update
 *     is acknowledged by the agent.
 * All state is owned by the loop thread, in one static struct in default.c. */
#ifndef MZ_EXECUTOR_DEFAULT_H
#define MZ_EXECUTOR_DEFAULT_H

/* Runs the default executor until it is done; returns the process exit code. */
int mz_default_executor_main(void);

#endif
