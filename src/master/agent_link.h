/* agent_link: the agent <-> master link (proto/mezzo/agent.proto) on
 * POST /api/v1/mezzo/agent: a full-duplex chunked RecordIO stream of AgentCall
 * records in, AgentEvent records out, on one connection, carrying any number of
 * agents. This module owns the links: it decodes calls and hands them to agent.c
 * and status_update.c, pings each link every --agent_ping_timeout (link-level
 * PING without agent_id) and closes a link after --max_agent_ping_timeouts
 * missed PONGs; when a link closes, every agent on it is disconnected. */
#ifndef MZ_MASTER_AGENT_LINK_H
#define MZ_MASTER_AGENT_LINK_H

#include "master/master.h"

#define MZ_AGENT_LINK_PATH "/api/v1/mezzo/agent"
#define MZ_AGENT_RECORD_MAX (16u << 20) /* largest AgentCall record accepted */

/* Registers the route on m->http. */
void mz_agent_link_route(mz_master *m);
/* Writes one event on the link. 0, or -1 if the link is gone. */
int mz_link_send(mz_link *l, const Mezzo__Internal__AgentEvent *ev);
/* Sends an ERROR event (link_key / agent_id as given, may be NULL). */
void mz_link_send_error(mz_link *l, const char *link_key, const char *agent_id, const char *message);
/* Closes every link (master shutdown): no agent state changes. */
void mz_agent_link_close_all(mz_master *m);

#endif
