/* registry: backend lookup, the in-memory backend and state helpers (see registry.h). */
#include "master/registry.h"
#include "master/registry_zk.h"

#include <stdlib.h>
#include <string.h>

const mz_registry_backend *mz_registry_backend_find(const char *name) {
  if (!name || !*name || !strcmp(name, "sqlite")) return &mz_registry_sqlite;
  if (!strcmp(name, "in_memory")) return &mz_registry_in_memory;
  if (!strcmp(name, "zk")) return &mz_registry_zk;
  return NULL;
}

void mz_reg_state_free(mz_reg_state *s) {
  if (!s) return;
  for (size_t i = 0; i < s->nagents; i++) {
    free(s->agents[i].id);
    free(s->agents[i].data);
  }
  for (size_t i = 0; i < s->nweights; i++) free(s->weights[i].role);
  for (size_t i = 0; i < s->nquotas; i++) {
    free(s->quotas[i].role);
    free(s->quotas[i].config);
  }
  for (size_t i = 0; i < s->nvalues; i++) {
    free(s->values[i].key);
    free(s->values[i].text);
  }
  free(s->values);
  free(s->agents);
  free(s->weights);
  free(s->quotas);
  memset(s, 0, sizeof *s);
}

/* in_memory: nothing survives the process, so nothing needs keeping at all. */
static int mem_token;

static void *mem_open(const char *location, char *err, size_t errlen) {
  (void)location;
  (void)err;
  (void)errlen;
  return &mem_token;
}

static void mem_close(void *b) { (void)b; }

static int mem_load(void *b, mz_reg_state *out, char *err, size_t errlen) {
  (void)b;
  (void)err;
  (void)errlen;
  memset(out, 0, sizeof *out);
  return 0;
}

static int mem_apply(void *b, const mz_reg_op *ops, size_t n, char *err, size_t errlen) {
  (void)b;
  (void)ops;
  (void)n;
  (void)err;
  (void)errlen;
  return 0;
}

const mz_registry_backend mz_registry_in_memory = {
    .name = "in_memory", .open = mem_open, .close = mem_close, .load = mem_load, .apply = mem_apply};
