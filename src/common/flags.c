/* flags: see flags.h. */
#include "common/flags.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

int mz_parse_duration(const char *s, double *seconds) {
  if (!s || !*s) return -1;
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (errno || end == s || !isfinite(v) || v < 0) return -1;
  static const struct { const char *unit; double mult; } units[] = {
      {"", 1},       {"ns", 1e-9},   {"us", 1e-6},   {"ms", 1e-3},       {"secs", 1},
      {"sec", 1},    {"s", 1},       {"mins", 60},   {"min", 60},        {"hrs", 3600},
      {"hr", 3600},  {"days", 86400}, {"day", 86400}, {"weeks", 604800}, {"week", 604800},
  };
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(end, units[i].unit) == 0) {
      *seconds = v * units[i].mult;
      return 0;
    }
  }
  return -1;
}

int mz_parse_bytes(const char *s, uint64_t *bytes) {
  if (!s || !isdigit((unsigned char)*s)) return -1;
  uint64_t v = 0;
  for (; isdigit((unsigned char)*s); s++) {
    if (v > (UINT64_MAX - 9) / 10) return -1;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
  for (unsigned i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcasecmp(s, units[i]) != 0) continue;
    if (i > 0 && v > (UINT64_MAX >> (10 * i))) return -1;
    *bytes = v << (10 * i);
    return 0;
  }
  return -1;
}

static int set_value(const mz_flag *f, const char *value, char *err, size_t errlen) {
  char *end;
  switch (f->type) {
    case MZ_FLAG_STRING:
      *(const char **)f->dest = value;
      return 0;
    case MZ_FLAG_INT: {
      errno = 0;
      long v = strtol(value, &end, 10);
      if (errno || end == value || *end) break;
      *(long *)f->dest = v;
      return 0;
    }
    case MZ_FLAG_DOUBLE: {
      errno = 0;
      double v = strtod(value, &end);
      if (errno || end == value || *end || !isfinite(v)) break;
      *(double *)f->dest = v;
      return 0;
    }
    case MZ_FLAG_BOOL:
      if (!strcmp(value, "true") || !strcmp(value, "1")) { *(int *)f->dest = 1; return 0; }
      if (!strcmp(value, "false") || !strcmp(value, "0")) { *(int *)f->dest = 0; return 0; }
      break;
    case MZ_FLAG_DURATION:
      if (mz_parse_duration(value, (double *)f->dest) == 0) return 0;
      break;
    case MZ_FLAG_BYTES:
      if (mz_parse_bytes(value, (uint64_t *)f->dest) == 0) return 0;
      break;
  }
  static const char *const kinds[] = {"a string", "an integer", "a number", "true or false",
                                      "a duration such as 5secs or 100ms", "a size such as 512MB or 2GB"};
  snprintf(err, errlen, "flag --%s: invalid value '%s' (expected %s)", f->name, value,
           kinds[f->type]);
  return -1;
}

static const mz_flag *find(const mz_flag *flags, size_t n, const char *name, size_t len) {
  for (size_t i = 0; i < n; i++)
    if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0) return &flags[i];
  return NULL;
}

int mz_flags_parse(const mz_flag *flags, size_t n, int argc, char **argv, int *first_positional,
                   int *help_requested, char *err, size_t errlen) {
  if (help_requested) *help_requested = 0;
  /* Environment first, so that the command line overrides it. */
  for (size_t i = 0; i < n; i++) {
    char env[128] = "MEZZO_";
    size_t k = 6;
    for (const char *p = flags[i].name; *p && k < sizeof env - 1; p++) env[k++] = (char)toupper((unsigned char)*p);
    env[k] = 0;
    const char *v = getenv(env);
    if (v && set_value(&flags[i], v, err, errlen) < 0) {
      size_t l = strlen(err);
      snprintf(err + l, errlen - l, " (from environment variable %s)", env);
      return -1;
    }
  }
  int pos = argc;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0 || a[2] == 0) {
      if (pos == argc) pos = i;
      continue;
    }
    a += 2;
    if (!strcmp(a, "help")) {
      if (help_requested) *help_requested = 1;
      continue;
    }
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    const mz_flag *f = find(flags, n, a, len);
    if (!f && !eq && strncmp(a, "no-", 3) == 0) {
      f = find(flags, n, a + 3, len - 3);
      if (f && f->type == MZ_FLAG_BOOL) {
        *(int *)f->dest = 0;
        continue;
      }
      f = NULL;
    }
    if (!f) {
      snprintf(err, errlen, "unknown flag --%.*s (see --help)", (int)len, a);
      return -1;
    }
    const char *value = eq ? eq + 1 : NULL;
    if (!value) {
      if (f->type == MZ_FLAG_BOOL) {
        *(int *)f->dest = 1;
        continue;
      }
      if (i + 1 >= argc) {
        snprintf(err, errlen, "flag --%s: missing value", f->name);
        return -1;
      }
      value = argv[++i];
    }
    if (set_value(f, value, err, errlen) < 0) return -1;
  }
  if (first_positional) *first_positional = pos;
  return 0;
}

void mz_flags_usage(FILE *out, const char *prog, const mz_flag *flags, size_t n) {
  fprintf(out, "Usage: %s [flags]\n\nEvery flag can also be set as MEZZO_<FLAG> in the environment.\n\n", prog);
  for (size_t i = 0; i < n; i++) fprintf(out, "  --%-28s %s\n", flags[i].name, flags[i].help ? flags[i].help : "");
}

int mz_flags_main(const char *prog, const mz_flag *flags, size_t n, int argc, char **argv,
                  const char *const *logging_level) {
  char err[1024];
  int help = 0, first = argc;
  if (mz_flags_parse(flags, n, argc, argv, &first, &help, err, sizeof err) != 0) {
    fprintf(stderr, "%s: %s\n", prog, err);
    return 2;
  }
  if (help) {
    mz_flags_usage(stdout, prog, flags, n);
    return 0;
  }
  if (first < argc) {
    fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[first]);
    return 2;
  }
  mz_log_level level;
  if (mz_log_level_parse(*logging_level, &level) != 0) {
    fprintf(stderr, "%s: flag --logging_level: invalid value '%s' (expected DEBUG, INFO, WARNING or ERROR)\n", prog,
            *logging_level ? *logging_level : "");
    return 2;
  }
  mz_log_set_level(level);
  return -1;
}
