/* log_files: the master's log as Mesos's virtual /master/log under the /files endpoints
 * (common/files_http.h), when it logs to a file (--log_dir). */
#ifndef MZ_MASTER_LOG_FILES_H
#define MZ_MASTER_LOG_FILES_H

#include "master/master.h"

#define MZ_MASTER_LOG_PATH "/master/log"

/* Routes /files/browse, read, download and debug to m->files (called from mz_endpoints_route). */
void mz_master_files_route(mz_master *m);

#endif
