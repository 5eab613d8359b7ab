/* disk_du: Mesos's disk/du isolator (--isolation=...,disk/du): the disk used by each
 * running container's sandbox, measured every --container_disk_watch_interval, shown
 * by /monitor/statistics, and with --enforce_container_disk_quota a container over
 * its disk resources destroyed (REASON_CONTAINER_LIMITATION_DISK). See disk_du.c. */
#ifndef MZ_AGENT_DISK_DU_H
#define MZ_AGENT_DISK_DU_H

struct mz_agent;
typedef struct mz_disk_du mz_disk_du;

/* Starts measuring every interval seconds (> 0) on the agent's loop. */
mz_disk_du *mz_disk_du_new(struct mz_agent *a, double interval, int enforce);
/* Stops and frees. NULL-safe. */
void mz_disk_du_free(mz_disk_du *d);

#endif
