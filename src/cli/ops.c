/* ops: see ops.h. */
#include "cli/ops.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/http.h"
#include "common/util.h"

static const mz_flag *find_flag(const mz_flag *f, size_t n, const char *a, size_t len) {
  for (size_t i = 0; i < n; i++)
    if (strlen(f[i].name) == len && !strncmp(f[i].name, a, len)) return &f[i];
  return NULL;
}

int mz_cli_ops_parse(mz_cli_ctx *c, const char *prog, const mz_flag *extra, size_t nextra, int argc, char **argv,
                     int min_args, int max_args, void (*usage)(FILE *)) {
  memset(c, 0, sizeof *c);
  c->prog = prog;
  mz_flag flags[MZ_CLI_MAX_FLAGS];
  size_t n = 0;
  flags[n++] = (mz_flag){"master", MZ_FLAG_STRING, &c->master, "HOST:PORT of the master"};
  flags[n++] = (mz_flag){"json", MZ_FLAG_BOOL, &c->json, "print JSON"};
  for (size_t i = 0; i < nextra && n < MZ_CLI_MAX_FLAGS; i++) flags[n++] = extra[i];
  char err[512];
  int help = 0, pos;
  if (mz_flags_parse(flags, n, argc, argv, &pos, &help, err, sizeof err) != 0) {
    fprintf(stderr, "%s: %s\n", prog, err);
    return MZ_CLI_EXIT_USAGE;
  }
  if (help) {
    usage(stdout);
    return MZ_CLI_EXIT_OK;
  }
  /* Positionals: arguments that are neither flags nor the value of a "--flag value". */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strncmp(a, "--", 2) && a[2]) {
      const char *name = a + 2;
      if (!strchr(name, '=')) {
        const mz_flag *f = find_flag(flags, n, name, strlen(name));
        if (f && f->type != MZ_FLAG_BOOL) i++;
      }
      continue;
    }
    if (c->nargs >= max_args || c->nargs >= MZ_CLI_MAX_ARGS) {
      fprintf(stderr, "%s: unexpected argument '%s'\n", prog, a);
      return MZ_CLI_EXIT_USAGE;
    }
    c->args[c->nargs++] = a;
  }
  if (c->nargs < min_args) {
    fprintf(stderr, "%s: missing argument (see --help)\n", prog);
    usage(stderr);
    return MZ_CLI_EXIT_USAGE;
  }
  if (mz_cli_parse_master(c->master, c->host, sizeof c->host, &c->port, err, sizeof err) != 0) {
    fprintf(stderr, "%s: %s\n", prog, err);
    return MZ_CLI_EXIT_USAGE;
  }
  return -1;
}

/* The master's text for an error status: its body, trimmed to one line. */
static void print_http_error(mz_cli_ctx *c, const char *what, int status, const char *body, size_t len) {
  size_t n = len > 500 ? 500 : len;
  while (n && (body[n - 1] == '\n' || body[n - 1] == '\r')) n--;
  fprintf(stderr, "%s: %s answered %d: %.*s\n", c->prog, what, status, (int)n, body ? body : "");
}

static int request(mz_cli_ctx *c, const char *method, const char *path, const char *const *headers, const char *body,
                   json_t **out) {
  char *resp = NULL;
  size_t len = 0;
  char err[512];
  if (out) *out = NULL;
  int status = mz_http_fetch(c->host, c->port, method, path, headers, body, body ? strlen(body) : 0, &resp, &len,
                             MZ_CLI_TIMEOUT, err, sizeof err);
  if (status == 0) {
    fprintf(stderr, "%s: cannot reach master at %s:%d: %s\n", c->prog, c->host, c->port, err);
    free(resp);
    return MZ_CLI_EXIT_FAIL;
  }
  if (status < 200 || status >= 300) {
    char what[600];
    snprintf(what, sizeof what, "master at %s:%d (%s %s)", c->host, c->port, method, path);
    print_http_error(c, what, status, resp, len);
    free(resp);
    return MZ_CLI_EXIT_FAIL;
  }
  if (out && len) {
    json_error_t jerr;
    *out = json_loadb(resp, len, JSON_DECODE_ANY, &jerr);
    if (!*out) {
      fprintf(stderr, "%s: master at %s:%d sent invalid JSON for %s: %s\n", c->prog, c->host, c->port, path, jerr.text);
      free(resp);
      return MZ_CLI_EXIT_FAIL;
    }
  }
  free(resp);
  return 0;
}

