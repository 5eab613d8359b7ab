/* ops: shared pieces of the operator commands of `mezzo` (agent, framework,
 * task, role, quota): the common flags (--master, --json), the master's
 * address, blocking HTTP calls that print what went wrong, and a small text
 * table. Every function that fails prints one line to stderr naming the
 * command, and returns an exit status (cli.h). JSON values returned through
 * out-pointers are new references owned by the caller. */
#ifndef MZ_CLI_OPS_H
#define MZ_CLI_OPS_H

#include <jansson.h>
#include <stdbool.h>

#include "cli/cli.h"
#include "common/flags.h"

#define MZ_CLI_TIMEOUT 15.0
#define MZ_CLI_MAX_ARGS 8
#define MZ_CLI_MAX_FLAGS 12

typedef struct {
  const char *prog; /* "mezzo agent list": prefix of every message */
  const char *master;
  int json;
  char host[MZ_CLI_HOST_MAX];
  int port;
  const char *args[MZ_CLI_MAX_ARGS]; /* positional arguments after the subcommand */
  int nargs;
} mz_cli_ctx;

/* Parses argv (argv[0] is the subcommand) with --master, --json and the extra
 * flags; fills the positionals; checks their count is in [min_args, max_args].
 * Returns -1 on success (go on), or an exit status to return (usage printed
 * for --help). */
int mz_cli_ops_parse(mz_cli_ctx *c, const char *prog, const mz_flag *extra, size_t nextra, int argc, char **argv,
                     int min_args, int max_args, void (*usage)(FILE *));

/* GET path -> *out (a JSON value). 0 or an exit status (message printed). */
int mz_cli_get_json(mz_cli_ctx *c, const char *path, json_t **out);
/* POST /api/v1 with a JSON call; *out gets the response (NULL for an empty 2xx body; out may be NULL). */
int mz_cli_api(mz_cli_ctx *c, json_t *call, json_t **out);
void mz_cli_print_json(const json_t *v);
/* Percent-encodes s for a query string into out (truncates safely). */
void mz_cli_urlencode(const char *s, char *out, size_t outlen);

/* A text table: columns sized to their widest cell. */
typedef struct mz_cli_table mz_cli_table;
mz_cli_table *mz_cli_table_new(int ncols, const char *const *headers);
void mz_cli_table_add(mz_cli_table *t, const char *const *cells); /* cells copied; NULL shown as "-" */
void mz_cli_table_print(mz_cli_table *t, FILE *out);                /* prints and frees */

/* Helpers for Mesos JSON objects. */
const char *mz_cli_str(const json_t *o, const char *key); /* "-" if absent */
double mz_cli_num(const json_t *o, const char *key);      /* 0 if absent */
void mz_cli_fmt_res(const json_t *res, char *out, size_t len); /* "cpus 1, mem 128 MB, disk 0 MB" */
void mz_cli_fmt_time(double secs, char *out, size_t len);

/* The subcommand groups. */
int mz_cli_agent(int argc, char **argv);
int mz_cli_framework(int argc, char **argv);
int mz_cli_task(int argc, char **argv);
int mz_cli_role(int argc, char **argv);
int mz_cli_quota(int argc, char **argv);
int mz_cli_maintenance(int argc, char **argv);
void mz_cli_agent_usage(FILE *out);
void mz_cli_framework_usage(FILE *out);
void mz_cli_task_usage(FILE *out);
void mz_cli_role_usage(FILE *out);
void mz_cli_quota_usage(FILE *out);
void mz_cli_maintenance_usage(FILE *out);

#endif
