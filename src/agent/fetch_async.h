/* fetch_async: the fetcher (fetcher.h) run in a child process of the agent, for
 * URIs that must land in the sandbox of a container that already runs (a task
 * group given to a running default executor). At a launch the fetcher runs in the
 * container's own child instead (containerizer.h, mz_launch_spec.prepare).
 *
 * The child enters the sandbox (as the container's user when one is given),
 * appends its progress lines to the sandbox's stderr file, runs mz_fetch_prepare
 * and reports through a pipe that the agent's loop watches: the loop never waits.
 * The child is never waited for here: the containerizer's SIGCHLD handler reaps
 * every child of the agent (waitpid(-1)), ours included. A cancelled job's child is
 * killed through a pidfd, so a recycled pid can never be hit. The child dies with
 * the agent (PR_SET_PDEATHSIG): a restarted agent fetches again.
 *
 * Ownership: the job is owned by the caller until its callback runs (then it is
 * freed right after the callback returns) or until mz_fetch_job_cancel. What the
 * request and `as` point at is borrowed for the mz_fetch_job_start call only. */
#ifndef MZ_AGENT_FETCH_ASYNC_H
#define MZ_AGENT_FETCH_ASYNC_H

#include <stddef.h>
#include <sys/types.h>

#include "agent/fetcher.h"

#define MZ_FETCH_JOB_MAX_ERROR 2048 /* bytes of the child's error message kept */

struct event_base;
typedef struct mz_fetch_job mz_fetch_job;

/* Who the child is and where its progress goes. */
typedef struct {
  const char *stderr_path; /* appended to; NULL: /dev/null */
  int switch_user;         /* become uid/gid with groups (the agent is root) */
  uid_t uid;
  gid_t gid;
  const gid_t *groups;
  size_t ngroups;
} mz_fetch_as;

/* ok: 1 when every URI was fetched; else error names the URI that failed (or says
 * why the fetcher did not finish). The job is freed after this returns: the callback
 * must not cancel it. */
typedef void (*mz_fetch_job_cb)(int ok, const char *error, void *arg);

/* Starts fetching every URI of req into req->sandbox. The job, or NULL with err
 * when no child could be started (the callback is then never called). */
mz_fetch_job *mz_fetch_job_start(struct event_base *base, const mz_fetch_request *req, const mz_fetch_as *as,
                                 mz_fetch_job_cb cb, void *arg, char *err, size_t errlen);
/* Kills the child (if it still runs) and frees the job; the callback is not called.
 * NULL-safe. */
void mz_fetch_job_cancel(mz_fetch_job *job);

#endif
