/* operator_api: the master's v1 operator API, POST /api/v1 and /master/api/v1 (see
 * operator_api.c). */
#ifndef MZ_MASTER_OPERATOR_API_H
#define MZ_MASTER_OPERATOR_API_H

#include "master/master.h"

void mz_operator_api_route(mz_master *m);
/* Releases the module's process-wide timer (master shutdown). */
void mz_operator_api_free(void);

struct Mesos__V1__Quota__QuotaConfig;
/* Gives a role's recorded quota to the allocator (registry recovery). 0 or -1 with err. */
int mz_operator_restore_quota(mz_master *m, const struct Mesos__V1__Quota__QuotaConfig *q, char *err, size_t errlen);

#endif
