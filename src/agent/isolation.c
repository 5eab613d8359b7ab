/* isolation: see isolation.h. Mount points come from /proc/self/mountinfo, the
 * agent's own cgroups from /proc/self/cgroup. Files are read and written with plain
 * open/read/write; every write's failure is reported with the file's path. */
#include "agent/isolation.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uthash.h>

#include "agent/cgroup_files.h"
#include "agent/devices.h"
#include "agent/gpu.h"
#include "common/log.h"
#include "common/util.h"

#define MAX_PIDS_PER_PASS 65536
#define MOD "isolation"

static const char *const cgc_name[MZ_CGC_N] = {"cpu", "cpuacct", "memory", "pids", "freezer", "devices", ""};

/* ------------------------------------------------------------------ files */

/* A path under one of the hierarchies' bases is opened relative to the base's
 * directory, which the agent holds open (base_fd): the kernel then walks two or three
 * components instead of up to nine, for every cgroup file a container costs. Where
 * iso is NULL, or the path is under no base, it is used as it is. */
static int at(const mz_isolation *iso, const char *path, const char **rel) {
  *rel = path;
  if (!iso || !iso->base_fd_ok) return AT_FDCWD;
  for (int c = 0; c < MZ_CGC_N; c++) {
    if (!iso->base[c] || iso->base_fd[c] < 0) continue;
    size_t n = strlen(iso->base[c]);
    if (!strncmp(path, iso->base[c], n) && path[n] == '/' && path[n + 1]) {
      *rel = path + n + 1;
      return iso->base_fd[c];
    }
  }
  return AT_FDCWD;
}

static int cg_open(const mz_isolation *iso, const char *path, int flags) {
  const char *rel;
  int dir = at(iso, path, &rel);
  return openat(dir, rel, flags | O_CLOEXEC);
}

static FILE *cg_fopen(const mz_isolation *iso, const char *path) {
  int fd = cg_open(iso, path, O_RDONLY);
  if (fd < 0) return NULL;
  FILE *f = fdopen(fd, "r");
  if (!f) close(fd);
  return f;
}

static int cg_rmdir(const mz_isolation *iso, const char *path) {
  const char *rel;
  int dir = at(iso, path, &rel);
  return unlinkat(dir, rel, AT_REMOVEDIR);
}

static int cg_mkdir(const mz_isolation *iso, const char *path) {
  const char *rel;
  int dir = at(iso, path, &rel);
  return mkdirat(dir, rel, 0755);
}

/* Writes value to an open cgroup file. A signal (SIGCHLD) may interrupt a write that
 * makes the kernel reclaim memory (memory.limit_in_bytes): try again, a few times.
 * 0, or -1 with errno. */
static int write_fd(int fd, const char *value) {
  size_t len = strlen(value);
  ssize_t n;
  int tries = 0;
  do {
    n = write(fd, value, len);
  } while (n < 0 && errno == EINTR && ++tries < 100);
  if (n == (ssize_t)len) return 0;
  if (n >= 0) errno = EIO;
  return -1;
}

/* Reads up to len-1 bytes from the start of an open file. A cgroup (seq) file fills a
 * read as far as it has bytes: a short read was the last, with no read of 0 after it.
 * Read from offset 0, a cgroup file is generated afresh, so a kept fd reads now's. */
static void read_fd(int fd, char *buf, size_t len) {
  size_t got = 0;
  while (got < len - 1) {
    size_t want = len - 1 - got;
    ssize_t n = pread(fd, buf + got, want, (off_t)got);
    if (n <= 0) break;
    got += (size_t)n;
    if ((size_t)n < want) break;
  }
  buf[got] = '\0';
}

static int write_file(const mz_isolation *iso, const char *path, const char *value, char *err, size_t errlen) {
  int fd = cg_open(iso, path, O_WRONLY);
  if (fd < 0) {
    if (err) snprintf(err, errlen, "open %s: %s", path, strerror(errno));
    return -1;
  }
  int rc = write_fd(fd, value), e = errno;
  close(fd);
  if (rc != 0 && err) snprintf(err, errlen, "write '%s' to %s: %s", value, path, strerror(e));
  return rc;
}

static int read_file(const mz_isolation *iso, const char *path, char *buf, size_t len) {
  int fd = cg_open(iso, path, O_RDONLY);
  if (fd < 0) return -1;
  read_fd(fd, buf, len);
  close(fd);
  return 0;
}

/* The unsigned number a cgroup file holds, or -1. */
static int parse_u64(const char *buf, uint64_t *v) {
  char *end;
  errno = 0;
  unsigned long long x = strtoull(buf, &end, 10);
  if (errno || end == buf) return -1;
  *v = x;
  return 0;
}

/* The value of `key` in a "key value" per line file, or -1. */
static int keyed_u64(const char *text, const char *key, uint64_t *v) {
  size_t kl = strlen(key);
  for (const char *p = text; p && *p;) {
    if (!strncmp(p, key, kl) && p[kl] == ' ') {
      *v = strtoull(p + kl + 1, NULL, 10);
      return 0;
    }
    p = strchr(p, '\n');
    if (p) p++;
  }
  return -1;
}

static int exists(const mz_isolation *iso, const char *path) {
  struct stat sb;
  const char *rel;
  int dir = at(iso, path, &rel);
  return fstatat(dir, rel, &sb, 0) == 0;
}

static char *join3(const char *a, const char *b, const char *c) {
  size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
  char *p = mz_malloc(n);
  snprintf(p, n, "%s%s%s%s%s", a, *b ? "/" : "", b, *c ? "/" : "", c);
  return p;
}

/* v2 device rules: loads the program of Mesos's whitelist once, for every container
 * that holds no GPU (devices.h: a load costs the verifier's time). Sets devices_bpf;
 * 0, or -1 with err when device programs cannot be loaded here. */
static int load_whitelist(mz_isolation *iso, char *err, size_t errlen) {
  int fd = mz_dev_bpf_load(mz_dev_default_rules, mz_dev_default_count, err, errlen);
  if (fd < 0) return -1;
  iso->devices_prog = fd;
  iso->devices_bpf = 1;
  return 0;
}

static void reuse_init(mz_isolation *iso);

/* Opens the base of hierarchy c (when in use) as a directory for the *at calls. */
static void open_base(mz_isolation *iso, int c) {
  iso->base_fd[c] = iso->base[c] ? open(iso->base[c], O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
}
static void reuse_sweep(const mz_isolation *iso, int others);
static void reuse_close_files(const mz_isolation *iso);

/* ------------------------------------------------------------------ detection */

/* The mount point of the v1 hierarchy holding `ctrl` (or of cgroup2 when ctrl is ""). */
static char *find_mount(const char *ctrl) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return NULL;
  char line[4096];
  char *found = NULL;
  while (!found && fgets(line, sizeof line, f)) {
    char *dash = strstr(line, " - ");
    if (!dash) continue;
    char fstype[64], source[256], opts[1024];
    if (sscanf(dash + 3, "%63s %255s %1023s", fstype, source, opts) != 3) continue;
    /* field 5 is the mount point */
    char *save = NULL, *tok = strtok_r(line, " ", &save);
    for (int i = 1; tok && i < 5; i++) tok = strtok_r(NULL, " ", &save);
    if (!tok) continue;
    if (!*ctrl) {
      if (!strcmp(fstype, "cgroup2")) found = mz_strdup(tok);
      continue;
    }
    if (strcmp(fstype, "cgroup") != 0) continue;
    char *s2 = NULL;
    for (char *o = strtok_r(opts, ",", &s2); o; o = strtok_r(NULL, ",", &s2)) {
      if (!strcmp(o, ctrl)) {
        found = mz_strdup(tok);
        break;
      }
    }
  }
  fclose(f);
  return found;
}

