/* offer: outstanding offers. An offer holds resources of one agent for one
 * framework (and one role) until it is accepted, declined, rescinded or expires
 * (--offer_timeout); while it lives those resources are out of the allocator's
 * free pool, so no resource is ever in two offers. A framework holds at most one
 * offer per agent. Offers made in one allocation pass are sent together, one
 * OFFERS event per framework (mz_offers_flush).
 *
 * The master owns offers (hash by id); frameworks and agents list them. */
#ifndef MZ_MASTER_OFFER_H
#define MZ_MASTER_OFFER_H

#include <jansson.h>

#include "master/master.h"

/* Allocator callback: makes an offer of res (unallocated form, copied) for role.
 * 0, or -1 when refused (unknown/inactive framework or agent, or the framework
 * already holds an offer on the agent). */
int mz_offer_make(mz_master *m, const char *fw_id, const char *agent_id, const char *role, const mz_resources *res);
/* Sends the OFFERS events of the offers made since the last flush. */
void mz_offers_flush(mz_master *m);

/* The id of an object of this kind (its index key, common/idindex.h). */
const char *mz_offer_key(const void *obj);
mz_offer *mz_offer_find(mz_master *m, const char *id);
mz_offer *mz_offer_on_agent(mz_agent *agent, mz_framework *fw);

/* Ends an offer: unlinks and frees it. The caller has dealt with its resources. */
void mz_offer_remove(mz_offer *o);
/* Ends an offer and gives its resources back (refuse_seconds > 0: decline filter). */
void mz_offer_discard(mz_offer *o, double refuse_seconds);
/* Sends RESCIND to the framework, then discards the offer. */
void mz_offer_rescind(mz_offer *o);

/* Timer queue callback for --offer_timeout. */
void mz_offer_timeout_cb(mz_timerq_node *node, void *arg);

/* Mesos /master/state offer object. */
json_t *mz_offer_json(const mz_offer *o);

#endif
