/* Unit tests of src/agent/gpu.c with the fake NVML (tests/fake_nvml, built into
 * <build>/lib/libfake_nvml.so, found from this binary's path <build>/bin/tests/):
 * enumeration, --nvidia_gpu_devices, gpus in --resources, and the allocation of
 * whole GPUs to containers and their tasks. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/gpu.h"

static char fake[PATH_MAX];

static int find_fake(void **state) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return -1;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/'); /* .../bin/tests/test_agent_gpu */
  if (!slash) return -1;
  *slash = '\0';
  if (strlen(exe) + 32 > sizeof fake) return -1;
  snprintf(fake, sizeof fake, "%.*s/../../lib/libfake_nvml.so", (int)(sizeof fake - 32), exe);
  if (access(fake, R_OK) != 0) {
    fprintf(stderr, "fake NVML not found at %s\n", fake);
    return -1;
  }
  return 0;
}

static void test_detect_and_allocate(void **state) {
  setenv("FAKE_NVML_GPUS", "3", 1);
  mz_gpus g;
  char err[512];
  assert_int_equal(mz_gpus_init(&g, NULL, NULL, fake, err, sizeof err), 0);
  assert_true(g.enabled);
  assert_int_equal(g.n, 3);
  assert_string_equal(g.dev[2].name, "Fake GPU 2");
  assert_int_equal(g.dev[1].minor, 1);

  mz_resources *r = mz_resources_parse("cpus:1;mem:128", "*", err, sizeof err);
  assert_non_null(r);
  assert_int_equal(mz_gpus_resources(&g, r, "cpus:1;mem:128", "*", 0, err, sizeof err), 0);
  assert_int_equal(mz_resources_scalar(r, "gpus"), 3 * MZ_SCALAR_UNIT);
  mz_resources_free(r);

  char vis[64];
  assert_int_equal(mz_gpu_allocate(&g, "a", NULL, 2, err, sizeof err), 0);
  assert_int_equal(mz_gpu_owned(&g, "a", vis, sizeof vis), 2);
  assert_string_equal(vis, "0,1");
  assert_int_equal(mz_gpu_task_owned(&g, "a", "", vis, sizeof vis), 2); /* the executor's own */
  assert_int_equal(mz_gpu_allocate(&g, "b", NULL, 2, err, sizeof err), -1);
  assert_non_null(strstr(err, "only 1"));
  assert_int_equal(mz_gpu_allocate(&g, "b", "", 1, err, sizeof err), 0);
  assert_int_equal(mz_gpu_owned(&g, "b", vis, sizeof vis), 1);
  assert_string_equal(vis, "2");
  assert_int_equal(mz_gpu_free_count(&g), 0);
  assert_int_equal(mz_gpu_release_task(&g, "a", "t1"), 0); /* a holds none for a task */
  assert_int_equal(mz_gpu_release(&g, "b"), 1);
  assert_int_equal(mz_gpu_release(&g, "a"), 2);
  assert_int_equal(mz_gpu_free_count(&g), 3);
  assert_int_equal(mz_gpu_owned(&g, "a", vis, sizeof vis), 0);
  assert_string_equal(vis, "");
  mz_gpus_free(&g);
}

/* GPUs given for tasks: a task's go back when it ends, whichever they are; the
 * executor's own and the other tasks' stay. */
static void test_tagged_allocation(void **state) {
  setenv("FAKE_NVML_GPUS", "4", 1);
  mz_gpus g;
  char err[512], vis[64];
  assert_int_equal(mz_gpus_init(&g, NULL, NULL, fake, err, sizeof err), 0);
  assert_int_equal(mz_gpu_allocate(&g, "c", "A", 1, err, sizeof err), 0);  /* GPU 0 */
  assert_int_equal(mz_gpu_allocate(&g, "c", "B", 1, err, sizeof err), 0);  /* GPU 1 */
  assert_int_equal(mz_gpu_allocate(&g, "c", NULL, 1, err, sizeof err), 0); /* GPU 2, the executor's */
  assert_int_equal(mz_gpu_allocate(&g, "d", "A", 1, err, sizeof err), 0);  /* GPU 3: another container's task A */
  assert_string_equal(g.dev[1].task, "B");
  assert_string_equal(g.dev[2].task, "");
  assert_int_equal(mz_gpu_task_owned(&g, "c", "A", vis, sizeof vis), 1);
  assert_string_equal(vis, "0");
  assert_int_equal(mz_gpu_task_owned(&g, "c", "B", vis, sizeof vis), 1);
  assert_string_equal(vis, "1");
  assert_int_equal(mz_gpu_task_owned(&g, "c", NULL, vis, sizeof vis), 1);
  assert_string_equal(vis, "2");
  assert_int_equal(mz_gpu_owned(&g, "c", vis, sizeof vis), 3);
  assert_string_equal(vis, "0,1,2");
  assert_int_equal(mz_gpu_allocate(&g, "c", "C", 1, err, sizeof err), -1);

  /* Task A of c ends: GPU 0 goes back (not the highest), B's and the executor's stay. */
  assert_int_equal(mz_gpu_release_task(&g, "c", "A"), 1);
  assert_int_equal(mz_gpu_release_task(&g, "c", "A"), 0);
  assert_int_equal(mz_gpu_owned(&g, "c", vis, sizeof vis), 2);
  assert_string_equal(vis, "1,2");
  assert_int_equal(mz_gpu_task_owned(&g, "d", "A", vis, sizeof vis), 1);
  assert_string_equal(vis, "3");
  assert_string_equal(g.dev[0].owner, "");
  assert_string_equal(g.dev[0].task, "");
  /* A new task gets A's former GPU. */
  assert_int_equal(mz_gpu_allocate(&g, "c", "C", 1, err, sizeof err), 0);
  assert_int_equal(mz_gpu_task_owned(&g, "c", "C", vis, sizeof vis), 1);
  assert_string_equal(vis, "0");

  /* Claims (a restarted agent): tagged as checkpointed; a held one is re-tagged. */
  assert_int_equal(mz_gpu_release(&g, "c"), 3);
  assert_int_equal(mz_gpu_claim(&g, "c", "B", 1, 1, err, sizeof err), 0);
  assert_int_equal(mz_gpu_claim(&g, "c", NULL, 2, 2, err, sizeof err), 0);
  assert_int_equal(mz_gpu_claim(&g, "c", "B", 2, 2, err, sizeof err), 0);
  assert_int_equal(mz_gpu_task_owned(&g, "c", "B", vis, sizeof vis), 2);
  assert_string_equal(vis, "1,2");
  assert_int_equal(mz_gpu_claim(&g, "c", "X", 3, 3, err, sizeof err), -1); /* d holds it */
  assert_non_null(strstr(err, "held by container d"));
  assert_int_equal(mz_gpu_claim(&g, "c", "X", 0, 5, err, sizeof err), -1); /* another minor */
  assert_int_equal(mz_gpu_claim(&g, "c", "X", 9, 9, err, sizeof err), -1); /* not managed */
  assert_int_equal(mz_gpu_release_task(&g, "c", "B"), 2);
  assert_int_equal(mz_gpu_release(&g, "d"), 1);
  assert_int_equal(mz_gpu_free_count(&g), 4);
  mz_gpus_free(&g);
}

