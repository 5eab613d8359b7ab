/* flags: command-line flags in Mesos's style (--name=value, --name value,
 * --name / --no-name for booleans), each also read from the environment as
 * MEZZO_<NAME> (upper case). The command line wins over the environment.
 * A flag table is owned by the caller; parsed values are written to `dest`
 * (strings point into argv/environ or to the default, and are not freed). */
#ifndef MZ_FLAGS_H
#define MZ_FLAGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
  MZ_FLAG_STRING,   /* const char **dest */
  MZ_FLAG_INT,      /* long *dest */
  MZ_FLAG_DOUBLE,   /* double *dest */
  MZ_FLAG_BOOL,     /* int *dest (0/1) */
  MZ_FLAG_DURATION, /* double *dest, seconds; accepts "5secs", "100ms", "2mins", "1hrs", "3days", "0.5" */
  MZ_FLAG_BYTES     /* uint64_t *dest; Mesos's Bytes: "512B", "64KB", "2GB", "1TB" (units of 1024) */
} mz_flag_type;

typedef struct {
  const char *name;
  mz_flag_type type;
  void *dest;
  const char *help;
} mz_flag;

/* Parses argv[1..argc) and the environment into the table. Positional
 * (non-flag) arguments are left in place: *first_positional, if not NULL,
 * receives the index of the first one (or argc).  Returns 0, or -1 with a
 * message naming the flag in err (unknown flag, missing or malformed value).
 * "--help" sets *help_requested (if given) and returns 0. */
int mz_flags_parse(const mz_flag *flags, size_t n, int argc, char **argv, int *first_positional,
                   int *help_requested, char *err, size_t errlen);

/* Parses a Mesos duration ("5secs", "250ms", "1mins", "2hrs", "1days", "1weeks",
 * "10us", "10ns", or a bare number of seconds). Returns 0 or -1. */
int mz_parse_duration(const char *s, double *seconds);

/* Parses Mesos's Bytes: digits then B, KB, MB, GB or TB (any case; K = 1024); no
 * fraction, no bare number. Returns 0 or -1 (also on overflow). */
int mz_parse_bytes(const char *s, uint64_t *bytes);

/* Prints "  --name  help" lines. */
void mz_flags_usage(FILE *out, const char *prog, const mz_flag *flags, size_t n);

/* What a daemon's main (master, agent, simulator) does first: parses argv against
 * the table, answers --help with the usage on stdout, refuses positional arguments
 * and sets the log level from *logging_level (a string flag of the table: DEBUG,
 * INFO, WARNING or ERROR). An error goes to stderr as "<prog>: <message>", naming
 * the flag. Returns -1 when main goes on; otherwise the code main returns (0 after
 * --help, 2 after an error). */
int mz_flags_main(const char *prog, const mz_flag *flags, size_t n, int argc, char **argv,
                  const char *const *logging_level);

#endif
