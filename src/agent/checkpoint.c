/* checkpoint: see checkpoint.h. Self-contained (only libc, protobuf-c and
 * common/log.h), so that a unit test can build it on its own. */
#include "agent/checkpoint.h"
#include "agent/treewalk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

#define MOD "checkpoint"
#define CKPT_MAX_FILE (64u << 20)      /* a .info file or an updates log */
#define CKPT_MAX_RECORD (16u << 20)    /* one record of an updates log */
#define CKPT_PATH 4096

static void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz ? sz : 1);
  if (!p) abort();
  return p;
}

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) abort();
  return p;
}

static char *xstrdup(const char *s) {
  char *d = strdup(s);
  if (!d) abort();
  return d;
}

static int mkdirs(const char *path, char *err, size_t errlen) {
  char buf[CKPT_PATH];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
    snprintf(err, errlen, "path too long: %.200s", path);
    return -1;
  }
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
      snprintf(err, errlen, "mkdir %.300s: %s", buf, strerror(errno));
      return -1;
    }
    *p = '/';
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "mkdir %.300s: %s", buf, strerror(errno));
    return -1;
  }
  return 0;
}

static void parent_of(const char *path, char *out, size_t n) {
  snprintf(out, n, "%s", path);
  char *slash = strrchr(out, '/');
  if (slash && slash != out) *slash = '\0';
}

static void fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

int mz_ckpt_write_file(const char *path, const void *data, size_t len, char *err, size_t errlen) {
  char dir[CKPT_PATH], tmp[CKPT_PATH + 32];
  parent_of(path, dir, sizeof dir);
  if (mkdirs(dir, err, errlen) != 0) return -1;
  snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    snprintf(err, errlen, "open %.300s: %s", tmp, strerror(errno));
    return -1;
  }
  if (mz_write_all(fd, data, len) != 0) {
    snprintf(err, errlen, "write %.300s: %s", tmp, strerror(errno));
    close(fd);
    unlink(tmp);
    return -1;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    snprintf(err, errlen, "fsync %.300s: %s", tmp, strerror(errno));
    unlink(tmp);
    return -1;
  }
  if (rename(tmp, path) != 0) {
    snprintf(err, errlen, "rename %.300s: %s", tmp, strerror(errno));
    unlink(tmp);
    return -1;
  }
  fsync_dir(dir);
  return 0;
}

uint8_t *mz_ckpt_read_file(const char *path, size_t max, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat sb;
  if (fstat(fd, &sb) != 0 || sb.st_size < 0 || (size_t)sb.st_size > max) {
    close(fd);
    return NULL;
  }
  size_t n = (size_t)sb.st_size, got = 0;
  uint8_t *buf = xcalloc(n + 1, 1);
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  *len = got;
  return buf;
}

/* Points link (a symlink) at target atomically. */
static int set_link(const char *link, const char *target, char *err, size_t errlen) {
  char tmp[CKPT_PATH + 32];
  snprintf(tmp, sizeof tmp, "%s.tmp.%d", link, (int)getpid());
  unlink(tmp);
  if (symlink(target, tmp) != 0 || rename(tmp, link) != 0) {
    snprintf(err, errlen, "link %.300s -> %.300s: %s", link, target, strerror(errno));
    unlink(tmp);
    return -1;
  }
  char dir[CKPT_PATH];
  parent_of(link, dir, sizeof dir);
  fsync_dir(dir);
  return 0;
}

static int write_pb(const char *path, const ProtobufCMessage *m, char *err, size_t errlen) {
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = xcalloc(n + 1, 1);
  protobuf_c_message_pack(m, buf);
  int rc = mz_ckpt_write_file(path, buf, n, err, errlen);
  free(buf);
  return rc;
}

static ProtobufCMessage *read_pb(const char *path, const ProtobufCMessageDescriptor *d) {
  size_t len;
  uint8_t *buf = mz_ckpt_read_file(path, CKPT_MAX_FILE, &len);
  if (!buf) return NULL;
  ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, buf);
  free(buf);
  return m;
}

/* ------------------------------------------------------------------ paths */

static int agent_dir(char *out, size_t n, const char *work_dir, const char *agent_id) {
  return snprintf(out, n, "%s/meta/slaves/%s", work_dir, agent_id) >= (int)n ? -1 : 0;
}