int mz_cli_get_json(mz_cli_ctx *c, const char *path, json_t **out) {
  const char *headers[] = {"Accept", "application/json", NULL};
  int rc = request(c, "GET", path, headers, NULL, out);
  if (rc == 0 && !*out) {
    fprintf(stderr, "%s: master sent an empty answer for %s\n", c->prog, path);
    return MZ_CLI_EXIT_FAIL;
  }
  return rc;
}

int mz_cli_api(mz_cli_ctx *c, json_t *call, json_t **out) {
  char *body = json_dumps(call, JSON_COMPACT);
  if (!body) {
    fprintf(stderr, "%s: out of memory\n", c->prog);
    return MZ_CLI_EXIT_FAIL;
  }
  const char *headers[] = {"Content-Type", "application/json", "Accept", "application/json", NULL};
  json_t *tmp = NULL;
  int rc = request(c, "POST", "/api/v1", headers, body, &tmp);
  free(body);
  if (out) *out = tmp;
  else json_decref(tmp);
  return rc;
}

void mz_cli_print_json(const json_t *v) {
  char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
  if (text) {
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text);
  }
}

void mz_cli_urlencode(const char *s, char *out, size_t outlen) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = 0;
  for (; *s && n + 4 < outlen; s++) {
    unsigned char ch = (unsigned char)*s;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-_.~", ch)) {
      out[n++] = (char)ch;
    } else {
      out[n++] = '%';
      out[n++] = hex[ch >> 4];
      out[n++] = hex[ch & 15];
    }
  }
  out[n] = 0;
}

/* ------------------------------------------------------------------ table */

struct mz_cli_table {
  int ncols;
  char **cells; /* rows * ncols, row 0 the headers */
  size_t rows, cap;
};

mz_cli_table *mz_cli_table_new(int ncols, const char *const *headers) {
  mz_cli_table *t = mz_calloc(1, sizeof *t);
  t->ncols = ncols;
  mz_cli_table_add(t, headers);
  return t;
}

void mz_cli_table_add(mz_cli_table *t, const char *const *cells) {
  if (t->rows == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 16;
    t->cells = mz_realloc(t->cells, t->cap * (size_t)t->ncols * sizeof *t->cells);
  }
  for (int i = 0; i < t->ncols; i++) t->cells[t->rows * (size_t)t->ncols + (size_t)i] = mz_strdup(cells[i] ? cells[i] : "-");
  t->rows++;
}

void mz_cli_table_print(mz_cli_table *t, FILE *out) {
  size_t *w = mz_calloc((size_t)t->ncols, sizeof *w);
  for (size_t r = 0; r < t->rows; r++)
    for (int i = 0; i < t->ncols; i++) {
      size_t l = strlen(t->cells[r * (size_t)t->ncols + (size_t)i]);
      if (l > w[i]) w[i] = l;
    }
  for (size_t r = 0; r < t->rows; r++) {
    for (int i = 0; i < t->ncols; i++) {
      const char *s = t->cells[r * (size_t)t->ncols + (size_t)i];
      if (i == t->ncols - 1) fprintf(out, "%s", s);
      else fprintf(out, "%-*s  ", (int)w[i], s);
    }
    fputc('\n', out);
  }
  for (size_t k = 0; k < t->rows * (size_t)t->ncols; k++) free(t->cells[k]);
  free(t->cells);
  free(w);
  free(t);
}

/* ---------------------------------------------------------------- helpers */

const char *mz_cli_str(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s && *s ? s : "-";
}

double mz_cli_num(const json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return json_is_number(v) ? json_number_value(v) : 0.0;
}

void mz_cli_fmt_res(const json_t *res, char *out, size_t len) {
  snprintf(out, len, "cpus %g, mem %g MB, disk %g MB", mz_cli_num(res, "cpus"), mz_cli_num(res, "mem"),
           mz_cli_num(res, "disk"));
  double gpus = mz_cli_num(res, "gpus");
  if (gpus > 0) {
    size_t l = strlen(out);
    snprintf(out + l, len - l, ", gpus %g", gpus);
  }
}

void mz_cli_fmt_time(double secs, char *out, size_t len) {
  if (secs <= 0) {
    snprintf(out, len, "-");
    return;
  }
  time_t t = (time_t)secs;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