/* The agent's own cgroup path in the v1 hierarchy of ctrl, "/" if unknown. */
static char *own_cgroup(const char *ctrl) {
  FILE *f = fopen("/proc/self/cgroup", "re");
  if (!f) return mz_strdup("/");
  char line[4096];
  char *found = NULL;
  while (!found && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = '\0';
    const char *ctrls = c1 + 1, *path = c2 + 1;
    char *dup = mz_strdup(ctrls), *save = NULL;
    for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save))
      if (!strcmp(t, ctrl)) found = mz_strdup(path);
    free(dup);
  }
  fclose(f);
  return found ? found : mz_strdup("/");
}

static char *base_for(const char *ctrl, const char *root) {
  char *mnt = find_mount(ctrl);
  if (!mnt) return NULL;
  char *own = own_cgroup(ctrl);
  const char *rel = own;
  while (*rel == '/') rel++;
  char *b = join3(mnt, rel, root);
  free(mnt);
  free(own);
  return b;
}

/* mkdir -p of a cgroup directory; 0 or -1. */
static int mkdir_cg(const char *path, char *err, size_t errlen) {
  char *p = mz_strdup(path);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = '\0';
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
      snprintf(err, errlen, "mkdir %s: %s", p, strerror(errno));
      free(p);
      return -1;
    }
    *s = '/';
  }
  int rc = mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
  if (rc) snprintf(err, errlen, "mkdir %s: %s", p, strerror(errno));
  free(p);
  return rc;
}

/* 1 when the blank-separated list `list` has the word w ("cpu" is not "cpuset"). */
static int has_word(const char *list, const char *w) {
  size_t n = strlen(w);
  for (const char *p = list; (p = strstr(p, w)); p += n)
    if ((p == list || p[-1] == ' ' || p[-1] == '\n') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n')) return 1;
  return 0;
}

/* Turns controller c on for the children of cgroup dir (cgroup.subtree_control), unless
 * it is on already. 0 when it is on, or -1 with err. */
static int cg2_enable(const char *dir, const char *c, char *err, size_t errlen) {
  char p[4200], buf[512] = "", v[32];
  snprintf(p, sizeof p, "%s/cgroup.subtree_control", dir);
  if (read_file(NULL, p, buf, sizeof buf) == 0 && has_word(buf, c)) return 0;
  snprintf(v, sizeof v, "+%s", c);
  return write_file(NULL, p, v, err, errlen);
}

/* cgroups v2, as Mesos's cgroups2 isolator has it: containers go under
 * <mount>/<root> at the top of the hierarchy. Controllers reach a cgroup only through
 * its parent's subtree_control, and a non-root cgroup that holds processes cannot
 * pass any on (the "no internal process" rule), so the agent's own cgroup (a login
 * session, a service) could not be their parent. <root> never holds a process. The
 * cpu and memory controllers are turned on at the top and in <root>, and pids where
 * the hierarchy has it. */
static int v2_usable(const char *root, char **base, char *why, size_t whylen) {
  char *mnt = find_mount("");
  if (!mnt) {
    snprintf(why, whylen, "no cgroup2 mount");
    return 0;
  }
  char path[4200], ctl[512] = "";
  snprintf(path, sizeof path, "%s/cgroup.controllers", mnt);
  read_file(NULL, path, ctl, sizeof ctl);
  if (!has_word(ctl, "memory") || !has_word(ctl, "cpu")) {
    snprintf(why, whylen, "the unified hierarchy at %s has no cpu and memory controllers", mnt);
    free(mnt);
    return 0;
  }
  *base = join3(mnt, "", root);
  char err[512] = "";
  const char *const needed[] = {"cpu", "memory"};
  int ok = 1;
  for (size_t i = 0; ok && i < 2; i++) ok = cg2_enable(mnt, needed[i], err, sizeof err) == 0;
  if (ok && has_word(ctl, "pids")) cg2_enable(mnt, "pids", NULL, 0);
  if (ok) ok = mkdir_cg(*base, err, sizeof err) == 0;
  for (size_t i = 0; ok && i < 2; i++) ok = cg2_enable(*base, needed[i], err, sizeof err) == 0;
  if (ok && has_word(ctl, "pids")) cg2_enable(*base, "pids", NULL, 0);
  free(mnt);
  if (!ok) {
    snprintf(why, whylen, "cgroups v2: cannot give the cpu and memory controllers to %s: %s", *base, err);
    free(*base);
    *base = NULL;
    return 0;
  }
  return 1;
}

int mz_isolator_listed(const char *spec, const char *name) {
  char *dup = mz_strdup(spec), *save = NULL;
  int found = 0;
  for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save))
    if (!strcmp(t, name)) found = 1;
  free(dup);
  return found;
}

static const char *const known[] = {"cgroups/cpu", "cgroups/mem", "cgroups/pids",    "namespaces/pid",
                                    "filesystem/posix", "posix/cpu", "posix/mem", "cgroups/all",
                                    "cgroups/devices",  "gpu/nvidia",    "disk/du"};

