/* util: small helpers shared by every binary: UUIDs (Mesos status update uuids
 * and generated ids), clocks and timers, bounded string copies. No state, no allocation
 * except where a function says it returns a malloc'd value. */
#ifndef MZ_UTIL_H
#define MZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define MZ_UUID_BYTES 16
#define MZ_UUID_STR 37 /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL */

/* Random (version 4) UUID from getrandom(2). */
void mz_uuid_generate(uint8_t out[MZ_UUID_BYTES]);
/* Lower-case 8-4-4-4-12 text form. */
void mz_uuid_format(const uint8_t uuid[MZ_UUID_BYTES], char out[MZ_UUID_STR]);
/* A fresh random UUID in text form. */
void mz_uuid_string(char out[MZ_UUID_STR]);

/* Seconds since the epoch (wall clock), with sub-second precision. */
double mz_now(void);
/* Seconds from an arbitrary fixed point (CLOCK_MONOTONIC), for durations and timeouts. */
double mz_monotonic(void);
/* Arms a libevent timer to fire in `seconds` (a negative value is 0). */
struct event;
void mz_timer_in(struct event *ev, double seconds);

/* Copies at most dstlen-1 bytes and always terminates; returns -1 if truncated. */
int mz_strlcpy(char *dst, const char *src, size_t dstlen);
/* strdup that aborts on out-of-memory (allocation failure is not a recoverable state here). */
char *mz_strdup(const char *s);
/* malloc/calloc/realloc that abort on out-of-memory. */
void *mz_malloc(size_t n);
void *mz_calloc(size_t n, size_t size);
void *mz_realloc(void *p, size_t n);

/* Ids are printable ASCII without '/' and not "." or "..": Mesos's rule for task,
 * executor and framework ids (they become sandbox path components). Max length MZ_ID_MAX. */
#define MZ_ID_MAX 255
int mz_id_valid(const char *id, char *err, size_t errlen);

/* Closes every descriptor from lowfd up (close_range where the kernel has it);
 * for a forked child before it execs or works. Async-signal-safe. */
void mz_close_fds_from(int lowfd);

/* A program the agent starts (our mezzo-executor) may join its container's cgroups
 * itself: the agent leaves the cgroup.procs files open at the fds this variable
 * lists ("4,5,6"), so that the agent need not wait in vfork while the child joins
 * (a cgroups v1 migration waits for an RCU grace period). */
#define MZ_CGROUP_FDS_ENV "MEZZO_CGROUP_PROCS_FDS"
#define MZ_CGROUP_FDS_MAX 8
/* Joins them: writes "0" to each fd listed in MZ_CGROUP_FDS_ENV, closes it and
 * removes the variable. 0 (also when it is not set), or -1 with err; call before
 * starting any other process or thread. */
int mz_cgroups_join_from_env(char *err, size_t errlen);

/* printf into err (nothing when err is NULL or errlen 0): the error-message helper
 * of functions that take (char *err, size_t errlen). */
void mz_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Narrows [*s, *e) to leave out the whitespace around it. */
void mz_trim(const char **s, const char **e);

/* Writes all n bytes to fd (a blocking one), going on after EINTR and short writes.
 * 0, or -1 with errno. */
int mz_write_all(int fd, const void *data, size_t n);

#endif
