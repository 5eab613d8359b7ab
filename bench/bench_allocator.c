/* bench-allocator: the allocator in process, no network. For each
 * configuration it builds N agents (cpus:16;mem:65536;disk:100000;
 * ports:[31000-32000]) and M frameworks that all want resources, then times one
 * full allocation cycle of the default allocator (weighted hierarchical DRF)
 * in which every agent has free resources: wall time of the pass, the offers
 * made (the offer callback only counts, as a master that keeps up would), and
 * prints `allocator agents=N frameworks=M cycle_ms=X offers=K`. Frameworks are
 * spread over 10 roles so that the role tree is exercised too. Then the same
 * configurations again, where after the first cycle every framework launched
 * one task (cpus:1;mem:1024) on each agent it was offered and declined the
 * rest: `allocator_busy ...` times the second cycle, in which each offer merges
 * into what the agent already has allocated. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/resources.h"
#include "common/util.h"
#include "master/allocator.h"

static size_t offers;
static const char **taker; /* per agent index: the framework id it was offered to (the allocator's string) */

static int on_offer(void *ctx, const char *fw, const char *agent, const char *role, const mz_resources *res) {
  offers++;
  taker[strtoul(agent + 6, NULL, 10)] = fw; /* "agent-<i>" */
  return 0;
}
static void on_done(void *ctx) {}

static void run(size_t nagents, size_t nfws, bool busy) {
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
  taker = calloc(nagents, sizeof *taker);
  offers = 0;
  double t0 = mz_monotonic();
  mz_drf_run_now(a);
  double ms = (mz_monotonic() - t0) * 1e3;
  if (!busy) printf("allocator agents=%zu frameworks=%zu cycle_ms=%.1f offers=%zu\n", nagents, nfws, ms, offers);
  fflush(stdout);
  if (busy) {
    /* Each framework launches one task on each agent it was offered and declines
     * the rest (no filter); the next cycle re-offers what every agent has left. */
    mz_resources *task = mz_resources_parse("cpus:1;mem:1024", NULL, err, sizeof err);
    mz_resources *rest = mz_resources_copy(total);
    mz_resources_subtract(rest, task, NULL, 0);
    for (size_t i = 0; i < nagents; i++) {
      if (!taker[i]) continue;
      snprintf(id, sizeof id, "agent-%zu", i);
      ops->recover(a, id, taker[i], rest, 0);
    }
    offers = 0;
    t0 = mz_monotonic();
    mz_drf_run_now(a);
    ms = (mz_monotonic() - t0) * 1e3;
    printf("allocator_busy agents=%zu frameworks=%zu cycle_ms=%.1f offers=%zu\n", nagents, nfws, ms, offers);
    fflush(stdout);
    mz_resources_free(task);
    mz_resources_free(rest);
  }
  ops->destroy(a);
  free(taker);
  mz_resources_free(total);
}

int main(int argc, char **argv) {
  mz_log_set_level(MZ_LOG_ERROR);
  size_t agents[] = {1000, 10000, 50000}, fws[] = {100, 1000};
  for (size_t i = 0; i < 3; i++)
    for (size_t k = 0; k < 2; k++) run(agents[i], fws[k], false);
  /* The same after every agent got one task: offers now merge into what is allocated. */
  for (size_t i = 0; i < 3; i++)
    for (size_t k = 0; k < 2; k++) run(agents[i], fws[k], true);
  return 0;
}