int mz_isolation_init(mz_isolation *iso, const char *flag, const char *root, int enable_cfs, long limit_pids,
                      char *err, size_t errlen) {
  memset(iso, 0, sizeof *iso);
  iso->enable_cfs = enable_cfs;
  iso->limit_pids = limit_pids;
  if (!root || !*root || strchr(root, '.') || root[0] == '/') {
    snprintf(err, errlen, "flag --cgroups_root: invalid value '%s' (a relative name without '.')", root ? root : "");
    return -1;
  }
  char why[2048] = "", v2why[600] = "";
  char *spec = NULL;
  int want_cg = 0;
  if (flag && *flag && strcmp(flag, "auto") != 0) {
    char *dup = mz_strdup(flag), *save = NULL;
    for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      size_t i;
      for (i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(t, known[i])) break;
      if (i == sizeof known / sizeof known[0]) {
        snprintf(err, errlen, "flag --isolation: unknown isolator '%s' (known: cgroups/cpu, cgroups/mem, "
                 "cgroups/pids, cgroups/devices, namespaces/pid, filesystem/posix, posix/cpu, posix/mem, gpu/nvidia, "
                 "disk/du)", t);
        free(dup);
        return -1;
      }
      if (!strncmp(t, "cgroups/", 8)) want_cg = 1;
    }
    free(dup);
    spec = mz_strdup(flag);
    snprintf(why, sizeof why, "given by --isolation");
  }
  /* Which cgroups version, when cgroups are wanted or the default is being chosen. */
  if (!spec || want_cg) {
    if (v2_usable(root, &iso->base[MZ_CGC_UNIFIED], v2why, sizeof v2why)) {
      iso->cg = MZ_CG_V2;
      if (!spec) {
        spec = mz_strdup("cgroups/cpu,cgroups/mem,cgroups/pids,filesystem/posix");
        snprintf(why, sizeof why, "cgroups v2: the unified hierarchy has the cpu and memory controllers");
      }
    } else {
      char cerr[600] = "";
      int ok = 1;
      for (int c = 0; c < MZ_CGC_UNIFIED; c++) {
        if (c == MZ_CGC_DEVICES) continue; /* only with cgroups/devices or gpu/nvidia, below */
        iso->base[c] = base_for(cgc_name[c], root);
        if (!iso->base[c]) {
          if (c == MZ_CGC_CPU || c == MZ_CGC_MEMORY) {
            snprintf(cerr, sizeof cerr, "no v1 %s hierarchy is mounted", cgc_name[c]);
            ok = 0;
          }
          continue;
        }
        if (mkdir_cg(iso->base[c], cerr, sizeof cerr) != 0) {
          free(iso->base[c]);
          iso->base[c] = NULL;
          if (c == MZ_CGC_CPU || c == MZ_CGC_MEMORY) ok = 0;
        }
      }
      if (ok) {
        iso->cg = MZ_CG_V1;
        if (!spec) {
          spec = mz_strdup(iso->base[MZ_CGC_PIDS] ? "cgroups/cpu,cgroups/mem,cgroups/pids,filesystem/posix"
                                                  : "cgroups/cpu,cgroups/mem,filesystem/posix");
          snprintf(why, sizeof why, "cgroups v1 (%s; v1 hierarchies cpu, memory%s%s are mounted and writable)",
                   v2why, iso->base[MZ_CGC_PIDS] ? ", pids" : "", iso->base[MZ_CGC_FREEZER] ? ", freezer" : "");
        }
      } else {
        for (int c = 0; c < MZ_CGC_N; c++) {
          free(iso->base[c]);
          iso->base[c] = NULL;
        }
        if (want_cg) {
          snprintf(err, errlen, "flag --isolation: cgroups are not usable here: %s; %s", v2why, cerr);
          free(spec);
          return -1;
        }
        spec = mz_strdup("posix/cpu,posix/mem,filesystem/posix");
        snprintf(why, sizeof why, "posix (%s; cgroups v1: %s)", v2why, cerr);
      }
    }
  }
  int all = mz_isolator_listed(spec, "cgroups/all");
  iso->cg_cpu = all || mz_isolator_listed(spec, "cgroups/cpu");
  iso->cg_mem = all || mz_isolator_listed(spec, "cgroups/mem");
  iso->cg_pids = all || mz_isolator_listed(spec, "cgroups/pids");
  iso->pid_ns = mz_isolator_listed(spec, "namespaces/pid");
  iso->posix_cpu = mz_isolator_listed(spec, "posix/cpu");
  iso->posix_mem = mz_isolator_listed(spec, "posix/mem");
  iso->disk_du = mz_isolator_listed(spec, "disk/du");
  if (!want_cg && spec && iso->cg == MZ_CG_NONE) {
    /* nothing to do for cgroups */
  }
  if (iso->cg == MZ_CG_V1) {
    /* Drop the hierarchies no isolator uses (the freezer always serves the kill). */
    if (!iso->cg_cpu) {
      free(iso->base[MZ_CGC_CPU]);
      iso->base[MZ_CGC_CPU] = NULL;
    }
    if (!iso->cg_mem) {
      free(iso->base[MZ_CGC_MEMORY]);
      iso->base[MZ_CGC_MEMORY] = NULL;
    }
    if (!iso->cg_pids) {
      free(iso->base[MZ_CGC_PIDS]);
      iso->base[MZ_CGC_PIDS] = NULL;
    }
    /* devices: kept only while cgroups/devices is named or gpu/nvidia turns it on. */
    if (mz_isolator_listed(spec, "cgroups/devices")) {
      char derr[600];
      iso->base[MZ_CGC_DEVICES] = base_for(cgc_name[MZ_CGC_DEVICES], root);
      if (iso->base[MZ_CGC_DEVICES] && mkdir_cg(iso->base[MZ_CGC_DEVICES], derr, sizeof derr) != 0) {
        free(iso->base[MZ_CGC_DEVICES]);
        iso->base[MZ_CGC_DEVICES] = NULL;
      }
      if (!iso->base[MZ_CGC_DEVICES]) {
        snprintf(err, errlen, "flag --isolation: cgroups/devices: no writable v1 devices hierarchy");
        free(spec);
        mz_isolation_free(iso);
        return -1;
      }
    }
    /* The same hierarchy twice (cpu,cpuacct co-mounted): join it once. */
    if (iso->base[MZ_CGC_CPU] && iso->base[MZ_CGC_CPUACCT] && !strcmp(iso->base[MZ_CGC_CPU], iso->base[MZ_CGC_CPUACCT])) {
      free(iso->base[MZ_CGC_CPUACCT]);
      iso->base[MZ_CGC_CPUACCT] = NULL;
    }
  }
  if (iso->cg == MZ_CG_V2 && mz_isolator_listed(spec, "cgroups/devices")) {
    /* v2 has no devices files: a BPF device program per container (devices.h). */
    char derr[600];
    if (load_whitelist(iso, derr, sizeof derr) != 0) {
      snprintf(err, errlen, "flag --isolation: cgroups/devices on cgroups v2: %s", derr);
      free(spec);
      mz_isolation_free(iso);
      return -1;
    }
  }
  if (iso->pid_ns && geteuid() != 0) {
    snprintf(err, errlen, "flag --isolation: namespaces/pid needs root");
    free(spec);
    mz_isolation_free(iso);
    return -1;
  }
  iso->spec = spec;
  iso->reason = mz_strdup(why);
  iso->cg_root = mz_strdup(root);
  if (iso->cg == MZ_CG_V1 && iso->base[MZ_CGC_MEMORY]) {
    char sw[4400];
    snprintf(sw, sizeof sw, "%s/memory.memsw.limit_in_bytes", iso->base[MZ_CGC_MEMORY]);
    iso->memsw = exists(iso, sw);
  }
  for (int c = 0; c < MZ_CGC_N; c++) open_base(iso, c);
  iso->base_fd_ok = 1;
  if (iso->cg == MZ_CG_V1) reuse_init(iso);
  return 0;
}

void mz_isolation_free(mz_isolation *iso) {
  if (iso->pool) {
    reuse_close_files(iso); /* before the free sets' rmdir */
    reuse_sweep(iso, 0);
  }
  free(iso->pool);
  for (int c = 0; c < MZ_CGC_N && iso->base_fd_ok; c++)
    if (iso->base_fd[c] >= 0) close(iso->base_fd[c]);
  if (iso->devices_bpf) close(iso->devices_prog);
  for (int c = 0; c < MZ_CGC_N; c++) free(iso->base[c]);
  free(iso->spec);
  free(iso->reason);
  free(iso->cg_root);
  memset(iso, 0, sizeof *iso);
}

static void cg_path(const mz_isolation *iso, int c, const char *id, const char *file, char *out, size_t len) {
  snprintf(out, len, "%s/%s%s%s", iso->base[c], id, file ? "/" : "", file ? file : "");
}

/* ------------------------------------------------------------------ a container's cgroup files */

static mz_cg_files *kept_files(const mz_isolation *iso); /* reuse, below */

/* The set of kept files of the container's cgroups (cgroup_files.h), or NULL. */
static mz_cg_fileset *files_of(const mz_isolation *iso, const char *id) {
  mz_cg_files *f = kept_files(iso);
  return f ? mz_cg_files_of(f, id, 0) : NULL;
}

/* Opens <id>[/<file>] under the base of hierarchy c, which the agent holds open. */
static int cg_openat(const mz_isolation *iso, int c, const char *id, const char *file, int flags) {
  char p[4400];
  if (!iso->base_fd_ok || iso->base_fd[c] < 0) {
    cg_path(iso, c, id, file, p, sizeof p);
    return open(p, flags | O_CLOEXEC);
  }
  size_t n = strlen(id), m = file ? strlen(file) : 0;
  if (n + m + 2 > sizeof p) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(p, id, n);
  if (file) {
    p[n++] = '/';
    memcpy(p + n, file, m);
    n += m;
  }
  p[n] = '\0';
  return openat(iso->base_fd[c], p, flags | O_CLOEXEC);
}

/* File `file` of the container's cgroup in hierarchy c, for flags: the fd that set (its
 * set of kept files, or NULL) keeps open (*kept = 1: not to be closed), else opened
 * now, and kept when the set keeps files of that name. -1 with errno. */
static int set_file(const mz_isolation *iso, mz_cg_fileset *set, int c, const char *id, const char *file, int flags,
                    int *kept) {
  *kept = 0;
  int mode = set ? mz_cg_files_mode(file) : -1;
  if (mode >= 0) {
    int fd = mz_cg_fileset_fd(set, c, file);
    if (fd >= 0) {
      *kept = 1;
      return fd;
    }
    flags = mode; /* what every later use needs of it */
  }
  int fd = cg_openat(iso, c, id, file, flags);
  if (fd >= 0 && mode >= 0) fd = mz_cg_fileset_keep(set, c, file, fd, kept);
  return fd;
}

static int cg_file(const mz_isolation *iso, int c, const char *id, const char *file, int flags, int *kept) {
  return set_file(iso, files_of(iso, id), c, id, file, flags, kept);
}

static void cg_done(int fd, int kept) {
  if (!kept) close(fd);
}

/* write_file and read_file for a file of the container's cgroup in hierarchy c. A
 * setting that holds the value already (cgroup_files.h) is not written again. */
