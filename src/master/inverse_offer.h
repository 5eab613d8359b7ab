/* inverse_offer: Mesos's inverse offers, the master asking frameworks for
 * resources back ahead of a machine's maintenance.
 *
 * For every agent on a DRAINING machine, each active framework that holds
 * resources there (tasks, executors or offers) gets one INVERSE_OFFERS event
 * with an InverseOffer carrying the machine's unavailability (no resources:
 * the whole agent). It answers with ACCEPT_INVERSE_OFFERS or
 * DECLINE_INVERSE_OFFERS; the answer is kept per (agent, framework) and shown
 * by GET_MAINTENANCE_STATUS, and the answer's filter (refuse_seconds, default
 * 5 s) delays the next inverse offer for that agent. Inverse offers are made
 * on a one-second timer (and at once after a schedule change) while some
 * machine is DRAINING. When an agent's unavailability changes or ends, or the
 * agent goes away, its outstanding inverse offers are rescinded
 * (RESCIND_INVERSE_OFFER) and its answers forgotten.
 *
 * State: m->iofs (owned here; freed by mz_iofs_free). Unknown or foreign
 * inverse offer ids in an answer are ignored with a warning, as Mesos does. */
#ifndef MZ_MASTER_INVERSE_OFFER_H
#define MZ_MASTER_INVERSE_OFFER_H

#include <stdbool.h>

#include "master/master.h"
#include "mesos/v1/maintenance/maintenance.pb-c.h"

#define MZ_IOFS_PERIOD 1.0 /* seconds between passes */
#define MZ_IOFS_MAX_REFUSE (365.0 * 86400.0)

/* Makes the inverse offers due now (and arms the timer). */
void mz_iofs_run(mz_master *m);
/* The agent's unavailability changed or ended, or the agent leaves: its
 * outstanding inverse offers are rescinded and its answers forgotten. */
void mz_iofs_reset_agent(mz_master *m, const char *agent_id);
/* ACCEPT_INVERSE_OFFERS / DECLINE_INVERSE_OFFERS of a subscribed framework. */
void mz_iofs_answer(mz_framework *fw, Mesos__V1__OfferID *const *ids, size_t n, const Mesos__V1__Filters *filters,
                    bool accept);
/* Appends the frameworks' answers about agent_id to dm->statuses. */
void mz_iofs_statuses(mz_master *m, const char *agent_id, Mesos__V1__Maintenance__ClusterStatus__DrainingMachine *dm);
/* Outstanding inverse offers (for views and tests). */
size_t mz_iofs_outstanding(const mz_master *m);
void mz_iofs_free(mz_master *m);

#endif
