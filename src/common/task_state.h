/* task_state: names and facts of Mesos task states and reasons, shared by the
 * master, the agent, the simulator, the CLI and libmezzo (whose public header,
 * include/mezzo/scheduler.h, declares these same functions). */
#ifndef MZ_TASK_STATE_H
#define MZ_TASK_STATE_H

/* "TASK_RUNNING"; "TASK_STATE_UNKNOWN_VALUE" for a number that is no state. */
const char *mz_task_state_name(int state);
/* "REASON_COMMAND_EXECUTOR_FAILED"; "REASON_UNKNOWN_VALUE" for a number that is no reason. */
const char *mz_task_reason_name(int reason);
/* 1 for the states a task never leaves (FINISHED, FAILED, KILLED, ERROR, LOST,
 * DROPPED, GONE, GONE_BY_OPERATOR), else 0. UNREACHABLE is not terminal. */
int mz_task_state_terminal(int state);

#endif