static int write_cg(const mz_isolation *iso, int c, const char *id, const char *file, const char *value, char *err,
                    size_t errlen) {
  mz_cg_fileset *set = files_of(iso, id);
  if (set && mz_cg_fileset_holds(set, c, file, value)) return 0;
  int kept, fd = set_file(iso, set, c, id, file, O_WRONLY, &kept);
  int rc = fd < 0 ? -1 : write_fd(fd, value), e = errno;
  if (fd >= 0) cg_done(fd, kept);
  if (set) mz_cg_fileset_wrote(set, c, file, rc == 0 ? value : NULL);
  if (rc != 0 && err) {
    char p[4400];
    cg_path(iso, c, id, file, p, sizeof p);
    if (fd < 0) snprintf(err, errlen, "open %s: %s", p, strerror(e));
    else snprintf(err, errlen, "write '%s' to %s: %s", value, p, strerror(e));
  }
  return rc;
}

static int read_cg(const mz_isolation *iso, int c, const char *id, const char *file, char *buf, size_t len) {
  int kept, fd = cg_file(iso, c, id, file, O_RDONLY, &kept);
  if (fd < 0) return -1;
  read_fd(fd, buf, len);
  cg_done(fd, kept);
  return 0;
}

static int read_cg_u64(const mz_isolation *iso, int c, const char *id, const char *file, uint64_t *v) {
  char buf[64];
  if (read_cg(iso, c, id, file, buf, sizeof buf) != 0) return -1;
  return parse_u64(buf, v);
}

/* ------------------------------------------------------------------ gpus */

static void append(char **s, const char *more) {
  size_t n = strlen(*s) + strlen(more) + 1;
  char *p = mz_malloc(n);
  snprintf(p, n, "%s%s", *s, more);
  free(*s);
  *s = p;
}

void mz_isolation_enable_gpus(mz_isolation *iso, mz_gpus *g) {
  if (!g || !g->enabled) return;
  iso->gpus = g;
  const char *note;
  if (iso->cg == MZ_CG_V1 && !iso->base[MZ_CGC_DEVICES] && iso->cg_root) {
    char derr[600];
    iso->base[MZ_CGC_DEVICES] = base_for(cgc_name[MZ_CGC_DEVICES], iso->cg_root);
    if (iso->base[MZ_CGC_DEVICES] && mkdir_cg(iso->base[MZ_CGC_DEVICES], derr, sizeof derr) != 0) {
      free(iso->base[MZ_CGC_DEVICES]);
      iso->base[MZ_CGC_DEVICES] = NULL;
    }
    if (iso->base_fd_ok) open_base(iso, MZ_CGC_DEVICES);
  }
  char bpf_err[600] = "";
  if (iso->cg == MZ_CG_V2 && !iso->devices_bpf) load_whitelist(iso, bpf_err, sizeof bpf_err);
  char v2note[700];
  if (iso->base[MZ_CGC_DEVICES] || iso->devices_bpf) {
    if (!mz_isolator_listed(iso->spec, "cgroups/devices")) append(&iso->spec, ",cgroups/devices");
    note = iso->devices_bpf ? "; each container's BPF device program (cgroups v2) allows only the GPUs it holds"
                            : "; each container's devices cgroup allows only the GPUs it holds";
  } else if (iso->cg == MZ_CG_V2) {
    snprintf(v2note, sizeof v2note, "; GPU access is not enforced (cgroups v2 device programs: %s): "
             "CUDA_VISIBLE_DEVICES only", bpf_err);
    note = v2note;
  } else {
    note = "; GPU access is not enforced (no writable cgroups v1 devices hierarchy): CUDA_VISIBLE_DEVICES only";
  }
  if (!mz_isolator_listed(iso->spec, "gpu/nvidia")) append(&iso->spec, ",gpu/nvidia");
  append(&g->reason, note);
}

/* The rule for GPU or control device `minor`/`major` (all access). */
static mz_dev_rule char_rule(unsigned major, unsigned minor) {
  return (mz_dev_rule){'c', (int)major, (int)minor, MZ_DEV_RWM};
}

/* v1: writes the rule to the container's devices.allow or devices.deny. */
static int write_rule(const mz_isolation *iso, const char *id, const char *file, const mz_dev_rule *r, char *err,
                      size_t errlen) {
  char p[4400], text[64];
  cg_path(iso, MZ_CGC_DEVICES, id, file, p, sizeof p);
  mz_dev_rule_text(r, text, sizeof text);
  return write_file(iso, p, text, err, errlen);
}

/* v1: allows the GPUs the container holds (and the control devices when it holds
 * any), denies the other GPUs. */
static int gpu_rules(const mz_isolation *iso, const char *id, char *err, size_t errlen) {
  const mz_gpus *g = iso->gpus;
  if (!g) return 0;
  unsigned held = mz_gpu_owned(g, id, NULL, 0);
  for (size_t i = 0; i < g->n; i++) {
    mz_dev_rule r = char_rule(MZ_GPU_NVIDIA_MAJOR, g->dev[i].minor);
    if (write_rule(iso, id, strcmp(g->dev[i].owner, id) ? "devices.deny" : "devices.allow", &r, err, errlen) != 0)
      return -1;
  }
  for (size_t i = 0; i < g->nctl; i++) {
    mz_dev_rule r = char_rule(g->ctl[i].major, g->ctl[i].minor);
    if (write_rule(iso, id, held ? "devices.allow" : "devices.deny", &r, err, errlen) != 0) return -1;
  }
  return 0;
}

/* v2: the container's whole allow list (Mesos's default whitelist, the GPUs it holds
 * and, when it holds any, the control devices) as its cgroup's BPF program; the
 * whitelist's own program, loaded once, when it holds no GPU. */
static int device_program(const mz_isolation *iso, const char *id, char *err, size_t errlen) {
  char p[4400];
  cg_path(iso, MZ_CGC_UNIFIED, id, NULL, p, sizeof p);
  const mz_gpus *g = iso->gpus;
  if (!g || mz_gpu_owned(g, id, NULL, 0) == 0) return mz_dev_bpf_attach_fd(p, iso->devices_prog, err, errlen);
  _Static_assert(MZ_GPU_MAX + 4 + 32 <= MZ_DEV_MAX_RULES, "room for the whitelist, every GPU, 4 control devices");
  mz_dev_rule rules[MZ_DEV_MAX_RULES];
  size_t n = 0;
  for (size_t i = 0; i < mz_dev_default_count; i++) rules[n++] = mz_dev_default_rules[i];
  for (size_t i = 0; i < g->n; i++)
    if (!strcmp(g->dev[i].owner, id)) rules[n++] = char_rule(MZ_GPU_NVIDIA_MAJOR, g->dev[i].minor);
  for (size_t i = 0; i < g->nctl; i++) rules[n++] = char_rule(g->ctl[i].major, g->ctl[i].minor);
  return mz_dev_bpf_attach(p, rules, n, err, errlen);
}

/* At creation: every device denied but the container's allow list. */
static int device_rules(const mz_isolation *iso, const char *id, char *err, size_t errlen) {
  if (iso->devices_bpf) return device_program(iso, id, err, errlen);
  char p[4400];
  cg_path(iso, MZ_CGC_DEVICES, id, "devices.deny", p, sizeof p);
  if (write_file(iso, p, "a", err, errlen) != 0) return -1;
  for (size_t i = 0; i < mz_dev_default_count; i++)
    if (write_rule(iso, id, "devices.allow", &mz_dev_default_rules[i], err, errlen) != 0) return -1;
  return gpu_rules(iso, id, err, errlen);
}

int mz_cg_update_devices(const mz_isolation *iso, const char *id) {
  if (!iso->gpus || !(iso->base[MZ_CGC_DEVICES] || iso->devices_bpf)) return 0;
  char err[1024];
  if ((iso->devices_bpf ? device_program(iso, id, err, sizeof err) : gpu_rules(iso, id, err, sizeof err)) != 0)
    return -1;
  return 0;
}

