/* allocator: what every allocator shares: finding one by name or loading a
 * module (dlopen) with a version check, parsing --weights, and Filters'
 * refuse_seconds as Mesos reads it. */
#include "master/allocator.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/resources.h"
#include "common/util.h"

double mz_allocator_refuse_seconds(bool has, double value) {
  if (!has) return MZ_REFUSE_SECONDS_DEFAULT;
  if (isnan(value) || value < 0) return MZ_REFUSE_SECONDS_DEFAULT;
  if (value > MZ_REFUSE_SECONDS_MAX) return MZ_REFUSE_SECONDS_MAX;
  return value;
}

const mz_allocator_ops *mz_allocator_load(const char *name, char *err, size_t errlen) {
  if (!name || !*name || !strcmp(name, "drf") || !strcmp(name, "default")) return &mz_allocator_drf;
  if (!strcmp(name, "priority")) return &mz_allocator_priority;
  if (!strchr(name, '/')) {
    snprintf(err, errlen, "unknown allocator '%s' (built in: drf, priority; or the path of a module .so)", name);
    return NULL;
  }
  void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(err, errlen, "cannot load allocator module %s: %s", name, dlerror());
    return NULL;
  }
  const mz_allocator_ops *ops = dlsym(h, "mz_allocator_module");
  if (!ops) {
    snprintf(err, errlen, "%s does not export 'mz_allocator_module'", name);
    dlclose(h);
    return NULL;
  }
  if (ops->version != MZ_ALLOCATOR_API_VERSION) {
    snprintf(err, errlen, "%s implements allocator API version %d; this master speaks version %d", name,
             ops->version, MZ_ALLOCATOR_API_VERSION);
    dlclose(h);
    return NULL;
  }
  if (!ops->create || !ops->destroy || !ops->add_framework || !ops->remove_framework || !ops->activate_framework ||
      !ops->deactivate_framework || !ops->suppress || !ops->revive || !ops->add_agent || !ops->remove_agent ||
      !ops->activate_agent || !ops->deactivate_agent || !ops->add_allocation || !ops->recover ||
      !ops->request_allocation) {
    snprintf(err, errlen, "%s: allocator module lacks a required entry point", name);
    dlclose(h);
    return NULL;
  }
  MZ_INFO("master", "loaded allocator module '%s' from %s", ops->name ? ops->name : "?", name);
  return ops; /* the module stays loaded for the life of the process */
}

void mz_weights_free(char **roles, double *weights, size_t n) {
  for (size_t i = 0; i < n; i++) free(roles[i]);
  free(roles);
  free(weights);
}

int mz_weights_parse(const char *text, char ***roles_out, double **weights_out, size_t *n_out, char *err,
                     size_t errlen) {
  *roles_out = NULL;
  *weights_out = NULL;
  *n_out = 0;
  if (!text || !*text) return 0;
  char **roles = NULL;
  double *weights = NULL;
  size_t n = 0;
  char *copy = mz_strdup(text), *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (isspace((unsigned char)*tok)) tok++;
    char *eq = strchr(tok, '=');
    if (!eq) {
      snprintf(err, errlen, "weight '%s' is not of the form role=weight", tok);
      goto fail;
    }
    *eq = 0;
    char *role = tok, *end;
    size_t rl = strlen(role);
    while (rl && isspace((unsigned char)role[rl - 1])) role[--rl] = 0;
    char why[256];
    if (mz_role_valid(role, false, why, sizeof why) != 0) {
      snprintf(err, errlen, "invalid role in weights: %s", why);
      goto fail;
    }
    errno = 0;
    double w = strtod(eq + 1, &end);
    while (isspace((unsigned char)*end)) end++;
    if (*end || errno || !(w > 0) || isinf(w)) {
      snprintf(err, errlen, "weight of role '%s' must be a positive number, got '%s'", role, eq + 1);
      goto fail;
    }
    for (size_t i = 0; i < n; i++)
      if (!strcmp(roles[i], role)) {
        snprintf(err, errlen, "role '%s' has two weights", role);
        goto fail;
      }
    roles = mz_realloc(roles, (n + 1) * sizeof *roles);
    weights = mz_realloc(weights, (n + 1) * sizeof *weights);
    roles[n] = mz_strdup(role);
    weights[n] = w;
    n++;
  }
  free(copy);
  *roles_out = roles;
  *weights_out = weights;
  *n_out = n;
  return 0;
fail:
  free(copy);
  mz_weights_free(roles, weights, n);
  return -1;
}
