/* calls: the scheduler calls other than SUBSCRIBE, ACCEPT and DECLINE, for a
 * subscribed framework whose stream id matched: TEARDOWN, KILL, SHUTDOWN,
 * ACKNOWLEDGE (status_update.c), RECONCILE, REVIVE, SUPPRESS, MESSAGE,
 * UPDATE_FRAMEWORK. Each acts at once; scheduler_api.c answers 202 (200 for
 * UPDATE_FRAMEWORK) after it returns. */
#ifndef MZ_MASTER_CALLS_H
#define MZ_MASTER_CALLS_H

#include "master/master.h"

void mz_call_teardown(mz_framework *fw);
void mz_call_kill(mz_framework *fw, const Mesos__V1__Scheduler__Call__Kill *kill);
void mz_call_shutdown(mz_framework *fw, const Mesos__V1__Scheduler__Call__Shutdown *sh);
void mz_call_reconcile(mz_framework *fw, const Mesos__V1__Scheduler__Call__Reconcile *rec);
void mz_call_revive(mz_framework *fw, const Mesos__V1__Scheduler__Call__Revive *rev);
void mz_call_suppress(mz_framework *fw, const Mesos__V1__Scheduler__Call__Suppress *sup);
void mz_call_message(mz_framework *fw, const Mesos__V1__Scheduler__Call__Message *msg);
/* 0, or -1 with err (answered 400). */
int mz_call_update_framework(mz_framework *fw, const Mesos__V1__Scheduler__Call__UpdateFramework *up, char *err,
                             size_t errlen);

#endif
