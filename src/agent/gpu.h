/* gpu: NVIDIA GPUs on the agent, as Mesos's gpu/nvidia isolator has them.
 *
 * NVML (libnvidia-ml.so.1) is opened at run time with dlopen, so there is no
 * build dependency: the few functions used are looked up by name and their
 * types declared here in gpu.c. At start the agent enumerates the GPUs (index,
 * minor number of /dev/nvidia<minor>, name), keeps those of --nvidia_gpu_devices
 * (all by default) and closes NVML again: nothing else needs it.
 *
 * Whether gpu/nvidia is on: given in --isolation -> required (no NVML is an error);
 * --isolation given without it -> off; --isolation left to detection -> on when
 * NVML is there and finds GPUs, off otherwise. The reason is kept for the log.
 * The agent offers gpus:N (N = the devices kept); `gpus` in --resources must be
 * a whole number equal to the devices of --nvidia_gpu_devices (both or neither,
 * as in Mesos), and needs gpu/nvidia.
 *
 * Each container gets whole GPUs from the free set (mz_gpu_allocate); the
 * container's device rules (isolation.c: a v1 devices cgroup, or a BPF device
 * program on v2) allow those and deny the others. Each GPU records, besides its
 * container, the task of that container it was given for ("": the executor's own). At the launch the executor's gpus are
 * given untagged and each queued task's gpus tagged with its task id; the
 * container's CUDA_VISIBLE_DEVICES names every GPU given then. A running container
 * whose executor is given more tasks asking for gpus gets theirs, tagged with their
 * ids (mz_agent_gpus_grow). A task that asks for gpus and has a command (not the
 * command executor's, whose container's variables name its GPUs already) is told
 * exactly its own in CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES of its
 * command's environment, which the default executor gives the task's process.
 * When a task ends, exactly its GPUs come back (mz_agent_gpus_task_ended), so a
 * task still running never loses one; the executor's own come back when the
 * container ends (mz_gpu_release).
 * Which container (and task) holds which GPU is checkpointed with the container's
 * run (mz_agent_gpus_checkpoint), so that a restarted agent gives its recovered
 * containers their GPUs back, tagged as they were (mz_agent_gpus_recover), and
 * never hands them out again; the GPUs of containers that did not survive, and of
 * tasks that ended meanwhile, stay free. A checkpoint written before tasks were
 * tracked has no tags: its GPUs count as the executor's own until the container ends.
 *
 * Ownership: mz_gpus owns its strings and device table; the agent owns the
 * mz_gpus (main.c) and lends it to the isolation (mz_isolation.gpus). */
#ifndef MZ_AGENT_GPU_H
#define MZ_AGENT_GPU_H

#include <stddef.h>

#include "agent/checkpoint.h"
#include "common/resources.h"
#include "common/util.h"

#define MZ_GPU_MAX 128             /* devices managed on one agent */
#define MZ_GPU_NVIDIA_MAJOR 195    /* char major of /dev/nvidia<minor> and /dev/nvidiactl */
#define MZ_GPU_NVIDIACTL_MINOR 255
#define MZ_GPU_DEFAULT_LIBRARY "libnvidia-ml.so.1"

typedef struct {
  unsigned index;                  /* NVML index (what nvidia-smi shows) */
  unsigned minor;                  /* /dev/nvidia<minor> */
  char name[96];
  char owner[MZ_UUID_STR];         /* container id holding it; "" when free */
  char task[MZ_ID_MAX + 1];        /* the owner's task it was given for; "" = the executor's own */
} mz_gpu_device;

/* A char device other than the GPUs themselves that a GPU container needs. */
typedef struct {
  unsigned major, minor;
  char path[32];
} mz_gpu_ctl_device;

typedef struct mz_gpus {
  int enabled;                     /* gpu/nvidia in use */
  char *reason;                    /* why on or off (logged at start) */
  char *library;                   /* the NVML library opened (NULL when none) */
  mz_gpu_device *dev;
  size_t n;
  mz_gpu_ctl_device ctl[4];        /* /dev/nvidiactl, /dev/nvidia-uvm, /dev/nvidia-uvm-tools, /dev/nvidia-modeset */
  size_t nctl;
} mz_gpus;

/* Decides whether gpu/nvidia is on and enumerates the GPUs. isolation: the
 * --isolation flag (NULL/""/"auto": detected); devices: --nvidia_gpu_devices
 * ("0,1" or "[0,1]"; NULL: all); library: NVML's path (NULL: libnvidia-ml.so.1).
 * 0, or -1 with err naming the flag. */
