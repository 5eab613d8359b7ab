/* bench-allocator: the allocator in process, no network. For each
 * configuration it builds N agents (cpus:16;mem:65536;disk:100000;
 * ports:[31000-32000]) and M frameworks that all want resources, then times one
 * full allocation cycle of the default allocator (weighted hierarchical DRF)
 * in which every agent has free resources: wall time of the pass, the offers
 * made (the offer callback only counts, as a master that keeps up would), and
 * prints `allocator agents=N frameworks=M cycle_ms=X offers=K`. Frameworks are
 * spread over 10 roles so that the role tree is exercised too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/resources.h"
#include "common/util.h"
#include "master/allocator.h"

static size_t offers;

static int on_offer(void *ctx, const char *fw, const char *agent, const char *role, const mz_resources *res) {
  offers++;
  return 0;
}
static void on_done(void *ctx) {}

static void run(size_t nagents, size_t nfws) {
  const mz_allocator_ops *ops = &mz_allocator_drf;
  mz_allocator_env env = {.offer = on_offer, .offers_done = on_done};
  char err[256];
  void *a = ops->create(&env, err, sizeof err);
  mz_resources *total = mz_resources_parse("cpus:16;mem:65536;disk:100000;ports:[31000-32000]", NULL, err, sizeof err);
  char id[64];
  for (size_t i = 0; i < nagents; i++) {
    snprintf(id, sizeof id, "agent-%zu", i);
    ops->add_agent(a, id, total);
  }
  for (size_t i = 0; i < nfws; i++) {
    char role[32];
    snprintf(role, sizeof role, "team%zu", i % 10);
    const char *roles[] = {role};
    snprintf(id, sizeof id, "framework-%zu", i);
    ops->add_framework(a, id, roles, 1, NULL, 0, true);
  }
  offers = 0;
  double t0 = mz_monotonic();
  mz_drf_run_now(a);
  double ms = (mz_monotonic() - t0) * 1e3;
  printf("allocator agents=%zu frameworks=%zu cycle_ms=%.1f offers=%zu\n", nagents, nfws, ms, offers);
  fflush(stdout);
  ops->destroy(a);
  mz_resources_free(total);
}

int main(int argc, char **argv) {
  mz_log_set_level(MZ_LOG_ERROR);
  size_t agents[] = {1000, 10000, 50000}, fws[] = {100, 1000};
  for (size_t i = 0; i < 3; i++)
    for (size_t k = 0; k < 2; k++) run(agents[i], fws[k]);
  return 0;
}