static int fw_dir(char *out, size_t n, const char *work_dir, const char *agent_id, const char *fw_id) {
  return snprintf(out, n, "%s/meta/slaves/%s/frameworks/%s", work_dir, agent_id, fw_id) >= (int)n ? -1 : 0;
}

static int ex_dir(char *out, size_t n, const char *work_dir, const char *agent_id, const char *fw_id,
                  const char *ex_id) {
  return snprintf(out, n, "%s/meta/slaves/%s/frameworks/%s/executors/%s", work_dir, agent_id, fw_id, ex_id) >=
                 (int)n
             ? -1
             : 0;
}

static int run_dir(char *out, size_t n, const mz_ckpt_run *r) {
  return snprintf(out, n, "%s/meta/slaves/%s/frameworks/%s/executors/%s/runs/%s", r->work_dir, r->agent_id,
                  r->fw_id, r->executor_id, r->container_id) >= (int)n
             ? -1
             : 0;
}

#define TOO_LONG(err, errlen) (snprintf(err, errlen, "checkpoint path too long"), -1)

/* ------------------------------------------------------------------ writing */

int mz_ckpt_agent(const char *work_dir, const Mesos__V1__AgentInfo *info, char *err, size_t errlen) {
  if (!info->id || !info->id->value) {
    snprintf(err, errlen, "the agent has no id yet");
    return -1;
  }
  char dir[CKPT_PATH], path[CKPT_PATH + 32];
  if (agent_dir(dir, sizeof dir, work_dir, info->id->value) != 0) return TOO_LONG(err, errlen);
  snprintf(path, sizeof path, "%s/slave.info", dir);
  if (write_pb(path, &info->base, err, errlen) != 0) return -1;
  snprintf(path, sizeof path, "%s/meta/slaves/latest", work_dir);
  return set_link(path, dir, err, errlen);
}

void mz_ckpt_forget_agent(const char *work_dir) {
  char path[CKPT_PATH];
  snprintf(path, sizeof path, "%s/meta/slaves/latest", work_dir);
  unlink(path);
}

int mz_ckpt_framework(const char *work_dir, const char *agent_id, const Mesos__V1__FrameworkInfo *info, char *err,
                      size_t errlen) {
  char dir[CKPT_PATH], path[CKPT_PATH + 32];
  if (!info->id || !info->id->value || fw_dir(dir, sizeof dir, work_dir, agent_id, info->id->value) != 0)
    return TOO_LONG(err, errlen);
  snprintf(path, sizeof path, "%s/framework.info", dir);
  return write_pb(path, &info->base, err, errlen);
}

int mz_ckpt_executor(const mz_ckpt_run *r, const Mesos__V1__ExecutorInfo *info, char *err, size_t errlen) {
  char dir[CKPT_PATH], path[CKPT_PATH + 32], run[CKPT_PATH];
  if (ex_dir(dir, sizeof dir, r->work_dir, r->agent_id, r->fw_id, r->executor_id) != 0 ||
      run_dir(run, sizeof run, r) != 0)
    return TOO_LONG(err, errlen);
  snprintf(path, sizeof path, "%s/executor.info", dir);
  if (write_pb(path, &info->base, err, errlen) != 0) return -1;
  if (mkdirs(run, err, errlen) != 0) return -1;
  snprintf(path, sizeof path, "%s/runs/latest", dir);
  return set_link(path, run, err, errlen);
}

int mz_ckpt_executor_pid(const mz_ckpt_run *r, pid_t pid, unsigned long long starttime, char *err, size_t errlen) {
  char run[CKPT_PATH], path[CKPT_PATH + 32], text[64];
  if (run_dir(run, sizeof run, r) != 0) return TOO_LONG(err, errlen);
  snprintf(path, sizeof path, "%s/forked.pid", run);
  int n = snprintf(text, sizeof text, "%d %llu\n", (int)pid, starttime);
  return mz_ckpt_write_file(path, text, (size_t)n, err, errlen);
}

int mz_ckpt_task(const mz_ckpt_run *r, const Mesos__V1__TaskInfo *info, unsigned group, char *err, size_t errlen) {
  char run[CKPT_PATH], path[CKPT_PATH + 64];
  if (run_dir(run, sizeof run, r) != 0 || !info->task_id || !info->task_id->value) return TOO_LONG(err, errlen);
  if (snprintf(path, sizeof path, "%s/tasks/%s/task.group", run, info->task_id->value) >= (int)sizeof path)
    return TOO_LONG(err, errlen);
  if (group) {
    char text[32];
    int n = snprintf(text, sizeof text, "%u\n", group);
    if (mz_ckpt_write_file(path, text, (size_t)n, err, errlen) != 0) return -1;
  }
  snprintf(path, sizeof path, "%s/tasks/%s/task.info", run, info->task_id->value);
  return write_pb(path, &info->base, err, errlen);
}

