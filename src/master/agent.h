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

#include <jansson.h>
#include <stdbool.h>

#include "master/master.h"

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
/* Removes the agent for good. unregistered: it asked to (UNREGISTER) rather than timing out. */
void mz_agent_remove(mz_agent *a, bool unregistered, const char *why);
/* Timer queue callback: a disconnected agent did not come back in time. */
void mz_agent_removal_cb(mz_timerq_node *node, void *arg);
/* Frees an agent at master shutdown (no events, no allocator calls). */
void mz_agent_free(mz_agent *a);

/* Frees the memory of removed agents' ids (master shutdown). */
void mz_agent_forget_removed(mz_master *m);

/* Mesos /master/state slave object. */
json_t *mz_agent_json(const mz_agent *a);

#endif
