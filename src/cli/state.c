/* state: `mezzo state`: fetches GET /master/state and prints either the JSON
 * (--json, re-indented) or a readable summary: the master, the agents with
 * resources used/total, the frameworks and their tasks with states. Fields
 * follow Mesos's /master/state (slaves, frameworks, tasks, completed_*);
 * anything missing is shown as '-'. The parsed JSON is owned here and freed
 * before returning. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/flags.h"
#include "common/http.h"

#define STATE_TIMEOUT 15.0
#define STATE_MAX_COMPLETED 20 /* completed tasks listed per framework */

void mz_cli_state_usage(FILE *out) {
  fprintf(out,
          "Usage: mezzo state --master=HOST:PORT [--json]\n"
          "\n"
          "Shows the cluster as the master sees it (GET /master/state): agents with resources\n"
          "used/total, frameworks, and tasks with their states.\n"
          "\n"
          "  --master=HOST:PORT      the master (or MEZZO_MASTER)\n"
          "  --json                  print the master's JSON instead of the summary\n");
}

static const char *str(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "-";
}

static double num(const json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return json_is_number(v) ? json_number_value(v) : 0.0;
}

/* First present key of several (Mesos uses "slaves"; "agents" accepted too). */
static json_t *get_any(const json_t *o, const char *a, const char *b) {
  json_t *v = json_object_get(o, a);
  return v ? v : json_object_get(o, b);
}

static void print_res(const char *name, const json_t *used, const json_t *total, const char *unit) {
  printf("  %s %g/%g%s", name, num(used, name), num(total, name), unit);
}

static void print_tasks(const json_t *tasks, const char *fwid, size_t limit) {
  size_t i, shown = 0, n = json_array_size(tasks);
  json_t *t;
  json_array_foreach(tasks, i, t) {
    if (shown >= limit) {
      printf("    ... %zu more\n", n - shown);
      break;
    }
    printf("    %-36s %-16s agent %s\n", str(t, "id"), str(t, "state"),
           strcmp(str(t, "slave_id"), "-") ? str(t, "slave_id") : str(t, "agent_id"));
    shown++;
  }
  (void)fwid;
}

static void print_summary(const json_t *st, const char *master) {
  printf("Master %s", master);
  if (json_is_string(json_object_get(st, "version"))) printf("  version %s", str(st, "version"));
  if (json_is_string(json_object_get(st, "leader"))) printf("  leader %s", str(st, "leader"));
  printf("\n");

  json_t *agents = get_any(st, "slaves", "agents");
  size_t i;
  json_t *a;
  printf("\nAgents: %zu\n", json_array_size(agents));
  json_array_foreach(agents, i, a) {
    json_t *total = json_object_get(a, "resources");
    json_t *used = json_object_get(a, "used_resources");
    json_t *active = json_object_get(a, "active");
    printf("  %s  %s", str(a, "id"), str(a, "hostname"));
    if (json_is_integer(json_object_get(a, "port")))
      printf(":%lld", (long long)json_integer_value(json_object_get(a, "port")));
    printf("%s\n  ", active && !json_is_true(active) ? "  (inactive)" : "");
    print_res("cpus", used, total, "");
    print_res("mem", used, total, " MB");
    print_res("disk", used, total, " MB");
    if (json_is_string(json_object_get(total, "ports"))) printf("  ports %s", str(total, "ports"));
    printf("\n");
  }

  json_t *fws = json_object_get(st, "frameworks");
  json_t *done = json_object_get(st, "completed_frameworks");
  printf("\nFrameworks: %zu active, %zu completed\n", json_array_size(fws), json_array_size(done));
  json_t *f;
  json_array_foreach(fws, i, f) {
    json_t *tasks = json_object_get(f, "tasks");
    json_t *ctasks = json_object_get(f, "completed_tasks");
    json_t *active = json_object_get(f, "active");
    printf("  %s  %s  %s  tasks: %zu running, %zu completed\n", str(f, "id"), str(f, "name"),
           active && !json_is_true(active) ? "inactive" : "active", json_array_size(tasks),
           json_array_size(ctasks));
    print_tasks(tasks, str(f, "id"), (size_t)-1);
    print_tasks(ctasks, str(f, "id"), STATE_MAX_COMPLETED);
  }
  json_array_foreach(done, i, f) {
    json_t *ctasks = json_object_get(f, "completed_tasks");
    printf("  %s  %s  completed  tasks: %zu completed\n", str(f, "id"), str(f, "name"), json_array_size(ctasks));
    print_tasks(json_object_get(f, "tasks"), str(f, "id"), (size_t)-1);
    print_tasks(ctasks, str(f, "id"), STATE_MAX_COMPLETED);
  }
}

int mz_cli_state(int argc, char **argv) {
  const char *master = NULL;
  int as_json = 0, help = 0;
  const mz_flag flags[] = {
      {"master", MZ_FLAG_STRING, &master, "HOST:PORT of the master"},
      {"json", MZ_FLAG_BOOL, &as_json, "print the JSON"},
  };
  char err[512];
  int pos;
  if (mz_flags_parse(flags, sizeof flags / sizeof flags[0], argc, argv, &pos, &help, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo state: %s\n", err);
    return MZ_CLI_EXIT_USAGE;
  }
  if (help) {
    mz_cli_state_usage(stdout);
    return MZ_CLI_EXIT_OK;
  }
  if (pos < argc) {
    fprintf(stderr, "mezzo state: unexpected argument '%s'\n", argv[pos]);
    return MZ_CLI_EXIT_USAGE;
  }
  char host[MZ_CLI_HOST_MAX];
  int port;
  if (mz_cli_parse_master(master, host, sizeof host, &port, err, sizeof err) != 0) {
    fprintf(stderr, "mezzo state: %s\n", err);
    return MZ_CLI_EXIT_USAGE;
  }
  char *body = NULL;
  size_t len = 0;
  const char *headers[] = {"Accept", "application/json", NULL};
  int status = mz_http_fetch(host, port, "GET", "/master/state", headers, NULL, 0, &body, &len, STATE_TIMEOUT, err,
                             sizeof err);
  if (status == 0) {
    fprintf(stderr, "mezzo state: cannot reach master at %s: %s\n", master, err);
    free(body);
    return MZ_CLI_EXIT_FAIL;
  }
  if (status != 200) {
    fprintf(stderr, "mezzo state: master at %s answered %d: %.*s\n", master, status, (int)(len > 500 ? 500 : len),
            body ? body : "");
    free(body);
    return MZ_CLI_EXIT_FAIL;
  }
  json_error_t jerr;
  json_t *st = json_loadb(body ? body : "", len, 0, &jerr);
  free(body);
  if (!json_is_object(st)) {
    fprintf(stderr, "mezzo state: master at %s sent invalid JSON: %s\n", master, st ? "not an object" : jerr.text);
    json_decref(st);
    return MZ_CLI_EXIT_FAIL;
  }
  if (as_json) {
    char *text = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text) {
      fputs(text, stdout);
      fputc('\n', stdout);
      free(text);
    }
  } else {
    print_summary(st, master);
  }
  json_decref(st);
  return MZ_CLI_EXIT_OK;
}
