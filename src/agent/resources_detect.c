/* resources_detect: what this machine offers when --resources doesn't say.
 * cpus: processors online; mem: MemTotal less what Mesos leaves to the system
 * (min(total/2, 1 GiB)); disk: the size of the work_dir's file system less
 * min(total/2, 5 GiB); ports: [31000-32000]. Values named in --resources win,
 * whatever their role. No state. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agent/agent.h"

#define GiB (1024ull * 1024ull * 1024ull)
#define MiB (1024ull * 1024ull)

uint64_t mz_default_mem_mb(uint64_t total) {
  uint64_t keep = total / 2 < GiB ? total / 2 : GiB;
  return (total - keep) / MiB;
}

uint64_t mz_default_disk_mb(uint64_t total) {
  uint64_t keep = total / 2 < 5 * GiB ? total / 2 : 5 * GiB;
  return (total - keep) / MiB;
}

int mz_detect_machine(const char *work_dir, mz_machine_info *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  out->cpus = n > 0 ? (double)n : 1.0;

  FILE *f = fopen("/proc/meminfo", "r");
  if (f) {
    char line[256];
    unsigned long long kb;
    while (fgets(line, sizeof line, f)) {
      if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) {
        out->mem_total_bytes = kb * 1024ull;
        break;
      }
    }
    fclose(f);
  }
  if (!out->mem_total_bytes) {
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psize > 0) out->mem_total_bytes = (uint64_t)pages * (uint64_t)psize;
  }
  struct statvfs sv;
  if (statvfs(work_dir, &sv) != 0) {
    snprintf(err, errlen, "statvfs %s: %s", work_dir, strerror(errno));
    return -1;
  }
  out->disk_total_bytes = (uint64_t)sv.f_blocks * (uint64_t)sv.f_frsize;
  return 0;
}

static int names(const mz_resources *r, const char *name) {
  for (size_t i = 0; r && i < r->n; i++) {
    if (!strcmp(r->v[i].name, name)) return 1;
  }
  return 0;
}

mz_resources *mz_agent_resources(const char *text, const char *default_role, const mz_machine_info *m, char *err,
                                 size_t errlen) {
  char perr[512];
  mz_resources *r;
  if (text && *text) {
    r = mz_resources_parse(text, default_role, perr, sizeof perr);
    if (!r) {
      snprintf(err, errlen, "flag --resources: %s", perr);
      return NULL;
    }
  } else {
    r = mz_resources_new();
  }
  /* Mentioned with a zero value, a resource is dropped by the parser: that still
   * counts as named, so look at the text too. */
  char defaults[256] = "";
  size_t len = 0;
  struct { const char *name; char value[64]; } d[4];
  snprintf(d[0].value, sizeof d[0].value, "cpus:%g", m->cpus);
  snprintf(d[1].value, sizeof d[1].value, "mem:%llu", (unsigned long long)mz_default_mem_mb(m->mem_total_bytes));
  snprintf(d[2].value, sizeof d[2].value, "disk:%llu", (unsigned long long)mz_default_disk_mb(m->disk_total_bytes));
  snprintf(d[3].value, sizeof d[3].value, "ports:[31000-32000]");
  d[0].name = "cpus";
  d[1].name = "mem";
  d[2].name = "disk";
  d[3].name = "ports";
  for (int i = 0; i < 4; i++) {
    if (names(r, d[i].name)) continue;
    if (text && *text) {
      /* "name:" or "name(" at the start of an entry. */
      size_t nl = strlen(d[i].name);
      const char *p = text;
      int found = 0;
      while (p && *p) {
        while (*p == ' ' || *p == ';') p++;
        if (!strncmp(p, d[i].name, nl) && (p[nl] == ':' || p[nl] == '(' || p[nl] == ' ')) found = 1;
        p = strchr(p, ';');
      }
      if (found) continue;
    }
    len += (size_t)snprintf(defaults + len, sizeof defaults - len, "%s%s", len ? ";" : "", d[i].value);
  }
  if (len) {
    mz_resources *extra = mz_resources_parse(defaults, "*", perr, sizeof perr);
    if (!extra || mz_resources_add(r, extra, perr, sizeof perr) != 0) {
      snprintf(err, errlen, "default resources '%s': %s", defaults, perr);
      mz_resources_free(extra);
      mz_resources_free(r);
      return NULL;
    }
    mz_resources_free(extra);
  }
  return r;
}