size_t mz_ckpt_gpus_encode(const mz_ckpt_gpu *gpus, size_t n, char *buf, size_t len) {
  size_t off = 0;
  if (len) buf[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    int w = gpus[i].task[0] ? snprintf(buf + off, len - off, "%u %u %s\n", gpus[i].index, gpus[i].minor, gpus[i].task)
                            : snprintf(buf + off, len - off, "%u %u\n", gpus[i].index, gpus[i].minor);
    if (w < 0 || (size_t)w >= len - off) {
      if (len) buf[0] = '\0';
      return 0;
    }
    off += (size_t)w;
  }
  return off;
}

/* A decimal unsigned at *p (digits only), which moves past it. 0 or -1. */
static int gpu_number(const char **p, unsigned *v) {
  const char *s = *p;
  unsigned long long x = 0;
  if (*s < '0' || *s > '9') return -1;
  for (; *s >= '0' && *s <= '9'; s++) {
    x = x * 10 + (unsigned)(*s - '0');
    if (x > 0xffffffffull) return -1;
  }
  *v = (unsigned)x;
  *p = s;
  return 0;
}

int mz_ckpt_gpus_decode(const char *text, size_t len, mz_ckpt_gpu **out, size_t *n) {
  *out = NULL;
  *n = 0;
  size_t pos = 0;
  while (pos < len) {
    const char *line = text + pos;
    const char *nl = memchr(line, '\n', len - pos);
    size_t ll = nl ? (size_t)(nl - line) : len - pos;
    pos += ll + (nl ? 1 : 0);
    if (ll == 0) continue;
    char buf[MZ_CKPT_GPU_LINE_MAX + 1], err[128];
    if (ll >= sizeof buf || *n >= MZ_CKPT_MAX_GPUS || memchr(line, '\0', ll)) goto bad;
    memcpy(buf, line, ll);
    buf[ll] = '\0';
    mz_ckpt_gpu g = {0};
    const char *p = buf + strspn(buf, " ");
    if (gpu_number(&p, &g.index) != 0 || *p != ' ') goto bad;
    p += strspn(p, " ");
    if (gpu_number(&p, &g.minor) != 0 || (*p && *p != ' ')) goto bad;
    p += strspn(p, " ");
    if (*p) { /* the task it was given for */
      if (mz_id_valid(p, err, sizeof err) != 0) goto bad;
      memcpy(g.task, p, strlen(p) + 1); /* fits: mz_id_valid allows at most MZ_ID_MAX */
    }
    *out = xrealloc(*out, (*n + 1) * sizeof **out);
    (*out)[(*n)++] = g;
  }
  return 0;
bad:
  free(*out);
  *out = NULL;
  *n = 0;
  return -1;
}

int mz_ckpt_executor_gpus(const mz_ckpt_run *r, const mz_ckpt_gpu *gpus, size_t n, char *err, size_t errlen) {
  char run[CKPT_PATH], path[CKPT_PATH + 32];
  if (run_dir(run, sizeof run, r) != 0) return TOO_LONG(err, errlen);
  snprintf(path, sizeof path, "%s/gpus", run);
  size_t cap = n * MZ_CKPT_GPU_LINE_MAX + 1;
  char *text = xcalloc(cap, 1);
  size_t len = mz_ckpt_gpus_encode(gpus, n, text, cap);
  int rc = mz_ckpt_write_file(path, text, len, err, errlen);
  free(text);
  return rc;
}

static void load_gpus(const char *run, mz_ckpt_executor_state *ex) {
  char path[CKPT_PATH + 128];
  snprintf(path, sizeof path, "%s/gpus", run);
  size_t len;
  uint8_t *text = mz_ckpt_read_file(path, MZ_CKPT_MAX_GPUS * MZ_CKPT_GPU_LINE_MAX, &len);
  if (!text) return; /* none held (or gpu/nvidia off) */
  if (mz_ckpt_gpus_decode((const char *)text, len, &ex->gpus, &ex->ngpus) != 0)
    MZ_WARN(MOD, "%s: malformed; its GPUs are not recovered", path);
  free(text);
}

