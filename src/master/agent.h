/* agent: agents as the master sees them: registration (new id
 * "<master id>-S<n>") and re-registration (tasks and executors reattached,
 * unknown ones adopted, missing ones reported lost), disconnection when their
 * link closes (deactivated, offers rescinded, removal after the re-registration
 * timeout), removal (tasks TASK_LOST or, for PARTITION_AWARE frameworks,
 * TASK_UNREACHABLE / TASK_GONE), and the /master/state view.
 *
 * The master owns agents (hash by id); a link lists the agents it carries. */
#ifndef MZ_MASTER_AGENT_H
#define MZ_MASTER_AGENT_H

#include <event2/util.h>
#include <jansson.h>
#include <stdbool.h>

#include "common/jsonw.h"
#include "master/master.h"

/* The id of an object of this kind (its index key, common/idindex.h). */
const char *mz_agent_key(const void *obj);
mz_agent *mz_agent_find(mz_master *m, const char *id);
/* The agent's IP as offered to frameworks (its hostname if numeric, else its link's peer). */
const char *mz_agent_ip(const mz_agent *a);

/* Sends ev over the agent's link with agent_id set. 0, or -1 when disconnected. */
int mz_agent_send(mz_agent *a, Mezzo__Internal__AgentEvent *ev);

/* REGISTER received on link: registers or re-registers the agent and answers
 * REGISTERED (or ERROR naming the link_key). */
void mz_agent_register(mz_link *link, const Mezzo__Internal__AgentCall *call);
/* The agent's link closed: deactivate, rescind its offers, start the removal timer. */
void mz_agent_disconnect(mz_agent *a);
/* Removes the agent for good (it unregistered): recorded gone in the registry
 * first; its tasks go TASK_GONE (PARTITION_AWARE) or TASK_LOST; if it comes back
 * with its id it is told to shut down. */
void mz_agent_remove(mz_agent *a, bool unregistered, const char *why);
/* MARK_AGENT_GONE: recorded gone, told to shut down, its tasks TASK_GONE_BY_OPERATOR
 * (PARTITION_AWARE frameworks) or TASK_LOST, removed for good. a is freed. */
void mz_agent_mark_gone(mz_agent *a, const char *why);
/* The agent failed health checks (missed PINGs, or stayed disconnected past
 * agent_ping_timeout * max_agent_ping_timeouts): queued to be marked unreachable
 * as fast as --agent_removal_rate_limit allows, unless it re-registers first.
 * Marking records it in the registry, then its tasks go TASK_UNREACHABLE
 * (PARTITION_AWARE) or TASK_LOST, and it leaves the allocator; it may re-register. */
void mz_agent_schedule_unreachable(mz_agent *a);
/* Event callback of m->unreachable_ev (the rate limiter). */
void mz_agent_unreachable_cb(evutil_socket_t fd, short what, void *arg);
/* Timer queue callback: a disconnected agent did not come back in time. */
void mz_agent_removal_cb(mz_timerq_node *node, void *arg);
/* Remembers an id whose re-registration is refused (removed agents). */
void mz_agent_remember_removed(mz_master *m, const char *id);
/* Frees an agent at master shutdown (no events, no allocator calls). */
void mz_agent_free(mz_agent *a);

/* Frees the memory of removed agents' ids (master shutdown). */
void mz_agent_forget_removed(mz_master *m);

/* Mesos /master/state slave object. */
json_t *mz_agent_json(const mz_agent *a);
/* The same object, written to a streaming writer (/master/state). */
void mz_agent_write(mz_jw *w, const mz_agent *a);

#endif
