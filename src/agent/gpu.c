/* gpu: see gpu.h. NVML is used only in mz_gpus_init (enumeration); the rest is
 * bookkeeping of which container holds which device. */
#include "agent/gpu.h"
#include "agent/isolation.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "agent/agent.h"
#include "common/log.h"

/* The NVML entry points used, with their C types (nvml.h: nvmlReturn_t is an int
 * enum where 0 is NVML_SUCCESS; nvmlDevice_t an opaque pointer). */
typedef int nvml_return;
typedef void *nvml_device;
typedef nvml_return (*nvml_init_fn)(void);
typedef nvml_return (*nvml_shutdown_fn)(void);
typedef nvml_return (*nvml_count_fn)(unsigned *count);
typedef nvml_return (*nvml_handle_fn)(unsigned index, nvml_device *device);
typedef nvml_return (*nvml_minor_fn)(nvml_device device, unsigned *minor);
typedef nvml_return (*nvml_name_fn)(nvml_device device, char *name, unsigned length);
typedef const char *(*nvml_error_fn)(nvml_return result);

typedef struct {
  void *h;
  nvml_init_fn init;
  nvml_shutdown_fn shutdown;
  nvml_count_fn count;
  nvml_handle_fn handle;
  nvml_minor_fn get_minor;
  nvml_name_fn name;
  nvml_error_fn error;
} nvml_lib;

static const char *nvml_err(const nvml_lib *l, nvml_return rc) {
  const char *s = l->error ? l->error(rc) : NULL;
  return s ? s : "unknown NVML error";
}

/* Opens the library and finds every symbol; 0 or -1 with why. */
static int nvml_open(nvml_lib *l, const char *path, char *why, size_t len) {
  memset(l, 0, sizeof *l);
  l->h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!l->h) {
    const char *e = dlerror();
    snprintf(why, len, "cannot load NVML (%s): %s", path, e ? e : "dlopen failed");
    return -1;
  }
  struct { const char *name; void **slot; } syms[] = {
      {"nvmlInit_v2", (void **)&l->init},
      {"nvmlShutdown", (void **)&l->shutdown},
      {"nvmlDeviceGetCount_v2", (void **)&l->count},
      {"nvmlDeviceGetHandleByIndex_v2", (void **)&l->handle},
      {"nvmlDeviceGetMinorNumber", (void **)&l->get_minor},
      {"nvmlDeviceGetName", (void **)&l->name},
      {"nvmlErrorString", (void **)&l->error},
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
    *syms[i].slot = dlsym(l->h, syms[i].name);
    if (!*syms[i].slot) {
      snprintf(why, len, "NVML library %s has no symbol %s", path, syms[i].name);
      dlclose(l->h);
      l->h = NULL;
      return -1;
    }
  }
  return 0;
}

/* "0,1", "[0, 1]" -> indexes (unique). 0, or -1 with err. */
static int parse_devices(const char *text, unsigned *out, size_t *n, char *err, size_t errlen) {
  *n = 0;
  const char *p = text;
  while (*p == ' ') p++;
  int bracket = *p == '[';
  if (bracket) p++;
  for (;;) {
    while (*p == ' ') p++;
    if (bracket && *p == ']') break;
    if (!*p) break;
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (end == p || errno || v < 0 || v >= 100000) {
      snprintf(err, errlen, "flag --nvidia_gpu_devices: invalid value '%s' (expected a list of GPU ids, e.g. 0,1)",
               text);
      return -1;
    }
    for (size_t i = 0; i < *n; i++)
      if (out[i] == (unsigned)v) {
        snprintf(err, errlen, "flag --nvidia_gpu_devices: GPU id %ld is listed twice", v);
        return -1;
      }
    if (*n >= MZ_GPU_MAX) {
      snprintf(err, errlen, "flag --nvidia_gpu_devices: more than %d GPUs", MZ_GPU_MAX);
      return -1;
    }
    out[(*n)++] = (unsigned)v;
    p = end;
    while (*p == ' ') p++;
    if (*p == ',') {
      p++;
      continue;
    }
    if (bracket && *p == ']') break;
    if (*p) {
      snprintf(err, errlen, "flag --nvidia_gpu_devices: invalid value '%s' (expected a list of GPU ids, e.g. 0,1)",
               text);
      return -1;
    }
  }
  if (bracket) {
    if (*p != ']' || p[1 + strspn(p + 1, " ")] != '\0') {
      snprintf(err, errlen, "flag --nvidia_gpu_devices: invalid value '%s' (unbalanced brackets)", text);
      return -1;
    }
  }
  return 0;
}