static int append_record(const mz_ckpt_run *r, const char *task_id, char type, const uint8_t *payload, size_t len,
                         char *err, size_t errlen) {
  char run[CKPT_PATH], dir[CKPT_PATH + 64], path[CKPT_PATH + 96];
  if (run_dir(run, sizeof run, r) != 0) return TOO_LONG(err, errlen);
  if (snprintf(dir, sizeof dir, "%s/tasks/%s", run, task_id) >= (int)sizeof dir) return TOO_LONG(err, errlen);
  if (mkdirs(dir, err, errlen) != 0) return -1;
  snprintf(path, sizeof path, "%s/task.updates", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    snprintf(err, errlen, "open %.300s: %s", path, strerror(errno));
    return -1;
  }
  size_t total = 5 + len;
  uint8_t *rec = xcalloc(total, 1);
  uint32_t n = (uint32_t)len;
  rec[0] = (uint8_t)(n & 0xff);
  rec[1] = (uint8_t)(n >> 8 & 0xff);
  rec[2] = (uint8_t)(n >> 16 & 0xff);
  rec[3] = (uint8_t)(n >> 24 & 0xff);
  rec[4] = (uint8_t)type;
  if (len) memcpy(rec + 5, payload, len);
  ssize_t w = write(fd, rec, total); /* one write: O_APPEND keeps it in one piece */
  int rc = 0;
  if (w != (ssize_t)total || fsync(fd) != 0) {
    snprintf(err, errlen, "append to %.300s: %s", path, w < 0 ? strerror(errno) : "short write");
    rc = -1;
  }
  free(rec);
  close(fd);
  return rc;
}

int mz_ckpt_task_update(const mz_ckpt_run *r, const char *task_id, const Mesos__V1__TaskStatus *st, char *err,
                        size_t errlen) {
  size_t n = protobuf_c_message_get_packed_size(&st->base);
  if (n > CKPT_MAX_RECORD) {
    snprintf(err, errlen, "status update too large to checkpoint");
    return -1;
  }
  uint8_t *buf = xcalloc(n + 1, 1);
  protobuf_c_message_pack(&st->base, buf);
  int rc = append_record(r, task_id, 'U', buf, n, err, errlen);
  free(buf);
  return rc;
}

int mz_ckpt_task_ack(const mz_ckpt_run *r, const char *task_id, const uint8_t uuid[MZ_CKPT_UUID_BYTES], char *err,
                     size_t errlen) {
  return append_record(r, task_id, 'A', uuid, MZ_CKPT_UUID_BYTES, err, errlen);
}

void mz_ckpt_remove_executor(const char *work_dir, const char *agent_id, const char *fw_id, const char *executor_id) {
  char dir[CKPT_PATH];
  if (ex_dir(dir, sizeof dir, work_dir, agent_id, fw_id, executor_id) == 0) mz_rmtree_now(dir, NULL, 0);
}

void mz_ckpt_remove_framework(const char *work_dir, const char *agent_id, const char *fw_id) {
  char dir[CKPT_PATH];
  if (fw_dir(dir, sizeof dir, work_dir, agent_id, fw_id) == 0) mz_rmtree_now(dir, NULL, 0);
}

/* ------------------------------------------------------------------ reading */

static void read_updates(const char *path, mz_ckpt_task_state *t) {
  size_t len;
  uint8_t *buf = mz_ckpt_read_file(path, CKPT_MAX_FILE, &len);
  if (!buf) return;
  size_t off = 0;
  while (off + 5 <= len) {
    uint32_t n = (uint32_t)buf[off] | (uint32_t)buf[off + 1] << 8 | (uint32_t)buf[off + 2] << 16 |
                 (uint32_t)buf[off + 3] << 24;
    char type = (char)buf[off + 4];
    if (n > CKPT_MAX_RECORD || off + 5 + n > len) {
      MZ_WARN(MOD, "%s: torn record at byte %zu ignored", path, off);
      break;
    }
    const uint8_t *p = buf + off + 5;
    if (type == 'U') {
      Mesos__V1__TaskStatus *st = mesos__v1__task_status__unpack(NULL, n, p);
      if (st) {
        t->updates = xrealloc(t->updates, (t->nupdates + 1) * sizeof *t->updates);
        t->updates[t->nupdates++] = st;
      } else {
        MZ_WARN(MOD, "%s: undecodable status update at byte %zu ignored", path, off);
      }
    } else if (type == 'A' && n == MZ_CKPT_UUID_BYTES) {
      t->acks = xrealloc(t->acks, (t->nacks + 1) * sizeof *t->acks);
      memcpy(t->acks[t->nacks++], p, MZ_CKPT_UUID_BYTES);
    } else {
      MZ_WARN(MOD, "%s: unknown record at byte %zu ignored", path, off);
    }
    off += 5 + n;
  }
  free(buf);
}

