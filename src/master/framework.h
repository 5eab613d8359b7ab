/* framework: scheduler frameworks: subscription (new, failover, re-subscription
 * after a disconnection), the subscription stream and its heartbeats,
 * disconnection (failover_timeout timer), teardown and removal, and the
 * /master/state view. The master owns frameworks (hash by id) and a bounded
 * list of completed ones. */
#ifndef MZ_MASTER_FRAMEWORK_H
#define MZ_MASTER_FRAMEWORK_H

#include <jansson.h>
#include <stdbool.h>

#include "common/jsonw.h"
#include "master/master.h"

mz_framework *mz_framework_find(mz_master *m, const char *id);

/* Mesos's FrameworkInfo validation (roles, id, failover timeout, suppressed roles). 0 or -1 with err. */
int mz_framework_validate_info(const Mesos__V1__FrameworkInfo *fi, char *const *suppressed, size_t nsuppressed,
                               char *err, size_t errlen);
/* Recomputes fw->roles (MULTI_ROLE roles, else role or "*") and resets fw->suppressed from fw->info. */
void mz_framework_set_roles(mz_framework *fw);
bool mz_framework_has_role(const mz_framework *fw, const char *role);

/* Handles a SUBSCRIBE call that passed call validation: always replies on req
 * (200 stream starting with SUBSCRIBED, or with one ERROR event and closed). */
void mz_framework_subscribe(mz_master *m, mz_http_req *req, mz_content_type ct,
                            const Mesos__V1__Scheduler__Call__Subscribe *sub);

/* A framework known only from an agent's re-registration: inactive and
 * disconnected until its scheduler subscribes. Returns the existing one if any. */
mz_framework *mz_framework_recover(mz_master *m, const Mesos__V1__FrameworkInfo *info, const char *id);

/* Removes a framework: offers recovered, tasks killed (agents told to shut the
 * framework down), stream closed, moved to the completed list. */
void mz_framework_remove(mz_framework *fw, const char *why);

/* Frees a framework that is linked nowhere (completed list eviction, shutdown). */
void mz_framework_free(mz_framework *fw);
/* Closes the stream without side effects (master shutdown). */
void mz_framework_close_stream(mz_framework *fw);

/* Mesos /master/state framework object (full: tasks, offers, executors...). */
json_t *mz_framework_json(const mz_framework *fw, bool full);
/* The same object, written to a streaming writer (/master/state streams its tasks). */
void mz_framework_write(mz_jw *w, const mz_framework *fw, bool full);


#endif