/* ------------------------------------------------------------------ containers */


/* Whether limit is above the container's current memory limit (file in controller c). */
static int mem_grows(const mz_isolation *iso, int c, const char *id, const char *file, uint64_t limit) {
  uint64_t now = 0;
  if (read_cg_u64(iso, c, id, file, &now) != 0) return 1; /* "max" (v2) or unreadable: write it */
  return limit > now;
}

/* What set_limits writes for: a new cgroup, a running container's new limits, or a
 * reused cgroup (see "reuse" below) whose old limits are unknown and are all written. */
enum { LIMITS_NEW, LIMITS_UPDATE, LIMITS_REUSED };

/* Writes the cpu and memory limits (and at creation the pids limit and the device
 * rules). On an update the memory limit only ever grows, as Mesos does: lowering it
 * under a running container's usage would have the kernel kill it. */
static int set_limits(const mz_isolation *iso, const char *id, const mz_container_limits *lim, int mode, char *err,
                      size_t errlen) {
  char p[4400], v[64];
  const int update = mode == LIMITS_UPDATE, reused = mode == LIMITS_REUSED;
  if (iso->cg == MZ_CG_V1) {
    /* A reused cgroup without a cpu or memory limit goes back to the kernel's defaults. */
    const int cpu = MZ_CGC_CPU, mem = MZ_CGC_MEMORY;
    if (iso->cg_cpu && iso->base[cpu] && (lim->cpus > 0 || reused)) {
      long shares = lim->cpus > 0 ? (long)(lim->cpus * 1024) : 1024;
      snprintf(v, sizeof v, "%ld", shares < 2 ? 2 : shares);
      if (write_cg(iso, cpu, id, "cpu.shares", v, err, errlen) != 0) return -1;
      if (iso->enable_cfs) {
        /* a reused cgroup has its period from its creation */
        if (!reused && write_cg(iso, cpu, id, "cpu.cfs_period_us", "100000", err, errlen) != 0) return -1;
        long quota = (long)(lim->cpus * 100000);
        if (lim->cpus > 0) snprintf(v, sizeof v, "%ld", quota < 1000 ? 1000 : quota);
        else snprintf(v, sizeof v, "-1");
        if (write_cg(iso, cpu, id, "cpu.cfs_quota_us", v, err, errlen) != 0) return -1;
      }
    }
    if (iso->cg_mem && iso->base[mem] && (lim->mem_bytes > 0 || reused) &&
        (!update || mem_grows(iso, mem, id, "memory.limit_in_bytes", lim->mem_bytes))) {
      if (lim->mem_bytes > 0) snprintf(v, sizeof v, "%llu", (unsigned long long)lim->mem_bytes);
      else snprintf(v, sizeof v, "-1");
      /* No swap beyond the limit, where accounted. memsw may never be below the memory
       * limit: raised before it (an update), set after it (a new container, unlimited).
       * A reused cgroup's old limits are unknown: the limit first, and where the kernel
       * refuses it (above the old memsw), memsw first. */
      const char *sw = "memory.memsw.limit_in_bytes", *limit = "memory.limit_in_bytes";
      int has_sw = iso->memsw;
      if (has_sw && update) write_cg(iso, mem, id, sw, v, NULL, 0);
      int limit_set = 0, sw_set = 0;
      if (reused && has_sw) {
        limit_set = write_cg(iso, mem, id, limit, v, NULL, 0) == 0;
        if (!limit_set) sw_set = write_cg(iso, mem, id, sw, v, NULL, 0) == 0;
      }
      if (!limit_set && write_cg(iso, mem, id, limit, v, err, errlen) != 0) return -1;
      if (has_sw && !update && !sw_set) write_cg(iso, mem, id, sw, v, NULL, 0);
    }
    if (!update && !reused && iso->cg_pids && iso->base[MZ_CGC_PIDS] && iso->limit_pids > 0) {
      snprintf(v, sizeof v, "%ld", iso->limit_pids);
      if (write_cg(iso, MZ_CGC_PIDS, id, "pids.max", v, err, errlen) != 0) return -1;
    }
    if (!update && !reused && iso->base[MZ_CGC_DEVICES] && device_rules(iso, id, err, errlen) != 0) return -1;
  } else if (iso->cg == MZ_CG_V2) {
    const int u = MZ_CGC_UNIFIED;
    if (iso->cg_cpu && lim->cpus > 0) {
      /* cpu.weight 1..10000, 100 by default: 100 per cpu, as shares/1024*100. */
      long w = (long)(lim->cpus * 100);
      snprintf(v, sizeof v, "%ld", w < 1 ? 1 : (w > 10000 ? 10000 : w));
      if (write_cg(iso, u, id, "cpu.weight", v, err, errlen) != 0) return -1;
      if (iso->enable_cfs) {
        long quota = (long)(lim->cpus * 100000);
        snprintf(v, sizeof v, "%ld 100000", quota < 1000 ? 1000 : quota);
        if (write_cg(iso, u, id, "cpu.max", v, err, errlen) != 0) return -1;
      }
    }
    if (iso->cg_mem && lim->mem_bytes > 0 && (!update || mem_grows(iso, u, id, "memory.max", lim->mem_bytes))) {
      snprintf(v, sizeof v, "%llu", (unsigned long long)lim->mem_bytes);
      if (write_cg(iso, u, id, "memory.max", v, err, errlen) != 0) return -1;
      cg_path(iso, u, id, "memory.swap.max", p, sizeof p);
      if (exists(iso, p)) write_file(iso, p, "0", NULL, 0);
    }
    if (!update && iso->cg_pids && iso->limit_pids > 0) {
      snprintf(v, sizeof v, "%ld", iso->limit_pids);
      if (write_cg(iso, u, id, "pids.max", v, err, errlen) != 0) return -1;
    }
    if (!update && iso->devices_bpf && device_rules(iso, id, err, errlen) != 0) return -1;
  }
  return 0;
}

int mz_cg_update(const mz_isolation *iso, const char *id, const mz_container_limits *lim, char *err, size_t errlen) {
  if (iso->cg == MZ_CG_NONE) return 0;
  return set_limits(iso, id, lim, LIMITS_UPDATE, err, errlen);
}

/* ------------------------------------------------------------------ reuse (v1)
 *
 * Most of what the kernel does to start and end a v1 container is its cgroups' mkdir
 * (per-cpu statistics, one css per hierarchy) and rmdir (taking the css down, dropping
 * the dentries of every file in it): about 0.3 ms of CPU for five hierarchies, against
 * under 0.1 ms to rename them. So a container's cgroups that it left clean (no process,
 * thawed, no OOM kill, at most REUSE_MAX_CHARGE bytes of memory still charged: after
 * a short task, about 1 MiB of kernel objects and a few pages of cache) are
 * renamed to .free-<agent pid>-<n> in each hierarchy, and the next container's are
 * those renamed to its id: its limits are all written again and the two counters read
 * back (cpuacct.usage*, memory.max_usage_in_bytes) are reset. A name starting with '.'
 * is never a container id (the agent makes them, UUIDs). Only with the pids hierarchy, whose
 * counter tells "no process" in one read, and without the devices one (per-container
 * rules). v2 cannot rename a cgroup nor reset cpu.stat: it always makes new ones.
 * The files the agent uses of every container's cgroups are kept open with their
 * set, as it is renamed from container to container (cgroup_files.h). */

#define REUSE_MAX 64
#define REUSE_MAX_CHARGE (4u << 20)

struct mz_cg_pool {
  long pid;                 /* the agent's, in the sets' names */
  unsigned slot[REUSE_MAX]; /* the free sets' numbers */
  size_t n;
  unsigned next;            /* the number the next freed set gets */
  /* The last container whose ended cgroups were found to hold no process (none can
   * join them but by the agent), so that left_clean does not read pids.current again.
   * Empty when unknown. */
  char empty_id[64];
  mz_cg_files *files;                   /* the sets' open files */
  mz_cg_fileset *free_files[REUSE_MAX]; /* the free sets' (NULL: none kept) */
};