int mz_gpus_init(mz_gpus *g, const char *isolation, const char *devices, const char *library, char *err,
                 size_t errlen);
void mz_gpus_free(mz_gpus *g);

/* Adds gpus:N (role default_role) to the agent's resources r when --resources
 * (text) doesn't name gpus, or checks the gpus it names against the devices.
 * devices_flag: whether --nvidia_gpu_devices was given. 0, or -1 with err. */
int mz_gpus_resources(mz_gpus *g, mz_resources *r, const char *text, const char *default_role, int devices_flag,
                      char *err, size_t errlen);

/* Gives container id `n` more free GPUs, for its task `task` (NULL or "": the
 * executor's own). 0, or -1 with err when fewer are free. */
int mz_gpu_allocate(mz_gpus *g, const char *id, const char *task, unsigned n, char *err, size_t errlen);
/* Frees the GPUs the container holds for its task `task` ("": the executor's own).
 * NULL-safe. Returns how many. */
unsigned mz_gpu_release_task(mz_gpus *g, const char *id, const char *task);
/* Frees every GPU of the container, whatever task it was given for. NULL-safe.
 * Returns how many. */
unsigned mz_gpu_release(mz_gpus *g, const char *id);
/* Gives container id the GPU of NVML index `index` back after a restart (recover.c),
 * for its task `task` (NULL or "": the executor's own): 0 (also when it holds it
 * already; it is then tagged `task`), or -1 with err when the agent does not manage
 * that GPU, its minor is not `minor` (another device now), or another container
 * holds it. */
int mz_gpu_claim(mz_gpus *g, const char *id, const char *task, unsigned index, unsigned minor, char *err,
                 size_t errlen);
/* How many GPUs the container holds (for any task); visible (may be NULL) gets their
 * indexes, comma-separated ("" when none). */
unsigned mz_gpu_owned(const mz_gpus *g, const char *id, char *visible, size_t len);
/* The same for the GPUs it holds for its task `task` only ("": the executor's own). */
unsigned mz_gpu_task_owned(const mz_gpus *g, const char *id, const char *task, char *visible, size_t len);
unsigned mz_gpu_free_count(const mz_gpus *g);

/* ---- agent glue (executors.c, tasks.c): g is a->isolation.gpus ---- */
struct mz_agent;
struct mz_ag_executor;
struct mz_ag_task;
/* Before a launch: gives the container the GPUs its executor (untagged) and each
 * queued task (tagged with its id) ask for, and tells each of those tasks its own
 * (gpu.h, above); visible gets CUDA_VISIBLE_DEVICES for the container: every GPU it
 * holds ("" when none or gpu/nvidia is off). Returns the number it holds, or -1
 * with err (fractional gpus, too few free; then nothing is given). */
int mz_agent_gpus_launch(struct mz_agent *a, struct mz_ag_executor *ex, char *visible, size_t len, char *err,
                         size_t errlen);
/* New tasks were queued for ex's running container (a later task group, under
 * `group`, or a task for a custom executor: group 0): each queued task of `group`
 * gets the GPUs it asks for beyond those it holds, tagged with its id, on top of
 * what the container holds (Mesos: the isolator's update); its devices cgroup allows
 * them and its checkpoint is rewritten. Each of those tasks that asks for gpus is
 * told its own (gpu.h, above). 0 (also when nothing was asked), or -1 with err
 * (fractional gpus, gpu/nvidia off, too few free; then nothing is given). */
int mz_agent_gpus_grow(struct mz_agent *a, struct mz_ag_executor *ex, unsigned group, char *err, size_t errlen);
/* Task t reached a terminal state: the GPUs its container holds for it go back,
 * the container's devices cgroup is updated and (when GPUs went back) its
 * checkpoint rewritten. The container's other GPUs stay. */
void mz_agent_gpus_task_ended(struct mz_agent *a, struct mz_ag_task *t);
/* The GPUs ex's container holds, checkpointed with its run (checkpoint.h, gpus)
 * for a framework that checkpoints; nothing when gpu/nvidia is off. */
void mz_agent_gpus_checkpoint(struct mz_agent *a, struct mz_ag_executor *ex);
/* A recovered executor's container (adopted: it still runs; its tasks recovered
 * already) takes back the GPUs of its checkpoint (n of them), each for the task it
 * was tagged with; a GPU of a task that is not a live task of ex any more stays
 * free (and the checkpoint is rewritten). Its devices cgroup is written again to
 * match. Returns how many it holds. */
unsigned mz_agent_gpus_recover(struct mz_agent *a, struct mz_ag_executor *ex, const mz_ckpt_gpu *gpus, size_t n);

#endif