static void set_reason(mz_gpus *g, const char *fmt_reason) {
  free(g->reason);
  g->reason = mz_strdup(fmt_reason);
}

/* The control devices a GPU container needs, from /dev (those that exist; nvidiactl always). */
static void find_ctl_devices(mz_gpus *g) {
  static const char *const paths[] = {"/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset"};
  g->nctl = 0;
  mz_gpu_ctl_device *c = &g->ctl[g->nctl++];
  c->major = MZ_GPU_NVIDIA_MAJOR;
  c->minor = MZ_GPU_NVIDIACTL_MINOR;
  snprintf(c->path, sizeof c->path, "/dev/nvidiactl");
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    struct stat sb;
    if (stat(paths[i], &sb) != 0 || !S_ISCHR(sb.st_mode)) continue;
    c = &g->ctl[g->nctl++];
    c->major = major(sb.st_rdev);
    c->minor = minor(sb.st_rdev);
    snprintf(c->path, sizeof c->path, "%s", paths[i]);
  }
}

int mz_gpus_init(mz_gpus *g, const char *isolation, const char *devices, const char *library, char *err,
                 size_t errlen) {
  memset(g, 0, sizeof *g);
  int detect = !isolation || !*isolation || !strcmp(isolation, "auto");
  int required = !detect && mz_isolator_listed(isolation, "gpu/nvidia");
  int have_devices = devices && *devices;
  if (!library || !*library) library = MZ_GPU_DEFAULT_LIBRARY;
  if (!detect && !required) {
    if (have_devices) {
      snprintf(err, errlen, "flag --nvidia_gpu_devices needs the gpu/nvidia isolator in --isolation");
      return -1;
    }
    set_reason(g, "gpu/nvidia is not in --isolation");
    return 0;
  }
  unsigned wanted[MZ_GPU_MAX];
  size_t nwanted = 0;
  if (have_devices && parse_devices(devices, wanted, &nwanted, err, errlen) != 0) return -1;

  char why[1024];
  nvml_lib l;
  if (nvml_open(&l, library, why, sizeof why) != 0) {
    if (required || have_devices) {
      snprintf(err, errlen, "gpu/nvidia: %s", why);
      return -1;
    }
    set_reason(g, why);
    return 0;
  }
  int rc = l.init();
  if (rc != 0) {
    snprintf(why, sizeof why, "nvmlInit_v2 failed: %s", nvml_err(&l, rc));
    dlclose(l.h);
    if (required || have_devices) {
      snprintf(err, errlen, "gpu/nvidia: %s", why);
      return -1;
    }
    set_reason(g, why);
    return 0;
  }
  unsigned count = 0;
  rc = l.count(&count);
  if (rc != 0) {
    snprintf(why, sizeof why, "nvmlDeviceGetCount_v2 failed: %s", nvml_err(&l, rc));
    goto fail;
  }
  if (count > MZ_GPU_MAX) count = MZ_GPU_MAX;
  for (size_t i = 0; i < nwanted; i++) {
    if (wanted[i] >= count) {
      snprintf(why, sizeof why, "flag --nvidia_gpu_devices: GPU id %u does not exist (NVML finds %u GPU%s)",
               wanted[i], count, count == 1 ? "" : "s");
      l.shutdown();
      dlclose(l.h);
      snprintf(err, errlen, "%s", why);
      return -1;
    }
  }
  size_t keep = have_devices ? nwanted : count;
  g->dev = keep ? mz_calloc(keep, sizeof *g->dev) : NULL;
  for (size_t i = 0; i < keep; i++) {
    unsigned idx = have_devices ? wanted[i] : (unsigned)i;
    nvml_device d = NULL;
    rc = l.handle(idx, &d);
    if (rc != 0) {
      snprintf(why, sizeof why, "nvmlDeviceGetHandleByIndex_v2(%u) failed: %s", idx, nvml_err(&l, rc));
      goto fail;
    }
    unsigned minor_no = 0;
    rc = l.get_minor(d, &minor_no);
    if (rc != 0) {
      snprintf(why, sizeof why, "nvmlDeviceGetMinorNumber(%u) failed: %s", idx, nvml_err(&l, rc));
      goto fail;
    }
    mz_gpu_device *dev = &g->dev[g->n++];
    dev->index = idx;
    dev->minor = minor_no;
    if (l.name(d, dev->name, sizeof dev->name) != 0) snprintf(dev->name, sizeof dev->name, "GPU %u", idx);
    dev->name[sizeof dev->name - 1] = '\0';
  }
  l.shutdown();
  dlclose(l.h);
  g->library = mz_strdup(library);
  find_ctl_devices(g);
  if (g->n == 0 && detect) {
    snprintf(why, sizeof why, "NVML (%s) finds no GPU", library);
    set_reason(g, why);
    free(g->dev);
    g->dev = NULL;
    return 0;
  }
  g->enabled = 1;
  size_t len = 0;
  len += (size_t)snprintf(why + len, sizeof why - len, "%s; NVML (%s) finds %u GPU%s, %zu managed:",
                          required ? "given by --isolation" : "detected", library, count, count == 1 ? "" : "s",
                          g->n);
  for (size_t i = 0; i < g->n && len < sizeof why - 1; i++)
    len += (size_t)snprintf(why + len, sizeof why - len, " %u (%s, /dev/nvidia%u)", g->dev[i].index, g->dev[i].name,
                            g->dev[i].minor);
  set_reason(g, why);
  return 0;
fail:
  l.shutdown();
  dlclose(l.h);
  free(g->dev);
  g->dev = NULL;
  g->n = 0;
  if (required || have_devices) {
    snprintf(err, errlen, "gpu/nvidia: %s", why);
    return -1;
  }
  set_reason(g, why);
  return 0;
}

