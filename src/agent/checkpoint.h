/* checkpoint: the agent's state on disk, so that a restarted agent can recover
 * what it ran (Mesos's layout, under <work_dir>/meta):
 *
 *   meta/slaves/latest                         symlink to the current agent's dir
 *   meta/slaves/<agent>/slave.info             AgentInfo (protobuf)
 *     frameworks/<fw>/framework.info           FrameworkInfo
 *       executors/<ex>/executor.info           ExecutorInfo
 *         runs/latest                          symlink to the current run
 *         runs/<container>/forked.pid          "<pid> <starttime>" of the executor
 *         runs/<container>/gpus                the GPUs its container holds (gpu/nvidia):
 *                                              "<nvml index> <minor> <task>\n" each, or
 *                                              "<nvml index> <minor>\n" for one of the
 *                                              executor's own (the only form written
 *                                              before tasks were tracked); written
 *                                              before forked.pid, again when it changes
 *           tasks/<task>/task.info             TaskInfo
 *           tasks/<task>/task.group            "<n>\n": the number of its task group in
 *                                              the executor (LAUNCH_GROUP), written
 *                                              before task.info; absent for a single task
 *           tasks/<task>/task.updates          append-only records: every status update
 *                                              generated for the task and every
 *                                              acknowledgement, in order
 *
 * Whole files are written atomically (a temp file, fsync, rename, fsync of the
 * dir); task.updates records are appended and fsync'ed. A record is
 * <u32 little-endian length><type byte><payload>: 'U' + TaskStatus, 'A' + 16-byte
 * uuid. A torn last record (a crash mid-write) is ignored when reading.
 *
 * Only frameworks with FrameworkInfo.checkpoint are written (slave.info always).
 * mz_ckpt_load reads everything back into a tree (mz_ckpt_state) that the caller
 * owns and frees with mz_ckpt_state_free. */
#ifndef MZ_CHECKPOINT_H
#define MZ_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"
#include "mesos/v1/mesos.pb-c.h"

#define MZ_CKPT_UUID_BYTES 16
#define MZ_CKPT_MAX_GPUS 1024 /* lines read from a gpus file */
#define MZ_CKPT_GPU_LINE_MAX (24 + MZ_ID_MAX) /* bytes of one gpus line, its newline included */

/* One GPU held by a container: its NVML index (CUDA_VISIBLE_DEVICES), the minor
 * number of its /dev/nvidia<minor> and the task of the container it was given for
 * ("": the executor's own). */
typedef struct {
  unsigned index, minor;
  char task[MZ_ID_MAX + 1];
} mz_ckpt_gpu;

/* Where one executor run lives; every field borrowed. */
typedef struct {
  const char *work_dir, *agent_id, *fw_id, *executor_id, *container_id;
} mz_ckpt_run;

/* ------------------------------------------------------------------ low level */
/* Writes data to path atomically (temp + fsync + rename), creating the parent dirs. 0 or -1. */
int mz_ckpt_write_file(const char *path, const void *data, size_t len, char *err, size_t errlen);
/* Reads a whole file (at most max bytes) into a malloc'd buffer; NULL if missing or too big. */
uint8_t *mz_ckpt_read_file(const char *path, size_t max, size_t *len);

/* ------------------------------------------------------------------ writing */
/* slave.info and the `latest` link. */
int mz_ckpt_agent(const char *work_dir, const Mesos__V1__AgentInfo *info, char *err, size_t errlen);
/* Removes the `latest` link: the next start registers as a new agent. */
void mz_ckpt_forget_agent(const char *work_dir);
int mz_ckpt_framework(const char *work_dir, const char *agent_id, const Mesos__V1__FrameworkInfo *info, char *err,
                      size_t errlen);
/* executor.info and runs/latest -> container. */
int mz_ckpt_executor(const mz_ckpt_run *r, const Mesos__V1__ExecutorInfo *info, char *err, size_t errlen);
int mz_ckpt_executor_pid(const mz_ckpt_run *r, pid_t pid, unsigned long long starttime, char *err, size_t errlen);
/* task.info, and task.group before it when group is not 0 (a task of a task group). */
int mz_ckpt_task(const mz_ckpt_run *r, const Mesos__V1__TaskInfo *info, unsigned group, char *err, size_t errlen);
/* The run's gpus file (n may be 0: none held any more). */
int mz_ckpt_executor_gpus(const mz_ckpt_run *r, const mz_ckpt_gpu *gpus, size_t n, char *err, size_t errlen);
/* The gpus file's text: written into buf (NUL-terminated), returns its length, or 0
 * with buf "" when it does not fit. Decoding fills *out (malloc'd, NULL when n is 0;
 * task "" for a line without one): 0, or -1 on a malformed line (a task that is not
 * a valid id, mz_id_valid, included) or more than MZ_CKPT_MAX_GPUS. */
size_t mz_ckpt_gpus_encode(const mz_ckpt_gpu *gpus, size_t n, char *buf, size_t len);
int mz_ckpt_gpus_decode(const char *text, size_t len, mz_ckpt_gpu **out, size_t *n);
int mz_ckpt_task_update(const mz_ckpt_run *r, const char *task_id, const Mesos__V1__TaskStatus *st, char *err,
                        size_t errlen);
int mz_ckpt_task_ack(const mz_ckpt_run *r, const char *task_id, const uint8_t uuid[MZ_CKPT_UUID_BYTES], char *err,
                     size_t errlen);
/* Forgets an executor (every run) or a whole framework. */
void mz_ckpt_remove_executor(const char *work_dir, const char *agent_id, const char *fw_id, const char *executor_id);
void mz_ckpt_remove_framework(const char *work_dir, const char *agent_id, const char *fw_id);

/* ------------------------------------------------------------------ reading */
typedef struct {
  Mesos__V1__TaskInfo *info;       /* owned */
  unsigned group;                  /* its task group's number in the executor; 0: a single task */
  Mesos__V1__TaskStatus **updates; /* owned, in order: every update generated */
  size_t nupdates;
  uint8_t (*acks)[MZ_CKPT_UUID_BYTES]; /* acknowledged uuids, in order */
  size_t nacks;
} mz_ckpt_task_state;

typedef struct {
  Mesos__V1__ExecutorInfo *info;   /* owned */
  char *container_id;              /* runs/latest; NULL if the run was never recorded */
  pid_t pid;                       /* 0 if never forked (forked.pid missing) */
  unsigned long long starttime;
  mz_ckpt_gpu *gpus;               /* owned: the GPUs its container held (none: NULL) */
  size_t ngpus;
  mz_ckpt_task_state *tasks;
  size_t ntasks;
} mz_ckpt_executor_state;

typedef struct {
  Mesos__V1__FrameworkInfo *info;  /* owned */
  mz_ckpt_executor_state *executors;
  size_t nexecutors;
} mz_ckpt_framework_state;

typedef struct {
  char *agent_id;                  /* NULL: nothing to recover */
  Mesos__V1__AgentInfo *info;
  mz_ckpt_framework_state *frameworks;
  size_t nframeworks;
} mz_ckpt_state;

/* Reads what meta/slaves/latest points at. 0 (s->agent_id NULL when there is nothing),
 * or -1 with err when the checkpoint is unreadable. Bad entries below the agent are
 * skipped with a warning. */
int mz_ckpt_load(const char *work_dir, mz_ckpt_state *s, char *err, size_t errlen);
void mz_ckpt_state_free(mz_ckpt_state *s);

#endif
