/* fake_nvml: a stand-in for libnvidia-ml.so.1, for tests only (never installed).
 * It exports the NVML functions mezzo-agent looks up (src/agent/gpu.c) and
 * pretends the machine has FAKE_NVML_GPUS GPUs (environment; default 0), with
 * index i at minor number FAKE_NVML_MINOR_BASE + i (default base 0) and name
 * "Fake GPU <i>". FAKE_NVML_INIT_FAIL=1 makes nvmlInit_v2 fail. Built as a
 * MODULE library into <build>/lib/libfake_nvml.so; no state but a counter of
 * nvmlInit_v2 calls. */
#include <stdio.h>
#include <stdlib.h>

#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_DRIVER_NOT_LOADED 9
#define MAX_FAKE 64

typedef struct fake_device { unsigned index; } fake_device;
static fake_device devices[MAX_FAKE];
static int initialized;

static unsigned env_unsigned(const char *name, unsigned def) {
  const char *v = getenv(name);
  if (!v || !*v) return def;
  char *end;
  unsigned long x = strtoul(v, &end, 10);
  return *end ? def : (unsigned)x;
}

static unsigned count(void) {
  unsigned n = env_unsigned("FAKE_NVML_GPUS", 0);
  return n > MAX_FAKE ? MAX_FAKE : n;
}

int nvmlInit_v2(void) {
  if (env_unsigned("FAKE_NVML_INIT_FAIL", 0)) return NVML_ERROR_DRIVER_NOT_LOADED;
  for (unsigned i = 0; i < MAX_FAKE; i++) devices[i].index = i;
  initialized++;
  return NVML_SUCCESS;
}

int nvmlShutdown(void) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  initialized--;
  return NVML_SUCCESS;
}

int nvmlDeviceGetCount_v2(unsigned *n) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (!n) return NVML_ERROR_INVALID_ARGUMENT;
  *n = count();
  return NVML_SUCCESS;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned index, void **device) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (!device || index >= count()) return NVML_ERROR_INVALID_ARGUMENT;
  *device = &devices[index];
  return NVML_SUCCESS;
}

int nvmlDeviceGetMinorNumber(void *device, unsigned *minor) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (!device || !minor) return NVML_ERROR_INVALID_ARGUMENT;
  *minor = env_unsigned("FAKE_NVML_MINOR_BASE", 0) + ((fake_device *)device)->index;
  return NVML_SUCCESS;
}

int nvmlDeviceGetName(void *device, char *name, unsigned length) {
  if (!initialized) return NVML_ERROR_UNINITIALIZED;
  if (!device || !name || length == 0) return NVML_ERROR_INVALID_ARGUMENT;
  snprintf(name, length, "Fake GPU %u", ((fake_device *)device)->index);
  return NVML_SUCCESS;
}

const char *nvmlErrorString(int result) {
  switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    default: return "Unknown Error";
  }
}