static void test_devices_flag(void **state) {
  setenv("FAKE_NVML_GPUS", "4", 1);
  mz_gpus g;
  char err[512];
  assert_int_equal(mz_gpus_init(&g, "auto", "[3, 1]", fake, err, sizeof err), 0);
  assert_int_equal(g.n, 2);
  assert_int_equal(g.dev[0].index, 3);
  assert_int_equal(g.dev[1].index, 1);
  mz_resources *r = mz_resources_parse("cpus:1;gpus:2", "*", err, sizeof err);
  assert_int_equal(mz_gpus_resources(&g, r, "cpus:1;gpus:2", "*", 1, err, sizeof err), 0);
  mz_resources_free(r);
  r = mz_resources_parse("cpus:1", "*", err, sizeof err);
  assert_int_equal(mz_gpus_resources(&g, r, "cpus:1", "*", 1, err, sizeof err), -1); /* gpus must be named */
  mz_resources_free(r);
  mz_gpus_free(&g);

  assert_int_equal(mz_gpus_init(&g, NULL, "0,0", fake, err, sizeof err), -1);
  assert_non_null(strstr(err, "twice"));
  assert_int_equal(mz_gpus_init(&g, NULL, "[0,x]", fake, err, sizeof err), -1);
  assert_int_equal(mz_gpus_init(&g, NULL, "7", fake, err, sizeof err), -1);
  assert_non_null(strstr(err, "does not exist"));
  /* Given without gpu/nvidia in an explicit --isolation. */
  assert_int_equal(mz_gpus_init(&g, "cgroups/cpu", "0", fake, err, sizeof err), -1);
}

static void test_off(void **state) {
  mz_gpus g;
  char err[512];
  /* Detected: no library -> off with the reason, not an error. */
  assert_int_equal(mz_gpus_init(&g, NULL, NULL, "/nonexistent/libnvidia-ml.so.1", err, sizeof err), 0);
  assert_false(g.enabled);
  assert_non_null(strstr(g.reason, "cannot load NVML"));
  mz_resources *r = mz_resources_parse("cpus:1;gpus:1", "*", err, sizeof err);
  assert_int_equal(mz_gpus_resources(&g, r, "cpus:1;gpus:1", "*", 0, err, sizeof err), -1);
  assert_non_null(strstr(err, "off"));
  mz_resources_free(r);
  mz_gpus_free(&g);
  /* Required: an error. */
  assert_int_equal(mz_gpus_init(&g, "gpu/nvidia", NULL, "/nonexistent/libnvidia-ml.so.1", err, sizeof err), -1);
  /* No GPU found: off. */
  setenv("FAKE_NVML_GPUS", "0", 1);
  assert_int_equal(mz_gpus_init(&g, NULL, NULL, fake, err, sizeof err), 0);
  assert_false(g.enabled);
  mz_gpus_free(&g);
  /* nvmlInit fails. */
  setenv("FAKE_NVML_GPUS", "2", 1);
  setenv("FAKE_NVML_INIT_FAIL", "1", 1);
  assert_int_equal(mz_gpus_init(&g, NULL, NULL, fake, err, sizeof err), 0);
  assert_false(g.enabled);
  assert_non_null(strstr(g.reason, "Driver Not Loaded"));
  mz_gpus_free(&g);
  unsetenv("FAKE_NVML_INIT_FAIL");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_detect_and_allocate),
      cmocka_unit_test(test_tagged_allocation),
      cmocka_unit_test(test_devices_flag),
      cmocka_unit_test(test_off),
  };
  return cmocka_run_group_tests(tests, find_fake, NULL);
}
