/* bench-spawn: the machine's limit for starting processes, the yardstick of
 * `make bench-launch`. Spawns /bin/true with posix_spawn N times, keeping two
 * running at a time (as many as the 2-core machines this runs on), and prints
 *   spawn count=N seconds=S spawns_per_s=R
 * Usage: bench-spawn [N] (default 5000). */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? strtol(argv[1], NULL, 10) : 5000;
  if (n <= 0 || n > 10000000) {
    fprintf(stderr, "usage: bench-spawn [count (1..10000000)]\n");
    return 2;
  }
  char *args[] = {"true", NULL};
  const int parallel = 2;
  long started = 0, done = 0;
  int running = 0;
  double t0 = now();
  while (done < n) {
    while (running < parallel && started < n) {
      pid_t pid;
      int rc = posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ);
      if (rc != 0) {
        fprintf(stderr, "bench-spawn: posix_spawn: error %d\n", rc);
        return 1;
      }
      started++;
      running++;
    }
    int st;
    if (wait(&st) > 0) {
      running--;
      done++;
    }
  }
  double secs = now() - t0;
  printf("spawn count=%ld seconds=%.3f spawns_per_s=%.1f\n", n, secs, (double)n / secs);
  return 0;
}