static mz_cg_files *kept_files(const mz_isolation *iso) {
  return iso->pool ? iso->pool->files : NULL;
}

static void reuse_close_files(const mz_isolation *iso) {
  mz_cg_files_free(iso->pool->files);
  iso->pool->files = NULL;
  memset(iso->pool->free_files, 0, sizeof iso->pool->free_files);
}

/* The v1 hierarchy with the cpuacct files: its own, or cpu's where they are co-mounted;
 * -1 when neither is in use. */
static int acct_hierarchy(const mz_isolation *iso) {
  return iso->base[MZ_CGC_CPUACCT] ? MZ_CGC_CPUACCT : (iso->base[MZ_CGC_CPU] ? MZ_CGC_CPU : -1);
}

static int reuse_on(const mz_isolation *iso) {
  return iso->pool && iso->cg == MZ_CG_V1 && iso->base[MZ_CGC_PIDS] && !iso->base[MZ_CGC_DEVICES];
}

static void free_name(const mz_cg_pool *pool, unsigned slot, char *out, size_t len) {
  snprintf(out, len, ".free-%ld-%u", pool->pid, slot);
}

/* rmdir of the container's cgroup in every hierarchy: 0 when gone, 1 when one holds
 * processes still. */
static int remove_dirs(const mz_isolation *iso, const char *id) {
  int busy = 0;
  char p[4400];
  if (kept_files(iso)) mz_cg_files_drop(iso->pool->files, mz_cg_files_detach(iso->pool->files, id));
  for (int c = 0; c < MZ_CGC_N; c++) {
    if (!iso->base[c]) continue;
    cg_path(iso, c, id, NULL, p, sizeof p);
    if (cg_rmdir(iso, p) != 0 && errno != ENOENT) busy = 1;
  }
  return busy;
}

/* Renames cgroup `from` to `to` of hierarchy c: names under the base, held open. */
static int rename_cg(const mz_isolation *iso, int c, const char *from, const char *to) {
  if (iso->base_fd_ok && iso->base_fd[c] >= 0) return renameat(iso->base_fd[c], from, iso->base_fd[c], to);
  char a[4400], b[4400];
  cg_path(iso, c, from, NULL, a, sizeof a);
  cg_path(iso, c, to, NULL, b, sizeof b);
  return rename(a, b);
}

/* Renames cgroup `from` to `to` in every hierarchy; on a failure those renamed go
 * back. 0 or -1. */
static int rename_dirs(const mz_isolation *iso, const char *from, const char *to) {
  int c;
  for (c = 0; c < MZ_CGC_N; c++) {
    if (iso->base[c] && rename_cg(iso, c, from, to) != 0) break;
  }
  if (c == MZ_CGC_N) return 0;
  while (--c >= 0) {
    if (iso->base[c]) rename_cg(iso, c, to, from);
  }
  return -1;
}

/* Whether the container's cgroups, which it has left, may serve another one; if not,
 * why in *why. */
static int left_clean(const mz_isolation *iso, const char *id, const char **why) {
  char buf[512];
  uint64_t v;
  mz_cg_pool *pool = iso->pool;
  *why = "processes remain";
  if (strcmp(pool->empty_id, id) != 0 && (read_cg_u64(iso, MZ_CGC_PIDS, id, "pids.current", &v) != 0 || v != 0))
    return 0;
  if (iso->base[MZ_CGC_FREEZER]) {
    *why = "not thawed";
    if (read_cg(iso, MZ_CGC_FREEZER, id, "freezer.state", buf, sizeof buf) != 0 || strncmp(buf, "THAWED", 6) != 0)
      return 0;
  }
  if (iso->base[MZ_CGC_MEMORY]) {
    uint64_t kills = 0, under = 0;
    *why = "OOM-killed";
    if (read_cg(iso, MZ_CGC_MEMORY, id, "memory.oom_control", buf, sizeof buf) != 0) return 0;
    keyed_u64(buf, "oom_kill", &kills);
    keyed_u64(buf, "under_oom", &under);
    if (kills || under) return 0;
    *why = "memory still charged to it";
    if (read_cg_u64(iso, MZ_CGC_MEMORY, id, "memory.usage_in_bytes", &v) != 0 || v > REUSE_MAX_CHARGE) return 0;
  }
  return 1;
}

/* Keeps the container's cgroups for another container; 1 when kept. Processes that
 * remain are either alive (rmdir then fails, and the caller tries again) or zombies
 * not yet reaped, which pids.current counts and v1's rmdir ignores: such cgroups are
 * removed, since a zombie's reaper may be a process that never reaps it (the init of
 * a container the agent runs in, for containers it adopted after a restart). */
static int reuse_keep(const mz_isolation *iso, const char *id) {
  mz_cg_pool *pool = iso->pool;
  const char *why;
  if (!reuse_on(iso) || pool->n == REUSE_MAX) return 0;
  if (!left_clean(iso, id, &why)) {
    MZ_DEBUG(MOD, "container %s: cgroups not kept for reuse: %s", id, why);
    return 0;
  }
  char name[64];
  unsigned slot = pool->next++;
  free_name(pool, slot, name, sizeof name);
  if (rename_dirs(iso, id, name) != 0) return 0;
  pool->free_files[pool->n] = pool->files ? mz_cg_files_detach(pool->files, id) : NULL;
  pool->slot[pool->n++] = slot;
  return 1;
}

/* Gives a free set of cgroups the container's id; 1 when one was taken. */
static int reuse_take(const mz_isolation *iso, const char *id) {
  mz_cg_pool *pool = iso->pool;
  if (!reuse_on(iso)) return 0;
  pool->empty_id[0] = '\0'; /* a container of that id starts */
  char name[64];
  while (pool->n > 0) {
    free_name(pool, pool->slot[--pool->n], name, sizeof name);
    mz_cg_fileset *files = pool->free_files[pool->n];
    pool->free_files[pool->n] = NULL;
    if (rename_dirs(iso, name, id) == 0) {
      if (pool->files) mz_cg_files_attach(pool->files, files, id);
      return 1;
    }
    if (pool->files) mz_cg_files_drop(pool->files, files);
    remove_dirs(iso, name);
  }
  return 0;
}

/* Resets what the agent reads back of a reused cgroup: its cpu time (cpuacct.usage
 * resets the per-cpu user and system times of cpuacct.usage_all) and its memory peak
 * (to its usage now). 0 or -1 with err. */
static int reset_counters(const mz_isolation *iso, const char *id, char *err, size_t errlen) {
  int acct = acct_hierarchy(iso);
  if (acct >= 0 && write_cg(iso, acct, id, "cpuacct.usage", "0", err, errlen) != 0) return -1;
  if (iso->base[MZ_CGC_MEMORY] && write_cg(iso, MZ_CGC_MEMORY, id, "memory.max_usage_in_bytes", "0", err, errlen) != 0)
    return -1;
  return 0;
}

/* Removes the free sets this agent left under the bases, those of agents whose pid
 * is no longer alive, and with `others` those of any other pid (no other agent uses
 * the bases: a live pid is another process's now). */
static void reuse_sweep(const mz_isolation *iso, int others) {
  char p[4400];
  for (int c = 0; c < MZ_CGC_N; c++) {
    if (!iso->base[c]) continue;
    DIR *d = opendir(iso->base[c]);
    if (!d) continue;
    struct dirent *e;
    while ((e = readdir(d))) {
      long pid;
      unsigned slot;
      if (sscanf(e->d_name, ".free-%ld-%u", &pid, &slot) != 2) continue;
      if (pid != (long)getpid() && !others && (kill((pid_t)pid, 0) == 0 || errno != ESRCH)) continue;
      snprintf(p, sizeof p, "%s/%s", iso->base[c], e->d_name);
      cg_rmdir(iso, p);
    }
    closedir(d);
  }
}

/* Turns reuse on where the cpu time can be reset (cpuacct.usage_all, Linux 4.7) and
 * sweeps what an agent before this one left. */