void mz_gpus_free(mz_gpus *g) {
  free(g->reason);
  free(g->library);
  free(g->dev);
  memset(g, 0, sizeof *g);
}

/* Whether --resources text names `name` at the start of an entry (a zero value
 * is dropped by the parser but still counts as named). */
static int text_names(const char *text, const char *name) {
  size_t nl = strlen(name);
  const char *p = text;
  while (*p == ' ') p++;
  if (*p == '[') { /* JSON: an entry whose "name" is `name` */
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", name);
    return strstr(p, quoted) != NULL;
  }
  while (p && *p) {
    while (*p == ' ' || *p == ';') p++;
    if (!strncmp(p, name, nl) && (p[nl] == ':' || p[nl] == '(' || p[nl] == ' ')) return 1;
    p = strchr(p, ';');
  }
  return 0;
}

int mz_gpus_resources(mz_gpus *g, mz_resources *r, const char *text, const char *default_role, int devices_flag,
                      char *err, size_t errlen) {
  int64_t named = mz_resources_scalar(r, "gpus");
  int mentioned = named > 0 || (text && text_names(text, "gpus"));
  if (!mentioned) {
    if (devices_flag && g->enabled) {
      snprintf(err, errlen, "flag --nvidia_gpu_devices is set, so --resources must name gpus:%zu as well", g->n);
      return -1;
    }
    if (!g->enabled || g->n == 0) return 0;
    char buf[64], perr[256];
    snprintf(buf, sizeof buf, "gpus:%zu", g->n);
    mz_resources *extra = mz_resources_parse(buf, default_role && *default_role ? default_role : "*", perr,
                                             sizeof perr);
    if (!extra || mz_resources_add(r, extra, perr, sizeof perr) != 0) {
      snprintf(err, errlen, "cannot add %s to the resources: %s", buf, perr);
      mz_resources_free(extra);
      return -1;
    }
    mz_resources_free(extra);
    return 0;
  }
  if (named % MZ_SCALAR_UNIT != 0) {
    snprintf(err, errlen, "flag --resources: gpus must be a whole number, not %g", (double)named / MZ_SCALAR_UNIT);
    return -1;
  }
  int64_t want = named / MZ_SCALAR_UNIT;
  if (want == 0) { /* gpus:0: none offered or given */
    g->n = 0;
    return 0;
  }
  if (!g->enabled) {
    snprintf(err, errlen, "flag --resources names gpus:%lld but the gpu/nvidia isolator is off (%s)", (long long)want,
             g->reason ? g->reason : "?");
    return -1;
  }
  if (!devices_flag) {
    snprintf(err, errlen, "flag --resources names gpus:%lld: --nvidia_gpu_devices must then list which GPUs "
             "(NVML finds %zu)", (long long)want, g->n);
    return -1;
  }
  if ((size_t)want != g->n) {
    snprintf(err, errlen, "flag --resources names gpus:%lld but --nvidia_gpu_devices lists %zu GPU%s: they must match",
             (long long)want, g->n, g->n == 1 ? "" : "s");
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ allocation */

unsigned mz_gpu_free_count(const mz_gpus *g) {
  unsigned n = 0;
  for (size_t i = 0; g && i < g->n; i++)
    if (!g->dev[i].owner[0]) n++;
  return n;
}

/* Whether device d is held by container id for task (NULL: for any task). */
static int held_by(const mz_gpu_device *d, const char *id, const char *task) {
  return d->owner[0] && !strcmp(d->owner, id) && (!task || !strcmp(d->task, task));
}

int mz_gpu_allocate(mz_gpus *g, const char *id, const char *task, unsigned n, char *err, size_t errlen) {
  if (n == 0) return 0;
  unsigned free_n = mz_gpu_free_count(g);
  if (!g || !g->enabled || free_n < n) {
    snprintf(err, errlen, "Requested %u GPU%s but only %u %s available on this agent", n, n == 1 ? "" : "s", free_n,
             free_n == 1 ? "is" : "are");
    return -1;
  }
  for (size_t i = 0; i < g->n && n > 0; i++) {
    if (g->dev[i].owner[0]) continue;
    mz_strlcpy(g->dev[i].owner, id, sizeof g->dev[i].owner);
    mz_strlcpy(g->dev[i].task, task ? task : "", sizeof g->dev[i].task);
    n--;
  }
  return 0;
}

/* The GPUs of container id held for task (NULL: any), as mz_gpu_owned. */
static unsigned owned(const mz_gpus *g, const char *id, const char *task, char *visible, size_t len) {
  unsigned n = 0;
  size_t off = 0;
  if (visible && len) visible[0] = '\0';
  for (size_t i = 0; g && i < g->n; i++) {
    if (!held_by(&g->dev[i], id, task)) continue;
    if (visible && off < len)
      off += (size_t)snprintf(visible + off, len - off, "%s%u", n ? "," : "", g->dev[i].index);
    n++;
  }
  return n;
}

unsigned mz_gpu_owned(const mz_gpus *g, const char *id, char *visible, size_t len) {
  return owned(g, id, NULL, visible, len);
}

unsigned mz_gpu_task_owned(const mz_gpus *g, const char *id, const char *task, char *visible, size_t len) {
  return owned(g, id, task ? task : "", visible, len);
}

/* Frees the GPUs of container id held for task (NULL: any). */
static unsigned release(mz_gpus *g, const char *id, const char *task) {
  unsigned freed = 0;
  for (size_t i = 0; g && i < g->n; i++) {
    if (!held_by(&g->dev[i], id, task)) continue;
    g->dev[i].owner[0] = '\0';
    g->dev[i].task[0] = '\0';
    freed++;
  }
  return freed;
}

unsigned mz_gpu_release_task(mz_gpus *g, const char *id, const char *task) {
  return release(g, id, task ? task : "");
}

unsigned mz_gpu_release(mz_gpus *g, const char *id) { return release(g, id, NULL); }

int mz_gpu_claim(mz_gpus *g, const char *id, const char *task, unsigned index, unsigned minor, char *err,
                 size_t errlen) {
  for (size_t i = 0; g && g->enabled && i < g->n; i++) {
    mz_gpu_device *d = &g->dev[i];
    if (d->index != index) continue;
    if (d->minor != minor) {
      snprintf(err, errlen, "GPU %u is now /dev/nvidia%u, not /dev/nvidia%u", index, d->minor, minor);
      return -1;
    }
    if (d->owner[0] && strcmp(d->owner, id) != 0) {
      snprintf(err, errlen, "GPU %u is held by container %s", index, d->owner);
      return -1;
    }
    mz_strlcpy(d->owner, id, sizeof d->owner);
    mz_strlcpy(d->task, task ? task : "", sizeof d->task);
    return 0;
  }
  snprintf(err, errlen, "GPU %u is not managed by this agent", index);
  return -1;
}

/* ------------------------------------------------------------------ agent glue */

/* gpus asked for, in MZ_SCALAR_UNIT; -1 when not a whole number. */
static int64_t gpus_of(Mesos__V1__Resource *const *res, size_t n) {
  double v = 0;
  for (size_t i = 0; i < n; i++)
    if (res[i]->name && !strcmp(res[i]->name, "gpus") && res[i]->scalar) v += res[i]->scalar->value;
  int64_t k = llround(v * MZ_SCALAR_UNIT);
  if (k < 0 || k % MZ_SCALAR_UNIT != 0) return -1;
  return k / MZ_SCALAR_UNIT;
}

/* Whether queued task t gets its GPUs now: every live one at the launch
 * (launch), those of `group` when the container grows. */
static int in_scope(const mz_ag_task *t, int launch, unsigned group) {
  return !mz_task_state_terminal(t->state) && (launch || t->group == group);
}

/* What one holder (task "": the executor's own) asking for v GPUs lacks of them; with
 * give, that is allocated to it. -1 (err) when it cannot be. */
static int64_t lack(mz_gpus *g, const char *cid, const char *task, int64_t v, int give, char *err, size_t errlen) {
  unsigned have = mz_gpu_task_owned(g, cid, task, NULL, 0);
  int64_t l = v > (int64_t)have ? v - (int64_t)have : 0;
  if (give && l > 0 && mz_gpu_allocate(g, cid, task, (unsigned)l, err, errlen) != 0) return -1;
  return l;
}

/* GPUs to give: the executor's (at the launch) and each queued task's in scope,
 * beyond what each holds already; *asked gets what they ask for in all. -1 on a
 * fractional amount. With give, each part is also allocated, tagged with its task
 * (the caller checked that enough are free; -1 with err if not). g may be NULL or
 * off when not giving (nothing is held then). */
static int64_t missing(mz_gpus *g, const mz_ag_executor *ex, int launch, unsigned group, int give, int64_t *asked,
                       char *err, size_t errlen) {
  int64_t miss = 0;
  *asked = 0;
  if (launch) {
    int64_t v = gpus_of(ex->info->resources, ex->info->n_resources);
    int64_t l = v < 0 ? -1 : lack(g, ex->container_id, "", v, give, err, errlen);
    if (l < 0) return -1;
    *asked += v;
    miss += l;
  }
  const mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->queued, t, tmp) {
    if (!in_scope(t, launch, group)) continue;
    int64_t v = gpus_of(t->info->resources, t->info->n_resources);
    int64_t l = v < 0 ? -1 : lack(g, ex->container_id, t->id, v, give, err, errlen);
    if (l < 0) return -1;
    *asked += v;
    miss += l;
  }
  return miss;
}

/* Sets name=value in cmd's environment (the task's TaskInfo, which owns it: the
 * allocations are freed with it by protobuf_c_message_free_unpacked). */
static void command_setenv(Mesos__V1__CommandInfo *cmd, const char *name, const char *value) {
  if (!cmd->environment) {
    cmd->environment = mz_calloc(1, sizeof *cmd->environment);
    mesos__v1__environment__init(cmd->environment);
  }
  Mesos__V1__Environment *env = cmd->environment;
  for (size_t i = 0; i < env->n_variables; i++) {
    Mesos__V1__Environment__Variable *v = env->variables[i];
    if (!v->name || strcmp(v->name, name)) continue;
    free(v->value);
    v->value = mz_strdup(value);
    return;
  }
  Mesos__V1__Environment__Variable *v = mz_calloc(1, sizeof *v);
  mesos__v1__environment__variable__init(v);
  v->name = mz_strdup(name);
  v->value = mz_strdup(value);
  env->variables = mz_realloc(env->variables, (env->n_variables + 1) * sizeof *env->variables);
  env->variables[env->n_variables++] = v;
}

/* Each queued task in scope that asks for gpus and has a command is told its own
 * GPUs (the command executor's task: its container's variables do). */
static void tell_tasks(const mz_gpus *g, mz_ag_executor *ex, int launch, unsigned group) {
  if (ex->command) return;
  mz_ag_task *t, *tmp;
  HASH_ITER(hh, ex->queued, t, tmp) {
    if (!in_scope(t, launch, group) || !t->info->command) continue;
    if (gpus_of(t->info->resources, t->info->n_resources) <= 0) continue;
    char visible[1024];
    mz_gpu_task_owned(g, ex->container_id, t->id, visible, sizeof visible);
    command_setenv(t->info->command, "CUDA_VISIBLE_DEVICES", visible);
    command_setenv(t->info->command, "NVIDIA_VISIBLE_DEVICES", visible);
  }
}

/* The error for gpus asked for that cannot be given (off, or too few free). */
static void cannot_give(const mz_gpus *g, int64_t asked, int64_t miss, char *err, size_t errlen) {
  if (!g || !g->enabled) {
    snprintf(err, errlen, "Requested %lld GPU%s but this agent has no GPU isolation (gpu/nvidia is off)",
             (long long)asked, asked == 1 ? "" : "s");
    return;
  }
  unsigned free_n = mz_gpu_free_count(g);
  snprintf(err, errlen, "Requested %lld GPU%s but only %u %s available on this agent", (long long)miss,
           miss == 1 ? "" : "s", free_n, free_n == 1 ? "is" : "are");
}

/* What missing() counts, checked: -1 with err (a fractional amount, gpu/nvidia off,
 * too few free), 0 when nothing is asked, else 1 with *miss. */
static int check_missing(mz_gpus *g, const mz_ag_executor *ex, int launch, unsigned group, int64_t *miss,
                         char *err, size_t errlen) {
  int64_t asked;
  *miss = missing(g, ex, launch, group, 0, &asked, err, errlen);
  if (*miss < 0) {
    snprintf(err, errlen, "The 'gpus' resource must be an unsigned integer");
    return -1;
  }
  if (asked == 0) return 0;
  if (!g || !g->enabled || *miss > (int64_t)mz_gpu_free_count(g)) {
    cannot_give(g, asked, *miss, err, errlen);
    return -1;
  }
  return 1;
}

/* ex's container holds other GPUs now: its devices cgroup is rewritten to match. */
static void devices_changed(mz_agent *a, mz_ag_executor *ex) {
  if (mz_cg_update_devices(&a->isolation, ex->container_id) != 0)
    MZ_WARN(MZ_AGENT_MOD, "container %s: cannot rewrite its devices cgroup", ex->container_id);
}

int mz_agent_gpus_launch(mz_agent *a, mz_ag_executor *ex, char *visible, size_t len, char *err, size_t errlen) {
  if (len) visible[0] = '\0';
  mz_gpus *g = a->isolation.gpus;
  int64_t miss;
  int rc = check_missing(g, ex, 1, 0, &miss, err, errlen);
  if (rc <= 0) return rc;
  int64_t asked;
  if (missing(g, ex, 1, 0, 1, &asked, err, errlen) < 0) return -1;
  tell_tasks(g, ex, 1, 0);
  unsigned held = mz_gpu_owned(g, ex->container_id, visible, len);
  MZ_INFO(MZ_AGENT_MOD, "container %s of executor %s gets GPU%s %s", ex->container_id, ex->id, held == 1 ? "" : "s",
          visible);
  return (int)held;
}

int mz_agent_gpus_grow(mz_agent *a, mz_ag_executor *ex, unsigned group, char *err, size_t errlen) {
  mz_gpus *g = a->isolation.gpus;
  int64_t miss;
  int rc = check_missing(g, ex, 0, group, &miss, err, errlen);
  if (rc <= 0) return rc;
  if (miss > 0) {
    int64_t asked;
    if (missing(g, ex, 0, group, 1, &asked, err, errlen) < 0) return -1;
    devices_changed(a, ex);
    mz_agent_gpus_checkpoint(a, ex);
    char visible[1024];
    unsigned held = mz_gpu_owned(g, ex->container_id, visible, sizeof visible);
    MZ_INFO(MZ_AGENT_MOD, "container %s of executor %s now holds GPU%s %s (%u free)", ex->container_id, ex->id,
            held == 1 ? "" : "s", visible, mz_gpu_free_count(g));
  }
  tell_tasks(g, ex, 0, group);
  return 0;
}

void mz_agent_gpus_task_ended(mz_agent *a, mz_ag_task *t) {
  mz_gpus *g = a->isolation.gpus;
  mz_ag_executor *ex = t->executor;
  if (!g || !g->enabled) return;
  unsigned freed = mz_gpu_release_task(g, ex->container_id, t->id);
  if (freed == 0) return;
  devices_changed(a, ex);
  mz_agent_gpus_checkpoint(a, ex);
  char visible[1024];
  mz_gpu_owned(g, ex->container_id, visible, sizeof visible);
  MZ_INFO(MZ_AGENT_MOD, "container %s of executor %s gave back %u GPU%s of task %s, keeps '%s' (%u free)",
          ex->container_id, ex->id, freed, freed == 1 ? "" : "s", t->id, visible, mz_gpu_free_count(g));
}

void mz_agent_gpus_checkpoint(mz_agent *a, mz_ag_executor *ex) {
  const mz_gpus *g = a->isolation.gpus;
  if (!g || !g->enabled) return;
  mz_ckpt_gpu *held = mz_calloc(g->n ? g->n : 1, sizeof *held);
  size_t n = 0;
  for (size_t i = 0; i < g->n; i++) {
    const mz_gpu_device *d = &g->dev[i];
    if (!held_by(d, ex->container_id, NULL)) continue;
    held[n].index = d->index;
    held[n].minor = d->minor;
    mz_strlcpy(held[n].task, d->task, sizeof held[n].task);
    n++;
  }
  mz_ag_ckpt_executor_gpus(a, ex, held, n);
  free(held);
}

/* Whether ex has a live (non-terminal) task `id`. */
static int live_task(mz_ag_executor *ex, const char *id) {
  mz_ag_task *t = NULL;
  HASH_FIND_STR(ex->launched, id, t);
  if (!t) HASH_FIND_STR(ex->queued, id, t);
  return t && !mz_task_state_terminal(t->state);
}

unsigned mz_agent_gpus_recover(mz_agent *a, mz_ag_executor *ex, const mz_ckpt_gpu *gpus, size_t n) {
  mz_gpus *g = a->isolation.gpus;
  if (n == 0) return 0;
  if (!g || !g->enabled) {
    MZ_WARN(MZ_AGENT_MOD, "container %s of executor %s held %zu GPU%s but gpu/nvidia is off now", ex->container_id,
            ex->id, n, n == 1 ? "" : "s");
    return 0;
  }
  char err[256];
  size_t dropped = 0;
  for (size_t i = 0; i < n; i++) {
    if (gpus[i].task[0] && !live_task(ex, gpus[i].task)) {
      MZ_INFO(MZ_AGENT_MOD, "container %s of executor %s: GPU %u of task %s, which ended, goes back",
              ex->container_id, ex->id, gpus[i].index, gpus[i].task);
      dropped++;
      continue;
    }
    if (mz_gpu_claim(g, ex->container_id, gpus[i].task, gpus[i].index, gpus[i].minor, err, sizeof err) != 0)
      MZ_WARN(MZ_AGENT_MOD, "container %s of executor %s: its GPU not recovered: %s", ex->container_id, ex->id, err);
  }
  if (dropped) mz_agent_gpus_checkpoint(a, ex);
  char visible[1024];
  unsigned held = mz_gpu_owned(g, ex->container_id, visible, sizeof visible);
  devices_changed(a, ex);
  MZ_INFO(MZ_AGENT_MOD, "container %s of executor %s keeps GPU%s %s (%u free)", ex->container_id, ex->id,
          held == 1 ? "" : "s", visible, mz_gpu_free_count(g));
  return held;
}