/* The names of the entries of a directory (not . and ..), malloc'd. */
static char **list_dir(const char *path, size_t *n) {
  *n = 0;
  DIR *d = opendir(path);
  if (!d) return NULL;
  char **v = NULL;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || !strcmp(e->d_name, "latest") || strstr(e->d_name, ".tmp.")) continue;
    v = xrealloc(v, (*n + 1) * sizeof *v);
    v[(*n)++] = xstrdup(e->d_name);
  }
  closedir(d);
  return v;
}

static void free_list(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* A task.group file: its number, or 0 when absent (a single task) or malformed. */
static unsigned load_group(const char *path) {
  size_t len;
  uint8_t *text = mz_ckpt_read_file(path, 32, &len);
  if (!text) return 0;
  char *end;
  errno = 0;
  unsigned long n = strtoul((const char *)text, &end, 10);
  int ok = end != (char *)text && (*end == '\n' || *end == '\0') && errno == 0 && n > 0 && n <= UINT_MAX &&
           text[0] >= '0' && text[0] <= '9';
  free(text);
  if (!ok) {
    MZ_WARN(MOD, "%s: malformed; the task is recovered as a single task", path);
    return 0;
  }
  return (unsigned)n;
}

static void load_executor(const char *dir, mz_ckpt_framework_state *fw) {
  char path[2 * CKPT_PATH + 256];
  snprintf(path, sizeof path, "%s/executor.info", dir);
  Mesos__V1__ExecutorInfo *info = (Mesos__V1__ExecutorInfo *)read_pb(path, &mesos__v1__executor_info__descriptor);
  if (!info || !info->executor_id || !info->executor_id->value) {
    MZ_WARN(MOD, "%s: no readable executor.info; skipped", dir);
    if (info) protobuf_c_message_free_unpacked(&info->base, NULL);
    return;
  }
  fw->executors = xrealloc(fw->executors, (fw->nexecutors + 1) * sizeof *fw->executors);
  mz_ckpt_executor_state *ex = &fw->executors[fw->nexecutors++];
  memset(ex, 0, sizeof *ex);
  ex->info = info;
  char target[CKPT_PATH];
  snprintf(path, sizeof path, "%s/runs/latest", dir);
  ssize_t n = readlink(path, target, sizeof target - 1);
  if (n <= 0) return;
  target[n] = '\0';
  const char *slash = strrchr(target, '/');
  ex->container_id = xstrdup(slash ? slash + 1 : target);
  char run[CKPT_PATH + 64];
  snprintf(run, sizeof run, "%s/runs/%s", dir, ex->container_id);
  snprintf(path, sizeof path, "%s/forked.pid", run);
  size_t len;
  uint8_t *pid = mz_ckpt_read_file(path, 128, &len);
  if (pid) {
    int p = 0;
    unsigned long long st = 0;
    if (sscanf((char *)pid, "%d %llu", &p, &st) == 2 && p > 1) {
      ex->pid = (pid_t)p;
      ex->starttime = st;
    }
    free(pid);
  }
  load_gpus(run, ex);
  char tasks_dir[CKPT_PATH + 80];
  snprintf(tasks_dir, sizeof tasks_dir, "%s/tasks", run);
  size_t nt;
  char **names = list_dir(tasks_dir, &nt);
  for (size_t i = 0; i < nt; i++) {
    char tpath[CKPT_PATH + 200];
    snprintf(tpath, sizeof tpath, "%s/%s/task.info", tasks_dir, names[i]);
    Mesos__V1__TaskInfo *ti = (Mesos__V1__TaskInfo *)read_pb(tpath, &mesos__v1__task_info__descriptor);
    if (!ti || !ti->task_id || !ti->task_id->value) {
      MZ_WARN(MOD, "%s: unreadable; task skipped", tpath);
      if (ti) protobuf_c_message_free_unpacked(&ti->base, NULL);
      continue;
    }
    ex->tasks = xrealloc(ex->tasks, (ex->ntasks + 1) * sizeof *ex->tasks);
    mz_ckpt_task_state *t = &ex->tasks[ex->ntasks++];
    memset(t, 0, sizeof *t);
    t->info = ti;
    snprintf(tpath, sizeof tpath, "%s/%s/task.group", tasks_dir, names[i]);
    t->group = load_group(tpath);
    snprintf(tpath, sizeof tpath, "%s/%s/task.updates", tasks_dir, names[i]);
    read_updates(tpath, t);
  }
  free_list(names, nt);
}

int mz_ckpt_load(const char *work_dir, mz_ckpt_state *s, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  char path[CKPT_PATH], target[CKPT_PATH];
  snprintf(path, sizeof path, "%s/meta/slaves/latest", work_dir);
  ssize_t n = readlink(path, target, sizeof target - 1);
  if (n <= 0) return 0; /* never registered, or shut down cleanly */
  target[n] = '\0';
  char info_path[CKPT_PATH + 32];
  snprintf(info_path, sizeof info_path, "%s/slave.info", target);
  Mesos__V1__AgentInfo *info = (Mesos__V1__AgentInfo *)read_pb(info_path, &mesos__v1__agent_info__descriptor);
  if (!info || !info->id || !info->id->value || !*info->id->value) {
    snprintf(err, errlen, "%s is missing or unreadable", info_path);
    if (info) protobuf_c_message_free_unpacked(&info->base, NULL);
    return -1;
  }
  s->info = info;
  s->agent_id = xstrdup(info->id->value);
  char fws[CKPT_PATH + 32];
  snprintf(fws, sizeof fws, "%s/frameworks", target);
  size_t nf;
  char **fnames = list_dir(fws, &nf);
  for (size_t i = 0; i < nf; i++) {
    char fdir[CKPT_PATH + 300], p[CKPT_PATH + 400];
    snprintf(fdir, sizeof fdir, "%s/%s", fws, fnames[i]);
    snprintf(p, sizeof p, "%s/framework.info", fdir);
    Mesos__V1__FrameworkInfo *fi = (Mesos__V1__FrameworkInfo *)read_pb(p, &mesos__v1__framework_info__descriptor);
    if (!fi || !fi->id || !fi->id->value) {
      MZ_WARN(MOD, "%s: unreadable; framework skipped", p);
      if (fi) protobuf_c_message_free_unpacked(&fi->base, NULL);
      continue;
    }
    s->frameworks = xrealloc(s->frameworks, (s->nframeworks + 1) * sizeof *s->frameworks);
    mz_ckpt_framework_state *fw = &s->frameworks[s->nframeworks++];
    memset(fw, 0, sizeof *fw);
    fw->info = fi;
    snprintf(p, sizeof p, "%s/executors", fdir);
    size_t ne;
    char **enames = list_dir(p, &ne);
    for (size_t j = 0; j < ne; j++) {
      char edir[CKPT_PATH + 700];
      snprintf(edir, sizeof edir, "%s/%s", p, enames[j]);
      load_executor(edir, fw);
    }
    free_list(enames, ne);
  }
  free_list(fnames, nf);
  return 0;
}

void mz_ckpt_state_free(mz_ckpt_state *s) {
  for (size_t i = 0; i < s->nframeworks; i++) {
    mz_ckpt_framework_state *fw = &s->frameworks[i];
    for (size_t j = 0; j < fw->nexecutors; j++) {
      mz_ckpt_executor_state *ex = &fw->executors[j];
      for (size_t k = 0; k < ex->ntasks; k++) {
        mz_ckpt_task_state *t = &ex->tasks[k];
        for (size_t u = 0; u < t->nupdates; u++) protobuf_c_message_free_unpacked(&t->updates[u]->base, NULL);
        free(t->updates);
        free(t->acks);
        protobuf_c_message_free_unpacked(&t->info->base, NULL);
      }
      free(ex->tasks);
      free(ex->gpus);
      free(ex->container_id);
      protobuf_c_message_free_unpacked(&ex->info->base, NULL);
    }
    free(fw->executors);
    protobuf_c_message_free_unpacked(&fw->info->base, NULL);
  }
  free(s->frameworks);
  if (s->info) protobuf_c_message_free_unpacked(&s->info->base, NULL);
  free(s->agent_id);
  memset(s, 0, sizeof *s);
}