static void reuse_init(mz_isolation *iso) {
  char p[4400];
  int acct = acct_hierarchy(iso);
  if (!iso->base[MZ_CGC_PIDS] || acct < 0) return;
  snprintf(p, sizeof p, "%s/cpuacct.usage_all", iso->base[acct]);
  if (!exists(iso, p)) return;
  iso->pool = mz_calloc(1, sizeof *iso->pool);
  iso->pool->pid = (long)getpid();
  struct rlimit rl;
  size_t sets = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? mz_cg_files_max_sets((unsigned long long)rl.rlim_cur) : 0;
  if (sets > 0) iso->pool->files = mz_cg_files_new(sets);
  reuse_sweep(iso, 0);
}

void mz_cg_sweep_others_free_sets(const mz_isolation *iso) {
  if (iso->pool) reuse_sweep(iso, 1);
}

int mz_cg_create(const mz_isolation *iso, const char *id, const mz_container_limits *lim, int *fds, size_t *nfds,
                 int *fds_kept, char *err, size_t errlen) {
  *nfds = 0;
  *fds_kept = 0;
  char p[4400];
  int reused = reuse_take(iso, id), kept[MZ_CGC_N] = {0}, all_kept = 1;
  mz_cg_files *files = kept_files(iso);
  if (files && !reused) mz_cg_files_attach(files, NULL, id); /* files of an earlier set of that name */
  if (files) mz_cg_files_of(files, id, 1);
  for (int c = 0; c < MZ_CGC_N && !reused; c++) {
    if (!iso->base[c]) continue;
    cg_path(iso, c, id, NULL, p, sizeof p);
    if (cg_mkdir(iso, p) != 0 && errno != EEXIST) {
      snprintf(err, errlen, "mkdir %s: %s", p, strerror(errno));
      goto fail;
    }
  }
  if (set_limits(iso, id, lim, reused ? LIMITS_REUSED : LIMITS_NEW, err, errlen) != 0) goto fail;
  if (reused && reset_counters(iso, id, err, errlen) != 0) goto fail;
  for (int c = 0; c < MZ_CGC_N; c++) {
    if (!iso->base[c]) continue;
    int fd = cg_file(iso, c, id, "cgroup.procs", O_WRONLY, &kept[*nfds]);
    if (fd < 0) {
      cg_path(iso, c, id, "cgroup.procs", p, sizeof p);
      snprintf(err, errlen, "open %s: %s", p, strerror(errno));
      goto fail;
    }
    all_kept &= kept[*nfds];
    fds[(*nfds)++] = fd;
  }
  /* All kept, or all the caller's to close. */
  for (size_t i = 0; i < *nfds && !all_kept; i++) {
    if (!kept[i]) continue;
    int own = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
    if (own < 0) {
      snprintf(err, errlen, "dup of a cgroup.procs: %s", strerror(errno));
      goto fail;
    }
    fds[i] = own;
    kept[i] = 0;
  }
  *fds_kept = all_kept && *nfds > 0;
  return 0;
fail:
  for (size_t i = 0; i < *nfds; i++) cg_done(fds[i], kept[i]);
  *nfds = 0;
  remove_dirs(iso, id);
  return -1;
}

/* Pids listed in one cgroup's cgroup.procs; returns how many (at most max). */
static size_t read_pids(const mz_isolation *iso, const char *path, pid_t *out, size_t max) {
  FILE *f = cg_fopen(iso, path);
  if (!f) return 0;
  size_t n = 0;
  long pid;
  while (n < max && fscanf(f, "%ld", &pid) == 1) out[n++] = (pid_t)pid;
  fclose(f);
  return n;
}

/* SIGKILLs every pid listed in the cgroup's cgroup.procs as it is read (no buffer:
 * this runs for every container that ends). Returns how many were signalled. */
static int kill_dir(const mz_isolation *iso, int c, const char *id) {
  char p[4400];
  cg_path(iso, c, id, "cgroup.procs", p, sizeof p);
  FILE *f = cg_fopen(iso, p);
  if (!f) return 0;
  int n = 0;
  long pid;
  while (n < MAX_PIDS_PER_PASS && fscanf(f, "%ld", &pid) == 1) {
    if (pid > 1 && kill((pid_t)pid, SIGKILL) == 0) n++;
  }
  fclose(f);
  return n;
}

int mz_cg_kill(const mz_isolation *iso, const char *id) {
  if (iso->cg == MZ_CG_NONE) return 0;
  char p[4400];
  if (iso->cg == MZ_CG_V2) {
    cg_path(iso, MZ_CGC_UNIFIED, id, "cgroup.kill", p, sizeof p);
    int n = mz_cg_count(iso, id);
    if (n > 0 && write_file(iso, p, "1", NULL, 0) != 0) kill_dir(iso, MZ_CGC_UNIFIED, id);
    return n < 0 ? 0 : n;
  }
  int n = 0;
  if (iso->base[MZ_CGC_FREEZER]) {
    /* Nothing left (the usual end: the executor and its tasks exited): no freeze,
     * whose state changes cost the kernel a code patch on every CPU. The pids
     * controller's counter says so without a read of cgroup.procs, for which a v1
     * kernel builds a pid list and later frees it in a worker. It counts a process
     * until it is reaped: a zombie left over takes the longer way below, harmlessly. */
    uint64_t tasks;
    if (iso->base[MZ_CGC_PIDS]) {
      if (read_cg_u64(iso, MZ_CGC_PIDS, id, "pids.current", &tasks) == 0 && tasks == 0) {
        if (iso->pool && strlen(id) < sizeof iso->pool->empty_id) strcpy(iso->pool->empty_id, id);
        return 0;
      }
    }
    cg_path(iso, MZ_CGC_FREEZER, id, "cgroup.procs", p, sizeof p);
    pid_t one[1];
    if (exists(iso, p) && read_pids(iso, p, one, 1) == 0) return 0;
    /* Frozen processes cannot fork while they are being killed; SIGKILL ends them on thaw. */
    int frozen = write_cg(iso, MZ_CGC_FREEZER, id, "freezer.state", "FROZEN", NULL, 0) == 0;
    n = kill_dir(iso, MZ_CGC_FREEZER, id);
    if (frozen) write_cg(iso, MZ_CGC_FREEZER, id, "freezer.state", "THAWED", NULL, 0);
  }
  for (int c = 0; c < MZ_CGC_UNIFIED; c++) {
    if (c != MZ_CGC_FREEZER && iso->base[c]) n += kill_dir(iso, c, id);
  }
  return n;
}

int mz_cg_count(const mz_isolation *iso, const char *id) {
  /* Every hierarchy holds the same processes (they join them all): the first counts. */
  char p[4400];
  for (int c = 0; c < MZ_CGC_N; c++) {
    if (!iso->base[c]) continue;
    cg_path(iso, c, id, "cgroup.procs", p, sizeof p);
    FILE *f = cg_fopen(iso, p);
    if (!f) continue;
    int n = 0;
    long pid;
    while (fscanf(f, "%ld", &pid) == 1) n++;
    fclose(f);
    return n;
  }
  return -1;
}

int mz_cg_remove(const mz_isolation *iso, const char *id) {
  if (reuse_keep(iso, id)) return 0;
  return remove_dirs(iso, id);
}

typedef struct listed {
  char *name;
  UT_hash_handle hh;
} listed;

size_t mz_cg_list(const mz_isolation *iso, char ***ids) {
  listed *set = NULL, *e, *tmp;
  size_t n = 0;
  for (int c = 0; c < MZ_CGC_N; c++) {
    if (!iso->base[c]) continue;
    DIR *d = opendir(iso->base[c]);
    if (!d) continue;
    struct dirent *de;
    while ((de = readdir(d))) {
      if (de->d_name[0] == '.' || de->d_type != DT_DIR) continue; /* cgroupfs gives d_type */
      HASH_FIND_STR(set, de->d_name, e);
      if (e) continue;
      e = mz_calloc(1, sizeof *e);
      e->name = mz_strdup(de->d_name);
      HASH_ADD_KEYPTR(hh, set, e->name, strlen(e->name), e);
      n++;
    }
    closedir(d);
  }
  *ids = mz_calloc(n + 1, sizeof **ids);
  size_t i = 0;
  HASH_ITER(hh, set, e, tmp) {
    HASH_DEL(set, e);
    (*ids)[i++] = e->name;
    free(e);
  }
  return n;
}

int mz_cg_oom_happened(const mz_isolation *iso, const char *id, uint64_t limit, int oom_event, char *msg,
                       size_t msglen) {
  if (!iso->cg_mem) return 0;
  char buf[2048];
  uint64_t kills = 0, peak = 0;
  if (iso->cg == MZ_CG_V1 && iso->base[MZ_CGC_MEMORY]) {
    if (read_cg(iso, MZ_CGC_MEMORY, id, "memory.oom_control", buf, sizeof buf) != 0) return 0;
    if (keyed_u64(buf, "oom_kill", &kills) != 0) {
      uint64_t under = 0;
      keyed_u64(buf, "under_oom", &under);
      kills = under;
    }
    if (oom_event) kills++; /* notified before the kill is counted (memcg1_oom_prepare) */
    if (kills == 0) return 0; /* the usual end: no peak to read */
    read_cg_u64(iso, MZ_CGC_MEMORY, id, "memory.max_usage_in_bytes", &peak);
  } else if (iso->cg == MZ_CG_V2) {
    if (read_cg(iso, MZ_CGC_UNIFIED, id, "memory.events", buf, sizeof buf) != 0) return 0;
    keyed_u64(buf, "oom_kill", &kills);
    read_cg_u64(iso, MZ_CGC_UNIFIED, id, "memory.peak", &peak);
  }
  if (kills == 0) return 0;
  snprintf(msg, msglen, "Memory limit exceeded: Requested: %lluMB Maximum Used: %lluMB",
           (unsigned long long)(limit >> 20), (unsigned long long)(peak >> 20));
  return 1;
}

int mz_cg_oom_fd(const mz_isolation *iso, const char *id, int *kept) {
  *kept = 0;
  if (!iso->cg_mem) return -1;
  if (iso->cg == MZ_CG_V1 && iso->base[MZ_CGC_MEMORY]) {
    mz_cg_fileset *set = files_of(iso, id);
    int efd = mz_cg_fileset_fd(set, MZ_CGC_MEMORY, MZ_CG_FILES_OOM_EVENTFD);
    if (efd >= 0) { /* registered for an earlier container of the set */
      uint64_t stale; /* an OOM notified without a kill counted: not this container's */
      (void)!read(efd, &stale, sizeof stale);
      *kept = 1;
      return efd;
    }
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) return -1;
    int ofd_kept, ofd = cg_file(iso, MZ_CGC_MEMORY, id, "memory.oom_control", O_RDONLY, &ofd_kept);
    if (ofd < 0) {
      close(efd);
      return -1;
    }
    char v[64];
    snprintf(v, sizeof v, "%d %d", efd, ofd);
    int rc = write_cg(iso, MZ_CGC_MEMORY, id, "cgroup.event_control", v, NULL, 0);
    cg_done(ofd, ofd_kept); /* the registration holds its own reference */
    if (rc != 0) {
      close(efd);
      return -1;
    }
    return mz_cg_fileset_keep(set, MZ_CGC_MEMORY, MZ_CG_FILES_OOM_EVENTFD, efd, kept);
  }
  return -1;
}

int mz_cg_usage(const mz_isolation *iso, const char *id, mz_container_usage *u) {
  memset(u, 0, sizeof *u);
  char buf[32768];
  long hz = sysconf(_SC_CLK_TCK);
  if (hz <= 0) hz = 100;
  int found = 0;
  if (iso->cg == MZ_CG_V1) {
    int acct = acct_hierarchy(iso);
    if (acct >= 0) {
      /* Per cpu "cpu user system" in ns (reset with the cgroup's reuse); else the
       * cumulative cpuacct.stat in ticks. */
      if (read_cg(iso, acct, id, "cpuacct.usage_all", buf, sizeof buf) == 0) {
        unsigned long long user = 0, sys = 0, cu, cs;
        const char *line = strchr(buf, '\n');
        while (line && sscanf(line + 1, "%*u %llu %llu", &cu, &cs) == 2) {
          user += cu;
          sys += cs;
          line = strchr(line + 1, '\n');
        }
        u->cpus_user_time_secs = (double)user / 1e9;
        u->cpus_system_time_secs = (double)sys / 1e9;
        found = 1;
      } else {
        if (read_cg(iso, acct, id, "cpuacct.stat", buf, sizeof buf) == 0) {
          uint64_t user = 0, sys = 0;
          keyed_u64(buf, "user", &user);
          keyed_u64(buf, "system", &sys);
          u->cpus_user_time_secs = (double)user / (double)hz;
          u->cpus_system_time_secs = (double)sys / (double)hz;
          found = 1;
        }
      }
    }
    if (iso->base[MZ_CGC_MEMORY]) {
      if (read_cg(iso, MZ_CGC_MEMORY, id, "memory.stat", buf, sizeof buf) == 0) {
        keyed_u64(buf, "total_rss", &u->mem_rss_bytes);
        found = 1;
      }
      read_cg_u64(iso, MZ_CGC_MEMORY, id, "memory.usage_in_bytes", &u->mem_total_bytes);
    }
  } else if (iso->cg == MZ_CG_V2) {
    if (read_cg(iso, MZ_CGC_UNIFIED, id, "cpu.stat", buf, sizeof buf) == 0) {
      uint64_t user = 0, sys = 0;
      keyed_u64(buf, "user_usec", &user);
      keyed_u64(buf, "system_usec", &sys);
      u->cpus_user_time_secs = (double)user / 1e6;
      u->cpus_system_time_secs = (double)sys / 1e6;
      found = 1;
    }
    if (read_cg(iso, MZ_CGC_UNIFIED, id, "memory.stat", buf, sizeof buf) == 0)
      keyed_u64(buf, "anon", &u->mem_rss_bytes);
    read_cg_u64(iso, MZ_CGC_UNIFIED, id, "memory.current", &u->mem_total_bytes);
  }
  int n = mz_cg_count(iso, id);
  u->processes = n > 0 ? (uint64_t)n : 0;
  return found ? 0 : -1;
}

/* ------------------------------------------------------------------ posix usage */

int mz_proc_session_usage(pid_t sid, mz_container_usage *u) {
  memset(u, 0, sizeof *u);
  DIR *d = opendir("/proc");
  if (!d) return -1;
  long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
  if (hz <= 0) hz = 100;
  if (page <= 0) page = 4096;
  struct dirent *e;
  char path[64], buf[1024];
  while ((e = readdir(d))) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (read_file(NULL, path, buf, sizeof buf) != 0) continue;
    char *p = strrchr(buf, ')');
    if (!p) continue;
    /* fields after the command: state(3) ppid pgrp session ... utime(14) stime(15) ... rss(24) */
    char state;
    int ppid, pgrp, session;
    if (sscanf(p + 1, " %c %d %d %d", &state, &ppid, &pgrp, &session) != 4 || session != sid) continue;
    char *f = p + 2;
    unsigned long long utime = 0, stime = 0;
    long long rss = 0;
    int field = 3;
    for (char *t = f; *t && field <= 24; field++) {
      if (field == 14) utime = strtoull(t, NULL, 10);
      if (field == 15) stime = strtoull(t, NULL, 10);
      if (field == 24) rss = strtoll(t, NULL, 10);
      t = strchr(t, ' ');
      if (!t) break;
      t++;
    }
    u->cpus_user_time_secs += (double)utime / (double)hz;
    u->cpus_system_time_secs += (double)stime / (double)hz;
    if (rss > 0) u->mem_rss_bytes += (uint64_t)rss * (uint64_t)page;
    u->processes++;
  }
  closedir(d);
  u->mem_total_bytes = u->mem_rss_bytes;
  return 0;
}
